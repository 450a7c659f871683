//! The source text of loaded content, and YAML ⇄ JSON conversion.
//!
//! Endpoints that show or change a script, playbook or integration (`/automation/*`,
//! `/playbook/inputs`, `/playbook/{id}/yaml`, `PUT /settings/integration-conf`) work on the
//! item's YAML rather than on the parsed model, because the model keeps only what the engine
//! needs (no script code, no unknown keys). The YAML comes from the store for items saved or
//! uploaded through the API, from the engine's embedded definitions for builtins, and from
//! the file it was loaded from for content on disk. A changed item is stored like an upload
//! (so it wins over the disk file and survives a restart) and handed to the engine at once.

use crate::error::ApiError;
use crate::state::{parse_item, AppState};
use serde_json::Value;
use xsoar_content::{ContentItem, ContentKind, Diagnostic, Library};
use xsoar_store::ContentRecord;

/// Where an item's YAML came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Saved or uploaded through the API (custom content; can be changed and deleted).
    Stored,
    /// Embedded in the engine (system content).
    Builtin,
    /// The content directory (system content: changes are stored as overrides).
    Disk,
}

/// An item's YAML and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// YAML text.
    pub text: String,
    /// The file name it was uploaded or loaded as.
    pub file: String,
    /// Where it came from.
    pub origin: Origin,
    /// When it was stored (stored items only).
    pub stored_at: Option<String>,
}

/// The (id, file) of a loaded item, looked up by id or name.
pub fn locate(lib: &Library, kind: ContentKind, id_or_name: &str) -> Option<(String, String)> {
    match kind {
        ContentKind::Script => lib
            .script(id_or_name)
            .map(|s| (s.id.clone(), s.file.clone())),
        ContentKind::Playbook => lib
            .playbook(id_or_name)
            .map(|p| (p.id.clone(), p.file.clone())),
        ContentKind::Integration => lib
            .integration(id_or_name)
            .map(|i| (i.id.clone(), i.file.clone())),
    }
}

/// The stored records of one kind, by id.
pub async fn stored(
    app: &AppState,
    kind: ContentKind,
) -> Result<std::collections::HashMap<String, ContentRecord>, ApiError> {
    Ok(app
        .store()
        .content(Some(&kind.to_string()))
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect())
}

/// The source of a loaded item given its id and file (`None` when it cannot be read).
pub async fn source_of(
    stored: &std::collections::HashMap<String, ContentRecord>,
    id: &str,
    file: &str,
) -> Option<Source> {
    if let Some(r) = stored.get(id) {
        return Some(Source {
            text: r.text.clone(),
            file: r.file.clone(),
            origin: Origin::Stored,
            stored_at: Some(r.uploaded.clone()),
        });
    }
    if let Some((f, text)) = xsoar_engine::builtins::DEFINITIONS
        .iter()
        .find(|(f, _)| *f == file)
    {
        return Some(Source {
            text: (*text).to_owned(),
            file: (*f).to_owned(),
            origin: Origin::Builtin,
            stored_at: None,
        });
    }
    // Only content files: the path is the one the item was loaded from, never a client's.
    let lower = file.to_ascii_lowercase();
    if !(lower.ends_with(".yml") || lower.ends_with(".yaml")) {
        return None;
    }
    let text = tokio::fs::read_to_string(file).await.ok()?;
    Some(Source {
        text,
        file: file.to_owned(),
        origin: Origin::Disk,
        stored_at: None,
    })
}

/// The source of a loaded item by id or name: `Ok(None)` when no such item is loaded,
/// a 409 when it is loaded but its YAML cannot be read.
pub async fn find(
    app: &AppState,
    kind: ContentKind,
    id_or_name: &str,
) -> Result<Option<(String, Source)>, ApiError> {
    let lib = app.engine().library();
    let Some((id, file)) = locate(&lib, kind, id_or_name) else {
        return Ok(None);
    };
    let stored = stored(app, kind).await?;
    match source_of(&stored, &id, &file).await {
        Some(s) => Ok(Some((id, s))),
        None => Err(ApiError::conflict(
            "Source not available",
            format!("the {kind} '{id}' is loaded but its YAML ({file}) cannot be read"),
        )),
    }
}

/// YAML text as JSON (non-string keys become their YAML text).
pub fn yaml_to_json(text: &str, file: &str) -> Result<Value, ApiError> {
    let y: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| ApiError::bad_request("Invalid YAML", format!("{file}: {e}")))?;
    Ok(convert(y))
}

fn convert(v: serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(s) => Value::Array(s.into_iter().map(convert).collect()),
        serde_yaml::Value::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        serde_yaml::Value::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .map(|s| s.trim_end().to_owned())
                            .unwrap_or_default(),
                    };
                    (key, convert(v))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(t) => convert(t.value),
    }
}

/// JSON as YAML text.
pub fn json_to_yaml(v: &Value) -> Result<String, ApiError> {
    serde_yaml::to_string(v).map_err(ApiError::internal)
}

/// The 400 for content the loader refuses: its diagnostics, or that it is no known kind.
pub(crate) fn invalid(file: &str, diags: &[Diagnostic]) -> ApiError {
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

/// Check YAML with the content loader (it must be a `kind`), store it and load it into the
/// engine. Returns the parsed item.
pub async fn save(
    app: &AppState,
    kind: ContentKind,
    file: &str,
    text: String,
) -> Result<ContentItem, ApiError> {
    let item = parse_item(&text, file).map_err(|d| invalid(file, &d))?;
    if item.kind() != kind {
        return Err(ApiError::bad_request(
            "Wrong kind of content",
            format!("{file} is a {}, not a {kind}", item.kind()),
        ));
    }
    let _guard = app.shared.content_lock.lock().await;
    app.store()
        .save_content(vec![ContentRecord {
            kind: kind.to_string(),
            id: item.id().to_owned(),
            file: file.to_owned(),
            text,
            uploaded: app.now(),
        }])
        .await?;
    app.engine().add_content(vec![item.clone()]);
    tracing::info!(kind = %kind, id = item.id(), "content saved");
    Ok(item)
}

/// Delete a stored item from the store and the engine. Items that did not come from the API
/// are refused: they are part of the content directory or the engine.
pub async fn delete(
    app: &AppState,
    kind: ContentKind,
    id_or_name: &str,
) -> Result<String, ApiError> {
    let lib = app.engine().library();
    let (id, file) = locate(&lib, kind, id_or_name).ok_or_else(|| {
        ApiError::not_found(
            format!("No such {kind}"),
            format!("no {kind} '{id_or_name}' is loaded"),
        )
    })?;
    let _guard = app.shared.content_lock.lock().await;
    if !app.store().delete_content(&kind.to_string(), &id).await? {
        return Err(ApiError::bad_request(
            format!("System {kind} cannot be deleted"),
            format!(
                "the {kind} '{id}' was not saved through the API (it comes from {}); remove the file from the content directory instead",
                if file.is_empty() { "the engine" } else { &file }
            ),
        ));
    }
    let mut lib = (*app.engine().library()).clone();
    lib.remove(kind, &id);
    app.engine().replace_library(lib);
    tracing::info!(kind = %kind, id = %id, "content deleted");
    Ok(id)
}

/// A file-name-safe form of an item name (`My Script` → `My_Script`).
pub fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "item".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_round_trips_through_json() {
        let v = yaml_to_json("a: 1\n0: x\nb: [true, null, 2.5]\n", "f").expect("yaml");
        assert_eq!(v, json!({"a": 1, "0": "x", "b": [true, null, 2.5]}));
        let back = json_to_yaml(&v).expect("to yaml");
        assert_eq!(yaml_to_json(&back, "f").expect("again"), v);
        assert!(yaml_to_json("a: [", "f").is_err());
    }

    #[test]
    fn stems_are_file_safe() {
        assert_eq!(file_stem("My Script/2"), "My_Script_2");
        assert_eq!(file_stem(""), "item");
    }
}
