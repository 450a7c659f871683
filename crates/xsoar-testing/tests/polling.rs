//! GenericPolling, natively and on the virtual clock: the corpus GenericPolling playbook,
//! called by the corpus HelloWorld Scan playbook from its test playbook, with mocks for the
//! scan commands.

mod common;

use common::*;
use serde_json::json;
use std::time::Instant;
use xsoar_content::Library;
use xsoar_testing::{summary_line, MockSet, TestCase};

fn corpus_library() -> Library {
    let mut lib = Library::new();
    for f in [
        "tests/data/corpus/playbooks/playbook-GenericPolling.yml",
        "tests/data/corpus/playbooks/playbook-HelloWorld_Scan.yml",
        "tests/data/corpus/playbooks/playbook-HelloWorld_Scan-Test.yml",
        "tests/data/corpus/integrations/HelloWorld.yml",
    ] {
        lib.add(item(f));
    }
    lib
}

const START: &str = r#"
  - name: scan started
    command: helloworld-scan-start
    args: {hostname: test123.local}
    context:
      HelloWorld.Scan(val.scan_id == obj.scan_id): {scan_id: "100", status: RUNNING, hostname: test123.local}
    readable: Scan 100 started
"#;

const RESULTS: &str = r#"
  - name: scan results
    command: helloworld-scan-results
    args: {scan_id: "100", format: json}
    context:
      HelloWorld.Scan(val.scan_id == obj.scan_id):
        scan_id: "100"
        entity: {entity-id: e-1, ip_address: 10.0.0.7, type: host, vulnerability_status: vulnerable, vulns: [CVE-2024-0001]}
      CVE(val.ID == obj.ID): [{ID: CVE-2024-0001}]
"#;

fn status(label: &str, state: &str, times: Option<u32>) -> String {
    let times = times
        .map(|t| format!("    times: {t}\n"))
        .unwrap_or_default();
    format!(
        r#"
  - name: {label}
    command: helloworld-scan-status
    args: {{scan_id: "100"}}
{times}    context:
      HelloWorld.Scan(val.scan_id == obj.scan_id): {{scan_id: "100", status: {state}}}
"#
    )
}

fn scan_mocks(status_mocks: &str) -> MockSet {
    let text = format!("mocks:{START}{status_mocks}{RESULTS}");
    mocks(&[("helloworld.yml", &text)])
}

fn scan_case(lib: &Library) -> TestCase {
    case(lib, "HelloWorld_Scan-Test")
}

#[tokio::test]
async fn generic_polling_polls_until_the_dt_returns_nothing() {
    let lib = corpus_library();
    let c = scan_case(&lib);
    // RUNNING for the first poll (RunPollingCommand) and the first scheduled one, then done.
    let m = scan_mocks(&format!(
        "{}{}",
        status("running", "RUNNING", Some(2)),
        status("complete", "COMPLETE", None)
    ));
    let runner = runner(lib, m);
    let r = runner.run_one(&c).await;
    assert!(r.passed, "{:?} {:?}", r.failure, r.notes);
    // Polls at 0 (RunPollingCommand), 1 and 2 minutes; at 3 minutes nothing is pending.
    assert_eq!(r.virtual_ms, 3 * 60_000);
    assert_eq!(
        r.notes,
        vec!["GenericPolling for 'helloworld-scan-status' done after 3 min (2 scheduled polls)"]
    );
    // The scan outputs of HelloWorld Scan reached the test playbook's context.
    assert_eq!(
        r.context["HelloWorld"]["Scan"]["entity"]["ip_address"],
        json!("10.0.0.7")
    );
    assert_eq!(r.context["CVE"]["ID"], json!("CVE-2024-0001"));
}

#[tokio::test]
async fn generic_polling_counts_each_status_call() {
    let lib = corpus_library();
    let c = scan_case(&lib);
    let m = scan_mocks(&format!(
        "{}{}",
        status("running", "RUNNING", Some(4)),
        status("complete", "COMPLETE", None)
    ));
    let pb = lib.playbook("HelloWorld_Scan-Test").map(TestCase::of);
    assert_eq!(pb.as_ref(), Some(&c));
    let r = runner(lib, m).run_one(&c).await;
    assert!(r.passed, "{:?}", r.failure);
    // 4 RUNNING answers (0, 1, 2, 3 min), COMPLETE at 4 min, nothing pending at 5 min.
    assert_eq!(r.virtual_ms, 5 * 60_000);
}

#[tokio::test]
async fn generic_polling_stops_at_the_timeout_and_continues() {
    let lib = corpus_library();
    let c = scan_case(&lib);
    let m = scan_mocks(&status("always running", "RUNNING", None));
    let r = runner(lib, m).run_one(&c).await;
    // XSOAR completes the polling task with YES on timeout too: the playbook continues.
    assert!(r.passed, "{:?}", r.failure);
    // HelloWorld_Scan-Test passes Timeout 8 (minutes).
    assert_eq!(r.virtual_ms, 8 * 60_000);
    assert_eq!(
        r.notes,
        vec!["GenericPolling for 'helloworld-scan-status' timed out after 8 min (7 polls); still pending: 100"]
    );
}

#[tokio::test]
async fn a_wrong_dt_path_fails_the_polling_playbook() {
    let lib = corpus_library();
    let c = scan_case(&lib);
    // The status command writes under another key: the dt finds nothing at all.
    let text = format!(
        "mocks:{START}{RESULTS}\n  - command: helloworld-scan-status\n    context: {{Other.Scan: {{scan_id: \"100\"}}}}\n"
    );
    // Make the scan-start answer land elsewhere too, so no HelloWorld.Scan exists in the poll.
    let text = text.replacen(
        "HelloWorld.Scan(val.scan_id == obj.scan_id): {scan_id: \"100\", status: RUNNING, hostname: test123.local}",
        "HelloWorld.Started: {scan_id: \"100\"}",
        1,
    );
    let text = text.replace("scan_id: \"100\", format: json", "format: json");
    let r = runner(lib, mocks(&[("hw.yml", &text)])).run_one(&c).await;
    assert!(!r.passed);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("Incorrect dt path: no ids found")),
        "{:?}",
        r.notes
    );
    let t = r.failure.and_then(|f| f.task).expect("failing task");
    assert_eq!(t.playbook, "GenericPolling");
    assert_eq!(t.task_name, "Scheduled Task Failed");
    assert_eq!(t.error, "GenericPollingScheduledTask encountered an error.");
    assert_eq!(t.reached_from[0].label.as_deref(), Some("NO"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suite_of_polling_playbooks_finishes_in_seconds() {
    // 40 copies of the scan test, each polling for 8 virtual minutes.
    let mut lib = corpus_library();
    let base = std::fs::read_to_string(
        repo().join("tests/data/corpus/playbooks/playbook-HelloWorld_Scan-Test.yml"),
    )
    .unwrap_or_default();
    let mut cases = Vec::new();
    for i in 0..40 {
        let text = base.replace(
            "HelloWorld_Scan-Test",
            &format!("HelloWorld_Scan-Test-{i:02}"),
        );
        lib.add(parse_text(&text, &format!("copy-{i:02}.yml")));
        cases.push(case(&lib, &format!("HelloWorld_Scan-Test-{i:02}")));
    }
    let runner = runner(lib, scan_mocks(&status("always running", "RUNNING", None)));
    let spawner = tokio_spawner();
    let started = Instant::now();
    let results = runner
        .run_suite(&cases, 2, Some(spawner.as_ref()), &mut |_, _, _| {})
        .await;
    let took = started.elapsed();
    assert_eq!(summary_line(&results), "40 passed, 0 failed");
    assert!(results.iter().all(|r| r.virtual_ms == 8 * 60_000));
    assert!(took.as_secs() < 20, "40 polling playbooks took {took:?}");
}

/// A test playbook whose GenericPolling `dt` reads an XSOAR list.
const LIST_DT_TEST: &str = r#"
id: List dt - Test
name: List dt - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: playbook
    task: {name: Poll, playbookName: GenericPolling, type: playbook}
    separatecontext: true
    scriptarguments:
      Ids: {simple: "100"}
      PollingCommandName: {simple: helloworld-scan-status}
      PollingCommandArgName: {simple: scan_id}
      Interval: {simple: "1"}
      Timeout: {simple: "3"}
      dt: {simple: lists.Pending}
"#;

/// GenericPolling reads its `dt` with the `lists` root, as every DT of the engine does: the
/// ids the list holds stay pending until the timeout (without it the dt found nothing).
#[tokio::test]
async fn a_polling_dt_reads_xsoar_lists() {
    let mut lib = corpus_library();
    lib.add(parse_text(LIST_DT_TEST, "list-dt.yml"));
    let c = case(&lib, "List dt - Test");
    let mut template = xsoar_testing::EngineTemplate::new(lib);
    template.lists = xsoar_engine::Lists::from_texts([("Pending".to_owned(), "100".to_owned())]);
    let runner = xsoar_testing::Runner::new(
        template,
        scan_mocks(&status("running", "RUNNING", None)),
        xsoar_testing::RunConfig::default(),
    );
    let r = runner.run_one(&c).await;
    assert!(r.passed, "{:?} {:?}", r.failure, r.notes);
    assert_eq!(
        r.notes,
        vec!["GenericPolling for 'helloworld-scan-status' timed out after 3 min (2 polls); still pending: 100"]
    );
}
