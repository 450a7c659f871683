//! The REST API in-process: every endpoint real clients call, with the shapes they parse,
//! against an engine whose SIGNL4 instance is the simulator.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Api, Reply, COMPLETING, KEY, SECRET, SIGNL4_YML, SIM_SECRET};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use xsoar_engine::{Engine, InstanceSpec};
use xsoar_server::{ReloadFn, ReloadOutcome, ServerConfig};
use xsoar_store::{RunRecord, RunStatus, Store};

const ALERT_AND_CLOSE: &str = include_str!("../../../playbooks/SIGNL4_Alert_and_Close.yml");

const FAILING: &str = r#"id: api-fail
name: API Fail
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
    task: {name: Page, script: "SIGNL4|||signl4_alert", iscommand: true, brand: SIGNL4}
    scriptarguments:
      title: {simple: x}
      message: {simple: y}
      using: {simple: no-such-instance}
"#;

struct Harness {
    api: Api,
    sim: xsoar_signl4::sim::SimHandle,
}

impl std::ops::Deref for Harness {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

fn sim_spec(url: &str) -> InstanceSpec {
    let mut params = Map::new();
    params.insert("url".into(), json!(url));
    params.insert(
        "secret".into(),
        json!({"identifier": "", "password": SIM_SECRET}),
    );
    params.insert("proxy".into(), json!(false));
    InstanceSpec {
        name: "signl4-simulator".into(),
        brand: "SIGNL4".into(),
        enabled: true,
        params,
        simulated: true,
    }
}

fn engine() -> Arc<Engine> {
    let engine = common::engine(&[
        ("SIGNL4.yml", SIGNL4_YML),
        ("SIGNL4_Alert_and_Close.yml", ALERT_AND_CLOSE),
    ]);
    engine.register_factory(xsoar_signl4::factory());
    engine
}

async fn simulator() -> xsoar_signl4::sim::SimHandle {
    let config = xsoar_signl4::sim::SimConfig {
        quota_per_window: 0,
        ..Default::default()
    };
    xsoar_signl4::sim::spawn(
        xsoar_signl4::sim::Simulator::new(config),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("simulator")
}

async fn start(
    store: Store,
    sim: xsoar_signl4::sim::SimHandle,
    reload: Option<ReloadFn>,
) -> Harness {
    let mut config = ServerConfig::with_key(KEY);
    config.base_instances = vec![sim_spec(&sim.url())];
    config.reload = reload;
    Harness {
        api: common::server(engine(), store, config).await,
        sim,
    }
}

async fn harness() -> Harness {
    let (store, _) = Store::open_in_memory().expect("store");
    start(store, simulator().await, None).await
}

impl Harness {
    async fn upload(&self, path: &str, file: &str, bytes: &[u8]) -> Reply {
        self.multipart(path, &[("skipVerify", "true")], Some((file, bytes)))
            .await
    }

    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.multipart(path, fields, None).await
    }

    async fn run(&self, line: &str) -> Vec<Value> {
        let pg = self.state.playground_id().to_owned();
        let r = self
            .post(
                "/entry/execute/sync",
                json!({"investigationId": pg, "data": line}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json().as_array().cloned().expect("a list of entries")
    }

    async fn context(&self, inv: &str, query: &str) -> Value {
        let r = self
            .post(
                &format!("/investigation/{inv}/context"),
                json!({"query": query}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    /// Poll `/inv-playbook` until the run leaves `inprogress`.
    async fn wait_run(&self, id: &str) -> Value {
        for _ in 0..200 {
            let r = self.get(&format!("/inv-playbook/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let v = r.json();
            if v["state"] != "inprogress" {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("run {id} did not stop");
    }
}

#[tokio::test]
async fn keys_are_checked_and_the_index_is_public() {
    let h = harness().await;
    let no_key = Request::builder()
        .uri("/health/server")
        .body(Body::empty())
        .expect("req");
    let r = h.send(no_key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["id"], "unauthorized");
    assert_eq!(r.json()["status"], 401);
    let wrong = Request::builder()
        .uri("/about")
        .header(header::AUTHORIZATION, format!("{KEY}x"))
        .body(Body::empty())
        .expect("req");
    assert_eq!(h.send(wrong).await.status, StatusCode::UNAUTHORIZED);
    let bearer = Request::builder()
        .uri("/about")
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(Body::empty())
        .expect("req");
    assert_eq!(h.send(bearer).await.status, StatusCode::UNAUTHORIZED);

    let r = h.get("/health/server").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "OK");

    // demisto-py's advanced key: sha256_hex(key + nonce + timestamp), never the key itself.
    let nonce = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7nP9rS1uV3xY5zA7cE9gI1kM3o";
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let timestamp = format!("{}", now_s * 1000);
    let timestamp = timestamp.as_str();
    let digest = |key: &str| {
        let d = ring::digest::digest(
            &ring::digest::SHA256,
            format!("{key}{nonce}{timestamp}").as_bytes(),
        );
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let advanced = |auth: String, nonce: &str| {
        Request::builder()
            .uri("/about")
            .header(header::AUTHORIZATION, auth)
            .header("x-xdr-nonce", nonce)
            .header("x-xdr-timestamp", timestamp)
            .header("x-xdr-auth-id", "1")
            .body(Body::empty())
            .expect("req")
    };
    assert_eq!(
        h.send(advanced(digest(KEY), nonce)).await.status,
        StatusCode::OK
    );
    // Ten minutes old: outside the window, though correctly signed.
    let old_ts = format!("{}", (now_s - 600) * 1000);
    let stale = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{KEY}{nonce}x{old_ts}").as_bytes(),
    );
    let stale_req = Request::builder()
        .uri("/about")
        .header(
            header::AUTHORIZATION,
            stale
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        )
        .header("x-xdr-nonce", format!("{nonce}x"))
        .header("x-xdr-timestamp", old_ts)
        .body(Body::empty())
        .expect("req");
    let r = h.send(stale_req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("5 minutes"), "{}", r.text());
    // The same nonce again is a replay; each refusal says which check failed.
    for (auth, nonce, says) in [
        (digest(KEY), nonce, "already used"),
        (
            digest("wrong-key"),
            nonce,
            "sha256(key + x-xdr-nonce + x-xdr-timestamp)",
        ),
        (digest(KEY), "shortnonce", "16 to 256 letters and digits"),
        (KEY.to_owned(), nonce, "sha256"),
    ] {
        let r = h.send(advanced(auth, nonce)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.text().contains(says), "{says}: {}", r.text());
        assert!(!r.text().contains(KEY), "the key is never shown");
    }

    let index = Request::builder()
        .uri("/")
        .body(Body::empty())
        .expect("req");
    let r = h.send(index).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("xsoar-emu server"));

    let prefixed = Request::builder()
        .uri("/xsoar/about")
        .body(Body::empty())
        .expect("req");
    assert_eq!(h.send(prefixed).await.status, StatusCode::UNAUTHORIZED);
    for path in ["/xsoar/about", "/xsoar/public/v1/about", "/about"] {
        let r = h.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.json()["productMode"], "xsoar");
    }
    assert_eq!(
        h.get("/public_api/v1/healthcheck").await.json(),
        json!({"status": "available"})
    );
    let r = h.get("/xsoar/ioc-rules").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["status"], 404);
}

#[tokio::test]
async fn about_survives_the_sdk_reparse() {
    let h = harness().await;
    let r = h.get("/about").await;
    let ct = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let v = r.json();
    assert_eq!(v["demistoVersion"], "6.13.0");
    assert_eq!(v["deploymentMode"], "opp");
    fn plain(v: &Value) -> bool {
        match v {
            Value::String(s) => !s.contains('\''),
            Value::Number(_) => true,
            Value::Array(a) => a.iter().all(plain),
            Value::Object(o) => o.values().all(plain),
            Value::Bool(_) | Value::Null => false,
        }
    }
    assert!(plain(&v), "{v}");
    let user = h.get("/user").await.json();
    assert_eq!(user["username"], "admin");
}

#[tokio::test]
async fn the_playground_is_found_and_runs_commands() {
    let h = harness().await;
    // The typed client's body: every filter field, nulls for the unset ones.
    let r = h
        .post(
            "/investigations/search",
            json!({"filter": {"type": [9], "page": 0, "id": null, "name": null, "size": null}, "userFilter": null}),
        )
        .await;
    let v = r.json();
    assert_eq!(v["total"], 1);
    let pg = &v["data"][0];
    assert_eq!(pg["id"], h.state.playground_id());
    assert!(h.state.playground_id().ends_with("-playground"));
    assert_eq!(pg["type"], 9);
    assert_eq!(pg["creatingUserId"], "admin");
    assert!(pg["created"]
        .as_str()
        .is_some_and(|s| s.starts_with("2025-")));
    assert_eq!(pg["closed"], "0001-01-01T00:00:00Z");

    let entries = h.run("!signl4_alert title=x message=y").await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["type"], 1);
    assert_eq!(e["format"], "markdown");
    assert_eq!(e["brand"], "SIGNL4");
    assert_eq!(e["instance"], "signl4-simulator");
    assert_eq!(e["parentContent"], "!signl4_alert title=x message=y");
    let contents = e["contents"].as_str().expect("contents is a string");
    assert!(contents.contains("eventId"), "{contents}");
    let id = e["id"].as_str().expect("id");
    assert!(
        id.ends_with(&format!("@{}", h.state.playground_id())),
        "{id}"
    );

    let ctx = h.context(h.state.playground_id(), "${.}").await;
    let event = ctx["SIGNL4"]["AlertCreated"]["eventId"]
        .as_str()
        .expect("eventId in context")
        .to_owned();
    assert_eq!(
        h.context(h.state.playground_id(), "${SIGNL4.AlertCreated.eventId}")
            .await,
        json!(event)
    );
    assert_eq!(
        h.context(h.state.playground_id(), "SIGNL4.AlertCreated.eventId")
            .await,
        json!(event)
    );
    assert_eq!(
        h.context(h.state.playground_id(), "${No.Such.Path}").await,
        Value::Null
    );
    assert_eq!(h.sim.simulator().alerts().len(), 1);

    // The war room now holds the echo and the result.
    let r = h
        .post(
            &format!("/investigation/{}", h.state.playground_id()),
            json!({"pageSize": 1000}),
        )
        .await;
    let v = r.json();
    assert_eq!(v["total"], 2);
    assert_eq!(
        v["entries"][0]["contents"],
        "!signl4_alert title=x message=y"
    );
    assert_eq!(v["entries"][1]["id"], json!(id));
    assert_eq!(v["investigation"]["type"], 9);
}

#[tokio::test]
async fn failures_are_error_entries() {
    let h = harness().await;
    let e = h.run("!nosuch a=b").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["type"], 4);
    assert!(e[0]["contents"]
        .as_str()
        .is_some_and(|c| c.starts_with("Unsupported command or script: nosuch")));
    let e = h.run("!signl4_alert title=x").await;
    assert_eq!(e[0]["type"], 4);
    assert!(
        e[0]["contents"]
            .as_str()
            .is_some_and(|c| c.contains("message")),
        "{}",
        e[0]
    );
    let r = h
        .post(
            "/entry/execute/sync",
            json!({"investigationId": "nope", "data": "!Print value=x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .post(
            "/entry/execute/sync",
            json!({"investigationId": h.state.playground_id(), "data": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h.post("/entry/execute/sync", json!("not an object")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn debug_mode_writes_a_downloadable_log() {
    let h = harness().await;
    let e = h
        .run("!signl4_alert title=x message=y debug-mode=\"true\"")
        .await;
    assert_eq!(e.len(), 2);
    assert_eq!(e[1]["type"], 16);
    assert_eq!(e[1]["contents"], "signl4_alert-debug.log");
    assert_eq!(e[1]["file"], "signl4_alert-debug.log");
    let id = e[1]["id"].as_str().expect("id").replace('@', "%40");
    let r = h.get(&format!("/entry/download/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"signl4_alert-debug.log\"")
    );
    let log = r.text();
    assert!(log.starts_with("Executed: signl4_alert\n"), "{log}");
    assert!(log.contains("Context Outputs:\n"));
    assert!(log.contains("\nRaw Response section:\n{\"eventId\":"));
    let missing = h
        .get(&format!(
            "/entry/download/999%40{}",
            h.state.playground_id()
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let not_a_file = h
        .get(&format!("/entry/download/1%40{}", h.state.playground_id()))
        .await;
    assert_eq!(not_a_file.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_context_and_notes() {
    let h = harness().await;
    h.run("!Set key=A value=1").await;
    assert_eq!(
        h.context(h.state.playground_id(), "${.}").await,
        json!({"A": 1})
    );
    let e = h.run("!DeleteContext all=yes").await;
    assert_ne!(e[0]["type"], 4, "{}", e[0]);
    assert_eq!(h.context(h.state.playground_id(), "${.}").await, json!({}));

    let r = h
        .post(
            "/entry",
            json!({"investigationId": h.state.playground_id(), "data": "hello **there**", "markdown": true, "version": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["contents"], "hello **there**");
    assert_eq!(r.json()["format"], "markdown");
    let r = h
        .post(
            "/entry/note",
            json!({"investigationId": h.state.playground_id(), "data": "a note"}),
        )
        .await;
    assert_eq!(r.json()["note"], true);
    let v = h
        .post(
            &format!("/investigation/{}", h.state.playground_id()),
            json!({"pageSize": 2}),
        )
        .await
        .json();
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["entries"][1]["contents"], "a note");
}

#[tokio::test]
async fn incidents_run_playbooks_to_completion_or_failure() {
    let h = harness().await;
    for (file, text) in [
        ("playbook-API_OK.yml", COMPLETING),
        ("playbook-API_Fail.yml", FAILING),
    ] {
        let r = h.upload("/playbook/save/yaml", file, text.as_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.json()["tasks"].is_object());
    }
    let r = h
        .post(
            "/incident",
            json!({"name": "missing pb", "playbookId": "missing-playbook", "createInvestigation": true, "owner": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["title"], "Playbook not found");

    let r = h
        .post(
            "/incident",
            json!({"name": "incident-test-API OK-playbook", "playbookId": "api-ok", "createInvestigation": true, "severity": 2, "labels": null, "CustomFields": {"team": "ops"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let inc = r.json();
    let id = inc["id"].as_str().expect("id").to_owned();
    assert_eq!(inc["investigationId"], json!(id));
    assert_eq!(inc["status"], 1);
    assert_eq!(inc["severity"], 2);
    assert_eq!(inc["dueDate"], "0001-01-01T00:00:00Z");
    assert!(inc["created"]
        .as_str()
        .is_some_and(|c| c.starts_with("2025")));
    let run = h.wait_run(&id).await;
    assert_eq!(run["state"], "completed", "{run}");
    assert_eq!(run["playbookId"], "api-ok");
    assert!(run["tasks"].is_object());
    assert_eq!(run["tasks"]["1"]["state"], "Completed");
    assert_eq!(h.context(&id, "${Done}").await, json!("yes"));
    assert_eq!(h.context(&id, "${incident.team}").await, json!("ops"));

    let r = h
        .post(
            "/incident",
            json!({"name": "failing", "playbookId": "API Fail"}),
        )
        .await;
    let fid = r.json()["id"].as_str().expect("id").to_owned();
    let run = h.wait_run(&fid).await;
    assert_eq!(run["state"], "failed", "{run}");
    let entries = run["entries"].as_array().expect("entries on failure");
    assert!(!entries.is_empty());
    assert_eq!(entries[0]["type"], 4);
    assert_eq!(entries[0]["taskId"], "1");
    assert_eq!(entries[0]["entryTask"]["taskName"], "Page");
    assert!(entries[0]["contents"]
        .as_str()
        .is_some_and(|c| c.contains("no-such-instance")));

    // The failure report endpoint has the same error entry.
    let inv = h
        .post(&format!("/investigation/{fid}"), json!({"pageSize": 1000}))
        .await
        .json();
    assert!(inv["entries"]
        .as_array()
        .is_some_and(|a| a.iter().any(|e| e["type"] == 4)));

    // Searching.
    let s = h
        .post(
            "/incidents/search",
            json!({"filter": {"page": 0, "size": 50, "id": [id]}}),
        )
        .await
        .json();
    assert_eq!(s["total"], 1);
    assert_eq!(s["data"][0]["investigationId"], json!(id));
    let s = h
        .post(
            "/incidents/search",
            json!({"filter": {"query": format!("id: {fid}"), "name": null}, "userFilter": null}),
        )
        .await
        .json();
    assert_eq!(s["total"], 1);
    assert_eq!(s["data"][0]["name"], "failing");
    let s = h.post("/incidents/search", json!({})).await.json();
    assert_eq!(s["total"], 2);
    assert_eq!(s["data"][0]["id"], json!(fid), "newest first");
    let s = h
        .post(
            "/incidents/search",
            json!({"filter": {"name": ["incident-test-API OK-playbook"]}}),
        )
        .await
        .json();
    assert_eq!(s["total"], 1);

    // Close and delete.
    let r = h
        .post(
            "/incident/close",
            json!({"id": id, "closeReason": "Resolved", "CustomFields": {}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], 2);
    assert!(r.json()["closed"]
        .as_str()
        .is_some_and(|c| c.starts_with("2025")));
    let s = h
        .post(
            "/incidents/search",
            json!({"filter": {"query": "status:closed"}}),
        )
        .await
        .json();
    assert_eq!(s["total"], 1);
    let r = h
        .post(
            "/incident/batchDelete",
            json!({"ids": [id], "filter": {}, "all": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["total"], 1);
    let s = h
        .post("/incidents/search", json!({"filter": {"id": [id]}}))
        .await
        .json();
    assert_eq!(s["total"], 0);
    assert_eq!(
        h.get(&format!("/inv-playbook/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    let pb = h.get("/playbook/api-ok").await.json();
    assert_eq!(pb["name"], "API OK");
    assert!(pb["inputs"].is_array());
    assert_eq!(h.get("/playbook/nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manual_tasks_wait_and_complete_once() {
    let h = harness().await;
    let r = h
        .post(
            "/incident",
            json!({"name": "disk full", "playbookId": "SIGNL4 Alert and Close"}),
        )
        .await;
    let id = r.json()["id"].as_str().expect("id").to_owned();
    let run = h.wait_run(&id).await;
    assert_eq!(run["state"], "waiting", "{run}");
    assert_eq!(run["tasks"]["3"]["state"], "Waiting");
    assert_eq!(run["tasks"]["1"]["state"], "Completed");

    let tasks = h
        .post(
            &format!("/investigation/{id}/workplan/tasks"),
            json!({"states": ["Waiting"], "types": ["regular", "condition", "collection"]}),
        )
        .await
        .json();
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks[0]["id"], "3");

    let r = h
        .form(
            "/inv-playbook/task/complete",
            &[
                ("investigationId", &id),
                ("taskId", "3"),
                ("taskInput", "Yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "completed");
    assert_eq!(r.json()["tasks"]["4"]["state"], "Completed");
    let again = h
        .form(
            "/inv-playbook/task/complete",
            &[
                ("investigationId", &id),
                ("taskId", "3"),
                ("taskInput", "Yes"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.text().contains("Task is completed already"));
    // The simulator saw the alert raised and closed.
    let alerts = h.sim.simulator().alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].status.as_str(), "resolved");
}

#[tokio::test]
async fn instances_are_listed_masked_and_managed() {
    let h = harness().await;
    let v = h
        .post("/settings/integration/search", json!({}))
        .await
        .json();
    let configs = v["configurations"].as_array().expect("configurations");
    let signl4 = configs
        .iter()
        .find(|c| c["id"] == "SIGNL4")
        .expect("SIGNL4 config");
    for c in signl4["configuration"].as_array().expect("configuration") {
        for key in ["display", "name", "defaultValue"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
    }
    assert_eq!(signl4["integrationScript"]["type"], "python");
    let sim = &v["instances"][0];
    assert_eq!(sim["name"], "signl4-simulator");
    assert_eq!(sim["enabled"], "true");
    assert_eq!(sim["configvalues"]["secret"]["password"], "******");

    // Create with a secret, as XsoarClient.create_integration_instance sends it.
    let mut data: Vec<Value> = signl4["configuration"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for d in &mut data {
        let value = match d["name"].as_str() {
            Some("secret") => json!({"identifier": "", "password": "s3cr3t-team"}),
            Some("url") => json!(h.sim.url()),
            _ => json!(false),
        };
        d["value"] = value;
        d["hasvalue"] = json!(true);
    }
    let create = json!({
        "brand": "SIGNL4", "category": "Messaging", "canSample": true, "configuration": signl4,
        "data": data, "enabled": "true", "engine": "", "id": "", "isIntegrationScript": true,
        "name": "SIGNL4_instance_1", "passwordProtected": false, "version": 0,
        "integrationLogLevel": "Debug", "isLongRunning": false,
    });
    let r = h
        .call(Method::PUT, "/settings/integration", Some(create.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let inst = r.json();
    let inst_id = inst["id"].as_str().expect("id").to_owned();
    assert_eq!(inst["configvalues"]["secret"]["password"], "******");
    assert_eq!(inst["integrationLogLevel"], "Debug");
    let dup = h
        .call(Method::PUT, "/settings/integration", Some(create))
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);

    // The simulator does not know that secret: testing fails, as HTTP 200.
    let t = h.post("/settings/integration/test", inst.clone()).await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(t.json()["success"], false, "{}", t.text());
    assert!(t.json()["message"].as_str().is_some_and(|m| !m.is_empty()));

    // An enabled SIGNL4 instance replaces the simulator instance for commands.
    let listed = h
        .post("/settings/integration/search", json!({}))
        .await
        .json();
    let names: Vec<&str> = listed["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, vec!["SIGNL4_instance_1"]);

    // Disable with the listed (masked) object; the secret must survive.
    let mut disable = listed["instances"][0].clone();
    disable["enabled"] = json!("false");
    disable["version"] = json!(-1);
    let r = h
        .call(Method::PUT, "/settings/integration", Some(disable))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["enabled"], "false");
    let stored = h.state.engine().instance_specs();
    let mine = stored
        .iter()
        .find(|s| s.name == "SIGNL4_instance_1")
        .expect("stored");
    assert_eq!(mine.params["secret"]["password"], "s3cr3t-team");
    assert!(!mine.enabled);
    // Disabled: the simulator instance is back.
    let names: Vec<String> = stored.iter().map(|s| s.name.clone()).collect();
    assert!(names.contains(&"signl4-simulator".to_owned()), "{names:?}");

    // tc's misspelled "enable".
    let r = h
        .call(
            Method::PUT,
            "/settings/integration",
            Some(json!({"id": inst_id, "enable": "true", "version": -1})),
        )
        .await;
    assert_eq!(r.json()["enabled"], "true");

    // The simulator's name stays reserved while it is hidden.
    let r = h
        .call(
            Method::PUT,
            "/settings/integration",
            Some(json!({"id": inst_id, "name": "signl4-simulator", "version": -1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // A test of the simulator instance with its own (masked) configuration succeeds.
    let sim_listed = h
        .post("/settings/integration/search", json!({}))
        .await
        .json();
    assert!(sim_listed["instances"]
        .as_array()
        .is_some_and(|a| a.iter().all(|i| i["name"] != "signl4-simulator")));
    let r = h
        .post(
            "/settings/integration/test",
            json!({"brand": "SIGNL4", "name": "x", "data": [
                {"name": "url", "value": h.sim.url()},
                {"name": "secret", "value": {"identifier": "", "password": SIM_SECRET}}
            ]}),
        )
        .await;
    assert_eq!(r.json(), json!({"success": true, "message": "ok"}));

    let r = h
        .call(
            Method::DELETE,
            &format!("/settings/integration/{inst_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .call(
            Method::DELETE,
            "/settings/integration/signl4-simulator",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h
        .call(Method::DELETE, "/settings/integration/nope", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let e = h.run("!signl4_alert title=x message=y").await;
    assert_eq!(e[0]["instance"], "signl4-simulator");
}

#[tokio::test]
async fn uploads_are_checked_and_loaded() {
    let h = harness().await;
    let bad = "id: broken\nname: Broken\nstarttaskid: '0'\ntasks:\n  '0': [unclosed\n";
    let r = h
        .upload("/playbook/save/yaml", "playbook-Broken.yml", bad.as_bytes())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let detail = r.json()["detail"].as_str().expect("detail").to_owned();
    assert!(detail.starts_with("playbook-Broken.yml:"), "{detail}");
    assert!(detail.contains("invalid yaml"), "{detail}");
    let r = h
        .upload(
            "/settings/integration-conf/upload",
            "playbook-x.yml",
            COMPLETING.as_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("is a playbook, not a integration"));

    let integration = SIGNL4_YML
        .replace("name: SIGNL4\n", "name: SIGNL4Copy\n")
        .replace("id: SIGNL4\n", "id: SIGNL4Copy\n");
    let r = h
        .upload(
            "/settings/integration-conf/upload",
            "integration-SIGNL4Copy.yml",
            integration.as_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], "SIGNL4Copy");
    let script = "commonfields:\n  id: Hello\nname: Hello\nscript: 'print(1)'\ntype: python\ncomment: says hello\nargs:\n- name: who\n";
    let r = h
        .upload("/automation/import", "script-Hello.yml", script.as_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["name"], "Hello");

    // A zipped pack.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("pack_metadata.json", opts).expect("zip");
        std::io::Write::write_all(
            &mut zip,
            br#"{"name": "APIPack", "currentVersion": "1.2.3"}"#,
        )
        .expect("zip");
        zip.start_file("Playbooks/playbook-API_OK.yml", opts)
            .expect("zip");
        std::io::Write::write_all(&mut zip, COMPLETING.as_bytes()).expect("zip");
        zip.start_file("TestPlaybooks/playbook-API_Fail.yml", opts)
            .expect("zip");
        std::io::Write::write_all(&mut zip, FAILING.as_bytes()).expect("zip");
        zip.start_file("README.md", opts).expect("zip");
        std::io::Write::write_all(&mut zip, b"# readme").expect("zip");
        zip.finish().expect("zip");
    }
    let r = h
        .upload(
            "/contentpacks/installed/upload",
            "APIPack.zip",
            buf.get_ref(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let packs = h.get("/contentpacks/metadata/installed").await.json();
    assert_eq!(packs[0]["name"], "APIPack");
    assert_eq!(packs[0]["currentVersion"], "1.2.3");
    assert_eq!(h.get("/playbook/api-fail").await.status, StatusCode::OK);
    let r = h
        .upload("/contentpacks/installed/upload", "x.zip", b"not a zip")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("x.zip is not a readable zip file"));
}

#[tokio::test]
async fn bodies_are_limited_and_parsed_leniently() {
    let h = harness().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let r = h
        .post(
            "/entry/execute/sync",
            json!({"investigationId": h.state.playground_id(), "data": big}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A GET with a JSON content type and an empty body.
    assert_eq!(
        h.get("/contentpacks/metadata/installed").await.json(),
        json!([])
    );
    // A null body is the default request.
    let r = h
        .call(
            Method::POST,
            "/settings/integration/search",
            Some(Value::Null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h.call(Method::POST, "/incidents/search", None).await;
    assert_eq!(r.json()["total"], 0);
}

#[tokio::test]
async fn content_reload_uses_the_callback_and_keeps_uploads() {
    let reload: ReloadFn = Arc::new(|| {
        Box::pin(async {
            let (item, _) = xsoar_content::parse_any(COMPLETING, "playbooks/api-ok.yml");
            let (integration, _) = xsoar_content::parse_any(SIGNL4_YML, "SIGNL4.yml");
            Ok(ReloadOutcome {
                items: item.into_iter().chain(integration).collect(),
                problems: vec!["playbooks/bad.yml:1:1: error: invalid yaml".into()],
                lists: Vec::new(),
            })
        })
    });
    let (store, _) = Store::open_in_memory().expect("store");
    let h = start(store, simulator().await, Some(reload)).await;
    h.upload(
        "/playbook/save/yaml",
        "playbook-API_Fail.yml",
        FAILING.as_bytes(),
    )
    .await;
    assert_eq!(
        h.get("/playbook/api-ok").await.status,
        StatusCode::NOT_FOUND
    );
    let r = h.post("/content/reload", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["playbooks"], 1);
    assert_eq!(v["uploaded"], 1);
    assert_eq!(
        v["problems"][0],
        "playbooks/bad.yml:1:1: error: invalid yaml"
    );
    assert_eq!(h.get("/playbook/api-ok").await.status, StatusCode::OK);
    assert_eq!(h.get("/playbook/api-fail").await.status, StatusCode::OK);
    // The disk copy of "SIGNL4 Alert and Close" is gone after a reload without it.
    assert_eq!(
        h.get("/playbook/SIGNL4%20Alert%20and%20Close").await.status,
        StatusCode::NOT_FOUND
    );
    let no_reload = harness().await;
    assert_eq!(
        no_reload.post("/content/reload", json!({})).await.status,
        StatusCode::NOT_IMPLEMENTED
    );
}

#[tokio::test]
async fn commands_on_many_investigations_run_in_parallel_and_all_persist() {
    let h = harness().await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let r = h
            .post("/incident", json!({"name": format!("inc {n}")}))
            .await;
        ids.push(r.json()["id"].as_str().expect("id").to_owned());
    }
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().cycle().take(40).enumerate() {
        let app = h.app.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/entry/execute/sync")
                .header(header::AUTHORIZATION, KEY)
                .body(Body::from(
                    json!({"investigationId": id, "data": format!("!signl4_alert title=t{n} message=m")})
                        .to_string(),
                ))
                .expect("req");
            let res = app.oneshot(req).await.expect("res");
            res.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), StatusCode::OK);
    }
    // 40 commands: an echo and a result each.
    assert_eq!(
        h.state.store().count_entries(None).await.expect("count"),
        80
    );
    for id in &ids {
        let v = h
            .post(&format!("/investigation/{id}"), json!({"pageSize": 100}))
            .await
            .json();
        let seqs: Vec<String> = v["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        let expected: Vec<String> = (1..=20).map(|n| format!("{n}@{id}")).collect();
        assert_eq!(seqs, expected);
    }
    assert_eq!(h.sim.simulator().alerts().len(), 40);
}

async fn file_harness(path: &Path, sim: xsoar_signl4::sim::SimHandle) -> Harness {
    let (store, _) = Store::open(path).expect("store");
    start(store, sim, None).await
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.db");
    let (pg, incident, inst_id) = {
        let h = file_harness(&path, simulator().await).await;
        h.run("!Set key=Kept value=42").await;
        h.run("!signl4_alert title=x message=y debug-mode=true")
            .await;
        h.upload(
            "/playbook/save/yaml",
            "playbook-API_OK.yml",
            COMPLETING.as_bytes(),
        )
        .await;
        let r = h
            .post("/incident", json!({"name": "kept", "playbookId": "api-ok"}))
            .await;
        let incident = r.json()["id"].as_str().expect("id").to_owned();
        assert_eq!(h.wait_run(&incident).await["state"], "completed");
        let r = h
            .call(
                Method::PUT,
                "/settings/integration",
                Some(json!({"brand": "SIGNL4", "name": "kept-instance", "enabled": "false",
                    "data": [{"name": "secret", "value": {"identifier": "", "password": "s3cr3t-team"}}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let inst = r.json()["id"].as_str().expect("id").to_owned();
        h.state.shutdown(Duration::from_secs(5)).await;
        (h.state.playground_id().to_owned(), incident, inst)
    };
    let h = file_harness(&path, simulator().await).await;
    assert_eq!(h.state.playground_id(), pg, "same playground after restart");
    let v = h
        .post("/investigations/search", json!({"filter": {"type": [9]}}))
        .await
        .json();
    assert_eq!(v["total"], 1);
    assert_eq!(h.context(&pg, "${Kept}").await, json!(42));
    let entries = h
        .post(&format!("/investigation/{pg}"), json!({"pageSize": 100}))
        .await
        .json();
    assert_eq!(entries["total"], 5);
    assert_eq!(entries["entries"][4]["type"], 16);
    let id = entries["entries"][4]["id"]
        .as_str()
        .expect("id")
        .replace('@', "%40");
    let log = h.get(&format!("/entry/download/{id}")).await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.text().starts_with("Executed: signl4_alert"));
    // New entries continue the numbering.
    let e = h.run("!Print value=after").await;
    assert_eq!(e[0]["id"], json!(format!("7@{pg}")));
    // Incident, run, uploaded playbook, instance.
    let s = h
        .post("/incidents/search", json!({"filter": {"id": [incident]}}))
        .await
        .json();
    assert_eq!(s["data"][0]["name"], "kept");
    assert_eq!(
        h.get(&format!("/inv-playbook/{incident}")).await.json()["state"],
        "completed"
    );
    assert_eq!(h.get("/playbook/api-ok").await.status, StatusCode::OK);
    let listed = h
        .post("/settings/integration/search", json!({}))
        .await
        .json();
    let inst = listed["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == json!(inst_id)).cloned())
        .expect("instance kept");
    assert_eq!(inst["enabled"], "false");
    assert_eq!(inst["configvalues"]["secret"]["password"], "******");
    let spec = h
        .state
        .engine()
        .instance_specs()
        .into_iter()
        .find(|s| s.name == "kept-instance")
        .expect("in the engine");
    assert_eq!(spec.params["secret"]["password"], "s3cr3t-team");
    let r = h.post("/incident", json!({"name": "next"})).await.json();
    assert_eq!(
        r["id"],
        json!((incident.parse::<u64>().expect("n") + 1).to_string())
    );
}

#[tokio::test]
async fn interrupted_runs_report_failed_and_can_run_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("interrupted.db");
    let incident = {
        let h = file_harness(&path, simulator().await).await;
        h.upload(
            "/playbook/save/yaml",
            "playbook-API_OK.yml",
            COMPLETING.as_bytes(),
        )
        .await;
        let r = h.post("/incident", json!({"name": "cut short"})).await;
        let id = r.json()["id"].as_str().expect("id").to_owned();
        // What the run table holds when the process dies mid-run.
        h.state
            .store()
            .save_run(&RunRecord {
                investigation_id: id.clone(),
                playbook_id: "api-ok".into(),
                status: RunStatus::InProgress,
                run: None,
                started: "2025-01-01T00:00:00Z".into(),
                finished: None,
                updated: "2025-01-01T00:00:00Z".into(),
                error: None,
            })
            .await
            .expect("run");
        id
    };
    let h = file_harness(&path, simulator().await).await;
    let run = h.get(&format!("/inv-playbook/{incident}")).await.json();
    assert_eq!(run["state"], "failed");
    let msg = run["entries"][0]["contents"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(msg.starts_with("Playbook run interrupted: the server stopped while this playbook was running (started 2025-01-01T00:00:00Z)."), "{msg}");
    assert!(msg.contains("/inv-playbook/new/"), "{msg}");
    let r = h
        .post(&format!("/inv-playbook/new/api-ok/{incident}"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(h.wait_run(&incident).await["state"], "completed");
}

#[tokio::test]
async fn inv_playbook_shows_task_states_while_the_run_goes_on() {
    let h = harness().await;
    // SIGNL4 answers slowly: the run sits in task 1 long enough to look at it.
    h.sim.simulator().set_latency(Duration::from_millis(800));
    let r = h
        .post(
            "/incident",
            json!({"name": "slow page", "playbookId": "SIGNL4 Alert and Close"}),
        )
        .await;
    let id = r.json()["id"].as_str().expect("id").to_owned();
    let mut seen = None;
    for _ in 0..50 {
        let run = h.get(&format!("/inv-playbook/{id}")).await.json();
        if run["tasks"]["1"]["state"] == "InProgress" {
            seen = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = seen.expect("task 1 seen in progress");
    assert_eq!(run["state"], "inprogress");
    assert_eq!(run["tasks"]["0"]["state"], "Completed");
    assert_eq!(run["tasks"]["4"]["state"], "New");
    h.sim.simulator().set_latency(Duration::ZERO);
    let run = h.wait_run(&id).await;
    assert_eq!(run["state"], "waiting", "{run}");
}

/// The console served by `serve`: the same incidents and entries as the REST API, and the
/// change stream carries what REST clients write.
#[tokio::test]
async fn console_shares_the_servers_investigations() {
    use xsoar_console::{ConsoleBackend, InvestigationEvent};
    let h = harness().await;
    let app = xsoar_server::router_with_console(h.state.clone(), vec![KEY.to_owned()]);
    // Pages at `/` without a key; the API still needs one.
    let page = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(page.status(), StatusCode::OK);
    let about = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/about")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(about.status(), StatusCode::UNAUTHORIZED);

    let playground = h.state.playground_id().to_owned();
    let mut events = ConsoleBackend::subscribe(&h.state, &playground)
        .await
        .expect("subscribe");
    let r = h
        .post(
            "/entry/execute/sync",
            json!({"investigationId": playground, "data": "!Print value=\"from the REST API\""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut streamed = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let InvestigationEvent::Entries { entries } = ev {
            streamed.extend(entries.into_iter().map(|e| e.display_text()));
        }
    }
    assert!(
        streamed.iter().any(|t| t == "from the REST API"),
        "{streamed:?}"
    );

    // A line run from the console is persisted and visible to REST clients.
    let out = ConsoleBackend::execute_line(&h.state, &playground, "!Set key=FromConsole value=yes")
        .await
        .expect("runs");
    assert_eq!(out.status, xsoar_engine::InvokeStatus::Ok);
    let ctx = h
        .post(
            &format!("/investigation/{playground}/context"),
            json!({"query": "${FromConsole}"}),
        )
        .await
        .json();
    assert_eq!(ctx, json!("yes"));
    let list = ConsoleBackend::list_investigations(&h.state)
        .await
        .expect("list");
    assert!(list.iter().any(|s| s.id == playground && s.entries >= 4));
}

#[tokio::test]
async fn instance_bodies_are_checked_and_undeclared_parameters_never_shown() {
    let sim = simulator().await;
    let mut configured = sim_spec(&sim.url());
    configured.name = "configured".into();
    configured.simulated = false;
    configured
        .params
        .insert("region".into(), json!("eu-undeclared-value"));
    let mut config = ServerConfig::with_key(KEY);
    config.base_instances = vec![configured];
    let (store, _) = Store::open_in_memory().expect("store");
    let h = common::server(engine(), store, config).await;

    let listed = h.post("/settings/integration/search", json!({})).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        !listed.text().contains("eu-undeclared-value") && !listed.text().contains("region"),
        "{}",
        listed.text()
    );

    let put = |extra: Value| {
        let mut body =
            json!({"brand": "SIGNL4", "name": "checked", "enabled": "false", "version": 0});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        body
    };
    let secret = |v: Value| json!({"name": "secret", "value": v});
    let cases = [
        (put(json!({"data": "str"})), "'data' is a string"),
        (put(json!({"data": [5]})), "data[0] is a number"),
        (
            put(json!({"data": [{"value": "x"}]})),
            "data[0] has no 'name'",
        ),
        (
            put(json!({"data": [{"name": "nosuch", "value": "x"}]})),
            "no parameter 'nosuch'",
        ),
        (
            put(json!({"data": [secret(json!({"password": 5}))]})),
            "parameter 'secret' takes credentials",
        ),
        (
            put(json!({"data": [secret(json!([SECRET]))]})),
            "got an array",
        ),
        (
            put(json!({"data": [{"name": "proxy", "value": "notbool"}]})),
            "\\\"notbool\\\"",
        ),
        (put(json!({"enabled": "maybe"})), "maybe"),
        (put(json!({"enable": 7})), "'enable'"),
        (
            put(json!({"enabled": "true", "data": [{"name": "proxy", "value": true}]})),
            "is required",
        ),
        (
            put(json!({"configvalues": "x"})),
            "'configvalues' is a string",
        ),
        (
            put(json!({"configvalues": {"url": {"a": 1}}})),
            "parameter 'url' takes text",
        ),
    ];
    for (body, mentions) in cases {
        let r = h.put("/settings/integration", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert!(
            r.text().contains(mentions),
            "'{mentions}' not in {}",
            r.text()
        );
    }
    assert!(h
        .state
        .engine()
        .instance_specs()
        .iter()
        .all(|s| s.name != "checked"));

    // What real clients send still passes: strings for booleans, a bare password, no
    // required value while disabled, unset elements as listed.
    let r = h
        .put(
            "/settings/integration",
            put(
                json!({"data": [{"name": "proxy", "value": "true", "hasvalue": true},
                                {"name": "secret", "value": "", "hasvalue": false}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["id"].as_str().expect("id").to_owned();
    let r = h
        .put(
            "/settings/integration",
            json!({"id": id, "enabled": "true", "version": -1,
                   "data": [{"name": "secret", "value": SECRET}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["enabled"], "true");
}

/// Unknown paths and wrong methods get JSON errors naming the request, with or without the
/// console behind the API; page loads and the console's own paths still reach the console.
#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let h = harness().await;
    let console = xsoar_server::router_with_console(h.state.clone(), vec![KEY.to_owned()]);
    let send = |app: axum::Router, method: Method, path: &str, key: bool| {
        let mut req = Request::builder().method(method).uri(path);
        if key {
            req = req
                .header(header::AUTHORIZATION, KEY)
                .header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Body::from("{}")).expect("request");
        async move {
            let res = app.oneshot(req).await.expect("response");
            let status = res.status();
            let ct = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .expect("body");
            (status, ct, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    for app in [h.app.clone(), console.clone()] {
        for (method, path, key) in [
            (Method::POST, "/incidents/searchx", true),
            (Method::PUT, "/nosuch", true),
            (Method::PUT, "/nosuch", false),
            (Method::GET, "/settings/nosuch", true),
            (Method::POST, "/xsoar/incidents/searchx", true),
        ] {
            let (status, ct, body) = send(app.clone(), method.clone(), path, key).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
            assert!(ct.starts_with("application/json"), "{method} {path}: {ct}");
            let v: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(v["status"], 404);
            let detail = v["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains(method.as_str()) && detail.contains(path),
                "{body}"
            );
        }
        for (method, path) in [
            (Method::POST, "/contentpacks/metadata/installed"),
            (Method::GET, "/incidents/search"),
            (Method::DELETE, "/xsoar/about"),
        ] {
            let (status, ct, body) = send(app.clone(), method.clone(), path, true).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {body}"
            );
            assert!(ct.starts_with("application/json"), "{ct}");
            let v: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(v["status"], 405);
            assert!(
                v["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(method.as_str())),
                "{body}"
            );
        }
    }
    // A browser loading an unknown page gets the console's page; the console keeps its paths.
    let (status, ct, _) = send(console.clone(), Method::GET, "/nosuch-page", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(ct.starts_with("text/html"), "{ct}");
    let (status, _, body) = send(console.clone(), Method::POST, "/console/login", false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("X-Requested-With"), "{body}");
}
