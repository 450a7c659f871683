//! `proxy=true` honours `NO_PROXY`: a host it lists is reached directly even though
//! `HTTP_PROXY` names a proxy, and a host it does not list still goes through that proxy.
//!
//! Environment variables are process-wide, so this is its own test binary with a single test.

mod common;

use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn no_proxy_hosts_bypass_the_proxy_when_proxy_is_true() {
    // The "proxy" is a second mock server: a plain-http request sent through a proxy arrives
    // there in absolute form, which the mock server matches by path like any other request.
    let proxy = webhook_answering("via-proxy").await;
    let target = webhook_answering("direct").await;
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "http_proxy",
        "no_proxy",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", proxy.uri());

    // NO_PROXY lists the target's address: the request goes direct.
    assert_eq!(
        close_with_no_proxy("127.0.0.1,localhost", &target.uri()).await,
        json!({"eventId": "direct"})
    );
    // NO_PROXY lists another host: the same request goes through the proxy.
    assert_eq!(
        close_with_no_proxy("example.invalid", &target.uri()).await,
        json!({"eventId": "via-proxy"})
    );

    assert_eq!(
        request_count(&target).await,
        1,
        "only the bypassing request reached the target directly"
    );
    assert_eq!(
        request_count(&proxy).await,
        1,
        "only the proxied request reached the proxy"
    );
}

/// `signl4_close_alert` on a `proxy=true` instance for `url`, built with `NO_PROXY` set to
/// `no_proxy`; the reply's contents.
async fn close_with_no_proxy(no_proxy: &str, url: &str) -> serde_json::Value {
    std::env::set_var("NO_PROXY", no_proxy);
    let c = connector_with_proxy(url, json!(true));
    run_ok(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await
    .results[0]
        .contents
        .clone()
}

/// A mock SIGNL4 webhook for [`SECRET`] that answers 201 with `event_id`.
async fn webhook_answering(event_id: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/webhook/{SECRET}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "eventId": event_id })))
        .mount(&server)
        .await;
    server
}
