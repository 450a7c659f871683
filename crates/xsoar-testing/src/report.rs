//! Results of test playbook runs and what is made of them: the console text, JUnit XML for
//! CI dashboards and a JSON document for tools.
//!
//! A failure names the task that failed (innermost, when the failure happened in a
//! sub-playbook), the command it ran, the error entry it wrote and the context paths it read
//! with their values: what a developer would otherwise click through the war room for.

use crate::hook::{json_text, RecordedCall};
use crate::polling::{frames_along, scope_of, EngineRoots};
use crate::reads::{argument_reads, task_reads};
use serde::Serialize;
use serde_json::{json, Value};
use xsoar_connector::{mask_secret_in, MASK};
use xsoar_engine::playbook::{EdgeState, Frame, PlaybookRun, TaskRun};
use xsoar_engine::{Engine, Investigation, RunState, TaskState};

/// The outcome of one test playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Playbook name.
    pub name: String,
    /// Playbook id.
    pub id: String,
    /// File the playbook came from.
    pub file: String,
    /// Line in `file` of the test playbook's task the failure happened at (in that task, or
    /// in a sub-playbook it ran). Set by whoever has the file's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_line: Option<usize>,
    /// Whether the run completed.
    pub passed: bool,
    /// Final run state (`completed`, `failed`, `waiting`, `inprogress`).
    pub state: String,
    /// Wall-clock time of the run, milliseconds.
    pub duration_ms: u64,
    /// Time that passed on the run's virtual clock (waits, retries, polling), milliseconds.
    pub virtual_ms: u64,
    /// Task executions.
    pub task_executions: usize,
    /// Why it failed.
    pub failure: Option<Failure>,
    /// Polling and runner notes.
    pub notes: Vec<String>,
    /// Commands that had no mock.
    pub missing_mocks: Vec<String>,
    /// The investigation context at the end.
    pub context: Value,
    /// Real executions (with `--record`).
    #[serde(skip)]
    pub recorded: Vec<RecordedCall>,
}

impl TestResult {
    /// A result for a run that could not start or crashed.
    pub fn broken(case: &crate::TestCase, message: String) -> Self {
        Self {
            name: case.name.clone(),
            id: case.id.clone(),
            file: case.file.clone(),
            file_line: None,
            passed: false,
            state: "failed".into(),
            duration_ms: 0,
            virtual_ms: 0,
            task_executions: 0,
            failure: Some(Failure {
                message,
                task: None,
            }),
            notes: Vec::new(),
            missing_mocks: Vec::new(),
            context: json!({}),
            recorded: Vec::new(),
        }
    }
}

/// Why a test failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// One line: what failed.
    pub message: String,
    /// The failing task, when a task failed.
    pub task: Option<FailedTask>,
}

/// The task a test failed at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedTask {
    /// The playbook the task belongs to.
    pub playbook: String,
    /// Task id in that playbook.
    pub task_id: String,
    /// Task name.
    pub task_name: String,
    /// The sub-playbook tasks that lead to it, outermost first (`2 'HelloWorld Scan'`).
    pub via: Vec<String>,
    /// The command it ran, with its resolved arguments.
    pub command: Option<String>,
    /// The error: the error entry's text, else the engine's reason.
    pub error: String,
    /// Id of the error entry.
    pub entry_id: Option<String>,
    /// Context paths the task reads and their values when the run stopped.
    pub reads: Vec<ContextRead>,
    /// The tasks whose branches led to it (a failure branch is explained by its condition).
    pub reached_from: Vec<Predecessor>,
}

/// A task whose chosen branch led to the failing task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Predecessor {
    /// Task id.
    pub task_id: String,
    /// Task name.
    pub task_name: String,
    /// The branch it took (conditions), if any.
    pub label: Option<String>,
    /// Context paths it reads and their values when the run stopped.
    pub reads: Vec<ContextRead>,
}

/// A context path a task reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextRead {
    /// The DT path.
    pub path: String,
    /// Its value at the end of the run (`None`: nothing there).
    pub value: Option<Value>,
}

/// Work out why a run did not complete (`None` when it completed). The paths a task read
/// are evaluated in `engine`'s view (its library, its `lists` and `modules`).
pub fn analyse(run: &PlaybookRun, inv: &Investigation, engine: &Engine) -> Option<Failure> {
    match run.state {
        RunState::Completed => None,
        RunState::Waiting => {
            let waiting: Vec<String> = run
                .root
                .walk()
                .into_iter()
                .filter(|(_, t)| t.state == TaskState::Waiting && t.sub.is_none())
                .map(|(f, t)| format!("task {} '{}' in '{}'", t.id, t.name, f.playbook_name))
                .collect();
            Some(Failure {
                message: format!(
                    "the playbook stopped waiting for a manual task: {} (complete it from the mock file with `complete: [TASK=LABEL]`)",
                    waiting.join(", ")
                ),
                task: None,
            })
        }
        RunState::Failed | RunState::InProgress => {
            let mut via = Vec::new();
            let task = failing_task(&run.root, &mut Vec::new(), &mut via)
                .map(|(path, t)| describe(run, inv, engine, &path, t, via.clone()));
            let message = match (&task, &run.error) {
                (Some(t), _) => format!(
                    "task {} '{}' in '{}' failed: {}",
                    t.task_id,
                    t.task_name,
                    t.playbook,
                    first_line(&t.error)
                ),
                (None, Some(e)) => format!("the run stopped: {e}"),
                (None, None) => format!("the run ended {}", run.state.as_str()),
            };
            Some(Failure { message, task })
        }
    }
}

/// The innermost task in Error: (task-id path to its frame, the task).
fn failing_task<'a>(
    frame: &'a Frame,
    path: &mut Vec<String>,
    via: &mut Vec<String>,
) -> Option<(Vec<String>, &'a TaskRun)> {
    for t in frame.tasks.values() {
        if t.state != TaskState::Error {
            continue;
        }
        if let Some(sub) = &t.sub {
            path.push(t.id.clone());
            via.push(format!(
                "{} '{}' in '{}'",
                t.id, t.name, frame.playbook_name
            ));
            if let Some(found) = failing_task(sub, path, via) {
                return Some(found);
            }
            path.pop();
            via.pop();
        }
        return Some((path.clone(), t));
    }
    None
}

fn describe(
    run: &PlaybookRun,
    inv: &Investigation,
    engine: &Engine,
    path: &[String],
    t: &TaskRun,
    via: Vec<String>,
) -> FailedTask {
    let frames = frames_along(&run.root, path);
    let frame = frames.last().copied().unwrap_or(&run.root);
    let error_entry = t
        .entries
        .iter()
        .filter_map(|id| inv.entry(id))
        .find(|e| e.is_error());
    let error = match error_entry {
        Some(e) => e.display_text(),
        None => t.error.clone().unwrap_or_default(),
    };
    let command = (!t.target.is_empty() && t.target != "manual").then(|| {
        let mut s = if t.task_type == "playbook" {
            format!("playbook '{}'", t.target)
        } else {
            format!("!{}", t.target.trim_start_matches("|||"))
        };
        for (k, v) in &t.inputs {
            s.push(' ');
            s.push_str(k);
            s.push('=');
            s.push_str(&json_text(v));
        }
        s
    });
    let privates: Vec<Value> = frames
        .iter()
        .filter_map(|f| f.private_context.clone())
        .collect();
    let lib = engine.library();
    let pb = lib
        .playbook(&frame.playbook_id)
        .or_else(|| lib.playbook(&frame.playbook_name));
    let roots = EngineRoots::of(engine);
    let scope = scope_of(inv, &privates, &frame.inputs, &roots);
    // (read, whether a `secret: true` argument of its task reads it)
    let reads_of = |id: &str| -> Vec<(ContextRead, bool)> {
        pb.and_then(|p| p.tasks.get(id))
            .map(|m| {
                let command = m.script_name.as_deref().or(m.script.as_deref());
                let command = command
                    .map(|c| c.rsplit("|||").next().unwrap_or(c))
                    .unwrap_or_default();
                let secret_args = engine.secret_args(command);
                let secret_paths = if secret_args.is_empty() {
                    Vec::new()
                } else {
                    argument_reads(m, |n| secret_args.iter().any(|s| s == n))
                };
                task_reads(m)
                    .into_iter()
                    .map(|path| {
                        let value = xsoar_context::eval_path(&path, &scope).ok().flatten();
                        let secret = secret_paths.contains(&path);
                        (ContextRead { path, value }, secret)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let reads = reads_of(&t.id);
    let reached_from: Vec<(Predecessor, Vec<(ContextRead, bool)>)> = frame
        .edges
        .get(&t.id)
        .map(|sources| {
            sources
                .iter()
                .filter(|(_, state)| **state == EdgeState::Activated)
                .filter_map(|(src, _)| frame.tasks.get(src))
                .filter(|src| !matches!(src.task_type.as_str(), "start" | "title" | "section"))
                .map(|src| {
                    let p = Predecessor {
                        task_id: src.id.clone(),
                        task_name: src.name.clone(),
                        label: src.label.clone(),
                        reads: Vec::new(),
                    };
                    (p, reads_of(&src.id))
                })
                .collect()
        })
        .unwrap_or_default();
    // What a secret argument read is shown as `******`, and so is its text wherever another
    // read holds it (a condition testing the same list, say).
    let secrets: Vec<String> = reads
        .iter()
        .chain(reached_from.iter().flat_map(|(_, r)| r))
        .filter(|(_, secret)| *secret)
        .filter_map(|(r, _)| r.value.as_ref())
        .map(xsoar_context::to_display_string)
        .filter(|v| !v.is_empty())
        .collect();
    let masked = |reads: Vec<(ContextRead, bool)>| -> Vec<ContextRead> {
        reads
            .into_iter()
            .map(|(mut r, secret)| {
                if secret {
                    r.value = r.value.map(|_| Value::String(MASK.into()));
                } else if let Some(v) = &mut r.value {
                    mask_strings(v, &secrets);
                }
                r
            })
            .collect()
    };
    let reads = masked(reads);
    let reached_from = reached_from
        .into_iter()
        .map(|(mut p, r)| {
            p.reads = masked(r);
            p
        })
        .collect();
    FailedTask {
        playbook: frame.playbook_name.clone(),
        task_id: t.id.clone(),
        task_name: t.name.clone(),
        via,
        command,
        error,
        entry_id: error_entry.map(|e| e.id.to_string()),
        reads,
        reached_from,
    }
}

/// Replace every occurrence of the `secrets` in the strings of `v` with `******`.
fn mask_strings(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = mask_secret_in(s, secret);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask_strings(x, secrets)),
        Value::Object(o) => o.values_mut().for_each(|x| mask_strings(x, secrets)),
        _ => {}
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// `N passed, N failed`: the line CI parses.
pub fn summary_line(results: &[TestResult]) -> String {
    let passed = results.iter().filter(|r| r.passed).count();
    format!("{passed} passed, {} failed", results.len() - passed)
}

/// `1.234s` or `56ms`.
pub fn human_ms(ms: u64) -> String {
    if ms >= 1000 {
        format!("{:.2}s", ms as f64 / 1000.0)
    } else {
        format!("{ms}ms")
    }
}

/// Virtual time as `3m 0s` / `45s` / `0s`.
pub fn human_virtual(ms: u64) -> String {
    let s = ms / 1000;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// The detail lines of a failed test (indented, no trailing newline handling needed).
pub fn failure_details(r: &TestResult) -> String {
    let mut out = String::new();
    let Some(f) = &r.failure else {
        return out;
    };
    match &f.task {
        Some(t) => {
            out.push_str(&format!(
                "    failed task: {} '{}' in '{}'\n",
                t.task_id, t.task_name, t.playbook
            ));
            for v in &t.via {
                out.push_str(&format!("      via task {v}\n"));
            }
            if let Some(c) = &t.command {
                out.push_str(&format!("    command: {c}\n"));
            }
            let entry = t
                .entry_id
                .as_deref()
                .map(|e| format!(" (entry {e})"))
                .unwrap_or_default();
            let mut lines = t.error.lines();
            out.push_str(&format!(
                "    error{entry}: {}\n",
                lines.next().unwrap_or_default()
            ));
            for l in lines {
                out.push_str(&format!("      {l}\n"));
            }
            if t.reads.is_empty() {
                out.push_str(
                    "    context read: (no context paths in its arguments or conditions)\n",
                );
            } else {
                out.push_str("    context read:\n");
                push_reads(&t.reads, "      ", &mut out);
            }
            for p in &t.reached_from {
                let branch = p
                    .label
                    .as_deref()
                    .map(|l| format!(" (branch {l})"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "    reached from task {} '{}'{branch}",
                    p.task_id, p.task_name
                ));
                if p.reads.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(", which read:\n");
                    push_reads(&p.reads, "      ", &mut out);
                }
            }
        }
        None => out.push_str(&format!("    {}\n", f.message)),
    }
    for n in &r.notes {
        out.push_str(&format!("    note: {n}\n"));
    }
    for m in &r.missing_mocks {
        if !f.task.as_ref().is_some_and(|t| t.error.contains(m)) {
            out.push_str(&format!("    missing mock: {m}\n"));
        }
    }
    match r.file_line {
        Some(line) => out.push_str(&format!("    file: {}:{line}\n", r.file)),
        None => out.push_str(&format!("    file: {}\n", r.file)),
    }
    out
}

/// The id, in the test playbook itself, of the task a failure happened at: the failing task,
/// or the outermost sub-playbook task that led to it.
pub fn failing_top_task(r: &TestResult) -> Option<&str> {
    let task = r.failure.as_ref()?.task.as_ref()?;
    match task.via.first() {
        Some(via) => via.split_whitespace().next(),
        None => Some(task.task_id.as_str()),
    }
}

fn push_reads(reads: &[ContextRead], indent: &str, out: &mut String) {
    for read in reads {
        let shown = match &read.value {
            Some(v) => truncate(&v.to_string(), 200),
            None => "(nothing)".to_owned(),
        };
        out.push_str(&format!("{indent}{} = {shown}\n", read.path));
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// The failure text of a JUnit `<failure>`: the message line and the details.
fn failure_text(r: &TestResult) -> String {
    let Some(f) = &r.failure else {
        return String::new();
    };
    format!("{}\n{}", f.message, failure_details(r))
}

/// Attributes and text for XML: `&`, `<`, `>`, quotes escaped; characters XML 1.0 cannot
/// carry replaced.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit class name of a test: the folder of its file, dotted (`tests.playbooks`).
fn classname(file: &str) -> String {
    let dir = file
        .rsplit_once(['/', '\\'])
        .map(|(d, _)| d)
        .unwrap_or("playbooks");
    let dotted: String = dir
        .trim_start_matches("./")
        .split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join(".");
    if dotted.is_empty() {
        "playbooks".into()
    } else {
        dotted
    }
}

/// Where and when a JUnit report was made (the library reads no clock and no host name).
#[derive(Debug, Clone, Default)]
pub struct JunitMeta {
    /// Suite name.
    pub name: String,
    /// Start of the run, `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub timestamp: String,
    /// Host name.
    pub hostname: String,
}

/// JUnit XML: `<testsuites>` with one `<testsuite>`, one `<testcase>` per test playbook, a
/// `<failure>` holding the failing task and its error.
///
/// The document is valid against both schemas CI tools follow: the Ant JUnit schema
/// (windyroad `JUnit.xsd`: required `properties`, `system-out`, `system-err`, `package` and `id`,
/// no attributes on `testsuites`, none but `name`/`classname`/`time` on `testcase`) and
/// Jenkins' `junit-10.xsd`. Totals are on the `<testsuite>`.
pub fn junit_xml(results: &[TestResult], meta: &JunitMeta) -> String {
    let failures = results.iter().filter(|r| !r.passed).count();
    let total_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let name = xml_escape(&meta.name);
    let hostname = if meta.hostname.trim().is_empty() {
        "localhost".to_owned()
    } else {
        xml_escape(&meta.hostname)
    };
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    x.push_str(&format!(
        "  <testsuite name=\"{name}\" package=\"{name}\" id=\"0\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{}\" timestamp=\"{}\" hostname=\"{hostname}\">\n",
        results.len(),
        secs(total_ms),
        xml_escape(&meta.timestamp),
    ));
    x.push_str("    <properties/>\n");
    for r in results {
        x.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">",
            xml_escape(&r.name),
            xml_escape(&classname(&r.file)),
            secs(r.duration_ms),
        ));
        match &r.failure {
            Some(f) => {
                let kind = if f.task.is_some() {
                    "TaskError"
                } else {
                    "RunError"
                };
                x.push_str(&format!(
                    "\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>\n",
                    xml_escape(&f.message),
                    xml_escape(&failure_text(r))
                ));
            }
            None => x.push_str("</testcase>\n"),
        }
    }
    x.push_str("    <system-out/>\n    <system-err/>\n  </testsuite>\n</testsuites>\n");
    x
}

/// The JSON report: a summary and every result (with the final context).
pub fn json_report(results: &[TestResult]) -> Value {
    let passed = results.iter().filter(|r| r.passed).count();
    json!({
        "summary": {
            "total": results.len(),
            "passed": passed,
            "failed": results.len() - passed,
            "durationMs": results.iter().map(|r| r.duration_ms).sum::<u64>(),
        },
        "tests": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_top_task_is_the_outermost_task_of_the_test_playbook() {
        let case = crate::TestCase {
            name: "T".into(),
            id: "t".into(),
            file: "t.yml".into(),
        };
        let mut r = TestResult::broken(&case, "boom".into());
        assert_eq!(failing_top_task(&r), None);
        let task = FailedTask {
            playbook: "Child".into(),
            task_id: "7".into(),
            task_name: "inner".into(),
            via: vec!["3 'Child'".into(), "1 'Grandchild'".into()],
            command: None,
            error: "boom".into(),
            entry_id: None,
            reads: Vec::new(),
            reached_from: Vec::new(),
        };
        r.failure = Some(Failure {
            message: "boom".into(),
            task: Some(task.clone()),
        });
        assert_eq!(failing_top_task(&r), Some("3"));
        r.file_line = Some(42);
        assert!(failure_details(&r).ends_with("    file: t.yml:42\n"));
        r.failure = Some(Failure {
            message: "boom".into(),
            task: Some(FailedTask {
                via: Vec::new(),
                ..task
            }),
        });
        assert_eq!(failing_top_task(&r), Some("7"));
    }
}
