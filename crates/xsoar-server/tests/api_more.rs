//! The REST API in-process, second part: war-room uploads, playbook definitions, scripts,
//! server configuration, module configurations, lists, jobs and the custom content bundle.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use xsoar_engine::{Engine, EngineOptions, VirtualClock};
use xsoar_server::{router, AppState, ServerConfig};
use xsoar_store::Store;

const KEY: &str = "test-api-key-0123456789";
const SIGNL4_YML: &str = include_str!("../../../integrations/SIGNL4/SIGNL4.yml");
const SECRET: &str = "p4ss-w0rd-never-shown";

const COMPLETING: &str = r#"id: api-ok
name: API OK
starttaskid: "0"
tasks:
  "0":
    id: "0"
    type: start
    task: {name: ""}
    nexttasks: {'#none#': ["1"]}
  "1":
    id: "1"
    type: regular
    task: {name: Remember, scriptName: Set}
    scriptarguments:
      key: {simple: Done}
      value: {simple: "yes"}
"#;

struct Harness {
    app: Router,
    state: AppState,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

async fn harness() -> Harness {
    let engine = Arc::new(Engine::new(VirtualClock::fixed(), EngineOptions::default()));
    let (item, _) = xsoar_content::parse_any(SIGNL4_YML, "SIGNL4.yml");
    engine.add_content(vec![item.expect("content parses")]);
    let (store, _) = Store::open_in_memory().expect("store");
    let state = AppState::new(engine, store, ServerConfig::with_key(KEY))
        .await
        .expect("state");
    Harness {
        app: router(state.clone()),
        state,
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        let reply = Reply {
            status,
            headers,
            bytes,
        };
        let text = reply.text();
        assert!(!text.contains(SECRET), "a secret leaked: {text}");
        assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "500: {text}");
        if status.is_success() {
            if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&reply.bytes) {
                assert!(!o.contains_key("error"), "top-level error key: {text}");
            }
        }
        reply
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(req.body(body).expect("request")).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// A multipart form with text fields and, optionally, a `file` part.
    async fn multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Reply {
        let boundary = "XSOARMORE9";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, bytes)) = file {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, KEY)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    async fn incident(&self) -> String {
        let r = self
            .post("/incident", json!({"name": "upload target"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["id"].as_str().expect("id").to_owned()
    }
}

fn assert_bad(r: &Reply, mentions: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text().contains(mentions),
        "'{mentions}' not in {}",
        r.text()
    );
}

#[tokio::test]
async fn war_room_uploads_are_downloadable_file_entries() {
    let h = harness().await;
    let id = h.incident().await;
    let r = h
        .multipart(
            &format!("/entry/upload/{id}"),
            &[
                ("fileName", "report.txt"),
                ("fileComment", "the report"),
                ("showMediaFile", "false"),
            ],
            Some(("upload.bin", b"hello file")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let e = r.json();
    assert_eq!(e["type"], 3);
    assert_eq!(e["file"], "report.txt");
    assert_eq!(e["contents"], "the report");
    let entry_id = e["id"].as_str().expect("entry id").replace('@', "%40");
    let d = h.get(&format!("/entry/download/{entry_id}")).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.bytes, b"hello file");
    assert!(d.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("header")
        .contains("report.txt"));
    let found = h
        .post("/incidents/search", json!({"filter": {"id": [id]}}))
        .await
        .json();
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
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["contents"], "notes.md");

    assert_bad(
        &h.multipart(&format!("/entry/upload/{id}"), &[("fileName", "x")], None)
            .await,
        "'file'",
    );
    assert_bad(
        &h.multipart(
            &format!("/entry/upload/{id}"),
            &[("showMediaFile", "maybe")],
            Some(("a.txt", b"a")),
        )
        .await,
        "showMediaFile",
    );
    let r = h
        .multipart("/entry/upload/999", &[], Some(("a.txt", b"a")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn playbook_inputs_search_yaml_and_delete() {
    let h = harness().await;
    let r = h
        .multipart(
            "/playbook/save/yaml",
            &[],
            Some(("playbook-api-ok.yml", COMPLETING.as_bytes())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let r = h
        .post(
            "/playbook/inputs/api-ok",
            json!({"inputs": [{"key": "Who", "value": {"simple": "me"}, "required": true, "description": "who"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["inputs"][0]["key"], "Who");
    let pb = h.get("/playbook/api-ok").await.json();
    assert_eq!(pb["inputs"][0]["value"]["simple"], "me");
    assert_eq!(pb["inputs"][0]["required"], true);
    // A bare list (older servers) works too.
    let r = h
        .post(
            "/playbook/inputs/api-ok",
            json!([{"key": "A", "value": {"simple": "1"}}, {"key": "B"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        h.get("/playbook/api-ok").await.json()["inputs"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_bad(
        &h.post(
            "/playbook/inputs/api-ok",
            json!({"inputs": [{"key": "A", "value": 5}]}),
        )
        .await,
        "inputs[0].value",
    );
    assert_bad(
        &h.post("/playbook/inputs/api-ok", json!({"x": 1})).await,
        "inputs",
    );
    assert_eq!(
        h.post("/playbook/inputs/nope", json!({"inputs": []}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let y = h.get("/playbook/api-ok/yaml").await;
    assert_eq!(y.status, StatusCode::OK);
    assert!(
        y.text().contains("starttaskid") && y.text().contains("key: A"),
        "{}",
        y.text()
    );
    assert_eq!(
        h.get("/playbook/nope/yaml").await.status,
        StatusCode::NOT_FOUND
    );

    let s = h
        .post("/playbook/search", json!({"query": "name:API*"}))
        .await
        .json();
    assert_eq!(s["total"], 1);
    assert_eq!(s["playbooks"][0]["id"], "api-ok");
    assert_eq!(s["playbooks"][0]["system"], false);
    let none = h
        .post("/playbook/search", json!({"query": "name:nothing*"}))
        .await
        .json();
    assert_eq!(none["total"], 0);

    assert_bad(&h.post("/playbook/delete", json!({})).await, "playbook id");
    let r = h
        .post(
            "/playbook/delete",
            json!({"id": "api-ok", "name": "API OK"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        h.get("/playbook/api-ok").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.post("/playbook/delete", json!({"id": "api-ok"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn investigate_opens_the_incidents_investigation() {
    let h = harness().await;
    let id = h.incident().await;
    let r = h.post("/incident/investigate", json!({"id": id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["type"], 0);
    assert_bad(
        &h.post("/incident/investigate", json!({})).await,
        "incident id",
    );
    assert_eq!(
        h.post("/incident/investigate", json!({"id": "424242"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn system_config_is_kept_and_secret_keys_masked() {
    let h = harness().await;
    let r = h
        .post(
            "/system/config",
            json!({"data": {"content.unlock.integrations": "true", "limit": 5, "proxy.password": SECRET}, "version": -1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let conf = h.get("/system/config").await.json();
    assert_eq!(conf["sysConf"]["content.unlock.integrations"], "true");
    assert_eq!(conf["sysConf"]["limit"], "5");
    assert_eq!(conf["sysConf"]["proxy.password"], "******");
    let r = h
        .post("/system/config", json!({"data": {"limit": null}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["sysConf"].get("limit").is_none());
    assert_bad(
        &h.post("/system/config", json!({"version": -1})).await,
        "data",
    );
    assert_bad(
        &h.post("/system/config", json!({"data": {"k": {"a": 1}}}))
            .await,
        "data.k",
    );

    let r = h.post("/containers/reset", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["reset"].is_u64());
    assert_eq!(
        h.get("/containers/reset").await.status,
        StatusCode::METHOD_NOT_ALLOWED
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
    let r = h.put("/settings/integration-conf", conf).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], "MyInt");
    assert_eq!(r.json()["configuration"][0]["defaultValue"], "https://x");
    // Only the parameters change; the commands stay.
    let r = h
        .put(
            "/settings/integration-conf",
            json!({"id": "MyInt", "configuration": [{"name": "url", "display": "URL", "defaultValue": "https://y"}, {"name": "insecure", "type": 8}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let listed = h
        .post("/settings/integration/search", json!({"query": "id:MyInt"}))
        .await
        .json();
    let c = &listed["configurations"][0];
    assert_eq!(c["configuration"][0]["defaultValue"], "https://y");
    assert_eq!(c["configuration"][1]["name"], "insecure");
    assert_eq!(c["integrationScript"]["commands"][0]["name"], "my-cmd");

    assert_bad(
        &h.put("/settings/integration-conf", json!({"category": "x"}))
            .await,
        "id",
    );
    assert_bad(
        &h.put("/settings/integration-conf", json!({"id": "Other"}))
            .await,
        "integrationScript",
    );
    assert_bad(
        &h.put(
            "/settings/integration-conf",
            json!({"id": "MyInt", "configuration": [{"display": "no name"}]}),
        )
        .await,
        "configuration[0].name",
    );
}

#[tokio::test]
async fn automation_scripts_are_saved_searched_copied_loaded_and_deleted() {
    let h = harness().await;
    let body = json!({"script": {
        "id": "", "name": "MyScript", "type": "python", "subtype": "python3", "script": "print(1)",
        "arguments": [{"name": "value", "required": true, "description": "v"}],
        "outputs": [{"contextPath": "MyScript.Result", "type": "string"}],
        "tags": ["utility"], "version": -1, "pswd": SECRET}, "savePassword": false});
    let r = h.post("/automation", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = &r.json()["scripts"][0];
    assert_eq!(s["id"], "MyScript");
    assert_eq!(s["version"], 1);
    assert_eq!(s["script"], "print(1)");
    assert_eq!(s["arguments"][0]["name"], "value");
    assert_eq!(s["system"], false);

    let found = h
        .post("/automation/search", json!({"query": "name:MyScript"}))
        .await
        .json();
    assert_eq!(found["scripts"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["pythonEnabled"], true);
    let tagged = h
        .post("/automation/search", json!({"query": "tags:utility"}))
        .await
        .json();
    assert!(tagged["scripts"]
        .as_array()
        .expect("list")
        .iter()
        .any(|s| s["id"] == "MyScript"));
    let builtin = h
        .post("/automation/search", json!({"query": "name:Print"}))
        .await
        .json();
    assert_eq!(builtin["scripts"][0]["system"], true);
    let nothing = h
        .post("/automation/search", json!({"query": "name:NoSuchScript"}))
        .await
        .json();
    assert_eq!(nothing["scripts"], json!([]));

    // Update: keeps what is not sent, counts versions, refuses stale versions.
    let r = h
        .post(
            "/automation",
            json!({"script": {"id": "MyScript", "script": "print(2)", "version": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["scripts"][0]["version"], 2);
    assert_eq!(r.json()["scripts"][0]["tags"], json!(["utility"]));
    let r = h
        .post(
            "/automation",
            json!({"script": {"id": "MyScript", "script": "x", "version": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    let loaded = h.post("/automation/load/MyScript", json!({})).await;
    assert_eq!(loaded.status, StatusCode::OK);
    assert_eq!(loaded.json()["script"], "print(2)");
    assert_eq!(
        h.get("/automation/load/Nope").await.status,
        StatusCode::NOT_FOUND
    );

    let copy = h
        .post("/automation/copy", json!({"script": {"id": "MyScript"}}))
        .await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.text());
    assert_eq!(copy.json()["scripts"][0]["name"], "MyScript_copy");
    let copy2 = h
        .post("/automation/copy", json!({"script": {"id": "MyScript"}}))
        .await;
    assert_eq!(copy2.json()["scripts"][0]["name"], "MyScript_copy_2");
    let print_copy = h
        .post("/automation/copy", json!({"script": {"id": "Print"}}))
        .await;
    assert_eq!(print_copy.status, StatusCode::OK, "{}", print_copy.text());
    assert_eq!(print_copy.json()["scripts"][0]["system"], false);

    let r = h
        .post(
            "/automation/delete",
            json!({"script": {"id": "MyScript_copy"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let gone = h
        .post("/automation/search", json!({"query": "name:MyScript_copy"}))
        .await
        .json();
    assert_eq!(gone["scripts"], json!([]));
    assert_bad(
        &h.post("/automation/delete", json!({"script": {"id": "Print"}}))
            .await,
        "Print",
    );
    assert_eq!(
        h.post("/automation/delete", json!({"script": {"id": "Nope"}}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_bad(&h.post("/automation", json!({})).await, "script");
    assert_bad(
        &h.post(
            "/automation",
            json!({"script": {"name": "Bad", "type": "cobol"}}),
        )
        .await,
        "script.type",
    );
    assert_bad(
        &h.post(
            "/automation",
            json!({"script": {"name": "Bad", "arguments": [{"description": "x"}]}}),
        )
        .await,
        "script.arguments[0].name",
    );
    assert_bad(
        &h.post(
            "/automation",
            json!({"script": {"id": "Print", "script": "x"}}),
        )
        .await,
        "system script",
    );
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
    let r = h
        .post(
            "/lists/save",
            json!({"name": "Allow", "data": "a,b", "type": "plain_text", "id": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["version"], 1);
    let r = h
        .post("/lists/save", json!({"name": "Allow", "data": "a,b,c"}))
        .await;
    assert_eq!(r.json()["version"], 2);
    assert_bad(&h.post("/lists/save", json!({"data": "x"})).await, "name");
    assert_bad(
        &h.post("/lists/save", json!({"name": "L", "data": {"a": 1}}))
            .await,
        "data",
    );

    let job = json!({"name": "Nightly", "playbookId": "api-ok", "cron": "0 0 * * *"}).to_string();
    let r = h
        .multipart(
            "/jobs/import",
            &[],
            Some(("job-Nightly.json", job.as_bytes())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["name"], "Nightly");
    assert_bad(
        &h.multipart("/jobs/import", &[], Some(("j.json", b"{nope")))
            .await,
        "not JSON",
    );
    assert_bad(
        &h.multipart("/jobs/import", &[], Some(("j.json", b"{\"cron\": \"x\"}")))
            .await,
        "name",
    );
    assert_bad(&h.multipart("/jobs/import", &[], None).await, "'file'");

    let r = h
        .post(
            "/automation",
            json!({"script": {"name": "Bundled", "script": "pass", "type": "python"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h
        .multipart(
            "/playbook/save/yaml",
            &[],
            Some(("playbook-api-ok.yml", COMPLETING.as_bytes())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let b = h.get("/content/bundle").await;
    assert_eq!(b.status, StatusCode::OK);
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
    let list = &files
        .iter()
        .find(|(n, _)| n == "list-Allow.json")
        .expect("list")
        .1;
    let list: Value = serde_json::from_slice(list).expect("list json");
    assert_eq!(list["data"], "a,b,c");
    let script = &files
        .iter()
        .find(|(n, _)| n == "automation-Bundled.yml")
        .expect("script")
        .1;
    assert!(String::from_utf8_lossy(script).contains("pass"));
}

#[tokio::test]
async fn entries_notes_and_formatted_entries_are_added() {
    let h = harness().await;
    let pg = h.state.playground_id().to_owned();
    let r = h
        .post("/entry", json!({"investigationId": pg, "data": "plain"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["contents"], "plain");
    let r = h
        .post(
            "/entry/note",
            json!({"investigationId": pg, "data": "a note"}),
        )
        .await;
    assert_eq!(r.json()["note"], true);
    let r = h
        .post(
            "/entry/formatted",
            json!({"investigationId": pg, "contents": "| a |", "format": "table"}),
        )
        .await;
    assert_eq!(r.json()["format"], "table");
    assert_bad(
        &h.post("/entry", json!({"data": "x"})).await,
        "investigationId",
    );
    assert_eq!(
        h.post(
            "/entry/note",
            json!({"investigationId": "nope", "data": "x"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn saved_content_and_settings_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("xsoar.db");
    let start = || async {
        let engine = Arc::new(Engine::new(VirtualClock::fixed(), EngineOptions::default()));
        let (store, _) = Store::open(&path).expect("store");
        let state = AppState::new(engine, store, ServerConfig::with_key(KEY))
            .await
            .expect("state");
        Harness {
            app: router(state.clone()),
            state,
        }
    };
    {
        let h = start().await;
        let r = h
            .post(
                "/automation",
                json!({"script": {"name": "Kept", "script": "pass", "type": "python"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = h
            .post("/lists/save", json!({"name": "KeptList", "data": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = h
            .post("/system/config", json!({"data": {"kept.key": "v"}}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        h.state.shutdown(std::time::Duration::from_secs(1)).await;
    }
    let h = start().await;
    let found = h
        .post("/automation/search", json!({"query": "name:Kept"}))
        .await
        .json();
    assert_eq!(found["scripts"][0]["script"], "pass");
    assert_eq!(
        h.get("/system/config").await.json()["sysConf"]["kept.key"],
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
