//! The requests the connector sends and the results it returns, against a mock SIGNL4.

mod common;

use common::*;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xsoar_connector::{ConnectorError, ConnectorFactory, EntryType};
use xsoar_signl4::{factory, Signl4Factory, BRAND};

const EVENT_ID: &str = "3c1f9a52-6d0e-4b7a-9f4e-2a8b7c6d5e41";

async fn signl4_expecting(body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/webhook/{SECRET}")))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": EVENT_ID})))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// The raw JSON text of the single request the server received.
async fn received_body(server: &MockServer) -> String {
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1, "exactly one request");
    String::from_utf8_lossy(&requests[0].body).into_owned()
}

#[tokio::test]
async fn alert_with_every_argument_sends_the_pack_body() {
    let expected = json!({
        "Title": "Ransomware detected",
        "Message": "EDR quarantined host WS-042",
        "X-S4-ExternalID": "xsoar-incident-1337",
        "X-S4-Status": "new",
        "X-S4-Service": "Security",
        "X-S4-Location": "52.3984235,13.0544149",
        "X-S4-AlertingScenario": "multi_ack",
        "X-S4-Filtering": "false",
        "X-S4-SourceSystem": "CortexXSOAR"
    });
    let server = signl4_expecting(expected).await;
    let c = connector(&server.uri());
    let out = run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({
            "title": "Ransomware detected",
            "message": "EDR quarantined host WS-042",
            "s4_external_id": "xsoar-incident-1337",
            "s4_service": "Security",
            "s4_location": "52.3984235,13.0544149",
            "s4_alerting_scenario": "multi_ack",
            "s4_filtering": "false"
        }),
    )
    .await;
    // Key order as the pack builds the dict.
    assert_eq!(
        received_body(&server).await,
        r#"{"Title":"Ransomware detected","Message":"EDR quarantined host WS-042","X-S4-ExternalID":"xsoar-incident-1337","X-S4-Status":"new","X-S4-Service":"Security","X-S4-Location":"52.3984235,13.0544149","X-S4-AlertingScenario":"multi_ack","X-S4-Filtering":"false","X-S4-SourceSystem":"CortexXSOAR"}"#
    );
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        requests[0]
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );

    assert_eq!(out.results.len(), 1);
    assert!(out.debug_log.is_empty(), "no debug log unless asked");
    let r = &out.results[0];
    assert_eq!(r.entry_type, EntryType::NOTE);
    assert_eq!(r.contents, json!({"eventId": EVENT_ID}));
    assert_eq!(r.contents_format, "json");
    assert_eq!(
        Value::Object(r.entry_context.clone()),
        json!({"SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId)": {"eventId": EVENT_ID}})
    );
    assert_eq!(
        r.human_readable.as_deref(),
        Some(format!("### SIGNL4 alert created\n|eventId|\n|---|\n| {EVENT_ID} |\n").as_str())
    );
}

#[tokio::test]
async fn alert_with_required_arguments_sends_nulls() {
    let server = signl4_expecting(json!({
        "Title": "Test", "Message": "Hello", "X-S4-ExternalID": null, "X-S4-Status": "new",
        "X-S4-Service": null, "X-S4-Location": null, "X-S4-AlertingScenario": null,
        "X-S4-Filtering": null, "X-S4-SourceSystem": "CortexXSOAR"
    }))
    .await;
    let c = connector(&server.uri());
    let out = run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "Test", "message": "Hello"}),
    )
    .await;
    assert_eq!(
        received_body(&server).await,
        r#"{"Title":"Test","Message":"Hello","X-S4-ExternalID":null,"X-S4-Status":"new","X-S4-Service":null,"X-S4-Location":null,"X-S4-AlertingScenario":null,"X-S4-Filtering":null,"X-S4-SourceSystem":"CortexXSOAR"}"#
    );
    assert_eq!(out.results[0].contents, json!({"eventId": EVENT_ID}));
}

#[tokio::test]
async fn playbook_values_keep_their_json_type() {
    let server = signl4_expecting(json!({
        "Title": "T", "Message": 42, "X-S4-ExternalID": "e", "X-S4-Status": "new",
        "X-S4-Service": null, "X-S4-Location": null, "X-S4-AlertingScenario": "emergency",
        "X-S4-Filtering": true, "X-S4-SourceSystem": "CortexXSOAR"
    }))
    .await;
    let c = connector(&server.uri());
    run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": 42, "s4_external_id": "e", "s4_alerting_scenario": "emergency", "s4_filtering": true}),
    )
    .await;
}

#[tokio::test]
async fn close_alert_sends_resolved_and_outputs_alert_closed() {
    let close_body = json!({"X-S4-ExternalID": "id1234", "X-S4-Status": "resolved", "X-S4-SourceSystem": "CortexXSOAR"});
    let server = signl4_expecting(close_body).await;
    let c = connector(&server.uri());
    let out = run_ok(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "id1234"}),
    )
    .await;
    assert_eq!(
        received_body(&server).await,
        r#"{"X-S4-ExternalID":"id1234","X-S4-Status":"resolved","X-S4-SourceSystem":"CortexXSOAR"}"#
    );
    let r = &out.results[0];
    assert_eq!(
        Value::Object(r.entry_context.clone()),
        json!({"SIGNL4.AlertClosed(val.eventId && val.eventId == obj.eventId)": {"eventId": EVENT_ID}})
    );
    assert_eq!(
        r.human_readable.as_deref(),
        Some(format!("### SIGNL4 alert closed\n|eventId|\n|---|\n| {EVENT_ID} |\n").as_str())
    );
    assert_eq!(r.contents, json!({"eventId": EVENT_ID}));
}

#[tokio::test]
async fn close_without_external_id_sends_null_like_the_pack() {
    let server = signl4_expecting(
        json!({"X-S4-ExternalID": null, "X-S4-Status": "resolved", "X-S4-SourceSystem": "CortexXSOAR"}),
    )
    .await;
    let c = connector(&server.uri());
    run_ok(c.as_ref(), "signl4_close_alert", json!({})).await;
}

#[tokio::test]
async fn first_release_alias_signl4_close_works() {
    let server = signl4_expecting(
        json!({"X-S4-ExternalID": "id1234", "X-S4-Status": "resolved", "X-S4-SourceSystem": "CortexXSOAR"}),
    )
    .await;
    let c = connector(&server.uri());
    assert_eq!(
        xsoar_signl4::factory().aliases(),
        &[("signl4_close", "signl4_close_alert")]
    );
    let out = run_ok(
        c.as_ref(),
        "signl4_close",
        json!({"s4_external_id": "id1234"}),
    )
    .await;
    assert!(out.results[0]
        .entry_context
        .contains_key("SIGNL4.AlertClosed(val.eventId && val.eventId == obj.eventId)"));
}

#[tokio::test]
async fn extra_reply_keys_are_kept_in_outputs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"eventId": "e-9", "teamId": "t-1"})),
        )
        .mount(&server)
        .await;
    let c = connector(&server.uri());
    let out = run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
    )
    .await;
    let r = &out.results[0];
    assert_eq!(r.contents, json!({"eventId": "e-9", "teamId": "t-1"}));
    assert_eq!(
        r.human_readable.as_deref(),
        Some("### SIGNL4 alert created\n|eventId|teamId|\n|---|---|\n| e-9 | t-1 |\n")
    );
}

#[tokio::test]
async fn base_url_trailing_slash_and_prefix_are_tolerated() {
    let server = signl4_expecting(
        json!({"X-S4-ExternalID": "x", "X-S4-Status": "resolved", "X-S4-SourceSystem": "CortexXSOAR"}),
    )
    .await;
    let c = connector(&format!("{}/", server.uri()));
    run_ok(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;

    let prefixed = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/signl4/webhook/{SECRET}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": "p"})))
        .expect(1)
        .mount(&prefixed)
        .await;
    let c = connector(&format!("{}/signl4/", prefixed.uri()));
    run_ok(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;
}

#[tokio::test]
async fn secret_as_plain_string_and_odd_characters_are_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhook/a%2Fb%20c"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": "x"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector_for(&instance_with(
        json!({"secret": "  a/b c  ", "url": server.uri()}),
    ));
    run_ok(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;
}

#[tokio::test]
async fn missing_required_argument_sends_nothing() {
    let server = MockServer::start().await;
    let c = connector(&server.uri());
    let err = run_err(c.as_ref(), "signl4_alert", json!({"title": "T"})).await;
    assert!(
        matches!(&err, ConnectorError::InvalidArgument { name, .. } if name == "message"),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn unknown_command_is_reported() {
    let server = MockServer::start().await;
    let c = connector(&server.uri());
    let err = run_err(c.as_ref(), "signl4_ack", json!({})).await;
    assert_eq!(
        err.to_string(),
        "the SIGNL4 integration does not implement command 'signl4_ack'"
    );
}

#[tokio::test]
async fn debug_log_shows_the_exchange_with_the_secret_masked() {
    let server = signl4_expecting(json!({
        "Title": "T", "Message": "M", "X-S4-ExternalID": null, "X-S4-Status": "new",
        "X-S4-Service": null, "X-S4-Location": null, "X-S4-AlertingScenario": null,
        "X-S4-Filtering": null, "X-S4-SourceSystem": "CortexXSOAR"
    }))
    .await;
    let c = connector(&server.uri());
    let out = run(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
        true,
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let log = out.debug_log.join("\n");
    for line in &out.debug_log {
        assert_no_secret(line, SECRET);
    }
    assert!(
        log.contains(&format!(
            "POST {}/webhook/****** (attempt 1/3, timeout 30 s)",
            server.uri()
        )),
        "{log}"
    );
    assert!(
        log.contains(r#"request body: {"Title":"T","Message":"M","X-S4-ExternalID":null"#),
        "{log}"
    );
    assert!(log.contains("response: 201 Created after "), "{log}");
    assert!(
        log.contains(&format!(r#"response body: {{"eventId":"{EVENT_ID}"}}"#)),
        "{log}"
    );
}

#[tokio::test]
async fn test_module_sends_the_pack_test_alert() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/webhook/{SECRET}")))
        .and(body_json(
            json!({"title": "Test Alert from Cortex XSOAR", "X-S4-SourceSystem": "CortexXSOAR"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": "t-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server.uri());
    assert!(c.test_module().await.is_ok());
}

#[tokio::test]
async fn test_module_reports_a_bad_secret_in_plain_words() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error_code": "NotFound", "description": "Webhook not found. Check the team or integration secret."}),
        ))
        .mount(&server)
        .await;
    let c = connector(&server.uri());
    let err = match c.test_module().await {
        Err(e) => e.to_string(),
        Ok(()) => panic!("test-module must fail on 404"),
    };
    assert!(
        err.starts_with("Error in API call to SIGNL4 integration [404] - Not Found\n"),
        "{err}"
    );
    assert!(
        err.contains("The secret (instance parameter 'secret') matches no SIGNL4 webhook"),
        "{err}"
    );
    assert_no_secret(&err, SECRET);
}

#[tokio::test]
async fn test_module_without_event_id_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .mount(&server)
        .await;
    let c = connector(&server.uri());
    let err = c
        .test_module()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("SIGNL4 answered 200 OK but the reply holds no eventId (got 'OK')"),
        "{err}"
    );
}

#[test]
fn missing_secret_is_a_clear_config_error() {
    let cases = [
        json!({"url": "https://connect.signl4.com"}),
        json!({"secret": ""}),
        json!({"secret": "   "}),
        json!({"secret": {"identifier": "", "password": ""}}),
        json!({"secret": null}),
    ];
    for params in cases {
        let err = match Signl4Factory::new().build(&instance_with(params.clone())) {
            Err(e) => e,
            Ok(_) => panic!("{params} must be rejected"),
        };
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "instance configuration error: the SIGNL4 instance 'SIGNL4_instance_1' has no team or \
             integration secret: set the 'secret' parameter (the password of the credentials, e.g. \
             `secret: {env: SIGNL4_SECRET}` in xsoar-emu.yaml)"
        );
    }
}

#[test]
fn bad_parameters_are_config_errors_without_the_secret() {
    let secret = json!({"identifier": "", "password": SECRET});
    let cases = [
        (
            json!({"secret": secret, "url": "ftp://x"}),
            "must start with https:// or http://",
        ),
        (
            json!({"secret": secret, "url": "not a url"}),
            "is not a URL",
        ),
        (
            json!({"secret": secret, "url": format!("https://connect.signl4.com/webhook/{SECRET}")}),
            "is a webhook URL",
        ),
        (
            json!({"secret": secret, "proxy": "maybe"}),
            "'proxy' parameter",
        ),
    ];
    for (params, expected) in cases {
        let err = match Signl4Factory::new().build(&instance_with(params.clone())) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{params} must be rejected"),
        };
        assert!(err.contains(expected), "{err}");
        assert_no_secret(&err, SECRET);
    }
}

#[test]
fn debug_output_never_shows_the_secret() {
    let inst = instance("https://connect.signl4.com", SECRET);
    let concrete = Signl4Factory::new()
        .build_connector(&inst)
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{concrete:?}");
    assert_no_secret(&shown, SECRET);
    assert!(
        shown.contains("https://connect.signl4.com/webhook/******"),
        "{shown}"
    );
    assert_eq!(
        concrete.masked_url(),
        "https://connect.signl4.com/webhook/******"
    );
    assert_no_secret(&format!("{inst:?}"), SECRET);
    assert_no_secret(&format!("{:?}", Signl4Factory::new()), SECRET);
}

#[test]
fn factory_serves_the_signl4_brand_with_defaults() {
    let f = factory();
    assert_eq!(f.brand(), BRAND);
    assert_eq!(f.brand(), "SIGNL4");
    let c = f.build(&instance_with(
        json!({"secret": {"identifier": "", "password": SECRET}}),
    ));
    assert!(c.is_ok());
    assert_eq!(
        Signl4Factory::new().retry(),
        &xsoar_signl4::RetryPolicy::default()
    );
}
