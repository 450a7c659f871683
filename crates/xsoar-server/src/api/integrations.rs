//! Integration instances: list module configurations and instances, create or update,
//! delete, test.
//!
//! Secrets are stored as given and never returned: listings mask every secret parameter
//! (credentials keep their identifier, the password becomes `******`). Because clients send
//! back what they listed (demisto-sdk disables an instance by PUTting the listed object), a
//! masked value in an update means "unchanged" and the stored secret is kept.
//!
//! Instances from the configuration file and the embedded simulator are listed too (their
//! id is their name). An update of one is stored as an override of the same name; deleting
//! the override brings the original back; the originals themselves cannot be deleted here.

use crate::body::{boolean, non_empty_text, text, Body};
use crate::error::ApiError;
use crate::state::{AppState, ListedInstance, Origin};
use crate::views;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};
use xsoar_console::instances::{check_param, check_required, kind_of, ParamError};
use xsoar_content::{Integration, Library};
use xsoar_engine::InstanceSpec;
use xsoar_store::StoredInstance;

/// What a secret value looks like in a listing.
pub const MASK: &str = "******";

fn is_secret_param(integration: Option<&Integration>, name: &str) -> bool {
    match integration.and_then(|i| i.params.iter().find(|p| p.name == name)) {
        Some(p) => p.is_secret(),
        None => {
            let n = name.to_ascii_lowercase();
            [
                "secret",
                "password",
                "token",
                "key",
                "credential",
                "creds",
                "auth",
            ]
            .iter()
            .any(|w| n.contains(w))
        }
    }
}

/// A secret value with everything but the identifier masked.
fn mask_value(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let shown = match x {
                        _ if k == "identifier" => x.clone(),
                        Value::Object(_) => mask_value(x),
                        Value::String(s) if s.is_empty() => x.clone(),
                        Value::String(_) | Value::Number(_) | Value::Array(_) => json!(MASK),
                        Value::Bool(_) | Value::Null => x.clone(),
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::String(s) if s.is_empty() => v.clone(),
        Value::Null | Value::Bool(_) => v.clone(),
        _ => json!(MASK),
    }
}

/// The new value of a parameter: masked parts of `new` take the stored value.
fn unmask(new: &Value, old: Option<&Value>) -> Value {
    match (new, old) {
        (Value::String(s), Some(old)) if s == MASK => old.clone(),
        (Value::Object(n), Some(Value::Object(o))) => Value::Object(
            n.iter()
                .map(|(k, v)| (k.clone(), unmask(v, o.get(k))))
                .collect(),
        ),
        _ => new.clone(),
    }
}

fn shown_param(integration: Option<&Integration>, name: &str, v: &Value) -> Value {
    if is_secret_param(integration, name) {
        mask_value(v)
    } else {
        v.clone()
    }
}

fn instance_view(l: &ListedInstance, lib: &Library, problem: Option<String>) -> Value {
    let integration = lib.integration(&l.spec.brand);
    let params = &l.spec.params;
    let mut data: Vec<Value> = Vec::new();
    if let Some(i) = integration {
        for p in &i.params {
            let mut el = views::param_config(p);
            if let Value::Object(o) = &mut el {
                let value = params
                    .get(&p.name)
                    .map(|v| shown_param(integration, &p.name, v));
                o.insert("hasvalue".into(), json!(value.is_some()));
                o.insert("value".into(), value.unwrap_or_else(|| json!("")));
            }
            data.push(el);
        }
    }
    // Parameters the integration does not declare are never shown (they may be secrets
    // nobody can tell apart).
    let declared =
        |name: &str| integration.is_some_and(|i| i.params.iter().any(|p| p.name == name));
    let configvalues: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| declared(k))
        .map(|(k, v)| (k.clone(), shown_param(integration, k, v)))
        .collect();
    let extra = |k: &str| text(l.extra.get(k)).unwrap_or_default();
    json!({
        "id": l.id,
        "name": l.spec.name,
        "brand": l.spec.brand,
        "category": integration.map(|i| i.category.clone()).unwrap_or_default(),
        "enabled": if l.spec.enabled { "true" } else { "false" },
        "isIntegrationScript": true,
        "version": l.version,
        "data": data,
        "configvalues": configvalues,
        "configuration": integration.map(views::module_config).unwrap_or(Value::Null),
        "engine": extra("engine"),
        "engineGroup": "",
        "propagationLabels": ["all"],
        "isOverridable": false,
        "canSample": true,
        "defaultIgnore": false,
        "integrationLogLevel": extra("integrationLogLevel"),
        "passwordProtected": false,
        "mappingId": extra("mappingId"),
        "incomingMapperId": extra("incomingMapperId"),
        "outgoingMapperId": extra("outgoingMapperId"),
        "resetContext": false,
        "origin": match l.origin { Origin::Config => "config", Origin::Simulator => "simulator", Origin::Api => "api" },
        "simulated": l.spec.simulated,
        "problem": problem.unwrap_or_default(),
    })
}

fn problems(app: &AppState) -> std::collections::HashMap<String, String> {
    app.engine()
        .instances()
        .into_iter()
        .filter_map(|i| i.problem.map(|p| (i.name, p)))
        .collect()
}

/// `POST /settings/integration/search`.
pub async fn search(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Json<Value> {
    let lib = app.engine().library();
    // `query` narrows to one integration: `id:"SIGNL4"`, `name:SIGNL4` or a bare word.
    let wanted = text(body.get("query")).and_then(|q| {
        let v = q.split_once(':').map(|(_, v)| v).unwrap_or(&q);
        let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
        (!v.is_empty()).then_some(v)
    });
    let matches = |id: &str, name: &str| {
        wanted
            .as_deref()
            .is_none_or(|w| w.eq_ignore_ascii_case(id) || w.eq_ignore_ascii_case(name))
    };
    let configurations: Vec<Value> = lib
        .integrations()
        .filter(|i| matches(&i.id, &i.name))
        .map(views::module_config)
        .collect();
    let book = app.shared.instances.lock().await.clone();
    let problems = problems(&app);
    let instances: Vec<Value> = book
        .listing()
        .iter()
        .filter(|l| matches(&l.spec.brand, &l.spec.name))
        .map(|l| instance_view(l, &lib, problems.get(&l.spec.name).cloned()))
        .collect();
    Json(json!({
        "configurations": configurations,
        "instances": instances,
        "engines": {"total": 0, "engines": []},
        "health": {},
    }))
}

fn invalid_param(e: ParamError) -> ApiError {
    ApiError::bad_request("Invalid instance parameter", e.to_string())
}

/// A parameter value after unmasking, checked against the integration's declaration (the
/// console's rules: declared name, value of the parameter's type).
fn checked(integration: &Integration, name: &str, value: Value) -> Result<Value, ApiError> {
    check_param(integration, name, &value).map_err(invalid_param)?;
    Ok(value)
}

/// Parameters from a PUT/test body: `data[]` (name → value), else `configvalues`; `None`
/// when the body has neither. Every parameter must be declared by `integration` and have a
/// value of its type (400 otherwise, never echoing a secret value).
fn params_from(
    integration: &Integration,
    body: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let stored = |name: &str| old.and_then(|o| o.get(name));
    match body.get("data") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut params = Map::new();
            for (n, el) in items.iter().enumerate() {
                let Value::Object(el) = el else {
                    return Err(ApiError::bad_request(
                        "Invalid instance parameter",
                        format!(
                            "data[{n}] is {}; each element is a parameter object with 'name' and 'value'",
                            kind_of(el)
                        ),
                    ));
                };
                let Some(name) = non_empty_text(el.get("name")) else {
                    return Err(ApiError::bad_request(
                        "Invalid instance parameter",
                        format!("data[{n}] has no 'name'"),
                    ));
                };
                let value = el.get("value").cloned().unwrap_or(Value::Null);
                let has = boolean(el.get("hasvalue")).unwrap_or(!value.is_null());
                if value.is_null() || (!has && value == json!("")) {
                    // Unset: keep what was stored (the name must still be declared).
                    check_param(integration, &name, &json!("")).map_err(invalid_param)?;
                    if let Some(v) = stored(&name) {
                        params.insert(name, v.clone());
                    }
                    continue;
                }
                let v = checked(integration, &name, unmask(&value, stored(&name)))?;
                params.insert(name, v);
            }
            return Ok(Some(params));
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "Invalid instance parameters",
                format!(
                    "'data' is {}; send an array of parameter objects ({{\"name\", \"value\"}})",
                    kind_of(other)
                ),
            ))
        }
    }
    match body.get("configvalues") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(values)) => values
            .iter()
            .map(|(k, v)| Ok((k.clone(), checked(integration, k, unmask(v, stored(k)))?)))
            .collect::<Result<Map<String, Value>, ApiError>>()
            .map(Some),
        Some(other) => Err(ApiError::bad_request(
            "Invalid instance parameters",
            format!(
                "'configvalues' is {}; send an object of parameter name to value",
                kind_of(other)
            ),
        )),
    }
}

/// The `enabled` switch of a body (also tc's misspelled `enable`): unset, or a boolean.
fn enabled_of(body: &Map<String, Value>) -> Result<Option<bool>, ApiError> {
    let mut found = None;
    for key in ["enabled", "enable"] {
        match body.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => {}
            Some(v) => {
                let b = match v {
                    Value::Number(n) if n.as_i64() != Some(0) && n.as_i64() != Some(1) => None,
                    _ => boolean(Some(v)),
                };
                let b = b.ok_or_else(|| {
                    ApiError::bad_request(
                        "Invalid instance",
                        format!("'{key}' has {v}; send true or false (or \"true\"/\"false\")"),
                    )
                })?;
                found = found.or(Some(b));
            }
        }
    }
    Ok(found)
}

fn brand_of(body: &Map<String, Value>) -> Option<String> {
    non_empty_text(body.get("brand")).or_else(|| {
        body.get("configuration")
            .and_then(|c| non_empty_text(c.get("brand")).or_else(|| non_empty_text(c.get("id"))))
    })
}

fn find<'a>(
    listing: &'a [ListedInstance],
    body: &Map<String, Value>,
) -> Option<&'a ListedInstance> {
    match non_empty_text(body.get("id")) {
        Some(id) => listing.iter().find(|l| l.id == id),
        None => {
            non_empty_text(body.get("name")).and_then(|n| listing.iter().find(|l| l.spec.name == n))
        }
    }
}

/// `PUT /settings/integration`: create (no id) or update (id) an instance.
pub async fn save(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let lib = app.engine().library();
    let mut book = app.shared.instances.lock().await;
    let listing = book.listing();
    let id_given = non_empty_text(body.get("id"));
    let existing = match &id_given {
        Some(id) => Some(listing.iter().find(|l| &l.id == id).ok_or_else(|| {
            ApiError::not_found("Instance not found", format!("no instance with id '{id}'"))
        })?),
        None => None,
    };
    let name = non_empty_text(body.get("name"))
        .or_else(|| existing.map(|e| e.spec.name.clone()))
        .ok_or_else(|| ApiError::bad_request("Missing name", "the instance needs a name"))?;
    // Names of configured instances stay theirs even when an override hides them.
    let taken = listing
        .iter()
        .any(|l| l.spec.name == name && existing.is_none_or(|e| e.id != l.id))
        || book
            .base
            .iter()
            .any(|b| b.name == name && existing.is_none_or(|e| e.id != b.name));
    if taken {
        return Err(ApiError::bad_request(
            "Instance name already in use",
            format!(
                "an instance named '{name}' already exists; update it by id or pick another name"
            ),
        ));
    }
    let brand = brand_of(&body)
        .or_else(|| existing.map(|e| e.spec.brand.clone()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "Missing brand",
                "the instance needs a brand (the integration name)",
            )
        })?;
    let Some(integration) = lib.integration(&brand) else {
        return Err(ApiError::bad_request(
            "Unknown integration",
            format!("no integration '{brand}' is loaded; upload it first (POST /settings/integration-conf/upload)"),
        ));
    };
    let enabled = enabled_of(&body)?
        .or_else(|| existing.map(|e| e.spec.enabled))
        .unwrap_or(true);
    let params = params_from(integration, &body, existing.map(|e| &e.spec.params))?
        .or_else(|| existing.map(|e| e.spec.params.clone()))
        .unwrap_or_default();
    if enabled {
        check_required(integration, &params).map_err(invalid_param)?;
    }
    let mut extra = existing
        .map(|e| e.extra.clone())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    for key in [
        "integrationLogLevel",
        "mappingId",
        "incomingMapperId",
        "outgoingMapperId",
        "engine",
    ] {
        if let (Some(v), Value::Object(o)) = (text(body.get(key)), &mut extra) {
            o.insert(key.into(), Value::String(v));
        }
    }
    let stored = StoredInstance {
        id: existing
            .map(|e| e.id.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        version: existing.map_or(1, |e| e.version + 1),
        spec: InstanceSpec {
            name,
            brand,
            enabled,
            params,
            simulated: existing.is_some_and(|e| e.spec.simulated),
        },
        extra,
    };
    app.store().save_instance(&stored).await?;
    book.stored
        .retain(|s| s.id != stored.id && s.spec.name != stored.spec.name);
    book.stored.push(stored.clone());
    app.apply_instances(&book);
    let listed = ListedInstance {
        id: stored.id,
        version: stored.version,
        spec: stored.spec,
        extra: stored.extra,
        origin: Origin::Api,
    };
    let problem = problems(&app).get(&listed.spec.name).cloned();
    Ok(Json(instance_view(&listed, &lib, problem)))
}

/// `DELETE /settings/integration/{id}`.
pub async fn remove(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut book = app.shared.instances.lock().await;
    if book.stored.iter().any(|s| s.id == id) {
        app.store().delete_instance(&id).await?;
        book.stored.retain(|s| s.id != id);
        app.apply_instances(&book);
        return Ok(Json(json!({})));
    }
    match book.listing().iter().find(|l| l.id == id) {
        Some(l) => Err(ApiError::bad_request(
            "Instance cannot be deleted",
            format!(
                "instance '{}' {}; disable it with PUT /settings/integration instead",
                l.spec.name,
                if l.origin == Origin::Simulator {
                    "is the embedded SIGNL4 simulator"
                } else {
                    "comes from the configuration file"
                }
            ),
        )),
        None => Err(ApiError::not_found(
            "Instance not found",
            format!("no instance with id '{id}'"),
        )),
    }
}

/// `POST /settings/integration/test`: run `test-module` with the posted configuration.
/// Always HTTP 200; the outcome is `{"success", "message"}`.
pub async fn test(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Json<Value> {
    let outcome = run_test(&app, &body).await;
    Json(match outcome {
        Ok(()) => json!({"success": true, "message": "ok"}),
        Err(message) => json!({"success": false, "message": message}),
    })
}

async fn run_test(app: &AppState, body: &Map<String, Value>) -> Result<(), String> {
    let lib = app.engine().library();
    let book = app.shared.instances.lock().await;
    let listing = book.listing();
    let existing = find(&listing, body).cloned();
    let brand = brand_of(body)
        .or_else(|| existing.as_ref().map(|e| e.spec.brand.clone()))
        .ok_or_else(|| "the instance has no brand".to_owned())?;
    let Some(integration) = lib.integration(&brand) else {
        return Err(format!("no integration '{brand}' is loaded"));
    };
    let params = params_from(integration, body, existing.as_ref().map(|e| &e.spec.params))
        .map_err(|e| e.detail)?
        .or_else(|| existing.as_ref().map(|e| e.spec.params.clone()))
        .unwrap_or_default();
    if let Some(e) = existing
        .as_ref()
        .filter(|e| e.spec.brand == brand && e.spec.params == params)
    {
        let name = e.spec.name.clone();
        drop(book);
        return app.engine().test_instance(&name).await;
    }
    // An unsaved configuration: test it as a disabled temporary instance, which no command
    // can reach, then put the instances back.
    let temp = InstanceSpec {
        name: format!("__test__{}", uuid::Uuid::new_v4().simple()),
        brand,
        enabled: false,
        params,
        simulated: existing.as_ref().is_some_and(|e| e.spec.simulated),
    };
    let mut specs = book.effective();
    specs.push(temp.clone());
    app.engine().set_instances(specs);
    let result = app.engine().test_instance(&temp.name).await;
    app.apply_instances(&book);
    drop(book);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_but_identifiers_kept() {
        let v = json!({"identifier": "bob", "password": "s3cr3t", "passwordChanged": false});
        assert_eq!(
            mask_value(&v),
            json!({"identifier": "bob", "password": MASK, "passwordChanged": false})
        );
        assert_eq!(mask_value(&json!("abc")), json!(MASK));
        assert_eq!(mask_value(&json!("")), json!(""));
    }

    #[test]
    fn masked_values_keep_the_stored_secret() {
        let old = json!({"identifier": "", "password": "s3cr3t"});
        let new = json!({"identifier": "", "password": MASK});
        assert_eq!(unmask(&new, Some(&old)), old);
        let changed = json!({"identifier": "", "password": "other"});
        assert_eq!(unmask(&changed, Some(&old)), changed);
        assert_eq!(unmask(&json!(MASK), Some(&json!("k"))), json!("k"));
    }

    #[test]
    fn unknown_parameters_are_judged_by_name() {
        assert!(is_secret_param(None, "api_key"));
        assert!(is_secret_param(None, "Password"));
        assert!(!is_secret_param(None, "url"));
    }
}
