//! `${...}` interpolation in `simple` values and war-room arguments (§3.5).

use crate::path::eval_path;
use crate::scan::interpolation_end;
use crate::{DtError, Scope};
use serde_json::Value;

/// The outcome of interpolating a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpolated {
    /// The value resolved to nothing or to the empty string: treat the argument as not
    /// supplied (so its default applies and a `required` check fails).
    Missing,
    /// The value: raw JSON under the whole-value rule, a string under the template rule.
    Value(Value),
}

/// Interpolates `template` against `scope`.
///
/// * **Whole-value rule:** when the trimmed template is exactly one `${expr}`, the result is the
///   raw DT value (string, number, bool, object or list); nothing → [`Interpolated::Missing`].
/// * **Template rule:** otherwise every `${expr}` is replaced by [`to_display_string`] of its
///   value (nothing → empty string) and the result is a string.
/// * A result that is the empty string is [`Interpolated::Missing`].
/// * A `${` without its matching `}` stays literal text; nested braces, parentheses and quotes
///   inside selectors are honoured when looking for the match.
pub fn interpolate(template: &str, scope: &Scope<'_>) -> Result<Interpolated, DtError> {
    let t = template.trim();
    if t.starts_with("${") && interpolation_end(t, 0) == Some(t.len() - 1) {
        let expr = t.get(2..t.len() - 1).unwrap_or_default();
        return Ok(match eval_path(expr, scope)? {
            None => Interpolated::Missing,
            Some(Value::String(s)) if s.is_empty() => Interpolated::Missing,
            Some(v) => Interpolated::Value(v),
        });
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find("${") {
        out.push_str(rest.get(..pos).unwrap_or_default());
        let tail = rest.get(pos..).unwrap_or_default();
        match interpolation_end(tail, 0) {
            Some(end) => {
                let expr = tail.get(2..end).unwrap_or_default();
                if let Some(v) = eval_path(expr, scope)? {
                    write_display(&v, &mut out);
                }
                rest = tail.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push_str("${");
                rest = tail.get(2..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    Ok(if out.is_empty() {
        Interpolated::Missing
    } else {
        Interpolated::Value(Value::String(out))
    })
}

/// Checks the syntax of every `${expr}` in `template` without evaluating it (see
/// [`check_path`](crate::check_path)); a `${` without its matching `}` stays literal text when
/// interpolated, so it is not an error here either.
pub fn check_template(template: &str) -> Result<(), DtError> {
    let mut rest = template;
    while let Some(pos) = rest.find("${") {
        let tail = rest.get(pos..).unwrap_or_default();
        match interpolation_end(tail, 0) {
            Some(end) => {
                crate::path::check_path(tail.get(2..end).unwrap_or_default())?;
                rest = tail.get(end + 1..).unwrap_or_default();
            }
            None => rest = tail.get(2..).unwrap_or_default(),
        }
    }
    Ok(())
}

/// The first `${` of a template that is never closed, described for a person (`None`: every
/// `${` is closed). [`interpolate`] keeps such a `${` as literal text, so a typo such as
/// `${incident.[severity}` reaches a command as those characters; `validate` warns about it.
pub fn unclosed_interpolation(template: &str) -> Option<String> {
    let mut from = 0;
    while let Some(found) = template.get(from..).and_then(|t| t.find("${")) {
        let pos = from + found;
        match crate::scan::interpolation_end(template, pos) {
            Some(end) => from = end + 1,
            None => {
                let column = |byte: usize| template[..byte].chars().count() + 1;
                // The innermost `(` or `[` still open at the end: what swallowed the `}`.
                let mut open: Vec<(char, usize)> = Vec::new();
                for (i, c) in template[pos + 2..].char_indices() {
                    match c {
                        '(' | '[' => open.push((c, pos + 2 + i)),
                        ')' | ']' => {
                            open.pop();
                        }
                        _ => {}
                    }
                }
                let inside = match open.last() {
                    Some(&(c, at)) => format!(
                        "; the '{c}' at column {} inside it is never closed",
                        column(at)
                    ),
                    None => String::new(),
                };
                return Some(format!(
                    "the '${{' at column {} is never closed{inside}, so the value is used as literal text",
                    column(pos)
                ));
            }
        }
    }
    None
}

/// The string form of a value in a template: strings as they are, numbers and booleans in JSON
/// form, lists joined with `,` (elements in this same form, `null` as empty), objects as
/// compact JSON, `null` as the empty string.
pub fn to_display_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => {
            let mut out = String::new();
            write_display(v, &mut out);
            out
        }
    }
}

fn write_display(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_display(x, out);
            }
        }
        Value::Object(_) => out.push_str(&serde_json::to_string(v).unwrap_or_default()),
    }
}
