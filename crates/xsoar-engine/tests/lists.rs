//! XSOAR lists: the `lists` DT root (JSON lists parsed, text lists as text) in war-room lines,
//! playbook inputs and conditions; the list builtins and their errors; the observer a front
//! end persists changes with. Also `DeleteContext subplaybook=` from a private sub-playbook.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use xsoar_content::parse_any;
use xsoar_engine::{
    Engine, EngineOptions, Investigation, ListChange, RunOptions, RunState, VirtualClock,
};

fn engine() -> Engine {
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    engine.set_list("Allowed", "ws-01,ws-02");
    engine.set_list(
        "Settings",
        r#"{"team": "ops", "levels": [1, 2, 3], "owners": [{"name": "a", "on": true}, {"name": "b", "on": false}]}"#,
    );
    engine
}

/// Run lines; return the investigation and each line's entries as (type, text).
fn run(engine: &Engine, lines: &[&str]) -> (Investigation, Vec<Vec<(i64, String)>>) {
    let mut inv = Investigation::new("7", json!({"hostname": "ws-02"}));
    let mut out = Vec::new();
    futures::executor::block_on(async {
        for l in lines {
            let before = inv.entries.len();
            engine.execute_line(&mut inv, l).await;
            // Skip the echo of the command line itself.
            out.push(
                inv.entries[before..]
                    .iter()
                    .skip(1)
                    .map(|e| (e.entry_type, e.display_text()))
                    .collect(),
            );
        }
    });
    (inv, out)
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/playbooks/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(engine: &Engine, text: &str, file: &str) {
    let (item, diags) = parse_any(text, file);
    assert!(diags.iter().all(|d| !d.is_error()), "{file}: {diags:?}");
    engine.add_content(vec![item.expect("loads")]);
}

#[test]
fn dt_reads_json_lists_as_json_and_text_lists_as_text() {
    let engine = engine();
    let (inv, _) = run(
        &engine,
        &[
            "!Set key=Text value=${lists.Allowed}",
            "!Set key=Team value=${lists.Settings.team}",
            "!Set key=Levels value=${lists.Settings.levels}",
            "!Set key=On value=${lists.Settings.owners(val.on == true).name}",
            "!Set key=Whole value=${lists.Settings}",
            "!Print value=\"team ${lists.Settings.team}, hosts ${lists.Allowed}\"",
            "!Set key=Missing value=${lists.Nope}",
        ],
    );
    assert_eq!(inv.context["Text"], json!("ws-01,ws-02"));
    assert_eq!(inv.context["Team"], json!("ops"));
    assert_eq!(inv.context["Levels"], json!([1, 2, 3]));
    assert_eq!(inv.context["On"], json!("a"));
    assert_eq!(inv.context["Whole"]["owners"][1]["name"], json!("b"));
    assert!(inv.context.get("Missing").is_none(), "{}", inv.context);
    let printed = inv
        .entries
        .iter()
        .map(|e| e.display_text())
        .find(|t| t.starts_with("team "));
    assert_eq!(printed.as_deref(), Some("team ops, hosts ws-01,ws-02"));
}

#[test]
fn verify_context_reads_lists() {
    let engine = engine();
    let (_, out) = run(
        &engine,
        &[
            "!VerifyContext path=lists.Settings.team expectedValue=ops",
            "!VerifyContext path=lists.Nope",
        ],
    );
    assert_eq!(out[0][0].0, 1, "{out:?}");
    assert_eq!(out[1][0].0, 4, "{out:?}");
}

#[test]
fn get_list_answers_the_text_or_item_not_found() {
    let engine = engine();
    let (_, out) = run(
        &engine,
        &[
            "!getList listName=Settings",
            "!getList Allowed",
            "!getList listName=Nope",
        ],
    );
    assert_eq!(out[0][0].0, 1);
    assert!(out[0][0].1.starts_with(r#"{"team": "ops""#), "{out:?}");
    assert_eq!(out[1], vec![(1, "ws-01,ws-02".to_owned())]);
    assert_eq!(
        out[2],
        vec![(
            4,
            "Item not found (8): there is no list named 'Nope'".to_owned()
        )]
    );
}

#[test]
fn list_commands_change_lists_for_later_reads() {
    let engine = engine();
    let (inv, out) = run(
        &engine,
        &[
            "!addToList listName=Allowed listData=ws-03",
            "!Set key=After value=${lists.Allowed}",
            "!removeFromList listName=Allowed listData=ws-01",
            "!createList listName=Fresh listData=`{\"a\": 1}`",
            "!Set key=Fresh value=${lists.Fresh.a}",
            "!setList listName=Fresh listData=plain",
            "!addToList listName=Pipes listData=x",
            "!createList listName=Pipes listData=",
            "!addToList listName=Pipes listData=x separator=|",
            "!addToList listName=Pipes listData=y separator=|",
            "!removeFromList listName=Pipes listData=x separator=|",
        ],
    );
    assert_eq!(inv.context["After"], json!("ws-01,ws-02,ws-03"));
    assert_eq!(inv.context["Fresh"], json!(1));
    assert_eq!(out[0], vec![(1, "Done".to_owned())]);
    let lists = engine.lists();
    assert_eq!(lists.get("Allowed"), Some("ws-02,ws-03"));
    assert_eq!(lists.get("Fresh"), Some("plain"));
    // addToList needs the list: XSOAR's "The list must already exist".
    assert_eq!(out[6][0].0, 4, "{out:?}");
    assert!(out[6][0].1.contains("'Pipes'"), "{out:?}");
    assert_eq!(
        lists.get("Pipes"),
        Some("y"),
        "an empty list takes no separator"
    );
}

#[test]
fn failing_list_commands_change_nothing() {
    let engine = engine();
    let before = engine.lists();
    let (_, out) = run(
        &engine,
        &[
            "!setList listName=Nope listData=x",
            "!removeFromList listName=Nope listData=x",
            "!removeFromList listName=Allowed listData=ws-01,ws-09",
            "!addToList listName=Allowed",
            "!getList",
        ],
    );
    for (i, entries) in out.iter().enumerate() {
        assert!(
            entries.iter().any(|(t, _)| *t == 4),
            "line {i} must fail: {out:?}"
        );
    }
    assert_eq!(
        out[2][0].1,
        "List 'Allowed' has no item 'ws-09': nothing removed"
    );
    assert_eq!(engine.lists(), before);
}

#[test]
fn the_observer_hears_every_change_a_command_makes() {
    let engine = engine();
    let heard: Arc<Mutex<Vec<ListChange>>> = Arc::default();
    let sink = heard.clone();
    engine.set_list_observer(Some(Arc::new(move |c: &ListChange| {
        sink.lock().unwrap().push(c.clone())
    })));
    run(
        &engine,
        &[
            "!createList listName=New listData=a",
            "!setList listName=Nope listData=x",
            "!addToList listName=New listData=b",
            "!getList New",
        ],
    );
    let heard = heard.lock().unwrap().clone();
    assert_eq!(
        heard,
        vec![
            ListChange {
                name: "New".into(),
                data: "a".into()
            },
            ListChange {
                name: "New".into(),
                data: "a,b".into()
            },
        ]
    );
}

#[test]
fn json_list_data_from_a_playbook_is_stored_as_its_text() {
    let engine = engine();
    let mut inv = Investigation::new("7", json!({}));
    let mut scope = xsoar_engine::ExecScope::default();
    let outcome = futures::executor::block_on(engine.invoke(
        &mut inv,
        &mut scope,
        xsoar_engine::Invocation {
            command: "setList".into(),
            named: vec![
                (
                    "listName".into(),
                    xsoar_engine::ArgInput::Value(json!("Settings")),
                ),
                (
                    "listData".into(),
                    xsoar_engine::ArgInput::Value(json!({"team": "dba"})),
                ),
            ],
            positional: Vec::new(),
            brand: Some("Builtin".into()),
            parent_content: String::new(),
            parent_id: Default::default(),
            from_war_room: false,
        },
    ));
    assert_eq!(outcome.status, xsoar_engine::InvokeStatus::Ok);
    assert_eq!(engine.lists().get("Settings"), Some(r#"{"team":"dba"}"#));
    assert_eq!(engine.lists().root()["Settings"], json!({"team": "dba"}));
}

#[test]
fn playbook_inputs_conditions_and_tasks_see_lists() {
    let engine = engine();
    load(&engine, &fixture("lists.yml"), "lists.yml");
    engine.set_list("Seen", "ws-00");
    let mut inv = Investigation::new("9", json!({"hostname": "ws-02"}));
    let run = futures::executor::block_on(engine.run_playbook(
        &mut inv,
        "lists",
        None,
        &RunOptions::default(),
    ))
    .expect("run starts");
    assert_eq!(run.state, RunState::Completed, "{:?}", run.error);
    assert_eq!(inv.context["Team"], json!("ops"));
    assert_eq!(inv.context["SeenNow"], json!("ws-00,ws-02"));
    assert_eq!(engine.lists().get("Seen"), Some("ws-00,ws-02"));
}

fn run_delete(parent: &str, child: &str, files: (&str, &str), playbook: &str) -> Value {
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    load(&engine, parent, files.0);
    load(&engine, child, files.1);
    let mut inv = Investigation::new("9", json!({}));
    let run = futures::executor::block_on(engine.run_playbook(
        &mut inv,
        playbook,
        None,
        &RunOptions::default(),
    ))
    .expect("run starts");
    assert_eq!(run.state, RunState::Completed, "{:?}", run.error);
    inv.context
}

#[test]
fn delete_context_subplaybook_no_deletes_in_the_parent() {
    let ctx = run_delete(
        &fixture("delete-parent.yml"),
        &fixture("delete-child.yml"),
        ("delete-parent.yml", "delete-child.yml"),
        "delete-parent",
    );
    assert_eq!(ctx, json!({"P": "parent"}));
}

/// The original report: a private child runs `DeleteContext key=G subplaybook=false`, the
/// entry said `Key G deleted`, and `G` stayed.
#[test]
fn delete_context_subplaybook_false_repro() {
    let dir = format!(
        "{}/../../tests/data/subplaybook-delete",
        env!("CARGO_MANIFEST_DIR")
    );
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).expect(f);
    let ctx = run_delete(
        &read("parent2.yml"),
        &read("child2.yml"),
        ("parent2.yml", "child2.yml"),
        "parent2",
    );
    assert!(ctx.get("G").is_none(), "{ctx}");
}

#[test]
fn delete_context_subplaybook_rejects_other_words() {
    let engine = engine();
    let (_, out) = run(&engine, &["!DeleteContext key=A subplaybook=maybe"]);
    assert_eq!(out[0][0].0, 4, "{out:?}");
}
