//! `proxy=false` must ignore the system proxy variables, `proxy=true` must use them.
//!
//! Environment variables are process-wide, so this is its own test binary with a single test.

mod common;

use common::*;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use xsoar_connector::ConnectorError;

#[tokio::test]
async fn proxy_parameter_decides_whether_proxy_variables_apply() {
    // A proxy address where nothing listens.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    };
    let bogus = format!("http://127.0.0.1:{port}");
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(name, &bogus);
    }

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": "direct"})))
        .mount(&server)
        .await;

    let direct = connector_with_proxy(&server.uri(), json!(false));
    let out = run_ok(
        direct.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;
    assert_eq!(out.results[0].contents, json!({"eventId": "direct"}));

    // The parameter as text, as XSOAR stores checkbox values.
    let proxied = connector_with_proxy(&server.uri(), json!("true"));
    let err = run_err(
        proxied.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;
    let msg = err.to_string();
    assert!(matches!(err, ConnectorError::Connection(_)), "{err:?}");
    assert!(
        msg.contains(&format!(
            "requests go through the proxy at 127.0.0.1:{port} (from HTTP_PROXY)"
        )),
        "{msg}"
    );
    assert_no_secret(&msg, SECRET);
    assert_eq!(
        request_count(&server).await,
        1,
        "only the direct request reached the server"
    );
}
