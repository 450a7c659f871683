//! The simulator's alert lifecycle against a model (proptest): generated sequences of webhook
//! events — new alerts with or without an external id, `acknowledged` / `resolved` by external
//! id, empty, differently cased and unknown statuses — sent as JSON, form-urlencoded or plain
//! text. After every event the reply is a 201 with an `eventId`, and `GET /alerts` shows exactly
//! the alerts and statuses the model says (new → acknowledged → resolved, every open alert with
//! that external id, resolved stays resolved).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;
use xsoar_signl4::sim::{router, SimConfig, Simulator, DEFAULT_SIM_SECRET};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Json,
    Form,
    Text,
}

#[derive(Debug, Clone)]
struct Event {
    encoding: Encoding,
    external_id: Option<&'static str>,
    status: Option<&'static str>,
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![3 => Just(Encoding::Json), 2 => Just(Encoding::Form), 1 => Just(Encoding::Text)],
        prop_oneof![
            4 => Just(Some("a")),
            2 => Just(Some("b")),
            1 => Just(Some("")),
            1 => Just(None),
        ],
        prop_oneof![
            3 => Just(None),
            1 => Just(Some("new")),
            1 => Just(Some("")),
            3 => Just(Some("acknowledged")),
            3 => Just(Some("resolved")),
            1 => Just(Some("Resolved")),
            1 => Just(Some(" ACKNOWLEDGED ")),
            1 => Just(Some("closed")),
        ],
    )
        .prop_map(|(encoding, external_id, status)| Event {
            encoding,
            external_id,
            status,
        })
}

/// What the model expects: (external id, status) per alert, in creation order.
#[derive(Debug, Default)]
struct Model {
    alerts: Vec<(Option<String>, &'static str)>,
}

impl Model {
    fn apply(&mut self, e: &Event) {
        // A plain-text body is only a message: no external id, no status.
        let (external_id, status) = match e.encoding {
            Encoding::Text => (None, None),
            _ => (
                e.external_id.filter(|s| !s.is_empty()).map(str::to_owned),
                e.status,
            ),
        };
        let target = match status.map(|s| s.trim().to_ascii_lowercase()) {
            None => None,
            Some(s) if s.is_empty() || s == "new" => None,
            Some(s) if s == "acknowledged" => Some("acknowledged"),
            Some(s) if s == "resolved" => Some("resolved"),
            Some(_) => return, // unknown status: discarded
        };
        match target {
            None => self.alerts.push((external_id, "new")),
            Some(target) => {
                let Some(id) = external_id else { return };
                for (ext, status) in &mut self.alerts {
                    if *status != "resolved" && ext.as_deref() == Some(id.as_str()) {
                        *status = target;
                    }
                }
            }
        }
    }
}

fn request(e: &Event, n: usize) -> Request<Body> {
    let uri = format!("/webhook/{DEFAULT_SIM_SECRET}");
    let builder = Request::builder().method("POST").uri(uri);
    match e.encoding {
        Encoding::Json => {
            let mut body = json!({"Title": format!("alert {n}"), "Message": "m"});
            if let Some(x) = e.external_id {
                body["X-S4-ExternalID"] = json!(x);
            }
            if let Some(s) = e.status {
                body["X-S4-Status"] = json!(s);
            }
            builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
        }
        Encoding::Form => {
            let mut pairs = vec![("Title".to_owned(), format!("alert {n}"))];
            if let Some(x) = e.external_id {
                pairs.push(("X-S4-ExternalID".to_owned(), x.to_owned()));
            }
            if let Some(s) = e.status {
                pairs.push(("X-S4-Status".to_owned(), s.to_owned()));
            }
            let body = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
                .collect::<Vec<_>>()
                .join("&");
            builder
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
        }
        Encoding::Text => builder
            .header("content-type", "text/plain")
            .body(Body::from(format!("disk full on db{n}"))),
    }
    .expect("request")
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn body_json(res: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON reply")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_alert_lifecycle_follows_the_model(events in prop::collection::vec(event(), 1..20)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let sim = Simulator::new(SimConfig { quota_per_window: 0, ..SimConfig::default() });
            let app = router(sim.clone());
            let mut model = Model::default();
            for (n, e) in events.iter().enumerate() {
                let res = app.clone().oneshot(request(e, n)).await.expect("reply");
                prop_assert_eq!(res.status(), StatusCode::CREATED, "{:?}", e);
                let reply = body_json(res).await;
                prop_assert!(reply["eventId"].as_str().is_some_and(|id| !id.is_empty()), "{reply}");
                model.apply(e);
                let res = app
                    .clone()
                    .oneshot(Request::get("/alerts").body(Body::empty()).expect("request"))
                    .await
                    .expect("reply");
                let listed = body_json(res).await;
                let got: Vec<(Option<String>, String)> = listed
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                (
                                    x["externalId"].as_str().map(str::to_owned),
                                    x["status"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let want: Vec<(Option<String>, String)> = model
                    .alerts
                    .iter()
                    .map(|(x, s)| (x.clone(), (*s).to_owned()))
                    .collect();
                prop_assert_eq!(got, want, "after {:?}", &events[..=n]);
            }
            Ok(())
        })?;
    }
}
