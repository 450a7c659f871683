//! Transformers (§7.3): the `complex.transformers` pipeline steps.
//!
//! Each transformer receives the current value (`None` = nothing) and returns the next one.
//! Two scopes exist, as in XSOAR:
//!
//! * **per item** transformers (`toUpperCase`, `replace`, arithmetic, dates, ...) map every
//!   element of a list (dropping `null` elements) or the single value;
//! * **whole** transformers (`join`, `count`, `uniq`, `atIndex`, `DT`, ...) see the list as a
//!   whole; a scalar counts as a one-element list.
//!
//! Nothing in gives nothing out, except `count` (0), `append` (the appended items) and
//! `If-Then-Else` (which tests the missing value). Arguments are operands evaluated like
//! condition sides (literal with `${}` interpolation, or context path). Casting failures (an
//! object upper-cased, `"abc"` added to a number) are errors naming the transformer and the
//! value, because a silently wrong argument is worse than a failed task.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;
use xsoar_content::{ArgValue, Transformer};
use xsoar_context::to_display_string;

use super::{
    dates, eval_operand_in, into_items, resolve_id, show, strip_whole_braces, Env, EvalError,
};

/// Canonical transformer ids.
pub(crate) const TRANSFORMERS: &[&str] = &[
    "toUpperCase",
    "toLowerCase",
    "trim",
    "replace",
    "replaceMatch",
    "concat",
    "split",
    "splitAndTrim",
    "join",
    "substring",
    "substringFrom",
    "substringTo",
    "indexOf",
    "atIndex",
    "slice",
    "sliceByItem",
    "append",
    "uniq",
    "count",
    "sort",
    "getField",
    "DT",
    "Stringify",
    "FirstArrayElement",
    "LastArrayElement",
    "GetFirstObject",
    "addition",
    "subtraction",
    "multiply",
    "division",
    "modulus",
    "round",
    "abs",
    "ParseJSON",
    "Base64Encode",
    "Base64Decode",
    "URLEncode",
    "URLDecode",
    "If-Then-Else",
    "TimeStampToDate",
    "DateStringToISOFormat",
    "ModifyDateTime",
    "FormattedDateToEpoch",
];

/// Applies one transformer to the current value.
pub(crate) fn apply(
    t: &Transformer,
    input: Option<Value>,
    env: &Env,
) -> Result<Option<Value>, EvalError> {
    let name = resolve_id("transformer", &t.operator, TRANSFORMERS)?;
    let tx = Tx { name, t, env };
    match name {
        "count" => {
            let n = match input {
                None | Some(Value::Null) => 0,
                Some(Value::Array(a)) => a.len(),
                Some(_) => 1,
            };
            return Ok(Some(Value::from(n)));
        }
        "append" => {
            let mut items = input.map(into_items).unwrap_or_default();
            if let Some(extra) = tx.arg("item")? {
                items.extend(into_items(extra));
            }
            return Ok(Some(Value::Array(items)));
        }
        "If-Then-Else" => return tx.if_then_else(input),
        _ => {}
    }
    let Some(input) = input else { return Ok(None) };
    tx.run(input)
}

/// One transformer being applied.
struct Tx<'t, 'e, 'a> {
    name: &'static str,
    t: &'t Transformer,
    env: &'t Env<'e, 'a>,
}

impl Tx<'_, '_, '_> {
    fn err(&self, what: impl std::fmt::Display) -> EvalError {
        EvalError::new(format!("transformer '{}': {what}", self.name))
    }

    /// An argument's evaluated value (`None` when absent or resolving to nothing).
    fn arg(&self, key: &str) -> Result<Option<Value>, EvalError> {
        let operand = self.t.args.get(key).or_else(|| {
            self.t
                .args
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        });
        match operand {
            Some(op) => eval_operand_in(op, self.env)
                .map_err(|e| self.err(format!("argument '{key}': {e}"))),
            None => Ok(None),
        }
    }

    fn arg_text(&self, key: &str) -> Result<Option<String>, EvalError> {
        Ok(self.arg(key)?.map(|v| to_display_string(&v)))
    }

    fn required_text(&self, key: &str) -> Result<String, EvalError> {
        self.arg_text(key)?
            .ok_or_else(|| self.err(format!("argument '{key}' is required")))
    }

    fn arg_number(&self, key: &str) -> Result<Option<f64>, EvalError> {
        match self.arg(key)? {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => self
                .number(&v)
                .map(Some)
                .map_err(|_| self.err(format!("argument '{key}': {} is not a number", show(&v)))),
        }
    }

    fn arg_int(&self, key: &str) -> Result<Option<i64>, EvalError> {
        match self.arg_number(key)? {
            Some(n) if n.fract() != 0.0 => {
                Err(self.err(format!("argument '{key}': {n} is not a whole number")))
            }
            Some(n) => Ok(Some(n as i64)),
            None => Ok(None),
        }
    }

    fn arg_bool(&self, key: &str) -> Result<bool, EvalError> {
        Ok(match self.arg(key)? {
            Some(Value::Bool(b)) => b,
            Some(v) => {
                matches!(
                    to_display_string(&v).trim().to_ascii_lowercase().as_str(),
                    "true" | "yes" | "1"
                )
            }
            None => false,
        })
    }

    /// The string form of a scalar; objects and lists cannot be cast.
    fn text(&self, v: &Value) -> Result<String, EvalError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Ok(String::new()),
            Value::Object(_) => Err(EvalError::new(format!(
                "transformer '{}' cannot convert an object to a string: {}",
                self.name,
                show(v)
            ))),
            Value::Array(_) => Err(EvalError::new(format!(
                "transformer '{}' cannot convert a list to a string: {}",
                self.name,
                show(v)
            ))),
        }
    }

    fn number(&self, v: &Value) -> Result<f64, EvalError> {
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        };
        n.ok_or_else(|| self.err(format!("{} is not a number", show(v))))
    }

    fn number_value(&self, f: f64) -> Result<Value, EvalError> {
        if !f.is_finite() {
            return Err(self.err(format!("result {f} is not a finite number")));
        }
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            return Ok(Value::from(f as i64));
        }
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| self.err(format!("result {f} is not a finite number")))
    }

    /// Maps every element (or the single value); `null` elements are dropped.
    fn per_item(
        &self,
        input: Value,
        mut f: impl FnMut(&Value) -> Result<Option<Value>, EvalError>,
    ) -> Result<Option<Value>, EvalError> {
        match input {
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for e in a.iter().filter(|e| !e.is_null()) {
                    if let Some(v) = f(e)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Null => Ok(None),
            other => f(&other),
        }
    }

    fn per_text(
        &self,
        input: Value,
        f: impl Fn(String) -> Result<String, EvalError>,
    ) -> Result<Option<Value>, EvalError> {
        self.per_item(input, |v| Ok(Some(Value::String(f(self.text(v)?)?))))
    }

    fn per_number(
        &self,
        input: Value,
        f: impl Fn(f64) -> Result<f64, EvalError>,
    ) -> Result<Option<Value>, EvalError> {
        self.per_item(input, |v| self.number_value(f(self.number(v)?)?).map(Some))
    }

    fn run(&self, input: Value) -> Result<Option<Value>, EvalError> {
        match self.name {
            "toUpperCase" => self.per_text(input, |s| Ok(s.to_uppercase())),
            "toLowerCase" => self.per_text(input, |s| Ok(s.to_lowercase())),
            "trim" => self.per_text(input, |s| Ok(s.trim().to_owned())),
            "replace" => {
                let from = self.arg_text("toReplace")?.unwrap_or_default();
                let to = self.arg_text("replaceWith")?.unwrap_or_default();
                let limit = self.arg_int("limit")?.filter(|n| *n > 0);
                self.per_text(input, |s| {
                    Ok(match limit {
                        _ if from.is_empty() => s,
                        Some(n) => s.replacen(&from, &to, usize::try_from(n).unwrap_or(usize::MAX)),
                        None => s.replace(&from, &to),
                    })
                })
            }
            "replaceMatch" => {
                let pattern = self.required_text("regex")?;
                let re = regex::Regex::new(&pattern).map_err(|e| {
                    self.err(format!("invalid regular expression '{pattern}': {e}"))
                })?;
                let to = self.arg_text("replaceWith")?.unwrap_or_default();
                self.per_text(input, |s| Ok(re.replace_all(&s, to.as_str()).into_owned()))
            }
            "concat" => {
                let prefix = self.arg_text("prefix")?.unwrap_or_default();
                let suffix = self.arg_text("suffix")?.unwrap_or_default();
                self.per_text(input, |s| Ok(format!("{prefix}{s}{suffix}")))
            }
            "split" | "splitAndTrim" => {
                let delimiter = self
                    .arg_text("delimiter")?
                    .unwrap_or_else(|| ",".to_owned());
                let trim = self.name == "splitAndTrim";
                let mut out = Vec::new();
                for item in into_items(input).iter().filter(|v| !v.is_null()) {
                    let s = self.text(item)?;
                    let pieces: Vec<String> = if delimiter.is_empty() {
                        s.chars().map(String::from).collect()
                    } else {
                        s.split(delimiter.as_str()).map(str::to_owned).collect()
                    };
                    // Empty pieces stay, so later pieces keep their index (`a, ,b` → a, "", b).
                    for piece in pieces {
                        let piece = if trim { piece.trim().to_owned() } else { piece };
                        out.push(Value::String(piece));
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            "join" => {
                let separator = self
                    .arg_text("separator")?
                    .unwrap_or_else(|| ",".to_owned());
                let parts: Vec<String> = into_items(input).iter().map(to_display_string).collect();
                Ok(Some(Value::String(parts.join(&separator))))
            }
            "substring" | "substringFrom" | "substringTo" => {
                let from = if self.name == "substringTo" {
                    0
                } else {
                    self.arg_int("from")?.unwrap_or(0)
                };
                let to = if self.name == "substringFrom" {
                    None
                } else {
                    self.arg_int("to")?
                };
                self.per_text(input, |s| {
                    let chars: Vec<char> = s.chars().collect();
                    let (a, b) = bounds(chars.len(), from, to);
                    Ok(chars[a..b].iter().collect())
                })
            }
            "indexOf" => {
                let item = self
                    .arg("item")?
                    .ok_or_else(|| self.err("argument 'item' is required"))?;
                let wanted = to_display_string(&item);
                let pos = into_items(input)
                    .iter()
                    .position(|v| to_display_string(v) == wanted);
                Ok(Some(pos.map_or(Value::from(-1), Value::from)))
            }
            "atIndex" => {
                let index = self
                    .arg_int("index")?
                    .ok_or_else(|| self.err("argument 'index' is required"))?;
                let mut items = into_items(input);
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let i = if index < 0 { len + index } else { index };
                if i < 0 || i >= len {
                    return Ok(None);
                }
                Ok(Some(items.swap_remove(usize::try_from(i).unwrap_or(0))))
            }
            "slice" => {
                let from = self.arg_int("from")?.unwrap_or(0);
                let to = self.arg_int("to")?;
                let items = into_items(input);
                let (a, b) = bounds(items.len(), from, to);
                Ok(Some(Value::Array(items[a..b].to_vec())))
            }
            "sliceByItem" => {
                let from = self.arg_text("from")?;
                let to = self.arg_text("to")?;
                let items = into_items(input);
                let texts: Vec<String> = items.iter().map(to_display_string).collect();
                let start = match &from {
                    Some(f) => match texts.iter().position(|t| t == f) {
                        Some(i) => i,
                        None => return Ok(Some(Value::Array(Vec::new()))),
                    },
                    None => 0,
                };
                let end = match &to {
                    Some(t) => texts[start..]
                        .iter()
                        .position(|x| x == t)
                        .map_or(items.len(), |i| start + i),
                    None => items.len(),
                };
                Ok(Some(Value::Array(items[start..end].to_vec())))
            }
            "uniq" => {
                let mut out: Vec<Value> = Vec::new();
                for item in into_items(input) {
                    if !out.contains(&item) {
                        out.push(item);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            "sort" => {
                let descending = self.arg_bool("descending")?;
                let mut items = into_items(input);
                let numeric: Option<Vec<f64>> = items.iter().map(|v| self.number(v).ok()).collect();
                if let Some(keys) = numeric {
                    let mut pairs: Vec<(f64, Value)> = keys.into_iter().zip(items).collect();
                    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                    items = pairs.into_iter().map(|(_, v)| v).collect();
                } else {
                    items.sort_by_key(to_display_string);
                }
                if descending {
                    items.reverse();
                }
                Ok(Some(Value::Array(items)))
            }
            "getField" => {
                let field = self.required_text("field")?;
                let mut out = Vec::new();
                for item in into_items(input) {
                    match xsoar_context::eval_path_on(&field, &item).map_err(|e| self.err(e))? {
                        Some(Value::Array(a)) => out.extend(a),
                        Some(Value::Null) | None => {}
                        Some(v) => out.push(v),
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            "DT" => self.dt(input),
            "Stringify" => Ok(Some(match input {
                Value::String(s) => Value::String(s),
                other => Value::String(other.to_string()),
            })),
            "FirstArrayElement" | "GetFirstObject" => Ok(match input {
                Value::Array(a) => a.into_iter().next(),
                other => Some(other),
            }),
            "LastArrayElement" => Ok(match input {
                Value::Array(a) => a.into_iter().last(),
                other => Some(other),
            }),
            "addition" | "subtraction" | "multiply" | "division" | "modulus" => {
                let by = self
                    .arg_number("by")?
                    .ok_or_else(|| self.err("argument 'by' is required"))?;
                if by == 0.0 && matches!(self.name, "division" | "modulus") {
                    return Err(self.err("division by zero"));
                }
                self.per_number(input, |n| {
                    Ok(match self.name {
                        "addition" => n + by,
                        "subtraction" => n - by,
                        "multiply" => n * by,
                        "division" => n / by,
                        _ => n % by,
                    })
                })
            }
            "round" => {
                let decimals = self.arg_int("decimals")?.unwrap_or(0).clamp(0, 15);
                let factor = 10f64.powi(i32::try_from(decimals).unwrap_or(0));
                self.per_number(input, |n| Ok((n * factor).round() / factor))
            }
            "abs" => self.per_number(input, |n| Ok(n.abs())),
            "ParseJSON" => self.per_item(input, |v| match v {
                Value::String(s) => serde_json::from_str(s)
                    .map(Some)
                    .map_err(|e| self.err(format!("{} is not JSON: {e}", show(v)))),
                other => Ok(Some(other.clone())),
            }),
            "Base64Encode" => self.per_text(input, |s| Ok(STANDARD.encode(s.as_bytes()))),
            "Base64Decode" => self.per_text(input, |s| {
                let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                    .iter()
                    .find_map(|engine| engine.decode(compact.as_bytes()).ok())
                    .ok_or_else(|| self.err(format!("'{s}' is not base64")))?;
                String::from_utf8(bytes)
                    .map_err(|_| self.err(format!("'{s}' does not decode to UTF-8 text")))
            }),
            "URLEncode" => {
                let safe = self
                    .arg_text("safe_character")?
                    .unwrap_or_else(|| "/".to_owned());
                self.per_text(input, |s| Ok(url_encode(&s, &safe)))
            }
            "URLDecode" => self.per_text(input, |s| {
                url_decode(&s)
                    .ok_or_else(|| self.err(format!("'{s}' does not decode to UTF-8 text")))
            }),
            "TimeStampToDate" => self.per_item(input, |v| {
                let n = self
                    .number(v)
                    .map_err(|_| self.err(format!("{} is not a timestamp", show(v))))?;
                let date = dates::from_epoch(n)
                    .and_then(dates::format)
                    .ok_or_else(|| self.err(format!("{} is not a timestamp", show(v))))?;
                Ok(Some(Value::String(date)))
            }),
            "DateStringToISOFormat" => self.per_item(input, |v| {
                let date = dates::parse_value(v)
                    .and_then(dates::format)
                    .ok_or_else(|| self.err(format!("{} is not a date", show(v))))?;
                Ok(Some(Value::String(date)))
            }),
            "ModifyDateTime" => {
                let variation = self.required_text("variation")?;
                let delta = dates::parse_variation(&variation).ok_or_else(|| {
                    self.err(format!(
                        "'{variation}' is not a time variation (e.g. '1 day', '-2 hours', '3 weeks ago')"
                    ))
                })?;
                self.per_item(input, |v| {
                    let date = dates::parse_value(v)
                        .ok_or_else(|| self.err(format!("{} is not a date", show(v))))?;
                    let moved =
                        date.checked_add(delta)
                            .and_then(dates::format)
                            .ok_or_else(|| {
                                self.err(format!(
                                    "{} moved by '{variation}' is out of range",
                                    show(v)
                                ))
                            })?;
                    Ok(Some(Value::String(moved)))
                })
            }
            "FormattedDateToEpoch" => self.per_item(input, |v| {
                let date = dates::parse_value(v)
                    .ok_or_else(|| self.err(format!("{} is not a date", show(v))))?;
                Ok(Some(Value::from(date.unix_timestamp())))
            }),
            other => Err(self.err(format!("no implementation for '{other}'"))),
        }
    }

    /// `DT`: applies a DT expression to the current value. `.=expr` (or `=expr`) evaluates the
    /// JavaScript `expr` once with `val` bound to the whole current value; anything else is a
    /// path evaluated relative to the value. One enclosing `${...}` is stripped. A literal `dt`
    /// argument is taken as written (not interpolated against the context: `${.=val}` is the
    /// expression itself); an `iscontext` argument supplies the expression from the context.
    fn dt(&self, input: Value) -> Result<Option<Value>, EvalError> {
        let operand = self
            .t
            .args
            .get("dt")
            .ok_or_else(|| self.err("argument 'dt' is required"))?;
        let text = match &operand.value {
            Some(ArgValue::Simple(s)) if !operand.is_context => s.clone(),
            _ => match self.arg("dt")? {
                Some(Value::String(s)) => s,
                Some(other) => {
                    return Err(self.err(format!("{} is not a DT expression", show(&other))))
                }
                None => return Err(self.err("argument 'dt' resolves to nothing")),
            },
        };
        let expr = strip_whole_braces(&text).unwrap_or(text.trim());
        let js = expr.strip_prefix(".=").or_else(|| expr.strip_prefix('='));
        let out = match js {
            Some(js) => {
                Some(xsoar_context::eval_js(js, &[("val", &input)]).map_err(|e| self.err(e))?)
            }
            None => xsoar_context::eval_path_on(expr, &input).map_err(|e| self.err(e))?,
        };
        Ok(out.filter(|v| !v.is_null()))
    }

    /// `If-Then-Else`: with `equals`, tests `value == equals` (text forms); with `condition`,
    /// evaluates it as JavaScript with `value`, `lhs` (default: the value) and `rhs` bound;
    /// otherwise tests the value's truthiness. Returns `then` / `else`, or the unchanged value
    /// when that argument is absent.
    fn if_then_else(&self, input: Option<Value>) -> Result<Option<Value>, EvalError> {
        let value = input.clone().unwrap_or(Value::Null);
        let holds = if let Some(equals) = self.arg("equals")? {
            to_display_string(&value) == to_display_string(&equals)
        } else if let Some(condition) = self.arg_text("condition")? {
            let lhs = self.arg("lhs")?.unwrap_or_else(|| value.clone());
            let rhs = self.arg("rhs")?.unwrap_or(Value::Null);
            let result = xsoar_context::eval_js(
                &condition,
                &[("value", &value), ("lhs", &lhs), ("rhs", &rhs)],
            )
            .map_err(|e| self.err(format!("argument 'condition': {e}")))?;
            xsoar_context::js_truthy(&result)
        } else {
            xsoar_context::js_truthy(&value)
        };
        let chosen = self.arg(if holds { "then" } else { "else" })?;
        Ok(chosen.or(input))
    }
}

/// JavaScript-`slice` bounds: negative positions count from the end, both are clamped, and an
/// inverted range is empty.
fn bounds(len: usize, from: i64, to: Option<i64>) -> (usize, usize) {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |i: i64| -> usize {
        let i = if i < 0 { len_i + i } else { i };
        usize::try_from(i.clamp(0, len_i)).unwrap_or(0)
    };
    let a = clamp(from);
    let b = to.map_or(len, clamp);
    (a, b.max(a))
}

/// Percent-encodes every byte except unreserved characters and those in `safe`.
fn url_encode(s: &str, safe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = char::from(b);
        if b.is_ascii_alphanumeric() || "-_.~".contains(c) || (b.is_ascii() && safe.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (`+` is kept); malformed escapes are left as written.
fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}
