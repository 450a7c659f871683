//! `xsoar-emu test` end to end: the SIGNL4 test suite with its mocks, a failing suite, the
//! JUnit and JSON reports, sharding, record then replay, and usage errors.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn emu(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xsoar-emu"));
    c.arg("test").args(args).current_dir(root());
    c.env_remove("XSOAR_EMU_CONFIG")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env("RUST_LOG", "warn");
    c
}

fn run(mut cmd: Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the binary runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines that are exactly `N passed, N failed`.
fn summary_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            words.len() == 4
                && words[0].parse::<u32>().is_ok()
                && words[1] == "passed,"
                && words[2].parse::<u32>().is_ok()
                && words[3] == "failed"
        })
        .collect()
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn the_signl4_suite_passes_with_its_mocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("out/report.xml");
    let report = dir.path().join("report.json");
    let (code, out, err) = run(emu(&[
        "tests/playbooks/",
        "--mocks",
        "tests/mocks/",
        "--junit",
        &path_str(&junit),
        "--json",
        &path_str(&report),
    ]));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(summary_lines(&out), vec!["5 passed, 0 failed"], "{out}");
    assert!(out.starts_with("Running 5 test playbooks ("), "{out}");
    // The project's mocks are all for commands, arguments and playbooks that exist.
    assert!(!err.contains("warning"), "{err}");
    for name in [
        "SIGNL4 Alert - Test",
        "SIGNL4 Alert and Close - Test",
        "SIGNL4 Close Alert - Test",
        "SIGNL4 Error 404 - Test",
        "SIGNL4 Rate Limit 429 - Test",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("PASS  {name}  ("))),
            "{name}: {out}"
        );
    }
    assert!(
        out.contains("PASS  SIGNL4 Rate Limit 429 - Test  ("),
        "{out}"
    );
    assert!(out.contains(", virtual 14s)"), "{out}");

    let xml = read(&junit);
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"xsoar-emu test\" package=\"xsoar-emu test\" id=\"0\" tests=\"5\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\""
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 5);
    assert!(!xml.contains("<failure"));
    assert!(
        xml.contains("<testcase name=\"SIGNL4 Error 404 - Test\" classname=\"tests.playbooks\"")
    );

    let doc = json_file(&report);
    assert_eq!(doc["summary"]["passed"], 5);
    assert_eq!(doc["summary"]["failed"], 0);
    assert_eq!(
        doc["tests"][0]["context"]["SIGNL4"]["AlertCreated"]["eventId"],
        "2518236416806594587_3e5a0c2e-7c1f-4a57-9a4e-1f0b6a0d2c11"
    );
}

const BROKEN: &str = r#"
id: Broken Verify - Test
name: Broken Verify - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: regular
    task: {name: Raise the alert, script: "SIGNL4|||signl4_alert", iscommand: true}
    scriptarguments:
      title: {simple: broken}
      message: {simple: broken}
      s4_external_id: {simple: xsoar-test-broken}
    nexttasks: {'#none#': ["2"]}
  "2":
    id: "2"
    type: regular
    task: {name: Expect another event, scriptName: VerifyContext}
    scriptarguments:
      path: {simple: SIGNL4.AlertCreated.eventId}
      expectedValue: {simple: not-the-mocked-id}
"#;

#[test]
fn a_failing_test_playbook_fails_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).expect("folder");
    std::fs::write(extra.join("broken.yml"), BROKEN).expect("write");
    let junit = dir.path().join("report.xml");
    let (code, out, err) = run(emu(&[
        "tests/playbooks/",
        &path_str(&extra),
        "--mocks",
        "tests/mocks/",
        "--junit",
        &path_str(&junit),
        "-j",
        "1",
    ]));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(summary_lines(&out), vec!["5 passed, 1 failed"], "{out}");
    assert!(out.contains("FAIL  Broken Verify - Test  ("), "{out}");
    assert!(
        out.contains("    failed task: 2 'Expect another event' in 'Broken Verify - Test'\n"),
        "{out}"
    );
    assert!(out.contains("    command: !VerifyContext path=SIGNL4.AlertCreated.eventId expectedValue=not-the-mocked-id\n"), "{out}");
    assert!(out.contains("VerifyContext: 'SIGNL4.AlertCreated.eventId' is '2518236416806594587_3e5a0c2e-7c1f-4a57-9a4e-1f0b6a0d2c11', expected 'not-the-mocked-id'"), "{out}");
    assert!(out.contains("      SIGNL4.AlertCreated.eventId = \"2518236416806594587_3e5a0c2e-7c1f-4a57-9a4e-1f0b6a0d2c11\"\n"), "{out}");
    // The file line points at the failing task in the test playbook.
    let task_line = BROKEN
        .lines()
        .position(|l| l.trim_start().starts_with("\"2\":"))
        .map(|i| i + 1)
        .expect("task 2 in the fixture");
    assert!(
        out.contains(&format!(
            "    file: {}:{task_line}\n",
            path_str(&extra.join("broken.yml"))
        )),
        "{out}"
    );
    let xml = read(&junit);
    assert!(xml.contains("tests=\"6\" failures=\"1\""), "{xml}");
    assert_eq!(xml.matches("<failure message=\"task 2 &apos;Expect another event&apos; in &apos;Broken Verify - Test&apos; failed: VerifyContext:").count(), 1, "{xml}");
}

#[test]
fn shards_split_the_suite_and_filters_select() {
    let names = |args: &[&str]| -> Vec<String> {
        let (code, out, err) = run(emu(&[
            &["tests/playbooks/", "--mocks", "tests/mocks/"],
            args,
        ]
        .concat()));
        assert_eq!(code, 0, "{out}\n{err}");
        out.lines()
            .filter_map(|l| l.strip_prefix("PASS  "))
            .map(|l| l.split("  (").next().unwrap_or_default().to_owned())
            .collect()
    };
    let mut first = names(&["--shard", "1/2"]);
    let mut second = names(&["--shard", "2/2"]);
    first.sort();
    second.sort();
    assert_eq!(
        first,
        vec![
            "SIGNL4 Alert - Test",
            "SIGNL4 Close Alert - Test",
            "SIGNL4 Rate Limit 429 - Test"
        ]
    );
    assert_eq!(
        second,
        vec!["SIGNL4 Alert and Close - Test", "SIGNL4 Error 404 - Test"]
    );
    assert_eq!(
        names(&["--filter", "*error*"]),
        vec!["SIGNL4 Error 404 - Test"]
    );
    let (code, out, _) = run(emu(&["tests/playbooks/", "--shard", "3/2"]));
    assert_eq!(code, 2, "{out}");
}

#[test]
fn a_recorded_run_replays_to_the_same_context() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recording = dir.path().join("recorded.yml");
    let recorded_json = dir.path().join("recorded.json");
    let replayed_json = dir.path().join("replayed.json");
    let select = [
        "-k",
        "SIGNL4 Alert - Test",
        "-k",
        "SIGNL4 Close Alert - Test",
    ];
    // Record against the embedded SIGNL4 simulator (no mocks: every command runs for real).
    let (code, out, err) = run(emu(&[
        &["tests/playbooks/"][..],
        &select,
        &[
            "--record",
            &path_str(&recording),
            "--json",
            &path_str(&recorded_json),
        ],
    ]
    .concat()));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(summary_lines(&out), vec!["2 passed, 0 failed"]);
    assert!(err.contains("recorded 3 command executions to"), "{err}");
    let yaml = read(&recording);
    assert!(
        yaml.contains("command: SIGNL4|||signl4_close_alert"),
        "{yaml}"
    );
    // Replay offline from the recording only.
    let (code, out, err) = run(emu(&[
        &["tests/playbooks/"][..],
        &select,
        &[
            "--mocks",
            &path_str(&recording),
            "--json",
            &path_str(&replayed_json),
        ],
    ]
    .concat()));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let recorded = json_file(&recorded_json);
    let replayed = json_file(&replayed_json);
    let tests = recorded["tests"].as_array().cloned().unwrap_or_default();
    assert_eq!(tests.len(), 2);
    for (i, t) in tests.iter().enumerate() {
        let id = t["context"]["SIGNL4"]["AlertCreated"]["eventId"]
            .as_str()
            .unwrap_or_default();
        // The simulator's ids are random UUIDs, never the ones in tests/mocks/.
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(
            replayed["tests"][i]["context"], t["context"],
            "{}",
            t["name"]
        );
    }
}

#[test]
fn usage_errors_exit_with_2_and_say_what_is_wrong() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "mocks:\n  - command: a\n    latency: soon\n").expect("write");
    let (code, _, err) = run(emu(&["tests/playbooks/", "--mocks", &path_str(&bad)]));
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "{}:3:5: mocks[0]: latency 'soon' is not a duration",
            bad.display()
        )),
        "{err}"
    );
    let (code, _, err) = run(emu(&["tests/no-such-folder"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("test path tests/no-such-folder does not exist"),
        "{err}"
    );
    let (code, _, err) = run(emu(&["tests/mocks/"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("no test playbooks found in tests/mocks/"),
        "{err}"
    );
    let (code, out, err) = run(emu(&["tests/playbooks/", "-k", "no-such-test"]));
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("no test playbook matches --filter 'no-such-test' (among "),
        "{err}"
    );
}

#[test]
fn a_misspelt_mock_is_warned_about_before_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mocks = dir.path().join("typo.yml");
    std::fs::write(
        &mocks,
        "mocks:\n  - command: SIGNL4|||signl4_alrt\n    context: {}\n  - command: wildfire-report\n    context: {}\n",
    )
    .expect("mock file");
    let (code, out, err) = run(emu(&[
        "tests/playbooks/",
        "--mocks",
        &path_str(&mocks),
        "-k",
        "SIGNL4 Alert - Test",
    ]));
    // The typo leaves signl4_alert without a mock: the test fails, and the warning says why.
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains(&format!(
            "warning: {}:2: the mock is for 'SIGNL4|||signl4_alrt', which integration 'SIGNL4' does not declare (did you mean 'signl4_alert'?)",
            path_str(&mocks)
        )),
        "{err}"
    );
    // A mock for an integration that is not loaded is what mocks are for: no warning.
    assert!(!err.contains("wildfire-report"), "{err}");
}
