//! The connector against a running simulator: what a playbook run would do.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use xsoar_connector::ConnectorError;
use xsoar_signl4::sim::{self, AlertStatus, SimConfig, Simulator, DEFAULT_SIM_SECRET};

async fn start(config: SimConfig) -> sim::SimHandle {
    sim::spawn(Simulator::new(config), sim::loopback(0))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn event_id(out: &xsoar_connector::CommandOutput) -> String {
    out.results[0].contents["eventId"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn alert_then_close_resolves_the_alert_in_the_simulator() {
    let handle = start(SimConfig::default()).await;
    let c = connector_for(&instance(&handle.url(), DEFAULT_SIM_SECRET));

    let created = run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "Ransomware detected", "message": "EDR quarantined WS-042", "s4_external_id": "xsoar-incident-1337",
               "s4_service": "Security", "s4_alerting_scenario": "emergency", "s4_filtering": "true"}),
    )
    .await;
    let created_id = event_id(&created);
    let alerts = handle
        .simulator()
        .alerts_with_external_id("xsoar-incident-1337");
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.event_id, created_id);
    assert_eq!(alert.status, AlertStatus::New);
    assert_eq!(alert.title.as_deref(), Some("Ransomware detected"));
    assert_eq!(alert.message.as_deref(), Some("EDR quarantined WS-042"));
    assert_eq!(alert.service.as_deref(), Some("Security"));
    assert_eq!(alert.location, None, "null is absent");
    assert_eq!(alert.scenario.as_deref(), Some("emergency"));
    assert_eq!(alert.filtering, Some(true));
    assert_eq!(alert.source_system.as_deref(), Some("CortexXSOAR"));
    assert_eq!(
        Value::Object(created.results[0].entry_context.clone()),
        json!({"SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId)": {"eventId": created_id}})
    );

    let closed = run_ok(
        c.as_ref(),
        "signl4_close_alert",
        json!({"s4_external_id": "xsoar-incident-1337"}),
    )
    .await;
    let closed_id = event_id(&closed);
    assert_ne!(closed_id, created_id, "the close event has its own id");
    let alerts = handle
        .simulator()
        .alerts_with_external_id("xsoar-incident-1337");
    assert_eq!(alerts[0].status, AlertStatus::Resolved);
    assert_eq!(alerts[0].status_events, std::slice::from_ref(&closed_id));
    assert_eq!(
        closed.results[0].human_readable.as_deref(),
        Some(format!("### SIGNL4 alert closed\n|eventId|\n|---|\n| {closed_id} |\n").as_str())
    );

    let events = handle.simulator().events();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.path == "/webhook/******" && e.status == 201));
    assert_eq!(events[1].outcome, "1 alert resolved");
    assert!(c.test_module().await.is_ok());
    assert_eq!(
        handle
            .simulator()
            .alerts()
            .last()
            .and_then(|a| a.title.clone())
            .as_deref(),
        Some("Test Alert from Cortex XSOAR")
    );
}

#[tokio::test]
async fn wrong_secret_against_the_simulator_reads_well() {
    let handle = start(SimConfig::default()).await;
    let c = connector_for(&instance(&handle.url(), SECRET));
    let err = run_err(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
    )
    .await;
    assert_eq!(
        err.to_string(),
        "Error in API call to SIGNL4 integration [404] - Not Found\n\
         SIGNL4 said: NotFound: Webhook not found. Check the team or integration secret.\n\
         The secret (instance parameter 'secret') matches no SIGNL4 webhook: copy the team or \
         integration secret again from the SIGNL4 portal; if the url parameter points at a \
         simulator, use one of the simulator's secrets."
    );
    assert!(handle
        .simulator()
        .events()
        .iter()
        .all(|e| !e.body.contains(SECRET) && !e.path.contains(SECRET)));
}

#[tokio::test]
async fn injected_outage_is_ridden_out_by_retries() {
    let handle = start(SimConfig::default()).await;
    handle.simulator().fail_next(2, 503);
    let c = connector_for(&instance(&handle.url(), DEFAULT_SIM_SECRET));
    let out = run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M", "s4_external_id": "o"}),
    )
    .await;
    let statuses: Vec<u16> = handle
        .simulator()
        .events()
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [503, 503, 201]);
    assert_eq!(handle.simulator().alerts()[0].event_id, event_id(&out));
}

#[tokio::test]
async fn simulator_throttling_is_waited_out_using_retry_after() {
    let handle = start(SimConfig {
        quota_per_window: 1,
        window: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    let c = connector_for(&instance(&handle.url(), DEFAULT_SIM_SECRET));
    run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "1", "message": "M"}),
    )
    .await;
    let started = Instant::now();
    run_ok(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "2", "message": "M"}),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "waited for the window"
    );
    let statuses: Vec<u16> = handle
        .simulator()
        .events()
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses.first(), Some(&201));
    assert_eq!(statuses.last(), Some(&201));
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(handle.simulator().alerts().len(), 2);
}

#[tokio::test]
async fn simulator_latency_beyond_the_timeout_is_a_timeout() {
    let handle = start(SimConfig {
        latency: Duration::from_secs(2),
        ..SimConfig::default()
    })
    .await;
    let c = connector_for(&instance(&handle.url(), DEFAULT_SIM_SECRET));
    let err = run(
        c.as_ref(),
        "signl4_alert",
        json!({"title": "T", "message": "M"}),
        false,
        Some(Duration::from_millis(100)),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("must time out"));
    assert!(matches!(err, ConnectorError::Timeout(_)), "{err:?}");
}
