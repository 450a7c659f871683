//! `xsoar-emu serve`: the XSOAR-compatible REST API, persisted in SQLite.
//!
//! The binary's part is everything with side effects: the data directory, the API key (from
//! `XSOAR_EMU_API_KEY`, or generated once and kept in the data directory), the listening
//! socket, signals, and re-reading content from disk on `POST /content/reload`. A server that
//! listens beyond loopback must be given its key explicitly, so a key printed to a terminal
//! never ends up guarding a reachable port by accident.

use crate::content;
use crate::setup;
use crate::EngineOpts;
use anyhow::{anyhow, bail, Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use xsoar_engine::Engine;
use xsoar_server::{AppState, ReloadFn, ReloadOutcome, ServerConfig};
use xsoar_store::Store;

/// Environment variable holding the API key.
pub const KEY_ENV: &str = "XSOAR_EMU_API_KEY";
/// File (in the data directory) holding a generated key.
const KEY_FILE: &str = "api-key";
/// How long a stop waits for running playbooks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Options of `xsoar-emu serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs XSOAR_EMU_API_KEY.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Folder for the database and the generated API key.
    #[arg(long, default_value = ".xsoar-emu")]
    pub data_dir: PathBuf,
    /// Keep everything in memory: nothing is written, everything is gone at exit.
    #[arg(long)]
    pub in_memory: bool,
    /// Reload content when YAML files change in integrations/, playbooks/ or --content paths.
    #[arg(long)]
    pub watch: bool,
}

/// Where the API key came from.
enum KeySource {
    Env,
    Stored(PathBuf),
    Generated(Option<PathBuf>),
}

fn generate_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn write_key(path: &Path, key: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(f, "{key}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The key: `env_key` (the value of XSOAR_EMU_API_KEY), else the stored one, else a new one.
fn api_key(
    args: &ServeArgs,
    addr: SocketAddr,
    env_key: Option<String>,
) -> Result<(String, KeySource)> {
    if let Some(k) = env_key
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
    {
        return Ok((k, KeySource::Env));
    }
    if !addr.ip().is_loopback() {
        bail!(
            "listening on {addr} (not a loopback address) needs an explicit API key: set {KEY_ENV}, \
             for example `export {KEY_ENV}=$(openssl rand -hex 32)`"
        );
    }
    if args.in_memory {
        return Ok((generate_key(), KeySource::Generated(None)));
    }
    let path = args.data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            Ok((text.trim().to_owned(), KeySource::Stored(path)))
        }
        Ok(_) => bail!(
            "{} is empty: delete it to have a new key generated",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_data_dir(&args.data_dir)?;
            let key = generate_key();
            write_key(&path, &key)?;
            Ok((key, KeySource::Generated(Some(path))))
        }
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Create the data directory owner-only (0700 on Unix), tightening an existing looser one:
/// it holds the key and the database with instance secrets.
fn create_data_dir(dir: &Path) -> Result<()> {
    xsoar_store::prepare_data_dir(dir)
        .with_context(|| format!("cannot prepare the data directory {}", dir.display()))?;
    Ok(())
}

async fn resolve(bind: &str) -> Result<SocketAddr> {
    tokio::net::lookup_host(bind)
        .await
        .with_context(|| format!("invalid --bind address '{bind}' (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| anyhow!("--bind address '{bind}' resolves to nothing"))
}

/// Re-read the default content folders and `--content` paths (files with errors are skipped
/// and reported).
fn reload_fn(engine: Arc<Engine>, extra: Vec<PathBuf>, list_args: Vec<String>) -> ReloadFn {
    Arc::new(move || {
        let (engine, extra, list_args) = (engine.clone(), extra.clone(), list_args.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let (items, mut problems) = content::load_all(&extra).map_err(|e| e.to_string())?;
                let (lists, list_problems) =
                    content::all_lists(&extra, &list_args).map_err(|e| format!("{e:#}"))?;
                problems.extend(list_problems);
                engine.set_list_types(content::declared_types(&lists));
                let lists = lists.into_iter().map(|l| (l.name, l.data)).collect();
                Ok(ReloadOutcome {
                    items,
                    problems,
                    lists,
                })
            })
            .await
            .map_err(|e| format!("content reload failed: {e}"))?
        })
    })
}

async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// What the start banner says of SIGNL4 when the embedded simulator runs: a stored SIGNL4
/// instance (added over REST or in the console) takes its place, the simulator standing by for
/// when that instance is disabled or deleted.
fn signl4_line(specs: &[xsoar_engine::InstanceSpec], sim_url: &str) -> String {
    let stored: Vec<String> = specs
        .iter()
        .filter(|s| s.brand == "SIGNL4" && s.enabled && !s.simulated)
        .map(|s| format!("'{}'", s.name))
        .collect();
    if stored.is_empty() {
        format!("  SIGNL4: embedded simulator at {sim_url} (no SIGNL4 instance configured)")
    } else {
        format!(
            "  SIGNL4: stored instance {} handles SIGNL4 commands; embedded simulator at {sim_url} standing by",
            stored.join(", ")
        )
    }
}

/// Run the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs, engine_opts: &EngineOpts) -> Result<ExitCode> {
    let addr = resolve(&args.bind).await?;
    // Listen first: a port in use is reported before an API key is generated and stored,
    // which would otherwise be shown by no start (it is printed only when it is generated).
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let (key, source) = api_key(&args, addr, std::env::var(KEY_ENV).ok())?;
    if !args.in_memory {
        create_data_dir(&args.data_dir)?;
    }
    let (store, report) = if args.in_memory {
        Store::open_in_memory()?
    } else {
        Store::open(&xsoar_store::db_path(&args.data_dir))?
    };
    let env = setup::build(engine_opts).await?;
    let config = ServerConfig {
        api_keys: vec![key.clone()],
        base_instances: env.engine.instance_specs(),
        reload: Some(reload_fn(
            env.engine.clone(),
            engine_opts.content.clone(),
            engine_opts.lists.clone(),
        )),
        run_options: xsoar_engine::RunOptions::default(),
        user: "admin".into(),
    };
    let state = AppState::new(env.engine.clone(), store.clone(), config)
        .await
        .context("cannot start the server")?;
    let local = listener.local_addr().unwrap_or(addr);
    let shown = if local.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], local.port()))
    } else {
        local
    };
    let base_url = format!("http://{shown}");

    outln!("xsoar-emu server listening on http://{local}");
    if args.in_memory {
        outln!("  data: in memory (nothing is kept after exit)");
    } else {
        outln!(
            "  data: {} (schema version {})",
            store.location(),
            report.version
        );
    }
    if report.interrupted_runs > 0 {
        outln!(
            "  {} playbook run(s) were interrupted by the last stop; they report as failed and can be started again",
            report.interrupted_runs
        );
    }
    outln!("  playground: {}", state.playground_id());
    outln!("  web console: {base_url}/ (log in with the API key)");
    if let Some(sim) = &env.simulator {
        outln!("{}", signl4_line(&env.engine.instance_specs(), &sim.url()));
    }
    match &source {
        KeySource::Env => outln!("  API key: from {KEY_ENV}"),
        KeySource::Stored(p) => outln!("  API key: stored in {}", p.display()),
        KeySource::Generated(stored) => {
            match stored {
                Some(p) => outln!(
                    "A new API key was generated and stored in {} (shown only this once):",
                    p.display()
                ),
                None => outln!("A temporary API key was generated (in-memory server, not stored):"),
            }
            outln!("  export DEMISTO_BASE_URL={base_url}");
            outln!("  export DEMISTO_API_KEY={key}");
        }
    }

    let _watcher = if args.watch {
        let mut paths: Vec<PathBuf> = ["integrations", "playbooks"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .collect();
        paths.extend(engine_opts.content.iter().cloned());
        if paths.is_empty() {
            outln!("  watch: no integrations/, playbooks/ or --content paths here (the embedded content is used)");
            None
        } else {
            let w = crate::watch::start(state.clone(), &paths)?;
            let shown: Vec<String> = w.watched.iter().map(|p| p.display().to_string()).collect();
            outln!(
                "  watch: reloading content when these change: {}",
                shown.join(", ")
            );
            Some(w)
        }
    } else {
        None
    };
    let app = xsoar_server::router_with_console(state.clone(), vec![key.clone()]);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
        .context("the server failed")?;
    outln!(
        "stopping: waiting for running playbooks (up to {}s)",
        SHUTDOWN_GRACE.as_secs()
    );
    let left = state.shutdown(SHUTDOWN_GRACE).await;
    if left > 0 {
        outln!("{left} playbook run(s) did not finish; they will be reported as interrupted at the next start");
    }
    drop(state);
    drop(store);
    drop(env);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path, in_memory: bool) -> ServeArgs {
        ServeArgs {
            bind: "127.0.0.1:0".into(),
            data_dir: dir.to_path_buf(),
            in_memory,
            watch: false,
        }
    }

    fn local() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }

    #[test]
    fn the_banner_says_which_instance_handles_signl4() {
        let spec = |name: &str, enabled: bool, simulated: bool| xsoar_engine::InstanceSpec {
            name: name.into(),
            brand: "SIGNL4".into(),
            enabled,
            params: serde_json::Map::new(),
            simulated,
        };
        let sim = "http://127.0.0.1:1";
        let alone = signl4_line(&[spec("signl4-simulator", true, true)], sim);
        assert!(alone.contains("(no SIGNL4 instance configured)"), "{alone}");
        let disabled = signl4_line(
            &[
                spec("signl4-simulator", true, true),
                spec("s4", false, false),
            ],
            sim,
        );
        assert!(
            disabled.contains("(no SIGNL4 instance configured)"),
            "{disabled}"
        );
        let stored = signl4_line(&[spec("s4-real", true, false)], sim);
        assert_eq!(
            stored,
            "  SIGNL4: stored instance 's4-real' handles SIGNL4 commands; embedded simulator at http://127.0.0.1:1 standing by"
        );
    }

    /// A port in use is reported before an API key is generated: a key generated then would
    /// be shown by no start.
    #[tokio::test]
    async fn a_busy_port_stores_no_key() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = busy.local_addr().expect("addr").port();
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let mut a = args(&data, false);
        a.bind = format!("127.0.0.1:{port}");
        let err = run(a, &EngineOpts::default())
            .await
            .expect_err("port in use");
        assert!(format!("{err:#}").contains("cannot listen on"), "{err:#}");
        assert!(!data.join("api-key").exists());
    }

    #[test]
    fn a_key_is_generated_once_and_then_read_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let dir = data.as_path();
        let (first, source) = api_key(&args(dir, false), local(), None).expect("key");
        assert!(matches!(source, KeySource::Generated(Some(_))));
        assert_eq!(first.len(), 64);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        let (again, source) = api_key(&args(dir, false), local(), None).expect("key");
        assert_eq!(again, first);
        assert!(matches!(source, KeySource::Stored(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode();
            assert_eq!(mode(&dir.join(KEY_FILE)) & 0o777, 0o600);
            assert_eq!(mode(dir) & 0o777, 0o700, "the data directory is owner-only");
        }
    }

    #[test]
    fn the_environment_wins_and_memory_servers_store_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (k, source) =
            api_key(&args(dir.path(), false), local(), Some(" k1 ".into())).expect("key");
        assert_eq!(k, "k1");
        assert!(matches!(source, KeySource::Env));
        let (_, source) = api_key(&args(dir.path(), true), local(), None).expect("key");
        assert!(matches!(source, KeySource::Generated(None)));
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn listening_beyond_loopback_needs_an_explicit_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let any = SocketAddr::from(([0, 0, 0, 0], 8080));
        let err = api_key(&args(dir.path(), false), any, None)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.starts_with("listening on 0.0.0.0:8080 (not a loopback address) needs an explicit API key: set XSOAR_EMU_API_KEY"), "{err}");
        assert!(api_key(&args(dir.path(), false), any, Some("k".into())).is_ok());
    }
}
