//! Playbook execution rules, one `check_playbook` per rule: fixtures are playbook files under
//! `tests/data/playbooks/`, commands go to a recording mock connector, and the run report
//! (task states, labels, entries, context) is snapshotted.

use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use xsoar_connector::{
    CommandCall, CommandOutput, CommandResult, Connector, ConnectorError, ConnectorFactory,
    InstanceConfig, Outputs,
};
use xsoar_content::{parse_any, ContentItem};
use xsoar_engine::playbook::{Frame, LoopProgress, PlaybookRun};
use xsoar_engine::{
    Clock, Engine, EngineOptions, InstanceSpec, Investigation, RunOptions, RunState,
    TaskCompletion, TaskState, VirtualClock,
};

const MOCK_YAML: &str = r#"
commonfields: {id: Mock, version: -1}
name: Mock
display: Mock
category: Utilities
description: Recording test integration.
configuration: []
script:
  type: python
  script: ''
  commands:
  - {name: fail, description: always fails}
  - {name: flaky, description: fails twice then works}
  - {name: poll, description: status flips to complete on the third call}
  - name: signl4_alert
    description: stands in for SIGNL4
    arguments:
    - {name: title, description: t, required: true}
    - {name: message, description: m, required: true}
    - {name: s4_external_id, description: e}
    - {name: s4_service, description: s}
    - {name: s4_alerting_scenario, description: a}
  - name: signl4_close_alert
    description: stands in for SIGNL4
    arguments:
    - {name: s4_external_id, description: e}
  - name: notify
    description: takes a secret token
    arguments:
    - {name: token, description: t, secret: true}
    - {name: text, description: x}
"#;

/// Every call the mock connector received: (command, args).
type Calls = Arc<Mutex<Vec<(String, Value)>>>;

struct MockFactory {
    calls: Calls,
    counter: Arc<AtomicUsize>,
    fail_alerts_for: Option<String>,
}

struct Mock {
    calls: Calls,
    counter: Arc<AtomicUsize>,
    fail_alerts_for: Option<String>,
}

impl ConnectorFactory for MockFactory {
    fn brand(&self) -> &str {
        "Mock"
    }
    fn build(&self, _: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(Mock {
            calls: self.calls.clone(),
            counter: self.counter.clone(),
            fail_alerts_for: self.fail_alerts_for.clone(),
        }))
    }
}

impl Connector for Mock {
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        Box::pin(async move {
            if let Ok(mut c) = self.calls.lock() {
                c.push((call.command.to_owned(), Value::Object(call.args.clone())));
            }
            let n = self.counter.fetch_add(1, Ordering::SeqCst);
            match call.command {
                "fail" => Err(ConnectorError::Http {
                    status: 500,
                    message: "mock failure".into(),
                }),
                "flaky" if n < 2 => Err(ConnectorError::Timeout("mock timeout".into())),
                "flaky" => Ok(CommandResult::text("recovered").into()),
                "poll" => {
                    let status = if n >= 2 { "COMPLETE" } else { "RUNNING" };
                    Ok(CommandResult::from_outputs(Outputs {
                        prefix: Some("Scan".into()),
                        outputs: Some(json!({"Status": status, "Call": n + 1})),
                        replace_existing: false,
                        ..Default::default()
                    })
                    .with_context("Scan(true)", json!({"Status": status, "Call": n + 1})))
                    .map(|mut r| {
                        r.entry_context.shift_remove("Scan");
                        r.into()
                    })
                }
                "signl4_alert" => {
                    let service = call.args.get("s4_service").and_then(Value::as_str);
                    if service.is_some() && service == self.fail_alerts_for.as_deref() {
                        return Err(ConnectorError::Http {
                            status: 404,
                            message: "Error in API call to SIGNL4 integration [404] - Not Found"
                                .into(),
                        });
                    }
                    let out = json!({"eventId": format!("ev-{}", n + 1)});
                    Ok(CommandResult::from_outputs(Outputs {
                        prefix: Some("SIGNL4.AlertCreated".into()),
                        key_fields: vec!["eventId".into()],
                        outputs: Some(out.clone()),
                        raw_response: Some(out),
                        ..Default::default()
                    })
                    .into())
                }
                "signl4_close_alert" => {
                    let out = json!({"eventId": format!("close-{}", n + 1)});
                    Ok(CommandResult::from_outputs(Outputs {
                        prefix: Some("SIGNL4.AlertClosed".into()),
                        key_fields: vec!["eventId".into()],
                        outputs: Some(out),
                        ..Default::default()
                    })
                    .into())
                }
                "notify" => Ok(CommandResult::text("sent").into()),
                other => Err(ConnectorError::UnknownCommand {
                    brand: "Mock".into(),
                    command: other.into(),
                }),
            }
        })
    }
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async { Ok(()) })
    }
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/playbooks/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Harness {
    engine: Engine,
    clock: Arc<VirtualClock>,
    calls: Calls,
}

fn harness(files: &[&str], fail_alerts_for: Option<&str>) -> Harness {
    let clock = VirtualClock::starting_at(UNIX_EPOCH + Duration::from_secs(1_735_689_600));
    let engine = Engine::new(clock.clone(), EngineOptions::default());
    let mut items = Vec::new();
    let (mock, _) = parse_any(MOCK_YAML, "mock.yml");
    items.push(mock.expect("mock integration"));
    for f in files {
        let text = if f.contains('/') {
            std::fs::read_to_string(format!("{}/../../{f}", env!("CARGO_MANIFEST_DIR")))
                .unwrap_or_default()
        } else {
            fixture(f)
        };
        let (item, diags) = parse_any(&text, f);
        assert!(diags.iter().all(|d| !d.is_error()), "{f}: {diags:?}");
        items.push(item.unwrap_or_else(|| panic!("{f} did not load")));
    }
    engine.add_content(items);
    let calls: Calls = Arc::new(Mutex::new(Vec::new()));
    engine.register_factory(Arc::new(MockFactory {
        calls: calls.clone(),
        counter: Arc::new(AtomicUsize::new(0)),
        fail_alerts_for: fail_alerts_for.map(str::to_owned),
    }));
    engine.set_instances(vec![InstanceSpec {
        name: "mock-1".into(),
        brand: "Mock".into(),
        enabled: true,
        params: Default::default(),
        simulated: false,
    }]);
    Harness {
        engine,
        clock,
        calls,
    }
}

fn report(run: &PlaybookRun, inv: &Investigation) -> String {
    fn rows(f: &Frame, depth: usize, out: &mut String) {
        for t in f.tasks.values() {
            let mut line = format!(
                "{}{} {} [{}] {}",
                "  ".repeat(depth),
                t.id,
                t.name,
                t.task_type,
                t.state.word()
            );
            if let Some(l) = &t.label {
                line.push_str(&format!(" -> {l}"));
            }
            if t.executions > 1 {
                line.push_str(&format!(" x{}", t.executions));
            }
            if !t.entries.is_empty() {
                line.push_str(&format!(" entries={}", t.entries.join(",")));
            }
            if let Some(e) = &t.error {
                line.push_str(&format!(" error={e:?}"));
            }
            out.push_str(&line);
            out.push('\n');
            if let Some(sub) = &t.sub {
                rows(sub, depth + 1, out);
            }
        }
    }
    let mut out = format!("state: {}\n", run.state.as_str());
    if let Some(e) = &run.error {
        out.push_str(&format!("stopped: {e}\n"));
    }
    rows(&run.root, 0, &mut out);
    out.push_str("context: ");
    out.push_str(&serde_json::to_string_pretty(&inv.context).unwrap_or_default());
    out.push('\n');
    out
}

fn incident(severity: i64) -> Value {
    json!({"id": "9", "name": "Disk full", "severity": severity, "details": "db1 at 95%", "teams": ["ops", "dba", "ops"]})
}

/// Run `playbook` (loaded with `files`) and snapshot the report.
fn check_playbook(
    snapshot: &str,
    files: &[&str],
    playbook: &str,
    incident: Value,
    opts: RunOptions,
) -> (PlaybookRun, Investigation, Harness) {
    let h = harness(files, None);
    let mut inv = Investigation::new("9", incident);
    let run = futures::executor::block_on(h.engine.run_playbook(&mut inv, playbook, None, &opts))
        .expect("run starts");
    insta::assert_snapshot!(snapshot, report(&run, &inv));
    (run, inv, h)
}

fn state_of(run: &PlaybookRun, id: &str) -> TaskState {
    run.root
        .tasks
        .get(id)
        .map(|t| t.state)
        .unwrap_or(TaskState::Pending)
}

#[test]
fn join_runs_once_after_pruned_branches() {
    for (severity, branch) in [(3, "severe"), (1, "mild")] {
        let (run, inv, _) = check_playbook(
            &format!("joins_severity_{severity}"),
            &["joins.yml"],
            "joins",
            incident(severity),
            RunOptions::default(),
        );
        assert_eq!(run.state, RunState::Completed);
        assert_eq!(inv.context["Branch"], json!(branch));
        assert_eq!(inv.context["Joined"], json!(1), "the join ran exactly once");
        assert_eq!(run.root.tasks["5"].executions, 1);
        // A builtin condition runs nothing: no target, not "manual".
        let condition = run.root.tasks.values().find(|t| t.name == "severe?");
        assert_eq!(condition.map(|t| t.target.as_str()), Some(""));
    }
}

#[test]
fn error_policies() {
    let (run, inv, _) = check_playbook(
        "errors",
        &["errors.yml"],
        "errors",
        incident(1),
        RunOptions::default(),
    );
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        state_of(&run, "2"),
        TaskState::NotExecuted,
        "error path taken, #none# pruned"
    );
    assert_eq!(state_of(&run, "3"), TaskState::Completed);
    assert_eq!(
        state_of(&run, "4"),
        TaskState::Completed,
        "continueonerror without a path goes on"
    );
    assert_eq!(state_of(&run, "5"), TaskState::Error);
    assert_eq!(state_of(&run, "6"), TaskState::Blocked);
    assert_eq!(
        inv.context["ErrorPath"],
        json!("1@9"),
        "lastCompletedTaskEntries is the failing task's entry"
    );
}

#[test]
fn unavailable_commands_and_playbooks() {
    let (run, _, _) = check_playbook(
        "unavailable",
        &["unavailable.yml"],
        "unavailable",
        incident(1),
        RunOptions::default(),
    );
    assert_eq!(state_of(&run, "1"), TaskState::Skipped);
    assert_eq!(state_of(&run, "2"), TaskState::Skipped);
    assert_eq!(state_of(&run, "3"), TaskState::Error);
    assert_eq!(run.state, RunState::Failed);
}

#[test]
fn sub_playbooks_contexts_inputs_and_for_each() {
    let h = harness(&["parent.yml", "child.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    inv.context = json!({"Hosts": ["h1", "h2", "h3"], "ParentKey": "pk"});
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "parent",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    insta::assert_snapshot!("sub_playbooks", report(&run, &inv));
    assert_eq!(run.state, RunState::Completed);
    let seen: Vec<(String, String)> = inv.context["Seen"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["host"].as_str().unwrap_or("").to_owned(),
                        s["note"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        seen,
        [
            ("single-host".into(), "".into()),
            ("h1".into(), "first only".into()),
            ("h2".into(), "".into()),
            ("h3".into(), "".into()),
            ("default-host".into(), "".into()),
        ],
        "private outputs are appended per iteration; scalars only reach the first for-each iteration; defaults apply"
    );
    assert!(
        inv.context["Seen"][0]["parentKey"] == json!("pk"),
        "a private child reads the parent context"
    );
    assert_eq!(
        inv.context["Scratch"],
        json!("x"),
        "only the shared child writes Scratch to the parent"
    );
    let for_each = &run.root.tasks["2"];
    assert_eq!(
        for_each.loop_progress.as_ref().map(|p| p.iteration),
        Some(3)
    );
    assert_eq!(
        h.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        1_735_689_600 + 20,
        "two waits of 10 s between three iterations, on the virtual clock"
    );
}

#[test]
fn manual_tasks_wait_and_resume() {
    let h = harness(&["manual.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let opts = RunOptions::default();
    let mut run =
        futures::executor::block_on(h.engine.run_playbook(&mut inv, "manual", None, &opts))
            .expect("runs");
    assert_eq!(run.state, RunState::Waiting);
    assert_eq!(state_of(&run, "1"), TaskState::Waiting);
    assert_eq!(run.root.tasks["1"].target, "manual");
    let err = futures::executor::block_on(h.engine.complete_task(
        &mut inv,
        &mut run,
        &TaskCompletion {
            task: "nope".into(),
            label: None,
        },
        &opts,
    ));
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("no task 'nope' in this run (give a task id, tag or name)".into())
    );
    futures::executor::block_on(h.engine.complete_task(
        &mut inv,
        &mut run,
        &TaskCompletion {
            task: "handled".into(),
            label: None,
        },
        &opts,
    ))
    .expect("completes by tag");
    assert_eq!(run.state, RunState::Waiting);
    assert_eq!(state_of(&run, "2"), TaskState::Waiting);
    let bad = futures::executor::block_on(h.engine.complete_task(
        &mut inv,
        &mut run,
        &TaskCompletion {
            task: "2".into(),
            label: Some("Maybe".into()),
        },
        &opts,
    ));
    assert!(
        matches!(bad, Err(xsoar_engine::RunError::NoSuchLabel { .. })),
        "{bad:?}"
    );
    futures::executor::block_on(h.engine.complete_task(
        &mut inv,
        &mut run,
        &TaskCompletion {
            task: "Approve?".into(),
            label: Some("reject".into()),
        },
        &opts,
    ))
    .expect("label is case-insensitive");
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(inv.context["Decision"], json!("rejected"));
    // The state survives serialisation (the server stores waiting runs).
    let stored: PlaybookRun =
        serde_json::from_value(serde_json::to_value(&run).expect("serialises"))
            .expect("deserialises");
    assert_eq!(stored, run);
}

#[test]
fn completions_from_options() {
    let opts = RunOptions {
        completions: vec![
            TaskCompletion {
                task: "handled".into(),
                label: None,
            },
            TaskCompletion {
                task: "2".into(),
                label: Some("Approve".into()),
            },
        ],
        ..RunOptions::default()
    };
    let (run, inv, _) = check_playbook(
        "manual_completed",
        &["manual.yml"],
        "manual",
        incident(1),
        opts,
    );
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(inv.context["Decision"], json!("approved"));
    let auto = RunOptions {
        auto_complete: true,
        ..RunOptions::default()
    };
    let (run, inv, _) = check_playbook("manual_auto", &["manual.yml"], "manual", incident(1), auto);
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(
        inv.context["Decision"],
        json!("approved"),
        "auto-complete takes the first label"
    );
}

#[test]
fn condition_loop_polls_on_the_virtual_clock() {
    let (run, inv, h) = check_playbook(
        "polling",
        &["polling.yml", "poll-once.yml"],
        "polling",
        incident(1),
        RunOptions::default(),
    );
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(
        run.root.tasks["1"]
            .loop_progress
            .as_ref()
            .map(|p| p.iteration),
        Some(3)
    );
    assert_eq!(inv.context["Scan"]["Status"], json!("COMPLETE"));
    assert_eq!(h.calls.lock().map(|c| c.len()).unwrap_or(0), 3);
    assert_eq!(
        h.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        1_735_689_600 + 60
    );
}

/// The counter loop (`counter-loop.yml` or its `-max` variant) run to its end: the state of the
/// looping task `1` and the context.
fn counter_loop(playbook: &str) -> (RunState, Option<LoopProgress>, Value, u64) {
    let h = harness(&[&format!("{playbook}.yml"), "counter-step.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        playbook,
        None,
        &RunOptions::default(),
    ))
    .expect("run starts");
    let progress = run.root.tasks["1"].loop_progress.clone();
    (
        run.state,
        progress,
        inv.context,
        run.root.tasks["1"].duration_ms,
    )
}

/// A condition loop's private context carries over between iterations: a sub-playbook that
/// appends to a counter exits after three runs, and the parent gets the counter once.
#[test]
fn condition_loop_keeps_the_private_context_between_iterations() {
    let (state, progress, context, duration_ms) = counter_loop("counter-loop");
    assert_eq!(state, RunState::Completed);
    // Three runs, 10 s of loop wait between each (virtual clock): the task took 20 s.
    assert_eq!(duration_ms, 20_000);
    assert_eq!(
        progress.as_ref().map(|p| (p.iteration, p.stopped_at_max)),
        Some((3, false))
    );
    assert_eq!(context["Counter"], json!(["x", "x", "x"]));

    // With a max of 2 the loop ends first: the task completes and says why.
    let (state, progress, context, _) = counter_loop("counter-loop-max");
    assert_eq!(state, RunState::Completed);
    assert_eq!(
        progress.as_ref().map(|p| (p.iteration, p.stopped_at_max)),
        Some((2, true))
    );
    assert_eq!(context["Counter"], json!(["x", "x"]));
}

#[test]
fn runaway_graphs_are_stopped() {
    let opts = RunOptions {
        max_task_executions: 50,
        ..RunOptions::default()
    };
    let (run, _, _) = check_playbook("cycle", &["cycle.yml"], "cycle", incident(1), opts);
    assert_eq!(run.state, RunState::Failed);
    let stop = run.error.clone().unwrap_or_default();
    assert!(
        stop.contains("50 task executions at task 2 (back)"),
        "{stop}"
    );
}

#[test]
fn script_conditions_and_retries() {
    let (run, _, h) = check_playbook(
        "conditions",
        &["conditions.yml"],
        "conditions",
        incident(1),
        RunOptions::default(),
    );
    assert_eq!(run.state, RunState::Completed, "{run:#?}");
    assert_eq!(run.root.tasks["2"].label.as_deref(), Some("no"));
    assert_eq!(run.root.tasks["3"].label.as_deref(), Some("yes"));
    assert_eq!(run.root.tasks["4"].label.as_deref(), Some("no"));
    assert_eq!(
        h.calls.lock().map(|c| c.len()).unwrap_or(0),
        3,
        "two failures, then success"
    );
    assert_eq!(
        h.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        1_735_689_600 + 120,
        "retry-interval waits on the virtual clock"
    );
}

/// The shipped SIGNL4 samples, with a recording connector standing in for SIGNL4.
fn signl4_harness(fail_for: Option<&str>) -> Harness {
    harness(
        &[
            "playbooks/SIGNL4_Alert_and_Close.yml",
            "playbooks/SIGNL4_Page_On_Call_Teams.yml",
            "playbooks/SIGNL4_Page_Team.yml",
        ],
        fail_for,
    )
}

fn rewrite_brand(engine: &Engine) {
    // The samples call `SIGNL4|||...`; map that brand onto the mock by renaming the mock integration.
    let lib = engine.library();
    let mock = lib.integration("Mock").cloned().expect("mock");
    let mut as_signl4 = mock;
    as_signl4.id = "SIGNL4".into();
    as_signl4.name = "SIGNL4".into();
    engine.add_content(vec![ContentItem::Integration(as_signl4)]);
}

struct Signl4Factory(MockFactory);
impl ConnectorFactory for Signl4Factory {
    fn brand(&self) -> &str {
        "SIGNL4"
    }
    fn build(&self, i: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        self.0.build(i)
    }
}

fn with_signl4(h: &Harness, fail_for: Option<&str>) {
    rewrite_brand(&h.engine);
    h.engine
        .register_factory(Arc::new(Signl4Factory(MockFactory {
            calls: h.calls.clone(),
            counter: Arc::new(AtomicUsize::new(0)),
            fail_alerts_for: fail_for.map(str::to_owned),
        })));
    h.engine.set_instances(vec![InstanceSpec {
        name: "signl4-1".into(),
        brand: "SIGNL4".into(),
        enabled: true,
        params: Default::default(),
        simulated: false,
    }]);
}

#[test]
fn signl4_alert_and_close_sample() {
    let h = signl4_harness(None);
    with_signl4(&h, None);
    let mut inv = Investigation::new(
        "42",
        json!({"id": "42", "name": "Disk full", "severity": 3, "details": "db1 at 95%"}),
    );
    let opts = RunOptions {
        completions: vec![TaskCompletion {
            task: "handled".into(),
            label: None,
        }],
        ..RunOptions::default()
    };
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "SIGNL4 Alert and Close",
        None,
        &opts,
    ))
    .expect("runs");
    insta::assert_snapshot!("signl4_alert_and_close", report(&run, &inv));
    assert_eq!(run.state, RunState::Completed);
    let calls = h.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(calls[0].0, "signl4_alert");
    assert_eq!(
        calls[0].1,
        json!({"title": "[XSOAR 42] Disk full", "message": "Severity 3: db1 at 95%", "s4_external_id": "xsoar-42", "s4_alerting_scenario": "single_ack"})
    );
    assert_eq!(
        calls[1],
        (
            "signl4_close_alert".to_owned(),
            json!({"s4_external_id": "xsoar-42"})
        )
    );
}

#[test]
fn signl4_page_teams_sample_with_an_error_path() {
    let h = signl4_harness(Some("dba"));
    with_signl4(&h, Some("dba"));
    let mut inv = Investigation::new(
        "42",
        json!({"id": "42", "name": "Disk full", "severity": 4, "details": "db1 at 95%", "CustomFields": {"teams": ["ops", "dba", "ops", "net"]}}),
    );
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "SIGNL4 Page On-Call Teams",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    insta::assert_snapshot!("signl4_page_teams", report(&run, &inv));
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(run.root.tasks["1"].label.as_deref(), Some("Critical"));
    assert_eq!(
        inv.context["Paging"],
        json!({"Scenario": "emergency", "Title": "[PAGE] DISK FULL"})
    );
    assert_eq!(inv.context["PagedTeams"], json!(["ops", "net"]));
    assert_eq!(inv.context["PagingErrors"], json!("dba"));
    assert_eq!(run.root.tasks["7"].label.as_deref(), Some("#default#"));
    let services: Vec<Value> = h
        .calls
        .lock()
        .map(|c| c.iter().map(|(_, a)| a["s4_service"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        services,
        [json!("ops"), json!("dba"), json!("net")],
        "uniq transformer, one alert per team"
    );
}

#[test]
fn every_corpus_playbook_terminates_with_commands_unavailable() {
    let dir = format!(
        "{}/../../tests/data/corpus/playbooks",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    let mut ids = Vec::new();
    let mut items = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let (item, diags) = parse_any(&text, &f.display().to_string());
        assert!(diags.iter().all(|d| !d.is_error()), "{f:?}: {diags:?}");
        if let Some(ContentItem::Playbook(p)) = &item {
            ids.push(p.id.clone());
        }
        items.extend(item);
    }
    engine.add_content(items);
    let mut summary = String::new();
    for id in ids {
        let mut inv = Investigation::new("1", json!({"name": "corpus run"}));
        let opts = RunOptions {
            auto_complete: true,
            max_task_executions: 2_000,
            ..RunOptions::default()
        };
        let run = futures::executor::block_on(engine.run_playbook(&mut inv, &id, None, &opts))
            .expect("starts");
        assert!(
            matches!(run.state, RunState::Completed | RunState::Failed),
            "{id} did not terminate: {:?}",
            run.state
        );
        assert!(run.error.is_none(), "{id} was stopped: {:?}", run.error);
        let walk = run.root.walk();
        assert!(
            walk.iter().all(|(_, t)| !matches!(
                t.state,
                TaskState::Running | TaskState::Waiting | TaskState::Pending
            )),
            "{id}: a task was left unresolved"
        );
        for (_, t) in &walk {
            if t.state == TaskState::Error {
                assert!(
                    t.error.as_deref().is_some_and(|e| !e.is_empty()),
                    "{id}: task {} errored without a message",
                    t.id
                );
            }
        }
        let count = |s: TaskState| walk.iter().filter(|(_, t)| t.state == s).count();
        summary.push_str(&format!(
            "{id}: {} (completed {}, skipped {}, error {}, not executed {}, blocked {})\n",
            run.state.as_str(),
            count(TaskState::Completed),
            count(TaskState::Skipped),
            count(TaskState::Error),
            count(TaskState::NotExecuted),
            count(TaskState::Blocked)
        ));
    }
    insta::assert_snapshot!("corpus_runs", summary);
}

#[test]
fn progress_is_reported_as_tasks_start_and_settle() {
    let h = harness(&["manual.yml"], None);
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let opts = RunOptions {
        progress: Some(Arc::new(move |p: &xsoar_engine::TaskProgress| {
            if let Ok(mut s) = sink.lock() {
                s.push(format!("{}:{}", p.task_id, p.state.word()));
            }
        })),
        ..RunOptions::default()
    };
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(&mut inv, "manual", None, &opts))
        .expect("runs");
    assert_eq!(run.state, RunState::Waiting);
    assert_eq!(
        seen.lock().map(|s| s.clone()).unwrap_or_default(),
        ["0:running", "0:completed", "1:running", "1:waiting"]
    );
}

#[test]
fn loop_exit_runs_after_earlier_passes_pruned_it() {
    let (run, inv, _) = check_playbook(
        "counted_loop",
        &["counted-loop.yml"],
        "counted-loop",
        incident(1),
        RunOptions::default(),
    );
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(inv.context["C"], json!(["x", "x", "x"]));
    assert_eq!(run.root.tasks["2"].executions, 3);
    assert_eq!(run.root.tasks["2"].label.as_deref(), Some("yes"));
    assert_eq!(state_of(&run, "3"), TaskState::Completed);
    assert_eq!(inv.context["After"], json!("yes"));
    assert_eq!(inv.context["Joined"], json!(1), "the join ran once");
    assert_eq!(run.root.tasks["5"].executions, 1);
}

#[test]
fn labels_without_edges_take_the_default_branch() {
    let run_with = |completion: TaskCompletion| {
        let h = harness(&["labels.yml"], None);
        let mut inv = Investigation::new("9", incident(1));
        let opts = RunOptions {
            completions: vec![completion],
            ..RunOptions::default()
        };
        let run =
            futures::executor::block_on(h.engine.run_playbook(&mut inv, "labels", None, &opts));
        (run, inv)
    };
    let (run, inv) = run_with(TaskCompletion {
        task: "ask".into(),
        label: Some("nack".into()),
    });
    let run = run.expect("runs");
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(run.root.tasks["1"].label.as_deref(), Some("B"));
    assert_eq!(
        inv.context["Builtin"],
        json!("default"),
        "builtin condition"
    );
    assert_eq!(run.root.tasks["4"].label.as_deref(), Some("Nack"));
    assert_eq!(inv.context["Reply"], json!("not acked"), "Ask reply option");
    assert_eq!(state_of(&run, "5"), TaskState::NotExecuted);

    // The same through a completion after the run waits.
    let h = harness(&["labels.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let opts = RunOptions::default();
    let mut run =
        futures::executor::block_on(h.engine.run_playbook(&mut inv, "labels", None, &opts))
            .expect("runs");
    assert_eq!(state_of(&run, "4"), TaskState::Waiting);
    futures::executor::block_on(h.engine.complete_task(
        &mut inv,
        &mut run,
        &TaskCompletion {
            task: "4".into(),
            label: Some("Nack".into()),
        },
        &opts,
    ))
    .expect("Nack is offered");
    assert_eq!(inv.context["Reply"], json!("not acked"));

    // A label the task does not offer, and a task that is not there, are refused up front.
    let (bad, _) = run_with(TaskCompletion {
        task: "Ask".into(),
        label: Some("Maybe".into()),
    });
    assert_eq!(
        bad.map(|_| ()).map_err(|e| e.to_string()),
        Err("task 4 (Ask) does not offer 'Maybe' (it offers: Ack, Nack, #default#)".into())
    );
    let (missing, _) = run_with(TaskCompletion {
        task: "nosuchtask".into(),
        label: None,
    });
    assert!(
        matches!(missing, Err(xsoar_engine::RunError::NoSuchTask(ref t)) if t == "nosuchtask"),
        "{missing:?}"
    );
}

#[test]
fn skipped_tasks_write_no_error_entry() {
    let (run, inv, _) = check_playbook(
        "skipped",
        &["skipped.yml"],
        "skipped",
        incident(1),
        RunOptions::default(),
    );
    assert_eq!(run.state, RunState::Completed);
    for id in ["1", "3", "5", "7"] {
        assert_eq!(state_of(&run, id), TaskState::Skipped, "task {id}");
        assert!(run.root.tasks[id].entries.is_empty(), "task {id}");
        assert!(run.root.tasks[id].error.is_some(), "task {id} keeps why");
    }
    assert_eq!(inv.context["Clear"], json!("yes"));
    assert_eq!(inv.context.get("SawError"), None);
    assert!(
        inv.entries.iter().all(|e| !e.is_error()),
        "{:?}",
        inv.entries
    );
}

#[test]
fn recursion_is_reported_once_with_its_depth() {
    let h = harness(&["recursive.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let opts = RunOptions::default();
    let run =
        futures::executor::block_on(h.engine.run_playbook(&mut inv, "recursive", None, &opts))
            .expect("runs");
    assert_eq!(run.state, RunState::Failed);
    let error = run.root.tasks["1"].error.clone().unwrap_or_default();
    assert_eq!(
        error,
        "sub-playbook 'recursive' failed: task 1 (me again) of 'recursive' (19 sub-playbook levels down): \
         sub-playbooks nested more than 20 deep (does 'recursive' call itself?)"
    );
    let all: usize = run
        .root
        .walk()
        .iter()
        .filter_map(|(_, t)| t.error.as_ref())
        .map(String::len)
        .sum();
    assert!(
        all < 21 * 250,
        "every level's message stays short: {all} bytes"
    );
}

/// The timer field `field` of `inv`, checked against its `CustomFields` copy.
fn timer_field<'a>(inv: &'a Investigation, field: &str) -> &'a Value {
    assert_eq!(
        inv.incident["CustomFields"][field], inv.incident[field],
        "{field} is written like setIncident writes custom fields"
    );
    &inv.incident[field]
}

#[test]
fn timer_triggers_start_pause_resume_and_stop_on_the_engine_clock() {
    let h = harness(&["timers.yml"], None);
    let mut inc = incident(1);
    inc["CustomFields"] = json!({"remediationsla": "n/a"});
    let mut inv = Investigation::new("9", inc);
    let opts = RunOptions::default();
    let mut run =
        futures::executor::block_on(h.engine.run_playbook(&mut inv, "timers", None, &opts))
            .expect("runs");
    assert_eq!(run.state, RunState::Waiting);
    let t = timer_field(&inv, "timetoassignment");
    assert_eq!(t["runStatus"], json!("paused"));
    assert_eq!(t["startDate"], json!("2025-01-01T00:00:00Z"));
    assert_eq!(t["lastPauseDate"], json!("2025-01-01T00:00:30Z"));
    assert_eq!(t["endDate"], json!("0001-01-01T00:00:00Z"));
    assert_eq!(t["accumulatedPause"], json!(0));
    // The analyst comes back two minutes later (the pause lasted 90 + 120 seconds).
    h.clock.advance(Duration::from_secs(120));
    futures::executor::block_on(h.engine.complete_task(
        &mut inv,
        &mut run,
        &TaskCompletion {
            task: "back".into(),
            label: None,
        },
        &opts,
    ))
    .expect("completes");
    assert_eq!(run.state, RunState::Failed, "task 8 errors");
    assert_eq!(state_of(&run, "8"), TaskState::Error);
    let t = timer_field(&inv, "timetoassignment");
    assert_eq!(
        t,
        &json!({
            "runStatus": "ended",
            "startDate": "2025-01-01T00:00:00Z",
            "endDate": "2025-01-01T00:04:15Z",
            "lastPauseDate": "2025-01-01T00:00:30Z",
            "accumulatedPause": 180,
            "totalDuration": 75,
            "dueDate": "0001-01-01T00:00:00Z",
            "sla": 0,
            "slaStatus": -1,
            "breachTriggered": false,
        })
    );
    // A field holding something else is replaced by a timer; a task that errors (without
    // continuing) applies no trigger, so this one still runs.
    let r = timer_field(&inv, "remediationsla");
    assert_eq!(r["runStatus"], json!("running"));
    assert_eq!(r["startDate"], json!("2025-01-01T00:04:15Z"));
    assert_eq!(inv.incident["resolution"], json!("fixed"));

    // Completions from the options take the same path, without the extra wait.
    let auto = RunOptions {
        auto_complete: true,
        ..RunOptions::default()
    };
    let h = harness(&["timers.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    futures::executor::block_on(h.engine.run_playbook(&mut inv, "timers", None, &auto))
        .expect("runs");
    let t = &inv.incident["timetoassignment"];
    assert_eq!(t["runStatus"], json!("ended"));
    assert_eq!(t["endDate"], json!("2025-01-01T00:02:15Z"));
    assert_eq!(t["accumulatedPause"], json!(60));
    assert_eq!(t["totalDuration"], json!(75));
}

/// A task's `secret: true` arguments are masked wherever the task is shown: its entries'
/// `parentContent`, the inputs of its run (reports, JSON, REST API), as the war-room echo is.
#[test]
fn secret_arguments_are_masked_in_task_entries_and_runs() {
    let h = harness(&["secret-args.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "secret-args",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    assert_eq!(run.state, RunState::Completed);
    let calls = h.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(
        calls[0].1["token"],
        json!("hunter2secret"),
        "the connector gets the value"
    );
    let task = &run.root.tasks["1"];
    assert_eq!(task.inputs["token"], json!("******"));
    assert_eq!(task.inputs["text"], json!("disk full"));
    let entry = inv.entry(&task.entries[0]).expect("entry");
    assert_eq!(
        entry.parent_content.as_str(),
        r#"!notify token=****** text="disk full""#
    );
    let everything = format!(
        "{}{}",
        serde_json::to_string(&run).unwrap_or_default(),
        serde_json::to_string(&inv.entries).unwrap_or_default()
    );
    assert!(!everything.contains("hunter2secret"), "{everything}");
}

/// A sub-playbook task finds its child by `playbookId`, else by `playbookName` (§8.10): an
/// id no loaded playbook has (a server UUID in an export) falls back to the name.
#[test]
fn sub_playbooks_fall_back_from_the_id_to_the_name() {
    let h = harness(&["fallback.yml", "child.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "fallback",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    assert_eq!(run.state, RunState::Completed, "{:?}", run.root.tasks["1"]);
    let sub = run.root.tasks["1"].sub.as_ref().expect("the child ran");
    assert_eq!(sub.playbook_id, "child");
    assert_eq!(inv.context["Seen"]["host"], json!("default-host"));
}

/// For each (§8.9): an input shorter than the iteration index is absent in that iteration —
/// the child's default does not stand in for an input the task passes (the spec's x=[1,2,3,4],
/// y=[a,b,c,d], z=9 runs (1,a,9), (2,b,), ...); an input the task does not pass still takes
/// the child's default in every iteration.
#[test]
fn for_each_inputs_shorter_than_the_iteration_are_absent() {
    let h = harness(&["for-each-absent.yml", "for-each-child.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    inv.context = json!({"X": [1, 2, 3, 4], "Y": ["a", "b", "c"]});
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "for-each-absent",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(
        inv.context["Out"],
        json!(["1-a-9-wdef", "2-b--wdef", "3-c--wdef", "4---wdef"])
    );
    let plan = run.root.tasks["1"]
        .loop_progress
        .as_ref()
        .and_then(|p| p.for_each_inputs.clone())
        .unwrap_or_default();
    assert_eq!(plan.len(), 4);
    assert!(!plan[1].contains_key("z"));
}

/// `note: true` on a task marks the entries it writes as notes (§2.2, §8.4); other tasks'
/// entries are not.
#[test]
fn task_notes_mark_their_entries() {
    let h = harness(&["notes.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "notes",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    assert_eq!(run.state, RunState::Completed);
    let note_of = |task: &str| -> Vec<bool> {
        run.root.tasks[task]
            .entries
            .iter()
            .filter_map(|id| inv.entry(id))
            .map(|e| e.note)
            .collect()
    };
    assert_eq!(note_of("1"), [true]);
    assert_eq!(note_of("2"), [false]);
}

/// Quiet mode (§2.9): playbook `quiet: true` or task `quietmode: 1` writes the context but no
/// war-room entry, and keeps no task inputs; errors are still written. `quietmode: 2` turns it
/// off for one task, 0 follows the task's own playbook (a sub-playbook its own `quiet`).
#[test]
fn quiet_mode_writes_context_and_errors_but_no_other_entries() {
    let h = harness(&["quiet.yml", "loud.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "quiet",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(inv.context["A"], json!(1), "context is still written");
    assert_eq!(inv.context["B"], json!(2));
    let inherits = &run.root.tasks["1"];
    assert!(inherits.entries.is_empty());
    assert!(inherits.inputs.is_empty(), "{:?}", inherits.inputs);
    assert_eq!(run.root.tasks["2"].entries.len(), 1, "quietmode 2 is off");
    assert_eq!(run.root.tasks["2"].inputs["value"], json!("shown"));
    let error = &run.root.tasks["3"];
    assert_eq!(error.entries.len(), 1);
    assert!(inv.entry(&error.entries[0]).is_some_and(|e| e.is_error()));
    let child = run.root.tasks["4"].sub.as_ref().expect("child ran");
    assert_eq!(child.tasks["1"].entries.len(), 1, "the child is not quiet");
    assert!(child.tasks["2"].entries.is_empty());
    let texts: Vec<String> = inv.entries.iter().map(|e| e.display_text()).collect();
    assert_eq!(texts, ["shown", "still written", "loud"]);
}

/// A condition loop whose exit is a script (§8.9: `scriptId` with `scriptArguments`, or the
/// legacy `exitCondition`) runs it after every iteration against the sub-playbook's context
/// and stops when it answers `yes`; a script that cannot run fails the task.
#[test]
fn condition_loops_exit_when_their_exit_script_says_yes() {
    for playbook in ["counter-loop-script", "counter-loop-legacy"] {
        let (state, progress, context, _) = counter_loop(playbook);
        assert_eq!(state, RunState::Completed, "{playbook}");
        let progress = progress.expect("loop progress");
        assert_eq!(progress.iteration, 3, "{playbook}");
        assert!(!progress.stopped_at_max, "{playbook}");
        assert_eq!(context["Counter"], json!(["x", "x", "x"]), "{playbook}");
    }
    let h = harness(&["counter-loop-script.yml", "counter-step.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "counter-loop-script",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    let answers: Vec<String> = run.root.tasks["1"]
        .entries
        .iter()
        .filter_map(|id| inv.entry(id))
        .map(|e| format!("{} {}", e.parent_content, e.display_text()))
        .collect();
    assert_eq!(
        answers,
        ["!Exists no", "!Exists no", "!Exists value=x yes"],
        "the exit script's entries belong to the task"
    );

    let (state, progress, _, _) = counter_loop("counter-loop-missing");
    assert_eq!(state, RunState::Failed);
    assert_eq!(progress.map(|p| p.iteration), Some(1));
    let h = harness(&["counter-loop-missing.yml", "counter-step.yml"], None);
    let mut inv = Investigation::new("9", incident(1));
    let run = futures::executor::block_on(h.engine.run_playbook(
        &mut inv,
        "counter-loop-missing",
        None,
        &RunOptions::default(),
    ))
    .expect("runs");
    let error = run.root.tasks["1"].error.clone().unwrap_or_default();
    assert!(
        error.starts_with(
            "loop exit script 'NoSuchExitScript': Unsupported command or script: NoSuchExitScript"
        ),
        "{error}"
    );
}
