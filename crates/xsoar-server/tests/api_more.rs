//! The REST API in-process, second part: war-room uploads, playbook definitions, scripts,
//! server configuration, module configurations, lists, jobs and the custom content bundle.

mod common;

use axum::http::{header, StatusCode};
use common::{assert_bad, ok_json, Api, Reply, COMPLETING, KEY, SECRET, SIGNL4_YML};
use serde_json::{json, Value};
use xsoar_server::ServerConfig;
use xsoar_store::Store;

type Harness = Api;

async fn harness() -> Harness {
    let (store, _) = Store::open_in_memory().expect("store");
    common::server(
        common::engine(&[("SIGNL4.yml", SIGNL4_YML)]),
        store,
        ServerConfig::with_key(KEY),
    )
    .await
}

/// A new incident's id.
async fn incident(h: &Harness) -> String {
    let r = h.post("/incident", json!({"name": "upload target"})).await;
    ok_json(&r)["id"].as_str().expect("id").to_owned()
}

/// `r` has the status `want`.
fn assert_status(r: &Reply, want: StatusCode) {
    assert_eq!(r.status, want, "{}", r.text());
}

/// POST `body` to `path`: a 200, whose JSON is returned.
async fn post_ok(h: &Harness, path: &str, body: Value) -> Value {
    ok_json(&h.post(path, body).await)
}

/// POST each body to `path`: each is a 400 that mentions the text paired with it.
async fn assert_all_bad(h: &Harness, path: &str, cases: Vec<(Value, &str)>) {
    for (body, mentions) in cases {
        assert_bad(&h.post(path, body).await, mentions);
    }
}

/// Save `COMPLETING` as an uploaded playbook.
async fn save_completing(h: &Harness) {
    let r = h
        .multipart(
            "/playbook/save/yaml",
            &[],
            Some(("playbook-api-ok.yml", COMPLETING.as_bytes())),
        )
        .await;
    assert_status(&r, StatusCode::OK);
}

/// The scripts `/automation/search` finds for `query`.
async fn search_scripts(h: &Harness, query: &str) -> Value {
    post_ok(h, "/automation/search", json!({"query": query})).await
}

#[tokio::test]
async fn war_room_uploads_are_downloadable_file_entries() {
    let h = harness().await;
    let id = incident(&h).await;
    let upload = format!("/entry/upload/{id}");
    let e = ok_json(
        &h.multipart(
            &upload,
            &[
                ("fileName", "report.txt"),
                ("fileComment", "the report"),
                ("showMediaFile", "false"),
            ],
            Some(("upload.bin", b"hello file")),
        )
        .await,
    );
    assert_eq!(e["type"], 3);
    assert_eq!(e["file"], "report.txt");
    assert_eq!(e["contents"], "the report");
    let entry_id = e["id"].as_str().expect("entry id").replace('@', "%40");
    let d = h.get(&format!("/entry/download/{entry_id}")).await;
    assert_status(&d, StatusCode::OK);
    assert_eq!(d.bytes, b"hello file");
    assert!(d.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("header")
        .contains("report.txt"));
    let found = post_ok(&h, "/incidents/search", json!({"filter": {"id": [id]}})).await;
    assert_eq!(found["data"][0]["attachment"][0]["name"], "report.txt");

    // The playground takes files too (no incident field there).
    let pg = h.state.playground_id().to_owned();
    let r = h
        .multipart(
            &format!("/entry/upload/{pg}"),
            &[],
            Some(("notes.md", b"# hi")),
        )
        .await;
    assert_eq!(ok_json(&r)["contents"], "notes.md");

    assert_bad(
        &h.multipart(&upload, &[("fileName", "x")], None).await,
        "'file'",
    );
    assert_bad(
        &h.multipart(
            &upload,
            &[("showMediaFile", "maybe")],
            Some(("a.txt", b"a")),
        )
        .await,
        "showMediaFile",
    );
    let r = h
        .multipart("/entry/upload/999", &[], Some(("a.txt", b"a")))
        .await;
    assert_status(&r, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn playbook_inputs_search_yaml_and_delete() {
    let h = harness().await;
    save_completing(&h).await;

    let inputs = "/playbook/inputs/api-ok";
    let r = post_ok(
        &h,
        inputs,
        json!({"inputs": [{"key": "Who", "value": {"simple": "me"}, "required": true, "description": "who"}]}),
    )
    .await;
    assert_eq!(r["inputs"][0]["key"], "Who");
    let pb = ok_json(&h.get("/playbook/api-ok").await);
    assert_eq!(pb["inputs"][0]["value"]["simple"], "me");
    assert_eq!(pb["inputs"][0]["required"], true);
    // A bare list (older servers) works too.
    post_ok(
        &h,
        inputs,
        json!([{"key": "A", "value": {"simple": "1"}}, {"key": "B"}]),
    )
    .await;
    assert_eq!(
        ok_json(&h.get("/playbook/api-ok").await)["inputs"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_all_bad(
        &h,
        inputs,
        vec![
            (
                json!({"inputs": [{"key": "A", "value": 5}]}),
                "inputs[0].value",
            ),
            (json!({"x": 1}), "inputs"),
        ],
    )
    .await;
    assert_status(
        &h.post("/playbook/inputs/nope", json!({"inputs": []})).await,
        StatusCode::NOT_FOUND,
    );

    let y = h.get("/playbook/api-ok/yaml").await;
    assert_status(&y, StatusCode::OK);
    assert!(
        y.text().contains("starttaskid") && y.text().contains("key: A"),
        "{}",
        y.text()
    );
    assert_status(&h.get("/playbook/nope/yaml").await, StatusCode::NOT_FOUND);

    let s = post_ok(&h, "/playbook/search", json!({"query": "name:API*"})).await;
    assert_eq!(s["total"], 1);
    assert_eq!(s["playbooks"][0]["id"], "api-ok");
    assert_eq!(s["playbooks"][0]["system"], false);
    let none = post_ok(&h, "/playbook/search", json!({"query": "name:nothing*"})).await;
    assert_eq!(none["total"], 0);

    assert_bad(&h.post("/playbook/delete", json!({})).await, "playbook id");
    post_ok(
        &h,
        "/playbook/delete",
        json!({"id": "api-ok", "name": "API OK"}),
    )
    .await;
    assert_status(&h.get("/playbook/api-ok").await, StatusCode::NOT_FOUND);
    assert_status(
        &h.post("/playbook/delete", json!({"id": "api-ok"})).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn investigate_opens_the_incidents_investigation() {
    let h = harness().await;
    let id = incident(&h).await;
    let r = post_ok(&h, "/incident/investigate", json!({"id": id})).await;
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["type"], 0);
    assert_bad(
        &h.post("/incident/investigate", json!({})).await,
        "incident id",
    );
    assert_status(
        &h.post("/incident/investigate", json!({"id": "424242"}))
            .await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn system_config_is_kept_and_secret_keys_masked() {
    let h = harness().await;
    post_ok(
        &h,
        "/system/config",
        json!({"data": {"content.unlock.integrations": "true", "limit": 5, "proxy.password": SECRET}, "version": -1}),
    )
    .await;
    let conf = ok_json(&h.get("/system/config").await);
    assert_eq!(conf["sysConf"]["content.unlock.integrations"], "true");
    assert_eq!(conf["sysConf"]["limit"], "5");
    assert_eq!(conf["sysConf"]["proxy.password"], "******");
    let r = post_ok(&h, "/system/config", json!({"data": {"limit": null}})).await;
    assert!(r["sysConf"].get("limit").is_none());
    assert_all_bad(
        &h,
        "/system/config",
        vec![
            (json!({"version": -1}), "data"),
            (json!({"data": {"k": {"a": 1}}}), "data.k"),
        ],
    )
    .await;

    let r = post_ok(&h, "/containers/reset", json!({})).await;
    assert!(r["reset"].is_u64());
    assert_status(
        &h.get("/containers/reset").await,
        StatusCode::METHOD_NOT_ALLOWED,
    );
}

#[tokio::test]
async fn module_configurations_are_saved_and_merged() {
    let h = harness().await;
    let conf = json!({
        "id": "MyInt", "name": "MyInt", "display": "My Integration", "category": "Utilities",
        "configuration": [{"name": "url", "display": "URL", "type": 0, "defaultValue": "https://x"}],
        "integrationScript": {"type": "python", "subtype": "python3", "script": "pass",
            "commands": [{"name": "my-cmd", "arguments": [{"name": "a", "required": true}],
                          "outputs": [{"contextPath": "My.A", "type": "String"}]}]}
    });
    let path = "/settings/integration-conf";
    let r = ok_json(&h.put(path, conf).await);
    assert_eq!(r["id"], "MyInt");
    assert_eq!(r["configuration"][0]["defaultValue"], "https://x");
    // Only the parameters change; the commands stay.
    ok_json(
        &h.put(
            path,
            json!({"id": "MyInt", "configuration": [{"name": "url", "display": "URL", "defaultValue": "https://y"}, {"name": "insecure", "type": 8}]}),
        )
        .await,
    );
    let listed = post_ok(
        &h,
        "/settings/integration/search",
        json!({"query": "id:MyInt"}),
    )
    .await;
    let c = &listed["configurations"][0];
    assert_eq!(c["configuration"][0]["defaultValue"], "https://y");
    assert_eq!(c["configuration"][1]["name"], "insecure");
    assert_eq!(c["integrationScript"]["commands"][0]["name"], "my-cmd");

    for (body, mentions) in [
        (json!({"category": "x"}), "id"),
        (json!({"id": "Other"}), "integrationScript"),
        (
            json!({"id": "MyInt", "configuration": [{"display": "no name"}]}),
            "configuration[0].name",
        ),
    ] {
        assert_bad(&h.put(path, body).await, mentions);
    }
}

#[tokio::test]
async fn automation_scripts_are_saved_searched_copied_loaded_and_deleted() {
    let h = harness().await;
    let body = json!({"script": {
        "id": "", "name": "MyScript", "type": "python", "subtype": "python3", "script": "print(1)",
        "arguments": [{"name": "value", "required": true, "description": "v"}],
        "outputs": [{"contextPath": "MyScript.Result", "type": "string"}],
        "tags": ["utility"], "version": -1, "pswd": SECRET}, "savePassword": false});
    let r = post_ok(&h, "/automation", body).await;
    let s = &r["scripts"][0];
    assert_eq!(s["id"], "MyScript");
    assert_eq!(s["version"], 1);
    assert_eq!(s["script"], "print(1)");
    assert_eq!(s["arguments"][0]["name"], "value");
    assert_eq!(s["system"], false);

    let found = search_scripts(&h, "name:MyScript").await;
    assert_eq!(found["scripts"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["pythonEnabled"], true);
    let tagged = search_scripts(&h, "tags:utility").await;
    assert!(tagged["scripts"]
        .as_array()
        .expect("list")
        .iter()
        .any(|s| s["id"] == "MyScript"));
    let builtin = search_scripts(&h, "name:Print").await;
    assert_eq!(builtin["scripts"][0]["system"], true);
    let nothing = search_scripts(&h, "name:NoSuchScript").await;
    assert_eq!(nothing["scripts"], json!([]));

    // Update: keeps what is not sent, counts versions, refuses stale versions.
    let r = post_ok(
        &h,
        "/automation",
        json!({"script": {"id": "MyScript", "script": "print(2)", "version": 1}}),
    )
    .await;
    assert_eq!(r["scripts"][0]["version"], 2);
    assert_eq!(r["scripts"][0]["tags"], json!(["utility"]));
    let r = h
        .post(
            "/automation",
            json!({"script": {"id": "MyScript", "script": "x", "version": 1}}),
        )
        .await;
    assert_status(&r, StatusCode::CONFLICT);

    let loaded = post_ok(&h, "/automation/load/MyScript", json!({})).await;
    assert_eq!(loaded["script"], "print(2)");
    assert_status(&h.get("/automation/load/Nope").await, StatusCode::NOT_FOUND);

    for want in ["MyScript_copy", "MyScript_copy_2"] {
        let copy = post_ok(
            &h,
            "/automation/copy",
            json!({"script": {"id": "MyScript"}}),
        )
        .await;
        assert_eq!(copy["scripts"][0]["name"], want);
    }
    let print_copy = post_ok(&h, "/automation/copy", json!({"script": {"id": "Print"}})).await;
    assert_eq!(print_copy["scripts"][0]["system"], false);

    post_ok(
        &h,
        "/automation/delete",
        json!({"script": {"id": "MyScript_copy"}}),
    )
    .await;
    let gone = search_scripts(&h, "name:MyScript_copy").await;
    assert_eq!(gone["scripts"], json!([]));
    assert_bad(
        &h.post("/automation/delete", json!({"script": {"id": "Print"}}))
            .await,
        "Print",
    );
    assert_status(
        &h.post("/automation/delete", json!({"script": {"id": "Nope"}}))
            .await,
        StatusCode::NOT_FOUND,
    );

    assert_all_bad(
        &h,
        "/automation",
        vec![
            (json!({}), "script"),
            (
                json!({"script": {"name": "Bad", "type": "cobol"}}),
                "script.type",
            ),
            (
                json!({"script": {"name": "Bad", "arguments": [{"description": "x"}]}}),
                "script.arguments[0].name",
            ),
            (
                json!({"script": {"id": "Print", "script": "x"}}),
                "system script",
            ),
        ],
    )
    .await;
    assert_bad(
        &h.post("/automation/copy", json!({"script": {}})).await,
        "script.id",
    );
}

/// The (name, contents) of the files in an uncompressed tar archive.
fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= bytes.len() {
        let h = &bytes[at..at + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_owned();
        let size_text = String::from_utf8_lossy(&h[124..135]).to_string();
        let size = usize::from_str_radix(size_text.trim_matches(['\0', ' ']), 8).expect("size");
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        let stored =
            u32::from_str_radix(String::from_utf8_lossy(&h[148..154]).trim(), 8).expect("sum");
        assert_eq!(sum, stored, "checksum of {name}");
        out.push((name, bytes[at + 512..at + 512 + size].to_vec()));
        at += 512 + size.div_ceil(512) * 512;
    }
    out
}

#[tokio::test]
async fn lists_jobs_and_the_content_bundle() {
    let h = harness().await;
    let r = post_ok(
        &h,
        "/lists/save",
        json!({"name": "Allow", "data": "a,b", "type": "plain_text", "id": null}),
    )
    .await;
    assert_eq!(r["version"], 1);
    let r = post_ok(&h, "/lists/save", json!({"name": "Allow", "data": "a,b,c"})).await;
    assert_eq!(r["version"], 2);
    assert_all_bad(
        &h,
        "/lists/save",
        vec![
            (json!({"data": "x"}), "name"),
            (json!({"name": "L", "data": {"a": 1}}), "data"),
        ],
    )
    .await;

    let job = json!({"name": "Nightly", "playbookId": "api-ok", "cron": "0 0 * * *"}).to_string();
    let r = h
        .multipart(
            "/jobs/import",
            &[],
            Some(("job-Nightly.json", job.as_bytes())),
        )
        .await;
    assert_eq!(ok_json(&r)["name"], "Nightly");
    for (file, mentions) in [
        (Some(&b"{nope"[..]), "not JSON"),
        (Some(&b"{\"cron\": \"x\"}"[..]), "name"),
        (None, "'file'"),
    ] {
        let file = file.map(|bytes| ("j.json", bytes));
        assert_bad(&h.multipart("/jobs/import", &[], file).await, mentions);
    }

    post_ok(
        &h,
        "/automation",
        json!({"script": {"name": "Bundled", "script": "pass", "type": "python"}}),
    )
    .await;
    save_completing(&h).await;

    let b = h.get("/content/bundle").await;
    assert_status(&b, StatusCode::OK);
    let files = untar(&b.bytes);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "list-Allow.json",
        "job-Nightly.json",
        "automation-Bundled.yml",
        "playbook-api-ok.yml",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let file = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, bytes)| bytes.as_slice())
            .unwrap_or_else(|| panic!("{name} in the bundle"))
    };
    let list: Value = serde_json::from_slice(file("list-Allow.json")).expect("list json");
    assert_eq!(list["data"], "a,b,c");
    assert!(String::from_utf8_lossy(file("automation-Bundled.yml")).contains("pass"));
}

#[tokio::test]
async fn entries_notes_and_formatted_entries_are_added() {
    let h = harness().await;
    let pg = h.state.playground_id().to_owned();
    let r = post_ok(
        &h,
        "/entry",
        json!({"investigationId": pg, "data": "plain"}),
    )
    .await;
    assert_eq!(r["contents"], "plain");
    let r = post_ok(
        &h,
        "/entry/note",
        json!({"investigationId": pg, "data": "a note"}),
    )
    .await;
    assert_eq!(r["note"], true);
    let r = post_ok(
        &h,
        "/entry/formatted",
        json!({"investigationId": pg, "contents": "| a |", "format": "table"}),
    )
    .await;
    assert_eq!(r["format"], "table");
    assert_bad(
        &h.post("/entry", json!({"data": "x"})).await,
        "investigationId",
    );
    assert_status(
        &h.post(
            "/entry/note",
            json!({"investigationId": "nope", "data": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn saved_content_and_settings_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("xsoar.db");
    let start = || common::file_server(common::engine(&[]), &path);
    {
        let h = start().await;
        for (path, body) in [
            (
                "/automation",
                json!({"script": {"name": "Kept", "script": "pass", "type": "python"}}),
            ),
            ("/lists/save", json!({"name": "KeptList", "data": "x"})),
            ("/system/config", json!({"data": {"kept.key": "v"}})),
        ] {
            post_ok(&h, path, body).await;
        }
        h.state.shutdown(std::time::Duration::from_secs(1)).await;
    }
    let h = start().await;
    let found = search_scripts(&h, "name:Kept").await;
    assert_eq!(found["scripts"][0]["script"], "pass");
    assert_eq!(
        ok_json(&h.get("/system/config").await)["sysConf"]["kept.key"],
        "v"
    );
    let names: Vec<String> = untar(&h.get("/content/bundle").await.bytes)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.contains(&"list-KeptList.json".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn incident_dates_are_checked_and_epochs_converted() {
    let h = harness().await;
    assert_all_bad(
        &h,
        "/incident",
        vec![
            (json!({"name": "a", "occurred": "notadate"}), "notadate"),
            (json!({"name": "a", "dueDate": "tomorrow"}), "dueDate"),
            (json!({"name": "a", "reminder": true}), "reminder"),
        ],
    )
    .await;
    // Nothing was created by the refused requests.
    let all = post_ok(&h, "/incidents/search", json!({"filter": {}})).await;
    assert_eq!(all["total"], 0, "{all}");

    let seconds = post_ok(
        &h,
        "/incident",
        json!({"name": "s", "occurred": 1_700_000_000, "dueDate": 1_700_000_000_000_i64}),
    )
    .await;
    assert_eq!(seconds["occurred"], "2023-11-14T22:13:20Z");
    assert_eq!(seconds["dueDate"], "2023-11-14T22:13:20Z");
    let given = post_ok(
        &h,
        "/incident",
        json!({"name": "r", "occurred": "2025-11-29T07:00:00+03:00", "dueDate": ""}),
    )
    .await;
    assert_eq!(given["occurred"], "2025-11-29T07:00:00+03:00");
    assert_eq!(given["dueDate"], "0001-01-01T00:00:00Z");
    let unset = post_ok(&h, "/incident", json!({"name": "u", "occurred": null})).await;
    assert_eq!(
        unset["occurred"], unset["created"],
        "unset occurred is the creation time"
    );

    // Closing checks the dates it is given too.
    let id = seconds["id"].as_str().expect("id");
    assert_bad(
        &h.post(
            "/incident/close",
            json!({"id": id, "CustomFields": {"dueDate": "soon"}}),
        )
        .await,
        "soon",
    );
    // Every stored date parses, so searches keep working.
    let all = post_ok(&h, "/incidents/search", json!({"filter": {}})).await;
    assert_eq!(all["total"], 3);
    for i in all["data"].as_array().expect("data") {
        for key in ["occurred", "dueDate", "created", "modified", "closed"] {
            let t = i[key].as_str().expect("date string");
            assert!(
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{key}: {t}"
            );
        }
    }
}

#[tokio::test]
async fn severity_words_become_numbers_and_others_are_refused() {
    let h = harness().await;
    let r = post_ok(&h, "/incident", json!({"name": "w", "severity": "High"})).await;
    assert_eq!(r["severity"], 3);
    let r = post_ok(&h, "/incident", json!({"name": "n", "severity": 0.5})).await;
    assert_eq!(r["severity"], 0.5);
    assert_all_bad(
        &h,
        "/incident",
        vec![
            (json!({"name": "a", "severity": "urgent"}), "urgent"),
            (json!({"name": "a", "severity": 99}), "severity"),
        ],
    )
    .await;
}

#[tokio::test]
async fn malformed_search_delete_and_context_bodies_are_400() {
    let h = harness().await;
    let id = incident(&h).await;
    assert_all_bad(
        &h,
        "/incidents/search",
        vec![
            (json!({"filter": {"fromDate": "garbage"}}), "garbage"),
            (json!({"filter": {"toDate": [1]}}), "toDate"),
            (json!({"filter": {"page": "x"}}), "page"),
            (json!({"filter": {"size": -1}}), "size"),
            (json!({"filter": {"page": 1.5}}), "page"),
            (json!({"filter": {"size": 2.5}}), "size"),
        ],
    )
    .await;
    assert_bad(
        &h.post("/investigations/search", json!({"filter": {"page": -2}}))
            .await,
        "page",
    );
    let found = post_ok(
        &h,
        "/incidents/search",
        json!({"filter": {"fromDate": "2000-01-01T00:00:00Z", "page": "0", "size": 0}}),
    )
    .await;
    assert_eq!(found["total"], 1);
    assert_bad(
        &h.post("/incident/batchDelete", json!({"ids": "3"})).await,
        "ids",
    );
    assert_bad(
        &h.post("/incident/batchDelete", json!({"ids": [{"id": 3}]}))
            .await,
        "ids",
    );
    assert_bad(
        &h.post(&format!("/investigation/{id}/context"), json!({"query": 5}))
            .await,
        "query",
    );
    let deleted = post_ok(
        &h,
        "/incident/batchDelete",
        json!({"ids": [id.parse::<u64>().expect("numeric id")], "filter": {}, "all": false}),
    )
    .await;
    assert_eq!(deleted["total"], 1);
}

#[tokio::test]
async fn a_page_without_a_size_is_a_page_of_fifty_so_page_loops_end() {
    let h = harness().await;
    for _ in 0..55 {
        incident(&h).await;
    }
    let first = post_ok(&h, "/incidents/search", json!({"filter": {"page": 0}})).await;
    assert_eq!(first["total"], 55);
    assert_eq!(first["data"].as_array().expect("data").len(), 50);
    let second = post_ok(&h, "/incidents/search", json!({"filter": {"page": 1}})).await;
    assert_eq!(second["data"].as_array().expect("data").len(), 5);
    let past = post_ok(&h, "/incidents/search", json!({"filter": {"page": 5}})).await;
    assert_eq!(past["data"], json!([]), "a page past the end is empty");
    // No paging at all: everything, as before.
    let all = post_ok(&h, "/incidents/search", json!({"filter": {}})).await;
    assert_eq!(all["data"].as_array().expect("data").len(), 55);
}

#[tokio::test]
async fn investigations_search_filters_by_name() {
    let h = harness().await;
    let id = incident(&h).await;
    let all = post_ok(&h, "/investigations/search", json!({"filter": {}})).await;
    assert!(all["total"].as_u64().expect("total") >= 2, "{all}");
    let named = post_ok(
        &h,
        "/investigations/search",
        json!({"filter": {"name": ["upload target"]}}),
    )
    .await;
    assert_eq!(named["total"], 1, "{named}");
    assert_eq!(named["data"][0]["id"], json!(id));
    let none = post_ok(
        &h,
        "/investigations/search",
        json!({"filter": {"name": ["no such investigation"]}}),
    )
    .await;
    assert_eq!(none["total"], 0);
}

#[tokio::test]
async fn error_bodies_carry_xsoars_error_key() {
    let h = harness().await;
    let r = h.get("/xsoar/ioc-rules").await;
    assert_status(&r, StatusCode::NOT_FOUND);
    let body = r.json();
    assert_eq!(body["id"], "not_found");
    assert_eq!(body["status"], 404);
    assert!(!body["detail"].as_str().expect("detail").is_empty());
    assert_eq!(body["error"], body["detail"], "{body}");
}

/// Login step 1, a JSON `GET /`: the `Set-Cookie` value and the XSRF token in it.
async fn xsrf_token(h: &Harness) -> (String, String) {
    let first = h.raw(axum::http::Method::GET, "/", None, &[]).await;
    assert_status(&first, StatusCode::OK);
    let set = first.headers[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    let token = set
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("XSRF-TOKEN="))
        .expect("XSRF-TOKEN")
        .to_owned();
    (set, token)
}

#[tokio::test]
async fn a_username_and_password_open_a_session_as_demisto_py_logs_in() {
    use axum::http::Method;
    let h = harness().await;
    let creds = json!({"user": "admin", "password": KEY});
    // Step 1: a JSON GET / (demisto-py's carries no body) → XSRF-TOKEN cookie.
    let (set, token) = xsrf_token(&h).await;
    assert_eq!(token.len(), 64);
    // Step 2: POST /login with the token → session cookie.
    let second = h
        .raw(
            Method::POST,
            "/login",
            Some(creds.clone()),
            &[("cookie", &set), ("x-xsrf-token", &token)],
        )
        .await;
    assert_status(&second, StatusCode::OK);
    let session = second.headers[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        session.starts_with("S=") && session.contains("HttpOnly"),
        "{session}"
    );
    let cookies = format!("{set}; {session}");
    // The session calls the API without Authorization, with its XSRF token only.
    let ok = h
        .raw(
            Method::POST,
            "/investigations/search",
            Some(json!({"filter": {}})),
            &[("cookie", &cookies), ("x-xsrf-token", &token)],
        )
        .await;
    assert_status(&ok, StatusCode::OK);
    let other_token = h
        .raw(
            Method::POST,
            "/investigations/search",
            Some(json!({"filter": {}})),
            &[
                ("cookie", &cookies),
                ("x-xsrf-token", "0".repeat(64).as_str()),
            ],
        )
        .await;
    assert_status(&other_token, StatusCode::UNAUTHORIZED);
    let no_token = h
        .raw(
            Method::POST,
            "/investigations/search",
            Some(json!({"filter": {}})),
            &[("cookie", &cookies)],
        )
        .await;
    assert_status(&no_token, StatusCode::UNAUTHORIZED);
    // A token is good for one login only; wrong passwords and users are refused.
    let again = h
        .raw(
            Method::POST,
            "/login",
            Some(creds),
            &[("cookie", &set), ("x-xsrf-token", &token)],
        )
        .await;
    assert_status(&again, StatusCode::UNAUTHORIZED);
    for bad in [
        json!({"user": "admin", "password": "wrong"}),
        json!({"user": "mallory", "password": KEY}),
    ] {
        // Refused at step 1 when sent there, and at POST /login with a fresh token.
        let r = h.raw(Method::GET, "/", Some(bad.clone()), &[]).await;
        assert_status(&r, StatusCode::UNAUTHORIZED);
        assert!(!r.text().contains(KEY), "the key must not be echoed");
        let (set, token) = xsrf_token(&h).await;
        let r = h
            .raw(
                Method::POST,
                "/login",
                Some(bad),
                &[("cookie", &set), ("x-xsrf-token", &token)],
            )
            .await;
        assert_status(&r, StatusCode::UNAUTHORIZED);
        assert!(r.headers.get(header::SET_COOKIE).is_none());
    }
    // A browser's page load is not a login step.
    let page = h
        .send(
            axum::http::Request::builder()
                .uri("/")
                .header(header::ACCEPT, "text/html")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert!(page.headers.get(header::SET_COOKIE).is_none());
}
