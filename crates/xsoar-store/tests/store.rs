//! Round-trips, upgrades, reopening and crash behaviour of the store.

mod common;

use serde_json::{json, Map, Value};
use std::path::Path;
use xsoar_engine::{Entry, EntryTask, InstanceSpec};
use xsoar_store::{
    schema, Commit, ContentRecord, IncidentRecord, InvestigationRecord, JsonText, RunRecord,
    RunStatus, Store, StoreError, StoredInstance,
};

fn entry(inv: &str, seq: usize, kind: i64, contents: Value) -> Entry {
    Entry {
        id: format!("{seq}@{inv}").into(),
        investigation_id: inv.to_owned().into(),
        entry_type: kind,
        contents,
        format: "markdown".into(),
        human_readable: Some(format!("### entry {seq}")),
        parent_content: "!Print value=x".into(),
        parent_id: format!("{}@{inv}", seq.saturating_sub(1)).into(),
        brand: "Builtin".into(),
        instance: "Builtin".into(),
        created: "2025-11-29T07:00:00.123456789Z".into(),
        user: "DBot".into(),
        category: "commandAndResults".into(),
        task_id: "3".into(),
        playbook_id: "pb".into(),
        entry_task: Some(Box::new(EntryTask {
            playbook_name: "PB".into(),
            task_id: "3".into(),
            task_name: "Send".into(),
        })),
        note: false,
        tags: vec!["t1".into()],
        file: Default::default(),
        file_id: Default::default(),
        entry_context: Some(Box::new(
            json!({"A(val.x == obj.x)": {"x": seq}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )),
        simulated: true,
    }
}

fn playground(id: &str) -> InvestigationRecord {
    InvestigationRecord {
        id: id.into(),
        kind: 9,
        user: "admin".into(),
        created: "2025-11-29T07:00:00Z".into(),
        incident_id: None,
    }
}

async fn open(path: &Path) -> Store {
    Store::open(path).expect("open store").0
}

#[tokio::test]
async fn everything_round_trips_through_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    {
        let store = open(&path).await;
        store
            .create_investigation(
                playground("ab12-playground"),
                None,
                Some(json!({"id": "ab12-playground", "name": "Playground"})),
            )
            .await
            .expect("playground");
        let incident = IncidentRecord {
            id: "1".into(),
            seq: 1,
            data: json!({"id": "1", "name": "disk full", "status": 1, "severity": 3}),
            created: "2025-11-29T07:00:00Z".into(),
            modified: "2025-11-29T07:00:00Z".into(),
        };
        store
            .create_investigation(
                InvestigationRecord {
                    id: "1".into(),
                    kind: 0,
                    user: "admin".into(),
                    created: "2025-11-29T07:00:01Z".into(),
                    incident_id: Some("1".into()),
                },
                Some(incident),
                None,
            )
            .await
            .expect("incident investigation");
        let mut commit = Commit::new("ab12-playground");
        commit.entries = vec![
            entry("ab12-playground", 1, 1, json!("!Print value=x")),
            entry(
                "ab12-playground",
                2,
                4,
                json!({"nested": [1, 2, {"k": "v"}]}),
            ),
        ];
        commit.context =
            Some(JsonText::encode(&json!({"A": [{"x": 1}], "B": "two"})).expect("encode"));
        commit.files = vec![("debug-2".into(), b"Executed: Print\n".to_vec())];
        store.commit(commit).await.expect("commit playground");

        let mut commit = Commit::new("1");
        commit.entries = vec![entry("1", 1, 1, json!("hello"))];
        commit.incident = Some(json!({"id": "1", "name": "disk full", "status": 2}));
        commit.run = Some(RunRecord {
            investigation_id: "1".into(),
            playbook_id: "PB".into(),
            status: RunStatus::Completed,
            run: None,
            started: "2025-11-29T07:00:02Z".into(),
            finished: Some("2025-11-29T07:00:03Z".into()),
            updated: "2025-11-29T07:00:03Z".into(),
            error: None,
        });
        store.commit(commit).await.expect("commit incident");

        let mut params = Map::new();
        params.insert(
            "secret".into(),
            json!({"identifier": "", "password": "s3cr3t"}),
        );
        params.insert("proxy".into(), json!(false));
        store
            .save_instance(&StoredInstance {
                id: "inst-1".into(),
                version: 1,
                spec: InstanceSpec {
                    name: "SIGNL4_instance_1".into(),
                    brand: "SIGNL4".into(),
                    enabled: true,
                    params,
                    simulated: false,
                },
                extra: json!({"integrationLogLevel": "Debug"}),
            })
            .await
            .expect("instance");
        store
            .save_content(vec![ContentRecord {
                kind: "playbook".into(),
                id: "PB".into(),
                file: "playbook-PB.yml".into(),
                text: "id: PB\nname: PB\n".into(),
                uploaded: "2025-11-29T07:00:00Z".into(),
            }])
            .await
            .expect("content");
    }

    let (store, report) = Store::open(&path).expect("reopen");
    assert_eq!(report.previous_version, schema::latest_version());
    assert_eq!(report.interrupted_runs, 0);
    let snap = store.load().await.expect("load");

    assert_eq!(snap.incidents.len(), 1);
    assert_eq!(snap.incidents[0].data["status"], 2, "incident update kept");
    assert_eq!(snap.investigations.len(), 2);
    let pg = snap
        .investigations
        .iter()
        .find(|i| i.record.id == "ab12-playground")
        .expect("playground loaded");
    assert_eq!(pg.record.kind, 9);
    assert_eq!(pg.investigation.incident["name"], "Playground");
    assert_eq!(
        pg.investigation.context,
        json!({"A": [{"x": 1}], "B": "two"})
    );
    assert_eq!(pg.investigation.entries.len(), 2);
    assert_eq!(
        *pg.investigation.entries[1],
        entry(
            "ab12-playground",
            2,
            4,
            json!({"nested": [1, 2, {"k": "v"}]})
        )
    );
    assert_eq!(
        pg.investigation.files.get("debug-2").map(Vec::as_slice),
        Some(&b"Executed: Print\n"[..])
    );
    let inc = snap
        .investigations
        .iter()
        .find(|i| i.record.id == "1")
        .expect("incident investigation loaded");
    assert_eq!(inc.record.incident_id.as_deref(), Some("1"));
    assert_eq!(inc.investigation.incident["status"], 2);
    assert_eq!(inc.investigation.entries[0].contents, json!("hello"));

    assert_eq!(snap.runs.len(), 1);
    assert_eq!(snap.runs[0].status, RunStatus::Completed);
    assert_eq!(snap.instances.len(), 1);
    assert_eq!(
        snap.instances[0].spec.params["secret"]["password"],
        "s3cr3t"
    );
    assert_eq!(snap.instances[0].extra["integrationLogLevel"], "Debug");
    assert_eq!(snap.content.len(), 1);
    assert_eq!(snap.content[0].text, "id: PB\nname: PB\n");

    assert_eq!(store.count_entries(None).await.expect("count"), 3);
    assert_eq!(
        store
            .count_error_entries("ab12-playground")
            .await
            .expect("errors"),
        1
    );
    let one = store
        .entry("ab12-playground", 1)
        .await
        .expect("entry")
        .expect("exists");
    assert_eq!(one.contents, json!("!Print value=x"));
    assert_eq!(
        store
            .file("ab12-playground", "debug-2")
            .await
            .expect("file")
            .as_deref(),
        Some(&b"Executed: Print\n"[..])
    );
}

#[tokio::test]
async fn a_database_at_version_1_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite");
    {
        let mut conn = rusqlite::Connection::open(&path).expect("raw open");
        let before = schema::migrate(&mut conn, &schema::MIGRATIONS[..1]).expect("v1");
        assert_eq!(before, 0);
        conn.execute_batch(
            r#"
INSERT INTO investigations (id, type, user, created, incident_id, incident)
    VALUES ('p-playground', 9, 'admin', '2025-01-01T00:00:00Z', NULL, '{}');
INSERT INTO contexts (investigation_id, data) VALUES ('p-playground', '{"K": 1}');
INSERT INTO entries (investigation_id, seq, data) VALUES
    ('p-playground', 1, '{"id": "1@p-playground", "investigationId": "p-playground", "type": 1, "contents": "!x"}'),
    ('p-playground', 2, '{"id": "2@p-playground", "investigationId": "p-playground", "type": 4, "contents": "boom"}');
"#,
        )
        .expect("v1 rows");
    }
    let (store, report) = Store::open(&path).expect("open migrates");
    assert_eq!(report.previous_version, 1);
    assert_eq!(report.version, schema::latest_version());
    assert_eq!(
        store
            .count_error_entries("p-playground")
            .await
            .expect("count"),
        1,
        "the new type column is backfilled"
    );
    let snap = store.load().await.expect("load");
    let inv = &snap.investigations[0].investigation;
    assert_eq!(inv.context, json!({"K": 1}));
    assert_eq!(inv.entries.len(), 2);
    assert_eq!(inv.entries[1].contents, json!("boom"));
    assert_eq!(inv.entries[1].entry_type, 4);
    // New writes use the new column.
    let mut c = Commit::new("p-playground");
    c.entries = vec![entry("p-playground", 3, 4, json!("again"))];
    store.commit(c).await.expect("commit after migration");
    assert_eq!(
        store
            .count_error_entries("p-playground")
            .await
            .expect("count"),
        2
    );
}

#[tokio::test]
async fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.sqlite");
    drop(open(&path).await);
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute("UPDATE schema_version SET version = 99", [])
            .expect("bump");
    }
    match Store::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!(found, 99);
            assert_eq!(supported, schema::latest_version());
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn in_progress_runs_are_marked_interrupted_on_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("runs.sqlite");
    {
        let store = open(&path).await;
        for id in ["a-playground", "b-playground"] {
            store
                .create_investigation(playground(id), None, Some(json!({})))
                .await
                .expect("inv");
        }
        let run = |inv: &str, status| RunRecord {
            investigation_id: inv.into(),
            playbook_id: "PB".into(),
            status,
            run: None,
            started: "2025-11-29T07:00:00Z".into(),
            finished: None,
            updated: "2025-11-29T07:00:00Z".into(),
            error: None,
        };
        store
            .save_run(&run("a-playground", RunStatus::InProgress))
            .await
            .expect("run a");
        store
            .save_run(&run("b-playground", RunStatus::Waiting))
            .await
            .expect("run b");
    }
    let (store, report) = Store::open(&path).expect("reopen");
    assert_eq!(report.interrupted_runs, 1);
    let a = store
        .run("a-playground")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(a.status, RunStatus::Interrupted);
    assert_eq!(
        a.error.as_deref(),
        Some("the server stopped while this playbook was running (started 2025-11-29T07:00:00Z)")
    );
    let b = store
        .run("b-playground")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(b.status, RunStatus::Waiting, "waiting runs stay resumable");
    drop(store);
    let (_, again) = Store::open(&path).expect("third open");
    assert_eq!(again.interrupted_runs, 0, "marked once");
}

#[tokio::test]
async fn a_failing_job_does_not_spoil_its_batch() {
    let (store, _) = Store::open_in_memory().expect("memory");
    store
        .create_investigation(playground("x-playground"), None, Some(json!({})))
        .await
        .expect("inv");
    let mut tasks = Vec::new();
    for n in 1..=50usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let inv = if n % 10 == 0 {
                "missing"
            } else {
                "x-playground"
            };
            let mut c = Commit::new(inv);
            c.entries = vec![entry(inv, n, 1, json!(n))];
            store.commit(c).await
        }));
    }
    let mut ok = 0;
    let mut missing = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(()) => ok += 1,
            Err(StoreError::NoInvestigation(id)) => {
                assert_eq!(id, "missing");
                missing += 1
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((ok, missing), (45, 5));
    assert_eq!(store.count_entries(None).await.expect("count"), 45);
}

#[tokio::test]
async fn deleting_an_investigation_removes_what_belongs_to_it() {
    let (store, _) = Store::open_in_memory().expect("memory");
    common::create_incident_investigation(&store, "7").await;
    let mut c = Commit::new("7");
    c.entries = vec![entry("7", 1, 1, json!("x"))];
    c.files = vec![("f".into(), vec![1, 2, 3])];
    store.commit(c).await.expect("commit");
    assert_eq!(
        store
            .delete_investigations(vec!["7".into()])
            .await
            .expect("delete"),
        1
    );
    assert_eq!(store.count_entries(None).await.expect("count"), 0);
    assert_eq!(store.file("7", "f").await.expect("file"), None);
    let snap = store.load().await.expect("load");
    assert!(snap.incidents.is_empty() && snap.investigations.is_empty());
}

#[tokio::test]
async fn bad_entry_ids_are_rejected_before_writing() {
    let (store, _) = Store::open_in_memory().expect("memory");
    let mut c = Commit::new("x");
    let mut e = entry("x", 1, 1, json!("x"));
    e.id = "nonsense".into();
    c.entries = vec![e];
    match store.commit(c).await {
        Err(StoreError::BadEntryId(id)) => assert_eq!(id, "nonsense"),
        other => panic!("expected BadEntryId, got {other:?}"),
    }
}

const CHILD_ENV: &str = "XSOAR_STORE_CRASH_CHILD_DB";

/// Run as a child process: commit entries one by one, print each acknowledgement, then die
/// without any cleanup (no destructor, no WAL checkpoint), as `kill -9` would leave it.
async fn crash_child(path: &Path) -> ! {
    let store = open(path).await;
    store
        .create_investigation(playground("c-playground"), None, Some(json!({})))
        .await
        .expect("inv");
    for n in 1..=200usize {
        let mut c = Commit::new("c-playground");
        c.entries = vec![entry("c-playground", n, 1, json!(n))];
        c.context = Some(JsonText::encode(&json!({"n": n})).expect("encode"));
        store.commit(c).await.expect("commit");
        println!("acked {n}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::abort();
}

#[tokio::test]
async fn an_abrupt_exit_loses_no_committed_entry() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        crash_child(Path::new(&path)).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.sqlite");
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "an_abrupt_exit_loses_no_committed_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .output()
        .expect("run child");
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let acked = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("acked "))
        .filter_map(|n| n.trim().parse::<i64>().ok())
        .max()
        .expect("child acknowledged commits");
    assert_eq!(acked, 200);
    let (store, _) = Store::open(&path).expect("reopen after crash");
    assert_eq!(
        store
            .count_entries(Some("c-playground"))
            .await
            .expect("count"),
        acked
    );
    assert_eq!(
        store.context("c-playground").await.expect("ctx"),
        Some(json!({"n": 200}))
    );
}

#[tokio::test]
async fn system_config_and_content_deletion_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("db.sqlite");
    {
        let store = open(&path).await;
        let mut values = Map::new();
        values.insert("content.unlock.integrations".into(), json!("true"));
        values.insert("limit".into(), json!(5));
        store.set_system_config(values).await.expect("set");
        let mut removal = Map::new();
        removal.insert("limit".into(), Value::Null);
        store.set_system_config(removal).await.expect("remove");
        store
            .save_content(vec![ContentRecord {
                kind: "list".into(),
                id: "L".into(),
                file: "list-L.json".into(),
                text: "{}".into(),
                uploaded: "2025-01-01T00:00:00Z".into(),
            }])
            .await
            .expect("content");
        assert!(store.delete_content("list", "L").await.expect("delete"));
        assert!(!store.delete_content("list", "L").await.expect("again"));
    }
    let store = open(&path).await;
    let config = store.system_config().await.expect("config");
    assert_eq!(config.len(), 1);
    assert_eq!(config["content.unlock.integrations"], "true");
    assert!(store.content(Some("list")).await.expect("lists").is_empty());
}

#[cfg(unix)]
mod permissions {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use xsoar_store::{prepare_data_dir, DataDirReport, Store};

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    fn set(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[tokio::test]
    async fn data_dir_and_database_files_are_owner_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        assert_eq!(
            prepare_data_dir(&dir).expect("prepare"),
            DataDirReport::Created
        );
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            prepare_data_dir(&dir).expect("again"),
            DataDirReport::Private
        );
        let db = xsoar_store::db_path(&dir);
        let (store, _) = Store::open(&db).expect("open");
        let instance = xsoar_store::StoredInstance {
            id: "i".into(),
            version: 1,
            spec: xsoar_engine::InstanceSpec {
                name: "i".into(),
                brand: "SIGNL4".into(),
                enabled: true,
                params: serde_json::Map::new(),
                simulated: false,
            },
            extra: serde_json::json!({}),
        };
        store.save_instance(&instance).await.expect("write");
        for suffix in ["", "-wal", "-shm"] {
            let file = Path::new(&format!("{}{suffix}", db.display())).to_path_buf();
            assert!(file.exists(), "{} missing", file.display());
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        drop(store);
    }

    #[test]
    fn looser_existing_folder_and_files_are_tightened() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        set(&dir, 0o755);
        assert_eq!(
            prepare_data_dir(&dir).expect("prepare"),
            DataDirReport::Tightened(0o755)
        );
        assert_eq!(mode(&dir), 0o700);
        let db = xsoar_store::db_path(&dir);
        drop(Store::open(&db).expect("create"));
        set(&db, 0o644);
        let (store, _) = Store::open(&db).expect("reopen");
        assert_eq!(mode(&db), 0o600);
        drop(store);
    }
}
