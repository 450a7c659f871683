//! Content uploads (integration, playbook, script, zipped pack), installed packs and reload.
//!
//! An upload is parsed with the same loader as files on disk; a file with errors is refused
//! with a 400 naming the file, line and column, and nothing is loaded. Accepted content is
//! stored (so it survives a restart and wins over what is on disk) and added to the engine at
//! once, so the next `!command` or `playbookId` finds it. A pack upload is all or nothing.

use crate::error::ApiError;
use crate::state::{parse_item, AppState};
use crate::views;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::Json;
use serde_json::{json, Value};
use std::io::Read;
use xsoar_content::{ContentItem, ContentKind, Diagnostic};
use xsoar_store::ContentRecord;

/// Pack folders whose YAML files are loaded.
const CONTENT_DIRS: &[&str] = &["Integrations", "Scripts", "Playbooks", "TestPlaybooks"];
/// Most bytes a pack may unpack to.
const MAX_UNPACKED: u64 = 128 * 1024 * 1024;
/// Most files a pack may hold.
const MAX_FILES: usize = 20_000;

/// The `file` part of an upload: (file name, bytes).
async fn file_part(
    form: Result<Multipart, MultipartRejection>,
) -> Result<(String, Vec<u8>), ApiError> {
    let mut form = form.map_err(|e| {
        ApiError::bad_request(
            "Expected a multipart upload",
            format!(
                "{} (send the file as the multipart field 'file')",
                e.body_text()
            ),
        )
    })?;
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(e.body_text())
        } else {
            ApiError::bad_request("Invalid multipart body", e.body_text())
        }
    })? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload.yml").to_owned();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(e.body_text())
            } else {
                ApiError::bad_request("Invalid multipart body", e.body_text())
            }
        })?;
        return Ok((name, bytes.to_vec()));
    }
    Err(ApiError::bad_request(
        "No file",
        "the upload has no multipart field named 'file'",
    ))
}

fn invalid(file: &str, diags: &[Diagnostic]) -> ApiError {
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    ApiError::bad_request(
        format!("Invalid content in {file}"),
        if lines.is_empty() {
            format!("{file}: not an integration, script or playbook")
        } else {
            lines.join("\n")
        },
    )
}

fn endpoint_for(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Integration => "/settings/integration-conf/upload",
        ContentKind::Script => "/automation/import",
        ContentKind::Playbook => "/playbook/save/yaml",
    }
}

fn record(item: &ContentItem, file: &str, text: String, now: &str) -> ContentRecord {
    ContentRecord {
        kind: item.kind().to_string(),
        id: item.id().to_owned(),
        file: file.to_owned(),
        text,
        uploaded: now.to_owned(),
    }
}

async fn upload_one(
    app: &AppState,
    form: Result<Multipart, MultipartRejection>,
    expected: ContentKind,
) -> Result<ContentItem, ApiError> {
    let (file, bytes) = file_part(form).await?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("Invalid file", format!("{file} is not UTF-8 text")))?;
    let item = parse_item(&text, &file).map_err(|d| invalid(&file, &d))?;
    if item.kind() != expected {
        return Err(ApiError::bad_request(
            "Wrong kind of content",
            format!(
                "{file} is a {}, not a {expected}; upload it to {}",
                item.kind(),
                endpoint_for(item.kind())
            ),
        ));
    }
    let _guard = app.shared.content_lock.lock().await;
    app.store()
        .save_content(vec![record(&item, &file, text, &app.now())])
        .await?;
    app.engine().add_content(vec![item.clone()]);
    tracing::info!(kind = %item.kind(), id = item.id(), "content uploaded");
    Ok(item)
}

/// `POST /settings/integration-conf/upload`.
pub async fn upload_integration(
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    match upload_one(&app, form, ContentKind::Integration).await? {
        ContentItem::Integration(i) => Ok(Json(views::module_config(&i))),
        _ => Err(ApiError::internal("uploaded item changed kind")),
    }
}

/// `POST /playbook/save/yaml`.
pub async fn upload_playbook(
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    match upload_one(&app, form, ContentKind::Playbook).await? {
        ContentItem::Playbook(p) => Ok(Json(views::playbook(&p))),
        _ => Err(ApiError::internal("uploaded item changed kind")),
    }
}

/// `POST /automation/import`.
pub async fn upload_script(
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    match upload_one(&app, form, ContentKind::Script).await? {
        ContentItem::Script(s) => Ok(Json(json!({
            "id": s.id,
            "name": s.name,
            "type": s.script_type,
            "subtype": "",
            "comment": s.comment,
            "tags": s.tags,
            "version": 1,
            "enabled": true,
            "system": false,
            "modified": views::ZERO_TIME,
            "arguments": s.signature.arguments.iter().map(|a| json!({
                "name": a.name, "required": a.required, "description": a.description,
            })).collect::<Vec<_>>(),
        }))),
        _ => Err(ApiError::internal("uploaded item changed kind")),
    }
}

/// What a pack zip holds.
#[derive(Debug, Default)]
struct PackFiles {
    /// (path inside the zip, text) of content YAML files.
    yaml: Vec<(String, String)>,
    /// `pack_metadata.json`, parsed.
    metadata: Option<Value>,
    /// Files that could not be read.
    problems: Vec<String>,
}

fn is_content_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    (lower.ends_with(".yml") || lower.ends_with(".yaml"))
        && path.split('/').any(|c| CONTENT_DIRS.contains(&c))
}

fn read_zip(bytes: &[u8], shown: &str, depth: usize, out: &mut PackFiles) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("{shown} is not a readable zip file: {e}"))?;
    if archive.len() > MAX_FILES {
        return Err(format!("{shown} holds more than {MAX_FILES} files"));
    }
    let mut unpacked = 0u64;
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| format!("{shown}: entry {i} is unreadable: {e}"))?;
        if file.is_dir() {
            continue;
        }
        let path = file.name().replace('\\', "/");
        let wanted = is_content_path(&path)
            || path.ends_with("pack_metadata.json")
            || (depth == 0 && path.to_ascii_lowercase().ends_with(".zip"));
        if !wanted {
            continue;
        }
        let mut buf = Vec::new();
        let budget = MAX_UNPACKED.saturating_sub(unpacked);
        file.by_ref()
            .take(budget + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{shown}: {path}: {e}"))?;
        unpacked += buf.len() as u64;
        if unpacked > MAX_UNPACKED {
            return Err(format!(
                "{shown} unpacks to more than {} MiB",
                MAX_UNPACKED / (1024 * 1024)
            ));
        }
        if path.to_ascii_lowercase().ends_with(".zip") {
            read_zip(&buf, &format!("{shown}/{path}"), depth + 1, out)?;
        } else if path.ends_with("pack_metadata.json") {
            match serde_json::from_slice::<Value>(&buf) {
                Ok(v) if v.is_object() => out.metadata = Some(v),
                _ => out.problems.push(format!(
                    "{shown}/{path}: pack_metadata.json is not a JSON object"
                )),
            }
        } else {
            match String::from_utf8(buf) {
                Ok(text) => out.yaml.push((path, text)),
                Err(_) => out
                    .problems
                    .push(format!("{shown}/{path}: the file is not UTF-8 text")),
            }
        }
    }
    Ok(())
}

/// `POST /contentpacks/installed/upload`: a zipped pack; every integration, script, playbook
/// and test playbook in it is loaded, or none is.
pub async fn upload_pack(
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let (file, bytes) = file_part(form).await?;
    let mut pack = PackFiles::default();
    read_zip(&bytes, &file, 0, &mut pack).map_err(|e| ApiError::bad_request("Invalid pack", e))?;
    let mut items = Vec::new();
    let mut problems = pack.problems;
    for (path, text) in &pack.yaml {
        match parse_item(text, path) {
            Ok(item) => items.push((item, path.clone(), text.clone())),
            Err(diags) => problems.extend(diags.iter().map(ToString::to_string)),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad_request(
            format!("Invalid content in {file}"),
            problems.join("\n"),
        ));
    }
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "Empty pack",
            format!(
                "{file} holds no YAML under Integrations/, Scripts/, Playbooks/ or TestPlaybooks/"
            ),
        ));
    }
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(&file)
        .trim_end_matches(".zip")
        .to_owned();
    let mut metadata = pack
        .metadata
        .unwrap_or_else(|| json!({"name": stem, "currentVersion": "1.0.0"}));
    let pack_name = metadata
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or(stem);
    if let Value::Object(o) = &mut metadata {
        o.entry("id")
            .or_insert_with(|| Value::String(pack_name.clone()));
        o.entry("currentVersion")
            .or_insert_with(|| Value::String("1.0.0".into()));
    }
    let now = app.now();
    let mut records: Vec<ContentRecord> = items
        .iter()
        .map(|(item, path, text)| record(item, path, text.clone(), &now))
        .collect();
    records.push(ContentRecord {
        kind: "pack".into(),
        id: pack_name.clone(),
        file: file.clone(),
        text: metadata.to_string(),
        uploaded: now,
    });
    let summary: Vec<Value> = items
        .iter()
        .map(|(item, _, _)| json!({"kind": item.kind().to_string(), "id": item.id()}))
        .collect();
    let _guard = app.shared.content_lock.lock().await;
    app.store().save_content(records).await?;
    app.engine()
        .add_content(items.into_iter().map(|(item, _, _)| item).collect());
    tracing::info!(pack = %pack_name, items = summary.len(), "pack uploaded");
    Ok(Json(
        json!({"id": pack_name, "name": pack_name, "items": summary}),
    ))
}

/// `GET /contentpacks/metadata/installed`.
pub async fn installed_packs(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let packs = app.store().content(Some("pack")).await?;
    let list: Vec<Value> = packs
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(&p.text).ok())
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `POST /content/reload`: re-read integrations and playbooks from disk (uploads stay).
pub async fn reload(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.reload_content().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_paths() {
        assert!(is_content_path("Integrations/SIGNL4/SIGNL4.yml"));
        assert!(is_content_path("SIGNL4/Playbooks/playbook-x.yml"));
        assert!(is_content_path("TestPlaybooks/t.yaml"));
        assert!(!is_content_path("ReleaseNotes/1_0_1.md"));
        assert!(!is_content_path("Layouts/layout.yml"));
    }
}
