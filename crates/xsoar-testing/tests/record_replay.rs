//! Recording against the SIGNL4 simulator, then replaying the recorded mock file offline:
//! the replayed run writes the same context, although the simulator's event ids are random,
//! and sends nothing to the simulator.

mod common;

use common::*;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use xsoar_engine::InstanceSpec;
use xsoar_signl4::sim::{self, SimConfig, Simulator, DEFAULT_SIM_SECRET};
use xsoar_testing::{recording_yaml, EngineTemplate, Live, MockSet, RunConfig, Runner, TestCase};

const FIXTURES: &str = r#"
playbooks:
  SIGNL4 Alert and Close - Test:
    incident: {id: "4242", name: Suspicious sign-in from a new country, severity: 3}
    complete: [handled]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_run_writes_the_context_of_the_recorded_one() {
    let handle = sim::spawn(Simulator::new(SimConfig::default()), sim::loopback(0))
        .await
        .expect("the simulator starts on loopback");
    let pbs = repo_test_playbooks();
    let wanted = [
        "SIGNL4 Alert - Test",
        "SIGNL4 Close Alert - Test",
        "SIGNL4 Alert and Close - Test",
    ];
    let cases: Vec<TestCase> = pbs
        .iter()
        .filter(|p| wanted.contains(&p.name.as_str()))
        .map(TestCase::of)
        .collect();
    assert_eq!(cases.len(), 3);
    let lib = library(
        pbs.into_iter()
            .map(xsoar_content::ContentItem::Playbook)
            .collect(),
    );
    let mut params = Map::new();
    params.insert("url".into(), Value::String(handle.url()));
    params.insert(
        "secret".into(),
        json!({"identifier": "", "password": DEFAULT_SIM_SECRET}),
    );
    let template = EngineTemplate {
        lists: Default::default(),
        library: Arc::new(lib.clone()),
        instances: vec![InstanceSpec {
            name: "signl4-simulator".into(),
            brand: "SIGNL4".into(),
            enabled: true,
            params,
            simulated: true,
        }],
        factories: vec![xsoar_signl4::factory()],
        options: Default::default(),
    };
    let fixtures = mocks(&[("fixtures.yml", FIXTURES)]);

    // Record.
    let recorder = Runner::new(
        template.clone(),
        fixtures.clone(),
        RunConfig {
            live: Live::Record,
            ..RunConfig::default()
        },
    );
    let recorded = recorder.run_suite(&cases, 2, None, &mut |_, _, _| {}).await;
    for r in &recorded {
        assert!(r.passed, "{} (recording): {:?}", r.name, r.failure);
    }
    let calls: usize = recorded.iter().map(|r| r.recorded.len()).sum();
    // Alert; alert + close; alert + close in the sub-playbook.
    assert_eq!(calls, 5);
    let alerts_sent = handle.simulator().alerts().len();
    assert_eq!(alerts_sent, 3, "three alerts reached the simulator");
    let event_id = recorded[0].context["SIGNL4"]["AlertCreated"]["eventId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        handle
            .simulator()
            .alerts()
            .iter()
            .any(|a| a.event_id == event_id),
        "the recorded event id {event_id} is the simulator's"
    );

    // The recording is a mock file.
    let yaml = recording_yaml(&recorded).expect("the recording serialises");
    assert!(yaml.contains("playbook: SIGNL4 Alert - Test\n"), "{yaml}");
    assert!(
        yaml.contains("command: SIGNL4|||signl4_close_alert\n"),
        "{yaml}"
    );
    assert!(yaml.contains(&event_id), "{yaml}");
    let mut replay_mocks = MockSet::parse_one("recorded.yml", &yaml)
        .unwrap_or_else(|e| panic!("the recording does not parse:\n{e}\n{yaml}"));
    replay_mocks.extend(fixtures);

    // Replay, offline.
    let replayer = Runner::new(template, replay_mocks, RunConfig::default());
    let replayed = replayer.run_suite(&cases, 2, None, &mut |_, _, _| {}).await;
    assert_eq!(replayed.len(), recorded.len());
    for (rec, rep) in recorded.iter().zip(&replayed) {
        assert!(rep.passed, "{} (replay): {:?}", rep.name, rep.failure);
        assert_eq!(rep.context, rec.context, "{}", rep.name);
        assert!(
            rep.recorded.is_empty(),
            "nothing ran for real in the replay"
        );
        assert!(rep.missing_mocks.is_empty());
    }
    assert_eq!(
        handle.simulator().alerts().len(),
        alerts_sent,
        "the replay sent nothing to the simulator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mocked_run_never_reaches_a_configured_instance_unless_allowed() {
    let handle = sim::spawn(Simulator::new(SimConfig::default()), sim::loopback(0))
        .await
        .expect("the simulator starts on loopback");
    let pbs = repo_test_playbooks();
    let case = pbs
        .iter()
        .find(|p| p.name == "SIGNL4 Alert - Test")
        .map(TestCase::of)
        .expect("the alert test");
    let mut params = Map::new();
    params.insert("url".into(), Value::String(handle.url()));
    params.insert(
        "secret".into(),
        json!({"identifier": "", "password": DEFAULT_SIM_SECRET}),
    );
    let template = EngineTemplate {
        lists: Default::default(),
        library: Arc::new(library(
            pbs.into_iter()
                .map(xsoar_content::ContentItem::Playbook)
                .collect(),
        )),
        instances: vec![InstanceSpec {
            name: "paging".into(),
            brand: "SIGNL4".into(),
            enabled: true,
            params,
            simulated: false,
        }],
        factories: vec![xsoar_signl4::factory()],
        options: Default::default(),
    };
    // Mocks only (the default): the configured instance is never called.
    let offline = Runner::new(template.clone(), MockSet::new(), RunConfig::default());
    let r = offline.run_one(&case).await;
    assert!(!r.passed);
    assert_eq!(r.missing_mocks.len(), 1);
    assert!(
        handle.simulator().events().is_empty(),
        "no request reached SIGNL4"
    );

    // Allowed by instance name: the command runs on it.
    for allowed in ["paging", "signl4"] {
        let live = Runner::new(
            template.clone(),
            MockSet::new(),
            RunConfig {
                live: Live::Allow(vec![allowed.into()]),
                ..RunConfig::default()
            },
        );
        let r = live.run_one(&case).await;
        assert!(r.passed, "{allowed}: {:?}", r.failure);
        assert_eq!(r.recorded.len(), 1);
    }
    assert_eq!(handle.simulator().alerts().len(), 2);
}
