//! War rooms: finding investigations, running lines, adding entries, uploading and
//! downloading files, reading context.
//!
//! Commands run on the in-memory investigation under its lock and are committed before the
//! answer. Reads (entries, context, files) come from the store, which holds exactly what
//! clients were told about, so they never wait behind a running playbook.

use crate::body::{
    boolean, int, int_list, non_empty_text, not_multipart, text, text_list, unreadable_multipart,
    Body,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::views;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use xsoar_context::{Interpolated, Scope};
use xsoar_engine::Entry;

/// The `filter` object of a search body (or the body itself when it has none).
pub(crate) fn filter_of(body: &Map<String, Value>) -> Map<String, Value> {
    match body.get("filter") {
        Some(Value::Object(f)) => f.clone(),
        _ => body.clone(),
    }
}

/// `(page, size)`; `size` `None` (absent, `null` or 0) means "all". A page or size that is
/// not a non-negative whole number is a 400 naming it.
/// Page size when a search names a `page` but no `size`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;

pub(crate) fn paging(filter: &Map<String, Value>) -> Result<(usize, Option<usize>), ApiError> {
    let read = |key: &str| -> Result<Option<i64>, ApiError> {
        let Some(v) = filter.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        // Whole numbers only: `1.5` is refused rather than read as page 1 (`2.0` is 2).
        let whole = match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            other => int(Some(other)),
        };
        match whole {
            Some(n) if n >= 0 => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "Invalid paging",
                format!("'{key}' has {v}; send a whole number, 0 or more"),
            )),
        }
    };
    let page = read("page")?;
    let size = read("size")?
        .filter(|s| *s > 0)
        .map(|s| s.min(10_000) as usize)
        // Asking for a page without a size gets pages of the size clients send (50), so a
        // loop over pages that stops at an empty page ends.
        .or(page.map(|_| DEFAULT_PAGE_SIZE));
    Ok((page.unwrap_or(0) as usize, size))
}

pub(crate) fn page_of<T: Clone>(items: &[T], page: usize, size: Option<usize>) -> Vec<T> {
    match size {
        None => items.to_vec(),
        Some(size) => items
            .iter()
            .skip(page.saturating_mul(size))
            .take(size)
            .cloned()
            .collect(),
    }
}

/// `POST /investigations/search`.
pub async fn search_investigations(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(&body);
    let (page, size) = paging(&filter)?;
    let types = int_list(filter.get("type"));
    let ids = text_list(filter.get("id"));
    let users = text_list(filter.get("user"));
    let statuses = int_list(filter.get("status"));
    let names = text_list(filter.get("name"));
    let mut matched = Vec::new();
    for slot in app.all_slots() {
        let incident = slot.incident_snapshot();
        let view = views::investigation(&slot.info(&incident));
        let status = view.get("status").and_then(Value::as_i64).unwrap_or(0);
        let name = view.get("name").and_then(Value::as_str).unwrap_or_default();
        if (types.is_empty() || types.contains(&slot.kind))
            && (ids.is_empty() || ids.contains(&slot.id))
            && (users.is_empty() || users.contains(&slot.user))
            && (statuses.is_empty() || statuses.contains(&status))
            && (names.is_empty() || names.iter().any(|n| n == name))
        {
            matched.push(view);
        }
    }
    Ok(Json(
        json!({"total": matched.len(), "data": page_of(&matched, page, size)}),
    ))
}

fn investigation_id(body: &Map<String, Value>) -> Result<String, ApiError> {
    non_empty_text(body.get("investigationId")).ok_or_else(|| {
        ApiError::bad_request(
            "Missing investigationId",
            "the body needs investigationId (the playground id from POST /investigations/search, or an incident id)",
        )
    })
}

/// `POST /entry/execute/sync`: run one war-room line and return the entries it produced.
pub async fn execute_sync(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let inv_id = investigation_id(&body)?;
    let data = text(body.get("data")).unwrap_or_default();
    if data.trim().is_empty() {
        return Err(ApiError::bad_request(
            "Missing data",
            "the body needs data: a war-room line such as !Print value=hello",
        ));
    }
    let slot = app.slot_or_404(&inv_id)?;
    let entries = app
        .with_investigation(slot, move |app, inv| {
            Box::pin(async move {
                let outcome = app.engine().execute_line(inv, &data).await;
                let ids = if outcome.results.is_empty() {
                    outcome.echo.into_iter().collect::<Vec<_>>()
                } else {
                    outcome.results
                };
                ids.iter()
                    .filter_map(|id| inv.entry(id))
                    .map(views::entry)
                    .collect::<Vec<Value>>()
            })
        })
        .await?;
    Ok(Json(entries))
}

async fn add(
    app: AppState,
    body: Map<String, Value>,
    note: bool,
    format: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let inv_id = investigation_id(&body)?;
    let data = text(body.get("data"))
        .or_else(|| text(body.get("contents")))
        .unwrap_or_default();
    let format = format.unwrap_or_else(|| {
        if boolean(body.get("markdown")).unwrap_or(false) {
            "markdown".into()
        } else {
            "text".into()
        }
    });
    let slot = app.slot_or_404(&inv_id)?;
    let entry = app
        .with_investigation(slot, move |app, inv| {
            Box::pin(async move {
                let e = Entry {
                    format: format.into(),
                    note,
                    ..user_entry(inv, app.now(), if note { "notes" } else { "chat" }, data)
                };
                let view = views::entry(&e);
                inv.entries.push(Box::new(e));
                view
            })
        })
        .await?;
    Ok(Json(entry))
}

/// A text entry the investigation's user adds to its war room (no command, task or file),
/// with the investigation's next entry id.
fn user_entry(
    inv: &mut xsoar_engine::Investigation,
    created: String,
    category: &str,
    contents: String,
) -> Entry {
    Entry {
        user: inv.user.as_str().into(),
        category: category.into(),
        ..Entry::new(
            inv.next_entry_id(),
            inv.id.as_str().into(),
            1,
            Value::String(contents),
            created.into(),
        )
    }
}

/// `POST /entry`: add an entry (not executed).
pub async fn add_entry(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    add(app, body, false, None).await
}

/// `POST /entry/note`: add an analyst note.
pub async fn add_note(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    add(app, body, true, None).await
}

/// `POST /entry/formatted`: add an entry in a given format.
pub async fn add_formatted(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let format = non_empty_text(body.get("format"))
        .map(|f| f.to_ascii_lowercase())
        .filter(|f| ["text", "markdown", "json", "table", "html"].contains(&f.as_str()))
        .unwrap_or_else(|| "markdown".into());
    add(app, body, false, Some(format)).await
}

fn split_entry_id(entry_id: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "Invalid entry id",
            format!("'{entry_id}' is not an entry id (expected <number>@<investigation id>)"),
        )
    };
    let (seq, inv) = entry_id.split_once('@').ok_or_else(bad)?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    Ok((seq, inv.to_owned()))
}

/// A file name safe for `Content-Disposition` and the SDK's `filename=([^'"\s]+)`.
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// `GET /entry/download/{entryId}`: the file of a file or debug-log entry.
pub async fn download(
    State(app): State<AppState>,
    Path(entry_id): Path<String>,
) -> Result<Response, ApiError> {
    let (seq, inv) = split_entry_id(&entry_id)?;
    let not_found = || ApiError::not_found("Entry not found", format!("no entry '{entry_id}'"));
    app.slot(&inv).ok_or_else(not_found)?;
    let entry = app.store().entry(&inv, seq).await?.ok_or_else(not_found)?;
    if entry.file_id.is_empty() {
        return Err(ApiError::not_found(
            "No file",
            format!("entry '{entry_id}' has no file"),
        ));
    }
    let bytes = app
        .store()
        .file(&inv, &entry.file_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "File not found",
                format!("the file of entry '{entry_id}' is gone"),
            )
        })?;
    let name = safe_file_name(if entry.file.is_empty() {
        &entry.file_id
    } else {
        &entry.file
    });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"file\""));
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `POST /investigation/{id}`: the investigation with its latest entries (`pageSize`).
pub async fn investigation(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let slot = app.slot_or_404(&id)?;
    let page_size = int(body.get("pageSize"))
        .or_else(|| int(body.get("size")))
        .filter(|n| *n > 0)
        .unwrap_or(100)
        .min(10_000);
    let total = app.store().count_entries(Some(&id)).await?;
    let from = (total - page_size + 1).max(1);
    let entries = app.store().entries(&id, from, page_size).await?;
    let incident = slot.incident_snapshot();
    Ok(Json(json!({
        "id": id,
        "total": total,
        "entries": entries.iter().map(views::entry).collect::<Vec<_>>(),
        "investigation": views::investigation(&slot.info(&incident)),
    })))
}

/// `POST /investigation/{id}/context`: `{"query": "${.}"}` (the whole context) or a DT
/// expression, evaluated with `incident` as a root.
pub async fn context(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let slot = app.slot_or_404(&id)?;
    let ctx = app
        .store()
        .context(&id)
        .await?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let query = match body.get("query") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(q)) => q.clone(),
        Some(other) => {
            return Err(ApiError::bad_request(
                "Invalid query",
                format!("'query' has {other}; send a DT expression as a string, e.g. \"${{.}}\""),
            ))
        }
    };
    let q = query.trim();
    if q.is_empty() || q == "." || q == "${.}" || q == "${}" {
        return Ok(Json(ctx));
    }
    let incident = slot.incident_snapshot();
    let lists = app.engine().lists();
    let scope = Scope::new(&ctx)
        .with_root("incident", &incident)
        .with_root("lists", lists.root());
    let bad = |e: xsoar_context::DtError| {
        ApiError::bad_request("Invalid DT expression", format!("{q}: {e}"))
    };
    let value = if q.starts_with("${") {
        match xsoar_context::interpolate(q, &scope).map_err(bad)? {
            Interpolated::Value(v) => v,
            Interpolated::Missing => Value::Null,
        }
    } else {
        xsoar_context::eval_path(q, &scope)
            .map_err(bad)?
            .unwrap_or(Value::Null)
    };
    Ok(Json(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_for_the_sdk() {
        assert_eq!(
            safe_file_name("signl4_alert-debug.log"),
            "signl4_alert-debug.log"
        );
        assert_eq!(safe_file_name("a b\"c'.txt"), "a_b_c_.txt");
        assert_eq!(safe_file_name(""), "file");
    }

    #[test]
    fn entry_ids_split() {
        assert_eq!(
            split_entry_id("4@ab-playground").expect("ok"),
            (4, "ab-playground".to_owned())
        );
        assert!(split_entry_id("x@y").is_err());
        assert!(split_entry_id("nope").is_err());
    }

    #[test]
    fn pages() {
        let items = [1, 2, 3, 4, 5];
        assert_eq!(page_of(&items, 1, Some(2)), vec![3, 4]);
        assert_eq!(page_of(&items, 0, None), vec![1, 2, 3, 4, 5]);
        assert!(page_of(&items, 9, Some(2)).is_empty());
    }
}

/// The parts of a war-room upload form.
#[derive(Debug, Default)]
struct UploadForm {
    file: Option<(String, Vec<u8>)>,
    fields: std::collections::HashMap<String, String>,
}

async fn upload_form(form: Result<Multipart, MultipartRejection>) -> Result<UploadForm, ApiError> {
    let mut form = form.map_err(not_multipart)?;
    let mut out = UploadForm::default();
    while let Some(field) = form.next_field().await.map_err(unreadable_multipart)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(unreadable_multipart)?;
            out.file = Some((file_name, bytes.to_vec()));
        } else {
            let value = field.text().await.map_err(unreadable_multipart)?;
            out.fields.insert(name, value);
        }
    }
    Ok(out)
}

/// `POST /entry/upload/{incidentId}` (multipart `file`, `fileName`, `fileComment`, `field`,
/// `showMediaFile`, `last`): add a file entry (type 3) to the war room. The file is stored
/// with the investigation and downloadable through `GET /entry/download/{entryId}`.
///
/// Choices where XSOAR is not specific: the entry's `contents` is the comment when one is
/// given, else the file name; `fileName` overrides the part's file name; on an incident the
/// file is also recorded in the incident field named by `field` (default `attachment`, a list
/// of `{name, path, type, description, showMediaFile}`), which must be a list or unset.
/// The answer is the new entry.
pub async fn upload(
    State(app): State<AppState>,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let form = upload_form(form).await?;
    let slot = app.slot_or_404(&id)?;
    let (part_name, bytes) = form.file.ok_or_else(|| {
        ApiError::bad_request("No file", "the upload has no multipart field named 'file'")
    })?;
    let get = |k: &str| {
        form.fields
            .get(k)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let name = get("fileName")
        .or_else(|| (!part_name.trim().is_empty()).then(|| part_name.trim().to_owned()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "Missing fileName",
                "give the file a name: fileName, or a filename on the 'file' part",
            )
        })?;
    let comment = get("fileComment").unwrap_or_default();
    let show_media = match get("showMediaFile") {
        None => false,
        Some(v) => boolean(Some(&Value::String(v.clone()))).ok_or_else(|| {
            ApiError::bad_request(
                "Invalid showMediaFile",
                format!("showMediaFile must be true or false, not '{v}'"),
            )
        })?,
    };
    let field = slot
        .incident_id
        .as_ref()
        .map(|_| get("field").unwrap_or_else(|| "attachment".into()));
    if let Some(f) = &field {
        let current = slot.incident_snapshot().get(f).cloned();
        if current
            .as_ref()
            .is_some_and(|v| !v.is_null() && !v.is_array())
        {
            return Err(ApiError::bad_request(
                "Invalid field",
                format!("the incident field '{f}' is not a list of attachments"),
            ));
        }
    }
    let size = bytes.len();
    let entry = app
        .with_investigation(slot, move |app, inv| {
            Box::pin(async move {
                let file_id = uuid::Uuid::new_v4().to_string();
                inv.files.insert(file_id.clone(), bytes);
                if let (Some(f), Value::Object(incident)) = (&field, &mut inv.incident) {
                    let record = json!({
                        "name": name, "path": file_id, "type": "application/octet-stream",
                        "description": comment, "showMediaFile": show_media, "isTempPath": false,
                    });
                    match incident.get_mut(f) {
                        Some(Value::Array(list)) => list.push(record),
                        _ => {
                            incident.insert(f.clone(), json!([record]));
                        }
                    }
                }
                let contents = if comment.is_empty() {
                    name.clone()
                } else {
                    comment
                };
                let e = Entry {
                    entry_type: 3,
                    file: name.into(),
                    file_id: file_id.into(),
                    ..user_entry(inv, app.now(), "attachments", contents)
                };
                let view = views::entry(&e);
                inv.entries.push(Box::new(e));
                view
            })
        })
        .await?;
    tracing::info!(investigation = %id, bytes = size, "file uploaded to the war room");
    Ok(Json(entry))
}
