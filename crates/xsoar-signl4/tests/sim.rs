//! The SIGNL4 simulator's HTTP contract (signl4.md §4.1).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tower::ServiceExt;
use xsoar_signl4::sim::{
    self, router, AlertStatus, Faults, SimConfig, Simulator, DEFAULT_SIM_SECRET,
};

const S: &str = DEFAULT_SIM_SECRET;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn event_id(&self) -> String {
        self.json()["eventId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req.body(body.into()).unwrap_or_else(|e| panic!("{e}"));
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

async fn post_json(app: &Router, body: Value) -> Reply {
    send(
        app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/json"),
        body.to_string(),
    )
    .await
}

async fn get_json(app: &Router, uri: &str) -> Value {
    send(app, "GET", uri, None, Body::empty()).await.json()
}

fn assert_rate_headers(reply: &Reply) {
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let value = reply
            .header(name)
            .unwrap_or_else(|| panic!("{name} missing on {}", reply.status));
        assert!(value.parse::<u64>().is_ok(), "{name}: {value}");
    }
}

fn new_app() -> (Simulator, Router) {
    let sim = Simulator::default();
    (sim.clone(), router(sim))
}

#[tokio::test]
async fn lifecycle_new_acknowledged_resolved_by_external_id() {
    let (sim, app) = new_app();
    let a = post_json(&app, json!({"Title": "Fire", "Message": "Hall 1", "X-S4-ExternalID": "INC-1", "X-S4-Status": "new",
        "X-S4-Service": "Facility", "X-S4-Location": "52.39,13.05", "X-S4-AlertingScenario": "single_ack",
        "X-S4-Filtering": "false", "X-S4-SourceSystem": "CortexXSOAR"}))
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_rate_headers(&a);
    let first_event = a.event_id();
    assert_eq!(first_event.len(), 36, "uuid-like event id: {first_event}");
    let b = post_json(
        &app,
        json!({"title": "Fire again", "message": "Hall 2", "X-S4-ExternalID": "INC-1"}),
    )
    .await;
    let c = post_json(
        &app,
        json!({"Title": "Other", "Message": "x", "X-S4-ExternalID": "INC-2", "X-S4-Status": null}),
    )
    .await;
    assert_eq!(
        (b.status, c.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );

    let alerts = get_json(&app, "/alerts").await;
    assert_eq!(alerts.as_array().map(Vec::len), Some(3));
    let first = &alerts[0];
    assert_eq!(first["eventId"], json!(first_event));
    assert_eq!(first["externalId"], "INC-1");
    assert_eq!(first["status"], "new");
    assert_eq!(first["title"], "Fire");
    assert_eq!(first["message"], "Hall 1");
    assert_eq!(first["service"], "Facility");
    assert_eq!(first["location"], "52.39,13.05");
    assert_eq!(first["scenario"], "single_ack");
    assert_eq!(first["filtering"], false);
    assert_eq!(first["sourceSystem"], "CortexXSOAR");
    assert!(
        first["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{first}"
    );
    assert_ne!(first["id"], first["eventId"]);

    let ack = post_json(
        &app,
        json!({"X-S4-ExternalID": "INC-1", "X-S4-Status": "acknowledged"}),
    )
    .await;
    assert_eq!(ack.status, StatusCode::CREATED);
    let states: Vec<AlertStatus> = sim.alerts().iter().map(|a| a.status).collect();
    assert_eq!(
        states,
        [
            AlertStatus::Acknowledged,
            AlertStatus::Acknowledged,
            AlertStatus::New
        ]
    );

    let resolve = post_json(&app, json!({"X-S4-ExternalID": "INC-1", "X-S4-Status": "resolved", "X-S4-SourceSystem": "CortexXSOAR"})).await;
    assert_eq!(resolve.status, StatusCode::CREATED);
    assert_ne!(resolve.event_id(), ack.event_id());
    let states: Vec<AlertStatus> = sim.alerts().iter().map(|a| a.status).collect();
    assert_eq!(
        states,
        [
            AlertStatus::Resolved,
            AlertStatus::Resolved,
            AlertStatus::New
        ]
    );
    assert_eq!(
        sim.alerts()[0].status_events,
        [ack.event_id(), resolve.event_id()]
    );

    // Resolved alerts stay resolved; nothing matching still answers 201.
    let again = post_json(
        &app,
        json!({"X-S4-ExternalID": "INC-1", "X-S4-Status": "acknowledged"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert!(sim
        .alerts_with_external_id("INC-1")
        .iter()
        .all(|a| a.status == AlertStatus::Resolved));
    let none = post_json(
        &app,
        json!({"X-S4-ExternalID": "nope", "X-S4-Status": "resolved"}),
    )
    .await;
    assert_eq!(none.status, StatusCode::CREATED);

    let outcomes: Vec<String> = sim.events().iter().map(|e| e.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            "alert created",
            "alert created",
            "alert created",
            "2 alerts acknowledged",
            "2 alerts resolved",
            "nothing acknowledged: no open alert with external id 'INC-1'",
            "nothing resolved: no open alert with external id 'nope'",
        ]
    );
}

#[tokio::test]
async fn empty_status_means_new_and_unknown_status_is_discarded() {
    let (sim, app) = new_app();
    let r = post_json(
        &app,
        json!({"Title": "T", "X-S4-Status": "", "X-S4-ExternalID": "e"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = post_json(
        &app,
        json!({"Title": "T", "X-S4-Status": "updated", "X-S4-ExternalID": "e"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(!r.event_id().is_empty());
    assert_eq!(sim.alerts().len(), 1);
    assert_eq!(
        sim.events()[1].outcome,
        "discarded: unknown X-S4-Status 'updated'"
    );
}

#[tokio::test]
async fn form_text_and_multipart_bodies() {
    let (sim, app) = new_app();
    let form = "Title=Fire%20alert&Message=Fire%20alert&Param1=Value%201&X-S4-ExternalID=prtg-7&X-S4-Status=new&X-S4-SourceSystem=PRTG";
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/x-www-form-urlencoded"),
        form,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("text/plain"),
        "Hello world.",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        None,
        "No content type",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let multipart = "--XB\r\nContent-Disposition: form-data; name=\"Title\"\r\n\r\nDoor open\r\n\
        --XB\r\nContent-Disposition: form-data; name=\"X-S4-ExternalID\"\r\n\r\nmp-1\r\n\
        --XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cam.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n\
        --XB--\r\n";
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("multipart/form-data; boundary=XB"),
        multipart,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 4);
    assert_eq!(alerts[0].title.as_deref(), Some("Fire alert"));
    assert_eq!(alerts[0].external_id.as_deref(), Some("prtg-7"));
    assert_eq!(alerts[0].source_system.as_deref(), Some("PRTG"));
    assert_eq!(
        Value::Object(alerts[0].parameters.clone()),
        json!({"Param1": "Value 1"})
    );
    assert_eq!(alerts[1].title, None);
    assert_eq!(alerts[1].message.as_deref(), Some("Hello world."));
    assert_eq!(alerts[2].message.as_deref(), Some("No content type"));
    assert_eq!(alerts[3].title.as_deref(), Some("Door open"));
    assert_eq!(alerts[3].attachments.len(), 1);
    assert_eq!(
        alerts[3].attachments[0].file_name.as_deref(),
        Some("cam.png")
    );
    assert_eq!(alerts[3].attachments[0].size, 7);

    let bad = "--XB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.exe\"\r\n\r\nMZ\r\n--XB--\r\n";
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("multipart/form-data; boundary=XB"),
        bad,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["description"],
        "Attachment 'x.exe' has a file type SIGNL4 does not accept"
    );
}

#[tokio::test]
async fn trailing_slash_and_null_control_parameters() {
    let (sim, app) = new_app();
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}/"),
        Some("application/json"),
        json!({"Title": "T", "Message": "M", "X-S4-Service": null, "X-S4-Filtering": null})
            .to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let alert = &sim.alerts()[0];
    assert_eq!((alert.service.as_deref(), alert.filtering), (None, None));
}

#[tokio::test]
async fn malformed_json_is_400_unless_lenient() {
    let (sim, app) = new_app();
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/json"),
        "payload={\"a\":1}",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_rate_headers(&r);
    assert_eq!(r.json()["error_code"], "BadRequest");
    assert!(
        r.json()["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("The request body is not valid application/json")),
        "{}",
        r.json()
    );
    assert!(sim.alerts().is_empty());

    let lenient = Simulator::new(SimConfig {
        lenient_json: true,
        ..SimConfig::default()
    });
    let app = router(lenient.clone());
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/json"),
        "payload={\"a\":1}",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        lenient.alerts()[0].message.as_deref(),
        Some("payload={\"a\":1}")
    );
}

#[tokio::test]
async fn xml_bodies_become_alerts_and_broken_xml_is_400() {
    let (sim, app) = new_app();
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/xml"),
        "<alert><title>Fire &amp; smoke</title><message>Hall 3</message><X-S4-ExternalID>x-1</X-S4-ExternalID></alert>",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(!r.event_id().is_empty());
    let alerts = sim.alerts_with_external_id("x-1");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].title.as_deref(), Some("Fire & smoke"));
    assert_eq!(alerts[0].message.as_deref(), Some("Hall 3"));
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("text/xml"),
        "<alert><title>open</alert>",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_rate_headers(&r);
    assert!(
        r.json()["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("The request body is not valid application/xml")),
        "{}",
        r.json()
    );
    assert_eq!(sim.alerts().len(), 1);
}

#[tokio::test]
async fn unknown_secret_is_404_with_json_error() {
    let (sim, app) = new_app();
    let r = send(
        &app,
        "POST",
        "/webhook/wrong-secret",
        Some("application/json"),
        json!({"Title": "T"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_rate_headers(&r);
    assert_eq!(
        r.json(),
        json!({"error_code": "NotFound", "description": "Webhook not found. Check the team or integration secret."})
    );
    assert!(sim.alerts().is_empty());
    let event = &sim.events()[0];
    assert_eq!(
        (event.path.as_str(), event.secret_known, event.status),
        ("/webhook/******", false, 404)
    );
}

/// A webhook URL with the secret missing (`/webhook/` from an empty variable) or with more
/// path after it is a webhook URL with no known secret: the same JSON 404 with rate-limit
/// headers, and logged (with the path masked), not a bare 404 that `GET /events` never shows.
#[tokio::test]
async fn webhook_paths_without_one_secret_segment_are_unknown_secrets() {
    let (sim, app) = new_app();
    let paths = [
        "/webhook".to_owned(),
        "/webhook/".to_owned(),
        format!("/webhook/{S}/extra"),
        format!("/webhook//{S}"),
    ];
    for path in &paths {
        let r = send(&app, "POST", path, None, "hello").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_rate_headers(&r);
        assert_eq!(r.json()["error_code"], "NotFound", "{path}");
    }
    assert!(sim.alerts().is_empty());
    let events = sim.events();
    assert_eq!(events.len(), paths.len());
    for event in &events {
        assert_eq!(
            (event.path.as_str(), event.secret_known, event.status),
            ("/webhook/******", false, 404)
        );
    }
    let r = send(&app, "GET", "/webhook/", None, Body::empty()).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_rate_headers(&r);
    // Other unknown paths stay plain 404s.
    let r = send(&app, "POST", "/webhooks/x", None, "hello").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.header("x-ratelimit-limit").is_none());
    assert_eq!(sim.events().len(), paths.len() + 1);
}

#[tokio::test]
async fn non_post_is_405_with_empty_body() {
    let (_, app) = new_app();
    for method in ["GET", "PUT", "DELETE"] {
        let r = send(&app, method, &format!("/webhook/{S}"), None, Body::empty()).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("allow"), Some("POST"));
        assert_rate_headers(&r);
    }
}

#[tokio::test]
async fn quota_exceeded_is_429_with_retry_after() {
    let sim = Simulator::new(SimConfig {
        quota_per_window: 2,
        window: Duration::from_secs(30),
        ..SimConfig::default()
    });
    let app = router(sim.clone());
    let first = post_json(&app, json!({"Title": "1"})).await;
    assert_eq!(
        (
            first.header("x-ratelimit-limit"),
            first.header("x-ratelimit-remaining")
        ),
        (Some("2"), Some("1"))
    );
    let second = post_json(&app, json!({"Title": "2"})).await;
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    let third = post_json(&app, json!({"Title": "3"})).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(third.header("x-ratelimit-limit"), Some("2"));
    let retry_after: u64 = third
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!(
        (29..=30).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let reset: u64 = third
        .header("x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    assert!(
        reset >= now + 28 && reset <= now + 31,
        "reset {reset} now {now}"
    );
    assert_eq!(third.json()["error_code"], "TooManyRequests");
    assert_eq!(sim.alerts().len(), 2);
    assert_eq!(sim.events()[2].outcome, "throttled");
}

#[tokio::test]
async fn throttling_window_resets() {
    let sim = Simulator::new(SimConfig {
        quota_per_window: 1,
        window: Duration::from_millis(300),
        ..SimConfig::default()
    });
    let app = router(sim);
    assert_eq!(
        post_json(&app, json!({"Title": "1"})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        post_json(&app, json!({"Title": "2"})).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        post_json(&app, json!({"Title": "3"})).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn faults_knob_injects_failures_and_latency() {
    let (sim, app) = new_app();
    let r = send(
        &app,
        "POST",
        "/_sim/faults",
        Some("application/json"),
        r#"{"fail_next": 2, "fail_status": 500}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"latency_ms": 0, "fail_next": 2, "fail_status": 500})
    );
    for _ in 0..2 {
        let f = post_json(&app, json!({"Title": "T"})).await;
        assert_eq!(f.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(f.json()["error_code"], "InternalServerError");
        assert_rate_headers(&f);
    }
    assert_eq!(
        post_json(&app, json!({"Title": "T"})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        get_json(&app, "/_sim/faults").await,
        json!({"latency_ms": 0, "fail_next": 0, "fail_status": 500})
    );

    let r = send(
        &app,
        "POST",
        "/_sim/faults",
        Some("application/json"),
        r#"{"latency_ms": 200}"#,
    )
    .await;
    assert_eq!(
        r.json()["fail_status"],
        500,
        "omitted fields keep their value"
    );
    let started = Instant::now();
    assert_eq!(
        post_json(&app, json!({"Title": "slow"})).await.status,
        StatusCode::CREATED
    );
    assert!(started.elapsed() >= Duration::from_millis(200));

    sim.fail_next(1, 503);
    sim.set_latency(Duration::ZERO);
    assert_eq!(
        post_json(&app, json!({"Title": "T"})).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        sim.faults(),
        Faults {
            latency_ms: 0,
            fail_next: 0,
            fail_status: 503
        }
    );

    for bad in [r#"{"fail_status": 200}"#, r#"{"nope": 1}"#, "not json"] {
        let r = send(&app, "POST", "/_sim/faults", Some("application/json"), bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["error_code"], "BadRequest");
    }
}

/// A POST to `/_sim/faults` changes only the knobs it names: failures injected on a simulator
/// started with a latency (`signl4-sim --latency-ms`) keep that latency, and changing the
/// latency leaves pending failures pending.
#[tokio::test]
async fn faults_knob_keeps_what_a_post_leaves_out() {
    let sim = Simulator::new(SimConfig {
        latency: Duration::from_millis(150),
        ..SimConfig::default()
    });
    let app = router(sim.clone());
    let post = |body: &'static str| send(&app, "POST", "/_sim/faults", None, body);
    let r = post(r#"{"fail_next": 1, "fail_status": 502}"#).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"latency_ms": 150, "fail_next": 1, "fail_status": 502})
    );
    let r = post(r#"{"latency_ms": 0}"#).await;
    assert_eq!(
        r.json(),
        json!({"latency_ms": 0, "fail_next": 1, "fail_status": 502})
    );
    assert_eq!(
        post_json(&app, json!({"Title": "T"})).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        post(r#"{}"#).await.json(),
        get_json(&app, "/_sim/faults").await
    );
    assert_eq!(
        sim.faults(),
        Faults {
            latency_ms: 0,
            fail_next: 0,
            fail_status: 502
        }
    );
}

#[tokio::test]
async fn alerts_can_be_filtered_and_events_mask_secrets() {
    let (sim, app) = new_app();
    post_json(&app, json!({"Title": "a", "X-S4-ExternalID": "A"})).await;
    post_json(&app, json!({"Title": "b", "X-S4-ExternalID": "B"})).await;
    post_json(
        &app,
        json!({"Title": "a2", "X-S4-ExternalID": "A", "Note": format!("secret is {S}")}),
    )
    .await;
    post_json(
        &app,
        json!({"X-S4-ExternalID": "B", "X-S4-Status": "resolved"}),
    )
    .await;

    let only_a = get_json(&app, "/alerts?externalId=A").await;
    let titles: Vec<&str> = only_a
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["title"].as_str())
        .collect();
    assert_eq!(titles, ["a", "a2"]);
    let resolved = get_json(&app, "/alerts?status=resolved").await;
    assert_eq!(resolved.as_array().map(Vec::len), Some(1));
    assert_eq!(resolved[0]["externalId"], "B");
    assert_eq!(get_json(&app, "/alerts?externalId=none").await, json!([]));
    // A filter that cannot apply is a JSON 400 naming the filters, never the whole list.
    for bad in ["/alerts?status=open", "/alerts?externalid=A"] {
        let r = send(&app, "GET", bad, None, Body::empty()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["error_code"], "BadRequest", "{bad}");
        let description = r.json()["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            description.contains("externalId=<id>, status=new|acknowledged|resolved"),
            "{description}"
        );
    }

    let events = get_json(&app, "/events").await;
    assert_eq!(events.as_array().map(Vec::len), Some(4));
    let text = events.to_string();
    assert!(!text.contains(S), "{text}");
    assert_eq!(events[0]["path"], "/webhook/******");
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["method"], "POST");
    assert_eq!(events[0]["status"], 201);
    assert_eq!(events[0]["contentType"], "application/json");
    assert!(events[2]["body"]
        .as_str()
        .is_some_and(|b| b.contains("secret is ******")));
    assert!(!format!("{sim:?}").contains(S));
    assert!(!format!("{:?}", sim.config()).contains(S));
}

#[tokio::test]
async fn reset_forgets_everything() {
    let (sim, app) = new_app();
    post_json(&app, json!({"Title": "a"})).await;
    sim.fail_next(3, 502);
    let r = send(&app, "POST", "/_sim/reset", None, Body::empty()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(sim.alerts().is_empty());
    assert!(sim.events().is_empty());
    assert_eq!(sim.faults(), Faults::default());
    assert_eq!(
        get_json(&app, "/_sim/health").await,
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn several_secrets_share_one_account() {
    let sim = Simulator::new(SimConfig::with_secrets(["team-a", "integration-b"]));
    let app = router(sim.clone());
    let r = send(
        &app,
        "POST",
        "/webhook/team-a",
        Some("application/json"),
        json!({"Title": "x", "X-S4-ExternalID": "k"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(
        &app,
        "POST",
        "/webhook/integration-b",
        Some("application/json"),
        json!({"X-S4-ExternalID": "k", "X-S4-Status": "resolved"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(sim.alerts()[0].status, AlertStatus::Resolved);
    let r = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/json"),
        "{}",
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "the default secret is not configured here"
    );
}

#[tokio::test]
async fn spawned_server_answers_over_tcp_and_shuts_down() {
    let handle = sim::spawn(Simulator::default(), sim::loopback(0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(handle.local_addr().ip().is_loopback());
    assert_eq!(handle.url(), format!("http://{}", handle.local_addr()));
    assert_eq!(
        handle.webhook_url(),
        format!("{}/webhook/{S}", handle.url())
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = client
        .post(handle.webhook_url())
        .json(&json!({"Title": "over tcp", "Message": "m"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
    assert!(resp.headers().contains_key("x-ratelimit-reset"));
    let alerts: Value = client
        .get(format!("{}/alerts", handle.url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(alerts[0]["title"], "over tcp");
    assert_eq!(handle.simulator().alerts().len(), 1);
    let addr = handle.local_addr();
    assert!(handle.shutdown().await.is_ok());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed after shutdown"
    );
}

#[tokio::test]
async fn a_3xx_fault_is_a_redirect_without_a_body() {
    let (sim, app) = new_app();
    let r = send(
        &app,
        "POST",
        "/_sim/faults",
        Some("application/json"),
        r#"{"fail_next": 1, "fail_status": 302}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let moved = post_json(&app, json!({"Title": "T"})).await;
    assert_eq!(moved.status, StatusCode::FOUND);
    assert_eq!(moved.header("location"), Some("/_sim/moved"));
    assert!(moved.body.is_empty());
    assert_rate_headers(&moved);
    // Nothing answers where it points, and the next request is served again.
    assert_eq!(
        send(&app, "POST", "/_sim/moved", Some("application/json"), "{}")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_json(&app, json!({"Title": "T"})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(sim.events()[0].outcome, "injected redirect");
    // Below 300 is still refused.
    let r = send(
        &app,
        "POST",
        "/_sim/faults",
        Some("application/json"),
        r#"{"fail_status": 299}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn erroneous_requests_are_held_to_ten_a_minute() {
    let (sim, app) = new_app();
    for i in 0..10 {
        let wrong = send(
            &app,
            "POST",
            "/webhook/wrong",
            Some("application/json"),
            "{}",
        )
        .await;
        assert_eq!(wrong.status, StatusCode::NOT_FOUND, "request {i}");
    }
    // The 11th erroneous request of the minute — unknown secret or malformed body — is 429.
    let held = send(
        &app,
        "POST",
        "/webhook/wrong",
        Some("application/json"),
        "{}",
    )
    .await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = held
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_rate_headers(&held);
    let broken = send(
        &app,
        "POST",
        &format!("/webhook/{S}"),
        Some("application/json"),
        "{",
    )
    .await;
    assert_eq!(broken.status, StatusCode::TOO_MANY_REQUESTS);
    // Good requests are not affected.
    assert_eq!(
        post_json(&app, json!({"Title": "still paged"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(sim.alerts().len(), 1);
    // 0 turns the limit off.
    let open = Simulator::new(SimConfig {
        error_quota_per_minute: 0,
        ..SimConfig::default()
    });
    let app = router(open);
    for _ in 0..20 {
        let wrong = send(
            &app,
            "POST",
            "/webhook/wrong",
            Some("application/json"),
            "{}",
        )
        .await;
        assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    }
}

/// POST `body` as JSON to `uri`.
async fn post_to(app: &Router, uri: String, body: Value) -> Reply {
    send(
        app,
        "POST",
        &uri,
        Some("application/json"),
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn a_query_status_mapping_reads_the_external_id_and_status_from_the_payload() {
    let (sim, app) = new_app();
    let grafana = |body: Value| {
        post_to(
            &app,
            format!(
                "/webhook/{S}?ExtIDParam=groupKey&ExtStatusParam=status&ResolvedStatus=resolved"
            ),
            body,
        )
    };
    let fired = grafana(json!({"Title": "Grafana", "groupKey": "g1", "status": "firing"})).await;
    assert_eq!(fired.status, StatusCode::CREATED);
    let resolved = grafana(json!({"groupKey": "g1", "status": "Resolved"})).await;
    assert_eq!(resolved.status, StatusCode::CREATED);
    let alerts = sim.alerts();
    assert_eq!(
        alerts.len(),
        1,
        "a resolve through the mapping raises no new alert"
    );
    assert_eq!(alerts[0].external_id.as_deref(), Some("g1"));
    assert_eq!(alerts[0].status, AlertStatus::Resolved);

    // Spelt ExtIdParam, with AckStatus and NewStatus: values other than those are discarded.
    let docs = |body: Value| {
        post_to(
            &app,
            format!("/webhook/{S}?ExtIdParam=Id&ExtStatusParam=Status&ResolvedStatus=UP&AckStatus=PENDING&NewStatus=DOWN"),
            body,
        )
    };
    docs(json!({"Title": "probe", "Id": "p1", "Status": "DOWN"})).await;
    docs(json!({"Title": "probe", "Id": "p1", "Status": "FLAPPING"})).await;
    docs(json!({"Id": "p1", "Status": "PENDING"})).await;
    let probes = sim.alerts_with_external_id("p1");
    assert_eq!(
        probes.len(),
        1,
        "FLAPPING is neither NewStatus nor a status change"
    );
    assert_eq!(probes[0].status, AlertStatus::Acknowledged);
    docs(json!({"Id": "p1", "Status": "up"})).await;
    assert_eq!(
        sim.alerts_with_external_id("p1")[0].status,
        AlertStatus::Resolved
    );
}

#[tokio::test]
async fn the_rest_events_endpoint_takes_the_webhook_body_with_an_api_key() {
    let (sim, app) = new_app();
    let post = |key: Option<&'static str>| {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/api/v2/events/{S}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(k) = key {
            req = req.header("X-S4-Api-Key", k);
        }
        let req = req
            .body(Body::from(json!({"Title": "via REST"}).to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        app.clone().oneshot(req)
    };
    let created = post(Some("any-key")).await.unwrap_or_else(|e| match e {});
    assert_eq!(created.status(), StatusCode::CREATED);
    let missing = post(None).await.unwrap_or_else(|e| match e {});
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sim.alerts().len(), 1);
    assert_eq!(sim.alerts()[0].title.as_deref(), Some("via REST"));
    // Both requests are in the request log, under the REST path with the secret masked.
    let events = sim.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.path == "/api/v2/events/******"));
    assert_eq!(events[1].status, 401);
    assert_eq!(events[1].outcome, "API key refused");
    // The same replies as the webhook: a trailing slash, no secret (JSON 404), other methods.
    let keyed = |method: &'static str, uri: String| {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-S4-Api-Key", "k")
            .body(Body::from(json!({"Title": "again"}).to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        app.clone().oneshot(req)
    };
    let slash = keyed("POST", format!("/api/v2/events/{S}/"))
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(slash.status(), StatusCode::CREATED);
    let no_secret = keyed("POST", "/api/v2/events/".into())
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(no_secret.status(), StatusCode::NOT_FOUND);
    let body = axum::body::to_bytes(no_secret.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("json")["error_code"],
        "NotFound"
    );
    let get = send(&app, "GET", &format!("/api/v2/events/{S}"), None, "").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    // With api_keys configured, only those keys are accepted.
    let strict = Simulator::new(SimConfig {
        api_keys: vec!["k1".into()],
        ..SimConfig::default()
    });
    let app = router(strict.clone());
    let r = send(
        &app,
        "POST",
        &format!("/api/v2/events/{S}"),
        Some("application/json"),
        "{}",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error_code"], "Unauthorized");
}
