//! Integrations and their instances, with credentials kept write-only.
//!
//! A secret parameter (types 4, 9, 14), or any parameter the integration does not declare, is
//! never sent to the browser, not even masked: the page learns only whether it is set. An edit
//! that leaves a secret empty keeps the stored value, so the browser never needs to hold it.
//! The engine keeps masking secrets in entries; this module keeps them out of the console's own
//! responses.

use crate::backend::ConsoleError;
use crate::catalog::CatalogArgument;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use xsoar_content::{Integration, Library, Param};
use xsoar_engine::builtins::BUILTIN_BRAND;
use xsoar_engine::{Engine, InstanceSpec};

/// A loaded integration, as the integrations page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    /// Id.
    pub id: String,
    /// Brand (`name`).
    pub name: String,
    /// Display name.
    pub display: String,
    /// Category.
    pub category: String,
    /// Description.
    pub description: String,
    /// Instance parameters.
    pub params: Vec<ParamView>,
    /// Commands.
    pub commands: Vec<IntegrationCommand>,
}

/// An instance parameter definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamView {
    /// Key.
    pub name: String,
    /// Label.
    pub display: String,
    /// XSOAR type code.
    #[serde(rename = "type")]
    pub param_type: i64,
    /// Required.
    pub required: bool,
    /// Write-only.
    pub secret: bool,
    /// Default (never for secret parameters).
    pub default_value: Option<Value>,
    /// Options (select types).
    pub options: Vec<String>,
    /// Help text.
    pub additional_info: String,
    /// Shown under "advanced".
    pub advanced: bool,
    /// Credentials without a user name box.
    pub hidden_username: bool,
}

/// A command of an integration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationCommand {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Arguments.
    pub arguments: Vec<CatalogArgument>,
    /// Documented context outputs.
    pub outputs: Vec<String>,
}

/// An instance, secrets reduced to "set or not".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    /// Name.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Enabled.
    pub enabled: bool,
    /// Backed by the embedded SIGNL4 simulator.
    pub simulated: bool,
    /// Category.
    pub category: String,
    /// Why it cannot run, if it cannot.
    pub problem: Option<String>,
    /// Non-secret parameters with their values.
    pub params: Map<String, Value>,
    /// Secret parameters: name → whether a value is set.
    pub secrets: Map<String, Value>,
}

/// An instance as the page submits it (create or edit).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInput {
    /// Name (for an edit: the new name, or absent to keep it).
    #[serde(default)]
    pub name: Option<String>,
    /// Brand (create only).
    #[serde(default)]
    pub brand: Option<String>,
    /// Enabled (absent: keep; new instances default to enabled).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Parameters. A secret parameter that is absent, null or empty keeps its stored value.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Secret parameters to clear.
    #[serde(default)]
    pub clear: Vec<String>,
}

fn param_view(p: &Param) -> ParamView {
    let secret = p.is_secret();
    ParamView {
        name: p.name.clone(),
        display: p
            .display
            .clone()
            .or_else(|| p.display_password.clone())
            .unwrap_or_else(|| p.name.clone()),
        param_type: p.param_type,
        required: p.required,
        secret,
        default_value: if secret {
            None
        } else {
            p.default_value.clone()
        },
        options: p.options.clone(),
        additional_info: p.additional_info.clone().unwrap_or_default(),
        advanced: p.advanced,
        hidden_username: p.hidden_username,
    }
}

/// Every loaded integration (the builtin brand excluded).
pub fn integrations(engine: &Engine) -> Vec<IntegrationView> {
    let lib = engine.library();
    let mut out: Vec<IntegrationView> = lib
        .integrations()
        .filter(|i| i.name != BUILTIN_BRAND)
        .map(|i| IntegrationView {
            id: i.id.clone(),
            name: i.name.clone(),
            display: if i.display.is_empty() {
                i.name.clone()
            } else {
                i.display.clone()
            },
            category: i.category.clone(),
            description: i.description.clone(),
            params: i
                .params
                .iter()
                .filter(|p| !p.hidden)
                .map(param_view)
                .collect(),
            commands: i
                .commands
                .iter()
                .filter(|c| !c.hidden)
                .map(|c| IntegrationCommand {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    arguments: c
                        .arguments
                        .iter()
                        .filter(|a| !a.hidden)
                        .map(|a| CatalogArgument {
                            name: a.name.clone(),
                            description: a.description.clone(),
                            required: a.required,
                            default: a.default,
                            is_array: a.is_array,
                            predefined: a.predefined.clone(),
                            default_value: a.default_value.clone(),
                            secret: a.secret,
                        })
                        .collect(),
                    outputs: c.outputs.iter().map(|o| o.context_path.clone()).collect(),
                })
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

/// Whether a parameter value counts as set.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => o.values().any(is_set),
        Value::Array(a) => !a.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Whether the integration declares the parameter as non-secret (the only kind ever shown).
fn shown(integration: Option<&Integration>, name: &str) -> bool {
    integration
        .and_then(|i| i.params.iter().find(|p| p.name == name))
        .is_some_and(|p| !p.is_secret())
}

fn secret_names(integration: Option<&Integration>) -> Vec<String> {
    integration
        .map(|i| {
            i.params
                .iter()
                .filter(|p| p.is_secret())
                .map(|p| p.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The configured instances, secrets reduced to set / not set.
pub fn instance_views(engine: &Engine) -> Vec<InstanceView> {
    let lib = engine.library();
    let infos = engine.instances();
    engine
        .instance_specs()
        .iter()
        .map(|spec| {
            let integration = lib.integration(&spec.brand);
            let info = infos.iter().find(|i| i.name == spec.name);
            let mut params = Map::new();
            let mut secrets = Map::new();
            for name in secret_names(integration) {
                secrets.insert(name, Value::Bool(false));
            }
            for (k, v) in &spec.params {
                if shown(integration, k) {
                    params.insert(k.clone(), v.clone());
                } else {
                    secrets.insert(k.clone(), Value::Bool(is_set(v)));
                }
            }
            InstanceView {
                name: spec.name.clone(),
                brand: spec.brand.clone(),
                enabled: spec.enabled,
                simulated: spec.simulated,
                category: info.map(|i| i.category.clone()).unwrap_or_default(),
                problem: info.and_then(|i| i.problem.clone()),
                params,
                secrets,
            }
        })
        .collect()
}

fn valid_name(name: &str) -> Result<String, ConsoleError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ConsoleError::BadRequest("an instance needs a name".into()));
    }
    if name == BUILTIN_BRAND {
        return Err(ConsoleError::BadRequest(format!(
            "'{BUILTIN_BRAND}' is reserved for the builtin commands"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ConsoleError::BadRequest(
            "an instance name cannot contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Why an instance parameter is refused. Messages never contain a secret parameter's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The integration does not declare the parameter.
    #[error("integration {integration} has no parameter '{name}'")]
    Unknown {
        /// The integration.
        integration: String,
        /// The parameter.
        name: String,
    },
    /// The value does not fit the parameter's type.
    #[error("parameter '{name}' {expected}; got {got}")]
    WrongType {
        /// The parameter.
        name: String,
        /// What it takes.
        expected: &'static str,
        /// The value sent (JSON), or only its kind for a secret parameter.
        got: String,
    },
    /// A required parameter has no value and no default.
    #[error("parameter '{0}' is required")]
    Required(String),
}

impl From<ParamError> for ConsoleError {
    fn from(e: ParamError) -> Self {
        ConsoleError::BadRequest(e.to_string())
    }
}

/// What kind of JSON value `v` is ("a string", "an object", ...), for messages that must not
/// show the value itself.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `v` fits a parameter of XSOAR type `param_type`: text types take text (numbers and
/// booleans too, as configuration files carry them), 8 a boolean or `"true"`/`"false"`, 9
/// credentials (`{identifier, password}` of strings, or the password alone), 16 a list of
/// strings or one string. `""` fits every type (it means "empty"). `None` if it fits, else
/// what the type takes.
fn type_problem(param_type: i64, v: &Value) -> Option<&'static str> {
    let scalar_text = |x: &Value| matches!(x, Value::String(_) | Value::Number(_) | Value::Bool(_));
    let fits = match (param_type, v) {
        (_, Value::String(s)) if s.is_empty() => true,
        (8, Value::Bool(_)) => true,
        (8, Value::String(s)) => s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"),
        (8, _) => false,
        (9, Value::String(_)) => true,
        (9, Value::Object(o)) => o.iter().all(|(k, x)| match k.as_str() {
            "identifier" | "password" | "credential" => x.is_null() || x.is_string(),
            "passwordChanged" => x.is_null() || x.is_boolean(),
            _ => true,
        }),
        (9, _) => false,
        (16, Value::Array(items)) => items.iter().all(scalar_text),
        (16, x) => scalar_text(x),
        (0 | 4 | 12 | 13 | 14 | 15, x) => scalar_text(x),
        _ => true,
    };
    if fits {
        return None;
    }
    Some(match param_type {
        8 => "takes true or false",
        9 => "takes credentials: {\"identifier\": string, \"password\": string}",
        16 => "takes a list of strings",
        _ => "takes text",
    })
}

/// The declaration of parameter `name` of `integration`, if `value` (not null) fits it.
pub fn check_param<'a>(
    integration: &'a Integration,
    name: &str,
    value: &Value,
) -> Result<&'a Param, ParamError> {
    let def = integration
        .params
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ParamError::Unknown {
            integration: integration.name.clone(),
            name: name.to_owned(),
        })?;
    if let Some(expected) = type_problem(def.param_type, value) {
        let got = if def.is_secret() {
            kind_of(value).to_owned()
        } else {
            let shown = value.to_string();
            match shown.char_indices().nth(120) {
                Some((cut, _)) => format!("{}…", &shown[..cut]),
                None => shown,
            }
        };
        return Err(ParamError::WrongType {
            name: name.to_owned(),
            expected,
            got,
        });
    }
    Ok(def)
}

/// Every required parameter of `integration` has a value in `params` or a default.
pub fn check_required(
    integration: &Integration,
    params: &Map<String, Value>,
) -> Result<(), ParamError> {
    for p in integration.params.iter().filter(|p| p.required) {
        let given = params.get(&p.name).is_some_and(is_set);
        if !given && p.default_value.is_none() {
            return Err(ParamError::Required(
                p.display.clone().unwrap_or_else(|| p.name.clone()),
            ));
        }
    }
    Ok(())
}

/// Merge submitted parameters into stored ones: non-secret values replace, secrets replace only
/// when a new value is given, `clear` removes secrets, undeclared parameters and values of the
/// wrong type are refused.
fn merge_params(
    integration: &Integration,
    stored: &Map<String, Value>,
    input: &InstanceInput,
) -> Result<Map<String, Value>, ConsoleError> {
    let mut params = stored.clone();
    for (k, v) in &input.params {
        if v.is_null() {
            check_param(integration, k, &Value::String(String::new()))?;
            if !integration
                .params
                .iter()
                .any(|p| &p.name == k && p.is_secret())
            {
                params.remove(k);
            }
            continue;
        }
        let def = check_param(integration, k, v)?;
        if def.is_secret() {
            if is_set(v) {
                params.insert(k.clone(), secret_value(def, v));
            }
        } else {
            params.insert(k.clone(), v.clone());
        }
    }
    for k in &input.clear {
        params.remove(k);
    }
    check_required(integration, &params)?;
    Ok(params)
}

/// Credentials (type 9) are stored as `{identifier, password}`; a bare string is the password.
fn secret_value(def: &Param, v: &Value) -> Value {
    match (def.param_type, v) {
        (9, Value::String(s)) => serde_json::json!({"identifier": "", "password": s}),
        _ => v.clone(),
    }
}

fn integration_of<'a>(lib: &'a Library, brand: &str) -> Result<&'a Integration, ConsoleError> {
    lib.integration(brand)
        .filter(|i| i.name != BUILTIN_BRAND)
        .ok_or_else(|| ConsoleError::BadRequest(format!("no integration '{brand}' is loaded")))
}

/// The specs after adding an instance.
pub fn add(engine: &Engine, input: &InstanceInput) -> Result<Vec<InstanceSpec>, ConsoleError> {
    let lib = engine.library();
    let name = valid_name(input.name.as_deref().unwrap_or_default())?;
    let brand = input
        .brand
        .as_deref()
        .ok_or_else(|| ConsoleError::BadRequest("a new instance needs a brand".into()))?;
    let integration = integration_of(&lib, brand)?;
    let mut specs = engine.instance_specs();
    if specs.iter().any(|s| s.name == name) {
        return Err(ConsoleError::Conflict(format!(
            "an instance named '{name}' exists"
        )));
    }
    let params = merge_params(integration, &Map::new(), input)?;
    specs.push(InstanceSpec {
        name,
        brand: integration.name.clone(),
        enabled: input.enabled.unwrap_or(true),
        params,
        simulated: false,
    });
    Ok(specs)
}

/// The specs after editing instance `name`.
pub fn edit(
    engine: &Engine,
    name: &str,
    input: &InstanceInput,
) -> Result<Vec<InstanceSpec>, ConsoleError> {
    let lib = engine.library();
    let mut specs = engine.instance_specs();
    let Some(pos) = specs.iter().position(|s| s.name == name) else {
        return Err(ConsoleError::NotFound(format!(
            "no instance named '{name}'"
        )));
    };
    let new_name = match &input.name {
        Some(n) => valid_name(n)?,
        None => name.to_owned(),
    };
    if new_name != name && specs.iter().any(|s| s.name == new_name) {
        return Err(ConsoleError::Conflict(format!(
            "an instance named '{new_name}' exists"
        )));
    }
    let spec = &specs[pos];
    let params = match lib.integration(&spec.brand) {
        Some(integration) => merge_params(integration, &spec.params, input)?,
        None if input.params.is_empty() => spec.params.clone(),
        None => {
            return Err(ConsoleError::BadRequest(format!(
                "integration {} is not loaded: its parameters cannot be edited",
                spec.brand
            )))
        }
    };
    let updated = InstanceSpec {
        name: new_name,
        brand: spec.brand.clone(),
        enabled: input.enabled.unwrap_or(spec.enabled),
        params,
        simulated: spec.simulated,
    };
    specs[pos] = updated;
    Ok(specs)
}

/// The specs after deleting instance `name`.
pub fn delete(engine: &Engine, name: &str) -> Result<Vec<InstanceSpec>, ConsoleError> {
    let mut specs = engine.instance_specs();
    let before = specs.len();
    specs.retain(|s| s.name != name);
    if specs.len() == before {
        return Err(ConsoleError::NotFound(format!(
            "no instance named '{name}'"
        )));
    }
    Ok(specs)
}
