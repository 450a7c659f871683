//! Integration and script (automation) YAML into the model (§1 of the semantics).
//!
//! Only what the engine needs is read; the code, the image and UI-only keys are skipped.
//! Items whose identity cannot be established (no id and no name) are not produced; other
//! problems are reported and the offending part is defaulted or dropped, so one bad argument
//! does not hide a whole integration.

use serde_yaml::Value;

use crate::model::{Argument, Command, Integration, Output, Param, Script};
use crate::walk::{
    bool_value, describe, flag, hidden, map, opt_int, opt_nonempty, opt_str, opt_u64, req_str, seq,
    str_list, str_or_empty, untag, At, Cx, Label, Obj,
};

/// Read the `commonfields.id` / `name` pair; `None` when neither is usable.
fn identity(cx: &mut Cx<'_>, obj: &Obj<'_>, at: &At<'_>, kind: &str) -> Option<(String, String)> {
    let id = match map(cx, obj, at, "commonfields") {
        Some((k, common)) => req_str(cx, &common, &at.key(k), "id"),
        None => {
            cx.error(
                &at.key("commonfields"),
                "missing required field 'commonfields' (with the id)",
            );
            None
        }
    };
    let name = req_str(cx, obj, at, "name");
    match (id, name) {
        (Some(id), Some(name)) => Some((id, name)),
        (Some(id), None) => Some((id.clone(), id)),
        (None, Some(name)) => Some((name.clone(), name)),
        (None, None) => {
            cx.error(
                at,
                format!("the {kind} has neither an id nor a name; it cannot be loaded"),
            );
            None
        }
    }
}

/// The top level must be a mapping.
pub(crate) fn root_obj<'v>(cx: &mut Cx<'_>, root: &'v Value) -> Option<Obj<'v>> {
    match untag(root) {
        Value::Mapping(m) => Some(Obj::new(m)),
        Value::Null => {
            cx.error(&At::ROOT, "the file is empty");
            None
        }
        v => {
            cx.error(
                &At::ROOT,
                format!("expected a mapping at the top level, found {}", describe(v)),
            );
            None
        }
    }
}

pub(crate) fn integration(cx: &mut Cx<'_>, root: &Value, file: &str) -> Option<Integration> {
    let at = At::ROOT;
    let obj = root_obj(cx, root)?;
    let (id, name) = identity(cx, &obj, &at, "integration")?;

    let (params_key, params_yaml) = seq(cx, &obj, &at, "configuration");
    let params_at = at.key(params_key);
    let mut params = Vec::with_capacity(params_yaml.len());
    for (i, p) in params_yaml.iter().enumerate() {
        params.extend(param(cx, &params_at.idx(i), p));
    }

    let mut commands = Vec::new();
    let mut script_type = String::new();
    let (mut subtype, mut docker_image, mut is_fetch, mut long_running) =
        (None, None, false, false);
    match map(cx, &obj, &at, "script") {
        Some((k, script)) => {
            let at = at.key(k);
            let (ck, cmds) = seq(cx, &script, &at, "commands");
            let cmds_at = at.key(ck);
            commands.reserve(cmds.len());
            for (i, c) in cmds.iter().enumerate() {
                commands.extend(command(cx, &cmds_at.idx(i), c));
            }
            script_type = str_or_empty(cx, &script, &at, "type");
            subtype = opt_nonempty(cx, &script, &at, "subtype");
            docker_image = opt_nonempty(cx, &script, &at, "dockerimage");
            is_fetch = flag(cx, &script, &at, "isfetch");
            long_running = flag(cx, &script, &at, "longRunning");
        }
        None if obj.get("script").is_none() => {
            cx.error(
                &at.key("script"),
                "missing required field 'script' (with the commands)",
            );
        }
        None => {}
    }

    Some(Integration {
        id,
        name,
        display: str_or_empty(cx, &obj, &at, "display"),
        category: str_or_empty(cx, &obj, &at, "category"),
        description: str_or_empty(cx, &obj, &at, "description"),
        detailed_description: opt_nonempty(cx, &obj, &at, "detaileddescription"),
        params,
        commands,
        script_type,
        subtype,
        docker_image,
        is_fetch,
        long_running,
        tests: str_list(cx, &obj, &at, "tests"),
        from_version: opt_nonempty(cx, &obj, &at, "fromversion"),
        beta: flag(cx, &obj, &at, "beta"),
        deprecated: flag(cx, &obj, &at, "deprecated"),
        hidden: hidden(cx, &obj, &at),
        file: file.to_owned(),
    })
}

/// The element at `at` as a mapping, or an error naming what it should have been.
fn element<'v>(cx: &mut Cx<'_>, at: &At<'_>, v: &'v Value, what: &str) -> Option<Obj<'v>> {
    match untag(v) {
        Value::Mapping(m) => Some(Obj::new(m)),
        Value::Null => None,
        other => {
            cx.error(
                at,
                format!("{what} must be a mapping, found {}", describe(other)),
            );
            None
        }
    }
}

fn param(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<Param> {
    let obj = element(cx, at, v, "a parameter")?;
    let name = req_str(cx, &obj, at, "name")?;
    let at = at.labelled(Label::Param(&name));
    let param_type = match obj.get("type") {
        None => {
            cx.error(&at.key("type"), "missing required field 'type'");
            0
        }
        Some(_) => opt_int(cx, &obj, &at, "type").unwrap_or(0),
    };
    let default_value = match obj.get("defaultvalue") {
        None => None,
        Some((k, dv)) => default_value(cx, &at.key(k), dv, param_type),
    };
    Some(Param {
        display: opt_str(cx, &obj, &at, "display"),
        display_password: opt_str(cx, &obj, &at, "displaypassword"),
        param_type,
        required: flag(cx, &obj, &at, "required"),
        default_value,
        options: str_list(cx, &obj, &at, "options"),
        additional_info: opt_nonempty(cx, &obj, &at, "additionalinfo"),
        hidden: hidden(cx, &obj, &at),
        hidden_username: flag(cx, &obj, &at, "hiddenusername"),
        hidden_password: flag(cx, &obj, &at, "hiddenpassword"),
        advanced: flag(cx, &obj, &at, "advanced"),
        section: opt_nonempty(cx, &obj, &at, "section"),
        name,
    })
}

/// `defaultvalue`: a bool for type 8, a string otherwise (a list of strings for a list).
fn default_value(
    cx: &mut Cx<'_>,
    at: &At<'_>,
    v: &Value,
    param_type: i64,
) -> Option<serde_json::Value> {
    let v = untag(v);
    if matches!(v, Value::Null) {
        return None;
    }
    if param_type == 8 {
        return match bool_value(v) {
            Some(b) => Some(serde_json::Value::Bool(b)),
            None => {
                cx.error(
                    at,
                    format!(
                        "a boolean parameter's defaultvalue must be true or false, found {}",
                        describe(v)
                    ),
                );
                None
            }
        };
    }
    match v {
        Value::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match cx.scalar_string(&at.idx(i), item) {
                    Some(s) => out.push(serde_json::Value::String(s)),
                    None if matches!(untag(item), Value::Null) => {}
                    None => cx.error(
                        &at.idx(i),
                        format!(
                            "defaultvalue items must be scalars, found {}",
                            describe(item)
                        ),
                    ),
                }
            }
            Some(serde_json::Value::Array(out))
        }
        Value::Mapping(_) => {
            cx.error(
                at,
                format!("defaultvalue must be a scalar, found {}", describe(v)),
            );
            None
        }
        _ => cx.scalar_string(at, v).map(serde_json::Value::String),
    }
}

fn command(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<Command> {
    let obj = element(cx, at, v, "a command")?;
    let name = req_str(cx, &obj, at, "name")?;
    let at = at.labelled(Label::Command(&name));
    let (arguments, outputs) = arguments_and_outputs(cx, &obj, &at, "arguments");
    Some(Command {
        description: str_or_empty(cx, &obj, &at, "description"),
        arguments,
        outputs,
        deprecated: flag(cx, &obj, &at, "deprecated"),
        hidden: hidden(cx, &obj, &at),
        execution: flag(cx, &obj, &at, "execution"),
        polling: flag(cx, &obj, &at, "polling"),
        timeout: opt_u64(cx, &obj, &at, "timeout"),
        name,
    })
}

fn arguments_and_outputs(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    args_key: &'static str,
) -> (Vec<Argument>, Vec<Output>) {
    let (ak, args) = seq(cx, obj, at, args_key);
    let args_at = at.key(ak);
    let mut arguments = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        arguments.extend(argument(cx, &args_at.idx(i), a));
    }
    let (ok, outs) = seq(cx, obj, at, "outputs");
    let outs_at = at.key(ok);
    let mut outputs = Vec::with_capacity(outs.len());
    for (i, o) in outs.iter().enumerate() {
        outputs.extend(output(cx, &outs_at.idx(i), o));
    }
    (arguments, outputs)
}

fn argument(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<Argument> {
    let obj = element(cx, at, v, "an argument")?;
    let name = req_str(cx, &obj, at, "name")?;
    let at = at.labelled(Label::Argument(&name));
    let default_value = match obj.get("defaultValue") {
        None => None,
        Some((k, dv)) => {
            let at = at.key(k);
            match untag(dv) {
                Value::Null => None,
                Value::Sequence(_) | Value::Mapping(_) => {
                    cx.error(
                        &at,
                        format!(
                            "field 'defaultValue' must be a scalar, found {}",
                            describe(dv)
                        ),
                    );
                    None
                }
                _ => cx.scalar_string(&at, dv),
            }
        }
    };
    Some(Argument {
        description: str_or_empty(cx, &obj, &at, "description"),
        required: flag(cx, &obj, &at, "required"),
        default: flag(cx, &obj, &at, "default"),
        is_array: flag(cx, &obj, &at, "isArray"),
        auto: opt_nonempty(cx, &obj, &at, "auto"),
        predefined: str_list(cx, &obj, &at, "predefined"),
        default_value,
        secret: flag(cx, &obj, &at, "secret"),
        deprecated: flag(cx, &obj, &at, "deprecated"),
        hidden: hidden(cx, &obj, &at),
        name,
    })
}

fn output(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<Output> {
    let obj = element(cx, at, v, "an output")?;
    let context_path = if obj.get("contextPath").is_some() || obj.get("contentPath").is_none() {
        req_str(cx, &obj, at, "contextPath")?
    } else {
        req_str(cx, &obj, at, "contentPath")?
    };
    Some(Output {
        context_path,
        description: str_or_empty(cx, &obj, at, "description"),
        output_type: opt_nonempty(cx, &obj, at, "type"),
    })
}

pub(crate) fn script(cx: &mut Cx<'_>, root: &Value, file: &str) -> Option<Script> {
    let at = At::ROOT;
    let obj = root_obj(cx, root)?;
    let (id, name) = identity(cx, &obj, &at, "script")?;
    let comment = str_or_empty(cx, &obj, &at, "comment");
    let (arguments, outputs) = {
        let at = at.labelled(Label::Command(&name));
        arguments_and_outputs(cx, &obj, &at, "args")
    };
    let timeout = match obj.get("timeout") {
        None => None,
        Some((k, v)) => {
            let at = at.key(k);
            match untag(v) {
                Value::Null => None,
                Value::Number(n) => n.as_u64().or_else(|| {
                    cx.error(&at, format!("field 'timeout' must be a duration, found {}", describe(v)));
                    None
                }),
                Value::String(s) => duration_secs(s).or_else(|| {
                    cx.error(&at, format!("field 'timeout' must be a duration such as \"300s\" or \"5m\", found {}", describe(v)));
                    None
                }),
                _ => {
                    cx.error(&at, format!("field 'timeout' must be a duration, found {}", describe(v)));
                    None
                }
            }
        }
    };
    let signature = Command {
        name: name.clone(),
        description: comment.clone(),
        arguments,
        outputs,
        deprecated: flag(cx, &obj, &at, "deprecated"),
        hidden: hidden(cx, &obj, &at),
        execution: false,
        polling: flag(cx, &obj, &at, "polling"),
        timeout,
    };
    Some(Script {
        id,
        name,
        comment,
        tags: str_list(cx, &obj, &at, "tags"),
        signature,
        script_type: str_or_empty(cx, &obj, &at, "type"),
        file: file.to_owned(),
    })
}

/// Seconds of a script timeout: `300`, `300s`, `5m`, `1h30m`, `0s`, `500ms` (rounded down).
fn duration_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let mut total_ns: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let ns = n * scale;
        if !ns.is_finite() || !(0.0..=1e30).contains(&ns) {
            return None;
        }
        total_ns = total_ns.saturating_add(ns as u128);
    }
    u64::try_from(total_ns / 1_000_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::duration_secs;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("300"), Some(300));
        assert_eq!(duration_secs("300s"), Some(300));
        assert_eq!(duration_secs("5m"), Some(300));
        assert_eq!(duration_secs("1h30m"), Some(5400));
        assert_eq!(duration_secs("500ms"), Some(0));
        assert_eq!(duration_secs("0s"), Some(0));
        assert_eq!(duration_secs("soon"), None);
        assert_eq!(duration_secs("5x"), None);
        assert_eq!(duration_secs(""), None);
    }
}
