//! Automation scripts: search, save or update, delete, copy, load.
//!
//! Scripts are shown as XSOAR's `AutomationScript` objects built from their YAML (so the code,
//! Docker image and every argument come back as saved). Saving writes the script as YAML
//! through the same loader as an upload, stores it as custom content and loads it into the
//! engine, so `!Name` finds it at once. Builtins and scripts of the content directory are
//! system scripts: they are listed and can be copied, but not changed or deleted.
//!
//! Where XSOAR leaves a choice open: a new script's id is its name (so `!Name`, the id and
//! the file name agree); a copy is named `<name>_copy` (`_copy_2`, ... when taken); a save
//! whose `version` is positive and differs from the stored one is a 409 (`-1`/`0` force it);
//! `pswd` is never stored nor returned.

use crate::api::incidents::{glob, parse_query, Term};
use crate::api::war_room::{filter_of, page_of, paging};
use crate::body::{boolean, int, non_empty_text, Body};
use crate::error::ApiError;
use crate::source::{self, file_stem, json_to_yaml, yaml_to_json, Origin, Source};
use crate::state::AppState;
use crate::views::ZERO_TIME;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};
use xsoar_content::{ContentKind, Script};

const TYPES: &[&str] = &["python", "powershell", "javascript"];

/// The YAML (as JSON) of a script whose source cannot be read: what the model knows.
fn model_yaml(s: &Script) -> Value {
    json!({
        "commonfields": {"id": s.id, "version": -1},
        "name": s.name,
        "comment": s.comment,
        "tags": s.tags,
        "type": s.script_type,
        "args": s.signature.arguments.iter().map(|a| json!({
            "name": a.name, "description": a.description, "required": a.required,
            "default": a.default, "isArray": a.is_array, "secret": a.secret,
            "auto": a.auto, "predefined": a.predefined, "defaultValue": a.default_value,
        })).collect::<Vec<_>>(),
        "outputs": s.signature.outputs.iter().map(|o| json!({
            "contextPath": o.context_path, "description": o.description, "type": o.output_type,
        })).collect::<Vec<_>>(),
    })
}

fn yaml_version(y: &Value) -> i64 {
    int(y.get("commonfields").and_then(|c| c.get("version")))
        .unwrap_or(1)
        .max(1)
}

fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

fn s(v: Option<&Value>) -> Value {
    Value::String(crate::body::text(v).unwrap_or_default())
}

/// An `AutomationScript` from a script's YAML (as JSON).
fn script_view(y: &Value, origin: Origin, modified: Option<&str>) -> Value {
    let id = crate::body::non_empty_text(y.get("commonfields").and_then(|c| c.get("id")))
        .or_else(|| crate::body::text(y.get("name")))
        .unwrap_or_default();
    let arguments: Vec<Value> = list(y.get("args"))
        .iter()
        .map(|a| {
            json!({
                "name": s(a.get("name")),
                "description": s(a.get("description")),
                "required": boolean(a.get("required")).unwrap_or(false),
                "default": boolean(a.get("default")).unwrap_or(false),
                "isArray": boolean(a.get("isArray")).unwrap_or(false),
                "secret": boolean(a.get("secret")).unwrap_or(false),
                "deprecated": boolean(a.get("deprecated")).unwrap_or(false),
                "auto": s(a.get("auto")),
                "predefined": a.get("predefined").filter(|p| p.is_array()).cloned().unwrap_or(Value::Null),
                "defaultValue": s(a.get("defaultValue")),
            })
        })
        .collect();
    let outputs: Vec<Value> = list(y.get("outputs"))
        .iter()
        .map(|o| {
            json!({
                "contextPath": s(o.get("contextPath")),
                "description": s(o.get("description")),
                "type": s(o.get("type")),
            })
        })
        .collect();
    let tags: Vec<Value> = list(y.get("tags"))
        .into_iter()
        .filter(Value::is_string)
        .collect();
    json!({
        "id": id,
        "name": s(y.get("name")),
        "type": s(y.get("type")),
        "subtype": s(y.get("subtype")),
        "script": s(y.get("script")),
        "comment": s(y.get("comment")),
        "tags": tags,
        "enabled": boolean(y.get("enabled")).unwrap_or(true),
        "hidden": boolean(y.get("hidden")).unwrap_or(false),
        "deprecated": boolean(y.get("deprecated")).unwrap_or(false),
        "sensitive": boolean(y.get("sensitive")).unwrap_or(false),
        "runOnce": boolean(y.get("runonce")).unwrap_or(false),
        "runAs": s(y.get("runas")),
        "dockerImage": s(y.get("dockerimage")),
        "arguments": arguments,
        "outputs": outputs,
        "contextKeys": [],
        "dependsOn": {},
        "roles": [],
        "user": "",
        "version": yaml_version(y),
        "system": origin != Origin::Stored,
        "locked": false,
        "modified": modified.unwrap_or(ZERO_TIME),
    })
}

fn view_of(src: &Source) -> Result<Value, ApiError> {
    let y = yaml_to_json(&src.text, &src.file)?;
    Ok(script_view(&y, src.origin, src.stored_at.as_deref()))
}

/// Every loaded script as an `AutomationScript`, in library order.
async fn all_scripts(app: &AppState) -> Result<Vec<Value>, ApiError> {
    let lib = app.engine().library();
    let stored = source::stored(app, ContentKind::Script).await?;
    let mut out = Vec::new();
    for script in lib.scripts() {
        let view = match source::source_of(&stored, &script.id, &script.file).await {
            Some(src) => view_of(&src).unwrap_or_else(|_| {
                script_view(&model_yaml(script), src.origin, src.stored_at.as_deref())
            }),
            None => script_view(&model_yaml(script), Origin::Disk, None),
        };
        out.push(view);
    }
    Ok(out)
}

fn term_matches(view: &Value, term: &Term) -> bool {
    let key = term.key.to_ascii_lowercase();
    let hit = match key.as_str() {
        "tag" | "tags" => view["tags"].as_array().is_some_and(|t| {
            t.iter()
                .any(|x| glob(&term.value, x.as_str().unwrap_or("")))
        }),
        _ => {
            let field = view
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)))
                .map(|(_, v)| xsoar_context::to_display_string(v))
                .unwrap_or_default();
            glob(&term.value, &field)
        }
    };
    hit != term.negated
}

fn result(scripts: Vec<Value>) -> Value {
    json!({"scripts": scripts, "suggestions": [], "pythonEnabled": true, "selectedScript": Value::Null})
}

/// `POST /automation/search` (`{"query": "name:X", "page", "size", "sort": [{field, asc}]}`):
/// query terms `key:value` match script fields (`*` wildcards, `-` negates, `tags:` any tag),
/// bare words match the name.
pub async fn search(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(&body);
    let terms = parse_query(&crate::body::text(filter.get("query")).unwrap_or_default());
    let mut matched: Vec<Value> = all_scripts(&app)
        .await?
        .into_iter()
        .filter(|v| terms.iter().all(|t| term_matches(v, t)))
        .collect();
    if let Some(sort) = filter
        .get("sort")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
    {
        let field = crate::body::text(sort.get("field")).unwrap_or_else(|| "name".into());
        let asc = boolean(sort.get("asc")).unwrap_or(true);
        matched.sort_by(|a, b| {
            let k = |v: &Value| xsoar_context::to_display_string(&v[field.as_str()]);
            let o = k(a).cmp(&k(b));
            if asc {
                o
            } else {
                o.reverse()
            }
        });
    }
    let (page, size) = paging(&filter)?;
    Ok(Json(result(page_of(&matched, page, size))))
}

fn script_of(body: &Map<String, Value>) -> Result<&Map<String, Value>, ApiError> {
    body.get("script")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::bad_request(
                "Missing script",
                "the body needs a 'script' object (an AutomationScript)",
            )
        })
}

fn script_ref(body: &Map<String, Value>) -> Result<String, ApiError> {
    let script = script_of(body)?;
    non_empty_text(script.get("id"))
        .or_else(|| non_empty_text(script.get("name")))
        .ok_or_else(|| {
            ApiError::bad_request(
                "Missing script.id",
                "the body needs script.id (or script.name)",
            )
        })
}

/// The items of the list `script.<list>`, each an object with a non-empty string `key`
/// (returned with it); `shape` says what the list should hold.
fn keyed_items<'v>(
    v: &'v Value,
    list: &str,
    shape: &str,
    key: &str,
) -> Result<Vec<(&'v Value, &'v str)>, ApiError> {
    let title = format!("Invalid script.{list}");
    let Value::Array(items) = v else {
        return Err(ApiError::bad_request(
            &title,
            format!("script.{list} must be a list of {shape}"),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            item.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(|k| (item, k))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        &title,
                        format!("script.{list}[{n}].{key} must be a non-empty string"),
                    )
                })
        })
        .collect()
}

/// Check and copy `arguments[]` (`AutomationScript`) to YAML `args`.
fn args_yaml(v: &Value) -> Result<Value, ApiError> {
    let items = keyed_items(v, "arguments", "{name, description, required, ...}", "name")?;
    let mut out = Vec::with_capacity(items.len());
    for (a, name) in items {
        let mut arg = Map::new();
        arg.insert("name".into(), json!(name));
        for key in ["description", "auto", "defaultValue"] {
            if let Some(t) = non_empty_text(a.get(key)) {
                arg.insert(key.into(), json!(t));
            }
        }
        for key in ["required", "default", "isArray", "secret", "deprecated"] {
            if let Some(b) = boolean(a.get(key)) {
                arg.insert(key.into(), json!(b));
            }
        }
        if let Some(p) = a.get("predefined").filter(|p| p.is_array()) {
            arg.insert("predefined".into(), p.clone());
        }
        out.push(Value::Object(arg));
    }
    Ok(Value::Array(out))
}

/// Check and copy `outputs[]` to YAML `outputs`.
fn outputs_yaml(v: &Value) -> Result<Value, ApiError> {
    let items = keyed_items(
        v,
        "outputs",
        "{contextPath, description, type}",
        "contextPath",
    )?;
    let mut out = Vec::with_capacity(items.len());
    for (o, path) in items {
        let mut m = Map::new();
        m.insert("contextPath".into(), json!(path));
        for key in ["description", "type"] {
            if let Some(t) = non_empty_text(o.get(key)) {
                m.insert(key.into(), json!(t));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}

/// Apply the set fields of an `AutomationScript` to a script's YAML (as JSON).
fn apply(yaml: &mut Map<String, Value>, script: &Map<String, Value>) -> Result<(), ApiError> {
    let texts = [
        ("name", "name"),
        ("script", "script"),
        ("comment", "comment"),
        ("subtype", "subtype"),
        ("dockerImage", "dockerimage"),
        ("runAs", "runas"),
    ];
    for (api, key) in texts {
        match script.get(api) {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) => {
                yaml.insert(key.into(), json!(t));
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    format!("Invalid script.{api}"),
                    format!("script.{api} must be a string"),
                ))
            }
        }
    }
    if let Some(t) = script.get("type").filter(|v| !v.is_null()) {
        let t = t.as_str().map(str::to_ascii_lowercase).unwrap_or_default();
        if !TYPES.contains(&t.as_str()) {
            return Err(ApiError::bad_request(
                "Invalid script.type",
                format!("script.type must be one of {}", TYPES.join(", ")),
            ));
        }
        yaml.insert("type".into(), json!(t));
    }
    for (api, key) in [
        ("enabled", "enabled"),
        ("hidden", "hidden"),
        ("deprecated", "deprecated"),
        ("sensitive", "sensitive"),
        ("runOnce", "runonce"),
    ] {
        if let Some(v) = script.get(api).filter(|v| !v.is_null()) {
            let b = boolean(Some(v)).ok_or_else(|| {
                ApiError::bad_request(
                    format!("Invalid script.{api}"),
                    format!("script.{api} must be a boolean"),
                )
            })?;
            yaml.insert(key.into(), json!(b));
        }
    }
    if let Some(v) = script.get("tags").filter(|v| !v.is_null()) {
        let tags = v
            .as_array()
            .filter(|a| a.iter().all(Value::is_string))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "Invalid script.tags",
                    "script.tags must be a list of strings",
                )
            })?;
        yaml.insert("tags".into(), Value::Array(tags.clone()));
    }
    if let Some(v) = script.get("arguments").filter(|v| !v.is_null()) {
        yaml.insert("args".into(), args_yaml(v)?);
    }
    if let Some(v) = script.get("outputs").filter(|v| !v.is_null()) {
        yaml.insert("outputs".into(), outputs_yaml(v)?);
    }
    Ok(())
}

/// Store a script's YAML (as JSON) under `id` with `version`, and return its view.
async fn store_script(
    app: &AppState,
    id: &str,
    version: i64,
    mut yaml: Map<String, Value>,
) -> Result<Value, ApiError> {
    yaml.insert("commonfields".into(), json!({"id": id, "version": version}));
    yaml.entry("args").or_insert_with(|| json!([]));
    yaml.entry("script").or_insert_with(|| json!(""));
    yaml.entry("type").or_insert_with(|| json!("python"));
    if yaml.get("type") == Some(&json!("python")) {
        yaml.entry("subtype").or_insert_with(|| json!("python3"));
    }
    let name = yaml
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(id)
        .to_owned();
    let text = json_to_yaml(&Value::Object(yaml))?;
    let file = format!("automation-{}.yml", file_stem(&name));
    source::save(app, ContentKind::Script, &file, text.clone()).await?;
    let y = yaml_to_json(&text, &file)?;
    Ok(script_view(&y, Origin::Stored, Some(&app.now())))
}

/// `POST /automation`: save a new script or update one (`{"script": {...}, "savePassword"}`).
pub async fn save(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let script = script_of(&body)?;
    let given_id = non_empty_text(script.get("id"));
    let existing = match &given_id {
        Some(id) => source::find(&app, ContentKind::Script, id).await?,
        None => None,
    };
    let (id, mut yaml, version) = match existing {
        Some((id, src)) => {
            if src.origin != Origin::Stored {
                return Err(ApiError::bad_request(
                    "System script cannot be changed",
                    format!("'{id}' is a system script; copy it (POST /automation/copy) and change the copy"),
                ));
            }
            let y = yaml_to_json(&src.text, &src.file)?;
            let stored_version = yaml_version(&y);
            if let Some(v) = int(script.get("version")).filter(|v| *v > 0) {
                if v != stored_version {
                    return Err(ApiError::conflict(
                        "Version mismatch",
                        format!("script '{id}' is at version {stored_version}, the update is based on version {v}; reload it or send version -1"),
                    ));
                }
            }
            let map = y.as_object().cloned().unwrap_or_default();
            (id, map, stored_version + 1)
        }
        None => {
            let name = non_empty_text(script.get("name")).ok_or_else(|| {
                ApiError::bad_request("Missing script.name", "a new script needs script.name")
            })?;
            (given_id.unwrap_or_else(|| name.clone()), Map::new(), 1)
        }
    };
    apply(&mut yaml, script)?;
    let name = yaml
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "Missing script.name",
            "script.name must not be empty",
        ));
    }
    if let Some(other) = app.engine().library().script(&name).filter(|s| s.id != id) {
        return Err(ApiError::bad_request(
            "Script name already in use",
            format!("the script '{}' is already named '{name}'", other.id),
        ));
    }
    let view = store_script(&app, &id, version, yaml).await?;
    Ok(Json(result(vec![view])))
}

/// `POST /automation/delete` (`{"script": {"id": "..."}}`): custom scripts only.
pub async fn delete(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = script_ref(&body)?;
    let deleted = source::delete(&app, ContentKind::Script, &id).await?;
    Ok(Json(json!({"id": deleted})))
}

/// `POST /automation/copy` (`{"script": {"id": "..."}}`): a custom copy named `<name>_copy`.
pub async fn copy(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = script_ref(&body)?;
    let (_, src) = source::find(&app, ContentKind::Script, &id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("No such script", format!("no script '{id}' is loaded"))
        })?;
    let mut yaml = yaml_to_json(&src.text, &src.file)?
        .as_object()
        .cloned()
        .unwrap_or_default();
    let base = format!(
        "{}_copy",
        yaml.get("name").and_then(Value::as_str).unwrap_or(&id)
    );
    let lib = app.engine().library();
    let name = std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}_{n}")))
        .find(|n| lib.script(n).is_none())
        .unwrap_or(base);
    yaml.insert("name".into(), json!(name));
    let view = store_script(&app, &name, 1, yaml).await?;
    Ok(Json(result(vec![view])))
}

/// `GET|POST /automation/load/{name}`: the script as `AutomationScript` JSON (with its code).
pub async fn load(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let lib = app.engine().library();
    let script = lib.script(&name).ok_or_else(|| {
        ApiError::not_found("No such script", format!("no script '{name}' is loaded"))
    })?;
    let stored = source::stored(&app, ContentKind::Script).await?;
    Ok(Json(
        match source::source_of(&stored, &script.id, &script.file).await {
            Some(src) => view_of(&src)?,
            None => script_view(&model_yaml(script), Origin::Disk, None),
        },
    ))
}
