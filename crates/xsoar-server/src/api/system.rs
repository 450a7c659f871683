//! Server identity: health, `/about`, the current user.
//!
//! `/about` is read by demisto-sdk through `json.loads(str(dict).replace("'", '"'))`, so it
//! holds only strings and objects: no booleans, no nulls, no apostrophes. It advertises a high
//! XSOAR 6 version, on-prem, because that is the profile in which every client flow works.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

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
