//! The runner on whole test playbooks: passing and failing runs and what a failure reports,
//! missing mocks, fixtures (inputs, incident fields, completions), mock order, and parallel
//! and sharded runs giving the serial results.

mod common;

use common::*;
use serde_json::json;
use xsoar_testing::{select, summary_line, EngineTemplate, RunConfig, Runner, Shard, TestCase};

const ALERT_TEST: &str = r#"
id: Inline Alert - Test
name: Inline Alert - Test
starttaskid: "0"
inputs:
- key: ExternalId
  value: {simple: default-ext}
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: regular
    task: {name: DeleteContext, scriptName: DeleteContext}
    scriptarguments: {all: {simple: "yes"}}
    nexttasks: {'#none#': ["2"]}
  "2":
    id: "2"
    type: regular
    task: {name: Raise the alert, script: "SIGNL4|||signl4_alert", iscommand: true}
    scriptarguments:
      title: {simple: "Test ${incident.name}"}
      message: {simple: "severity ${incident.severity}"}
      s4_external_id: {simple: "${inputs.ExternalId}"}
    nexttasks: {'#none#': ["3"]}
  "3":
    id: "3"
    type: regular
    task: {name: Verify the event id, scriptName: VerifyContext}
    scriptarguments:
      path: {simple: SIGNL4.AlertCreated.eventId}
      expectedValue: {simple: ev-1}
    nexttasks: {'#none#': ["4"]}
  "4": {id: "4", type: title, task: {name: Done}}
"#;

fn alert_mock(event_id: &str) -> String {
    format!(
        r#"
mocks:
  - name: alert
    command: SIGNL4|||signl4_alert
    context:
      SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId): {{eventId: {event_id}}}
    readable: '### SIGNL4 alert created'
    raw: {{eventId: {event_id}}}
"#
    )
}

#[tokio::test]
async fn a_passing_test_playbook_passes() {
    let lib = library(vec![parse_text(ALERT_TEST, "alert.yml")]);
    let c = case(&lib, "Inline Alert - Test");
    let mocks = mocks(&[("m.yml", &alert_mock("ev-1"))]);
    let r = runner(lib, mocks).run_one(&c).await;
    assert!(r.passed, "{:?}", r.failure);
    assert_eq!(r.state, "completed");
    assert_eq!(r.failure, None);
    assert_eq!(r.task_executions, 5);
    assert_eq!(
        r.context,
        json!({"SIGNL4": {"AlertCreated": {"eventId": "ev-1"}}})
    );
    assert!(r.missing_mocks.is_empty());
    assert_eq!(r.file, "alert.yml");
}

#[tokio::test]
async fn a_failure_names_the_task_its_command_error_and_reads() {
    let lib = library(vec![parse_text(ALERT_TEST, "alert.yml")]);
    let c = case(&lib, "Inline Alert - Test");
    let mocks = mocks(&[("m.yml", &alert_mock("ev-2"))]);
    let r = runner(lib, mocks).run_one(&c).await;
    assert!(!r.passed);
    assert_eq!(r.state, "failed");
    let f = r.failure.clone().expect("a failure");
    let t = f.task.clone().expect("a failing task");
    assert_eq!(t.task_id, "3");
    assert_eq!(t.task_name, "Verify the event id");
    assert_eq!(t.playbook, "Inline Alert - Test");
    assert!(t.via.is_empty());
    assert_eq!(
        t.command.as_deref(),
        Some("!VerifyContext path=SIGNL4.AlertCreated.eventId expectedValue=ev-1")
    );
    assert_eq!(
        t.error,
        "VerifyContext: 'SIGNL4.AlertCreated.eventId' is 'ev-2', expected 'ev-1'"
    );
    assert_eq!(t.entry_id.as_deref(), Some("3@1"));
    assert_eq!(t.reads.len(), 1);
    assert_eq!(t.reads[0].path, "SIGNL4.AlertCreated.eventId");
    assert_eq!(t.reads[0].value, Some(json!("ev-2")));
    assert_eq!(t.reached_from.len(), 1);
    assert_eq!(t.reached_from[0].task_id, "2");
    assert_eq!(
        f.message,
        "task 3 'Verify the event id' in 'Inline Alert - Test' failed: VerifyContext: 'SIGNL4.AlertCreated.eventId' is 'ev-2', expected 'ev-1'"
    );
    let details = xsoar_testing::failure_details(&r);
    assert!(details.contains("    failed task: 3 'Verify the event id' in 'Inline Alert - Test'\n"));
    assert!(details.contains("      SIGNL4.AlertCreated.eventId = \"ev-2\"\n"));
    assert!(details.contains("    file: alert.yml\n"));
}

const PARENT_TEST: &str = r#"
id: Parent - Test
name: Parent - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: playbook
    task: {name: Run the child, playbookName: Failing Child}
    separatecontext: true
    scriptarguments: {Wanted: {simple: yes-please}}
    nexttasks: {'#none#': ["2"]}
  "2": {id: "2", type: title, task: {name: Done}}
"#;

const FAILING_CHILD: &str = r#"
id: Failing Child
name: Failing Child
starttaskid: "0"
inputs:
- key: Wanted
  value: {}
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: condition
    task: {name: Is the value there?}
    conditions:
    - label: "yes"
      condition:
      - - operator: isEqualString
          left: {value: {simple: Child.Value}, iscontext: true}
          right: {value: {simple: inputs.Wanted}, iscontext: true}
    nexttasks: {'#default#': ["2"], "yes": ["3"]}
  "2":
    id: "2"
    type: regular
    task: {name: Fail, scriptName: PrintErrorEntry}
    scriptarguments: {message: {simple: "Child.Value is not ${inputs.Wanted}"}}
  "3": {id: "3", type: title, task: {name: Done}}
"#;

#[tokio::test]
async fn a_failure_inside_a_sub_playbook_is_reported_at_the_inner_task() {
    let lib = library(vec![
        parse_text(PARENT_TEST, "parent.yml"),
        parse_text(FAILING_CHILD, "child.yml"),
    ]);
    let c = case(&lib, "Parent - Test");
    let r = runner(lib, xsoar_testing::MockSet::new()).run_one(&c).await;
    assert!(!r.passed);
    let t = r.failure.and_then(|f| f.task).expect("a failing task");
    assert_eq!(t.playbook, "Failing Child");
    assert_eq!(t.task_id, "2");
    assert_eq!(
        t.via,
        vec!["1 'Run the child' in 'Parent - Test'".to_owned()]
    );
    assert_eq!(t.error, "Child.Value is not yes-please");
    assert_eq!(t.reads[0].path, "inputs.Wanted");
    assert_eq!(t.reads[0].value, Some(json!("yes-please")));
    // The condition that chose the failure branch, with what it read.
    let p = &t.reached_from[0];
    assert_eq!(p.task_id, "1");
    assert_eq!(p.label.as_deref(), Some("#default#"));
    assert_eq!(p.reads[0].path, "Child.Value");
    assert_eq!(p.reads[0].value, None);
    assert_eq!(p.reads[1].path, "inputs.Wanted");
}

#[tokio::test]
async fn a_command_without_a_mock_fails_naming_the_command_and_the_files_searched() {
    let lib = library(vec![parse_text(ALERT_TEST, "alert.yml")]);
    let c = case(&lib, "Inline Alert - Test");
    let other = r#"
mocks:
  - name: close only
    command: SIGNL4|||signl4_close_alert
    context: {X: 1}
"#;
    let near = r#"
mocks:
  - name: other alert
    command: signl4_alert
    args: {s4_external_id: not-this-one}
    context: {X: 1}
  - command: signl4_alert
    args: {s4_service: "*"}
"#;
    let mocks = mocks(&[("tests/mocks/a.yml", other), ("tests/mocks/b.yml", near)]);
    let r = runner(lib, mocks).run_one(&c).await;
    assert!(!r.passed);
    assert_eq!(r.missing_mocks.len(), 1);
    let msg = &r.missing_mocks[0];
    assert!(
        msg.starts_with("No mock for command 'SIGNL4|||signl4_alert' (title=\"Test Incident 1\" message=\"severity 0\" s4_external_id=default-ext) in test playbook 'Inline Alert - Test'; mock files searched: tests/mocks/a.yml, tests/mocks/b.yml."),
        "{msg}"
    );
    assert!(
        msg.contains("'other alert' (tests/mocks/b.yml:3): argument 's4_external_id' is 'default-ext', expected 'not-this-one'"),
        "{msg}"
    );
    // A mock without a name is named by its place alone, once.
    assert!(
        msg.contains("; tests/mocks/b.yml:7: argument 's4_service' is absent, expected any value."),
        "{msg}"
    );
    let t = r.failure.and_then(|f| f.task).expect("failing task");
    assert_eq!(t.task_id, "2");
    assert_eq!(&t.error, msg);
    // No SIGNL4 instance ran: nothing was written.
    assert_eq!(r.context, json!({}));
}

#[tokio::test]
async fn without_mock_files_the_message_says_so() {
    let lib = library(vec![parse_text(ALERT_TEST, "alert.yml")]);
    let c = case(&lib, "Inline Alert - Test");
    let r = runner(lib, xsoar_testing::MockSet::new()).run_one(&c).await;
    assert!(r.missing_mocks[0].contains("no mock files were given (use --mocks FILE_OR_FOLDER)"));
}

#[tokio::test]
async fn inputs_incident_fields_and_context_come_from_fixtures() {
    let lib = library(vec![parse_text(ALERT_TEST, "alert.yml")]);
    let c = case(&lib, "Inline Alert - Test");
    let file = r#"
mocks:
  - command: SIGNL4|||signl4_alert
    args:
      title: /^Test Phishing/
      message: severity 3
      s4_external_id: ext-42
    context:
      SIGNL4.AlertCreated: {eventId: ev-1}
incident:
  severity: 1
  name: Global name
inputs:
  ExternalId: global-ext
context:
  Before: [1]
playbooks:
  Inline Alert - Test:
    incident: {name: Phishing reported, severity: 3}
    inputs: {ExternalId: ext-42}
"#;
    let r = runner(lib, mocks(&[("fixtures.yml", file)]))
        .run_one(&c)
        .await;
    assert!(r.passed, "{:?}", r.failure);
    // DeleteContext all=yes removed the fixture context before the alert.
    assert_eq!(
        r.context,
        json!({"SIGNL4": {"AlertCreated": {"eventId": "ev-1"}}})
    );
}

const ORDER_TEST: &str = r#"
id: Order - Test
name: Order - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1": {id: "1", type: regular, task: {name: one, script: "SIGNL4|||signl4_alert"}, scriptarguments: {title: {simple: t}, message: {simple: m}, s4_external_id: {simple: same}}, nexttasks: {'#none#': ["2"]}}
  "2": {id: "2", type: regular, task: {name: two, script: "SIGNL4|||signl4_alert"}, scriptarguments: {title: {simple: t}, message: {simple: m}, s4_external_id: {simple: same}}, nexttasks: {'#none#': ["3"]}}
  "3": {id: "3", type: regular, task: {name: three, script: "SIGNL4|||signl4_alert"}, scriptarguments: {title: {simple: t}, message: {simple: m}, s4_external_id: {simple: same}}, nexttasks: {'#none#': ["4"]}}
  "4": {id: "4", type: regular, task: {name: four, script: "SIGNL4|||signl4_alert"}, scriptarguments: {title: {simple: T2}, message: {simple: m}}, nexttasks: {'#none#': ["5"]}}
  "5": {id: "5", type: title, task: {name: Done}}
"#;

#[tokio::test]
async fn several_mocks_of_a_command_answer_in_order() {
    let lib = library(vec![parse_text(ORDER_TEST, "order.yml")]);
    let c = case(&lib, "Order - Test");
    let file = r#"
mocks:
  - name: first
    command: SIGNL4|||signl4_alert
    args: {s4_external_id: same}
    times: 1
    context: {"SIGNL4.AlertCreated(val.eventId == obj.eventId)": {eventId: ev-1}}
  - name: second
    command: SIGNL4|||signl4_alert
    args: {s4_external_id: same}
    times: 1
    latency: 1.5m
    context: {"SIGNL4.AlertCreated(val.eventId == obj.eventId)": {eventId: ev-2}}
  - name: no external id
    command: SIGNL4|||signl4_alert
    args: {s4_external_id: ~, title: /^t2$/i}
    context: {"SIGNL4.AlertCreated(val.eventId == obj.eventId)": {eventId: ev-4}}
  - name: any other
    command: signl4_alert
    args: {s4_external_id: "*"}
    context: {"SIGNL4.AlertCreated(val.eventId == obj.eventId)": {eventId: ev-3}}
"#;
    let r = runner(lib, mocks(&[("order.yml", file)])).run_one(&c).await;
    assert!(r.passed, "{:?}", r.failure);
    assert_eq!(
        r.context,
        json!({"SIGNL4": {"AlertCreated": [
            {"eventId": "ev-1"}, {"eventId": "ev-2"}, {"eventId": "ev-3"}, {"eventId": "ev-4"}
        ]}})
    );
    // The latency of the second mock passed on the virtual clock only.
    assert_eq!(r.virtual_ms, 90_000);
}

/// Every test playbook of the repository with its mocks: the suite CI runs.
fn repo_suite() -> (xsoar_content::Library, Vec<TestCase>) {
    let pbs = repo_test_playbooks();
    let cases = xsoar_testing::test_cases(pbs.iter());
    let lib = library(
        pbs.into_iter()
            .map(xsoar_content::ContentItem::Playbook)
            .collect(),
    );
    (lib, cases)
}

#[tokio::test]
async fn the_signl4_test_playbooks_pass_with_their_mocks() {
    let (lib, cases) = repo_suite();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "SIGNL4 Alert - Test",
            "SIGNL4 Alert and Close - Test",
            "SIGNL4 Close Alert - Test",
            "SIGNL4 Error 404 - Test",
            "SIGNL4 Rate Limit 429 - Test"
        ]
    );
    let runner = runner(lib, repo_mocks());
    let results = runner.run_suite(&cases, 1, None, &mut |_, _, _| {}).await;
    for r in &results {
        assert!(r.passed, "{}: {:?}", r.name, r.failure);
    }
    assert_eq!(summary_line(&results), "5 passed, 0 failed");
    let close = &results[1];
    assert_eq!(
        close.context["SIGNL4"]["AlertCreated"]["eventId"],
        json!("2518236416806594587_5d0c1a9e-2f47-4b8e-a6c3-7e91f04b2d58")
    );
    let throttled = &results[4];
    assert_eq!(throttled.virtual_ms, 14_000);
    assert!(throttled.context["ErrorEntries"][0]
        .as_str()
        .is_some_and(|e| e.starts_with("Error in API call to SIGNL4 integration [429]")));
}

#[tokio::test]
async fn the_product_playbook_waits_without_its_completion_fixture() {
    let (lib, cases) = repo_suite();
    let c = cases
        .iter()
        .find(|c| c.name == "SIGNL4 Alert and Close - Test")
        .cloned()
        .expect("test case");
    let r = runner(lib, repo_mocks_without_fixtures()).run_one(&c).await;
    assert!(!r.passed);
    assert_eq!(r.state, "waiting");
    let f = r.failure.expect("failure");
    assert!(f.message.starts_with("the playbook stopped waiting for a manual task: task 3 'Wait until the on-call team handled the alert' in 'SIGNL4 Alert and Close'"), "{}", f.message);
}

fn repo_mocks_without_fixtures() -> xsoar_testing::MockSet {
    let text = std::fs::read_to_string(repo().join("tests/mocks/signl4.yml")).unwrap_or_default();
    let file = format!(
        "{text}\nplaybooks:\n  SIGNL4 Alert and Close - Test:\n    incident: {{id: \"4242\"}}\n"
    );
    mocks(&[("signl4.yml", &file)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_and_sharded_runs_give_the_serial_results() {
    let (mut lib, mut cases) = repo_suite();
    lib.add(parse_text(ALERT_TEST, "alert.yml"));
    lib.add(parse_text(ORDER_TEST, "order.yml"));
    cases.push(case(&lib, "Inline Alert - Test"));
    cases.push(case(&lib, "Order - Test"));
    let cases = select(cases, &[], None);
    let runner = runner(lib, repo_mocks());
    let serial = timeless(runner.run_suite(&cases, 1, None, &mut |_, _, _| {}).await);
    assert_eq!(serial.len(), 7);
    assert_eq!(summary_line(&serial), "5 passed, 2 failed");

    let spawner = tokio_spawner();
    let mut seen = Vec::new();
    let parallel = timeless(
        runner
            .run_suite(&cases, 4, Some(spawner.as_ref()), &mut |r, done, total| {
                seen.push((r.name.clone(), done, total))
            })
            .await,
    );
    assert_eq!(parallel, serial);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.last().map(|s| (s.1, s.2)), Some((7, 7)));

    let mut sharded = Vec::new();
    for i in 1..=3 {
        let shard = Shard { index: i, count: 3 };
        let part = select(cases.clone(), &[], Some(shard));
        sharded.extend(timeless(
            runner
                .run_suite(&part, 2, Some(spawner.as_ref()), &mut |_, _, _| {})
                .await,
        ));
    }
    sharded.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(sharded, serial);
}

#[test]
fn filters_select_by_substring_or_glob() {
    let (_, cases) = repo_suite();
    let names = |filters: &[&str]| -> Vec<String> {
        let f: Vec<String> = filters.iter().map(|s| (*s).to_owned()).collect();
        select(cases.clone(), &f, None)
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(
        names(&["close"]),
        vec!["SIGNL4 Alert and Close - Test", "SIGNL4 Close Alert - Test"]
    );
    assert_eq!(names(&["signl4 error*"]), vec!["SIGNL4 Error 404 - Test"]);
    assert_eq!(
        names(&["*4[02]9*", "404"]),
        vec!["SIGNL4 Error 404 - Test", "SIGNL4 Rate Limit 429 - Test"]
    );
    assert!(names(&["nothing-like-this"]).is_empty());
}

#[test]
fn in_a_content_repository_only_test_playbooks_folders_hold_tests() {
    let text = |id: &str| {
        format!(
            "id: {id}\nname: {id}\nstarttaskid: \"0\"\ntasks:\n  \"0\": {{id: \"0\", type: start, task: {{name: \"\"}}}}\n"
        )
    };
    let pbs = [
        playbook(
            &text("Helper"),
            "Packs/SIGNL4/Playbooks/playbook-Helper.yml",
        ),
        playbook(
            &text("B - Test"),
            "Packs/SIGNL4/TestPlaybooks/playbook-B_-_Test.yml",
        ),
        playbook(
            &text("A - Test"),
            "Packs/Other/TestPlaybooks/playbook-A_-_Test.yml",
        ),
    ];
    let cases = xsoar_testing::test_cases(pbs.iter());
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["A - Test", "B - Test"]);
    // A plain folder: every playbook is a test.
    let cases = xsoar_testing::test_cases(pbs[..1].iter());
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].file, "Packs/SIGNL4/Playbooks/playbook-Helper.yml");
}

#[tokio::test]
async fn the_investigation_takes_the_incident_id_of_the_fixture() {
    let lib = library(vec![parse_text(ALERT_TEST, "alert.yml")]);
    let c = case(&lib, "Inline Alert - Test");
    let file = format!(
        "{}\nincident: {{id: 77, name: Seventy-seven}}\n",
        alert_mock("ev-2")
    );
    let r = runner(lib, mocks(&[("m.yml", &file)])).run_one(&c).await;
    let t = r.failure.and_then(|f| f.task).expect("failing task");
    assert_eq!(t.entry_id.as_deref(), Some("3@77"));
    assert_eq!(
        t.command.as_deref(),
        Some("!VerifyContext path=SIGNL4.AlertCreated.eventId expectedValue=ev-1")
    );
}

const SECRET_INTEGRATION: &str = r#"
commonfields: {id: SecretInt, version: -1}
name: SecretInt
display: SecretInt
category: Utilities
description: A command with a secret argument.
configuration: []
script:
  type: python
  script: '-'
  commands:
  - name: sec-cmd
    description: d
    arguments:
    - {name: token, description: t, secret: true}
    - {name: other, description: o}
"#;

const SECRET_TEST: &str = r#"
id: Secret - Test
name: Secret - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: regular
    task: {name: call, script: "SecretInt|||sec-cmd", iscommand: true}
    scriptarguments:
      token: {simple: hunter2secret}
      other: {simple: x}
"#;

/// A `secret: true` argument never shows in a failure report, nor in the message of a
/// missing mock (also when a near mock's mismatch would quote the value).
#[tokio::test]
async fn secret_arguments_are_masked_in_failures_and_missing_mock_messages() {
    let lib = library(vec![
        parse_text(SECRET_INTEGRATION, "secret.yml"),
        parse_text(SECRET_TEST, "secret-test.yml"),
    ]);
    let c = case(&lib, "Secret - Test");
    let failing = "mocks:\n  - command: SecretInt|||sec-cmd\n    error: failed on purpose\n";
    let r = runner(lib.clone(), mocks(&[("m.yml", failing)]))
        .run_one(&c)
        .await;
    assert!(!r.passed);
    let t = r
        .failure
        .clone()
        .and_then(|f| f.task)
        .expect("failing task");
    assert_eq!(
        t.command.as_deref(),
        Some("!SecretInt|||sec-cmd token=****** other=x")
    );
    let details = xsoar_testing::failure_details(&r);
    assert!(!details.contains("hunter2secret"), "{details}");

    // The mock's own value of a secret argument is a secret too (a mock file may hold the
    // real password): a mismatch shows neither value, in no report.
    let near = "mocks:\n  - command: SecretInt|||sec-cmd\n    args: {token: other-SECRETPW}\n  - command: SecretInt|||sec-cmd\n    args: {token: /^SECRET-RE/}\n";
    let r = runner(lib, mocks(&[("m.yml", near)])).run_one(&c).await;
    let msg = &r.missing_mocks[0];
    assert!(
        msg.starts_with("No mock for command 'SecretInt|||sec-cmd' (token=****** other=x)"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "m.yml:2: argument 'token' is '******', expected '******' (a secret argument: no value is shown)"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("argument 'token' is '******', expected /******/ (a secret argument: no value is shown)"),
        "{msg}"
    );
    let details = xsoar_testing::failure_details(&r);
    let json = xsoar_testing::json_report(std::slice::from_ref(&r)).to_string();
    let meta = xsoar_testing::JunitMeta {
        name: "t".into(),
        timestamp: "2026-01-01T00:00:00".into(),
        hostname: "h".into(),
    };
    let junit = xsoar_testing::junit_xml(std::slice::from_ref(&r), &meta);
    for shown in [msg, &details, &json, &junit] {
        let xml_quoted = shown.contains("expected &apos;******&apos;");
        assert!(shown.contains("expected '******'") || xml_quoted, "{shown}");
        for secret in ["hunter2secret", "other-SECRETPW", "SECRET-RE"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}

const LISTS_TEST: &str = r#"
id: Lists - Test
name: Lists - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["2"]}}
  "2":
    id: "2"
    type: condition
    task: {name: Enough?, type: condition}
    conditions:
    - label: "yes"
      condition:
      - - operator: greaterThan
          left: {value: {simple: lists.Settings.n}, iscontext: true}
          right: {value: {simple: "2"}}
      - - operator: isNotEmpty
          left: {value: {simple: lists.Pw}, iscontext: true}
    nexttasks:
      'yes': ["3"]
  "3":
    id: "3"
    type: regular
    task: {name: Login, script: "SecretInt|||sec-cmd", iscommand: true}
    scriptarguments:
      token: {simple: "${lists.Pw}"}
      other: {simple: "${lists.Settings.team}"}
"#;

/// The reads of a failure report see XSOAR lists as the engine does (`lists.Settings.n` is
/// 3, not "(nothing)"); what a secret argument reads shows as `******`, also where another
/// task's read holds the same text.
#[tokio::test]
async fn failure_reads_resolve_lists_and_mask_what_secret_arguments_read() {
    let lib = library(vec![
        parse_text(SECRET_INTEGRATION, "secret.yml"),
        parse_text(LISTS_TEST, "lists-test.yml"),
    ]);
    let c = case(&lib, "Lists - Test");
    let mut template = EngineTemplate::new(lib);
    template.lists = xsoar_engine::Lists::from_texts([
        ("Pw".to_owned(), "hunter2-SECRETPW".to_owned()),
        ("Settings".to_owned(), r#"{"team":"ops","n":3}"#.to_owned()),
    ]);
    let failing = "mocks:\n  - command: SecretInt|||sec-cmd\n    error: failed on purpose\n";
    let r = Runner::new(template, mocks(&[("m.yml", failing)]), RunConfig::default())
        .run_one(&c)
        .await;
    let t = r
        .failure
        .clone()
        .and_then(|f| f.task)
        .expect("failing task");
    let reads: Vec<(&str, Option<&serde_json::Value>)> = t
        .reads
        .iter()
        .map(|r| (r.path.as_str(), r.value.as_ref()))
        .collect();
    assert_eq!(
        reads,
        [
            ("lists.Pw", Some(&json!("******"))),
            ("lists.Settings.team", Some(&json!("ops"))),
        ]
    );
    let from = &t.reached_from[0];
    assert_eq!(from.task_name, "Enough?");
    let reads: Vec<(&str, Option<&serde_json::Value>)> = from
        .reads
        .iter()
        .map(|r| (r.path.as_str(), r.value.as_ref()))
        .collect();
    assert_eq!(
        reads,
        [
            ("lists.Settings.n", Some(&json!(3))),
            ("lists.Pw", Some(&json!("******"))),
        ]
    );
    let details = xsoar_testing::failure_details(&r);
    assert!(details.contains("lists.Settings.n = 3"), "{details}");
    assert!(!details.contains("SECRETPW"), "{details}");
}
