//! Content uploads (integration, playbook, script, zipped pack), installed packs and reload.
//!
//! An upload is parsed with the same loader as files on disk; a file with errors is refused
//! with a 400 naming the file, line and column, and nothing is loaded. Accepted content is
//! stored (so it survives a restart and wins over what is on disk) and added to the engine at
//! once, so the next `!command` or `playbookId` finds it. A pack upload is all or nothing.
//!
//! The same store holds the other custom content clients upload — lists (`/lists/save`, and
//! a pack's `Lists/`, which `demisto-sdk upload` zips with the pack),
//! jobs (`/jobs/import`), module configurations (`PUT /settings/integration-conf`) — and
//! `/content/bundle` hands all of it back as the tar archive `demisto-sdk download` reads.

use crate::body::{id_or_name, non_empty_text, not_multipart, unreadable_multipart, Body};
use crate::error::ApiError;
use crate::state::{parse_item, AppState};
use crate::views;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Map;
use serde_json::{json, Value};
use std::io::Read;
use xsoar_content::{ContentItem, ContentKind};
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
    let mut form = form.map_err(not_multipart)?;
    while let Some(field) = form.next_field().await.map_err(unreadable_multipart)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload.yml").to_owned();
        let bytes = field.bytes().await.map_err(unreadable_multipart)?;
        return Ok((name, bytes.to_vec()));
    }
    Err(ApiError::bad_request(
        "No file",
        "the upload has no multipart field named 'file'",
    ))
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
    let item = parse_item(&text, &file).map_err(|d| crate::source::invalid(&file, &d))?;
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
    /// (path inside the zip, bytes) of the files under a `Lists/` folder: list files and the
    /// `<name>_data.<ext>` texts of split lists.
    lists: Vec<(String, Vec<u8>)>,
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

/// A pack's list: its name and the object `POST /lists/save` would take.
type PackList = (String, Map<String, Value>);

/// Whether a pack path is in a `Lists/` folder (list files, split lists' data).
fn is_list_path(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts.contains(&"Lists")
}

/// A pack's lists as `POST /lists/save` takes them: (name, the list object with its text in
/// `data`). A list file must be a JSON object with a `name` (or `id`) and its text in `data`;
/// `"data": "-"` takes the text from `<stem>_data.<ext>` next to it, as `demisto-sdk split`
/// writes JSON lists. Problems name the file.
fn pack_lists(shown: &str, files: &[(String, Vec<u8>)]) -> (Vec<PackList>, Vec<String>) {
    let mut lists = Vec::new();
    let mut problems = Vec::new();
    for (path, bytes) in files {
        let Some(stem) = path.strip_suffix(".json") else {
            continue;
        };
        if stem.ends_with("_data") {
            continue;
        }
        let at = format!("{shown}/{path}");
        let obj = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                problems.push(format!("{at}: a list file is a JSON object with the list's \"name\" and its text in \"data\""));
                continue;
            }
            Err(e) => {
                problems.push(format!(
                    "{at}:{}:{}: the list file is not valid JSON: {e}",
                    e.line(),
                    e.column()
                ));
                continue;
            }
        };
        let Some(name) = non_empty_text(obj.get("name")).or_else(|| non_empty_text(obj.get("id")))
        else {
            problems.push(format!(
                "{at}: the list file names no list (\"name\" is missing)"
            ));
            continue;
        };
        let mut obj: Map<String, Value> = obj.into_iter().filter(|(_, v)| !v.is_null()).collect();
        match obj.get("data") {
            Some(Value::String(d)) if d == "-" => {
                let companion = ["json", "txt", "md", "html", "css"]
                    .iter()
                    .map(|ext| format!("{stem}_data.{ext}"))
                    .find_map(|p| files.iter().find(|(f, _)| *f == p));
                if let Some((data_path, data)) = companion {
                    match String::from_utf8(data.clone()) {
                        Ok(text) => {
                            obj.insert("data".into(), Value::String(text));
                        }
                        Err(_) => {
                            problems.push(format!(
                                "{shown}/{data_path}: the list's data is not UTF-8 text"
                            ));
                            continue;
                        }
                    }
                }
            }
            Some(Value::String(_)) => {}
            None => {
                problems.push(format!(
                    "{at}: the list file has no \"data\" (the list's text)"
                ));
                continue;
            }
            Some(_) => {
                problems.push(format!(
                    "{at}: the list's \"data\" must be its text (a string); JSON lists hold their JSON as text"
                ));
                continue;
            }
        }
        obj.entry("type").or_insert_with(|| json!("plain_text"));
        lists.push((name, obj));
    }
    (lists, problems)
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
            || is_list_path(&path)
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
        } else if is_list_path(&path) && !is_content_path(&path) {
            out.lists.push((path, buf));
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

/// `POST /contentpacks/installed/upload`: a zipped pack; every integration, script, playbook,
/// test playbook and list (`Lists/`, stored as `POST /lists/save` stores one) in it is
/// loaded, or none is.
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
    let (lists, list_problems) = pack_lists(&file, &pack.lists);
    problems.extend(list_problems);
    if !problems.is_empty() {
        return Err(ApiError::bad_request(
            format!("Invalid content in {file}"),
            problems.join("\n"),
        ));
    }
    if items.is_empty() && lists.is_empty() {
        return Err(ApiError::bad_request(
            "Empty pack",
            format!(
                "{file} holds no YAML under Integrations/, Scripts/, Playbooks/ or TestPlaybooks/ and no list under Lists/"
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
        uploaded: now.clone(),
    });
    let mut summary: Vec<Value> = items
        .iter()
        .map(|(item, _, _)| json!({"kind": item.kind().to_string(), "id": item.id()}))
        .collect();
    summary.extend(
        lists
            .iter()
            .map(|(name, _)| json!({"kind": "list", "id": name})),
    );
    let _guard = app.shared.content_lock.lock().await;
    // Lists are stored as `POST /lists/save` stores them (a new version of a stored one).
    let versions: std::collections::HashMap<String, i64> = app
        .store()
        .content(Some("list"))
        .await?
        .into_iter()
        .filter_map(|r| {
            let v: Value = serde_json::from_str(&r.text).ok()?;
            Some((r.id, v.get("version").and_then(Value::as_i64).unwrap_or(0)))
        })
        .collect();
    let mut texts = Vec::new();
    for (name, mut obj) in lists {
        let version = versions.get(&name).copied().unwrap_or(0).max(0) + 1;
        obj.insert("id".into(), json!(name));
        obj.insert("name".into(), json!(name));
        obj.insert("version".into(), json!(version));
        obj.insert("modified".into(), json!(now));
        obj.remove("error");
        let data = obj
            .get("data")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        records.push(ContentRecord {
            kind: "list".into(),
            id: name.clone(),
            file: format!("list-{}.json", crate::source::file_stem(&name)),
            text: Value::Object(obj).to_string(),
            uploaded: now.clone(),
        });
        texts.push((name, data));
    }
    app.store().save_content(records).await?;
    if !items.is_empty() {
        app.engine()
            .add_content(items.into_iter().map(|(item, _, _)| item).collect());
    }
    // Stored first, then visible, as for `POST /lists/save`.
    for (name, data) in &texts {
        app.engine().set_list(name, data);
    }
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

// ----- custom content bundle, lists, jobs, module configurations --------------------------

/// Appends files to an uncompressed POSIX (ustar) tar archive.
#[derive(Debug, Default)]
struct Tar {
    out: Vec<u8>,
}

impl Tar {
    fn octal(field: &mut [u8], value: u64) {
        let width = field.len() - 1;
        let text = format!("{value:0width$o}");
        let bytes = text.as_bytes();
        let start = bytes.len().saturating_sub(width);
        field[..width].copy_from_slice(&bytes[start..]);
        field[width] = 0;
    }

    fn add(&mut self, name: &str, data: &[u8], mtime: u64) {
        let mut h = [0u8; 512];
        let name = name.as_bytes();
        let n = name.len().min(100);
        h[..n].copy_from_slice(&name[..n]);
        Self::octal(&mut h[100..108], 0o644);
        Self::octal(&mut h[108..116], 0);
        Self::octal(&mut h[116..124], 0);
        Self::octal(&mut h[124..136], data.len() as u64);
        Self::octal(&mut h[136..148], mtime);
        h[148..156].copy_from_slice(b"        ");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(text.as_bytes());
        self.out.extend_from_slice(&h);
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.extend(std::iter::repeat_n(0u8, 1024));
        self.out
    }
}

/// The name of a stored item in the bundle, in XSOAR's export naming.
fn bundle_name(kind: &str, id: &str, text: &str) -> Option<String> {
    let json_name = || {
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| id.to_owned())
    };
    let stem = crate::source::file_stem;
    Some(match kind {
        "integration" => format!("integration-{}.yml", stem(id)),
        "script" => format!("automation-{}.yml", stem(id)),
        "playbook" => format!("playbook-{}.yml", stem(id)),
        "list" => format!("list-{}.json", stem(&json_name())),
        "job" => format!("job-{}.json", stem(&json_name())),
        _ => return None,
    })
}

/// `GET /content/bundle`: the custom content (everything saved or uploaded through the API:
/// integrations, scripts, playbooks, lists, jobs) as a tar archive of `integration-*.yml`,
/// `automation-*.yml`, `playbook-*.yml`, `list-*.json` and `job-*.json`, the names XSOAR's
/// export uses (demisto-sdk `download` opens it with `tarfile`). Content from the content
/// directory and builtins is not custom and is not included.
pub async fn bundle(State(app): State<AppState>) -> Result<Response, ApiError> {
    let records = app.store().content(None).await?;
    let mtime = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    let mut tar = Tar::default();
    let mut seen = std::collections::HashSet::new();
    for r in &records {
        let Some(mut name) = bundle_name(&r.kind, &r.id, &r.text) else {
            continue;
        };
        let mut n = 2;
        while !seen.insert(name.clone()) {
            let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
            name = format!("{stem}_{n}.{ext}");
            n += 1;
        }
        tar.add(&name, r.text.as_bytes(), mtime);
    }
    tracing::info!(files = seen.len(), "content bundle built");
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/x-tar")),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"content.tar\""),
            ),
        ],
        tar.finish(),
    )
        .into_response())
}

/// Stored JSON content (`list`, `job`) by id.
async fn stored_json(app: &AppState, kind: &str, id: &str) -> Result<Option<Value>, ApiError> {
    Ok(app
        .store()
        .content(Some(kind))
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .and_then(|r| serde_json::from_str(&r.text).ok()))
}

/// Store a list or job object (id = its name), counting versions.
async fn save_json(
    app: &AppState,
    kind: &str,
    name: &str,
    mut obj: Map<String, Value>,
) -> Result<Value, ApiError> {
    let version = stored_json(app, kind, name)
        .await?
        .and_then(|v| v.get("version").and_then(Value::as_i64))
        .unwrap_or(0)
        .max(0)
        + 1;
    let now = app.now();
    obj.insert("id".into(), json!(name));
    obj.insert("name".into(), json!(name));
    obj.insert("version".into(), json!(version));
    obj.insert("modified".into(), json!(now));
    obj.remove("error");
    let value = Value::Object(obj);
    let prefix = if kind == "list" { "list" } else { "job" };
    let _guard = app.shared.content_lock.lock().await;
    app.store()
        .save_content(vec![ContentRecord {
            kind: kind.into(),
            id: name.to_owned(),
            file: format!("{prefix}-{}.json", crate::source::file_stem(name)),
            text: value.to_string(),
            uploaded: now,
        }])
        .await?;
    tracing::info!(kind, name, version, "content saved");
    Ok(value)
}

/// `POST /lists/save`: create or replace a list (`{"name", "data", "type", ...}`). `data` is
/// the list's text, as in XSOAR; the stored list is answered with its new `version`.
pub async fn save_list(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let name = non_empty_text(body.get("name"))
        .or_else(|| non_empty_text(body.get("id")))
        .ok_or_else(|| ApiError::bad_request("Missing name", "the list needs a name"))?;
    let mut obj: Map<String, Value> = body
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match body.get("data") {
        None | Some(Value::Null) => {
            obj.insert("data".into(), json!(""));
        }
        Some(Value::String(_)) => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid data",
                "data must be the list's text (a string); serialise JSON lists first",
            ))
        }
    }
    obj.entry("type").or_insert_with(|| json!("plain_text"));
    let data = obj
        .get("data")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let saved = save_json(&app, "list", &name, obj).await?;
    // Stored first, then visible: `${lists.<name>}` never reads a list a restart would lose.
    app.engine().set_list(&name, &data);
    Ok(Json(saved))
}

/// `GET /lists`: every list as XSOAR answers it (`id`, `name`, `type`, `data`, `version`, ...),
/// by name: the stored ones with their fields, lists read from disk with the `type` their file
/// declares, else `plain_text` (`version` -1: never saved). `data` is the text commands and
/// `${lists.<name>}` see now.
pub async fn all_lists(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let stored: std::collections::HashMap<String, Value> = app
        .store()
        .content(Some("list"))
        .await?
        .into_iter()
        .filter_map(|r| Some((r.id, serde_json::from_str(&r.text).ok()?)))
        .collect();
    let engine = app.engine();
    let lists = engine.lists();
    let out = lists
        .iter()
        .map(|(name, data)| {
            let mut obj = match stored.get(name) {
                Some(Value::Object(o)) => o.clone(),
                _ => {
                    let mut o = Map::new();
                    o.insert("id".into(), json!(name));
                    o.insert("name".into(), json!(name));
                    let kind = engine.list_type(name);
                    o.insert(
                        "type".into(),
                        json!(kind.as_deref().unwrap_or("plain_text")),
                    );
                    o.insert("version".into(), json!(-1));
                    o
                }
            };
            obj.insert("data".into(), json!(data));
            Value::Object(obj)
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// Store a list's new text as a command left it (`setList`, `addToList`, ...), keeping the
/// stored list's other fields (`type`, `description`, ...); a list a command created is
/// `plain_text`, as XSOAR creates it.
pub(crate) async fn store_list(app: &AppState, name: &str, data: &str) -> Result<(), ApiError> {
    let mut obj = match stored_json(app, "list", name).await? {
        Some(Value::Object(o)) => o,
        _ => {
            let mut o = Map::new();
            o.insert("type".into(), json!("plain_text"));
            o
        }
    };
    obj.insert("data".into(), json!(data));
    save_json(app, "list", name, obj).await?;
    Ok(())
}

/// `POST /jobs/import`: a job definition (JSON, multipart field `file`), stored by name.
/// Jobs are kept as custom content (listed in `/content/bundle`); the emulator does not
/// schedule them.
pub async fn import_job(
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let (file, bytes) = file_part(form).await?;
    let obj = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "Invalid job",
                format!("{file} must hold a JSON object"),
            ))
        }
        Err(e) => {
            return Err(ApiError::bad_request(
                "Invalid job",
                format!("{file} is not JSON: {e}"),
            ))
        }
    };
    let name = non_empty_text(obj.get("name"))
        .or_else(|| non_empty_text(obj.get("id")))
        .ok_or_else(|| {
            ApiError::bad_request("Invalid job", format!("{file}: the job needs a name"))
        })?;
    if obj
        .get("playbookId")
        .is_some_and(|p| !p.is_null() && !p.is_string())
    {
        return Err(ApiError::bad_request(
            "Invalid job",
            format!("{file}: playbookId must be a string"),
        ));
    }
    Ok(Json(save_json(&app, "job", &name, obj).await?))
}

fn opt_text(o: &Map<String, Value>, api: &str, yaml: &mut Map<String, Value>, key: &str) {
    if let Some(Value::String(s)) = o.get(api) {
        yaml.insert(key.into(), json!(s));
    }
}

fn opt_bool(o: &Map<String, Value>, api: &str, yaml: &mut Map<String, Value>, key: &str) {
    if let Some(b) = crate::body::boolean(o.get(api)) {
        yaml.insert(key.into(), json!(b));
    }
}

fn objects<'a>(v: &'a Value, field: &str) -> Result<Vec<&'a Map<String, Value>>, ApiError> {
    let bad = || {
        ApiError::bad_request(
            format!("Invalid {field}"),
            format!("{field} must be a list of objects"),
        )
    };
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|x| x.as_object().ok_or_else(bad))
        .collect()
}

fn named(o: &Map<String, Value>, field: &str, n: usize, key: &str) -> Result<String, ApiError> {
    non_empty_text(o.get(key)).ok_or_else(|| {
        ApiError::bad_request(
            format!("Invalid {field}"),
            format!("{field}[{n}].{key} must be a non-empty string"),
        )
    })
}

fn command_yaml(n: usize, c: &Map<String, Value>) -> Result<Value, ApiError> {
    let field = "integrationScript.commands";
    let mut out = Map::new();
    out.insert("name".into(), json!(named(c, field, n, "name")?));
    opt_text(c, "description", &mut out, "description");
    opt_bool(c, "deprecated", &mut out, "deprecated");
    opt_bool(c, "execution", &mut out, "execution");
    let mut args = Vec::new();
    if let Some(a) = c.get("arguments").filter(|a| !a.is_null()) {
        let af = format!("{field}[{n}].arguments");
        for (i, a) in objects(a, &af)?.into_iter().enumerate() {
            let mut arg = Map::new();
            arg.insert("name".into(), json!(named(a, &af, i, "name")?));
            opt_text(a, "description", &mut arg, "description");
            opt_text(a, "defaultValue", &mut arg, "defaultValue");
            opt_text(a, "auto", &mut arg, "auto");
            for k in ["required", "default", "isArray", "secret", "deprecated"] {
                opt_bool(a, k, &mut arg, k);
            }
            if let Some(p) = a.get("predefined").filter(|p| p.is_array()) {
                arg.insert("predefined".into(), p.clone());
            }
            args.push(Value::Object(arg));
        }
    }
    out.insert("arguments".into(), Value::Array(args));
    let mut outputs = Vec::new();
    if let Some(o) = c.get("outputs").filter(|o| !o.is_null()) {
        let of = format!("{field}[{n}].outputs");
        for (i, o) in objects(o, &of)?.into_iter().enumerate() {
            let mut m = Map::new();
            m.insert(
                "contextPath".into(),
                json!(named(o, &of, i, "contextPath")?),
            );
            opt_text(o, "description", &mut m, "description");
            opt_text(o, "type", &mut m, "type");
            outputs.push(Value::Object(m));
        }
    }
    out.insert("outputs".into(), Value::Array(outputs));
    Ok(Value::Object(out))
}

/// `PUT /settings/integration-conf`: save a module configuration (the `configurations[]`
/// object of `/settings/integration/search`). For a loaded integration, the fields sent
/// replace those of its YAML (so a configuration-only body changes the parameters and keeps
/// the code and commands); a new integration needs `integrationScript` with its commands.
/// The result is stored like an upload and answered as the module configuration.
pub async fn save_module_config(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = id_or_name(&body, "the module configuration needs an id (or name)")?;
    let existing = crate::source::find(&app, ContentKind::Integration, &id).await?;
    let script_obj = body.get("integrationScript").filter(|v| !v.is_null());
    if existing.is_none() && !script_obj.is_some_and(Value::is_object) {
        return Err(ApiError::bad_request(
            "Missing integrationScript",
            format!(
                "'{id}' is a new integration: send integrationScript {{type, script, commands}}"
            ),
        ));
    }
    let (id, mut yaml) = match existing {
        Some((id, src)) => {
            let y = crate::source::yaml_to_json(&src.text, &src.file)?;
            (id, y.as_object().cloned().unwrap_or_default())
        }
        None => (id, Map::new()),
    };
    yaml.insert("commonfields".into(), json!({"id": id, "version": -1}));
    let name = non_empty_text(body.get("name"))
        .or_else(|| non_empty_text(yaml.get("name")))
        .unwrap_or_else(|| id.clone());
    yaml.insert("name".into(), json!(name));
    opt_text(&body, "display", &mut yaml, "display");
    opt_text(&body, "category", &mut yaml, "category");
    opt_text(&body, "description", &mut yaml, "description");
    opt_text(
        &body,
        "detailedDescription",
        &mut yaml,
        "detaileddescription",
    );
    opt_bool(&body, "beta", &mut yaml, "beta");
    opt_bool(&body, "deprecated", &mut yaml, "deprecated");
    opt_bool(&body, "hidden", &mut yaml, "hidden");
    if let Some(conf) = body.get("configuration").filter(|v| !v.is_null()) {
        let mut params = Vec::new();
        for (n, p) in objects(conf, "configuration")?.into_iter().enumerate() {
            let mut m = Map::new();
            m.insert("name".into(), json!(named(p, "configuration", n, "name")?));
            opt_text(p, "display", &mut m, "display");
            opt_text(p, "defaultValue", &mut m, "defaultvalue");
            opt_text(p, "info", &mut m, "additionalinfo");
            opt_text(p, "displaypassword", &mut m, "displaypassword");
            for k in ["required", "hidden", "hiddenusername", "hiddenpassword"] {
                opt_bool(p, k, &mut m, k);
            }
            match p.get("type") {
                None | Some(Value::Null) => {
                    m.insert("type".into(), json!(0));
                }
                Some(t) => {
                    let t = crate::body::int(Some(t)).ok_or_else(|| {
                        ApiError::bad_request(
                            "Invalid configuration",
                            format!("configuration[{n}].type must be a number"),
                        )
                    })?;
                    m.insert("type".into(), json!(t));
                }
            }
            if let Some(o) = p.get("options").filter(|o| o.is_array()) {
                m.insert("options".into(), o.clone());
            }
            params.push(Value::Object(m));
        }
        yaml.insert("configuration".into(), Value::Array(params));
    }
    yaml.entry("configuration").or_insert_with(|| json!([]));
    if let Some(s) = script_obj {
        let s = s.as_object().ok_or_else(|| {
            ApiError::bad_request(
                "Invalid integrationScript",
                "integrationScript must be an object",
            )
        })?;
        let mut script = yaml
            .get("script")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        opt_text(s, "type", &mut script, "type");
        opt_text(s, "subtype", &mut script, "subtype");
        opt_text(s, "dockerImage", &mut script, "dockerimage");
        if let Some(Value::String(code)) = s.get("script") {
            if !code.is_empty() {
                script.insert("script".into(), json!(code));
            }
        }
        opt_bool(s, "isFetch", &mut script, "isfetch");
        opt_bool(s, "longRunning", &mut script, "longRunning");
        opt_bool(s, "feed", &mut script, "feed");
        if let Some(c) = s.get("commands").filter(|c| !c.is_null()) {
            let commands = objects(c, "integrationScript.commands")?
                .into_iter()
                .enumerate()
                .map(|(n, c)| command_yaml(n, c))
                .collect::<Result<Vec<_>, _>>()?;
            script.insert("commands".into(), Value::Array(commands));
        }
        script.entry("commands").or_insert_with(|| json!([]));
        script.entry("script").or_insert_with(|| json!(""));
        script.entry("type").or_insert_with(|| json!("python"));
        yaml.insert("script".into(), Value::Object(script));
    }
    let text = crate::source::json_to_yaml(&Value::Object(yaml))?;
    let file = format!("integration-{}.yml", crate::source::file_stem(&id));
    match crate::source::save(&app, ContentKind::Integration, &file, text).await? {
        ContentItem::Integration(i) => Ok(Json(views::module_config(&i))),
        _ => Err(ApiError::internal("saved integration changed kind")),
    }
}
