//! The binary, driven as a user would: validate, run, instances, playbooks, the embedded and
//! a standalone SIGNL4 simulator, a config file with a secret from the environment.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn emu(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xsoar-emu"));
    c.args(args).current_dir(root());
    c.env_remove("XSOAR_EMU_CONFIG")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env("RUST_LOG", "warn");
    c
}

fn run(cmd: &mut Command) -> (i32, String, String) {
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

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn validate_loads_the_project_and_the_corpus() {
    let (code, out, err) = run(&mut emu(&["validate"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("integrations/SIGNL4/SIGNL4.yml  integration SIGNL4 (2 commands)"),
        "{out}"
    );
    // The project's content uses nothing that is not provided.
    assert!(out.ends_with("; 0 errors, 0 warnings\n"), "{out}");
    let (code, out, err) = run(&mut emu(&["validate", "tests/data/corpus"]));
    assert_eq!(code, 0, "{out}{err}");
    // The corpus uses scripts, commands and sub-playbooks of packs that are not in it: one
    // warning per task; tasks marked skipunavailable get a note instead.
    assert!(
        out.contains(
            "30 files: 8 integrations, 0 scripts, 22 playbooks; 0 errors, 38 warnings, 15 notes"
        ),
        "{out}"
    );
    // What the engine runs natively is not reported (GenericPolling's scripts, builtins).
    for provided in [
        "RunPollingCommand",
        "ScheduleGenericPolling",
        "taskComplete",
        "\"Set\"",
    ] {
        assert!(!out.contains(provided), "{provided}: {out}");
    }
}

#[test]
fn validate_reports_what_no_loaded_file_provides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let task = |id: &str, body: &str| format!("  \"{id}\":\n    id: \"{id}\"\n    {body}\n");
    let mut pb = String::from("id: p\nname: P\nstarttaskid: \"0\"\ntasks:\n");
    pb.push_str(&task("0", "type: start\n    task: {name: s}\n    nexttasks: {'#none#': ['1', '2', '3', '4', '5', '6', '7', '8']}"));
    for (id, body) in [
        ("1", "type: regular\n    task: {name: a, scriptName: NoSuchScript}"),
        ("2", "type: regular\n    task: {name: b, script: 'NoBrand|||no-cmd', iscommand: true}"),
        ("3", "type: regular\n    task: {name: c, script: 'SIGNL4|||signl4_nope', iscommand: true}"),
        ("4", "type: regular\n    task: {name: d, scriptName: NoSuchScript}\n    skipunavailable: true"),
        ("5", "type: condition\n    task: {name: e}\n    conditions: [{label: 'yes', condition: [[{operator: noSuchOp, left: {value: {simple: a}}}]]}]\n    nexttasks: {'yes': ['1']}"),
        ("6", "type: regular\n    task: {name: f, scriptName: Print}\n    scriptarguments: {value: {complex: {root: A, transformers: [{operator: toUpperCse}]}}}"),
        ("7", "type: playbook\n    task: {name: g, playbookName: Nowhere}"),
        ("8", "type: playbook\n    task: {name: h, playbookId: p}"),
    ] {
        pb.push_str(&task(id, body));
    }
    std::fs::write(dir.path().join("a.yml"), &pb).expect("write");
    std::fs::write(
        dir.path().join("b.yml"),
        pb.replace("name: P\n", "name: P2\n"),
    )
    .expect("write");
    let integration =
        std::fs::read_to_string(root().join("integrations/SIGNL4/SIGNL4.yml")).expect("SIGNL4.yml");
    std::fs::write(dir.path().join("s4.yml"), integration).expect("write");
    let (code, out, err) = run(&mut emu(&[
        "validate",
        dir.path().to_str().unwrap_or_default(),
    ]));
    // Warnings and notes do not fail validation.
    assert_eq!(code, 0, "{out}{err}");
    let a = |needle: &str| -> String {
        out.lines()
            .find(|l| l.contains("a.yml:") && l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {out}"))
            .trim()
            .to_owned()
    };
    assert!(
        a("\"NoSuchScript\" is not loaded (at tasks.\"1\"").contains("a.yml:13:"),
        "{out}"
    );
    assert!(
        a("integration \"NoBrand\" (of command \"no-cmd\") is not loaded").contains("a.yml:17:"),
        "{out}"
    );
    assert!(
        a("integration \"SIGNL4\" has no command \"signl4_nope\"").contains("a.yml:21:"),
        "{out}"
    );
    assert!(
        a("note: task \"4\" (\"d\"): script \"NoSuchScript\" is not loaded; the task is skipped")
            .contains("a.yml:25:"),
        "{out}"
    );
    assert!(
        a("unknown condition operator \"noSuchOp\" (closest match: ").contains("a.yml:31:"),
        "{out}"
    );
    assert!(
        a("unknown transformer \"toUpperCse\" (closest match: \"toUpperCase\")")
            .contains("a.yml:37:"),
        "{out}"
    );
    // The sub-playbook warning has its line now.
    assert!(
        a("sub-playbook \"Nowhere\" is not loaded").contains("a.yml:41:"),
        "{out}"
    );
    assert!(
        a("runs itself as a sub-playbook (self-recursion)").contains("a.yml:45:"),
        "{out}"
    );
    let dup = out
        .lines()
        .find(|l| l.contains("playbook id \"p\" is also defined in"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        dup.contains("b.yml:1:1: warning:")
            && dup.contains("a.yml; this file is loaded later, so its playbook replaces that one"),
        "{out}"
    );
    // 8 per playbook file (two of them), and the duplicate id; a note per file.
    assert!(out.contains("; 0 errors, 15 warnings, 2 notes"), "{out}");
}

#[test]
fn validate_reports_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "id: x\nname: x\nstarttaskid: \"0\"\ntasks:\n  \"0\": {id: \"0\", type: start, task: {name: a}\n").expect("write");
    let (code, out, _) = run(&mut emu(&["validate", bad.to_str().unwrap_or_default()]));
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("bad.yml:"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        line.contains("bad.yml:6:1: error: invalid yaml") && line.contains("line 5 column 8"),
        "{out}"
    );
}

/// A symbolic link back to a parent folder is not followed round: each file is loaded once.
#[cfg(unix)]
#[test]
fn validate_does_not_follow_a_link_back_to_a_parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        root().join("playbooks/SIGNL4_Alert_and_Close.yml"),
        dir.path().join("pb.yml"),
    )
    .expect("copy");
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).expect("symlink");
    let (code, out, err) = run(&mut emu(&["validate", &dir.path().to_string_lossy()]));
    assert!(
        out.contains("1 files: 0 integrations, 0 scripts, 1 playbooks"),
        "{out}{err}"
    );
    assert!(!out.contains("loop/"), "{out}");
    assert_ne!(code, 2, "{out}{err}");
}

/// A `${` never closed in a `simple` value is a warning (the engine uses the value as literal
/// text), located in the file, not an error and not silence.
#[test]
fn validate_warns_about_a_dollar_brace_never_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pb = dir.path().join("broken_dt.yml");
    std::fs::write(
        &pb,
        "id: b\nname: B\nstarttaskid: \"0\"\ntasks:\n  \"0\": {id: \"0\", type: start, task: {name: s}, nexttasks: {'#none#': [\"1\"]}}\n  \"1\":\n    id: \"1\"\n    type: regular\n    task: {name: print it, scriptName: Print}\n    scriptarguments:\n      value: {simple: \"sev ${incident.[severity}\"}\n",
    )
    .expect("write");
    let (code, out, err) = run(&mut emu(&["validate", &pb.to_string_lossy()]));
    assert_eq!(code, 0, "a warning only: {out}{err}");
    assert!(
        out.contains("broken_dt.yml:11:")
            && out.contains("warning: task \"1\" (\"print it\"): the '${' at column 5 is never closed; the '[' at column 16")
            && out.contains("0 errors, 1 warnings"),
        "{out}"
    );
}

#[test]
fn validate_reports_each_finding_once_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pb = dir.path().join("dangling.yml");
    std::fs::write(
        &pb,
        "id: d\nname: d\nstarttaskid: \"0\"\ntasks:\n  \"0\": {id: \"0\", type: start, task: {name: ''}, nexttasks: {'#none#': [\"1\", \"9\"]}}\n  \"1\": {id: \"1\", type: playbook, task: {name: sub, playbookName: Nowhere}}\n",
    )
    .expect("write");
    let (code, out, err) = run(&mut emu(&["validate", pb.to_str().unwrap_or_default()]));
    assert_eq!(code, 0, "{out}{err}");
    let missing: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("refers to missing task \"9\""))
        .collect();
    assert_eq!(missing.len(), 1, "{out}");
    assert!(missing[0].contains("dangling.yml:5:"), "{out}");
    let sub: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("sub-playbook \"Nowhere\" is not loaded"))
        .collect();
    assert_eq!(sub.len(), 1, "{out}");
    assert!(out.contains("0 errors, 2 warnings"), "{out}");
}

#[test]
fn run_set_and_print_with_an_incident() {
    let (code, out, err) = run(&mut emu(&[
        "run",
        r#"!Set key=Host value=`{"name": "ws-01", "ip": "10.0.0.5"}`"#,
        r#"!Print value="host is ${Host.name} on incident ${incident.name}""#,
        "--incident",
        "tests/data/incident.json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("host is ws-01 on incident Disk full on db1"),
        "{out}"
    );
    assert!(out.contains("\"ip\": \"10.0.0.5\""), "{out}");
}

#[test]
fn errors_set_the_exit_code() {
    let (code, out, _) = run(&mut emu(&["run", "!nosuch a=b"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("ERROR") && out.contains("Unsupported command or script: nosuch"),
        "{out}"
    );
    let (code, out, _) = run(&mut emu(&["run", "!signl4_alert title=x"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("Missing required argument 'message' for command 'signl4_alert'"),
        "{out}"
    );
    let (code, _, err) = run(&mut emu(&[
        "run",
        "!Print value=x",
        "--incident",
        "no/such/file.json",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("no/such/file.json"), "{err}");
}

#[test]
fn signl4_alert_and_close_on_the_embedded_simulator() {
    let (code, out, err) = run(&mut emu(&[
        "run",
        r#"!signl4_alert title="Disk full" message="db1 at 95%" s4_external_id=inc-42 s4_alerting_scenario=multi_ack"#,
        "!signl4_close_alert s4_external_id=inc-42",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    let created = doc["context"]["SIGNL4"]["AlertCreated"]["eventId"]
        .as_str()
        .unwrap_or_default();
    let closed = doc["context"]["SIGNL4"]["AlertClosed"]["eventId"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !created.is_empty() && !closed.is_empty() && created != closed,
        "{doc}"
    );
    let entries = doc["entries"].as_array().cloned().unwrap_or_default();
    let results: Vec<&Value> = entries.iter().filter(|e| e["brand"] == "SIGNL4").collect();
    assert_eq!(results.len(), 2);
    assert!(results
        .iter()
        .all(|e| e["simulated"] == true && e["instance"] == "signl4-simulator"));
    assert_eq!(
        results[0]["humanReadable"],
        format!("### SIGNL4 alert created\n|eventId|\n|---|\n| {created} |\n")
    );
    let alerts = doc["simulator"].as_array().cloned().unwrap_or_default();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["status"], "resolved");
    assert_eq!(alerts[0]["externalId"], "inc-42");
    assert_eq!(alerts[0]["scenario"], "multi_ack");
    // The human output says the simulator was used.
    let (code, out, _) = run(&mut emu(&[
        "run",
        "!signl4_alert title=x message=y",
        "!signl4_close s4_external_id=z",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(embedded SIGNL4 simulator)")
            && out.contains("SIGNL4 alert created")
            && out.contains("SIGNL4 alert closed"),
        "{out}"
    );
}

#[test]
fn no_simulator_fails_clearly() {
    let (code, out, _) = run(&mut emu(&[
        "run",
        "!signl4_alert title=x message=y",
        "--no-simulator",
    ]));
    assert_eq!(code, 1);
    assert!(
        out.contains("No enabled integration instance implements 'signl4_alert'"),
        "{out}"
    );
}

/// Warnings written to a pipe or a file (CI logs, `2> log`) are plain text: no terminal
/// colour codes around the level, the target or the fields.
#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("xsoar-emu.yaml");
    std::fs::write(
        &config,
        format!("instances:\n- name: down\n  brand: SIGNL4\n  params:\n    secret: team-secret-0123\n    url: {url}\n"),
    )
    .expect("config");
    let (code, out, err) = run(&mut emu(&[
        "run",
        "!signl4_alert title=x message=y",
        "--config",
        config.to_str().unwrap_or_default(),
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(" WARN xsoar_signl4::http: retrying SIGNL4 webhook request"),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "{err:?}");
}

#[test]
fn configured_instance_with_a_secret_from_the_environment() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secret = "team-s3cret-from-env";
    let sim =
        xsoar_signl4::sim::Simulator::new(xsoar_signl4::sim::SimConfig::with_secrets([secret]));
    let handle = rt
        .block_on(xsoar_signl4::sim::spawn(
            sim,
            "127.0.0.1:0".parse().expect("addr"),
        ))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("xsoar-emu.yaml");
    std::fs::write(
        &config,
        format!(
            "instances:\n- name: oncall\n  brand: SIGNL4\n  params:\n    secret: {{env: SIGNL4_SECRET}}\n    url: {}\n    proxy: false\n",
            handle.url()
        ),
    )
    .expect("config");
    let cfg = config.to_str().unwrap_or_default();
    let (code, out, err) = run(emu(&[
        "run",
        "!signl4_alert title=Paged message=m s4_external_id=e1",
        "--json",
        "--config",
        cfg,
    ])
    .env("SIGNL4_SECRET", secret));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["entries"][1]["instance"], "oncall");
    assert!(
        doc["simulator"].is_null(),
        "no embedded simulator when SIGNL4 is configured"
    );
    assert!(!out.contains(secret) && !err.contains(secret));
    assert_eq!(
        handle.simulator().alerts_with_external_id("e1").len(),
        1,
        "the alert reached the configured service"
    );
    let (code, out, _) = run(emu(&["instances", "--config", cfg]).env("SIGNL4_SECRET", secret));
    assert_eq!(code, 0);
    assert!(
        out.contains("oncall  brand=SIGNL4  enabled")
            && out.contains("******")
            && !out.contains(secret),
        "{out}"
    );
    let (code, out, _) =
        run(emu(&["test-instance", "oncall", "--config", cfg]).env("SIGNL4_SECRET", secret));
    assert_eq!((code, out.trim()), (0, "ok"));
    // A wrong secret: the service answers 404 and the error says what to check, without the secret.
    let (code, out, _) = run(
        emu(&["run", "!signl4_alert title=x message=y", "--config", cfg])
            .env("SIGNL4_SECRET", "wrong-secret"),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("[404]") && !out.contains("wrong-secret"),
        "{out}"
    );
    // The variable missing: a clear start-up error.
    let (code, _, err) =
        run(emu(&["run", "!Print value=x", "--config", cfg]).env_remove("SIGNL4_SECRET"));
    assert_eq!(code, 2);
    assert!(
        err.contains("environment variable 'SIGNL4_SECRET' is not set"),
        "{err}"
    );
    drop(handle);
}

/// A config instance whose brand names no loaded integration is a start-up error with a hint,
/// never a silent fallback to the embedded simulator; its secrets are not printed.
#[test]
fn misspelt_brand_in_the_config_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("xsoar-emu.yaml");
    std::fs::write(
        &config,
        "instances:\n- name: oncall\n  brand: SIGNAL4\n  params:\n    secret: {env: QA_S4_SECRET}\n    password: hunter2\n",
    )
    .expect("config");
    let cfg = config.to_str().unwrap_or_default();
    for args in [
        vec!["instances", "--config", cfg],
        vec!["run", "!signl4_alert title=x message=y", "--config", cfg],
    ] {
        let (code, out, err) = run(emu(&args).env("QA_S4_SECRET", "topsecret-abc123"));
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains("instance 'oncall': no integration named 'SIGNAL4' is loaded (did you mean 'SIGNL4'?)")
                && err.contains("xsoar-emu.yaml"),
            "{err}"
        );
        assert!(
            !out.contains("topsecret") && !err.contains("topsecret") && !err.contains("hunter2"),
            "{out}{err}"
        );
    }
}

/// A parameter the integration does not declare (a misspelt `url`) is refused, not ignored:
/// ignored, the default URL would send the alerts to the real SIGNL4 service.
#[test]
fn misspelt_parameter_in_the_config_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("xsoar-emu.yaml");
    std::fs::write(
        &config,
        "instances:\n- name: oncall\n  brand: SIGNL4\n  params:\n    secret: {env: QA_S4_SECRET}\n    urll: http://127.0.0.1:9\n",
    )
    .expect("config");
    let cfg = config.to_str().unwrap_or_default();
    for args in [
        vec!["instances", "--config", cfg],
        vec!["test-instance", "oncall", "--config", cfg],
        vec!["run", "!signl4_alert title=x message=y", "--config", cfg],
        vec![
            "test",
            "tests/playbooks",
            "--mocks",
            "tests/mocks",
            "--config",
            cfg,
        ],
    ] {
        let (code, out, err) = run(emu(&args).env("QA_S4_SECRET", "topsecret-abc123"));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(
            err.contains("instance 'oncall': integration SIGNL4 has no parameter 'urll' (did you mean 'url'?)")
                && err.contains("xsoar-emu.yaml"),
            "{args:?}: {err}"
        );
        assert!(
            !out.contains("topsecret") && !err.contains("topsecret"),
            "{out}{err}"
        );
    }
    // `url` is read by the connector even with the official pack's YAML, which lacks it.
    std::fs::write(
        &config,
        "instances:\n- name: oncall\n  brand: SIGNL4\n  params:\n    secret: {env: QA_S4_SECRET}\n    url: http://127.0.0.1:9\n",
    )
    .expect("config");
    let (code, out, err) = run(emu(&[
        "instances",
        "--config",
        cfg,
        "-C",
        "tests/data/corpus/integrations/SIGNL4.yml",
    ])
    .env("QA_S4_SECRET", "topsecret-abc123"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("url:"), "{out}");
}

/// `debug-mode=true` shows the debug log under its entry, and `--json` carries it in `files`;
/// the simulator's secret is masked in both.
#[test]
fn debug_mode_log_is_shown_by_run() {
    let line = "!signl4_alert title=a message=b debug-mode=true";
    let (code, out, err) = run(&mut emu(&["run", line]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("debug log file 'signl4_alert-debug.log'")
            && out.contains("│ Executed: signl4_alert")
            && out.contains("request body: {\"Title\":\"a\"")
            && out.contains("/webhook/******"),
        "{out}"
    );
    let (code, out, _) = run(&mut emu(&["run", line, "--json"]));
    assert_eq!(code, 0, "{out}");
    let doc = json(&out);
    let debug = doc["entries"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == 16))
        .cloned()
        .unwrap_or_default();
    assert_eq!(debug["parentContent"], line);
    let file_id = debug["fileID"].as_str().unwrap_or_default();
    let log = doc["files"][file_id].as_str().unwrap_or_default();
    assert!(log.starts_with("Executed: signl4_alert\n"), "{doc}");
    assert!(log.contains("/webhook/******"), "{log}");
}

/// The command line the terminal output repeats is the war room's echo, with secret arguments
/// masked, even when the line does not parse.
#[test]
fn run_output_masks_secret_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yml = dir.path().join("vault.yml");
    std::fs::write(
        &yml,
        "commonfields: {id: Vault, version: -1}\nname: Vault\ndisplay: Vault\ncategory: Utilities\ndescription: d\nconfiguration: []\nscript:\n  type: python\n  script: ''\n  commands:\n  - name: vault-login\n    description: d\n    arguments:\n    - {name: user, description: u}\n    - {name: pw, description: p, secret: true}\n",
    )
    .expect("yaml");
    let content = yml.to_str().unwrap_or_default();
    for line in [
        "!vault-login user=me pw=hunter2",
        "!vault-login user=me pw=\"hunter2",
    ] {
        let (_, out, err) = run(&mut emu(&["run", "-C", content, line]));
        assert!(out.contains("» !vault-login user=me pw=******"), "{out}");
        assert!(
            !out.contains("hunter2") && !err.contains("hunter2"),
            "{out}{err}"
        );
    }
}

#[test]
fn playbook_run_reports_and_exit_codes() {
    let pb = "playbooks/SIGNL4_Alert_and_Close.yml";
    let (code, out, _) = run(&mut emu(&[
        "playbook",
        "run",
        pb,
        "--incident",
        "tests/data/incident.json",
    ]));
    assert_eq!(code, 3, "waiting for the manual task: {out}");
    assert!(
        out.contains("waiting for a manual task") && out.contains("--complete"),
        "{out}"
    );
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        pb,
        "--incident",
        "tests/data/incident.json",
        "--complete",
        "handled",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["run"]["state"], "completed");
    let tasks = doc["run"]["root"]["tasks"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let states: Vec<(String, String)> = tasks
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("0", "Completed"),
            ("1", "Completed"),
            ("2", "Completed"),
            ("3", "Completed"),
            ("4", "Completed"),
            ("5", "Completed"),
            ("6", "Completed"),
            ("7", "NotExecuted")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(doc["simulator"][0]["status"], "resolved");
    let (code, out, _) = run(&mut emu(&[
        "playbook",
        "run",
        "SIGNL4 Page On-Call Teams",
        "--incident",
        "tests/data/incident.json",
        "--virtual-clock",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Paged ops,dba with the multi_ack scenario"),
        "{out}"
    );
    let (code, _, err) = run(&mut emu(&["playbook", "run", "No Such Playbook"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("playbook 'No Such Playbook' is not loaded"),
        "{err}"
    );
}

/// An `--input` the playbook does not declare is refused (exit 2, nothing runs) instead of
/// being ignored while the input's default applies.
#[test]
fn playbook_run_refuses_an_input_the_playbook_does_not_declare() {
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        "playbooks/SIGNL4_Alert_and_Close.yml",
        "--input",
        "alertingScenario=emergency",
        "--virtual-clock",
    ]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("--input alertingScenario: playbook 'SIGNL4 Alert and Close' has no input 'alertingScenario' (did you mean 'AlertingScenario'?)"),
        "{err}"
    );
    assert!(!out.contains("SIGNL4 alert created"), "nothing ran: {out}");
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        "playbooks/SIGNL4_Alert_and_Close.yml",
        "--input",
        "AlertingScenario=emergency",
        "--complete",
        "handled",
        "--virtual-clock",
    ]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn playbook_list_is_sorted_by_name_and_shows_ids_that_differ() {
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "list",
        "-C",
        "tests/data/corpus/playbooks",
    ]));
    assert_eq!(code, 0, "{err}");
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split("  ").next().unwrap_or_default())
        .collect();
    assert!(names.len() > 20, "{out}");
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "{out}");
    assert!(
        out.contains(
            "Context Polling - Generic  [id: 7b617a6e-2b12-43cc-87e4-9d58818aec8a]  (3 tasks)"
        ),
        "{out}"
    );
    assert!(
        out.contains("SIGNL4 Page Team  (5 tasks)  playbooks/SIGNL4_Page_Team.yml"),
        "{out}"
    );
}

/// ARCHITECTURE.md invariant 1: the engine crates do no IO, so nothing in their (transitive)
/// dependency tree is an HTTP, database or async-runtime crate. `cargo tree` resolves for
/// this platform only, so it works offline on a fresh machine (`cargo metadata` would want
/// every other platform's crates downloaded too).
#[test]
fn engine_crates_depend_on_no_io_crate() {
    for name in [
        "xsoar-engine",
        "xsoar-context",
        "xsoar-content",
        "xsoar-connector",
    ] {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["tree", "-p", name, "-e", "normal", "--prefix", "none"])
            .args(["--locked", "--offline"])
            .current_dir(root())
            .output()
            .expect("cargo tree");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        let deps: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(deps.first() == Some(&name), "{name} heads its tree: {tree}");
        for forbidden in [
            "reqwest",
            "axum",
            "hyper",
            "mio",
            "rusqlite",
            "tokio",
            "xsoar-signl4",
            "xsoar-store",
            "xsoar-server",
        ] {
            assert!(!deps.contains(&forbidden), "{name} depends on {forbidden}");
        }
    }
}

#[test]
fn the_official_pack_yaml_dispatches_to_the_same_connector() {
    let (code, out, err) = run(&mut emu(&[
        "run",
        "-C",
        "tests/data/corpus/integrations/SIGNL4.yml",
        "!signl4_alert title=x message=y s4_external_id=pack-1 s4_filtering=true",
        "!signl4_close s4_external_id=pack-1",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert!(
        doc["context"]["SIGNL4"]["AlertCreated"]["eventId"].is_string(),
        "{doc}"
    );
    assert!(
        doc["context"]["SIGNL4"]["AlertClosed"]["eventId"].is_string(),
        "{doc}"
    );
    assert_eq!(doc["simulator"][0]["status"], "resolved");
    assert_eq!(doc["simulator"][0]["filtering"], true);
}

#[test]
fn embedded_content_runs_outside_a_checkout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(emu(&[
        "playbook",
        "run",
        "SIGNL4 Alert and Close",
        "--auto-complete",
        "--json",
    ])
    .current_dir(dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["run"]["state"], "completed");
}

#[test]
fn standalone_simulator_throttles_at_its_quota() {
    use std::io::{BufRead, BufReader};
    let mut child = emu(&[
        "signl4-sim",
        "--port",
        "0",
        "--quota",
        "2",
        "--window",
        "60",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("the simulator starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("throttling") {
        if lines.read_line(&mut banner).expect("banner") == 0 {
            break;
        }
    }
    let url = banner
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("SIGNL4 simulator listening on "))
        .unwrap_or_else(|| panic!("no URL in: {banner}"))
        .trim()
        .to_owned();
    assert!(
        banner.contains("throttling: 429 after 2 webhook requests per 60 s"),
        "{banner}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let webhook = format!("{url}/webhook/{}", xsoar_signl4::sim::DEFAULT_SIM_SECRET);
    let (statuses, limit, alerts) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut statuses = Vec::new();
        let mut limit = None;
        for i in 0..3 {
            let r = client
                .post(&webhook)
                .json(&serde_json::json!({"Title": format!("t{i}"), "Message": "m"}))
                .send()
                .await
                .expect("post");
            limit = r
                .headers()
                .get("x-ratelimit-limit")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            statuses.push(r.status().as_u16());
        }
        let alerts: Value = client
            .get(format!("{url}/alerts"))
            .send()
            .await
            .expect("alerts")
            .json()
            .await
            .expect("alerts JSON");
        (statuses, limit, alerts)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(statuses, [201, 201, 429]);
    assert_eq!(limit.as_deref(), Some("2"));
    let count = alerts
        .as_array()
        .or_else(|| alerts["alerts"].as_array())
        .map(Vec::len);
    assert_eq!(count, Some(2), "{alerts}");
}

/// The standalone simulator's banner says which secret its webhook takes: the built-in one in
/// a URL that works as printed, or that secrets were given (never their values); and the
/// latency when replies are delayed.
#[test]
fn standalone_simulator_banner_names_the_webhook_to_use() {
    use std::io::{BufRead, BufReader};
    // Up to `lines` lines of the banner; whatever came within 20 s (the simulator then waits
    // for Ctrl-C, so a shorter banner must not hang the test).
    let banner = |extra: &[&str], lines: usize| -> String {
        let mut args = vec!["signl4-sim", "--port", "0"];
        args.extend(extra);
        let mut child = emu(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the simulator starts");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut banner = String::new();
        for _ in 0..lines {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => banner.push_str(&format!("{line}\n")),
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        banner
    };
    let default = banner(&["--latency-ms", "25"], 5);
    let url = default
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("SIGNL4 simulator listening on "))
        .unwrap_or_else(|| panic!("{default}"));
    assert!(
        default.contains(&format!(
            "  webhook: POST {url}/webhook/{}   (the built-in secret; --secret sets yours)\n  alerts: GET {url}/alerts\n",
            xsoar_signl4::sim::DEFAULT_SIM_SECRET
        )),
        "{default}"
    );
    assert!(
        default.ends_with("  latency: every webhook reply delayed by 25 ms\n"),
        "{default}"
    );
    let given = banner(&["--secret", "team-a-0123", "--secret", "team-b-4567"], 4);
    assert!(
        given.contains("/webhook/<secret>   (one of the 2 given with --secret)"),
        "{given}"
    );
    assert!(
        !given.contains("team-a-0123") && !given.contains("team-b-4567"),
        "{given}"
    );
}

/// The standalone simulator refuses options that would make it misbehave, and says which
/// address it could not listen on.
#[test]
fn standalone_simulator_refuses_bad_options() {
    for (args, expected) in [
        (vec!["--window", "0"], "--window must be at least 1 second"),
        (
            vec!["--secret", ""],
            "--secret \"\": a webhook secret is one URL path segment",
        ),
        (
            vec!["--secret", "a/b"],
            "--secret \"a/b\": a webhook secret",
        ),
    ] {
        let mut all = vec!["signl4-sim", "--port", "0"];
        all.extend(args);
        let (code, out, err) = run(&mut emu(&all));
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains(expected), "{err}");
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (code, _, err) = run(&mut emu(&["signl4-sim", "--port", &port]));
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}: ")),
        "{err}"
    );
}

#[test]
fn playbook_run_refuses_broken_files_and_unknown_completions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_start = dir.path().join("bad-start.yml");
    std::fs::write(
        &bad_start,
        "id: b\nname: B\nstarttaskid: \"9\"\ntasks:\n  \"0\": {id: \"0\", type: start, task: {name: s}}\n",
    )
    .expect("write");
    let tasks_list = dir.path().join("tasks-list.yml");
    std::fs::write(
        &tasks_list,
        "id: l\nname: L\nstarttaskid: \"0\"\ntasks: [1, 2]\n",
    )
    .expect("write");
    for file in [&bad_start, &tasks_list] {
        let path = file.to_string_lossy().into_owned();
        let (code, out, err) = run(&mut emu(&["playbook", "run", &path]));
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains("before running it"), "{err}");
        assert!(!out.contains("Playbook"), "nothing ran: {out}");
    }
    let binary = dir.path().join("binary.yml");
    std::fs::write(&binary, b"id: x\nname: \xff\xfe\n").expect("write");
    let path = binary.to_string_lossy().into_owned();
    let (code, _, err) = run(&mut emu(&["playbook", "run", &path]));
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "cannot read {path}: stream did not contain valid UTF-8"
        )),
        "{err}"
    );
    let ask = dir.path().join("ask.yml");
    std::fs::write(
        &ask,
        r#"id: ask
name: Ask
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: s}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: condition
    task: {name: Acknowledge?}
    message: {to: {simple: admin}, subject: {simple: s}, body: {simple: b}, methods: [email], format: "", replyOptions: ["Ack", "Nack"]}
    nexttasks: {'Ack': ["2"], '#default#': ["3"]}
  "2": {id: "2", type: title, task: {name: acked}}
  "3": {id: "3", type: title, task: {name: not acked}}
"#,
    )
    .expect("write");
    let path = ask.to_string_lossy().into_owned();
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        &path,
        "--complete",
        "1=Later",
    ]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(
            "task 1 (Acknowledge?) does not offer 'Later' (it offers: Ack, Nack, #default#)"
        ),
        "{err}"
    );
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        &path,
        "--complete",
        "nosuchtask",
    ]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no task 'nosuchtask'"), "{err}");
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        &path,
        "--complete",
        "1=nack",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["run"]["root"]["tasks"]["3"]["state"], "Completed");
    assert_eq!(doc["run"]["root"]["tasks"]["2"]["state"], "NotExecuted");
}

/// The corpus "Context Polling - Generic" playbook: GenericPolling with the native
/// `CheckContextValue`, whose first run (inside `RunPollingCommand`) and later polls read the
/// investigation's context from within the private context of the polling sub-playbook.
#[test]
fn context_polling_reads_the_investigation_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = dir.path().join("ctx.json");
    let poll = |context: &str| {
        std::fs::write(&ctx, context).expect("write");
        let ctx = ctx.to_string_lossy().into_owned();
        run(&mut emu(&[
            "playbook",
            "run",
            "tests/data/corpus/playbooks/playbook-Context_Polling_-_Generic.yml",
            "-C",
            "tests/data/corpus/playbooks/playbook-GenericPolling.yml",
            "--context",
            &ctx,
            "--input",
            "key=Job.Status",
            "--input",
            "value=^done$",
            "--virtual-clock",
            "--json",
        ]))
    };
    // Already there: the first run finds it and nothing is scheduled.
    let (code, out, err) = poll(r#"{"Job": {"Status": "done"}}"#);
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["run"]["state"], "completed", "{out}");
    // GenericPolling runs in a private context: the answer is in its entries.
    let said = |doc: &Value, text: &str| {
        doc["entries"].as_array().is_some_and(|e| {
            e.iter()
                .any(|e| e["contents"]["exists"] == json!(text == "yes"))
        })
    };
    assert!(said(&doc, "yes") && !said(&doc, "no"), "{out}");
    assert!(
        doc["notes"].as_array().is_some_and(|n| n
            .iter()
            .any(|n| n.as_str().is_some_and(|s| s.contains("0 scheduled polls")))),
        "{}",
        doc["notes"]
    );
    // Another value: every poll says no.
    let (_, out, err) = poll(r#"{"Job": {"Status": "running"}}"#);
    let doc = json(&out);
    assert!(said(&doc, "no") && !said(&doc, "yes"), "{out}{err}");
    // Polled every minute up to the playbook's 10-minute timeout, then the playbook goes on.
    let answers = doc["entries"].as_array().map_or(0, |e| {
        e.iter()
            .filter(|e| e["contents"]["exists"] == json!(false))
            .count()
    });
    assert!(answers >= 5, "the first run and the polls: {out}");
    assert_eq!(doc["run"]["state"], "completed", "{out}");
}

#[test]
fn playbook_run_performs_generic_polling_natively() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pb = dir.path().join("poll.yml");
    std::fs::write(
        &pb,
        r#"id: poll-parent
name: Poll Parent
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: s}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: regular
    task: {name: start job, scriptName: Set}
    scriptarguments: {key: {simple: Job}, value: {simple: '{"id": "7", "status": "done"}'}}
    nexttasks: {'#none#': ["2"]}
  "2":
    id: "2"
    type: playbook
    task: {name: wait for the job, playbookName: GenericPolling}
    separatecontext: true
    scriptarguments:
      Ids: {simple: '${Job.id}'}
      PollingCommandName: {simple: Print}
      PollingCommandArgName: {simple: value}
      dt: {simple: "Job(val.status != 'done').id"}
      Interval: {simple: "1"}
      Timeout: {simple: "5"}
    nexttasks: {'#none#': ["3"]}
  "3": {id: "3", type: title, task: {name: Done}}
"#,
    )
    .expect("write");
    let path = pb.to_string_lossy().into_owned();
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        &path,
        "-C",
        "tests/data/corpus/playbooks/playbook-GenericPolling.yml",
        "--virtual-clock",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["run"]["state"], "completed", "{out}");
    let child = &doc["run"]["root"]["tasks"]["2"]["sub"]["tasks"];
    assert_eq!(
        child["3"]["state"], "Completed",
        "RunPollingCommand ran: {out}"
    );
    assert_eq!(
        child["2"]["label"], "YES",
        "the wait task was completed by the poll"
    );
    assert!(
        doc["notes"].as_array().is_some_and(|n| n.iter().any(|n| n
            .as_str()
            .is_some_and(|s| s.contains("GenericPolling for 'Print' done")))),
        "{}",
        doc["notes"]
    );
}

#[test]
fn playbook_run_reports_recursion_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pb = dir.path().join("self.yml");
    std::fs::write(
        &pb,
        "id: self\nname: Self\nstarttaskid: \"0\"\ntasks:\n  \"0\": {id: \"0\", type: start, task: {name: s}, nexttasks: {'#none#': [\"1\"]}}\n  \"1\": {id: \"1\", type: playbook, task: {name: me again, playbookId: self}, separatecontext: true}\n",
    )
    .expect("write");
    let path = pb.to_string_lossy().into_owned();
    let (code, out, err) = run(&mut emu(&["playbook", "run", &path]));
    assert_eq!(code, 1, "{out}{err}");
    let errors: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("error:"))
        .collect();
    assert_eq!(
        errors.len(),
        2,
        "the outermost task and the innermost cause: {out}"
    );
    assert!(errors[0].contains("(19 sub-playbook levels down)"), "{out}");
    assert!(errors[1].contains("nested more than 20 deep"), "{out}");
    assert!(out.len() < 8_000, "{} bytes", out.len());
}

/// The project's paging playbook completes on an incident without teams (as demisto-sdk's
/// `run-playbook` creates one): nothing to remember is not an error.
#[test]
fn paging_playbook_completes_without_teams() {
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        "SIGNL4 Page On-Call Teams",
        "--virtual-clock",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("— completed"), "{out}");
}

#[test]
fn playbook_run_json_shows_timer_fields_under_the_incident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let playbook = dir.path().join("timer.yml");
    std::fs::write(
        &playbook,
        r#"
id: cli-timer
name: CLI Timer
starttaskid: "0"
tasks:
  "0":
    id: "0"
    type: start
    task: {name: start}
    nexttasks: {'#none#': ["1"]}
    timertriggers: [{fieldname: timetoassignment, action: start}]
  "1":
    id: "1"
    type: regular
    task: {name: sleep, scriptName: Sleep}
    scriptarguments: {seconds: {simple: "3"}}
    nexttasks: {'#none#': ["2"]}
  "2":
    id: "2"
    type: title
    task: {name: done}
    timertriggers: [{fieldname: timetoassignment, action: stop}]
"#,
    )
    .expect("write");
    let incident = dir.path().join("incident.json");
    std::fs::write(
        &incident,
        r#"{"name": "x", "CustomFields": {"timetoassignment": "n/a"}}"#,
    )
    .expect("write");
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let (code, out, err) = run(&mut emu(&[
        "playbook",
        "run",
        &path(&playbook),
        "--incident",
        &path(&incident),
        "--json",
        "--virtual-clock",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    let timer = &doc["incident"]["timetoassignment"];
    assert_eq!(timer["runStatus"], "ended", "{doc}");
    assert_eq!(timer["totalDuration"], 3, "{doc}");
    assert_eq!(doc["incident"]["CustomFields"]["timetoassignment"], *timer);
    assert!(
        err.contains("incident field is not a timer; it was replaced by a new timer"),
        "{err}"
    );
}

#[test]
fn run_reads_war_room_lines_from_standard_input() {
    use std::io::Write as _;
    for args in [
        &["run", "--virtual-clock"][..],
        &["run", "--virtual-clock", "-"],
    ] {
        let mut child = emu(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(
                b"!Set key=Host value=ws-01\r\n\n   \nchecking the host\n!Print value=${Host}\n",
            )
            .expect("write");
        drop(stdin);
        let out = child.wait_with_output().expect("output");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        // Each line echoed and run in order; blank lines skipped, CRLF endings accepted.
        let echoes: Vec<&str> = text.lines().filter(|l| l.starts_with("» ")).collect();
        assert_eq!(
            echoes,
            [
                "» !Set key=Host value=ws-01",
                "» checking the host",
                "» !Print value=${Host}"
            ],
            "{text}"
        );
        assert!(text.contains("  ws-01\n"), "{text}");
        assert!(text.contains("\"Host\": \"ws-01\""), "{text}");
        // Not a terminal: no prompt.
        assert!(!String::from_utf8_lossy(&out.stderr).contains("war room"));
    }
}

/// A webhook URL pasted into `url` carries a secret of its own (maybe another team's than the
/// `secret` parameter): the listing, the instance's problem and the command's error never show it.
#[test]
fn a_webhook_url_pasted_into_url_is_masked_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("xsoar-emu.yaml");
    std::fs::write(
        &config,
        "instances:\n- name: pasted\n  brand: SIGNL4\n  params:\n    secret: team-secret-0123\n    url: https://connect.signl4.com/webhook/OTHERTEAM987?x=1\n",
    )
    .expect("config");
    let cfg = config.to_str().unwrap_or_default();
    let (code, out, err) = run(&mut emu(&["instances", "--config", cfg]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("url: \"https://connect.signl4.com/webhook/******?x=1\""),
        "{out}"
    );
    assert!(out.contains("is a webhook URL"), "{out}");
    let (_, out, err) = run(&mut emu(&[
        "run",
        "!signl4_alert title=x message=y",
        "--json",
        "--config",
        cfg,
    ]));
    for text in [&out, &err] {
        assert!(!text.contains("OTHERTEAM987"), "{text}");
        assert!(!text.contains("team-secret-0123"), "{text}");
    }
}

/// A `secret: true` argument of a playbook task shows as `******` in the run report and in
/// the JSON (the entries' `parentContent`, the task's inputs), as in the war-room echo.
#[test]
fn playbook_run_masks_secret_task_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let integration = dir.path().join("secret-int.yml");
    std::fs::write(
        &integration,
        "commonfields: {id: SecretInt, version: -1}\nname: SecretInt\ndisplay: SecretInt\ncategory: Utilities\ndescription: d\nconfiguration: []\nscript:\n  type: python\n  script: '-'\n  commands:\n  - name: sec-cmd\n    description: d\n    arguments:\n    - {name: token, description: t, secret: true}\n    - {name: other, description: o}\n",
    )
    .expect("write");
    let playbook = dir.path().join("secret-pb.yml");
    std::fs::write(
        &playbook,
        "id: secret-pb\nname: secret-pb\nstarttaskid: '0'\ntasks:\n  '0': {id: '0', type: start, task: {name: ''}, nexttasks: {'#none#': ['1']}}\n  '1':\n    id: '1'\n    type: regular\n    task: {name: call, script: 'SecretInt|||sec-cmd', iscommand: true}\n    scriptarguments:\n      token: {simple: hunter2secret}\n      other: {simple: x}\n",
    )
    .expect("write");
    let (pb, int) = (
        playbook.to_string_lossy().into_owned(),
        integration.to_string_lossy().into_owned(),
    );
    let (code, out, err) = run(&mut emu(&["playbook", "run", &pb, "-C", &int, "--json"]));
    assert_eq!(code, 1, "no instance runs the command: {out}{err}");
    assert!(
        !out.contains("hunter2secret") && !err.contains("hunter2secret"),
        "{out}{err}"
    );
    let v = json(&out);
    assert_eq!(v["run"]["root"]["tasks"]["1"]["inputs"]["token"], "******");
    assert_eq!(
        v["entries"][0]["parentContent"],
        "!sec-cmd token=****** other=x"
    );
    let (_, out, err) = run(&mut emu(&["playbook", "run", &pb, "-C", &int]));
    assert!(
        !out.contains("hunter2secret") && !err.contains("hunter2secret"),
        "{out}{err}"
    );
}
