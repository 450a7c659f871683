//! Mock files: parsing with located errors, argument matchers (exact, regex, `*`, absent),
//! the order mocks answer in, playbook scoping and fixtures.

use serde_json::{json, Map, Value};
use std::time::Duration;
use xsoar_engine::HookCall;
use xsoar_testing::{MockSet, Selection};

fn parse(text: &str) -> MockSet {
    MockSet::parse_one("m.yml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    match MockSet::parse_one("tests/mocks/bad.yml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn select(set: &MockSet, brand: Option<&str>, command: &str, args: Value) -> Selection {
    select_in(set, "Some - Test", brand, command, args, &[])
}

fn select_in(
    set: &MockSet,
    playbook: &str,
    brand: Option<&str>,
    command: &str,
    args: Value,
    uses: &[u32],
) -> Selection {
    let args: Map<String, Value> = args.as_object().cloned().unwrap_or_default();
    let call = HookCall {
        brand,
        command,
        args: &args,
        instance: None,
        investigation: None,
        private: &[],
    };
    let uses = if uses.is_empty() {
        vec![0; set.mocks().len()]
    } else {
        uses.to_vec()
    };
    set.select(&call, playbook, playbook, &uses, &[])
}

const MATCHERS: &str = r#"
mocks:
  - name: exact
    command: SIGNL4|||signl4_alert
    args: {title: Disk full, count: 5}
    context: {A: 1}
  - name: regex
    command: signl4_alert
    args: {title: /^disk/i}
    context: {A: 2}
  - name: any
    command: signl4_alert
    args: {s4_service: "*"}
    context: {A: 3}
  - name: absent
    command: signl4_alert
    args: {s4_service: ~, title: {equals: "*"}}
    context: {A: 4}
"#;

#[test]
fn exact_values_match_as_json_or_as_text() {
    let set = parse(MATCHERS);
    assert_eq!(
        select(
            &set,
            Some("SIGNL4"),
            "signl4_alert",
            json!({"title": "Disk full", "count": "5"})
        ),
        Selection::Found(0)
    );
    assert_eq!(
        select(
            &set,
            Some("SIGNL4"),
            "signl4_alert",
            json!({"title": "Disk full", "count": 5})
        ),
        Selection::Found(0)
    );
    // The brand restriction: another brand skips the first mock.
    assert_eq!(
        select(
            &set,
            Some("Other"),
            "signl4_alert",
            json!({"title": "Disk full", "count": 5})
        ),
        Selection::Found(1)
    );
}

#[test]
fn regex_any_and_absent_matchers() {
    let set = parse(MATCHERS);
    assert_eq!(
        select(
            &set,
            None,
            "signl4_alert",
            json!({"title": "DISK almost full"})
        ),
        Selection::Found(1)
    );
    assert_eq!(
        select(
            &set,
            None,
            "signl4_alert",
            json!({"title": "CPU", "s4_service": "Ops"})
        ),
        Selection::Found(2)
    );
    // `{equals: "*"}` is the literal star, and `~` wants the argument absent (null counts as absent).
    assert_eq!(
        select(
            &set,
            None,
            "signl4_alert",
            json!({"title": "*", "s4_service": null})
        ),
        Selection::Found(3)
    );
    let Selection::Missing(why) = select(&set, None, "signl4_alert", json!({"title": "CPU"}))
    else {
        panic!("no mock should match");
    };
    assert_eq!(
        why,
        vec![
            "'exact' (m.yml:3) is for brand 'SIGNL4'",
            "'regex' (m.yml:7): argument 'title' is 'CPU', expected /(?i)^disk/",
            "'any' (m.yml:11): argument 's4_service' is absent, expected any value",
            "'absent' (m.yml:15): argument 'title' is 'CPU', expected '*'",
        ]
    );
}

#[test]
fn mocks_answer_in_file_order_until_used_up() {
    let set = parse(
        r#"
mocks:
  - {name: first, command: poll, times: 2, context: {S: 1}}
  - {name: second, command: poll, times: 1, context: {S: 2}}
  - {name: rest, command: poll, context: {S: 3}}
"#,
    );
    let sel = |uses: &[u32]| select_in(&set, "T", None, "poll", json!({}), uses);
    assert_eq!(sel(&[0, 0, 0]), Selection::Found(0));
    assert_eq!(sel(&[1, 0, 0]), Selection::Found(0));
    assert_eq!(sel(&[2, 0, 0]), Selection::Found(1));
    assert_eq!(sel(&[2, 1, 0]), Selection::Found(2));
    assert_eq!(sel(&[2, 1, 50]), Selection::Found(2));
    let only_limited =
        parse("mocks:\n  - {name: once, command: poll, times: 1, context: {S: 1}}\n");
    assert_eq!(
        select_in(&only_limited, "T", None, "poll", json!({}), &[1]),
        Selection::Missing(vec!["'once' (m.yml:2) is used up (times: 1)".to_owned()])
    );
}

#[test]
fn playbook_mocks_come_before_global_ones() {
    let set = parse(
        r#"
mocks:
  - {name: global, command: c, context: {S: global}}
  - {name: mine, command: c, playbook: "Mine*", context: {S: mine}}
  - {name: theirs, command: c, playbook: Theirs - Test, context: {S: theirs}}
"#,
    );
    assert_eq!(
        select_in(&set, "Mine - Test", None, "c", json!({}), &[]),
        Selection::Found(1)
    );
    assert_eq!(
        select_in(&set, "Theirs - Test", None, "c", json!({}), &[]),
        Selection::Found(2)
    );
    assert_eq!(
        select_in(&set, "Another - Test", None, "c", json!({}), &[]),
        Selection::Found(0)
    );
}

#[test]
fn responses_become_result_dicts() {
    let set = parse(
        r#"
mocks:
  - name: context only
    command: a
    context: {"X(val.id == obj.id)": {id: 1}}
  - name: readable and raw
    command: b
    readable: '## Title'
    raw: {id: 1}
  - name: failing
    command: c
    error: boom
    latency: 250ms
  - name: two entries
    command: d
    results:
      - {readable: first}
      - {error: second, type: 4}
  - name: warning
    command: e
    raw: careful
    type: 11
"#,
    );
    let m = set.mocks();
    let a = &m[0].results[0];
    assert_eq!(a.contents, json!({"X(val.id == obj.id)": {"id": 1}}));
    assert_eq!(a.contents_format, "json");
    assert_eq!(
        a.entry_context.get("X(val.id == obj.id)"),
        Some(&json!({"id": 1}))
    );
    let b = &m[1].results[0];
    assert_eq!(b.human_readable.as_deref(), Some("## Title"));
    assert_eq!(b.contents, json!({"id": 1}));
    assert!(b.entry_context.is_empty());
    let c = &m[2].results[0];
    assert!(c.is_error());
    assert_eq!(c.contents, json!("boom"));
    assert_eq!(m[2].latency, Duration::from_millis(250));
    assert_eq!(m[3].results.len(), 2);
    assert_eq!(m[3].results[0].contents, json!("first"));
    assert_eq!(m[3].results[0].contents_format, "markdown");
    assert!(m[3].results[1].is_error());
    assert_eq!(m[4].results[0].entry_type.0, 11);
}

#[test]
fn fixtures_merge_global_and_per_playbook_values() {
    let set = parse(
        r#"
incident: {severity: 1, name: global}
inputs: {A: global, B: global}
complete: [approve=yes]
playbooks:
  "One*":
    incident: {severity: 3}
    inputs: {B: one}
    context: {Seed: [1, 2]}
    complete: [handled]
"#,
    );
    let f = set.fixture_for("One - Test", "One - Test");
    assert_eq!(f.incident.get("severity"), Some(&json!(3)));
    assert_eq!(f.incident.get("name"), Some(&json!("global")));
    assert_eq!(f.inputs.get("A"), Some(&json!("global")));
    assert_eq!(f.inputs.get("B"), Some(&json!("one")));
    assert_eq!(f.context.get("Seed"), Some(&json!([1, 2])));
    let tasks: Vec<(String, Option<String>)> = f
        .complete
        .iter()
        .map(|c| (c.task.clone(), c.label.clone()))
        .collect();
    assert_eq!(
        tasks,
        vec![
            ("approve".to_owned(), Some("yes".to_owned())),
            ("handled".to_owned(), None)
        ]
    );
    let other = set.fixture_for("Two - Test", "Two - Test");
    assert_eq!(other.incident.get("severity"), Some(&json!(1)));
    assert!(other.context.is_empty());
}

#[test]
fn errors_name_the_file_and_line() {
    assert_eq!(
        errors("mocks:\n  - command: a\n    colour: red\n"),
        vec!["tests/mocks/bad.yml:3:5: not a valid mock file: mocks[0]: unknown field `colour`, expected one of `name`, `command`, `playbook`, `args`, `times`, `latency`, `context`, `readable`, `raw`, `format`, `error`, `type`, `results`"]
    );
    assert_eq!(
        errors("mocks:\n  - name: r\n    command: a\n    args:\n      title: /[unclosed/\n"),
        vec!["tests/mocks/bad.yml:5:7: mock 'r': argument 'title': invalid regular expression /[unclosed/: regex parse error:\n    [unclosed\n    ^\nerror: unclosed character class"]
    );
    let e = errors(
        "mocks:\n  - command: a\n    latency: soon\n  - command: b\n    error: x\n    context: {A: 1}\n  - command: '|||'\n  - command: c\n    times: 0\n",
    );
    assert_eq!(e.len(), 4, "{e:?}");
    assert_eq!(e[0], "tests/mocks/bad.yml:3:5: mocks[0]: latency 'soon' is not a duration (examples: 250ms, 2s, 1.5m, 1h, or a number of seconds)");
    assert_eq!(e[1], "tests/mocks/bad.yml:5:5: mocks[1]: `error:` cannot be combined with `context:`, `readable:` or `raw:` (an error entry has only its message)");
    assert_eq!(e[2], "tests/mocks/bad.yml:7:5: mocks[2]: `command:` is empty (give `Brand|||command` or `command`)");
    assert_eq!(e[3], "tests/mocks/bad.yml:9:5: mocks[3]: `times: 0` would never answer; remove the mock or give a positive count");
    assert_eq!(
        errors("mocks: [\n"),
        vec!["tests/mocks/bad.yml:2:1: not a valid mock file: did not find expected node content"]
    );
}

#[test]
fn every_misshapen_mock_of_a_file_is_reported_with_the_others() {
    let e = errors(
        "mocks:\n  - command: a\n    contxt: {A: 1}\n  - command: b\n    times: 0\n  - command: c\n    latency: 3parsecs\n  - command: d\n    args: [x]\nincidnet: {severity: 1}\n",
    );
    assert_eq!(e.len(), 5, "{e:#?}");
    assert!(
        e[0].starts_with(
            "tests/mocks/bad.yml:10:1: not a valid mock file: unknown field `incidnet`"
        ),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with(
            "tests/mocks/bad.yml:3:5: not a valid mock file: mocks[0]: unknown field `contxt`"
        ),
        "{e:#?}"
    );
    assert!(
        e[2].starts_with(
            "tests/mocks/bad.yml:8:3: not a valid mock file: mocks[3]: invalid type: sequence"
        ),
        "{e:#?}"
    );
    assert_eq!(e[3], "tests/mocks/bad.yml:5:5: mocks[1]: `times: 0` would never answer; remove the mock or give a positive count");
    assert!(
        e[4].starts_with("tests/mocks/bad.yml:7:5: mocks[2]: latency '3parsecs' is not a duration"),
        "{e:#?}"
    );
}

#[test]
fn all_files_are_checked_before_failing() {
    let files = vec![
        (
            "a.yml".to_owned(),
            "mocks:\n  - command: a\n    times: 0\n".to_owned(),
        ),
        ("b.yml".to_owned(), "mocks:\n  - command: ''\n".to_owned()),
        ("c.yml".to_owned(), "# only comments\n".to_owned()),
    ];
    let e = MockSet::parse(&files).expect_err("two files are invalid");
    assert_eq!(e.0.len(), 2);
    assert_eq!(e.0[0].file, "a.yml");
    assert_eq!(e.0[1].file, "b.yml");
    let ok = MockSet::parse(&files[2..]).expect("a comment-only file is an empty mock file");
    assert!(ok.mocks().is_empty());
    assert_eq!(ok.files(), ["c.yml".to_owned()]);
}
