//! Load benchmark of the REST API: N concurrent clients send
//! `POST /entry/execute/sync {"data": "!signl4_alert title=x message=y"}` over real HTTP to a
//! server whose SIGNL4 instance is the embedded simulator, backed by a SQLite file. It reports
//! throughput and latency percentiles, then checks that every command was answered with a
//! result entry and that every entry is in the database.
//!
//! ```text
//! cargo bench -p xsoar-server --bench load -- --clients 16 --commands 20000
//! ```
//!
//! Options: `--clients N` (default 16), `--commands N` (total, default 20000), `--shared`
//! (every client uses the playground; by default each client has its own incident, as
//! separate analysts or playbooks would).

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use xsoar_engine::{Clock, Engine, EngineOptions, InstanceSpec};
use xsoar_server::{AppState, ServerConfig};
use xsoar_store::Store;

// The allocator of the xsoar-emu binary, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "bench-key";

#[derive(Debug)]
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

struct Options {
    clients: usize,
    commands: usize,
    shared: bool,
}

fn options() -> Options {
    let mut o = Options {
        clients: 16,
        commands: 20_000,
        shared: false,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let next = args.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        match args[i].as_str() {
            "--clients" => {
                o.clients = next.unwrap_or(o.clients).max(1);
                i += 1;
            }
            "--commands" => {
                o.commands = next.unwrap_or(o.commands).max(1);
                i += 1;
            }
            "--shared" => o.shared = true,
            _ => {}
        }
        i += 1;
    }
    o
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(&dir.path().join("bench.db")).expect("store");

    let sim_config = xsoar_signl4::sim::SimConfig {
        quota_per_window: 0,
        max_events: 1_000,
        ..Default::default()
    };
    let sim = xsoar_signl4::sim::spawn(
        xsoar_signl4::sim::Simulator::new(sim_config),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("simulator");

    let engine = Arc::new(Engine::new(Arc::new(SystemClock), EngineOptions::default()));
    let (integration, _) = xsoar_content::parse_any(
        include_str!("../../../integrations/SIGNL4/SIGNL4.yml"),
        "SIGNL4.yml",
    );
    engine.add_content(integration.into_iter().collect());
    engine.register_factory(xsoar_signl4::factory());
    let mut params = serde_json::Map::new();
    params.insert("url".into(), json!(sim.url()));
    params.insert(
        "secret".into(),
        json!({"identifier": "", "password": xsoar_signl4::sim::DEFAULT_SIM_SECRET}),
    );
    let mut config = ServerConfig::with_key(KEY);
    config.base_instances = vec![InstanceSpec {
        name: "signl4-simulator".into(),
        brand: "SIGNL4".into(),
        enabled: true,
        params,
        simulated: true,
    }];
    let state = AppState::new(engine, store.clone(), config)
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = xsoar_server::router(state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.clients * 2)
        .build()
        .expect("client");
    // One investigation per client (incidents), or the playground for all.
    let mut investigations = Vec::new();
    for n in 0..o.clients {
        if o.shared {
            investigations.push(state.playground_id().to_owned());
            continue;
        }
        let v: Value = http
            .post(format!("{base}/incident"))
            .header("Authorization", KEY)
            .json(&json!({"name": format!("bench {n}")}))
            .send()
            .await
            .expect("create incident")
            .json()
            .await
            .expect("incident json");
        investigations.push(v["id"].as_str().expect("id").to_owned());
    }
    let before = store.count_entries(None).await.expect("count");

    let per_client = o.commands / o.clients;
    let total = per_client * o.clients;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for inv in investigations {
        let http = http.clone();
        let url = format!("{base}/entry/execute/sync");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let mut errors = 0usize;
            let body = json!({"investigationId": inv, "data": "!signl4_alert title=x message=y"})
                .to_string();
            for _ in 0..per_client {
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .header("Authorization", KEY)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let ok = match res {
                    Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                        Ok(Value::Array(entries)) => entries.len() == 1 && entries[0]["type"] == 1,
                        _ => false,
                    },
                    _ => false,
                };
                latencies.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();

    // Every command wrote two entries (the echoed line and the result).
    let after = store.count_entries(None).await.expect("count");
    let stored = (after - before) as usize;
    let expected = total * 2;
    let lost = expected.saturating_sub(stored);
    let alerts = sim.simulator().alerts().len();

    println!(
        "load: {total} commands, {} clients, {} ({}), {:.2}s",
        o.clients,
        if o.shared {
            "one shared playground"
        } else {
            "one incident per client"
        },
        store.location(),
        elapsed.as_secs_f64()
    );
    println!(
        "  throughput {:.0} commands/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        total as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    println!(
        "  errors {errors}; entries stored {stored} of {expected} (lost {lost}); simulator alerts {alerts}"
    );
    server.abort();
    drop(state);
    if errors > 0 || lost > 0 {
        std::process::exit(1);
    }
}
