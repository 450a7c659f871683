//! What the connector costs on top of the HTTP request it makes.
//!
//! Both variants post the same `signl4_alert` JSON to the same in-process simulator over
//! loopback: (a) through `Connector::execute` (argument handling, body building, retry loop,
//! result dict and markdown table), (b) as a bare reqwest POST that parses the reply. The
//! difference is the connector's overhead; the target is a ratio of at most 1.1.
//!
//! After criterion's measurements an interleaved run (a, b, a, b, ...) prints the ratio, so
//! drift on a shared machine affects both sides alike.

use criterion::{criterion_group, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xsoar_connector::{Args, CommandCall, Connector, ConnectorFactory, InstanceConfig};
use xsoar_signl4::sim::{self, SimConfig, Simulator, DEFAULT_SIM_SECRET};
use xsoar_signl4::Signl4Factory;

struct Setup {
    rt: tokio::runtime::Runtime,
    _sim: sim::SimHandle,
    connector: Arc<dyn Connector>,
    args: Args,
    client: reqwest::Client,
    webhook: String,
    body: Value,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let config = SimConfig {
        quota_per_window: 0,
        max_events: 1_000,
        ..SimConfig::default()
    };
    let handle = rt
        .block_on(sim::spawn(Simulator::new(config), sim::loopback(0)))
        .unwrap_or_else(|e| panic!("simulator: {e}"));
    let instance = InstanceConfig {
        name: "SIGNL4_bench".into(),
        brand: "SIGNL4".into(),
        params: json!({"secret": {"identifier": "", "password": DEFAULT_SIM_SECRET}, "url": handle.url(), "proxy": false})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        secret_params: vec!["secret".into()],
    };
    let connector = Signl4Factory::new()
        .build(&instance)
        .unwrap_or_else(|e| panic!("connector: {e}"));
    let args = json!({"title": "Ransomware detected", "message": "EDR quarantined host WS-042", "s4_external_id": "bench-1"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Exactly what the connector sends for these arguments.
    let body = json!({
        "Title": "Ransomware detected", "Message": "EDR quarantined host WS-042",
        "X-S4-ExternalID": "bench-1", "X-S4-Status": "new", "X-S4-Service": null,
        "X-S4-Location": null, "X-S4-AlertingScenario": null, "X-S4-Filtering": null,
        "X-S4-SourceSystem": "CortexXSOAR"
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let webhook = handle.webhook_url();
    Setup {
        rt,
        _sim: handle,
        connector,
        args,
        client,
        webhook,
        body,
    }
}

async fn via_connector(s: &Setup) {
    let call = CommandCall {
        command: "signl4_alert",
        args: &s.args,
        timeout: None,
        debug: false,
        investigation: None,
    };
    let out = s
        .connector
        .execute(call)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    black_box(out);
}

async fn bare_reqwest(s: &Setup) {
    bare(s.client.post(&s.webhook).json(&s.body)).await;
}

/// The bare POST with reqwest's per-request timeout (30 s), as a client bounding each call
/// usually does; the connector bounds its calls with shared deadline timers instead.
async fn bare_reqwest_with_timeout(s: &Setup) {
    bare(
        s.client
            .post(&s.webhook)
            .json(&s.body)
            .timeout(Duration::from_secs(30)),
    )
    .await;
}

async fn bare(request: reqwest::RequestBuilder) {
    let resp = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
    let reply: Value = resp.json().await.unwrap_or_else(|e| panic!("{e}"));
    black_box(reply);
}

fn alert(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("signl4_alert");
    group.bench_function("connector_execute", |b| {
        b.to_async(&s.rt).iter(|| via_connector(&s))
    });
    group.bench_function("bare_reqwest_post", |b| {
        b.to_async(&s.rt).iter(|| bare_reqwest(&s))
    });
    group.finish();

    interleaved(&s);
}

/// Median of a list of ratios.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The three variants in turn, in blocks; the median block ratio is robust to load spikes
/// from other processes on the machine.
fn interleaved(s: &Setup) {
    const BLOCKS: u32 = 30;
    const ROUNDS: u32 = 150;
    let mut totals = [Duration::ZERO; 3];
    let (mut vs_bare, mut vs_timeout) = (Vec::new(), Vec::new());
    s.rt.block_on(async {
        for _ in 0..200 {
            via_connector(s).await;
            bare_reqwest(s).await;
            bare_reqwest_with_timeout(s).await;
        }
        for _ in 0..BLOCKS {
            let mut block = [Duration::ZERO; 3];
            for _ in 0..ROUNDS {
                let t = Instant::now();
                via_connector(s).await;
                block[0] += t.elapsed();
                let t = Instant::now();
                bare_reqwest(s).await;
                block[1] += t.elapsed();
                let t = Instant::now();
                bare_reqwest_with_timeout(s).await;
                block[2] += t.elapsed();
            }
            vs_bare.push(block[0].as_secs_f64() / block[1].as_secs_f64());
            vs_timeout.push(block[0].as_secs_f64() / block[2].as_secs_f64());
            for (total, b) in totals.iter_mut().zip(block) {
                *total += b;
            }
        }
    });
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(BLOCKS * ROUNDS);
    println!("\nsignl4_alert, interleaved, {BLOCKS} blocks of {ROUNDS} rounds:");
    println!(
        "  connector execute              {:7.1} µs/op",
        per(totals[0])
    );
    println!(
        "  bare reqwest POST              {:7.1} µs/op",
        per(totals[1])
    );
    println!(
        "  bare reqwest POST + timeout    {:7.1} µs/op",
        per(totals[2])
    );
    println!(
        "  connector / bare (median)      {:7.3}x (target <= 1.1x)",
        median(vs_bare)
    );
    println!(
        "  connector / bare+timeout (med) {:7.3}x",
        median(vs_timeout)
    );
}

criterion_group!(benches, alert);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
