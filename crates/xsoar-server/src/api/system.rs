//! Server identity and settings: health, `/about`, the current user, server configuration
//! keys (`/system/config`, stored in the database) and `/containers/reset`.
//!
//! `/about` is read by demisto-sdk through `json.loads(str(dict).replace("'", '"'))`, so it
//! holds only strings and objects: no booleans, no nulls, no apostrophes. It advertises a high
//! XSOAR 6 version, on-prem, because that is the profile in which every client flow works.

use crate::body::Body;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};

/// The XSOAR version the server reports.
pub const DEMISTO_VERSION: &str = "6.13.0";

/// `GET /health/server`.
pub async fn health() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "OK")
}

/// `GET /public_api/v1/healthcheck` (XSOAR 8 server-type detection).
pub async fn healthcheck() -> Json<Value> {
    Json(json!({"status": "available"}))
}

/// The `/about` document.
pub fn about_value() -> Value {
    json!({
        "demistoVersion": DEMISTO_VERSION,
        "buildNum": "1",
        "productMode": "xsoar",
        "deploymentMode": "opp",
        "platform": "linux",
        "edition": "emulator",
        "emulator": format!("xsoar-emu {}", env!("CARGO_PKG_VERSION")),
    })
}

/// `GET /about`.
pub async fn about() -> Json<Value> {
    Json(about_value())
}

/// `GET /user`.
pub async fn user(State(app): State<AppState>) -> Json<Value> {
    let u = &app.shared.user;
    Json(json!({
        "id": u,
        "username": u,
        "name": "Admin",
        "email": format!("{u}@localhost"),
        "roles": {"demisto": ["Administrator"]},
        "permissions": {"demisto": ["adminPage"]},
    }))
}

/// Words that make a configuration key secret: its value is never shown.
const SECRET_WORDS: &[&str] = &[
    "password",
    "secret",
    "token",
    "credential",
    "apikey",
    "api_key",
];

fn config_view(values: &Map<String, Value>) -> Value {
    let shown: Map<String, Value> = values
        .iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let secret = SECRET_WORDS.iter().any(|w| lower.contains(w));
            let v = if secret {
                json!(crate::api::integrations::MASK)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    json!({"sysConf": shown, "defaultMap": {}})
}

/// `GET /system/config`: the server configuration keys set through the API (`sysConf`).
/// Values of keys that look secret (`password`, `token`, ...) are masked.
pub async fn get_config(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(config_view(&app.store().system_config().await?)))
}

/// `POST /system/config` (`{"data": {key: value}, "version": -1}`): set server keys. XSOAR
/// keeps them as strings, so numbers and booleans are stored as their text; `null` removes a
/// key; objects and lists are refused.
pub async fn set_config(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let data = body.get("data").and_then(Value::as_object).ok_or_else(|| {
        ApiError::bad_request(
            "Missing data",
            "the body needs 'data': an object of server configuration keys and values",
        )
    })?;
    let mut values = Map::new();
    for (k, v) in data {
        if k.trim().is_empty() {
            return Err(ApiError::bad_request(
                "Invalid data",
                "a configuration key is empty",
            ));
        }
        let v = match v {
            Value::Null => Value::Null,
            Value::String(_) => v.clone(),
            Value::Bool(_) | Value::Number(_) => Value::String(v.to_string()),
            _ => {
                return Err(ApiError::bad_request(
                    "Invalid data",
                    format!("data.{k} must be a string, number or boolean"),
                ))
            }
        };
        values.insert(k.clone(), v);
    }
    app.store().set_system_config(values).await?;
    tracing::info!(keys = data.len(), "server configuration changed");
    Ok(Json(config_view(&app.store().system_config().await?)))
}

/// `POST /containers/reset`: XSOAR restarts its integration containers so they pick up new
/// server keys. The emulator's integrations run in-process, so the equivalent is recreating
/// every instance's connector from its configuration (fresh clients, no cached state).
pub async fn reset_containers(State(app): State<AppState>) -> Json<Value> {
    let book = app.shared.instances.lock().await;
    app.apply_instances(&book);
    let n = book.effective().len();
    tracing::info!(instances = n, "instances recreated");
    Json(json!({"reset": n}))
}
