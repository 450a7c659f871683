//! Builtin commands and the common utility scripts, implemented natively.
//!
//! XSOAR's server runs `Builtin|||setIncident` & co. itself, and ships scripts such as `Set`
//! and `DeleteContext` that almost every playbook uses. Here they are one [`Connector`]
//! registered like any integration: their arguments are declared in YAML files
//! (`crates/xsoar-engine/builtins/`) loaded into the content library, so the war room
//! validates them, `help` lists them and autocomplete offers them exactly as for
//! integrations. Effects that are not an `EntryContext` merge (overwrite, delete, incident
//! updates) are returned as [`Effect`]s; the engine applies them.

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use xsoar_connector::{
    Args, CommandCall, CommandOutput, CommandResult, Connector, ConnectorError, Effect,
};

/// The brand of builtin commands.
pub const BUILTIN_BRAND: &str = "Builtin";

/// YAML definitions of the builtins, embedded in the binary: (file name, text).
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "builtins/Builtin.yml",
        include_str!("../builtins/Builtin.yml"),
    ),
    ("builtins/Print.yml", include_str!("../builtins/Print.yml")),
    ("builtins/Set.yml", include_str!("../builtins/Set.yml")),
    (
        "builtins/SetAndHandleEmpty.yml",
        include_str!("../builtins/SetAndHandleEmpty.yml"),
    ),
    (
        "builtins/DeleteContext.yml",
        include_str!("../builtins/DeleteContext.yml"),
    ),
    (
        "builtins/PrintErrorEntry.yml",
        include_str!("../builtins/PrintErrorEntry.yml"),
    ),
    (
        "builtins/isError.yml",
        include_str!("../builtins/isError.yml"),
    ),
    (
        "builtins/Exists.yml",
        include_str!("../builtins/Exists.yml"),
    ),
    (
        "builtins/AreValuesEqual.yml",
        include_str!("../builtins/AreValuesEqual.yml"),
    ),
    (
        "builtins/IsIntegrationAvailable.yml",
        include_str!("../builtins/IsIntegrationAvailable.yml"),
    ),
    ("builtins/Sleep.yml", include_str!("../builtins/Sleep.yml")),
    (
        "builtins/GetErrorsFromEntry.yml",
        include_str!("../builtins/GetErrorsFromEntry.yml"),
    ),
    (
        "builtins/VerifyContext.yml",
        include_str!("../builtins/VerifyContext.yml"),
    ),
    (
        "builtins/ParseJSON.yml",
        include_str!("../builtins/ParseJSON.yml"),
    ),
    (
        "builtins/PrintContext.yml",
        include_str!("../builtins/PrintContext.yml"),
    ),
    (
        "builtins/CheckContextValue.yml",
        include_str!("../builtins/CheckContextValue.yml"),
    ),
    (
        "builtins/CheckFieldValue.yml",
        include_str!("../builtins/CheckFieldValue.yml"),
    ),
];

/// Commands that accept arguments beyond their declaration (incident fields by machine name).
pub const OPEN_ARGUMENT_COMMANDS: &[&str] = &["setIncident"];

/// Names implemented by [`Builtins`] (scripts and Builtin-brand commands).
pub const IMPLEMENTED: &[&str] = &[
    "Print",
    "PrintContext",
    "Set",
    "SetAndHandleEmpty",
    "DeleteContext",
    "PrintErrorEntry",
    "isError",
    "Exists",
    "AreValuesEqual",
    "IsIntegrationAvailable",
    "Sleep",
    "GetErrorsFromEntry",
    "VerifyContext",
    "ParseJSON",
    "CheckContextValue",
    "CheckFieldValue",
    "setIncident",
    "closeInvestigation",
    "taskComplete",
    "getList",
    "createList",
    "setList",
    "addToList",
    "removeFromList",
];

/// The builtin connector.
#[derive(Debug, Default)]
pub struct Builtins;

impl Connector for Builtins {
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        Box::pin(async move {
            // The one builtin that may write several entries (one per key); the others write one.
            if call.command == "SetAndHandleEmpty" {
                return set_and_handle_empty(call.args).map(|results| CommandOutput {
                    results,
                    debug_log: Vec::new(),
                });
            }
            run(&call).map(CommandOutput::single)
        })
    }

    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async { Ok(()) })
    }
}

/// An argument as text (numbers, booleans and JSON as their text form).
pub(crate) fn arg_text(args: &Args, name: &str) -> Option<String> {
    match args.get(name)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(xsoar_context::to_display_string(other)),
    }
}

fn arg_bool(args: &Args, name: &str) -> bool {
    match args.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            let t = s.trim();
            t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("yes") || t == "1"
        }
        Some(Value::Number(n)) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

/// `argToList`: a JSON list, a JSON-array string, or a CSV string.
pub(crate) fn arg_list(args: &Args, name: &str) -> Vec<Value> {
    match args.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.starts_with('[') && t.ends_with(']') {
                if let Ok(Value::Array(items)) = serde_json::from_str(t) {
                    return items;
                }
            }
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect()
        }
        Some(other) => vec![other.clone()],
    }
}

fn label(yes: bool) -> CommandResult {
    CommandResult::text(if yes { "yes" } else { "no" })
}

fn is_empty_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// How `Set` (JavaScript) and `SetAndHandleEmpty` (Python) turn a text value into what they
/// store, unless `stringify=true`. Values that are not text (lists and objects from DT,
/// numbers) are stored as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetParse {
    /// `Set.js`: a numeric text (`!isNaN`) becomes a number (`JSON.parse` with a `.`, else
    /// `BigInt`: decimal, `0x`/`0o`/`0b`), anything else goes through `JSON.parse`; text
    /// neither accepts stays text.
    Set,
    /// `SetAndHandleEmpty.py`: `json.loads`, text it refuses stays text.
    HandleEmpty,
}

/// The value `Set` / `SetAndHandleEmpty` store for `v`.
fn set_script_value(v: &Value, stringify: bool, dialect: SetParse) -> Value {
    let Value::String(text) = v else {
        // Set.js with stringify: `JSON.stringify` of a list or object.
        return if stringify {
            Value::String(v.to_string())
        } else {
            v.clone()
        };
    };
    if stringify {
        return v.clone();
    }
    let parsed = match dialect {
        SetParse::Set => js_numeric(text).or_else(|| json_text(text)),
        SetParse::HandleEmpty => json_text(text),
    };
    parsed.unwrap_or_else(|| v.clone())
}

/// Whole JSON text (surrounding whitespace allowed, as `JSON.parse` and `json.loads` allow).
fn json_text(text: &str) -> Option<Value> {
    serde_json::from_str(text.trim()).ok()
}

/// `Set.js` on a text `Number()` reads as a number: `Some(number)` when it stores a number,
/// `Some(text)` when it keeps the text (`BigInt` refuses `1e3` or `Infinity`), `None` when
/// the text is not numeric. A whole number beyond what a context number holds exactly (±2^63)
/// stays text rather than lose digits.
fn js_numeric(text: &str) -> Option<Value> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return None;
    }
    let radix = |prefix: &str, radix: u32| {
        t.get(..2)
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .and_then(|_| u64::from_str_radix(&t[2..], radix).ok())
    };
    if let Some(n) = radix("0x", 16)
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0b", 2))
    {
        return Some(Value::from(n));
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let numeric = body == "Infinity"
        || (body.chars().any(|c| c.is_ascii_digit())
            && body.parse::<f64>().is_ok()
            && !body.contains(['i', 'I', 'n', 'N']));
    if !numeric {
        return None;
    }
    let kept = || Some(Value::String(text.to_owned()));
    if t.contains('.') {
        // JSON.parse: `1.5` and `-0.5`, but not `.5`, `5.` or `+1.5`.
        return match serde_json::from_str::<Value>(t) {
            Ok(n @ Value::Number(_)) => Some(n),
            _ => kept(),
        };
    }
    // BigInt: an optional sign and decimal digits only.
    if !body.chars().all(|c| c.is_ascii_digit()) {
        return kept();
    }
    let digits = t.strip_prefix('+').unwrap_or(t);
    match digits.parse::<i64>() {
        Ok(n) => Some(Value::from(n)),
        Err(_) => match digits.parse::<u64>() {
            Ok(n) => Some(Value::from(n)),
            Err(_) => kept(),
        },
    }
}

/// JSON object or list text parsed (anything else kept): how `VerifyContext` reads an
/// expected value.
fn json_container(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'))
            {
                if let Ok(parsed) = serde_json::from_str::<Value>(t) {
                    return parsed;
                }
            }
            v.clone()
        }
        other => other.clone(),
    }
}

fn required<'a>(args: &'a Args, name: &str) -> Result<&'a Value, ConnectorError> {
    args.get(name)
        .ok_or_else(|| ConnectorError::InvalidArgument {
            name: name.to_owned(),
            message: "is required".into(),
        })
}

fn set(args: &Args) -> Result<CommandResult, ConnectorError> {
    let key = arg_text(args, "key").unwrap_or_default();
    if key.trim().is_empty() {
        return Err(ConnectorError::InvalidArgument {
            name: "key".into(),
            message: "must not be empty".into(),
        });
    }
    check_set_key(&key, arg_bool(args, "append"))?;
    let value = args.get("value");
    // `Set` stores an empty list or object it is given (an empty text never reaches it:
    // `value` is required); with nothing to store it says so in SetAndHandleEmpty's words.
    if matches!(value, None | Some(Value::Null)) || value.and_then(Value::as_str) == Some("") {
        return Ok(CommandResult::markdown("value is None".to_owned()));
    }
    let value = set_script_value(
        value.unwrap_or(&Value::Null),
        arg_bool(args, "stringify"),
        SetParse::Set,
    );
    let result = CommandResult::markdown(format!("Key {key} set"));
    Ok(if arg_bool(args, "append") {
        result.with_context(key, value)
    } else {
        result.with_effect(Effect::SetContext { path: key, value })
    })
}

/// `SetAndHandleEmpty` as its current JavaScript does it: `key` is a list (one entry per key);
/// text is parsed as JSON unless `stringify=true`, which stores JavaScript's `String()` of the
/// value instead; a value JavaScript reads as false (missing, `""`, `0`, `false`, `null`) is
/// skipped ("value is None") unless `force=true`; by default the value is appended to the key
/// (an `EntryContext` merge), `append=false` overwrites it.
fn set_and_handle_empty(args: &Args) -> Result<Vec<CommandResult>, ConnectorError> {
    let keys: Vec<String> = arg_list(args, "key")
        .iter()
        .map(xsoar_context::to_display_string)
        .filter(|k| !k.trim().is_empty())
        .collect();
    if keys.is_empty() {
        return Err(ConnectorError::InvalidArgument {
            name: "key".into(),
            message: "must not be empty".into(),
        });
    }
    let overwrite = arg_text(args, "append").as_deref() == Some("false");
    for key in &keys {
        check_set_key(key, !overwrite)?;
    }
    let value = args.get("value").map(|v| {
        if arg_bool(args, "stringify") {
            Value::String(if v.is_null() {
                String::new()
            } else {
                js_string(v)
            })
        } else {
            set_script_value(v, false, SetParse::HandleEmpty)
        }
    });
    let set = value.as_ref().is_some_and(js_truthy) || arg_bool(args, "force");
    Ok(keys
        .into_iter()
        .map(|key| {
            if !set {
                return CommandResult::markdown("value is None");
            }
            let stored = value.clone().unwrap_or(Value::String(String::new()));
            let result = CommandResult::markdown(format!("Key {key} set"));
            if overwrite {
                result.with_effect(Effect::SetContext {
                    path: key,
                    value: stored,
                })
            } else {
                result.with_context(key, stored)
            }
        })
        .collect())
}

/// Whether JavaScript reads a value as true: not `null`, `false`, `0` or `""` (lists and
/// objects, even empty, are true).
fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// JavaScript's `String(v)`: numbers as JavaScript prints them (`1`, not `1.0`), lists joined
/// with `,` (`null` items empty), objects as `[object Object]`.
fn js_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Array(items) => items
            .iter()
            .map(|i| {
                if i.is_null() {
                    String::new()
                } else {
                    js_string(i)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// `Set`'s key, checked before anything is written: with `append=true` it is an `EntryContext`
/// key (a selector must parse); without, a plain dot path, so a selector or a list index
/// (`L.[1]`) is refused instead of being stored as literal key names over existing data.
fn check_set_key(key: &str, append: bool) -> Result<(), ConnectorError> {
    let invalid = |message: String| ConnectorError::InvalidArgument {
        name: "key".into(),
        message,
    };
    if append {
        return xsoar_context::check_entry_context_key(key).map_err(|e| invalid(e.to_string()));
    }
    if key.contains('(') {
        return Err(invalid(format!(
            "'{key}' holds a selector, which needs append=true (without it the key is a plain path such as Data.ID)"
        )));
    }
    if let Some(seg) = key.split('.').map(str::trim).find(|s| s.starts_with('[')) {
        return Err(invalid(format!(
            "'{key}': the list index {seg} cannot be set; set the whole list, or remove an item with DeleteContext index="
        )));
    }
    Ok(())
}

const SEVERITIES: &[(&str, f64)] = &[
    ("unknown", 0.0),
    ("informational", 0.5),
    ("info", 0.5),
    ("low", 1.0),
    ("medium", 2.0),
    ("high", 3.0),
    ("critical", 4.0),
];

/// Severity words or numbers to XSOAR's numeric severity.
pub fn parse_severity(v: &Value) -> Option<Value> {
    let text = match v {
        Value::Number(_) => return Some(v.clone()),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return None,
    };
    if let Some((_, n)) = SEVERITIES.iter().find(|(w, _)| *w == text) {
        return Some(if n.fract() == 0.0 {
            json!(*n as i64)
        } else {
            json!(n)
        });
    }
    let n: f64 = text.parse().ok()?;
    Some(if n.fract() == 0.0 {
        json!(n as i64)
    } else {
        json!(n)
    })
}

fn set_incident(args: &Args) -> Result<CommandResult, ConnectorError> {
    let mut fields = Map::new();
    let sla = args
        .get("sla")
        .filter(|v| !is_empty_value(Some(v)))
        .cloned();
    let sla_field = arg_text(args, "slaField").filter(|f| !f.trim().is_empty());
    if let Some(v) = sla
        .as_ref()
        .filter(|v| crate::timer::parse_sla(v).is_none())
    {
        return Err(ConnectorError::InvalidArgument {
            name: "sla".into(),
            message: format!(
                "'{}' is neither a number of minutes nor a date",
                xsoar_context::to_display_string(v)
            ),
        });
    }
    if sla.is_none() && sla_field.is_some() {
        return Err(ConnectorError::InvalidArgument {
            name: "sla".into(),
            message: "is needed with slaField (minutes, or the due date)".into(),
        });
    }
    for (k, v) in args {
        if k == "id" || k == "sla" || k == "slaField" || is_empty_value(Some(v)) {
            continue;
        }
        match k.as_str() {
            "severity" => {
                let sev = parse_severity(v).ok_or_else(|| ConnectorError::InvalidArgument {
                    name: "severity".into(),
                    message: format!(
                        "'{}' is not a severity (use unknown, informational, low, medium, high, critical or 0-4)",
                        xsoar_context::to_display_string(v)
                    ),
                })?;
                fields.insert(k.clone(), sev);
            }
            "customFields" => {
                let obj = match v {
                    Value::Object(o) => o.clone(),
                    Value::String(s) => match serde_json::from_str::<Value>(s) {
                        Ok(Value::Object(o)) => o,
                        _ => {
                            return Err(ConnectorError::InvalidArgument {
                                name: "customFields".into(),
                                message: "must be a JSON object".into(),
                            })
                        }
                    },
                    _ => {
                        return Err(ConnectorError::InvalidArgument {
                            name: "customFields".into(),
                            message: "must be a JSON object".into(),
                        })
                    }
                };
                fields.extend(obj);
            }
            date if crate::fields::INCIDENT_DATE_FIELDS.contains(&date) => {
                match crate::fields::normalize_date(v) {
                    Ok(Some(t)) => {
                        fields.insert(k.clone(), Value::String(t));
                    }
                    Ok(None) => {}
                    Err(_) => {
                        return Err(ConnectorError::InvalidArgument {
                            name: k.clone(),
                            message: format!(
                                "'{}' is not a time: give RFC 3339 (2025-11-29T07:00:00Z) or epoch seconds or milliseconds",
                                xsoar_context::to_display_string(v)
                            ),
                        })
                    }
                }
            }
            "labels" | "addLabels" => {
                let list = match v {
                    Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                if !list.is_array() {
                    return Err(ConnectorError::InvalidArgument {
                        name: k.clone(),
                        message: "must be a JSON list of {\"type\", \"value\"} objects".into(),
                    });
                }
                fields.insert(k.clone(), list);
            }
            _ => {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    let mut names: Vec<String> = fields.keys().cloned().collect();
    if sla.is_some() {
        names.push(match &sla_field {
            Some(f) => format!("{f} SLA"),
            None => "dueDate".to_owned(),
        });
    }
    let text = if names.is_empty() {
        "Incident not changed: no field was given".to_owned()
    } else {
        format!("Incident updated: {}", names.join(", "))
    };
    let mut result = CommandResult::markdown(text).with_effect(Effect::UpdateIncident { fields });
    if let Some(sla) = sla {
        result = result.with_effect(Effect::SetSla {
            field: sla_field,
            sla,
        });
    }
    Ok(result)
}

fn run(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let args = call.args;
    let view = call.investigation;
    match call.command {
        "Print" => Ok(CommandResult::markdown(
            arg_text(args, "value").unwrap_or_default(),
        )),
        "PrintContext" => print_context(call),
        "Set" => set(args),
        "DeleteContext" => delete_context(call),
        "PrintErrorEntry" => Ok(CommandResult::error(
            arg_text(args, "message").unwrap_or_default(),
        )),
        "isError" => {
            // A list, or one id (the script does not split text at commas).
            let ids = match args.get("entryId") {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(one) => vec![one.clone()],
            };
            let any_error = ids.iter().any(|id| {
                let id = xsoar_context::to_display_string(id);
                view.and_then(|v| v.entry_type(&id)) == Some(4)
            });
            Ok(label(any_error))
        }
        // Exists.js: a list exists when it has elements, anything else when JavaScript reads
        // it as true (so `0` and `false` do not, `{}` does).
        "Exists" => Ok(label(match args.get("value") {
            Some(Value::Array(items)) => !items.is_empty(),
            Some(v) => js_truthy(v),
            None => false,
        })),
        // AreValuesEqual.js: both given, compared as JavaScript's `String()` of each; the
        // answer is also set as `AreValuesEqual` in the context.
        "AreValuesEqual" => {
            let answer = match (args.get("left"), args.get("right")) {
                (Some(l), Some(r)) if !l.is_null() && !r.is_null() => js_string(l) == js_string(r),
                _ => false,
            };
            Ok(label(answer).with_effect(Effect::SetContext {
                path: "AreValuesEqual".into(),
                value: Value::String(if answer { "yes" } else { "no" }.into()),
            }))
        }
        "IsIntegrationAvailable" => {
            required(args, "brandname")?;
            // Brand names compared regardless of case, as the script compares them; one
            // brand or a list of them.
            let brands: Vec<String> = arg_list(args, "brandname")
                .iter()
                .map(|b| xsoar_context::to_display_string(b).to_lowercase())
                .collect();
            let names: Vec<Value> = view
                .map(|v| v.modules())
                .unwrap_or_default()
                .into_iter()
                .filter(|m| {
                    m.get("brand")
                        .and_then(Value::as_str)
                        .is_some_and(|b| brands.contains(&b.to_lowercase()))
                        && m.get("state").and_then(Value::as_str) == Some("active")
                })
                .filter_map(|m| m.get("name").cloned())
                .collect();
            let yes = !names.is_empty();
            let mut r = label(yes);
            if yes {
                // `setContext`: the instances found replace an earlier answer.
                r = r.with_effect(Effect::SetContext {
                    path: "brandInstances".into(),
                    value: Value::Array(names),
                });
            }
            Ok(r)
        }
        "Sleep" => {
            let text = arg_text(args, "seconds").unwrap_or_default();
            // Sleep.js waits `parseInt(seconds)`: whole seconds, read from the leading
            // digits (`1.5` is 1, `10s` is 10).
            let digits: String = text
                .trim_start()
                .trim_start_matches('+')
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let seconds: f64 = digits
                .parse::<u64>()
                .ok()
                .map(|s| s as f64)
                .ok_or_else(|| ConnectorError::InvalidArgument {
                    name: "seconds".into(),
                    message: format!("'{text}' is not a number of seconds"),
                })?;
            // The script is stopped at its execution timeout, as XSOAR stops a script's
            // container: it sleeps that long and fails.
            if let Some(limit) = call.timeout.filter(|t| seconds > t.as_secs_f64()) {
                return Ok(CommandResult::error(format!(
                    "Sleep of {text} seconds was stopped at the execution timeout of {} seconds",
                    limit.as_secs_f64()
                ))
                .with_effect(Effect::Sleep {
                    seconds: limit.as_secs_f64(),
                }));
            }
            Ok(
                CommandResult::markdown(format!("Slept for {seconds} seconds"))
                    .with_effect(Effect::Sleep { seconds }),
            )
        }
        "GetErrorsFromEntry" => {
            let errors: Vec<Value> = arg_list(args, "entry_id")
                .iter()
                .filter_map(|id| {
                    let id = xsoar_context::to_display_string(id);
                    let v = view?;
                    (v.entry_type(&id) == Some(4))
                        .then(|| v.entry_contents(&id))
                        .flatten()
                })
                .collect();
            if errors.is_empty() {
                return Ok(CommandResult::markdown("No error entries found"));
            }
            let text = errors
                .iter()
                .map(xsoar_context::to_display_string)
                .collect::<Vec<_>>()
                .join("\n");
            Ok(CommandResult::markdown(text).with_context("ErrorEntries", Value::Array(errors)))
        }
        "VerifyContext" => verify_context(call),
        "ParseJSON" => {
            let input = arg_text(args, "value").unwrap_or_default();
            match serde_json::from_str::<Value>(&input) {
                Ok(v) => {
                    let mut r = CommandResult::text(String::new());
                    r.contents = v;
                    r.contents_format = "json".into();
                    Ok(r)
                }
                // ParseJSON.js returns the parse error instead of failing: the task goes on.
                Err(e) => Ok(CommandResult::text(format!("SyntaxError: {e}"))),
            }
        }
        "getList" | "createList" | "setList" | "addToList" | "removeFromList" => list_command(call),
        "CheckContextValue" => check_context_value(call),
        "CheckFieldValue" => check_field_value(call),
        "setIncident" => set_incident(args),
        "closeInvestigation" => Ok(CommandResult::markdown("Investigation closed").with_effect(
            Effect::CloseInvestigation {
                reason: arg_text(args, "closeReason"),
                notes: arg_text(args, "closeNotes"),
            },
        )),
        "taskComplete" => {
            let task = arg_text(args, "id").unwrap_or_default();
            let label = arg_text(args, "input");
            Ok(CommandResult::markdown(format!("Task {task} completed"))
                .with_effect(Effect::CompleteTask { task, label }))
        }
        other => Err(ConnectorError::UnknownCommand {
            brand: BUILTIN_BRAND.into(),
            command: other.to_owned(),
        }),
    }
}

/// `CheckContextValue key= [regex=] [ignore_case=]`: whether the context key holds data, as
/// the CommonScripts script answers for GenericPolling. The key is a path of object keys
/// split at `.` (no list indexes, no DT), read in the private context of a sub-playbook first,
/// then in the contexts around it.
fn check_context_value(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let args = call.args;
    let key = arg_text(args, "key").unwrap_or_default();
    let matcher = value_matcher(args)?;
    let value = call.investigation.and_then(|view| {
        view.context_layers()
            .into_iter()
            .find_map(|layer| object_path(layer, &key))
    });
    // `if context:` guards the match: a value read as false is "no" without the regex.
    let exists = holds_data(value, matcher.as_ref(), false)?;
    Ok(presence_result(
        "CheckContextKey",
        "key",
        &key,
        exists,
        if exists {
            "The key exists."
        } else {
            "The key does not exist."
        },
    ))
}

/// `CheckFieldValue field= [regex=] [ignore_case=]`: whether the incident field (custom fields
/// too) holds data, as the CommonScripts script answers for GenericPolling.
fn check_field_value(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let args = call.args;
    let field = arg_text(args, "field").unwrap_or_default();
    let matcher = value_matcher(args)?;
    let value = call.investigation.and_then(|view| {
        let incident = view.incident();
        incident.get(&field).or_else(|| {
            incident
                .get("CustomFields")
                .and_then(|custom| custom.get(&field))
        })
    });
    // A field present in the incident is matched even when empty (`^$` finds an empty one).
    let exists = holds_data(value, matcher.as_ref(), true)?;
    Ok(presence_result(
        "CheckFieldValue",
        "field",
        &field,
        exists,
        if exists {
            "The field exists."
        } else {
            "The field does not exist."
        },
    ))
}

/// The `regex` argument compiled (`ignore_case=True`: case-insensitive), if given.
fn value_matcher(args: &Args) -> Result<Option<regex::Regex>, ConnectorError> {
    let Some(pattern) = arg_text(args, "regex").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    regex::RegexBuilder::new(&pattern)
        .case_insensitive(arg_bool(args, "ignore_case"))
        .build()
        .map(Some)
        .map_err(|e| ConnectorError::InvalidArgument {
            name: "regex".into(),
            message: format!("'{pattern}' is not a valid regular expression: {e}"),
        })
}

/// `a.b.c` through nested objects only.
fn object_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(root, |v, segment| v.as_object()?.get(segment))
}

/// Whether a value counts as present: without a regular expression, truthy as Python sees it
/// (not null, `false`, `0`, or an empty text, list or object); with one, text it matches
/// somewhere — for a value read as false only when `match_falsy` (CheckFieldValue matches any
/// field the incident has). A regular expression against anything but text fails, as
/// `re.search` does, with the scripts' own error text (both say "CheckFieldValue").
fn holds_data(
    value: Option<&Value>,
    matcher: Option<&regex::Regex>,
    match_falsy: bool,
) -> Result<bool, ConnectorError> {
    let truthy = match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Bool(true)) => true,
    };
    match (value, matcher) {
        (_, None) => Ok(truthy),
        (_, Some(_)) if !truthy && !match_falsy => Ok(false),
        (Some(Value::String(text)), Some(re)) => Ok(re.is_match(text)),
        (Some(other), Some(_)) => Err(ConnectorError::Other(format!(
            "Failed to execute CheckFieldValue script. Error: the value is {}, not text, so the \
             regular expression cannot be matched against it",
            json_kind(other)
        ))),
        (None, Some(_)) => Ok(false),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `{<key_field>: name, exists}` under `prefix`, keyed on `key_field`, as the scripts'
/// `CommandResults` write it.
fn presence_result(
    prefix: &str,
    key_field: &str,
    name: &str,
    exists: bool,
    readable: &str,
) -> CommandResult {
    let data = json!({ key_field: name, "exists": exists });
    CommandResult::from_outputs(xsoar_connector::Outputs {
        prefix: Some(prefix.to_owned()),
        key_fields: vec![key_field.to_owned()],
        readable_output: Some(readable.to_owned()),
        outputs: Some(data.clone()),
        raw_response: Some(data),
        replace_existing: false,
    })
}

/// `DeleteContext subplaybook=`: `no`/`false` deletes in the investigation's context even from
/// a sub-playbook with a private context; `yes`/`true` and `auto` (the default) in the context
/// the command writes to — the private one inside such a sub-playbook, else the
/// investigation's.
/// `DeleteContext` with DeleteContext.js's answers: `key` may list several keys (comma
/// separated); the entry says `Successfully deleted keys 'A', 'B' from context.` for the keys
/// that existed; `index=` deletes one item (`Successfully deleted index N from key K`; an index
/// beyond the list or not a number is an error entry, a missing key a note); `all=yes` clears
/// the context but `keysToKeep`; neither key nor `all=yes` is an error entry.
fn delete_context(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let args = call.args;
    let global = delete_in_investigation_context(args)?;
    // What the keys are looked up in: the context the deletion applies to.
    let ctx = call.investigation.map(|v| {
        if global {
            v.investigation_context()
        } else {
            v.context()
        }
    });
    let deleted_message = |keys: &[String]| {
        if keys.is_empty() {
            String::new()
        } else {
            format!(
                "Successfully deleted keys '{}' from context.",
                keys.join("', '")
            )
        }
    };
    if arg_bool(args, "all") {
        let keep: Vec<String> = arg_list(args, "keysToKeep")
            .iter()
            .map(xsoar_context::to_display_string)
            .collect();
        let deleted: Vec<String> = ctx
            .and_then(Value::as_object)
            .map(|o| o.keys().filter(|k| !keep.contains(k)).cloned().collect())
            .unwrap_or_default();
        return Ok(CommandResult::markdown(deleted_message(&deleted))
            .with_effect(Effect::ClearContext { keep, global }));
    }
    let Some(key) = arg_text(args, "key").filter(|k| !k.trim().is_empty()) else {
        return Ok(CommandResult::error("You must specify key or all=yes"));
    };
    let present = |path: &str| ctx.is_none_or(|c| xsoar_context::get_path(c, path).is_some());
    if let Some(i) = arg_text(args, "index") {
        // parseInt: leading digits (and sign) count, the rest is ignored.
        let t = i.trim();
        let sign_len = usize::from(t.starts_with(['-', '+']));
        let digits: String = t[sign_len..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let Ok(index) = format!("{}{digits}", &t[..sign_len]).parse::<i64>() else {
            return Ok(CommandResult::error(format!("Invalid index {i}")));
        };
        let len = match ctx.and_then(|c| xsoar_context::get_path(c, &key)) {
            Some(Value::Array(items)) => items.len(),
            Some(_) => 1,
            None if ctx.is_some() => {
                return Ok(CommandResult::markdown(format!(
                    "Key [{key}] was not found."
                )))
            }
            None => usize::MAX,
        };
        let Some(index) = usize::try_from(index).ok().filter(|i| *i < len) else {
            return Ok(CommandResult::error(format!("Index out of range {i}")));
        };
        return Ok(CommandResult::markdown(format!(
            "Successfully deleted index {index} from key {key}"
        ))
        .with_effect(Effect::DeleteContextIndex {
            path: key,
            index,
            global,
        }));
    }
    let keys: Vec<String> = key
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let deleted: Vec<String> = keys.into_iter().filter(|k| present(k)).collect();
    let mut result = CommandResult::markdown(deleted_message(&deleted));
    for path in deleted {
        result = result.with_effect(Effect::DeleteContext { path, global });
    }
    Ok(result)
}

fn delete_in_investigation_context(args: &Args) -> Result<bool, ConnectorError> {
    let value = arg_text(args, "subplaybook").unwrap_or_default();
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "auto" | "yes" | "true" => Ok(false),
        "no" | "false" => Ok(true),
        other => Err(ConnectorError::InvalidArgument {
            name: "subplaybook".into(),
            message: format!("'{other}' is not one of auto, yes, no (true and false are accepted)"),
        }),
    }
}

/// What XSOAR answers for a list that does not exist; content compares `Contents` with it.
pub const LIST_NOT_FOUND: &str = "Item not found (8)";

/// The list commands XSOAR's server runs itself. `getList` answers the list's text;
/// `createList` creates or overwrites; `setList`, `addToList` and `removeFromList` need the
/// list to exist (XSOAR: "The list must already exist"), and content creates it with
/// `createList` when they fail. A failing command changes no list.
fn list_command(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let args = call.args;
    let name = arg_text(args, "listName").unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ConnectorError::InvalidArgument {
            name: "listName".into(),
            message: "must name a list".into(),
        });
    }
    let current = call.investigation.and_then(|v| v.list(&name));
    let not_found = || {
        let mut r = CommandResult::error(LIST_NOT_FOUND);
        r.human_readable = Some(format!("{LIST_NOT_FOUND}: there is no list named '{name}'"));
        r
    };
    // listData given as JSON (a playbook passing an object) is stored as its JSON text.
    let data = || -> String {
        match args.get("listData") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    };
    let separator = || {
        arg_text(args, "separator")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ",".to_owned())
    };
    let done = |data: String| {
        CommandResult::text("Done").with_effect(Effect::SetList {
            name: name.clone(),
            data,
        })
    };
    Ok(match call.command {
        "getList" => match current {
            Some(text) => CommandResult::text(text),
            None => not_found(),
        },
        "createList" => done(data()),
        "setList" => match current {
            Some(_) => done(data()),
            None => not_found(),
        },
        "addToList" => match current {
            Some("") => done(data()),
            Some(text) => {
                let sep = separator();
                done(format!("{text}{sep}{}", data()))
            }
            None => not_found(),
        },
        "removeFromList" => {
            let Some(text) = current else {
                return Ok(not_found());
            };
            let sep = separator();
            let remove: Vec<String> = data()
                .split(sep.as_str())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if remove.is_empty() {
                return Err(ConnectorError::InvalidArgument {
                    name: "listData".into(),
                    message: "give the item to remove".into(),
                });
            }
            let items: Vec<&str> = text.split(sep.as_str()).collect();
            let missing: Vec<&str> = remove
                .iter()
                .map(String::as_str)
                .filter(|r| !items.iter().any(|i| i.trim() == *r))
                .collect();
            if !missing.is_empty() {
                return Ok(CommandResult::error(format!(
                    "List '{name}' has no item {}: nothing removed",
                    missing
                        .iter()
                        .map(|m| format!("'{m}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let kept: Vec<&str> = items
                .into_iter()
                .filter(|i| !remove.iter().any(|r| i.trim() == r))
                .collect();
            done(kept.join(sep.as_str()))
        }
        other => {
            return Err(ConnectorError::UnknownCommand {
                brand: BUILTIN_BRAND.into(),
                command: other.to_owned(),
            })
        }
    })
}

/// `PrintContext` as the Common Scripts pack writes it: `Context empty.` for an empty context;
/// `outputformat=table` a table entry of top-level keys (values as `formatCell` shows them),
/// `json` the context itself as a JSON entry, anything else a markdown note holding Python's
/// `json.dumps(context, indent=4)`.
fn print_context(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let Some(view) = call.investigation else {
        return Ok(CommandResult::error("PrintContext needs an investigation"));
    };
    let ctx = match view.context() {
        Value::Object(m) if !m.is_empty() => m,
        _ => return Ok(CommandResult::text("Context empty.")),
    };
    let format = arg_text(call.args, "outputformat").unwrap_or_default();
    Ok(match format.as_str() {
        "table" => {
            let rows = ctx
                .iter()
                .map(|(k, v)| json!({"Context key": k, "Value": xsoar_connector::format_cell(v)}))
                .collect();
            CommandResult {
                contents: Value::Array(rows),
                contents_format: "table".into(),
                ..CommandResult::text("")
            }
        }
        "json" => CommandResult {
            contents: Value::Object(ctx.clone()),
            contents_format: "json".into(),
            ..CommandResult::text("")
        },
        _ => CommandResult::markdown(format!(
            "**Context data**:\n```\n{}\n```",
            xsoar_connector::python_json_dumps(&Value::Object(ctx.clone()), Some(4), true)
        )),
    })
}

fn verify_context(call: &CommandCall<'_>) -> Result<CommandResult, ConnectorError> {
    let args = call.args;
    let path = arg_text(args, "path").unwrap_or_default();
    let Some(view) = call.investigation else {
        return Ok(CommandResult::error("VerifyContext needs an investigation"));
    };
    let mut scope =
        xsoar_context::Scope::new(view.context()).with_root("incident", view.incident());
    if let Some(lists) = view.lists_root() {
        scope = scope.with_root("lists", lists);
    }
    let found =
        xsoar_context::eval_path(&path, &scope).map_err(|e| ConnectorError::InvalidArgument {
            name: "path".into(),
            message: e.to_string(),
        })?;
    let Some(found) = found else {
        return Ok(CommandResult::error(format!(
            "VerifyContext: '{path}' was not found in context"
        )));
    };
    let fields: Vec<String> = arg_list(args, "fields")
        .iter()
        .map(xsoar_context::to_display_string)
        .collect();
    let items: Vec<&Value> = match &found {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for field in &fields {
        if let Some(missing) = items.iter().find(|i| i.get(field).is_none()) {
            return Ok(CommandResult::error(format!(
                "VerifyContext: '{path}' has an element without field '{field}': {}",
                xsoar_context::to_display_string(missing)
            )));
        }
    }
    if let Some(expected) = args
        .get("expectedValue")
        .filter(|v| !is_empty_value(Some(v)))
    {
        let expected_text = xsoar_context::to_display_string(expected);
        let expected_json = json_container(expected);
        let actual_text = xsoar_context::to_display_string(&found);
        if found != expected_json && actual_text != expected_text {
            return Ok(CommandResult::error(format!(
                "VerifyContext: '{path}' is '{actual_text}', expected '{expected_text}'"
            )));
        }
    }
    Ok(CommandResult::markdown(format!(
        "VerifyContext: '{path}' verified"
    )))
}
