//! SIGNL4 through the whole engine, measured against the network round trip it makes.
//!
//! `cargo bench -p xsoar-emu --bench signl4_engine [-- --ratio-only]`
//!
//! `-- --only engine|bare|connector N` runs N calls of one path and nothing else, for
//! instruction and allocation counts under callgrind (compare two values of N).
//! `-- --worker-task` also runs the in-process comparison from a runtime worker task.
//! `-- --gap-us N` measures what a busy gap of N µs between two bare POSTs costs beyond its
//! own length (a spin loop that touches no memory): the price of letting the runtime's other
//! threads idle between requests, apart from any cache effect of the engine's work.
//! `-- --gap-kib N` does the same with a gap that writes N KiB: the price of evicting the HTTP
//! stack from the caches.
//! `-- --latency-ms N` also runs it with every simulator reply delayed by N ms, as a real
//! SIGNL4 endpoint a network away would answer (blocks of 10 calls).
//!
//! 1. `!signl4_alert` through `Engine::execute_line` (parse, bind, dispatch, connector,
//!    entries, context merge) vs a bare reqwest POST of the same JSON to the same simulator,
//!    and the SIGNL4 connector called directly, interleaved in blocks so all three see the
//!    same machine load; the median block ratios are reported. The engine's own time (outside
//!    the connector call) per command, which attributes the overhead, comes from a fourth path
//!    in the same blocks: an engine whose connector calls are timed, kept out of the ratio so
//!    the timing wrapper does not count as engine work. Measured
//!    twice: against the simulator inside the benchmark process (sharing its runtime and both
//!    cores), and against `xsoar-emu signl4-sim` in its own process, as a team runs it.
//!    Then the engine's own work with warm caches: the same command, back to back, on an
//!    instance that replays one real reply of the simulator without I/O.
//! 2. 1,000 concurrent runs of the "SIGNL4 Alert and Close" playbook (manual step completed
//!    by option) against the simulator: throughput and peak memory (VmHWM).

use futures::future::BoxFuture;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xsoar_connector::{
    CommandCall, CommandOutput, Connector, ConnectorError, ConnectorFactory, InstanceConfig,
};
use xsoar_content::parse_any;
use xsoar_engine::{
    Engine, EngineOptions, InstanceSpec, Investigation, RunOptions, RunState, TaskCompletion,
    VirtualClock,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Nanoseconds spent inside SIGNL4 connector calls (HTTP round trip included).
static IN_CONNECTOR: AtomicU64 = AtomicU64::new(0);

/// Wraps the SIGNL4 factory so the time spent inside connector calls can be subtracted.
struct Timed(Arc<dyn ConnectorFactory>);
impl ConnectorFactory for Timed {
    fn brand(&self) -> &str {
        self.0.brand()
    }
    fn build(&self, instance: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(TimedConnector(self.0.build(instance)?)))
    }
    fn aliases(&self) -> &'static [(&'static str, &'static str)] {
        self.0.aliases()
    }
}
struct TimedConnector(Arc<dyn Connector>);
impl std::fmt::Debug for TimedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimedConnector")
    }
}
impl Connector for TimedConnector {
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        Box::pin(async move {
            let t = Instant::now();
            let out = self.0.execute(call).await;
            IN_CONNECTOR.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            out
        })
    }
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        self.0.test_module()
    }
}

/// Hands back one recorded SIGNL4 reply without any I/O: what is left of a command's time
/// with it is the engine's own work with warm caches.
#[derive(Debug)]
struct Canned(CommandOutput);
impl Connector for Canned {
    fn execute<'a>(
        &'a self,
        _call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async { Ok(()) })
    }
}
struct CannedFactory(CommandOutput);
impl ConnectorFactory for CannedFactory {
    fn brand(&self) -> &str {
        "SIGNL4"
    }
    fn build(&self, _instance: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(Canned(self.0.clone())))
    }
}

/// `!signl4_alert` through an engine whose SIGNL4 instance replays one real reply of the
/// simulator at `url`, back to back with no I/O: µs per command (median of 21 blocks).
async fn warm_engine_us(fx: &Fixtures, url: &str) -> f64 {
    let reply = fx.connector_call_output().await;
    let engine = engine_for(url, false);
    engine.register_factory(Arc::new(CannedFactory(reply)));
    engine.set_instances(vec![InstanceSpec {
        name: "sim".into(),
        brand: "SIGNL4".into(),
        enabled: true,
        params: sim_params(url),
        simulated: true,
    }]);
    let mut per_command = Vec::new();
    for _ in 0..21 {
        let mut inv = Investigation::new("1", json!({}));
        let t = Instant::now();
        for _ in 0..50 {
            alert_via_engine(&engine, &mut inv).await;
        }
        per_command.push(t.elapsed().as_secs_f64() * 1e6 / 50.0);
    }
    median(per_command)
}

/// An engine with the SIGNL4 integration and playbook and one instance for the simulator at
/// `url`; `timed`: its connector calls are timed (for attribution, not for the ratio).
fn engine_for(url: &str, timed: bool) -> Engine {
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut items = Vec::new();
    for f in [
        "integrations/SIGNL4/SIGNL4.yml",
        "playbooks/SIGNL4_Alert_and_Close.yml",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{f}")).expect("content");
        items.extend(parse_any(&text, f).0);
    }
    engine.add_content(items);
    if timed {
        engine.register_factory(Arc::new(Timed(xsoar_signl4::factory())));
    } else {
        engine.register_factory(xsoar_signl4::factory());
    }
    let params = sim_params(url);
    engine.set_instances(vec![InstanceSpec {
        name: "sim".into(),
        brand: "SIGNL4".into(),
        enabled: true,
        params,
        simulated: true,
    }]);
    engine
}

/// SIGNL4 instance parameters for the simulator at `url`.
fn sim_params(url: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut params = serde_json::Map::new();
    params.insert("url".into(), json!(url));
    params.insert(
        "secret".into(),
        json!(xsoar_signl4::sim::DEFAULT_SIM_SECRET),
    );
    params.insert("proxy".into(), json!(false));
    params
}

/// What the three paths of one comparison share.
struct Fixtures {
    client: reqwest::Client,
    webhook: String,
    body: serde_json::Value,
    connector: Arc<dyn Connector>,
    args: xsoar_connector::Args,
}

fn fixtures(url: &str) -> Fixtures {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let webhook = format!("{url}/webhook/{}", xsoar_signl4::sim::DEFAULT_SIM_SECRET);
    let body = json!({"Title": "x", "Message": "y", "X-S4-ExternalID": null, "X-S4-Status": "new", "X-S4-Service": null,
        "X-S4-Location": null, "X-S4-AlertingScenario": null, "X-S4-Filtering": null, "X-S4-SourceSystem": "CortexXSOAR"});
    let params = sim_params(url);
    let connector = xsoar_signl4::factory()
        .build(&InstanceConfig {
            name: "direct".into(),
            brand: "SIGNL4".into(),
            params,
            secret_params: vec!["secret".into()],
        })
        .expect("connector");
    let mut args = xsoar_connector::Args::new();
    args.insert("title".into(), json!("x"));
    args.insert("message".into(), json!("y"));
    Fixtures {
        client,
        webhook,
        body,
        connector,
        args,
    }
}

impl Fixtures {
    /// The bare reqwest POST of the pack's body.
    async fn bare_post(&self) {
        let r = self
            .client
            .post(&self.webhook)
            .json(&self.body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 201);
        let _ = r.bytes().await;
    }

    /// `signl4_alert` on the SIGNL4 connector, without the engine.
    async fn connector_call(&self) {
        self.connector_call_output().await;
    }

    /// [`Self::connector_call`], keeping the connector's output.
    async fn connector_call_output(&self) -> CommandOutput {
        let call = CommandCall {
            command: "signl4_alert",
            args: &self.args,
            timeout: None,
            debug: false,
            investigation: None,
        };
        self.connector.execute(call).await.expect("connector call")
    }
}

/// `!signl4_alert` typed in the war room of `inv`.
async fn alert_via_engine(engine: &Engine, inv: &mut Investigation) {
    let out = engine
        .execute_line(inv, "!signl4_alert title=x message=y")
        .await;
    assert_eq!(out.status, xsoar_engine::InvokeStatus::Ok);
}

/// `!signl4_alert` through an engine, a bare POST and the connector alone against the
/// simulator at `url`, interleaved in blocks; prints the medians.
async fn compare(label: &str, url: &str) -> f64 {
    compare_blocks(label, url, 50).await
}

/// [`compare`] with `per_block` calls of each path per block. Returns the bare POST's median µs.
///
/// The ratio is taken on an engine with the plain SIGNL4 connector, as the product runs it. A
/// second engine, whose connector calls are timed, runs in the same blocks to split its time
/// into the connector call and the engine's own work (the timing is not part of the ratio).
async fn compare_blocks(label: &str, url: &str, per_block: usize) -> f64 {
    let fx = fixtures(url);
    let (engine, timed) = (engine_for(url, false), engine_for(url, true));
    let blocks = 41;
    let (mut engine_r, mut conn_r) = (Vec::new(), Vec::new());
    let mut inside_r = Vec::new();
    let (mut engine_us, mut bare_us, mut conn_us, mut own_us) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for block in 0..blocks {
        // The four paths take turns going first, so none is favoured by its place in a block.
        let (mut e, mut b, mut c) = (0.0, 0.0, 0.0);
        let (mut timed_total, mut inside) = (0.0, 0.0);
        for slot in 0..4 {
            // A fresh incident per engine run: each alert adds an element to
            // SIGNL4.AlertCreated, and a real incident holds a handful, not thousands.
            let mut inv = Investigation::new("1", json!({}));
            let inside_before = IN_CONNECTOR.load(Ordering::Relaxed);
            let path = (block + slot) % 4;
            let t = Instant::now();
            for _ in 0..per_block {
                match path {
                    0 => alert_via_engine(&engine, &mut inv).await,
                    1 => fx.bare_post().await,
                    2 => fx.connector_call().await,
                    _ => alert_via_engine(&timed, &mut inv).await,
                }
            }
            let total = t.elapsed().as_secs_f64() * 1e6;
            let per_call = total / per_block as f64;
            match path {
                0 => e = per_call,
                1 => b = per_call,
                2 => c = per_call,
                _ => {
                    timed_total = total;
                    inside = (IN_CONNECTOR.load(Ordering::Relaxed) - inside_before) as f64 / 1e3;
                }
            }
        }
        if block > 0 {
            engine_us.push(e);
            bare_us.push(b);
            conn_us.push(c);
            own_us.push((timed_total - inside) / per_block as f64);
            inside_r.push(inside / per_block as f64 / b);
            engine_r.push(e / b);
            conn_r.push(c / b);
        }
    }
    let n = blocks - 1;
    println!(
        "{label}: signl4_alert via engine: median {:.1} µs; bare reqwest POST: median {:.1} µs; ratio (median of {n} blocks of {per_block}): {:.3}x",
        median(engine_us),
        median(bare_us.clone()),
        median(engine_r)
    );
    println!(
        "{label}: SIGNL4 connector called directly: median {:.1} µs, ratio to bare POST {:.3}x; engine time outside the connector: median {:.1} µs per command",
        median(conn_us),
        median(conn_r),
        median(own_us)
    );
    // The connector call made by the engine, timed by the wrapper: above the direct call's
    // ratio when the engine's work between calls leaves caches colder for the HTTP stack.
    println!(
        "{label}: SIGNL4 connector called by the engine: ratio to bare POST {:.3}x",
        median(inside_r)
    );
    median(bare_us)
}

/// `xsoar-emu signl4-sim --quota 0` in a child process, stopped when dropped.
struct External {
    child: std::process::Child,
    /// Kept open: the simulator writes its banner to it.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    url: String,
}

impl External {
    fn start() -> Result<Self, String> {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xsoar-emu"))
            .args(["signl4-sim", "--port", "0", "--quota", "0"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start xsoar-emu: {e}"))?;
        let Some(out) = child.stdout.take() else {
            let _ = child.kill();
            return Err("no stdout".into());
        };
        let mut out = BufReader::new(out);
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        match line.trim().strip_prefix("SIGNL4 simulator listening on ") {
            Some(url) => Ok(Self {
                url: url.to_owned(),
                child,
                _stdout: out,
            }),
            None => {
                let _ = child.kill();
                Err(format!("unexpected first line: {line:?}"))
            }
        }
    }
}

impl Drop for External {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `flag` on the command line.
fn cli_number(flag: &str) -> Option<u64> {
    let cli: Vec<String> = std::env::args().collect();
    let at = cli.iter().position(|a| a == flag)?;
    cli.get(at + 1)?.parse().ok()
}

/// What runs between two bare POSTs in [`gap_cost`].
enum Gap {
    /// A spin loop of this many µs that touches no memory.
    Spin(u64),
    /// One write to every cache line of a buffer of this many KiB.
    Touch(u64),
}

/// Blocks of bare POSTs, alternately back to back and with `gap` after each; prints the median
/// time per call beyond the gap's own (timed) length.
async fn gap_cost(fx: &Fixtures, gap: Gap) {
    let per_block = 50;
    let mut buffer = match gap {
        Gap::Touch(kib) => vec![0u64; kib as usize * 128],
        Gap::Spin(_) => Vec::new(),
    };
    let (mut extra, mut own) = (Vec::new(), Vec::new());
    for _ in 0..61 {
        let t = Instant::now();
        for _ in 0..per_block {
            fx.bare_post().await;
        }
        let back_to_back = t.elapsed().as_secs_f64() * 1e6 / per_block as f64;
        let mut in_gap = Duration::ZERO;
        let t = Instant::now();
        for _ in 0..per_block {
            fx.bare_post().await;
            let g = Instant::now();
            match gap {
                Gap::Spin(us) => {
                    while g.elapsed() < Duration::from_micros(us) {
                        std::hint::spin_loop();
                    }
                }
                Gap::Touch(_) => {
                    // 8 u64 = one 64-byte line.
                    for word in buffer.iter_mut().step_by(8) {
                        *word = word.wrapping_add(1);
                    }
                    std::hint::black_box(&buffer);
                }
            }
            in_gap += g.elapsed();
        }
        let gap_us = in_gap.as_secs_f64() * 1e6 / per_block as f64;
        let with_gap = t.elapsed().as_secs_f64() * 1e6 / per_block as f64;
        extra.push(with_gap - back_to_back - gap_us);
        own.push(gap_us);
    }
    let what = match gap {
        Gap::Spin(us) => format!("a {us} µs spin"),
        Gap::Touch(kib) => format!("writing {kib} KiB"),
    };
    println!(
        "bare POST with {what} after each (median {:.1} µs): median {:.1} µs per call beyond the gap",
        median(own),
        median(extra)
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = xsoar_signl4::sim::SimConfig { quota_per_window: 0, ..Default::default() };
        let sim = xsoar_signl4::sim::Simulator::new(config);
        let handle = xsoar_signl4::sim::spawn(sim, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator");
        let url = handle.url();
        let engine = Arc::new(engine_for(&url, false));

        if let Some(us) = cli_number("--gap-us") {
            gap_cost(&fixtures(&url), Gap::Spin(us)).await;
            return;
        }
        if let Some(kib) = cli_number("--gap-kib") {
            gap_cost(&fixtures(&url), Gap::Touch(kib)).await;
            return;
        }
        // 1. Engine vs bare POST vs the connector alone.
        if let Some(at) = std::env::args().position(|a| a == "--only") {
            let fx = fixtures(&url);
            let cli: Vec<String> = std::env::args().collect();
            let path = cli.get(at + 1).map(String::as_str).unwrap_or("engine");
            let n: usize = cli.get(at + 2).and_then(|n| n.parse().ok()).unwrap_or(1000);
            let mut inv = Investigation::new("1", json!({}));
            for i in 0..n {
                if i % 50 == 0 {
                    inv = Investigation::new("1", json!({}));
                }
                match path {
                    "bare" => fx.bare_post().await,
                    "connector" => fx.connector_call().await,
                    _ => alert_via_engine(&engine, &mut inv).await,
                }
            }
            return;
        }
        let bare = compare("in-process simulator", &url).await;
        // The engine's own work with warm caches, against the same bare POST.
        let warm = warm_engine_us(&fixtures(&url), &url).await;
        println!(
            "engine's own work per command with warm caches (SIGNL4 reply replayed, no I/O): median {warm:.2} µs = {:.3} of the bare POST",
            warm / bare
        );
        // `-- --worker-task`: the same from a task on the runtime's workers, where the REST
        // server runs commands (the task may move between cores from one request to the next).
        if std::env::args().any(|a| a == "--worker-task") {
            let url = url.clone();
            let task = tokio::spawn(async move {
                compare("in-process simulator, from a worker task", &url).await
            });
            if let Err(e) = task.await {
                println!("from a worker task: not measured ({e})");
            }
        }
        // `-- --latency-ms N`: replies N ms late, like a real endpoint across a network.
        if let Some(ms) = cli_number("--latency-ms") {
            handle.simulator().set_latency(Duration::from_millis(ms));
            compare_blocks(&format!("in-process simulator, replies {ms} ms late"), &url, 10).await;
            handle.simulator().set_latency(Duration::ZERO);
        }
        // The same against `xsoar-emu signl4-sim` in its own process, as a team would run it.
        match External::start() {
            Ok(external) => {
                compare("simulator in its own process (xsoar-emu signl4-sim)", &external.url).await;
            }
            Err(e) => println!("simulator in its own process: not measured ({e})"),
        }

        // 2. 1,000 concurrent playbook runs (`-- --ratio-only` skips them).
        if std::env::args().any(|a| a == "--ratio-only") {
            return;
        }
        let runs = 1_000;
        let before = peak_rss_kib();
        let t = Instant::now();
        let mut tasks = Vec::with_capacity(runs);
        for i in 0..runs {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let mut inv = Investigation::new(format!("{i}"), json!({"id": format!("{i}"), "name": "Disk full", "severity": 3, "details": "db1"}));
                let opts = RunOptions { completions: vec![TaskCompletion { task: "handled".into(), label: None }], ..RunOptions::default() };
                let run = engine.run_playbook(&mut inv, "SIGNL4 Alert and Close", None, &opts).await.expect("run");
                run.state
            }));
        }
        let mut completed = 0;
        for t in tasks {
            if t.await.ok() == Some(RunState::Completed) {
                completed += 1;
            }
        }
        let elapsed = t.elapsed();
        println!(
            "{runs} concurrent runs of 'SIGNL4 Alert and Close': {completed} completed in {:.2} s ({:.0} runs/s, {:.0} tasks/s); peak RSS {:.1} MiB (before the runs {:.1} MiB)",
            elapsed.as_secs_f64(),
            runs as f64 / elapsed.as_secs_f64(),
            7.0 * runs as f64 / elapsed.as_secs_f64(),
            peak_rss_kib() as f64 / 1024.0,
            before as f64 / 1024.0
        );
        assert_eq!(completed, runs);
        let resolved = handle.simulator().alerts().iter().filter(|a| a.status.as_str() == "resolved").count();
        println!("simulator: {} alerts, {resolved} resolved", handle.simulator().alerts().len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
