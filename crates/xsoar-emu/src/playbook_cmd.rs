//! `xsoar-emu playbook run`: run a playbook on an incident and print the run report.

use crate::render::{self, Style};
use crate::{setup, EngineOpts};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use xsoar_content::{parse_any, ContentItem};
use xsoar_engine::playbook::{Frame, PlaybookRun};
use xsoar_engine::{Investigation, RunOptions, RunState, TaskCompletion, TaskState};
use xsoar_testing::TestHook;

pub struct RunArgs {
    pub playbook: String,
    pub incident: Option<Value>,
    pub context: Option<Value>,
    pub inputs: Vec<String>,
    pub complete: Vec<String>,
    pub auto_complete: bool,
    pub max_task_executions: usize,
    pub json: bool,
}

/// `TASK` or `TASK=LABEL`.
pub fn parse_completion(s: &str) -> TaskCompletion {
    match s.split_once('=') {
        Some((t, l)) => TaskCompletion {
            task: t.trim().to_owned(),
            label: Some(l.trim().to_owned()),
        },
        None => TaskCompletion {
            task: s.trim().to_owned(),
            label: None,
        },
    }
}

fn parse_inputs(inputs: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for i in inputs {
        let (k, v) = i
            .split_once('=')
            .ok_or_else(|| anyhow!("--input '{i}' must be KEY=VALUE"))?;
        let value =
            serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        out.insert(k.trim().to_owned(), value);
    }
    Ok(out)
}

pub async fn run(args: RunArgs, opts: &EngineOpts) -> Result<ExitCode> {
    let env = setup::build(opts).await?;
    let engine = &env.engine;
    // A file path: load it (it may not live under playbooks/).
    let mut playbook_ref = args.playbook.clone();
    let path = Path::new(&args.playbook);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", args.playbook))?;
        let (item, diags) = parse_any(&text, &args.playbook);
        let errors = diags.iter().filter(|d| d.is_error()).count();
        for d in diags.iter().filter(|d| d.is_error()) {
            eprintln!("{d}");
        }
        // A playbook that loaded with errors would run some other graph than the one written.
        if errors > 0 {
            bail!(
                "{} has {errors} error{}; fix {} before running it",
                args.playbook,
                if errors == 1 { "" } else { "s" },
                if errors == 1 { "it" } else { "them" }
            );
        }
        match item {
            Some(ContentItem::Playbook(p)) => {
                playbook_ref = p.id.clone();
                engine.add_content(vec![ContentItem::Playbook(p)]);
            }
            Some(_) => bail!("{} is not a playbook", args.playbook),
            None => bail!("{} could not be loaded", args.playbook),
        }
    }
    let incident = args.incident.unwrap_or_else(|| Value::Object(Map::new()));
    let id = incident
        .get("id")
        .map(xsoar_context::to_display_string)
        .unwrap_or_else(|| "1".into());
    let mut inv = Investigation::new(id, incident);
    if let Some(ctx) = args.context {
        if !ctx.is_object() {
            bail!("the context file must hold a JSON object");
        }
        inv.context = ctx;
    }
    let run_opts = RunOptions {
        max_task_executions: args.max_task_executions,
        auto_complete: args.auto_complete,
        completions: args.complete.iter().map(|c| parse_completion(c)).collect(),
        ..RunOptions::default()
    };
    let inputs = parse_inputs(&args.inputs)?;
    // An input the playbook does not declare would be ignored, and its default (or nothing)
    // used instead: refuse it, as a --complete naming no task is refused.
    if let Some(p) = engine.library().playbook(&playbook_ref) {
        let names: Vec<&str> = p.inputs.iter().map(|i| i.key.as_str()).collect();
        if let Some(key) = inputs.keys().find(|k| !names.contains(&k.as_str())) {
            bail!(
                "--input {key}: playbook '{}' has no input '{key}'{}",
                p.name,
                setup::not_declared(key, &names, "inputs")
            );
        }
    }
    // GenericPolling's scripts (RunPollingCommand, ScheduleGenericPolling) run natively, as
    // under `xsoar-emu test`; every other command runs on the configured instances.
    let (hook_id, hook_name) = engine
        .library()
        .playbook(&playbook_ref)
        .map(|p| (p.id.clone(), p.name.clone()))
        .unwrap_or_else(|| (playbook_ref.clone(), playbook_ref.clone()));
    let hook = Arc::new(TestHook::native_polling(&hook_id, &hook_name));
    hook.bind(engine);
    engine.set_hook(Some(hook.clone()));
    let mut run = engine
        .run_playbook(
            &mut inv,
            &playbook_ref,
            (!inputs.is_empty()).then_some(inputs),
            &run_opts,
        )
        .await?;
    let notes = xsoar_testing::polling::drive(engine, &hook, &mut inv, &mut run, &run_opts).await;
    if args.json {
        let doc = serde_json::json!({
            "run": run,
            "notes": notes,
            "entries": inv.entries,
            "context": inv.context,
            "incident": inv.incident,
            "simulator": env.simulator.as_ref().map(|s| s.alerts_json()),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let style = Style {
            color: std::io::stdout().is_terminal(),
        };
        out!("{}", report(&run, &inv, style));
        for n in &notes {
            outln!("{}", style.dim(&format!("note: {n}")));
        }
        render::context_and_simulator(&inv, env.simulator.as_ref(), style)?;
    }
    Ok(match run.state {
        RunState::Completed => ExitCode::SUCCESS,
        RunState::Waiting => ExitCode::from(3),
        RunState::Failed | RunState::InProgress => ExitCode::FAILURE,
    })
}

/// The run report: every task with type, state, duration and entries; then the entries.
pub fn report(run: &PlaybookRun, inv: &Investigation, style: Style) -> String {
    let mut out = String::new();
    let state = match run.state {
        RunState::Completed => style.green("completed"),
        RunState::Failed => style.red("failed"),
        RunState::Waiting => style.yellow("waiting for a manual task"),
        RunState::InProgress => "in progress".to_owned(),
    };
    out.push_str(&format!(
        "{} {} — {state} ({} task executions)\n",
        style.bold("Playbook"),
        style.bold(&run.root.playbook_name),
        run.executions
    ));
    if let Some(e) = &run.error {
        out.push_str(&style.red(&format!("  run stopped: {e}\n")));
    }
    out.push_str(&format!(
        "  {:<5} {:<44} {:<10} {:<13} {:>8}  {}\n",
        "id", "task", "type", "state", "time", "entries"
    ));
    frame_rows(&run.root, 0, false, style, &mut out);
    let waiting: Vec<String> = run
        .root
        .walk()
        .into_iter()
        .filter(|(_, t)| t.state == TaskState::Waiting && t.sub.is_none())
        .map(|(f, t)| format!("{} '{}' in '{}'", t.id, t.name, f.playbook_name))
        .collect();
    if !waiting.is_empty() {
        out.push_str(&style.yellow(&format!(
            "  waiting: {} — complete with --complete <task id|tag|name>[=label] or --auto-complete\n",
            waiting.join(", ")
        )));
    }
    out.push('\n');
    out.push_str(&style.bold("Entries:\n"));
    for e in &inv.entries {
        out.push_str(&render::entry(e, style));
    }
    out.push('\n');
    out
}

/// Rows of `frame`'s tasks, sub-playbook runs indented below their task. `relayed`: the
/// frame's failure is already told by the sub-playbook task above it, so a failed
/// sub-playbook task inside it does not repeat it (recursion would print it at every level).
fn frame_rows(frame: &Frame, depth: usize, relayed: bool, style: Style, out: &mut String) {
    let indent = "  ".repeat(depth);
    for t in frame.tasks.values() {
        let name = if t.name.is_empty() {
            format!("({})", t.task_type)
        } else {
            t.name.clone()
        };
        let name = format!("{indent}{name}");
        let name: String = if name.chars().count() > 44 {
            name.chars().take(43).chain(['…']).collect()
        } else {
            name
        };
        let state = match t.state {
            TaskState::Completed if t.error.is_some() => "completed*".to_owned(),
            s => s.word().to_owned(),
        };
        let mut state_cell = format!("{state:<13}");
        state_cell = match t.state {
            TaskState::Error | TaskState::Blocked => style.red(&state_cell),
            TaskState::Waiting => style.yellow(&state_cell),
            TaskState::Completed => style.green(&state_cell),
            _ => style.dim(&state_cell),
        };
        let mut extra = t.entries.join(" ");
        if let Some(l) = &t.label {
            extra = format!("→ {l}  {extra}");
        }
        out.push_str(&format!(
            "  {:<5} {:<44} {:<10} {} {:>6}ms  {}\n",
            t.id,
            name,
            t.task_type,
            state_cell,
            t.duration_ms,
            extra.trim_end()
        ));
        let failed_sub = t.state == TaskState::Error
            && t.sub.as_ref().is_some_and(|s| s.state == RunState::Failed);
        if let Some(e) = t.error.as_ref().filter(|_| !(relayed && failed_sub)) {
            let line = match t.state {
                TaskState::Error => style.red(&format!("        {indent}error: {e}\n")),
                TaskState::Skipped => style.dim(&format!("        {indent}skipped: {e}\n")),
                _ => style.red(&format!("        {indent}continued after error: {e}\n")),
            };
            out.push_str(&line);
        }
        if let Some(p) = t.loop_progress.as_ref().filter(|p| p.stopped_at_max) {
            out.push_str(&style.yellow(&format!(
                "        {indent}loop stopped after {} iterations (its max) with the exit condition still false\n",
                p.iteration
            )));
        }
        if let Some(sub) = &t.sub {
            frame_rows(sub, depth + 1, failed_sub, style, out);
        }
    }
}
