//! Playbook runs: state polling, the work plan, manual task completion, (re)starting a
//! playbook on an investigation, and playbook definitions.
//!
//! `state` is `inprogress` from the moment a run is started until it stops, `waiting` only
//! when a manual task blocks it, then `completed` or `failed` — the values demisto-sdk's
//! pollers act on. A run that was interrupted by a server stop reports `failed` with an entry
//! saying so; it can be started again.

use crate::body::{parse_json, text, text_list, Body};
use crate::error::ApiError;
use crate::state::AppState;
use crate::views;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::Json;
use serde_json::{Map, Value};
use std::collections::HashMap;

fn no_run(id: &str) -> ApiError {
    ApiError::not_found(
        "No playbook run",
        format!("investigation '{id}' has no playbook run"),
    )
}

/// `GET /inv-playbook/{incidentId}`.
pub async fn investigation_playbook(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let entry = app.run_entry(&id).ok_or_else(|| no_run(&id))?;
    let lib = app.engine().library();
    Ok(Json(views::investigation_playbook(
        &entry.record,
        lib.playbook(&entry.record.playbook_id),
        &entry.failure,
        &entry.live,
    )))
}

/// `POST /investigation/{id}/workplan/tasks` (`{"states": [...], "types": [...]}`).
pub async fn workplan_tasks(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    app.slot_or_404(&id)?;
    let states = text_list(body.get("states"));
    let types = text_list(body.get("types"));
    let tasks = app
        .run_entry(&id)
        .and_then(|e| e.record.run)
        .map(|run| views::workplan_tasks(&run, &states, &types))
        .unwrap_or_default();
    Ok(Json(Value::Array(tasks)))
}

/// The fields of a task completion (multipart form, or JSON for convenience).
async fn completion_fields(
    app: &AppState,
    req: Request,
) -> Result<HashMap<String, String>, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut fields = HashMap::new();
    if content_type.starts_with("multipart/") {
        let mut form = Multipart::from_request(req, app)
            .await
            .map_err(|e| ApiError::bad_request("Invalid form", e.body_text()))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("Invalid form", e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                // Attachments of a completion are accepted and not kept.
                let _ = field.bytes().await;
                continue;
            }
            let value = field
                .text()
                .await
                .map_err(|e| ApiError::bad_request("Invalid form", e.body_text()))?;
            fields.insert(name, value);
        }
    } else {
        let bytes = Bytes::from_request(req, app)
            .await
            .map_err(|e| ApiError::bad_request("Unreadable request body", e.body_text()))?;
        let body: Map<String, Value> = parse_json(&bytes)?;
        for (k, v) in &body {
            if let Some(t) = text(Some(v)) {
                fields.insert(k.clone(), t);
            }
        }
    }
    Ok(fields)
}

/// `POST /inv-playbook/task/complete` (form: `investigationId`, `taskId`, `taskInput`).
pub async fn complete_task(
    State(app): State<AppState>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let fields = completion_fields(&app, req).await?;
    let get = |k: &str| {
        fields
            .get(k)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let inv = get("investigationId").ok_or_else(|| {
        ApiError::bad_request("Missing investigationId", "the form needs investigationId")
    })?;
    let task = get("taskId")
        .ok_or_else(|| ApiError::bad_request("Missing taskId", "the form needs taskId"))?;
    let entry = app.complete_task(&inv, &task, get("taskInput")).await?;
    let lib = app.engine().library();
    Ok(Json(views::investigation_playbook(
        &entry.record,
        lib.playbook(&entry.record.playbook_id),
        &entry.failure,
        &entry.live,
    )))
}

/// `POST /inv-playbook/new/{playbookId}/{investigationId}`: run a playbook (again) on an
/// existing investigation, e.g. after an interrupted run.
pub async fn start_on_investigation(
    State(app): State<AppState>,
    Path((playbook_id, investigation_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let slot = app.slot_or_404(&investigation_id)?;
    let record = app.start_playbook(slot, &playbook_id).await?;
    let lib = app.engine().library();
    Ok(Json(views::investigation_playbook(
        &record,
        lib.playbook(&record.playbook_id),
        &[],
        &Default::default(),
    )))
}

/// `GET /playbook/{id}`.
pub async fn playbook(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let lib = app.engine().library();
    let pb = lib.playbook(&id).ok_or_else(|| {
        ApiError::not_found(
            "Playbook not found",
            format!("no playbook '{id}' is loaded"),
        )
    })?;
    Ok(Json(views::playbook(pb)))
}
