//! XSOAR lists from the command line, as a user provides them: `--list NAME=FILE` (text or
//! JSON), pack list files under `--content` (`Packs/<Pack>/Lists/<name>.json`, split lists,
//! `list-*.json`), clear errors for bad input; and `DeleteContext subplaybook=false` from a
//! private sub-playbook, run through `playbook run`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn emu(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xsoar-emu"))
        .args(args)
        .current_dir(root())
        .env_remove("XSOAR_EMU_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(path: &Path, text: &str) -> String {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(path, text).expect("write");
    path.display().to_string()
}

/// The contents of the entries a `run --json` wrote (command echoes left out).
fn results(out: &str) -> Vec<(i64, String)> {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["category"] != "chat")
        .map(|e| {
            (
                e["type"].as_i64().unwrap_or(-1),
                e["contents"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn list_flags_give_text_and_json_lists() {
    let dir = tempfile::tempdir().expect("dir");
    // Saved by an editor: the final newline is not part of the list.
    let hosts = write(&dir.path().join("hosts.txt"), "ws-01,ws-02\n");
    let cfg = write(
        &dir.path().join("cfg.json"),
        r#"{"team": "ops", "levels": [1, 2]}"#,
    );
    let (code, out, err) = emu(&[
        "run",
        "--json",
        "--list",
        &format!("Hosts={hosts}"),
        "--list",
        &format!("Cfg={cfg}"),
        "!Print value=\"${lists.Hosts} / ${lists.Cfg.team} / ${lists.Cfg.levels}\"",
        "!addToList listName=Hosts listData=ws-03",
        "!getList Hosts",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        results(&out),
        vec![
            (1, "ws-01,ws-02 / ops / 1,2".to_owned()),
            (1, "Done".to_owned()),
            (1, "ws-01,ws-02,ws-03".to_owned()),
        ]
    );
}

#[test]
fn pack_list_files_load_from_content_paths() {
    let dir = tempfile::tempdir().expect("dir");
    let lists = dir.path().join("Packs/Allow/Lists");
    write(
        &lists.join("AllowedHosts.json"),
        r#"{"id": "AllowedHosts", "name": "AllowedHosts", "data": "ws-01,ws-02", "type": "plain_text", "allRead": true, "version": -1, "fromVersion": "6.5.0"}"#,
    );
    // demisto-sdk's split form: the text of a JSON list in `<name>_data.json`.
    write(
        &lists.join("Settings/Settings.json"),
        r#"{"id": "Settings", "name": "Settings", "data": "-", "type": "json"}"#,
    );
    write(
        &lists.join("Settings/Settings_data.json"),
        r#"{"team": "ops"}"#,
    );
    write(
        &dir.path().join("export/list-Exported.json"),
        r#"{"name": "Exported", "data": "a|b"}"#,
    );
    // JSON that is not a list file (incidents, mocks) is left alone.
    write(
        &dir.path().join("incident.json"),
        r#"{"name": "Disk full"}"#,
    );
    let content = dir.path().display().to_string();
    let (code, out, err) = emu(&[
        "run",
        "--json",
        "-C",
        &content,
        "!Print value=\"${lists.AllowedHosts} / ${lists.Settings.team} / ${lists.Exported}\"",
        "!getList incident",
    ]);
    // 1: the last line wrote an error entry (there is no list named `incident`).
    assert_eq!(code, 1, "{out}{err}");
    let r = results(&out);
    assert_eq!(r[0], (1, "ws-01,ws-02 / ops / a|b".to_owned()));
    assert_eq!(r[1].0, 4, "{r:?}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn bad_list_input_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let bad_json = write(&dir.path().join("bad.json"), "{not json");
    let (code, _, err) = emu(&["run", "--list", &format!("X={bad_json}"), "!Print value=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("--list X") && err.contains(&bad_json), "{err}");
    assert!(err.contains("not valid JSON"), "{err}");

    let missing = dir.path().join("missing.txt").display().to_string();
    let (code, _, err) = emu(&["run", "--list", &format!("Y={missing}"), "!Print value=1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read") && err.contains(&missing),
        "{err}"
    );

    let (code, _, err) = emu(&["run", "--list", "no-equals-sign", "!Print value=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("NAME=FILE"), "{err}");

    // A broken pack list file is skipped with a warning naming it; the others load.
    let packs = dir.path().join("Packs/P/Lists");
    let broken = write(&packs.join("Broken.json"), r#"{"name": "Broken""#);
    let no_data = write(&packs.join("NoData.json"), r#"{"name": "NoData"}"#);
    write(
        &packs.join("Good.json"),
        r#"{"name": "Good", "data": "ok"}"#,
    );
    let (code, out, err) = emu(&[
        "run",
        "--json",
        "-C",
        &packs.display().to_string(),
        "!getList Good",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&broken) && err.contains("not valid JSON"),
        "{err}"
    );
    assert!(err.contains(&no_data) && err.contains("\"data\""), "{err}");
    assert_eq!(results(&out), vec![(1, "ok".to_owned())]);
}

/// `validate` reports every list file `run -C` and `serve` would skip, as an error with its
/// path (and line:column for bad JSON), and counts the good ones; other JSON is left alone.
#[test]
fn validate_reports_bad_list_files_and_counts_good_ones() {
    let dir = tempfile::tempdir().expect("dir");
    let lists = dir.path().join("Packs/MyPack/Lists");
    let broken = write(&lists.join("Broken.json"), "{bad\n");
    let num = write(
        &lists.join("NumData.json"),
        r#"{"name": "NumData", "data": 5}"#,
    );
    write(
        &lists.join("Foo.json"),
        r#"{"id": "Foo", "name": "Foo", "data": "{\"team\": \"blue\"}", "type": "JSON", "version": -1}"#,
    );
    write(
        &lists.join("Split/Sp.json"),
        r#"{"name": "Sp", "data": "-", "type": "JSON"}"#,
    );
    write(&lists.join("Split/Sp_data.json"), r#"{"x": [1,2]}"#);
    let no_name = write(
        &dir.path().join("export/list-NoName.json"),
        r#"{"data": "x"}"#,
    );
    write(
        &dir.path().join("export/list-Bar.json"),
        r#"{"name": "Bar", "data": "b1,b2"}"#,
    );
    write(
        &dir.path().join("other/incident.json"),
        r#"{"name": "Disk full"}"#,
    );
    let (code, out, err) = emu(&["validate", &dir.path().display().to_string()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "{broken}:1:2: error: the list file is not valid JSON"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{num}: error: the list's \"data\" must be its text"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{no_name}: error: a list file is a JSON object")),
        "{out}"
    );
    for good in ["list Foo", "list Sp", "list Bar"] {
        assert!(out.contains(good), "{good}: {out}");
    }
    assert!(!out.contains("incident.json"), "{out}");
    assert!(
        out.ends_with(
            "6 files: 0 integrations, 0 scripts, 0 playbooks, 3 lists; 3 errors, 0 warnings\n"
        ),
        "{out}"
    );
}

/// The reported case: a private child's `DeleteContext key=G subplaybook=false` said
/// `Key G deleted` and `G` stayed in the parent's context.
#[test]
fn delete_context_subplaybook_false_deletes_the_parents_key() {
    let (code, out, err) = emu(&[
        "playbook",
        "run",
        "tests/data/subplaybook-delete/parent2.yml",
        "-C",
        "tests/data/subplaybook-delete/child2.yml",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert!(v["context"].get("G").is_none(), "{}", v["context"]);
}

/// `xsoar-emu test`: every test playbook starts with the lists given (a test's own changes
/// stay in its run).
#[test]
fn test_playbooks_read_the_lists_given() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = write(&dir.path().join("cfg.json"), r#"{"team": "ops"}"#);
    let tpb = dir.path().join("tpb");
    for name in ["first", "second"] {
        write(
            &tpb.join(format!("{name}.yml")),
            &format!(
                r#"id: lists-{name}
name: lists-{name}
starttaskid: "0"
tasks:
  "0": {{id: "0", type: start, task: {{name: ""}}, nexttasks: {{'#none#': ["1"]}}}}
  "1": {{id: "1", type: regular, task: {{name: read, scriptName: Set}}, scriptarguments: {{key: {{simple: Team}}, value: {{simple: '${{lists.Cfg.team}}'}}}}, nexttasks: {{'#none#': ["2"]}}}}
  "2": {{id: "2", type: regular, task: {{name: check, scriptName: VerifyContext}}, scriptarguments: {{path: {{simple: Team}}, expectedValue: {{simple: ops}}}}, nexttasks: {{'#none#': ["3"]}}}}
  "3": {{id: "3", type: regular, task: {{name: change, script: 'Builtin|||setList'}}, scriptarguments: {{listName: {{simple: Cfg}}, listData: {{simple: changed}}}}}}
"#
            ),
        );
    }
    let tpb = tpb.display().to_string();
    let (code, out, err) = emu(&["test", &tpb, "--list", &format!("Cfg={cfg}")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
    let (code, out, _) = emu(&["test", &tpb]);
    assert_eq!(code, 1, "without the list the check fails: {out}");
}
