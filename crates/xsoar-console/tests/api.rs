//! The console's HTTP surface without a browser: sessions, CSRF, security headers, the
//! autocomplete catalog, write-only secrets, the war-room and playbook endpoints.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::{world, World, OTHER_INSTANCE, OTHER_SECRET, PLAYBOOK, SIM_INSTANCE, SIM_SECRET};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use xsoar_console::{router, ConsoleAuth, ConsoleBackend};

struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

const CSRF: (&str, &str) = ("x-requested-with", "xsoar-console");

async fn open_console() -> (World, Router) {
    let w = world().await;
    let app = router(w.backend.clone(), ConsoleAuth::disabled());
    (w, app)
}

async fn get(app: &Router, path: &str) -> Reply {
    call(app, Method::GET, path, None, &[]).await
}

async fn post(app: &Router, path: &str, body: Value) -> Reply {
    call(app, Method::POST, path, Some(body), &[CSRF]).await
}

#[tokio::test]
async fn api_needs_a_session_obtained_with_the_key() {
    let w = world().await;
    let app = router(w.backend.clone(), ConsoleAuth::with_keys(["the-api-key"]));

    // Pages are served without a session; the API is not.
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<h1>Incidents</h1>"));
    let r = get(&app, "/console/api/investigations").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "log in with the API key first");
    let r = get(&app, "/console/session").await;
    assert_eq!(
        r.json(),
        json!({"authenticated": false, "authRequired": true})
    );

    // Login without the CSRF header, then with a wrong key.
    let r = call(
        &app,
        Method::POST,
        "/console/login",
        Some(json!({"key": "the-api-key"})),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    let r = post(&app, "/console/login", json!({"key": "wrong"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get(header::SET_COOKIE).is_none());

    let r = post(&app, "/console/login", json!({"key": "the-api-key"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let cookie = r.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(cookie.starts_with("xsoar_console_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let session = cookie.split(';').next().expect("pair").to_owned();
    assert!(!session.contains("the-api-key"));

    let with_session = [("cookie", session.as_str())];
    let r = call(
        &app,
        Method::GET,
        "/console/api/investigations",
        None,
        &with_session,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!([]));
    let r = call(&app, Method::GET, "/console/session", None, &with_session).await;
    assert_eq!(
        r.json(),
        json!({"authenticated": true, "authRequired": true})
    );

    // A state change needs the CSRF header even with a valid session.
    let new = json!({"name": "Phishing", "severity": 2});
    let r = call(
        &app,
        Method::POST,
        "/console/api/investigations",
        Some(new.clone()),
        &with_session,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json()["error"],
        "state-changing requests need the X-Requested-With header"
    );
    let r = call(
        &app,
        Method::POST,
        "/console/api/investigations",
        Some(new),
        &[with_session[0], CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["id"], "1");
    assert_eq!(r.json()["name"], "Phishing");

    // A made-up session is refused; logging out ends the real one.
    let r = call(
        &app,
        Method::GET,
        "/console/api/investigations",
        None,
        &[("cookie", "xsoar_console_session=0123456789abcdef")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &app,
        Method::POST,
        "/console/logout",
        None,
        &[with_session[0], CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.headers[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .contains("Max-Age=0"));
    let r = call(
        &app,
        Method::GET,
        "/console/api/investigations",
        None,
        &with_session,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn csrf_header_is_required_without_auth_too() {
    let (_w, app) = open_console().await;
    let r = call(
        &app,
        Method::POST,
        "/console/api/investigations/playground/execute",
        Some(json!({"line": "!Print value=x"})),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::DELETE,
        &format!("/console/api/instances/{SIM_INSTANCE}"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = get(&app, "/console/api/instances").await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let (_w, app) = open_console().await;
    for path in [
        "/",
        "/playground",
        "/playbooks/SIGNL4%20Alert%20and%20Close",
        "/assets/warroom.js",
        "/console/api/catalog",
        "/nowhere",
    ] {
        let r = get(&app, path).await;
        let csp = r.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(
            r.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
        assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
    }
    let r = get(&app, "/assets/warroom.js").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        get(&app, "/assets/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
    let r = get(&app, "/nowhere").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("<h1>Not found</h1>"));
    let r = get(&app, "/console/api/catalog").await;
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn catalog_offers_enabled_integrations_scripts_and_builtins() {
    let (w, app) = open_console().await;
    let cat = get(&app, "/console/api/catalog").await.json();
    let commands = cat["commands"].as_array().expect("commands");
    let find = |name: &str| commands.iter().find(|c| c["name"] == name).cloned();

    let alert = find("signl4_alert").expect("signl4_alert is offered");
    assert_eq!(alert["kind"], "integration");
    assert_eq!(alert["brands"], json!(["SIGNL4"]));
    assert_eq!(alert["description"], "Trigger a SIGNL4 alert.");
    let args = alert["arguments"].as_array().expect("arguments");
    let names: Vec<&str> = args.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "title",
            "message",
            "s4_external_id",
            "s4_service",
            "s4_location",
            "s4_alerting_scenario",
            "s4_filtering"
        ]
    );
    let scenario = &args[5];
    assert_eq!(
        scenario["predefined"],
        json!(["single_ack", "multi_ack", "emergency"])
    );
    assert_eq!(scenario["required"], false);
    assert_eq!(scenario["isArray"], false);
    assert!(scenario["description"]
        .as_str()
        .is_some_and(|d| d.starts_with("If this event triggers an alert")));
    assert_eq!(args[0]["required"], true);
    assert_eq!(args[1]["required"], true);
    assert!(find("signl4_close_alert").is_some());

    for builtin in [
        "Print",
        "Set",
        "DeleteContext",
        "taskComplete",
        "setIncident",
    ] {
        let c = find(builtin).unwrap_or_else(|| panic!("{builtin} is offered"));
        assert_eq!(c["kind"], "builtin", "{builtin}");
    }
    let print = find("Print").expect("Print");
    assert!(print["arguments"].as_array().is_some_and(|a| a
        .iter()
        .any(|x| x["name"] == "value" && x["required"] == true)));

    // Only enabled instances can be named in using=.
    assert_eq!(
        cat["instances"],
        json!([{"name": SIM_INSTANCE, "brand": "SIGNL4", "simulated": true}])
    );

    // Sorted case-insensitively.
    let all: Vec<String> = commands
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_ascii_lowercase))
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);

    // With every SIGNL4 instance disabled, its commands are no longer offered.
    let r = post(
        &app,
        &format!("/console/api/instances/{SIM_INSTANCE}/enabled"),
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cat = get(&app, "/console/api/catalog").await.json();
    assert!(!cat["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .any(|c| c["name"] == "signl4_alert"));
    assert_eq!(cat["instances"], json!([]));
    assert!(!w.engine.instances().iter().any(|i| i.enabled));
}

/// Everything the pages can read, concatenated.
async fn everything(app: &Router, inv: &str) -> String {
    let mut all = String::new();
    for path in [
        "/".to_owned(),
        "/integrations".to_owned(),
        "/console/api/instances".to_owned(),
        "/console/api/integrations".to_owned(),
        "/console/api/catalog".to_owned(),
        "/console/api/investigations".to_owned(),
        format!("/console/api/investigations/{inv}"),
        format!("/console/api/investigations/{inv}/context"),
        format!("/console/api/investigations/{inv}/run"),
        "/console/api/playbooks/SIGNL4%20Alert%20and%20Close".to_owned(),
    ] {
        let r = get(app, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        all.push_str(&r.text);
    }
    all
}

#[tokio::test]
async fn secrets_never_leave_and_edits_keep_them() {
    let (w, app) = open_console().await;
    let inv = post(&app, "/console/api/investigations", json!({"name": "x"}))
        .await
        .json();
    let inv = inv["id"].as_str().expect("id").to_owned();
    let run = post(
        &app,
        &format!("/console/api/investigations/{inv}/execute"),
        json!({"line": "!signl4_alert title=t message=m"}),
    )
    .await;
    assert!(!run.text.contains(SIM_SECRET));
    let test = post(
        &app,
        &format!("/console/api/instances/{SIM_INSTANCE}/test"),
        json!({}),
    )
    .await;
    assert_eq!(test.json(), json!({"ok": true, "message": "ok"}));

    let instances = get(&app, "/console/api/instances").await.json();
    assert_eq!(
        instances[0]["secrets"],
        json!({"secret": true}),
        "secrets are reported as set, not shown"
    );
    assert_eq!(instances[0]["params"]["proxy"], false);
    assert!(instances[0]["params"].get("secret").is_none());
    assert_eq!(instances[0]["simulated"], true);
    let all = everything(&app, &inv).await;
    assert!(!all.contains(SIM_SECRET));
    assert!(!all.contains(OTHER_SECRET));
    assert!(!all.contains("******"), "not even masked values are sent");

    // Edit without a secret: the old one is kept and still works.
    let url = w.sim.url();
    let r = call(
        &app,
        Method::PUT,
        &format!(
            "/console/api/instances/{}",
            OTHER_INSTANCE.replace(' ', "%20")
        ),
        Some(json!({"enabled": true, "params": {"url": url, "secret": ""}})),
        &[CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(OTHER_SECRET));
    let spec = w
        .engine
        .instance_specs()
        .into_iter()
        .find(|s| s.name == OTHER_INSTANCE)
        .expect("instance");
    assert_eq!(spec.params["secret"]["password"], OTHER_SECRET);
    assert!(spec.enabled);
    let test = post(
        &app,
        &format!(
            "/console/api/instances/{}/test",
            OTHER_INSTANCE.replace(' ', "%20")
        ),
        json!({}),
    )
    .await;
    assert_eq!(test.json()["ok"], true, "{}", test.text);

    // A new secret replaces it (the simulator refuses it, and the error does not echo it).
    let new_secret = "brand-NEW-secret-51a2";
    let r = call(
        &app,
        Method::PUT,
        &format!(
            "/console/api/instances/{}",
            OTHER_INSTANCE.replace(' ', "%20")
        ),
        Some(json!({"params": {"secret": new_secret}})),
        &[CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(new_secret));
    let spec = w
        .engine
        .instance_specs()
        .into_iter()
        .find(|s| s.name == OTHER_INSTANCE)
        .expect("instance");
    assert_eq!(
        spec.params["secret"],
        json!({"identifier": "", "password": new_secret})
    );
    let test = post(
        &app,
        &format!(
            "/console/api/instances/{}/test",
            OTHER_INSTANCE.replace(' ', "%20")
        ),
        json!({}),
    )
    .await;
    assert_eq!(test.json()["ok"], false, "{}", test.text);
    assert!(!test.text.contains(new_secret), "{}", test.text);

    // Adding an instance with a secret: reported as set, never shown.
    let r = post(
        &app,
        "/console/api/instances",
        json!({"name": "third", "brand": "SIGNL4", "params": {"secret": "third-SECRET-x1", "url": url}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains("third-SECRET-x1"));
    let third = r
        .json()
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == "third").cloned())
        .expect("third");
    assert_eq!(third["secrets"], json!({"secret": true}));
    assert_eq!(third["enabled"], true);
    let all = everything(&app, &inv).await;
    for s in [SIM_SECRET, OTHER_SECRET, new_secret, "third-SECRET-x1"] {
        assert!(!all.contains(s), "{s} leaked");
    }

    // Refusals: missing required secret, unknown parameter, duplicate name, unknown brand.
    for (body, status, message) in [
        (
            json!({"name": "n", "brand": "SIGNL4", "params": {}}),
            StatusCode::BAD_REQUEST,
            "parameter 'Team or Integration Secret' is required",
        ),
        (
            json!({"name": "n", "brand": "SIGNL4", "params": {"secret": "s", "bogus": 1}}),
            StatusCode::BAD_REQUEST,
            "integration SIGNL4 has no parameter 'bogus'",
        ),
        (
            json!({"name": "third", "brand": "SIGNL4", "params": {"secret": "s"}}),
            StatusCode::CONFLICT,
            "an instance named 'third' exists",
        ),
        (
            json!({"name": "n", "brand": "Nope", "params": {}}),
            StatusCode::BAD_REQUEST,
            "no integration 'Nope' is loaded",
        ),
    ] {
        let r = post(&app, "/console/api/instances", body).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.json()["error"], message);
    }

    // Delete.
    let r = call(
        &app,
        Method::DELETE,
        "/console/api/instances/third",
        None,
        &[CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The backup instance, enabled above, stays SIGNL4's instance: the simulator stays aside.
    let left: Vec<String> = w
        .engine
        .instance_specs()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(left, [OTHER_INSTANCE]);
    let r = call(
        &app,
        Method::DELETE,
        "/console/api/instances/third",
        None,
        &[CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn war_room_line_writes_entries_context_and_events() {
    let (w, app) = open_console().await;
    let pg = get(&app, "/console/api/investigations/playground")
        .await
        .json();
    assert_eq!(pg["summary"]["kind"], "playground");
    let id = pg["summary"]["id"].as_str().expect("id").to_owned();
    assert!(id.ends_with("-playground"));
    let mut events = w.backend.subscribe(&id).await.expect("subscribe");

    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "!signl4_alert title=x message=y"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let out = r.json();
    assert_eq!(out["status"], "ok");
    let entries = out["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "echo and result: {out}");
    assert_eq!(entries[0]["kind"], "chat");
    assert_eq!(entries[0]["user"], "admin");
    let result = &entries[1];
    assert_eq!(result["command"], "!signl4_alert title=x message=y");
    assert_eq!(result["brand"], "SIGNL4");
    assert_eq!(result["instance"], SIM_INSTANCE);
    assert_eq!(result["simulated"], true);
    let html = result["html"].as_str().expect("html");
    assert!(html.contains("<h3>SIGNL4 alert created</h3>"), "{html}");
    assert!(html.contains("<th>eventId</th>"), "{html}");
    assert!(result["json"]
        .as_str()
        .is_some_and(|j| j.contains("\"eventId\"")));

    let ctx = get(&app, &format!("/console/api/investigations/{id}/context"))
        .await
        .json();
    let event_id = ctx["SIGNL4"]["AlertCreated"]["eventId"]
        .as_str()
        .expect("eventId in context");
    assert_eq!(w.sim.simulator().alerts()[0].event_id, event_id);

    match events.recv().await.expect("an event") {
        xsoar_console::InvestigationEvent::Entries { entries } => {
            assert_eq!(entries.len(), 2);
            assert_eq!(entries[1].parent_content, "!signl4_alert title=x message=y");
        }
        other => panic!("expected entries, got {other:?}"),
    }

    // Only entries after a sequence number.
    let after = get(&app, &format!("/console/api/investigations/{id}?after=1"))
        .await
        .json();
    assert_eq!(after["entries"].as_array().map(Vec::len), Some(1));

    // A failing command is an error entry; plain text is a note.
    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "!signl4_alert message=y"}),
    )
    .await
    .json();
    assert_eq!(r["status"], "error");
    assert_eq!(r["entries"][1]["kind"], "error");
    assert_eq!(r["entries"][1]["type"], 4);
    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "hello **team**"}),
    )
    .await
    .json();
    assert_eq!(r["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        r["entries"][0]["html"],
        "<p>hello <strong>team</strong></p>\n"
    );
}

#[tokio::test]
async fn hostile_entry_content_is_inert() {
    let (_w, app) = open_console().await;
    let hostile =
        "<script>alert('s')</script><img src=x onerror=alert('i')> [go](javascript:alert('j'))";
    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": hostile}),
    )
    .await
    .json();
    let html = r["entries"][0]["html"].as_str().expect("html");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("onerror"), "{html}");
    assert!(!html.contains("href"), "{html}");
    // The image stays, without its handler and without a relative source.
    assert!(html.starts_with("<img>"), "{html}");

    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "see [go](javascript:alert('j')) and <a href=\"javascript:alert(1)\">x</a>"}),
    )
    .await
    .json();
    let html = r["entries"][0]["html"].as_str().expect("html");
    assert_eq!(html, "<p>see <a rel=\"noopener noreferrer nofollow\">go</a> and <a rel=\"noopener noreferrer nofollow\">x</a></p>\n");

    // The same through an integration's table (the alert title comes back in the reply).
    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "!signl4_alert title=\"<img src=x onerror=alert(1)>\" message=\"<script>alert(2)</script>\""}),
    )
    .await
    .json();
    let entries = r["entries"].as_array().expect("entries");
    for e in entries {
        let html = e["html"].as_str().expect("html");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }
    // The echoed command line is shown as typed (escaped text), not interpreted as markdown.
    assert_eq!(
        entries[0]["html"],
        "<div class=\"plain\">!signl4_alert title=&quot;&lt;img src=x onerror=alert(1)&gt;&quot; \
         message=&quot;&lt;script&gt;alert(2)&lt;/script&gt;&quot;</div>"
    );
}

#[tokio::test]
async fn playbook_runs_waits_and_completes_from_the_api() {
    let (w, app) = open_console().await;
    let list = get(&app, "/console/api/playbooks").await.json();
    assert!(list
        .as_array()
        .is_some_and(|l| l.iter().any(|p| p["id"] == PLAYBOOK && p["tasks"] == 8)));
    let graph = get(&app, "/console/api/playbooks/SIGNL4%20Alert%20and%20Close")
        .await
        .json();
    assert_eq!(graph["tasks"].as_array().map(Vec::len), Some(8));
    let task1 = &graph["tasks"][1];
    assert_eq!(task1["target"], "SIGNL4|||signl4_alert");
    assert_eq!(
        (task1["x"].as_f64(), task1["y"].as_f64()),
        (Some(450.0), Some(200.0))
    );
    assert_eq!(graph["tasks"][0]["name"], "Start");
    assert_eq!(graph["tasks"][3]["manual"], true);
    assert_eq!(graph["tasks"][3]["target"], "");
    assert_eq!(
        graph["tasks"][2]["manual"], false,
        "a builtin condition decides itself"
    );
    assert_eq!(graph["tasks"][5]["target"], "Print");
    assert_eq!(graph["tasks"][2]["labels"], json!(["#default#", "yes"]));
    assert!(graph["edges"]
        .as_array()
        .is_some_and(|e| e.contains(&json!({"from": "1", "to": "7", "label": "#error#"}))));

    let inv = post(&app, "/console/api/investigations", json!({"name": "Run"}))
        .await
        .json();
    let id = inv["id"].as_str().expect("id").to_owned();
    let r = post(
        &app,
        &format!("/console/api/investigations/{id}/run"),
        json!({"playbook": PLAYBOOK}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["run"]["state"], "waiting");
    assert_eq!(v["run"]["root"]["tasks"]["3"]["state"], "Waiting");
    assert_eq!(v["run"]["root"]["tasks"]["1"]["state"], "Completed");
    let inputs = &v["run"]["root"]["tasks"]["1"]["inputs"];
    assert_eq!(inputs["title"], "[XSOAR 1] Run");
    assert_eq!(inputs["s4_external_id"], "xsoar-1");
    let entry_id = v["run"]["root"]["tasks"]["1"]["entries"][0]
        .as_str()
        .expect("entry");
    assert!(v["entries"][entry_id]["outputs"]
        .as_str()
        .is_some_and(|o| o.contains("SIGNL4.AlertCreated")));

    // Completing a task that does not wait is a conflict.
    let r = post(
        &app,
        &format!("/console/api/investigations/{id}/run/complete"),
        json!({"task": "1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // A label the waiting task does not offer is a bad request, and completes nothing.
    let r = post(
        &app,
        &format!("/console/api/investigations/{id}/run/complete"),
        json!({"task": "3", "label": "nosuch"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("nosuch")));

    let r = post(
        &app,
        &format!("/console/api/investigations/{id}/run/complete"),
        json!({"task": "3"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["run"]["state"], "completed");
    for t in ["0", "1", "2", "3", "4", "5", "6"] {
        assert_eq!(
            v["run"]["root"]["tasks"][t]["state"], "Completed",
            "task {t}"
        );
    }
    assert_eq!(v["run"]["root"]["tasks"]["7"]["state"], "NotExecuted");
    let alerts = w.sim.simulator().alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].external_id.as_deref(), Some("xsoar-1"));
    assert_eq!(alerts[0].status.as_str(), "resolved");

    let list = get(&app, "/console/api/investigations").await.json();
    assert_eq!(list[0]["playbook"], PLAYBOOK);
    assert_eq!(list[0]["runState"], "completed");

    let r = post(
        &app,
        &format!("/console/api/investigations/{id}/run"),
        json!({"playbook": "nope"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// An enabled SIGNL4 instance added in the console takes the embedded simulator's place, as a
/// configured one does at start: a command runs once, on it; deleting it brings the simulator
/// back.
#[tokio::test]
async fn an_added_instance_takes_the_simulators_place() {
    let (w, app) = open_console().await;
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|i| i["enabled"] == true)
                    .filter_map(|i| i["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let url = w.sim.url();
    let r = post(
        &app,
        "/console/api/instances",
        json!({"name": "oncall", "brand": "SIGNL4", "params": {"secret": OTHER_SECRET, "url": url}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r.json()), ["oncall"], "{}", r.text);
    let out = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "!signl4_alert title=x message=y"}),
    )
    .await
    .json();
    let entries = out["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "echo and one result: {out}");
    assert_eq!(entries[1]["instance"], "oncall");
    assert_eq!(entries[1]["simulated"], false);

    let r = call(
        &app,
        Method::DELETE,
        "/console/api/instances/oncall",
        None,
        &[CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r.json()), [SIM_INSTANCE], "{}", r.text);
    let out = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({"line": "!signl4_alert title=x message=y"}),
    )
    .await
    .json();
    assert_eq!(out["entries"][1]["instance"], SIM_INSTANCE, "{out}");
}

/// A playbook that spells out a value for a `secret: true` argument: the work plan shows the
/// argument masked, as the task's run and entries do.
#[tokio::test]
async fn the_playbook_graph_masks_values_of_secret_arguments() {
    const TOKEN: &str = "hard-coded-TOKEN-93c1";
    let (w, app) = open_console().await;
    let integration = r#"
commonfields: {id: Notifier, version: -1}
name: Notifier
display: Notifier
category: Utilities
description: Takes a secret token.
configuration: []
script:
  type: python
  script: ''
  commands:
  - name: notify
    description: sends with a token
    arguments:
    - {name: token, description: t, secret: true}
    - {name: text, description: x}
"#;
    let playbook = format!(
        r#"
id: notify-pb
name: Notify
starttaskid: "0"
tasks:
  "0":
    id: "0"
    taskid: a
    type: start
    task: {{id: a, version: -1, name: "", iscommand: false, brand: ""}}
    nexttasks:
      '#none#': ["1"]
  "1":
    id: "1"
    taskid: b
    type: regular
    task: {{id: b, version: -1, name: Notify, iscommand: true, brand: "", script: "|||notify"}}
    scriptarguments:
      token: {{simple: {TOKEN}}}
      text: {{simple: hello}}
"#
    );
    let mut items = Vec::new();
    for (text, file) in [
        (integration, "Notifier.yml"),
        (playbook.as_str(), "notify.yml"),
    ] {
        let (item, diags) = xsoar_content::parse_any(text, file);
        assert!(diags.iter().all(|d| !d.is_error()), "{file}: {diags:?}");
        items.push(item.expect("parses"));
    }
    w.engine.add_content(items);
    let r = get(&app, "/console/api/playbooks/notify-pb").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(TOKEN), "{}", r.text);
    let graph = r.json();
    let task = graph["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["id"] == "1"))
        .expect("task 1");
    assert_eq!(task["arguments"]["token"], "******");
    assert_eq!(task["arguments"]["text"], "hello");
}

#[tokio::test]
async fn backend_trait_object_is_usable_by_other_servers() {
    // The REST server will hold the backend as a trait object and merge the router.
    let w = world().await;
    let backend: Arc<dyn ConsoleBackend> = w.backend.clone();
    let app = Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .merge(router(backend.clone(), ConsoleAuth::disabled()));
    assert_eq!(get(&app, "/health").await.text, "ok");
    assert_eq!(get(&app, "/playbooks").await.status, StatusCode::OK);
    let pg = backend.playground().await.expect("playground");
    assert_eq!(backend.playground().await.expect("same").id, pg.id);
}

#[tokio::test]
async fn task_progress_streams_while_a_run_goes_on() {
    let (w, app) = open_console().await;
    let inv = post(&app, "/console/api/investigations", json!({"name": "Live"}))
        .await
        .json();
    let id = inv["id"].as_str().expect("id").to_owned();
    let mut events = w.backend.subscribe(&id).await.expect("subscribe");
    let r = post(
        &app,
        &format!("/console/api/investigations/{id}/run"),
        json!({"playbook": PLAYBOOK}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut progress = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let xsoar_console::InvestigationEvent::Task { progress: p } = ev {
            progress.push(format!("{}:{:?}", p.task_id, p.state));
        }
    }
    assert_eq!(
        progress,
        [
            "0:Running",
            "0:Completed",
            "1:Running",
            "1:Completed",
            "2:Running",
            "2:Completed",
            "3:Running",
            "3:Waiting"
        ]
    );
}

#[tokio::test]
async fn malformed_bodies_and_values_are_json_400s() {
    let (_w, app) = open_console().await;
    let bad = |r: &Reply, mentions: &str| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(mentions), "'{mentions}' not in {error}");
    };
    let r = post(
        &app,
        "/console/api/investigations/playground/execute",
        json!({}),
    )
    .await;
    bad(&r, "line");
    let r = post(&app, "/console/login", json!({})).await;
    bad(&r, "key");
    let r = call(
        &app,
        Method::POST,
        "/console/api/investigations",
        None,
        &[CSRF, ("content-type", "application/json")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.json()["error"].is_string());
    let r = post(
        &app,
        "/console/api/investigations",
        json!({"name": "x", "severity": "high"}),
    )
    .await;
    bad(&r, "severity");

    let r = post(&app, "/console/api/investigations", json!({"name": "  "})).await;
    bad(&r, "name");
    let r = post(
        &app,
        "/console/api/investigations",
        json!({"name": "x", "severity": 99}),
    )
    .await;
    bad(&r, "99");
    let list = get(&app, "/console/api/investigations").await.json();
    assert!(list
        .as_array()
        .is_some_and(|l| l.iter().all(|i| i["kind"] == "playground")));

    let r = call(
        &app,
        Method::PUT,
        &format!("/console/api/instances/{SIM_INSTANCE}"),
        Some(json!({"params": {"proxy": "notbool"}})),
        &[CSRF],
    )
    .await;
    bad(&r, "notbool");
    let r = call(
        &app,
        Method::PUT,
        &format!("/console/api/instances/{SIM_INSTANCE}"),
        Some(json!({"params": {"secret": {"password": 5}}})),
        &[CSRF],
    )
    .await;
    bad(&r, "parameter 'secret' takes credentials");
    let r = call(
        &app,
        Method::PUT,
        &format!("/console/api/instances/{SIM_INSTANCE}"),
        Some(json!({"params": {"proxy": "true"}})),
        &[CSRF],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
