//! What the connector writes to `tracing`: spans per command, and never the secret.
//!
//! A global subscriber is process-wide, so this is its own test binary.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use xsoar_signl4::sim::{self, SimConfig, Simulator};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[tokio::test]
async fn logs_name_command_and_instance_and_never_the_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    assert!(tracing::subscriber::set_global_default(subscriber).is_ok());

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string(format!("echo {SECRET}")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"eventId": "e-1"})))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string(format!("no webhook {SECRET}")))
        .with_priority(3)
        .mount(&server)
        .await;
    let c = connector(&server.uri());
    run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
    )
    .await;
    run_err(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "x"}),
    )
    .await;
    assert!(c.test_module().await.is_err());

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    };
    let refused = connector(&format!("http://127.0.0.1:{port}"));
    run_err(
        refused.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
    )
    .await;

    let handle = sim::spawn(
        Simulator::new(SimConfig::with_secrets([SECRET])),
        sim::loopback(0),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let against_sim = connector(&handle.url());
    run_ok(
        against_sim.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
    )
    .await;

    let logs = captured.text();
    assert!(!logs.is_empty());
    assert_no_secret(&logs, SECRET);
    assert!(
        logs.contains("signl4_command{command=signl4_alert instance=SIGNL4_instance_1}"),
        "{logs}"
    );
    assert!(
        logs.contains("signl4_command{command=signl4_close_alert instance=SIGNL4_instance_1}"),
        "{logs}"
    );
    assert!(
        logs.contains("signl4_command{command=test-module instance=SIGNL4_instance_1}"),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("url={}/webhook/******", server.uri())),
        "{logs}"
    );
    assert!(logs.contains("retrying SIGNL4 webhook request"), "{logs}");
    assert!(logs.contains("SIGNL4 command failed"), "{logs}");
    assert!(logs.contains("SIGNL4 simulator webhook request"), "{logs}");
}
