//! What the API test files share: a server in-process, authenticated requests to it and the
//! answers, checked against the rules every answer follows.

// Each test file is its own crate and uses only part of this module.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;
use xsoar_engine::{Engine, EngineOptions, VirtualClock};
use xsoar_server::{router, AppState, ServerConfig};
use xsoar_store::Store;

pub const KEY: &str = "test-api-key-0123456789";
pub const SIGNL4_YML: &str = include_str!("../../../../integrations/SIGNL4/SIGNL4.yml");
pub const SIM_SECRET: &str = xsoar_signl4::sim::DEFAULT_SIM_SECRET;
/// A secret the tests store; no answer may show it.
pub const SECRET: &str = "p4ss-w0rd-never-shown";
/// What no answer may contain.
const SECRETS: [&str; 3] = [SIM_SECRET, "s3cr3t-team", SECRET];

pub const COMPLETING: &str = r#"id: api-ok
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

/// An engine with the given content files (file name, text) loaded.
pub fn engine(files: &[(&str, &str)]) -> Arc<Engine> {
    let engine = Arc::new(Engine::new(VirtualClock::fixed(), EngineOptions::default()));
    let items = files
        .iter()
        .map(|(file, text)| {
            let (item, _) = xsoar_content::parse_any(text, file);
            item.expect("content parses")
        })
        .collect();
    engine.add_content(items);
    engine
}

/// The server over `engine` and `store`.
pub async fn server(engine: Arc<Engine>, store: Store, config: ServerConfig) -> Api {
    let state = AppState::new(engine, store, config).await.expect("state");
    Api {
        app: router(state.clone()),
        state,
    }
}

/// The server with the test key over `engine` and the database file at `path`.
pub async fn file_server(engine: Arc<Engine>, path: &std::path::Path) -> Api {
    let (store, _) = Store::open(path).expect("store");
    server(engine, store, ServerConfig::with_key(KEY)).await
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// A 400 whose message mentions `mentions`.
pub fn assert_bad(r: &Reply, mentions: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text().contains(mentions),
        "'{mentions}' not in {}",
        r.text()
    );
}

/// A 200, whose JSON is returned.
pub fn ok_json(r: &Reply) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

/// The router and the state behind it.
pub struct Api {
    pub app: Router,
    pub state: AppState,
}

impl Api {
    pub async fn send(&self, req: Request<Body>) -> Reply {
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
        // Rules every answer follows.
        let text = reply.text();
        for secret in SECRETS {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
        assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "500: {text}");
        if status.is_success() {
            if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&reply.bytes) {
                assert!(!o.contains_key("error"), "top-level error key: {text}");
            }
        }
        reply
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .header("x-xdr-auth-id", "7");
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(req.body(body).expect("request")).await
    }

    /// A JSON request without the API key, with these extra headers (cookies, XSRF token).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(req.body(body).expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// A multipart form with text fields and, optionally, a `file` part.
    pub async fn multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Reply {
        let boundary = "XSOARBOUNDARY42";
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
}
