//! `xsoar-emu test`: run XSOAR test playbooks offline, with mocks, and report like CI needs.
//!
//! Test playbooks normally run only on a live XSOAR server. Here each one runs on its own
//! engine and virtual clock, its commands answered by mock files; nothing reaches the network
//! unless `--record` or `--allow-live` says so. The runner itself lives in `xsoar-testing`;
//! this module owns the files: it loads test paths and mock files, prints progress and
//! results, and writes the JUnit, JSON and recorded mock files.

use crate::content;
use crate::render::Style;
use crate::{setup, EngineOpts};
use anyhow::{bail, Context, Result};
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use xsoar_content::ContentItem;
use xsoar_testing::{
    failure_details, human_ms, human_virtual, json_report, junit_xml, name_matches, recording_yaml,
    select, summary_line, test_cases, EngineTemplate, JunitMeta, Live, MockSet, RunConfig, Runner,
    Shard, Spawner, TestCase, TestResult,
};

/// `xsoar-emu test` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Test playbook files or folders. In a pack or content repository (folders named
    /// TestPlaybooks/) only the playbooks there are tests; other content under the path is
    /// loaded for them to call.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Mock files, or folders of them (YAML; format in docs/mocks.md). Repeatable.
    #[arg(long = "mocks", short = 'm', value_name = "PATH")]
    pub mocks: Vec<PathBuf>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report (every result with its final context) to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Test playbooks run at the same time (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Run slice I of N of the suite sorted by name, e.g. --shard 2/4 on the second of four
    /// CI machines.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Run only test playbooks whose name or id contains TEXT, or matches it as a glob
    /// (* ? [..]); case-insensitive. Repeatable (any match).
    #[arg(long = "filter", short = 'k', value_name = "TEXT")]
    pub filters: Vec<String>,
    /// Run commands that have no mock on the configured instances (or the embedded SIGNL4
    /// simulator) and write a mock file that replays them to FILE.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Let commands of this brand (or instance) that have no mock run on the configured
    /// instances. Repeatable.
    #[arg(long = "allow-live", value_name = "BRAND|INSTANCE")]
    pub allow_live: Vec<String>,
    /// Stop a test after this many task executions (runaway loops).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_task_executions: usize,
}

/// The line of the test playbook's task a failure happened at, read from its file (the
/// runner works on the loaded model, which keeps no positions).
fn failing_task_line(r: &TestResult) -> Option<usize> {
    use xsoar_content::PathSeg;
    let task = xsoar_testing::failing_top_task(r)?;
    let text = std::fs::read_to_string(&r.file).ok()?;
    let path = [PathSeg::Key("tasks".into()), PathSeg::Key(task.to_owned())];
    xsoar_content::locate(&text, &path).map(|(line, _)| line)
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// Run the suite; exit code 0 when every selected test passed, 1 when one failed.
pub async fn run(args: TestArgs, engine: &EngineOpts) -> Result<ExitCode> {
    // Test playbooks, and everything else under the test paths as content.
    let mut cases: Vec<TestCase> = Vec::new();
    let mut extra: Vec<ContentItem> = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            bail!("test path {} does not exist", path.display());
        }
        let loaded = content::load_paths(std::slice::from_ref(path))?;
        let mut playbooks = Vec::new();
        for f in loaded {
            let errors = f.errors();
            if !errors.is_empty() {
                for e in errors {
                    eprintln!("warning: skipped {}: {e}", f.path);
                }
                continue;
            }
            match f.item {
                Some(ContentItem::Playbook(p)) => playbooks.push(p),
                Some(other) => extra.push(other),
                None => {}
            }
        }
        cases.extend(test_cases(playbooks.iter()));
        extra.extend(playbooks.into_iter().map(ContentItem::Playbook));
    }
    if cases.is_empty() {
        bail!(
            "no test playbooks found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut seen = BTreeSet::new();
    for c in &cases {
        if !seen.insert(c.id.clone()) {
            eprintln!(
                "warning: two test playbooks have the id '{}'; {} is the one that runs",
                c.id, c.file
            );
        }
    }

    let mocks = load_mocks(&args.mocks)?;
    let recording = args.record.is_some();
    let env = setup::build_test_env(engine, extra, recording).await?;
    let aliases: Vec<&str> = env
        .factories
        .iter()
        .flat_map(|f| f.aliases().iter().map(|(alias, _)| *alias))
        .collect();
    for warning in xsoar_testing::lint(&mocks, &env.library, &aliases, &cases) {
        eprintln!("warning: {warning}");
    }
    let live = if recording {
        Live::Record
    } else if !args.allow_live.is_empty() {
        Live::Allow(args.allow_live.clone())
    } else {
        Live::Off
    };
    // Kept alive for the whole run: recorded SIGNL4 commands go to it.
    let simulator = env.simulator;
    if let Some(sim) = &simulator {
        eprintln!(
            "recording SIGNL4 commands against the embedded SIGNL4 simulator at {} (no SIGNL4 instance is configured)",
            sim.url()
        );
    }
    let template = EngineTemplate {
        library: Arc::new(env.library),
        lists: env.lists,
        instances: env.instances,
        factories: env.factories,
        options: xsoar_engine::EngineOptions::default(),
    };
    let config = RunConfig {
        live,
        max_task_executions: args.max_task_executions,
        ..RunConfig::default()
    };
    // A filter that matches nothing is a usage error (a typo in a CI job must not pass).
    if !args.filters.is_empty()
        && !cases.iter().any(|c| {
            args.filters
                .iter()
                .any(|f| name_matches(f, &c.name) || name_matches(f, &c.id))
        })
    {
        bail!(
            "no test playbook matches --filter {} (among {} test playbooks found)",
            args.filters
                .iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(", "),
            cases.len()
        );
    }
    let selected = select(cases, &args.filters, args.shard);
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let tty = std::io::stdout().is_terminal();
    let style = Style { color: tty };
    let shard = args
        .shard
        .map(|s| format!(", shard {s}"))
        .unwrap_or_default();
    outln!(
        "Running {} test playbook{} ({} at a time{shard}{})",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" },
        jobs.min(selected.len().max(1)),
        if recording { ", recording" } else { "" }
    );

    let started_at = SystemTime::now();
    let started = Instant::now();
    let runner = Runner::new(template, mocks, config);
    let spawner: Box<Spawner> = Box::new(|fut: BoxFuture<'static, TestResult>| {
        let handle = tokio::spawn(fut);
        Box::pin(async move { handle.await.map_err(|e| e.to_string()) })
    });
    let mut bar = Progress::new(tty, selected.len());
    let mut on_result = |r: &TestResult, done: usize, total: usize| {
        bar.clear();
        outln!("{}", result_line(r, style));
        bar.draw(done, total);
    };
    let mut results = runner
        .run_suite(&selected, jobs, Some(spawner.as_ref()), &mut on_result)
        .await;
    bar.clear();
    for r in results.iter_mut().filter(|r| !r.passed) {
        r.file_line = failing_task_line(r);
    }

    let failed: Vec<&TestResult> = results.iter().filter(|r| !r.passed).collect();
    if !failed.is_empty() {
        outln!();
        outln!("{}", style.bold("Failures:"));
        for r in &failed {
            outln!("{} {}", style.red("FAIL"), style.bold(&r.name));
            out!("{}", failure_details(r));
        }
    }
    outln!();
    outln!(
        "Finished in {}",
        human_ms(started.elapsed().as_millis() as u64)
    );
    outln!("{}", summary_line(&results));

    if let Some(path) = &args.junit {
        let timestamp = xsoar_engine::rfc3339(started_at);
        let meta = JunitMeta {
            name: "xsoar-emu test".into(),
            timestamp: timestamp.get(..19).unwrap_or(&timestamp).to_owned(),
            hostname: hostname(),
        };
        write_file(path, &junit_xml(&results, &meta), "JUnit report")?;
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&json_report(&results))?;
        write_file(path, &text, "JSON report")?;
    }
    if let Some(path) = &args.record {
        let calls: usize = results.iter().map(|r| r.recorded.len()).sum();
        let yaml = recording_yaml(&results).context("cannot write the recorded mocks as YAML")?;
        write_file(path, &yaml, "recorded mock file")?;
        eprintln!("recorded {calls} command executions to {}", path.display());
    }
    drop(simulator);
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Read every mock file under the given paths (folders: every *.yml / *.yaml, sorted).
fn load_mocks(paths: &[PathBuf]) -> Result<MockSet> {
    if paths.is_empty() {
        return Ok(MockSet::new());
    }
    for p in paths {
        if !p.exists() {
            bail!("mock path {} does not exist", p.display());
        }
    }
    let mut files = Vec::new();
    for file in content::yaml_files(paths)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read mock file {}", file.display()))?;
        files.push((file.display().to_string(), text));
    }
    MockSet::parse(&files).map_err(|e| anyhow::anyhow!("invalid mock files:\n{e}"))
}

fn write_file(path: &Path, text: &str, what: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            format!("cannot create the folder of the {what} {}", path.display())
        })?;
    }
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the {what} {}", path.display()))
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `PASS  name  (12ms, virtual 2m 0s)`.
fn result_line(r: &TestResult, style: Style) -> String {
    let status = if r.passed {
        style.green("PASS")
    } else {
        style.red("FAIL")
    };
    let mut line = format!("{status}  {}  ({}", r.name, human_ms(r.duration_ms));
    if r.virtual_ms > 0 {
        line.push_str(&format!(", virtual {}", human_virtual(r.virtual_ms)));
    }
    line.push(')');
    if let Some(f) = &r.failure {
        line.push_str(&format!("\n      {}", style.dim(&f.message)));
    }
    line
}

/// A one-line progress bar on a terminal; nothing otherwise.
struct Progress {
    tty: bool,
    drawn: bool,
}

impl Progress {
    fn new(tty: bool, total: usize) -> Self {
        let mut p = Self { tty, drawn: false };
        p.draw(0, total);
        p
    }

    fn draw(&mut self, done: usize, total: usize) {
        if !self.tty || total == 0 || done >= total {
            return;
        }
        const WIDTH: usize = 30;
        let filled = done * WIDTH / total;
        let bar: String = "#".repeat(filled) + &"-".repeat(WIDTH - filled);
        out!("[{bar}] {done}/{total}");
        let _ = std::io::stdout().flush();
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            out!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}
