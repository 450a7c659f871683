//! Playbook runs: state polling, the work plan, manual task completion, (re)starting a
//! playbook on an investigation, and playbook definitions.
//!
//! `state` is `inprogress` from the moment a run is started until it stops, `waiting` only
//! when a manual task blocks it, then `completed` or `failed` — the values demisto-sdk's
//! pollers act on. A run that was interrupted by a server stop reports `failed` with an entry
//! saying so; it can be started again.
//!
//! Playbook definitions can be searched, read as YAML, given new inputs and deleted; changes
//! are stored like uploads (see `source`), and only playbooks saved through the API can be
//! deleted (the others belong to the content directory).

use crate::body::{id_or_name, parse_json, text, text_list, Body};
use crate::error::ApiError;
use crate::state::{AppState, RunEntry};
use crate::views;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use serde_json::{Map, Value};
use std::collections::HashMap;
use xsoar_content::ContentKind;

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
    Ok(Json(run_view(&app, &entry)))
}

/// The `/inv-playbook` view of a run: its record, playbook graph, failure and live task states.
fn run_view(app: &AppState, entry: &RunEntry) -> Value {
    views::investigation_playbook(
        &entry.record,
        app.engine().library().playbook(&entry.record.playbook_id),
        &entry.failure,
        &entry.live,
    )
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
    Ok(Json(run_view(&app, &entry)))
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

fn playbook_404(id: &str) -> ApiError {
    ApiError::not_found(
        "Playbook not found",
        format!("no playbook '{id}' is loaded"),
    )
}

/// Check one playbook input (`{key, value: {simple | complex}, required, description,
/// playbookInputQuery}`) and turn it into its YAML form.
fn input_yaml(n: usize, input: &Value) -> Result<Value, ApiError> {
    let bad =
        |what: &str| ApiError::bad_request("Invalid playbook input", format!("inputs[{n}]{what}"));
    let o = input
        .as_object()
        .ok_or_else(|| bad(" must be an object {key, value, required, description}"))?;
    let key = match o.get("key") {
        Some(Value::String(k)) => k.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(bad(".key must be a string")),
    };
    let value = match o.get("value") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(v)) => {
            if v.keys().any(|k| k != "simple" && k != "complex") {
                return Err(bad(".value may only hold 'simple' or 'complex'"));
            }
            if v.get("simple")
                .is_some_and(|s| !s.is_null() && !s.is_string())
            {
                return Err(bad(".value.simple must be a string"));
            }
            if v.get("complex")
                .is_some_and(|c| !c.is_null() && !c.is_object())
            {
                return Err(bad(".value.complex must be an object"));
            }
            Value::Object(
                v.iter()
                    .filter(|(_, x)| !x.is_null())
                    .map(|(k, x)| (k.clone(), x.clone()))
                    .collect(),
            )
        }
        Some(_) => return Err(bad(".value must be an object {simple} or {complex}")),
    };
    let mut out = Map::new();
    out.insert("key".into(), Value::String(key));
    out.insert("value".into(), value);
    out.insert(
        "required".into(),
        json!(crate::body::boolean(o.get("required")).unwrap_or(false)),
    );
    out.insert(
        "description".into(),
        json!(text(o.get("description")).unwrap_or_default()),
    );
    out.insert(
        "playbookInputQuery".into(),
        o.get("playbookInputQuery").cloned().unwrap_or(Value::Null),
    );
    Ok(Value::Object(out))
}

/// `POST /playbook/inputs/{id}` (`{"inputs": [...]}` or a bare list): replace a playbook's
/// inputs. The changed playbook is stored like an upload (a playbook from the content
/// directory gets a stored copy that wins over the file) and answered in full.
pub async fn set_inputs(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let inputs = match &body {
        Value::Array(a) => a,
        Value::Object(o) => o.get("inputs").and_then(Value::as_array).ok_or_else(|| {
            ApiError::bad_request(
                "Missing inputs",
                "the body needs 'inputs': a list of {key, value, required, description}",
            )
        })?,
        _ => {
            return Err(ApiError::bad_request(
                "Missing inputs",
                "the body must be {\"inputs\": [...]} or a list of inputs",
            ))
        }
    };
    let inputs = inputs
        .iter()
        .enumerate()
        .map(|(n, i)| input_yaml(n, i))
        .collect::<Result<Vec<_>, _>>()?;
    let (pid, src) = crate::source::find(&app, ContentKind::Playbook, &id)
        .await?
        .ok_or_else(|| playbook_404(&id))?;
    let mut yaml = crate::source::yaml_to_json(&src.text, &src.file)?;
    let Value::Object(map) = &mut yaml else {
        return Err(ApiError::conflict(
            "Source not available",
            format!("playbook '{pid}' is not a mapping"),
        ));
    };
    map.insert("inputs".into(), Value::Array(inputs));
    let file = if src.origin == crate::source::Origin::Stored {
        src.file.clone()
    } else {
        format!("playbook-{}.yml", crate::source::file_stem(&pid))
    };
    let text = crate::source::json_to_yaml(&yaml)?;
    match crate::source::save(&app, ContentKind::Playbook, &file, text).await? {
        xsoar_content::ContentItem::Playbook(p) => Ok(Json(views::playbook(&p))),
        _ => Err(ApiError::internal("saved playbook changed kind")),
    }
}

/// `POST /playbook/delete` (`{"id", "name"}`): delete a playbook saved through the API.
pub async fn delete(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = id_or_name(&body, "the body needs the playbook id (or name)")?;
    let deleted = crate::source::delete(&app, ContentKind::Playbook, &id).await?;
    Ok(Json(json!({"id": deleted})))
}

/// `GET /playbook/{id}/yaml`: the playbook's YAML as stored or loaded.
pub async fn yaml(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (pid, src) = crate::source::find(&app, ContentKind::Playbook, &id)
        .await?
        .ok_or_else(|| playbook_404(&id))?;
    let name = format!("playbook-{}.yml", crate::source::file_stem(&pid));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"playbook.yml\""));
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-yaml; charset=utf-8"),
            ),
            (CONTENT_DISPOSITION, disposition),
        ],
        src.text,
    )
        .into_response())
}

/// `POST /playbook/search` (`{"query": "name:X", "page", "size"}`): loaded playbooks whose
/// fields match every query term (`*` wildcards; bare words match the name).
pub async fn search(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let filter = crate::api::war_room::filter_of(&body);
    let terms = crate::api::incidents::parse_query(&text(filter.get("query")).unwrap_or_default());
    let stored = crate::source::stored(&app, ContentKind::Playbook).await?;
    let lib = app.engine().library();
    let matched: Vec<Value> = lib
        .playbooks()
        .map(|p| {
            let mut v = views::playbook(p);
            if let Value::Object(o) = &mut v {
                o.insert("system".into(), json!(!stored.contains_key(&p.id)));
            }
            v
        })
        .filter(|v| {
            terms.iter().all(|t| {
                let field = crate::api::incidents::field_text(v, &t.key);
                crate::api::incidents::glob(&t.value, &field) != t.negated
            })
        })
        .collect();
    let (page, size) = crate::api::war_room::paging(&filter)?;
    Ok(Json(json!({
        "total": matched.len(),
        "playbooks": crate::api::war_room::page_of(&matched, page, size),
    })))
}
