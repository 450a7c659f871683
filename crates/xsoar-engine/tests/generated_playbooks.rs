//! Generated playbooks (proptest): random task graphs — cycles, joins, dangling edges, manual
//! tasks, conditions, errors with and without `continueonerror`, sub-playbooks that recurse or
//! do not exist, loops — written as YAML, loaded and run. Whatever the graph:
//!
//! * loading and running never panic, and a run always stops (completed, failed or waiting)
//!   within the execution limit;
//! * the final state agrees with the tasks: a completed run has no task waiting, running or in
//!   error; a failed one says why (an error task or the engine's reason);
//! * entries are numbered in order and the context stays an object;
//! * a run is reproducible: the same playbook on a fresh incident writes the same entries and
//!   ends in the same state (the virtual clock makes time part of that).

use proptest::prelude::*;
use serde_json::json;
use xsoar_content::parse_any;
use xsoar_engine::{
    Engine, EngineOptions, Investigation, PlaybookRun, RunOptions, RunState, TaskState,
    VirtualClock,
};

const CHILD: &str = r#"id: child
name: child
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1": {id: "1", type: regular, task: {name: mark, scriptName: Set}, scriptarguments: {key: {simple: Child}, value: {simple: "1"}, append: {simple: "true"}}}
"#;

/// One generated task, as the YAML text of its body (without id and edges).
fn task_body() -> impl Strategy<Value = (&'static str, String)> {
    let regular = prop_oneof![
        Just("task: {name: grow, scriptName: Set}, scriptarguments: {key: {simple: Counter}, value: {simple: '${Counter}x'}}".to_owned()),
        Just("task: {name: add, scriptName: Set}, scriptarguments: {key: {simple: Items}, value: {simple: '1'}, append: {simple: 'true'}}".to_owned()),
        Just("task: {name: show, scriptName: Print}, scriptarguments: {value: {simple: 'counter=${Counter}'}}".to_owned()),
        Just("task: {name: forget, scriptName: DeleteContext}, scriptarguments: {key: {simple: Counter}}".to_owned()),
        Just("task: {name: boom, scriptName: PrintErrorEntry}, scriptarguments: {message: {simple: boom}}".to_owned()),
        Just("task: {name: boom, scriptName: PrintErrorEntry}, scriptarguments: {message: {simple: boom}}, continueonerror: true".to_owned()),
        Just("task: {name: missing, scriptName: NoSuchScript}".to_owned()),
        Just("task: {name: missing, scriptName: NoSuchScript}, skipunavailable: true".to_owned()),
        Just("task: {name: analyst step}".to_owned()),
        Just("task: {name: bad dt, scriptName: Print}, scriptarguments: {value: {simple: '${Counter.(}'}}".to_owned()),
    ];
    let condition = prop_oneof![
        Just("task: {name: counter?}, conditions: [{label: 'yes', condition: [[{operator: isNotEmpty, left: {value: {simple: Counter}, iscontext: true}}]]}]".to_owned()),
        Just("task: {name: long?}, conditions: [{label: 'yes', condition: [[{operator: isEqualString, left: {value: {simple: Counter}, iscontext: true}, right: {value: {simple: xxx}}}]]}]".to_owned()),
        Just("task: {name: analyst decides}".to_owned()),
        Just("task: {name: error before?, scriptName: isError}, scriptarguments: {entryId: {simple: '${lastCompletedTaskEntries}'}}".to_owned()),
    ];
    let sub = (
        prop_oneof![Just("gen"), Just("child"), Just("no such playbook")],
        any::<bool>(),
        prop_oneof![
            Just(""),
            Just(", loop: {iscommand: false, exitCondition: '', wait: 1, max: 3}"),
            Just(", loop: {iscommand: false, exitCondition: '', wait: 1, max: 3, forEach: true}"),
            Just(", loop: {iscommand: false, exitCondition: '', wait: 1, max: 4, builtincondition: [[{operator: isNotEmpty, left: {value: {simple: Child}, iscontext: true}}]]}"),
        ],
    )
        .prop_map(|(name, separate, looping)| {
            format!(
                "task: {{name: sub, playbookName: '{name}'}}, separatecontext: {separate}, scriptarguments: {{Host: {{simple: h1}}}}{looping}"
            )
        });
    prop_oneof![
        4 => regular.prop_map(|b| ("regular", b)),
        2 => condition.prop_map(|b| ("condition", b)),
        1 => Just(("title", "task: {name: section}".to_owned())),
        2 => sub.prop_map(|b| ("playbook", b)),
    ]
}

/// A playbook of `n` tasks ("0" is the start task) with random edges.
fn playbook() -> impl Strategy<Value = String> {
    (2usize..9)
        .prop_flat_map(|n| {
            let tasks = prop::collection::vec(task_body(), n - 1);
            // Per task: edges under up to three labels, to ids up to n (n itself dangles).
            let edges = prop::collection::vec(
                (
                    prop::sample::subsequence(vec!["#none#", "yes", "no", "#default#"], 0..3),
                    prop::collection::vec(prop::collection::vec(0..=n, 1..3), 3),
                )
                    .prop_map(|(labels, targets)| {
                        labels.into_iter().zip(targets).collect::<Vec<_>>()
                    }),
                n,
            );
            (Just(n), tasks, edges)
        })
        .prop_map(|(n, tasks, edges)| {
            let mut y = String::from("id: gen\nname: gen\nstarttaskid: \"0\"\ntasks:\n");
            for (i, task_edges) in edges.iter().enumerate().take(n) {
                let mut next = String::new();
                for (label, to) in task_edges {
                    let ids: Vec<String> = to.iter().map(|t| format!("\"{t}\"")).collect();
                    next.push_str(&format!("'{label}': [{}], ", ids.join(", ")));
                }
                let next = format!("nexttasks: {{{}}}", next.trim_end_matches(", "));
                if i == 0 {
                    y.push_str(&format!(
                        "  \"0\": {{id: \"0\", type: start, task: {{name: ''}}, {next}}}\n"
                    ));
                } else {
                    let (kind, body) = &tasks[i - 1];
                    y.push_str(&format!(
                        "  \"{i}\": {{id: \"{i}\", type: {kind}, {body}, {next}}}\n"
                    ));
                }
            }
            y
        })
}

fn engine(yaml: &str) -> Option<Engine> {
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    let (item, _diags) = parse_any(yaml, "gen.yml");
    let (child, _) = parse_any(CHILD, "child.yml");
    engine.add_content(vec![item?, child?]);
    Some(engine)
}

fn options(auto_complete: bool) -> RunOptions {
    RunOptions {
        max_task_executions: 300,
        max_loop_iterations: 5,
        max_depth: 4,
        auto_complete,
        ..RunOptions::default()
    }
}

/// What a run leaves: its state, the task states of the root frame, the entries' texts.
fn outcome(run: &PlaybookRun, inv: &Investigation) -> (RunState, Vec<TaskState>, Vec<String>) {
    (
        run.state,
        run.root.tasks.values().map(|t| t.state).collect(),
        inv.entries
            .iter()
            .map(|e| format!("{} {} {}", e.id, e.entry_type, e.display_text()))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_playbook_graph_runs_to_a_consistent_stop(yaml in playbook(), auto_complete in any::<bool>()) {
        let Some(engine) = engine(&yaml) else {
            // Not loadable (the loader reported why); nothing to run.
            return Ok(());
        };
        let opts = options(auto_complete);
        let mut results = Vec::new();
        for _ in 0..2 {
            let mut inv = Investigation::new("5", json!({"name": "generated", "severity": 2}));
            let run = futures::executor::block_on(engine.run_playbook(&mut inv, "gen", None, &opts));
            let run = match run {
                Ok(run) => run,
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    results.push(None);
                    continue;
                }
            };
            prop_assert!(run.state != RunState::InProgress, "run left in progress:\n{yaml}");
            prop_assert!(run.executions <= opts.max_task_executions + 1, "{} executions:\n{yaml}", run.executions);
            let states: Vec<TaskState> = run.root.tasks.values().map(|t| t.state).collect();
            match run.state {
                RunState::Completed => prop_assert!(
                    !states.iter().any(|s| matches!(s, TaskState::Waiting | TaskState::Running | TaskState::Error)),
                    "completed with tasks {states:?}:\n{yaml}"
                ),
                RunState::Failed => prop_assert!(
                    run.error.is_some() || states.iter().any(|s| matches!(s, TaskState::Error)),
                    "failed without a reason, tasks {states:?}:\n{yaml}"
                ),
                RunState::Waiting => prop_assert!(
                    states.contains(&TaskState::Waiting) || !auto_complete,
                    "waiting with tasks {states:?}:\n{yaml}"
                ),
                RunState::InProgress => {}
            }
            for (i, e) in inv.entries.iter().enumerate() {
                prop_assert_eq!(e.id.as_str(), format!("{}@5", i + 1));
            }
            prop_assert!(inv.context.is_object());
            results.push(Some(outcome(&run, &inv)));
        }
        prop_assert_eq!(&results[0], &results[1], "two runs of the same playbook differ:\n{}", yaml);
    }
}
