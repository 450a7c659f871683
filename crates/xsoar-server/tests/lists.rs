//! XSOAR lists over REST: `POST /lists/save` feeds `${lists.<name>}` and `getList`; the
//! changes list commands make are stored, listed by `GET /lists`, and survive a restart;
//! stored lists win over the lists the binary read from disk.

mod common;

use axum::http::StatusCode;
use common::{ok_json, Api};
use serde_json::{json, Value};

/// A server with no content over an in-memory store, and that store.
async fn server_with_store() -> (Api, xsoar_store::Store) {
    let (store, _) = xsoar_store::Store::open_in_memory().expect("store");
    let h = common::server(
        common::engine(&[]),
        store.clone(),
        xsoar_server::ServerConfig::with_key(common::KEY),
    )
    .await;
    (h, store)
}

/// Run a war-room line in the playground; its entries.
async fn run(h: &Api, line: &str) -> Vec<Value> {
    let pg = h.state.playground_id().to_owned();
    let r = h
        .post(
            "/entry/execute/sync",
            json!({"investigationId": pg, "data": line}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json().as_array().cloned().expect("a list of entries")
}

/// The contents of the one entry a line writes.
async fn contents(h: &Api, line: &str) -> (i64, Value) {
    let e = run(h, line).await;
    let last = e.last().expect("an entry");
    (
        last["type"].as_i64().unwrap_or(-1),
        last["contents"].clone(),
    )
}

/// `GET /lists` as name → data.
async fn lists(h: &Api) -> Vec<(String, String)> {
    ok_json(&h.get("/lists").await)
        .as_array()
        .expect("an array")
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap_or_default().to_owned(),
                l["data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn saved_lists_feed_dt_and_commands_and_changes_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("xsoar.db");
    let start = || {
        let engine = common::engine(&[]);
        // As the binary loads a pack's list file from disk.
        engine.set_list("FromDisk", "disk");
        // The type its file declares.
        engine.set_list_types([("FromDisk".to_owned(), "JSON".to_owned())].into());
        engine.set_list("Allow", "disk version");
        common::file_server(engine, &path)
    };
    {
        let h = start().await;
        ok_json(
            &h.post(
                "/lists/save",
                json!({"name": "Allow", "data": "a,b", "type": "plain_text"}),
            )
            .await,
        );
        ok_json(
            &h.post(
                "/lists/save",
                json!({"name": "Cfg", "data": "{\"team\": \"ops\"}", "type": "json"}),
            )
            .await,
        );
        assert_eq!(
            contents(&h, "!Print value=\"${lists.Allow} / ${lists.Cfg.team}\"").await,
            (1, json!("a,b / ops"))
        );
        assert_eq!(contents(&h, "!getList Allow").await, (1, json!("a,b")));
        assert_eq!(
            contents(&h, "!addToList listName=Allow listData=c").await,
            (1, json!("Done"))
        );
        assert_eq!(
            contents(&h, "!setList listName=Cfg listData=`{\"team\": \"dba\"}`").await,
            (1, json!("Done"))
        );
        // A failing command stores nothing.
        let (t, c) = contents(&h, "!setList listName=Nope listData=x").await;
        assert_eq!(t, 4);
        assert_eq!(
            c,
            json!("Item not found (8): there is no list named 'Nope'")
        );
        assert_eq!(
            lists(&h).await,
            vec![
                ("Allow".to_owned(), "a,b,c".to_owned()),
                ("Cfg".to_owned(), "{\"team\": \"dba\"}".to_owned()),
                ("FromDisk".to_owned(), "disk".to_owned()),
            ]
        );
        // The stored list keeps its type; the context query reads the lists root too.
        let all = ok_json(&h.get("/lists").await);
        assert_eq!(all[1]["type"], "json");
        assert_eq!(all[2]["version"], -1, "a list from disk was never saved");
        assert_eq!(all[2]["type"], "JSON", "as its file declares");
        let pg = h.state.playground_id().to_owned();
        let q = ok_json(
            &h.post(
                &format!("/investigation/{pg}/context"),
                json!({"query": "${lists.Cfg.team}"}),
            )
            .await,
        );
        assert_eq!(q, json!("dba"));
        h.state.shutdown(std::time::Duration::from_secs(1)).await;
    }
    let h = start().await;
    assert_eq!(contents(&h, "!getList Allow").await, (1, json!("a,b,c")));
    assert_eq!(
        contents(&h, "!Print value=${lists.Cfg.team}").await,
        (1, json!("dba"))
    );
    assert_eq!(contents(&h, "!getList FromDisk").await, (1, json!("disk")));
    let (t, _) = contents(&h, "!getList Nope").await;
    assert_eq!(t, 4);
}

#[tokio::test]
async fn a_list_created_by_a_command_is_stored_as_plain_text() {
    let (h, store) = server_with_store().await;
    run(&h, "!createList listName=New listData=x").await;
    let stored = store.content(Some("list")).await.expect("content");
    assert_eq!(stored.len(), 1);
    let obj: Value = serde_json::from_str(&stored[0].text).expect("json");
    assert_eq!(obj["name"], "New");
    assert_eq!(obj["data"], "x");
    assert_eq!(obj["type"], "plain_text");
    assert_eq!(obj["version"], 1);
}

/// A zip holding `files` (path, text).
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default();
        for (path, text) in files {
            zip.start_file(*path, opts).expect("zip");
            std::io::Write::write_all(&mut zip, text.as_bytes()).expect("zip");
        }
        zip.finish().expect("zip");
    }
    buf.into_inner()
}

/// `demisto-sdk upload` of a pack with lists: the zip holds `Lists/list-<name>.json`. Each
/// list is stored as `POST /lists/save` stores it (`GET /lists`, `${lists.<name>}`, the
/// store), a pack of lists only is accepted, and a bad list file refuses the whole pack.
#[tokio::test]
async fn a_pack_upload_stores_its_lists() {
    let (h, store) = server_with_store().await;
    let pack = zip_of(&[
        (
            "pack_metadata.json",
            r#"{"name": "MyPack", "currentVersion": "1.0.0"}"#,
        ),
        (
            "Lists/list-UpList.json",
            r#"{"id": "UpList", "name": "UpList", "data": "{\"team\": \"blue\"}", "type": "JSON", "version": -1}"#,
        ),
        ("Lists/Split/list-Sp.json", r#"{"name": "Sp", "data": "-"}"#),
        ("Lists/Split/list-Sp_data.json", "a,b"),
        ("README.md", "# MyPack"),
    ]);
    let r = h
        .multipart(
            "/contentpacks/installed/upload",
            &[("skipVerify", "true")],
            Some(("MyPack.zip", pack.as_slice())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["items"],
        json!([{"kind": "list", "id": "UpList"}, {"kind": "list", "id": "Sp"}])
    );
    let all = ok_json(&h.get("/lists").await);
    let up = all
        .as_array()
        .and_then(|a| a.iter().find(|l| l["name"] == "UpList"))
        .cloned()
        .expect("UpList is listed");
    assert_eq!(up["type"], "JSON");
    assert_eq!(up["version"], 1);
    assert_eq!(up["data"], "{\"team\": \"blue\"}");
    let e = run(&h, "!Print value=${lists.UpList.team}/${lists.Sp}").await;
    assert_eq!(e.last().expect("entry")["contents"], "blue/a,b");
    let stored = store.content(Some("list")).await.expect("content");
    assert_eq!(stored.len(), 2);

    // Uploaded again: a new version, as a second save.
    let r = h
        .multipart(
            "/contentpacks/installed/upload",
            &[],
            Some(("MyPack.zip", pack.as_slice())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let all = ok_json(&h.get("/lists").await);
    assert!(
        all.as_array()
            .is_some_and(|a| a.iter().any(|l| l["name"] == "UpList" && l["version"] == 2)),
        "{all}"
    );

    // A bad list file refuses the pack, naming the file; nothing is stored.
    let bad = zip_of(&[
        ("Lists/list-Bad.json", "{bad"),
        ("Lists/list-Num.json", r#"{"name": "Num", "data": 5}"#),
        ("Lists/list-Good.json", r#"{"name": "Good", "data": "x"}"#),
    ]);
    let r = h
        .multipart(
            "/contentpacks/installed/upload",
            &[],
            Some(("Bad.zip", bad.as_slice())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(
        detail.contains("Bad.zip/Lists/list-Bad.json:1:2: the list file is not valid JSON"),
        "{detail}"
    );
    assert!(
        detail.contains("Bad.zip/Lists/list-Num.json: the list's \"data\" must be its text"),
        "{detail}"
    );
    assert_eq!(
        lists(&h).await.iter().filter(|(n, _)| n == "Good").count(),
        0
    );
}
