//! Binding command-line tokens and playbook arguments to a command's declared arguments
//! (§5.3–§5.4 of the semantics): positional values, special (engine) arguments, defaults,
//! required and predefined checks.

use serde_json::{Map, Value};
use std::time::Duration;
use xsoar_content::Command;

/// Arguments the engine consumes; they never reach the command (§5.4).
pub const SPECIAL_ARGUMENTS: &[&str] = &[
    "using",
    "using-brand",
    "using-category",
    "extend-context",
    "ignore-outputs",
    "ignore-output",
    "raw-response",
    "execution-timeout",
    "retry-count",
    "retry-interval",
    "auto-extract",
    "debug-mode",
];

/// The special arguments of one invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecialArgs {
    /// `using=`: run only on this instance.
    pub using: Option<String>,
    /// `using-brand=`: run on the enabled instances of this brand.
    pub using_brand: Option<String>,
    /// `using-category=`: run on instances whose integration has this category.
    pub using_category: Option<String>,
    /// `extend-context=key=path::key2=path2`.
    pub extend_context: Vec<(String, String)>,
    /// `ignore-outputs=true`.
    pub ignore_outputs: bool,
    /// `raw-response=true`.
    pub raw_response: bool,
    /// `execution-timeout=` seconds.
    pub execution_timeout: Option<Duration>,
    /// `retry-count=`.
    pub retry_count: u32,
    /// `retry-interval=` seconds.
    pub retry_interval: Duration,
    /// `auto-extract=` (accepted, no effect).
    pub auto_extract: Option<String>,
    /// `debug-mode=true`.
    pub debug_mode: bool,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => xsoar_context::to_display_string(other),
    }
}

fn boolean(name: &str, v: &Value) -> Result<bool, String> {
    match text(v).trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" | "" => Ok(false),
        other => Err(format!(
            "Invalid value '{other}' for argument '{name}'. Allowed: true, false"
        )),
    }
}

fn seconds(name: &str, v: &Value) -> Result<Duration, String> {
    let t = text(v);
    let n = t.trim().parse::<f64>().ok().filter(|s| s.is_finite());
    match n {
        Some(s) if (0.0..1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
        Some(s) if s >= 1e9 => Err(format!(
            "Invalid value '{t}' for argument '{name}': at most 999999999 seconds"
        )),
        _ => Err(format!(
            "Invalid value '{t}' for argument '{name}': expected a number of seconds"
        )),
    }
}

/// `execution-timeout=`: a number of seconds above zero (zero would fail every command).
fn timeout_seconds(name: &str, v: &Value) -> Result<Duration, String> {
    let d = seconds(name, v)?;
    if d.is_zero() {
        return Err(format!(
            "Invalid value '{}' for argument '{name}': the timeout must be above 0 seconds",
            text(v)
        ));
    }
    Ok(d)
}

/// Remove the special arguments from `args` and parse them.
pub fn take_special(args: &mut Vec<(String, Value)>) -> Result<SpecialArgs, String> {
    let mut special = SpecialArgs::default();
    if !args
        .iter()
        .any(|(name, _)| SPECIAL_ARGUMENTS.contains(&name.as_str()))
    {
        return Ok(special);
    }
    let mut rest = Vec::with_capacity(args.len());
    for (name, value) in args.drain(..) {
        if !SPECIAL_ARGUMENTS.contains(&name.as_str()) {
            rest.push((name, value));
            continue;
        }
        match name.as_str() {
            "using" => special.using = Some(text(&value)),
            "using-brand" => special.using_brand = Some(text(&value)),
            "using-category" => special.using_category = Some(text(&value)),
            "extend-context" => {
                for part in text(&value).split("::").filter(|p| !p.trim().is_empty()) {
                    let Some((key, path)) = part.split_once('=') else {
                        return Err(format!(
                            "Invalid value '{part}' for argument 'extend-context': expected key=path (path may be empty)"
                        ));
                    };
                    special
                        .extend_context
                        .push((key.trim().to_owned(), path.trim().to_owned()));
                }
            }
            "ignore-outputs" | "ignore-output" => special.ignore_outputs = boolean(&name, &value)?,
            "raw-response" => special.raw_response = boolean(&name, &value)?,
            "execution-timeout" => {
                special.execution_timeout = Some(timeout_seconds(&name, &value)?)
            }
            "retry-count" => {
                let t = text(&value);
                special.retry_count = t.trim().parse().map_err(|_| {
                    format!(
                        "Invalid value '{t}' for argument 'retry-count': expected a whole number"
                    )
                })?;
            }
            "retry-interval" => special.retry_interval = seconds(&name, &value)?,
            "auto-extract" => special.auto_extract = Some(text(&value)),
            "debug-mode" => special.debug_mode = boolean(&name, &value)?,
            _ => {}
        }
    }
    *args = rest;
    Ok(special)
}

/// Whether a value counts as "not supplied".
pub fn is_unsupplied(v: &Value) -> bool {
    matches!(v, Value::Null) || matches!(v, Value::String(s) if s.is_empty())
}

/// How strictly arguments are checked.
#[derive(Debug, Clone, Copy)]
pub struct BindRules {
    /// Unknown argument names are errors (war room) or passed through (playbook tasks).
    pub reject_unknown: bool,
    /// Values outside `predefined` are errors.
    pub enforce_predefined: bool,
}

/// Bind supplied (named) and positional values to the command's arguments.
pub fn bind(
    def: &Command,
    named: Vec<(String, Value)>,
    positional: Vec<Value>,
    rules: BindRules,
    open_arguments: bool,
) -> Result<Map<String, Value>, String> {
    // Work on a small vector (commands have a handful of arguments) and build the map once.
    let mut args: Vec<(String, Value)> =
        Vec::with_capacity(def.arguments.len().max(named.len()) + 1);
    fn put(args: &mut Vec<(String, Value)>, name: String, value: Value) {
        match args.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => args.push((name, value)),
        }
    }
    if !positional.is_empty() {
        let Some(default_arg) = def.default_argument() else {
            return Err(format!(
                "Command '{}' has no default argument: write the value as name=value{}",
                def.name,
                argument_list(def)
            ));
        };
        if positional.len() > 1 {
            return Err(format!(
                "Command '{}' takes one positional value (for its default argument '{}'), {} were given: quote values that contain spaces",
                def.name,
                default_arg.name,
                positional.len()
            ));
        }
        if let Some(v) = positional.into_iter().next() {
            // A value without a name next to the default argument given by name: the rest of a
            // value with spaces that was not quoted (`value=hello world`), never dropped silently.
            if named.iter().any(|(k, _)| *k == default_arg.name) {
                return Err(format!(
                    "Command '{}': the value {} has no argument name, and the default argument '{}' is already given by name: quote values that contain spaces ({}=\"a b\")",
                    def.name,
                    if default_arg.secret {
                        "******".to_owned()
                    } else {
                        crate::eval::show(&v)
                    },
                    default_arg.name,
                    default_arg.name
                ));
            }
            if !is_unsupplied(&v) {
                put(&mut args, default_arg.name.clone(), v);
            }
        }
    }
    for (name, value) in named {
        if def.argument(&name).is_none() && rules.reject_unknown && !open_arguments {
            return Err(format!(
                "Unknown argument '{name}' for command '{}'{}",
                def.name,
                argument_list(def)
            ));
        }
        if is_unsupplied(&value) {
            args.retain(|(k, _)| *k != name);
        } else {
            put(&mut args, name, value);
        }
    }
    let has = |args: &[(String, Value)], name: &str| args.iter().any(|(k, _)| k == name);
    for a in &def.arguments {
        if let Some(d) = a.default_value.as_ref().filter(|d| !d.is_empty()) {
            if !has(&args, &a.name) {
                args.push((a.name.clone(), Value::String(d.clone())));
            }
        }
    }
    let missing: Vec<&str> = def
        .arguments
        .iter()
        .filter(|a| a.required && !has(&args, &a.name))
        .map(|a| a.name.as_str())
        .collect();
    match missing.as_slice() {
        [] => {}
        [one] => {
            return Err(format!(
                "Missing required argument '{one}' for command '{}'",
                def.name
            ))
        }
        many => {
            return Err(format!(
                "Missing required arguments {} for command '{}'",
                many.iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                def.name
            ))
        }
    }
    if rules.enforce_predefined {
        for a in def.arguments.iter().filter(|a| !a.predefined.is_empty()) {
            let Some((_, v)) = args.iter().find(|(k, _)| *k == a.name) else {
                continue;
            };
            let bad = match v {
                Value::String(s) if !a.is_array => {
                    (!a.predefined.iter().any(|p| p == s)).then(|| s.clone())
                }
                Value::String(s) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .find(|v| !a.predefined.iter().any(|p| p == v))
                    .map(str::to_owned),
                Value::Array(items) => items
                    .iter()
                    .map(text)
                    .find(|v| !a.predefined.iter().any(|p| p == v)),
                other => {
                    let t = text(other);
                    (!a.predefined.contains(&t)).then_some(t)
                }
            };
            if let Some(bad) = bad {
                return Err(format!(
                    "Invalid value '{bad}' for argument '{}'. Allowed: {}",
                    a.name,
                    a.predefined.join(", ")
                ));
            }
        }
    }
    Ok(args.into_iter().collect())
}

fn argument_list(def: &Command) -> String {
    if def.arguments.is_empty() {
        " (it takes no arguments)".to_owned()
    } else {
        format!(
            " (arguments: {})",
            def.arguments
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
