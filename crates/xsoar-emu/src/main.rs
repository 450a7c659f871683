//! `xsoar-emu`: load XSOAR content, run war-room commands and playbooks, serve the API.
//!
//! The binary owns the world: files, environment, config, tracing, the connector registry
//! and the embedded SIGNL4 simulator. Everything else lives in library crates that do no IO.

// mimalloc: allocation-heavy paths (entries, context values) run markedly faster than with
// the system allocator (see README, benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that ends the process quietly when stdout is closed (`xsoar-emu ... | head`).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($t)*) {
            $crate::stdout_failed(e)
        }
    }};
}

/// `print!` with the same handling as [`outln!`].
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($t)*) {
            $crate::stdout_failed(e)
        }
    }};
}

/// Standard output failed: a closed pipe ends the program quietly, anything else is reported.
pub(crate) fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(2);
}

mod config;
mod console_cmd;
mod content;
mod list_check;
mod playbook_cmd;
mod render;
mod serve;
mod setup;
mod test_cmd;
mod watch;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use xsoar_content::Severity;
use xsoar_engine::Investigation;

#[derive(Debug, Parser)]
#[command(
    name = "xsoar-emu",
    version,
    about = "Local emulator of the Cortex XSOAR integration engine",
    long_about = "Load XSOAR integration and playbook YAML, run war-room commands and playbooks, and see entries and \
context as XSOAR writes them. SIGNL4 commands go to an embedded SIGNL4 simulator unless a SIGNL4 instance is configured."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// Options shared by the commands that build an engine.
#[derive(Debug, Clone, Default, Args)]
pub struct EngineOpts {
    /// Instance config file (default: $XSOAR_EMU_CONFIG, else ./xsoar-emu.yaml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// More content to load (files or folders of integration, script and playbook YAML).
    #[arg(long = "content", short = 'C', global = true)]
    pub content: Vec<PathBuf>,
    /// Do not create the embedded SIGNL4 simulator instance when no SIGNL4 instance is configured.
    #[arg(long, global = true)]
    pub no_simulator: bool,
    /// Run waits, retries and Sleep on a virtual clock (instant, deterministic).
    #[arg(long, global = true)]
    pub virtual_clock: bool,
    /// An XSOAR list (`${lists.NAME}`, getList) holding the text of FILE; repeatable. JSON
    /// text reads as JSON in playbooks. Pack list files under the content paths load too.
    #[arg(long = "list", value_name = "NAME=FILE", global = true)]
    pub lists: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load content and report problems (one line per file, then a summary). Exit code: 0, 1
    /// when a file has errors, 2 when a path cannot be read.
    Validate {
        /// Files or folders (default: integrations/ and playbooks/).
        paths: Vec<PathBuf>,
    },
    /// Run war-room lines in order on one investigation; print entries and the final context.
    /// Exit code: 0, or 1 when an entry is an error.
    Run {
        /// War-room lines, e.g. '!Print value="hello"'. None, or `-`: read them from standard
        /// input, one per line (at a prompt when it is a terminal; Ctrl-D ends the session).
        lines: Vec<String>,
        /// Incident JSON file (fields, CustomFields).
        #[arg(long)]
        incident: Option<PathBuf>,
        /// Initial context JSON file.
        #[arg(long)]
        context: Option<PathBuf>,
        /// Print entries and context as one JSON document.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        engine: EngineOpts,
    },
    /// List the configured instances (secrets masked).
    Instances {
        #[command(flatten)]
        engine: EngineOpts,
    },
    /// Run an instance's test-module (the Test button).
    TestInstance {
        /// Instance name.
        name: String,
        #[command(flatten)]
        engine: EngineOpts,
    },
    /// Run and list playbooks.
    Playbook {
        #[command(subcommand)]
        command: PlaybookCmd,
    },
    /// Run the SIGNL4 simulator standalone.
    Signl4Sim {
        /// Port to listen on (0 = any free port).
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Accepted webhook secrets (default: the built-in simulator secret).
        #[arg(long = "secret")]
        secrets: Vec<String>,
        /// Webhook requests accepted per window before 429 Too Many Requests (SIGNL4's
        /// commercial limit; 0 = no throttling).
        #[arg(long, default_value_t = 150)]
        quota: u32,
        /// Length of the throttling window, in seconds.
        #[arg(long, default_value_t = 15)]
        window: u64,
        /// Delay before every webhook reply, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Read invalid JSON sent as application/json as plain text (the whole body is the
        /// message) instead of answering 400.
        #[arg(long)]
        lenient_json: bool,
        /// Erroneous requests (unknown secret, malformed body) answered per minute before
        /// 429 (SIGNL4 holds them to 10; 0 = no limit).
        #[arg(long, default_value_t = 10)]
        error_quota: u32,
    },
    /// Run XSOAR test playbooks offline with mocks; print pass/fail per playbook and
    /// `N passed, N failed`. Exit code: 0 all passed, 1 a test failed, 2 a usage error.
    Test {
        #[command(flatten)]
        args: test_cmd::TestArgs,
        #[command(flatten)]
        engine: EngineOpts,
    },
    /// Serve the web console (war room, context, playbooks, instances) over in-memory investigations.
    Console {
        #[command(flatten)]
        args: console_cmd::ConsoleArgs,
        #[command(flatten)]
        engine: EngineOpts,
    },
    /// Serve the XSOAR-compatible REST API (demisto-sdk, demisto-py), persisted in SQLite.
    Serve {
        #[command(flatten)]
        args: serve::ServeArgs,
        #[command(flatten)]
        engine: EngineOpts,
    },
}

#[derive(Debug, Subcommand)]
enum PlaybookCmd {
    /// Run a playbook on an incident and print the run report. Exit code: 0 completed,
    /// 1 failed, 3 waiting for a manual task, 2 nothing ran (a playbook file with errors, an
    /// --input or --complete naming nothing in the playbook).
    Run {
        /// A playbook YAML file, or the id or name of a loaded playbook.
        playbook: String,
        /// Incident JSON file.
        #[arg(long)]
        incident: Option<PathBuf>,
        /// Initial context JSON file.
        #[arg(long)]
        context: Option<PathBuf>,
        /// Playbook input, KEY=VALUE (JSON values are parsed).
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
        /// Complete a manual task when it waits: TASK (id, tag or name) or TASK=LABEL.
        #[arg(long = "complete", value_name = "TASK[=LABEL]")]
        complete: Vec<String>,
        /// Complete every manual task as soon as it waits.
        #[arg(long)]
        auto_complete: bool,
        /// Stop runaway graphs after this many task executions.
        #[arg(long, default_value_t = 10_000)]
        max_task_executions: usize,
        /// Print the run, entries and context as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        engine: EngineOpts,
    },
    /// List the loaded playbooks.
    List {
        #[command(flatten)]
        engine: EngineOpts,
    },
}

/// Logs go to stderr, coloured only when stderr is a terminal: redirected to a file or a CI
/// log, escape codes would only garble the warnings people read there.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Validate { paths } => validate(paths),
        Cmd::Run {
            lines,
            incident,
            context,
            json,
            engine,
        } => run_lines(lines, incident, context, json, engine).await,
        Cmd::Instances { engine } => {
            let env = setup::build(&engine).await?;
            let infos = env.engine.instances();
            if infos.is_empty() {
                outln!("No instances configured.");
            }
            for i in infos {
                let state = if i.enabled { "enabled" } else { "disabled" };
                let sim = if i.simulated {
                    " (embedded SIGNL4 simulator)"
                } else {
                    ""
                };
                outln!("{}  brand={}  {state}{sim}", i.name, i.brand);
                for (k, v) in &i.params {
                    outln!("    {k}: {v}");
                }
                if let Some(p) = i.problem {
                    outln!("    problem: {p}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::TestInstance { name, engine } => {
            let env = setup::build(&engine).await?;
            match env.engine.test_instance(&name).await {
                Ok(()) => {
                    outln!("ok");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    outln!("Test failed: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Cmd::Playbook {
            command: PlaybookCmd::List { engine },
        } => {
            let env = setup::build(&engine).await?;
            let lib = env.engine.library();
            let mut names: Vec<(&str, &str, usize, &str)> = lib
                .playbooks()
                .map(|p| {
                    (
                        p.id.as_str(),
                        p.name.as_str(),
                        p.tasks.len(),
                        p.file.as_str(),
                    )
                })
                .collect();
            // By name, as the playbook list in XSOAR is read; ids are often UUIDs.
            names.sort_by(|a, b| {
                (a.1.to_lowercase(), a.1, a.0).cmp(&(b.1.to_lowercase(), b.1, b.0))
            });
            for (id, name, tasks, file) in names {
                if id == name {
                    outln!("{name}  ({tasks} tasks)  {file}");
                } else {
                    outln!("{name}  [id: {id}]  ({tasks} tasks)  {file}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Playbook {
            command:
                PlaybookCmd::Run {
                    playbook,
                    incident,
                    context,
                    inputs,
                    complete,
                    auto_complete,
                    max_task_executions,
                    json,
                    engine,
                },
        } => {
            let args = playbook_cmd::RunArgs {
                playbook,
                incident: incident.map(|p| read_json(&p, "incident")).transpose()?,
                context: context.map(|p| read_json(&p, "context")).transpose()?,
                inputs,
                complete,
                auto_complete,
                max_task_executions,
                json,
            };
            playbook_cmd::run(args, &engine).await
        }
        Cmd::Signl4Sim {
            port,
            bind,
            secrets,
            quota,
            window,
            latency_ms,
            lenient_json,
            error_quota,
        } => {
            if window == 0 {
                bail!("--window must be at least 1 second");
            }
            if let Some(bad) = secrets.iter().find(|s| {
                s.is_empty() || s.contains(['/', '?', '#']) || s.contains(char::is_whitespace)
            }) {
                bail!(
                    "--secret {bad:?}: a webhook secret is one URL path segment: not empty, without '/', '?', '#' or spaces"
                );
            }
            let mut config = xsoar_signl4::sim::SimConfig {
                quota_per_window: quota,
                window: std::time::Duration::from_secs(window),
                latency: std::time::Duration::from_millis(latency_ms),
                lenient_json,
                error_quota_per_minute: error_quota,
                ..Default::default()
            };
            if !secrets.is_empty() {
                config.secrets = secrets;
            }
            setup::run_simulator(&bind, port, config).await
        }
        Cmd::Console { args, engine } => console_cmd::run(args, &engine).await,
        Cmd::Test { args, engine } => test_cmd::run(args, &engine).await,
        Cmd::Serve { args, engine } => serve::run(args, &engine).await,
    }
}

fn validate(paths: Vec<PathBuf>) -> Result<ExitCode> {
    let paths = if paths.is_empty() {
        let dirs: Vec<PathBuf> = ["integrations", "playbooks"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .collect();
        if dirs.is_empty() {
            bail!(
                "no integrations/ or playbooks/ folder here: give the files or folders to validate"
            );
        }
        dirs
    } else {
        paths
    };
    let loaded = content::load_paths(&paths)?;
    let lists = list_check::check_list_files(&paths)?;
    let report = setup::check_loaded(&loaded);
    let mut errors = 0;
    let mut warnings = 0;
    let mut notes = 0;
    for (file, summary, diags) in &report.files {
        let count = |s: Severity| diags.iter().filter(|d| d.severity == s).count();
        let (e, w) = (count(Severity::Error), count(Severity::Warning));
        errors += e;
        warnings += w;
        notes += count(Severity::Note);
        let status = if e > 0 {
            "error"
        } else if w > 0 {
            "warn"
        } else {
            "ok"
        };
        outln!("{status:<5} {file}  {summary}");
        for d in diags {
            outln!("      {d}");
        }
    }
    // List files, as `run -C` and `serve` load them: a file they would skip is an error.
    let mut good_lists = 0;
    for l in &lists {
        errors += l.diagnostics.len();
        match (&l.name, l.diagnostics.is_empty()) {
            (Some(name), true) => {
                good_lists += 1;
                outln!("{:<5} {}  list {name}", "ok", l.file);
            }
            _ => outln!("{:<5} {}  list file", "error", l.file),
        }
        for d in &l.diagnostics {
            outln!("      {d}");
        }
    }
    let notes = if notes > 0 {
        format!(", {notes} notes")
    } else {
        String::new()
    };
    let lists_part = if lists.is_empty() {
        String::new()
    } else {
        format!(", {good_lists} lists")
    };
    outln!(
        "{} files: {} integrations, {} scripts, {} playbooks{lists_part}; {errors} errors, {warnings} warnings{notes}",
        report.files.len() + lists.len(),
        report.integrations,
        report.scripts,
        report.playbooks
    );
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn read_json(path: &PathBuf, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{what} file {} is not valid JSON", path.display()))
}

/// Where `run` takes its war-room lines from: the command line, or standard input.
struct LineSource {
    given: std::vec::IntoIter<String>,
    stdin: bool,
    /// Standard input is a terminal: prompt for each line.
    interactive: bool,
}

impl LineSource {
    fn new(lines: Vec<String>) -> Self {
        let stdin = lines.is_empty() || lines == ["-"];
        Self {
            given: if stdin { Vec::new() } else { lines }.into_iter(),
            stdin,
            interactive: stdin && std::io::stdin().is_terminal(),
        }
    }

    /// The next line to run; blank lines from standard input are skipped.
    async fn next_line(&mut self, investigation: &str) -> Result<Option<String>> {
        if !self.stdin {
            return Ok(self.given.next());
        }
        loop {
            if self.interactive {
                use std::io::Write as _;
                eprint!("war room {investigation}> ");
                let _ = std::io::stderr().flush();
            }
            let read = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|n| (n, line))
            })
            .await
            .context("reading standard input")?;
            let (n, line) = read.context("cannot read war-room lines from standard input")?;
            if n == 0 {
                if self.interactive {
                    eprintln!();
                }
                return Ok(None);
            }
            let line = line.trim_end_matches(['\n', '\r']);
            if !line.trim().is_empty() {
                return Ok(Some(line.to_owned()));
            }
        }
    }
}

async fn run_lines(
    lines: Vec<String>,
    incident: Option<PathBuf>,
    context: Option<PathBuf>,
    json: bool,
    opts: EngineOpts,
) -> Result<ExitCode> {
    let env = setup::build(&opts).await?;
    let incident = match incident {
        Some(p) => read_json(&p, "incident")?,
        None => Value::Object(Default::default()),
    };
    let id = incident
        .get("id")
        .map(xsoar_context::to_display_string)
        .unwrap_or_else(|| "1".into());
    let mut inv = Investigation::new(id, incident);
    if let Some(p) = context {
        let ctx = read_json(&p, "context")?;
        if !ctx.is_object() {
            bail!("context file {} must hold a JSON object", p.display());
        }
        inv.context = ctx;
    }
    let style = render::Style {
        color: !json && std::io::stdout().is_terminal(),
    };
    let mut source = LineSource::new(lines);
    if source.interactive {
        eprintln!(
            "War room of incident {}: type commands (!name arg=value), notes, or /close_investigation; Ctrl-D ends the session and prints the context.",
            inv.id
        );
    }
    let mut failed = false;
    while let Some(line) = source.next_line(&inv.id).await? {
        let outcome = env.engine.execute_line(&mut inv, &line).await;
        failed |= outcome.status != xsoar_engine::InvokeStatus::Ok;
        if !json {
            // The echo entry, not the line as typed: secret arguments are masked there. At a
            // prompt the line was just typed, so only its results are shown.
            if let Some(echo) = outcome
                .echo
                .as_ref()
                .filter(|_| !source.interactive)
                .and_then(|id| inv.entry(id))
            {
                outln!("{}", style.bold(&format!("» {}", echo.display_text())));
            }
            for id in &outcome.results {
                if let Some(e) = inv.entry(id) {
                    out!("{}", render::entry(e, style));
                    if let Some(log) = inv.files.get(e.file_id.as_str()) {
                        out!("{}", render::attached_file(log, style));
                    }
                }
            }
            outln!();
        }
    }
    if json {
        let doc = serde_json::json!({
            "investigationId": inv.id,
            "entries": inv.entries,
            "context": inv.context,
            "incident": inv.incident,
            "simulator": env.simulator.as_ref().map(|s| s.alerts_json()),
            // Files entries refer to by `fileID` (debug-mode logs), as text.
            "files": inv.files.iter().map(|(id, bytes)| (id.clone(), Value::String(String::from_utf8_lossy(bytes).into_owned()))).collect::<serde_json::Map<_, _>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        render::context_and_simulator(&inv, env.simulator.as_ref(), style)?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
