//! Wiring: content, connectors, instances, the embedded SIGNL4 simulator and the clock.

use crate::config;
use crate::content::{self, LoadedFile};
use crate::EngineOpts;
use anyhow::{bail, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use xsoar_connector::ConnectorFactory;
use xsoar_content::{
    check_duplicates, check_playbook_references, check_playbook_vocabulary, resolve_positions,
    ContentItem, Diagnostic, Library, Vocabulary,
};
use xsoar_engine::{Clock, Engine, EngineOptions, InstanceSpec, VirtualClock};

/// The system clock (real waits on tokio's timer).
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A running embedded simulator.
pub struct EmbeddedSimulator {
    handle: xsoar_signl4::sim::SimHandle,
}

impl EmbeddedSimulator {
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// Alerts the simulator holds, as JSON.
    pub fn alerts_json(&self) -> serde_json::Value {
        serde_json::to_value(self.handle.simulator().alerts()).unwrap_or_default()
    }

    /// One line per alert: external id, status, title.
    pub fn summary(&self) -> Vec<String> {
        self.handle
            .simulator()
            .alerts()
            .iter()
            .map(|a| {
                format!(
                    "{}  status={}  externalId={}  title={}",
                    a.event_id,
                    a.status.as_str(),
                    a.external_id.as_deref().unwrap_or("-"),
                    a.title.as_deref().unwrap_or("-")
                )
            })
            .collect()
    }
}

/// An engine ready to run, and the simulator behind it if one was started.
pub struct Env {
    pub engine: Arc<Engine>,
    pub simulator: Option<EmbeddedSimulator>,
}

/// Name of the instance created for the embedded simulator.
pub const SIM_INSTANCE: &str = "signl4-simulator";

/// The default content plus `--content`; files with errors are reported on stderr and skipped.
fn load_content(opts: &EngineOpts) -> Result<Vec<ContentItem>> {
    let (items, problems) = content::load_all(&opts.content)?;
    for p in problems {
        eprintln!("warning: skipped {p}");
    }
    Ok(items)
}

/// The lists of the content paths and `--list`; unusable list files are reported on stderr
/// and skipped, a bad `--list` is an error.
pub fn load_lists(opts: &EngineOpts) -> Result<Vec<content::ListFile>> {
    let (lists, problems) = content::all_lists(&opts.content, &opts.lists)?;
    for p in problems {
        eprintln!("warning: skipped {p}");
    }
    Ok(lists)
}

/// When no SIGNL4 instance is configured: start the embedded simulator and add the instance
/// that points at it (its entries are marked as simulated).
async fn embedded_simulator(specs: &mut Vec<InstanceSpec>) -> Result<Option<EmbeddedSimulator>> {
    if specs.iter().any(|s| s.brand == "SIGNL4") {
        return Ok(None);
    }
    let sim = xsoar_signl4::sim::Simulator::new(xsoar_signl4::sim::SimConfig::default());
    let handle = xsoar_signl4::sim::spawn(sim, "127.0.0.1:0".parse()?).await?;
    let mut params = serde_json::Map::new();
    params.insert("url".into(), serde_json::Value::String(handle.url()));
    params.insert(
        "secret".into(),
        serde_json::json!({"identifier": "", "password": xsoar_signl4::sim::DEFAULT_SIM_SECRET}),
    );
    params.insert("proxy".into(), serde_json::Value::Bool(false));
    specs.push(InstanceSpec {
        name: SIM_INSTANCE.into(),
        brand: "SIGNL4".into(),
        enabled: true,
        params,
        simulated: true,
    });
    Ok(Some(EmbeddedSimulator { handle }))
}

/// The connectors the binary ships, one factory per brand.
fn connector_factories() -> Vec<Arc<dyn ConnectorFactory>> {
    vec![xsoar_signl4::factory()]
}

/// What follows "has no X 'name'" in a message: the closest declared name, if one is close, and
/// every declared one (`what` names them: "parameters", "inputs").
pub(crate) fn not_declared(name: &str, declared: &[&str], what: &str) -> String {
    let hint = xsoar_engine::closest_name(name, declared.iter().copied())
        .map(|n| format!(" (did you mean '{n}'?)"))
        .unwrap_or_default();
    let list = if declared.is_empty() {
        "none".to_owned()
    } else {
        declared.join(", ")
    };
    format!("{hint}; its {what}: {list}")
}

/// Every configured instance must name a loaded integration, and every parameter it sets must
/// be one the integration declares: an instance of a misspelt brand would otherwise sit unused
/// while its commands go elsewhere (for SIGNL4, to the embedded simulator, paging nobody), and
/// a misspelt parameter would be ignored while its default applies (a misspelt `url` sends
/// alerts to the real SIGNL4 service instead of the simulator or test server meant).
fn check_instances(
    specs: &[InstanceSpec],
    lib: &Library,
    factories: &[Arc<dyn ConnectorFactory>],
    file: &str,
) -> Result<()> {
    for spec in specs {
        if let Some(integration) = lib.integration(&spec.brand) {
            let extra = factories
                .iter()
                .filter(|f| f.brand() == integration.name)
                .flat_map(|f| f.extra_params().iter().copied());
            let names: Vec<&str> = integration
                .params
                .iter()
                .map(|p| p.name.as_str())
                .chain(extra)
                .collect();
            if let Some(name) = spec.params.keys().find(|n| !names.contains(&n.as_str())) {
                bail!(
                    "{file}: instance '{}': integration {} has no parameter '{name}'{}",
                    spec.name,
                    integration.name,
                    not_declared(name, &names, "parameters")
                );
            }
            continue;
        }
        let names: Vec<&str> = lib.integrations().map(|i| i.name.as_str()).collect();
        let hint = xsoar_engine::closest_name(&spec.brand, names.iter().copied())
            .map(|n| format!(" (did you mean '{n}'?)"))
            .unwrap_or_default();
        bail!(
            "{file}: instance '{}': no integration named '{}' is loaded{hint}; loaded integrations: {}. \
             Fix the brand, or load the integration's YAML with --content",
            spec.name,
            spec.brand,
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        );
    }
    Ok(())
}

/// Load content, register connectors, configure instances.
pub async fn build(opts: &EngineOpts) -> Result<Env> {
    let clock: Arc<dyn Clock> = if opts.virtual_clock {
        VirtualClock::starting_at(SystemTime::now())
    } else {
        Arc::new(SystemClock)
    };
    let engine = Arc::new(Engine::new(clock, EngineOptions::default()));
    engine.add_content(load_content(opts)?);
    let lists = load_lists(opts)?;
    engine.replace_lists(content::engine_lists(&lists));
    // `GET /lists` reports a list read from a file with the `type` the file declares.
    engine.set_list_types(content::declared_types(&lists));
    let factories = connector_factories();
    for f in &factories {
        engine.register_factory(f.clone());
    }
    let mut specs = match config::config_path(opts.config.as_deref()) {
        Some(p) => {
            let specs = config::load_instances(&p, &|name| std::env::var(name).ok())?;
            check_instances(
                &specs,
                &engine.library(),
                &factories,
                &p.display().to_string(),
            )?;
            specs
        }
        None => Vec::new(),
    };
    let simulator = if opts.no_simulator {
        None
    } else {
        embedded_simulator(&mut specs).await?
    };
    engine.set_instances(specs);
    Ok(Env { engine, simulator })
}

/// Per-file report of `validate`.
pub struct Report {
    pub files: Vec<(String, String, Vec<Diagnostic>)>,
    pub integrations: usize,
    pub scripts: usize,
    pub playbooks: usize,
}

/// What the engine (and a test run) provides beyond the loaded content, for `validate`.
struct EngineVocabulary;

impl Vocabulary for EngineVocabulary {
    fn is_native(&self, brand: Option<&str>, name: &str) -> bool {
        // GenericPolling's scripts (run natively by `xsoar-emu test`) and connector aliases.
        (brand.is_none() && xsoar_testing::NATIVE_SCRIPTS.contains(&name))
            || (brand.is_none_or(|b| b == xsoar_signl4::BRAND)
                && name == xsoar_signl4::commands::CLOSE_ALIAS)
    }

    fn operator(&self, written: &str) -> Result<(), String> {
        xsoar_engine::eval::resolve_operator(written)
            .map(drop)
            .map_err(str::to_owned)
    }

    fn transformer(&self, written: &str) -> Result<(), String> {
        xsoar_engine::eval::resolve_transformer(written)
            .map(drop)
            .map_err(str::to_owned)
    }

    fn dt_path(&self, expr: &str) -> Result<(), String> {
        xsoar_context::check_path(expr).map_err(|e| e.to_string())
    }

    fn dt_template(&self, text: &str) -> Result<(), String> {
        xsoar_context::check_template(text).map_err(|e| e.to_string())
    }

    fn unclosed_template(&self, text: &str) -> Option<String> {
        xsoar_context::unclosed_interpolation(text)
    }
}

/// Check loaded files against each other and against what the engine provides: sub-playbooks,
/// scripts and commands that nothing provides, unknown operators and transformers, DT the
/// engine cannot parse, ids and names claimed by two files, each located in its file's text.
/// The checks of each file on its own came with its parse, with line and column.
pub fn check_loaded(loaded: &[LoadedFile]) -> Report {
    let mut lib = xsoar_engine::builtin_library();
    for f in loaded {
        if let Some(item) = &f.item {
            lib.add(item.clone());
        }
    }
    let mut duplicates = check_duplicates(loaded.iter().filter_map(|f| f.item.as_ref()));
    let mut report = Report {
        files: Vec::new(),
        integrations: 0,
        scripts: 0,
        playbooks: 0,
    };
    for f in loaded {
        let mut found: Vec<Diagnostic> = Vec::new();
        let summary = match &f.item {
            Some(ContentItem::Integration(i)) => {
                report.integrations += 1;
                format!("integration {} ({} commands)", i.name, i.commands.len())
            }
            Some(ContentItem::Script(s)) => {
                report.scripts += 1;
                format!("script {}", s.name)
            }
            Some(ContentItem::Playbook(p)) => {
                report.playbooks += 1;
                found.extend(check_playbook_references(p, &lib));
                found.extend(check_playbook_vocabulary(p, &lib, &EngineVocabulary));
                format!("playbook {} ({} tasks)", p.name, p.tasks.len())
            }
            None => "not loaded".to_owned(),
        };
        if let Some(item) = &f.item {
            let (mine, rest) = duplicates.into_iter().partition(|d| d.file == item.file());
            duplicates = rest;
            found.extend(mine);
        }
        resolve_positions(&f.text, &mut found);
        let mut diags = f.diagnostics.clone();
        diags.extend(found);
        // Top to bottom; file-level findings (no line) first.
        diags.sort_by_key(|d| (d.line, d.col));
        report.files.push((f.path.clone(), summary, diags));
    }
    report
}

/// `xsoar-emu signl4-sim`.
pub async fn run_simulator(
    bind: &str,
    port: u16,
    config: xsoar_signl4::sim::SimConfig,
) -> Result<ExitCode> {
    let (quota, window, latency) = (config.quota_per_window, config.window, config.latency);
    // The built-in secret is public (documented), so the banner shows the webhook URL to use;
    // secrets given with --secret are the user's and are only counted.
    let secrets = match config.secrets.as_slice() {
        [only] if only == xsoar_signl4::sim::DEFAULT_SIM_SECRET => {
            format!("{only}   (the built-in secret; --secret sets yours)")
        }
        [_] => "<secret>   (the secret given with --secret)".to_owned(),
        more => format!("<secret>   (one of the {} given with --secret)", more.len()),
    };
    let addr = format!("{bind}:{port}")
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid address {bind}:{port}: {e}"))?;
    let sim = xsoar_signl4::sim::Simulator::new(config);
    let handle = xsoar_signl4::sim::spawn(sim, addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e} (choose another --port)"))?;
    outln!("SIGNL4 simulator listening on {}", handle.url());
    outln!("  webhook: POST {}/webhook/{secrets}", handle.url());
    outln!("  alerts: GET {}/alerts", handle.url());
    if quota == 0 {
        outln!("  no throttling");
    } else {
        outln!(
            "  throttling: 429 after {quota} webhook requests per {} s",
            window.as_secs()
        );
    }
    if !latency.is_zero() {
        outln!(
            "  latency: every webhook reply delayed by {} ms",
            latency.as_millis()
        );
    }
    if tokio::signal::ctrl_c().await.is_err() {
        bail!("cannot wait for Ctrl-C");
    }
    Ok(ExitCode::SUCCESS)
}

/// What `xsoar-emu test` builds one engine per test playbook from.
pub struct TestEnv {
    pub library: Library,
    pub lists: xsoar_engine::Lists,
    pub instances: Vec<InstanceSpec>,
    pub factories: Vec<Arc<dyn xsoar_connector::ConnectorFactory>>,
    /// The embedded SIGNL4 simulator, when one was started (recording only).
    pub simulator: Option<EmbeddedSimulator>,
}

/// Content, connectors and instances for test runs. Content is the usual default content,
/// `--content` and `extra` (the test paths). The embedded SIGNL4 simulator is started only
/// when `start_simulator` (recording), no SIGNL4 instance is configured and `--no-simulator`
/// is not given: a mocked test run opens no socket. Engines are built per test, each on its
/// own virtual clock, by the test runner.
pub async fn build_test_env(
    opts: &EngineOpts,
    extra: Vec<ContentItem>,
    start_simulator: bool,
) -> Result<TestEnv> {
    let factories = connector_factories();
    let mut library = Library::new();
    for item in load_content(opts)? {
        library.add(item);
    }
    for item in extra {
        library.add(item);
    }
    let mut instances = match config::config_path(opts.config.as_deref()) {
        Some(p) => {
            let specs = config::load_instances(&p, &|name| std::env::var(name).ok())?;
            check_instances(&specs, &library, &factories, &p.display().to_string())?;
            specs
        }
        None => Vec::new(),
    };
    let simulator = if start_simulator && !opts.no_simulator {
        embedded_simulator(&mut instances).await?
    } else {
        None
    };
    Ok(TestEnv {
        library,
        lists: content::engine_lists(&load_lists(opts)?),
        instances,
        factories,
        simulator,
    })
}
