//! Engine overhead for a command shaped like `!signl4_alert` (outputs with a key field, a
//! markdown table, a secret parameter), with a connector that answers at once.
//!
//! `cargo run --release -p xsoar-engine --example outputs [N]`

use futures::future::BoxFuture;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use xsoar_connector::{
    table_to_markdown, CommandCall, CommandOutput, CommandResult, Connector, ConnectorError,
    ConnectorFactory, InstanceConfig, Outputs,
};
use xsoar_content::parse_any;
use xsoar_engine::{Engine, EngineOptions, InstanceSpec, Investigation, VirtualClock};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const YAML: &str = r#"
commonfields: {id: Fast, version: -1}
name: Fast
display: Fast
category: Utilities
description: Answers at once.
configuration:
- {name: secret, type: 9, hiddenusername: true, required: true}
script:
  type: python
  script: ''
  commands:
  - name: fast_alert
    description: Like signl4_alert.
    arguments:
    - {name: title, description: t, required: true}
    - {name: message, description: m, required: true}
    - {name: s4_external_id, description: e}
    outputs:
    - {contextPath: Fast.AlertCreated.eventId, description: e, type: String}
"#;

struct F(Arc<AtomicU64>);
impl ConnectorFactory for F {
    fn brand(&self) -> &str {
        "Fast"
    }
    fn build(&self, _: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(C(self.0.clone())))
    }
}
struct C(Arc<AtomicU64>);
impl Connector for C {
    fn execute<'a>(
        &'a self,
        _call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        Box::pin(async move {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            let reply = json!({"eventId": format!("3c1f9a52-6d0e-4b7a-9f4e-{n:012}")});
            Ok(CommandResult::from_outputs(Outputs {
                prefix: Some("Fast.AlertCreated".into()),
                key_fields: vec!["eventId".into()],
                outputs: Some(reply.clone()),
                readable_output: Some(table_to_markdown("Fast alert created", &reply)),
                raw_response: Some(reply),
                ..Default::default()
            })
            .into())
        })
    }
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async { Ok(()) })
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    engine.add_content(parse_any(YAML, "fast.yml").0.into_iter().collect());
    engine.register_factory(Arc::new(F(Arc::new(AtomicU64::new(0)))));
    let mut params = serde_json::Map::new();
    params.insert(
        "secret".into(),
        json!({"identifier": "", "password": "s3cret"}),
    );
    engine.set_instances(vec![InstanceSpec {
        name: "fast".into(),
        brand: "Fast".into(),
        enabled: true,
        params,
        simulated: false,
    }]);
    let start = Instant::now();
    let mut done = 0;
    futures::executor::block_on(async {
        while done < n {
            // 50 alerts per incident, as in the SIGNL4 benchmark.
            let mut inv = Investigation::new("1", json!({}));
            for _ in 0..50 {
                engine
                    .execute_line(&mut inv, "!fast_alert title=x message=y")
                    .await;
                done += 1;
            }
        }
    });
    let e = start.elapsed();
    println!(
        "{done} commands in {:.1} ms: {:.2} µs per command",
        e.as_secs_f64() * 1e3,
        e.as_secs_f64() * 1e6 / done as f64
    );
}
