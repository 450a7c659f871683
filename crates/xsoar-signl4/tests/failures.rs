//! Every way a SIGNL4 call can fail: the message, the retries, and that the secret stays out.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use xsoar_connector::{CommandOutput, Connector, ConnectorError, ConnectorFactory, EntryType};
use xsoar_signl4::{RetryPolicy, Signl4Factory};

fn alert_args() -> serde_json::Value {
    json!({"title": "T", "message": "M", "s4_external_id": "x"})
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn status_of(err: &ConnectorError) -> Option<u16> {
    match err {
        ConnectorError::Http { status, .. } => Some(*status),
        _ => None,
    }
}

#[tokio::test]
async fn not_found_names_the_secret_and_is_not_retried() {
    let server = server_answering(ResponseTemplate::new(404).set_body_json(
        json!({"error_code": "NotFound", "description": "Webhook not found. Check the team or integration secret."}),
    ))
    .await;
    let c = connector(&server.uri());
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    assert_eq!(status_of(&err), Some(404));
    assert_eq!(
        err.to_string(),
        "Error in API call to SIGNL4 integration [404] - Not Found\n\
         SIGNL4 said: NotFound: Webhook not found. Check the team or integration secret.\n\
         The secret (instance parameter 'secret') matches no SIGNL4 webhook: copy the team or \
         integration secret again from the SIGNL4 portal; if the url parameter points at a \
         simulator, use one of the simulator's secrets."
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn bad_request_points_at_the_arguments() {
    let server = server_answering(ResponseTemplate::new(400).set_body_json(
        json!({"error_code": "BadRequest", "description": "The request body is not valid application/json.", "details": "line 1"}),
    ))
    .await;
    let c = connector(&server.uri());
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let msg = err.to_string();
    assert_eq!(status_of(&err), Some(400));
    assert!(
        msg.starts_with("Error in API call to SIGNL4 integration [400] - Bad Request\n"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "SIGNL4 said: BadRequest: The request body is not valid application/json. (line 1)"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("Check the command arguments (title, message and the s4_* values)"),
        "{msg}"
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn unauthorized_and_forbidden_point_at_the_secret() {
    for code in [401u16, 403] {
        let server = server_answering(ResponseTemplate::new(code).set_body_string("denied")).await;
        let c = connector(&server.uri());
        let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
        let msg = err.to_string();
        assert_eq!(status_of(&err), Some(code));
        assert!(
            msg.starts_with(&format!(
                "Error in API call to SIGNL4 integration [{code}] - "
            )),
            "{msg}"
        );
        assert!(msg.contains("SIGNL4 said: denied\n"), "{msg}");
        assert!(
            msg.contains("Check the team or integration secret (instance parameter 'secret')"),
            "{msg}"
        );
        assert_eq!(request_count(&server).await, 1);
    }
}

#[tokio::test]
async fn throttling_is_retried_honouring_retry_after_then_reported() {
    let server = server_answering(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .insert_header("X-RateLimit-Limit", "150")
            .insert_header("X-RateLimit-Remaining", "0")
            .set_body_json(json!({"error_code": "TooManyRequests", "description": "Event throttling limit reached."})),
    )
    .await;
    let c = connector(&server.uri());
    let started = Instant::now();
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let elapsed = started.elapsed();
    let msg = err.to_string();
    assert_eq!(request_count(&server).await, 3, "3 attempts in total");
    // Two waits of Retry-After: 1 s (the local backoff would have been 10 + 20 ms).
    assert!(
        elapsed >= Duration::from_millis(1900),
        "waited only {elapsed:?}"
    );
    assert_eq!(status_of(&err), Some(429));
    assert!(
        msg.starts_with("Error in API call to SIGNL4 integration [429] - Too Many Requests\n"),
        "{msg}"
    );
    assert!(
        msg.contains("SIGNL4 said: TooManyRequests: Event throttling limit reached."),
        "{msg}"
    );
    assert!(
        msg.contains("SIGNL4 is throttling events for this account (limit 150 events per window)."),
        "{msg}"
    );
    assert!(
        msg.contains("Intake is blocked until the limit resets in 1 s (at "),
        "{msg}"
    );
    assert!(
        msg.contains("from Retry-After); run the command again after that."),
        "{msg}"
    );
    assert!(msg.ends_with("Gave up after 3 attempts."), "{msg}");
}

#[tokio::test]
async fn throttling_with_a_far_reset_is_not_waited_for() {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + 3600;
    let server = server_answering(
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Reset", reset.to_string().as_str())
            .insert_header("X-RateLimit-Remaining", "0"),
    )
    .await;
    let c = connector(&server.uri());
    let started = Instant::now();
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let msg = err.to_string();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        request_count(&server).await,
        1,
        "a reset beyond the cap is reported at once"
    );
    assert!(
        msg.starts_with("Error in API call to SIGNL4 integration [429] - Too Many Requests\n"),
        "{msg}"
    );
    assert!(
        !msg.contains("SIGNL4 said"),
        "empty body adds nothing: {msg}"
    );
    let when = time::OffsetDateTime::from_unix_timestamp(reset as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    assert!(
        msg.contains(&format!("(at {when}, from X-RateLimit-Reset)")),
        "{msg}"
    );
    assert!(
        msg.contains("resets in 3600 s") || msg.contains("resets in 3599 s"),
        "{msg}"
    );
    assert!(msg.contains("That is longer than the 2 s this integration waits between attempts, so it did not retry."), "{msg}");
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    for code in [500u16, 503] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(code))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(json!({"eventId": "third-time"})),
            )
            .with_priority(2)
            .mount(&server)
            .await;
        let c = connector(&server.uri());
        let out = run_ok(c.as_ref(), "signl4_alert", alert_args()).await;
        assert_eq!(out.results[0].contents, json!({"eventId": "third-time"}));
        assert_eq!(request_count(&server).await, 3);
    }
}

#[tokio::test]
async fn persistent_server_errors_are_reported_as_a_service_problem() {
    let server =
        server_answering(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
            .await;
    let c = connector(&server.uri());
    let err = run_err(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;
    let msg = err.to_string();
    assert_eq!(request_count(&server).await, 3);
    assert_eq!(
        msg,
        "Error in API call to SIGNL4 integration [502] - Bad Gateway\n\
         SIGNL4 said: <html>bad gateway</html>\n\
         SIGNL4's service failed to process the event; the instance configuration is probably fine. \
         Gave up after 3 attempts. Try again later."
    );
}

#[tokio::test]
async fn retry_policy_is_configurable() {
    let server = server_answering(ResponseTemplate::new(503)).await;
    let once = Signl4Factory::new()
        .with_retry(RetryPolicy::no_retry())
        .build(&instance(&server.uri(), SECRET))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = run_err(once.as_ref(), "signl4_alert", alert_args()).await;
    assert_eq!(request_count(&server).await, 1);
    assert!(!err.to_string().contains("Gave up"), "{err}");

    let five = Signl4Factory::new()
        .with_retry(RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        })
        .build(&instance(&server.uri(), SECRET))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = run_err(five.as_ref(), "signl4_alert", alert_args()).await;
    assert_eq!(request_count(&server).await, 6);
    assert!(
        err.to_string()
            .ends_with("Gave up after 5 attempts. Try again later."),
        "{err}"
    );
}

#[tokio::test]
async fn connection_refused_names_the_host_and_what_to_check() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    };
    let url = format!("http://127.0.0.1:{port}");
    let c = connector(&url);
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let msg = err.to_string();
    assert!(matches!(err, ConnectorError::Connection(_)), "{err:?}");
    assert!(
        msg.starts_with(&format!(
            "Could not connect to SIGNL4 at 127.0.0.1:{port}: connection refused ("
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "Check the url parameter ({url}): is the SIGNL4 server or simulator running"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("The instance does not use the system proxy settings (proxy=false)."),
        "{msg}"
    );
    assert!(msg.ends_with("Gave up after 3 attempts."), "{msg}");
    assert_no_secret(&msg, SECRET);
}

#[tokio::test]
async fn unresolvable_host_is_reported_as_a_dns_failure() {
    // `.invalid` never resolves (RFC 2606), with or without network access.
    let url = "http://signl4-simulator.invalid:8765";
    let c = Signl4Factory::new()
        .with_retry(RetryPolicy {
            retry_connect_errors: false,
            ..fast_retry()
        })
        .build(&instance(url, SECRET))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let msg = err.to_string();
    assert!(matches!(err, ConnectorError::Connection(_)), "{err:?}");
    assert!(
        msg.starts_with("Could not resolve the SIGNL4 host 'signl4-simulator.invalid' ("),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "Check the url parameter ({url}), DNS and network access."
        )),
        "{msg}"
    );
    assert_no_secret(&msg, SECRET);
}

#[tokio::test]
async fn connect_errors_are_not_retried_when_disabled() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    };
    let c = Signl4Factory::new()
        .with_retry(RetryPolicy {
            retry_connect_errors: false,
            ..fast_retry()
        })
        .build(&instance(&format!("http://127.0.0.1:{port}"), SECRET))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    assert!(!err.to_string().contains("Gave up"), "{err}");
}

/// `signl4_alert` with `execution-timeout` of `ms` milliseconds, and how long it took.
async fn alert_with_timeout(
    c: &dyn Connector,
    ms: u64,
) -> (Result<CommandOutput, ConnectorError>, Duration) {
    let started = Instant::now();
    let result = run(
        c,
        "signl4_alert",
        alert_args(),
        false,
        Some(Duration::from_millis(ms)),
    )
    .await;
    (result, started.elapsed())
}

#[tokio::test]
async fn timeout_is_reported_and_not_retried() {
    let server = server_answering(
        ResponseTemplate::new(201)
            .set_body_json(json!({"eventId": "late"}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let c = connector(&server.uri());
    let (result, waited) = alert_with_timeout(c.as_ref(), 200).await;
    assert!(waited < Duration::from_secs(2));
    let err = result.err().unwrap_or_else(|| panic!("must time out"));
    let msg = err.to_string();
    assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
    let host = server.address().to_string();
    assert!(
        msg.starts_with(&format!(
            "The request to SIGNL4 at {host} timed out after 200 ms."
        )),
        "{msg}"
    );
    assert!(msg.contains("so it was not retried"), "{msg}");
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn factory_timeout_applies_without_execution_timeout() {
    let server = server_answering(
        ResponseTemplate::new(201)
            .set_body_json(json!({"eventId": "late"}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let c = Signl4Factory::new()
        .with_retry(fast_retry())
        .with_timeout(Duration::from_millis(150))
        .build(&instance(&server.uri(), SECRET))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    assert!(err.to_string().contains("timed out after 150 ms"), "{err}");
}

/// A server that answers the status line and headers at once and then stalls the body
/// (or, with `headers: false`, accepts the connection and never answers).
async fn stalling_server(headers: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                if headers {
                    let head = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"eventId\":";
                    let _ = socket.write_all(head.as_bytes()).await;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(socket);
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn stalled_exchanges_time_out_after_the_full_timeout() {
    // A reply body that stalls after the headers, then a server that never answers at all.
    for (headers, ms) in [(true, 300), (false, 250)] {
        let url = stalling_server(headers).await;
        let c = connector(&url);
        let (result, waited) = alert_with_timeout(c.as_ref(), ms).await;
        let err = result.err().unwrap_or_else(|| panic!("must time out"));
        assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains(&format!("timed out after {ms} ms")),
            "{err}"
        );
        // The full timeout, never less; a shared timer may fire up to 1/16 of it later.
        assert!(waited >= Duration::from_millis(ms), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert_no_secret(&err.to_string(), SECRET);
    }
}

#[tokio::test]
async fn success_without_event_id_says_what_came_back() {
    let cases = [
        (
            ResponseTemplate::new(201).set_body_json(json!({"id": 7})),
            r#"(got '{"id":7}')"#,
        ),
        (
            ResponseTemplate::new(201).set_body_json(json!({"eventId": null})),
            r#"(got '{"eventId":null}')"#,
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>login</html>"),
            "(got '<html>login</html>')",
        ),
        (ResponseTemplate::new(204), "(got an empty body)"),
    ];
    for (template, got) in cases {
        let server = server_answering(template).await;
        let c = connector(&server.uri());
        let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
        let msg = err.to_string();
        assert!(matches!(err, ConnectorError::Other(_)), "{err:?}");
        assert!(msg.contains("but the reply holds no eventId"), "{msg}");
        assert!(msg.contains(got), "{msg}");
        assert!(
            msg.contains(&format!("Check that the url parameter ({})", server.uri())),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let server = server_answering(ResponseTemplate::new(302).insert_header(
        "Location",
        format!("https://elsewhere.invalid/webhook/{SECRET}").as_str(),
    ))
    .await;
    let c = connector(&server.uri());
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let msg = err.to_string();
    assert_eq!(request_count(&server).await, 1);
    assert!(
        msg.starts_with("Error in API call to SIGNL4 integration [302] - Found\n"),
        "{msg}"
    );
    assert!(
        msg.contains("redirected the request to 'https://elsewhere.invalid/webhook/******'"),
        "{msg}"
    );
    assert_no_secret(&msg, SECRET);
}

#[tokio::test]
async fn the_secret_never_appears_in_errors_or_debug_logs() {
    // A server that echoes the secret back in every way it can.
    let echo = format!("no webhook /webhook/{SECRET} for {SECRET}");
    let templates = [
        ResponseTemplate::new(404)
            .set_body_json(json!({"error_code": "NotFound", "description": echo})),
        ResponseTemplate::new(400).set_body_string(echo.clone()),
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "0")
            .set_body_string(echo.clone()),
        ResponseTemplate::new(503).set_body_string(echo.clone()),
        ResponseTemplate::new(201).set_body_string(echo.clone()),
        ResponseTemplate::new(301).insert_header("Location", echo.as_str()),
    ];
    for template in templates {
        let server = server_answering(template).await;
        let c = connector(&server.uri());
        let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
        assert_no_secret(&err.to_string(), SECRET);
        assert_no_secret(&format!("{err:?}"), SECRET);

        let out = run(
            c.as_ref(),
            "signl4_close_alert",
            json!({"s4_external_id": "x"}),
            true,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("with debug-mode a failure is an error entry: {e}"));
        assert_eq!(out.results.len(), 1);
        assert_eq!(out.results[0].entry_type, EntryType::ERROR);
        assert_no_secret(&out.results[0].contents.to_string(), SECRET);
        assert!(!out.debug_log.is_empty());
        for line in &out.debug_log {
            assert_no_secret(line, SECRET);
        }
        assert!(
            out.debug_log.iter().any(|l| l.contains("/webhook/******")),
            "{:?}",
            out.debug_log
        );
        assert!(
            out.debug_log
                .last()
                .is_some_and(|l| l.starts_with("failed: ")),
            "{:?}",
            out.debug_log
        );
    }
}

#[tokio::test]
async fn debug_log_records_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": "e"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = connector(&server.uri());
    let out = run(c.as_ref(), "signl4_alert", alert_args(), true, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let log = out.debug_log.join("\n");
    assert!(
        log.contains("response: 503 Service Unavailable after"),
        "{log}"
    );
    assert!(
        log.contains("retrying in 10 ms after 503 Service Unavailable"),
        "{log}"
    );
    assert!(log.contains("(attempt 2/3, timeout 30 s)"), "{log}");
    assert!(log.contains("response: 201 Created after"), "{log}");
}

#[tokio::test]
async fn tls_failure_is_reported_and_not_retried() {
    // https:// against a plain-HTTP server: the handshake fails on the first reply bytes.
    let server =
        server_answering(ResponseTemplate::new(201).set_body_json(json!({"eventId": "never"})))
            .await;
    let url = server.uri().replace("http://", "https://");
    let c = connector(&url);
    let err = run_err(c.as_ref(), "signl4_alert", alert_args()).await;
    let msg = err.to_string();
    assert!(matches!(err, ConnectorError::Connection(_)), "{err:?}");
    let host = server.address().to_string();
    assert!(
        msg.starts_with(&format!("The TLS handshake with SIGNL4 at {host} failed (")),
        "{msg}"
    );
    assert!(msg.contains(&format!("Check that the url parameter ({url}) uses https for SIGNL4 and http for a local simulator")), "{msg}");
    assert!(
        !msg.contains("Gave up"),
        "TLS failures are not retried: {msg}"
    );
}
