//! A console over a real engine: the SIGNL4 integration and sample playbook from the
//! repository, and two SIGNL4 instances talking to an in-process SIGNL4 simulator.

#![allow(dead_code)]

use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use xsoar_console::MemoryBackend;
use xsoar_engine::{Clock, Engine, EngineOptions, InstanceSpec};
use xsoar_signl4::sim::{SimConfig, SimHandle, Simulator};

/// Secret of the simulator instance (never to reach the browser).
pub const SIM_SECRET: &str = "sim-SECRET-7f3a9c1e55d04b2b";
/// Secret of the second instance.
pub const OTHER_SECRET: &str = "other-SECRET-0b8e4d2a96c1";
/// The simulator-backed instance.
pub const SIM_INSTANCE: &str = "signl4-simulator";
/// A second instance of the same brand.
pub const OTHER_INSTANCE: &str = "signl4 backup";
/// The sample playbook.
pub const PLAYBOOK: &str = "SIGNL4 Alert and Close";

const SIGNL4_YAML: &str = include_str!("../../../../integrations/SIGNL4/SIGNL4.yml");
const PLAYBOOK_YAML: &str = include_str!("../../../../playbooks/SIGNL4_Alert_and_Close.yml");

/// Wall-clock time with tokio's timer, as the binary runs.
#[derive(Debug)]
pub struct TestClock;

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The engine, the backend and the simulator.
pub struct World {
    pub engine: Arc<Engine>,
    pub backend: Arc<MemoryBackend>,
    pub sim: SimHandle,
}

fn signl4_params(url: &str, secret: &str) -> Map<String, Value> {
    let mut params = Map::new();
    params.insert("url".into(), json!(url));
    params.insert(
        "secret".into(),
        json!({"identifier": "", "password": secret}),
    );
    params.insert("proxy".into(), json!(false));
    params
}

pub async fn world() -> World {
    let engine = Arc::new(Engine::new(Arc::new(TestClock), EngineOptions::default()));
    let mut items = Vec::new();
    for (text, file) in [
        (SIGNL4_YAML, "integrations/SIGNL4/SIGNL4.yml"),
        (PLAYBOOK_YAML, "playbooks/SIGNL4_Alert_and_Close.yml"),
    ] {
        let (item, diags) = xsoar_content::parse_any(text, file);
        assert!(diags.iter().all(|d| !d.is_error()), "{file}: {diags:?}");
        items.push(item.expect("the repository's content parses"));
    }
    engine.add_content(items);
    engine.register_factory(xsoar_signl4::factory());
    let sim = Simulator::new(SimConfig::with_secrets([SIM_SECRET, OTHER_SECRET]));
    let handle = xsoar_signl4::sim::spawn(sim, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("the simulator starts");
    engine.set_instances(vec![
        InstanceSpec {
            name: SIM_INSTANCE.into(),
            brand: "SIGNL4".into(),
            enabled: true,
            params: signl4_params(&handle.url(), SIM_SECRET),
            simulated: true,
        },
        InstanceSpec {
            name: OTHER_INSTANCE.into(),
            brand: "SIGNL4".into(),
            enabled: false,
            params: signl4_params(&handle.url(), OTHER_SECRET),
            simulated: false,
        },
    ]);
    let backend = Arc::new(MemoryBackend::new(engine.clone()));
    World {
        engine,
        backend,
        sim: handle,
    }
}
