//! Evaluation of playbook argument values, condition atoms and complex filters (§2.6, §2.7,
//! §3.5, §3.6, §7.3, §7.4, §8.6 of the semantics).
//!
//! The playbook runner hands this module parsed model values ([`ArgValue`], [`Atom`],
//! [`ConditionBranch`]) together with a read-only [`Scope`] (the task's view of the context) and
//! gets plain JSON back. Nothing here mutates the context or performs IO, so every rule can be
//! tested with a literal JSON context.
//!
//! Why the pieces are shaped the way they are:
//!
//! * A `complex` value is evaluated in the fixed order root → filters → accessor →
//!   transformers → single-element normalisation (§3.6). Filters keep root *elements*, so a
//!   context side of a filter whose path starts with the root path is evaluated relative to the
//!   element being tested; every other context path stays global (§13 fact 5). That relative
//!   view is carried in an internal environment so nested `complex` operands see it too.
//! * Conditions are AND-of-OR groups everywhere (§13 fact 1); an empty condition holds.
//! * Unknown operators and transformers, bad casts and invalid regexes are errors, never a
//!   silent `false`: a mistyped operator in a playbook must fail the task loudly rather than
//!   quietly pick the wrong branch.
//! * Category prefixes from older content (`general.isExists`, `string.isEqual`,
//!   `number.greaterThan`, `general.uniq`) are accepted through [`normalize_operator`].

pub(crate) mod dates;
/// Epoch seconds (or milliseconds from 1e11 on) as a time, as DT date transformers read them.
pub use dates::from_epoch as time_from_epoch;
mod operators;
mod transformers;

use serde_json::Value;
use xsoar_content::{ArgValue, Atom, Complex, ConditionBranch, Operand};
use xsoar_context::{Interpolated, Scope};

/// An evaluation failure. The message names the operator, transformer, argument or path
/// involved and the offending value, so it can be shown as the task's error as is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// Human-readable description of what failed.
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl From<xsoar_context::DtError> for EvalError {
    fn from(e: xsoar_context::DtError) -> Self {
        EvalError::new(e.to_string())
    }
}

/// Where an operand is evaluated: the task's scope, plus (inside a `complex` filter) the root
/// path and the element currently being tested.
#[derive(Clone, Copy)]
pub(crate) struct Env<'e, 'a> {
    scope: &'e Scope<'a>,
    rel: Option<(&'e str, &'e Value)>,
}

impl<'e, 'a> Env<'e, 'a> {
    fn global(scope: &'e Scope<'a>) -> Self {
        Env { scope, rel: None }
    }
}

/// Evaluates a task argument (`scriptarguments` value, playbook input, field mapping).
///
/// `simple` values are interpolated (§3.5): a whole-value `${expr}` yields the raw value, a
/// template yields a string. `complex` values follow §3.6. A value that resolves to nothing or
/// to `""` (either form) is `None`, i.e. "not supplied".
pub fn eval_arg(arg: &ArgValue, scope: &Scope) -> Result<Option<Value>, EvalError> {
    Ok(eval_arg_in(arg, &Env::global(scope))?.filter(|v| v.as_str() != Some("")))
}

/// Evaluates one side of a condition atom or a transformer argument.
///
/// `iscontext: true` + `simple` is a bare context path (one enclosing `${...}` is tolerated);
/// `iscontext: false` + `simple` is a literal in which `${...}` is interpolated (an empty
/// literal stays `""` here, unlike [`eval_arg`]); `complex` is evaluated like [`eval_arg`].
pub fn eval_operand(op: &Operand, scope: &Scope) -> Result<Option<Value>, EvalError> {
    eval_operand_in(op, &Env::global(scope))
}

/// Evaluates an AND-of-OR condition (`conditions[].condition`, `loop.builtincondition`).
/// An empty list holds.
pub fn eval_condition(groups: &[Vec<Atom>], scope: &Scope) -> Result<bool, EvalError> {
    eval_groups(groups, &Env::global(scope))
}

/// Picks the branch of a builtin condition task: the first label whose condition holds, in
/// list order; `None` means `#default#`.
pub fn choose_branch(
    branches: &[ConditionBranch],
    scope: &Scope,
) -> Result<Option<String>, EvalError> {
    for branch in branches {
        if eval_condition(&branch.condition, scope)? {
            return Ok(Some(branch.label.clone()));
        }
    }
    Ok(None)
}

/// Evaluates one condition atom.
pub fn eval_atom(atom: &Atom, scope: &Scope) -> Result<bool, EvalError> {
    eval_atom_in(atom, &Env::global(scope))
}

/// Canonical ids of every supported filter/condition operator.
pub fn known_operators() -> &'static [&'static str] {
    operators::OPERATORS
}

/// Canonical ids of every supported transformer.
pub fn known_transformers() -> &'static [&'static str] {
    transformers::TRANSFORMERS
}

/// Strips a category prefix from an operator or transformer id, mapping the prefixed
/// equality/containment ids to their modern names: `general.isExists` → `isExists`,
/// `string.isEqual` → `isEqualString`, `number.isEqual` → `isEqualNumber`,
/// `number.greaterThan` → `greaterThan`, `general.uniq` → `uniq`. Ids without a prefix are
/// returned trimmed.
pub fn normalize_operator(op: &str) -> String {
    let op = op.trim();
    let Some((category, name)) = op.split_once('.') else {
        return op.to_owned();
    };
    if category.is_empty()
        || name.is_empty()
        || !category
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return op.to_owned();
    }
    let mapped = match (category.to_ascii_lowercase().as_str(), name) {
        ("string", "isEqual") => "isEqualString",
        ("string", "isNotEqual") => "isNotEqualString",
        ("string", "contains") => "containsString",
        ("string", "notContains") => "notContainsString",
        ("number", "isEqual") => "isEqualNumber",
        ("number", "isNotEqual") => "isNotEqualNumber",
        ("general", "contains") => "containsGeneral",
        ("general", "notContains") => "notContainsGeneral",
        _ => name,
    };
    mapped.to_owned()
}

/// The canonical id of a filter/condition operator as written in content (category prefixes
/// and letter case resolved as when the playbook runs), or `Err` with the closest known id.
pub fn resolve_operator(written: &str) -> Result<&'static str, &'static str> {
    lookup_id(written, operators::OPERATORS)
}

/// The canonical id of a transformer as written in content, or `Err` with the closest known
/// id; as [`resolve_operator`].
pub fn resolve_transformer(written: &str) -> Result<&'static str, &'static str> {
    lookup_id(written, transformers::TRANSFORMERS)
}

/// Exact match after [`normalize_operator`], then a unique case-insensitive match; else the
/// closest known id.
fn lookup_id(written: &str, table: &'static [&'static str]) -> Result<&'static str, &'static str> {
    let norm = normalize_operator(written);
    if let Some(found) = table.iter().find(|k| **k == norm) {
        return Ok(found);
    }
    let mut ci = table.iter().filter(|k| k.eq_ignore_ascii_case(&norm));
    if let (Some(found), None) = (ci.next(), ci.next()) {
        return Ok(found);
    }
    Err(table
        .iter()
        .min_by_key(|k| edit_distance(&k.to_ascii_lowercase(), &norm.to_ascii_lowercase()))
        .copied()
        .unwrap_or_default())
}

/// Resolves an id against a table ([`lookup_id`]). Unknown ids are an error naming the
/// closest known one.
pub(crate) fn resolve_id(
    kind: &str,
    written: &str,
    table: &'static [&'static str],
) -> Result<&'static str, EvalError> {
    let closest = match lookup_id(written, table) {
        Ok(found) => return Ok(found),
        Err(closest) => closest,
    };
    Err(EvalError::new(format!(
        "unknown {kind} '{written}' (closest match: '{closest}'; known: {})",
        table.join(", ")
    )))
}

/// Levenshtein distance over chars (for "closest match" hints).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A short, single-line rendering of a value for error messages.
pub(crate) fn show(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Single-element normalisation (§3.3 step 5): `[x]` → `x`, `[]` and `null` → nothing.
pub(crate) fn normalise(v: Option<Value>) -> Option<Value> {
    match v {
        Some(Value::Array(mut a)) if a.len() == 1 => normalise(a.pop()),
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(Value::Null) => None,
        other => other,
    }
}

/// A value seen as a list of elements: an array's elements, or the value itself.
pub(crate) fn into_items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

pub(crate) fn eval_arg_in(arg: &ArgValue, env: &Env) -> Result<Option<Value>, EvalError> {
    match arg {
        ArgValue::Simple(s) => Ok(match xsoar_context::interpolate(s, env.scope)? {
            Interpolated::Missing | Interpolated::Value(Value::Null) => None,
            Interpolated::Value(Value::String(s)) if s.is_empty() => None,
            Interpolated::Value(v) => Some(v),
        }),
        ArgValue::Complex(c) => eval_complex(c, env),
    }
}

pub(crate) fn eval_operand_in(op: &Operand, env: &Env) -> Result<Option<Value>, EvalError> {
    match &op.value {
        None => Ok(None),
        Some(ArgValue::Simple(s)) if op.is_context => eval_context_path(s, env),
        // Plain literal text is the value as written, including `""` (which interpolation
        // would report as missing): `isEqualString(x, "")` must compare with the empty string.
        Some(ArgValue::Simple(s)) if !s.contains("${") => Ok(Some(Value::String(s.clone()))),
        Some(ArgValue::Simple(s)) => Ok(match xsoar_context::interpolate(s, env.scope)? {
            Interpolated::Missing | Interpolated::Value(Value::Null) => None,
            Interpolated::Value(v) => Some(v),
        }),
        Some(ArgValue::Complex(c)) => eval_complex(c, env),
    }
}

/// Strips one enclosing `${...}` when it spans the whole (trimmed) text; `None` otherwise.
/// The closing brace is found by a scanner that honours quotes and nested brackets, so
/// `${a(val.x == '}')}` is one expression.
pub(crate) fn strip_whole_braces(text: &str) -> Option<&str> {
    let t = text.trim();
    let inner = t.strip_prefix("${")?;
    let end = matching_close(inner)?;
    (end == inner.len() - 1).then(|| inner[..end].trim())
}

/// Byte index in `s` of the `}` closing a `${` whose body starts at `s[0]`.
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A context path: relative to the filter element when it lies under the filter's root,
/// otherwise resolved against the whole view. Mixed templates (`a-${x}`) are interpolated.
fn eval_context_path(path: &str, env: &Env) -> Result<Option<Value>, EvalError> {
    let trimmed = path.trim();
    let bare = match strip_whole_braces(trimmed) {
        Some(inner) => inner,
        None if trimmed.contains("${") => {
            return Ok(match xsoar_context::interpolate(trimmed, env.scope)? {
                Interpolated::Missing | Interpolated::Value(Value::Null) => None,
                Interpolated::Value(v) => Some(v),
            });
        }
        None => trimmed,
    };
    if bare.is_empty() {
        return Ok(None);
    }
    if let Some((root, element)) = env.rel {
        if let Some(rest) = relative_rest(bare, root) {
            return Ok(normalise(xsoar_context::eval_path_on(rest, element)?));
        }
    }
    Ok(normalise(xsoar_context::eval_path(bare, env.scope)?))
}

/// The part of `path` below `root` (`""` = the element itself), if `path` lies under it.
/// A root written with selectors (`DBotScore(val.Score > 1)`) also matches its plain form.
fn relative_rest<'p>(path: &'p str, root: &str) -> Option<&'p str> {
    let plain = strip_selectors(root);
    let candidates = [root.trim(), plain.as_str()];
    let found = candidates
        .into_iter()
        .filter(|c| !c.is_empty())
        .find_map(|c| {
            let rest = path.strip_prefix(c)?;
            if rest.is_empty() {
                Some("")
            } else if let Some(r) = rest.strip_prefix('.') {
                Some(r)
            } else if rest.starts_with('(') || rest.starts_with('[') {
                Some(rest)
            } else {
                None
            }
        });
    found
}

/// `A(x).B.[0]` → `A.B`: the path with selectors and index segments removed.
fn strip_selectors(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in path.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' if depth > 0 => quote = Some(c),
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split('.')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// §3.6: root → filters → accessor → transformers → normalisation.
fn eval_complex(c: &Complex, env: &Env) -> Result<Option<Value>, EvalError> {
    let root_path = strip_whole_braces(&c.root).unwrap_or(c.root.trim());
    let mut cur = eval_context_path(root_path, env)?;
    if !c.filters.is_empty() {
        if let Some(v) = cur {
            let mut kept = Vec::new();
            for element in into_items(v) {
                let holds = {
                    let sub = Env {
                        scope: env.scope,
                        rel: Some((root_path, &element)),
                    };
                    eval_groups(&c.filters, &sub)?
                };
                if holds {
                    kept.push(element);
                }
            }
            cur = Some(Value::Array(kept));
        }
    }
    if let Some(accessor) = c
        .accessor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        if let Some(v) = cur {
            let mut out = Vec::new();
            for element in into_items(v) {
                match xsoar_context::eval_path_on(accessor, &element)? {
                    Some(Value::Array(a)) => out.extend(a),
                    Some(Value::Null) | None => {}
                    Some(other) => out.push(other),
                }
            }
            cur = Some(Value::Array(out));
        }
    }
    cur = normalise(cur);
    for t in &c.transformers {
        cur = normalise(transformers::apply(t, cur, env)?);
    }
    Ok(normalise(cur))
}

/// AND of OR-groups; an empty list, and an empty group, hold.
fn eval_groups(groups: &[Vec<Atom>], env: &Env) -> Result<bool, EvalError> {
    for group in groups {
        if group.is_empty() {
            continue;
        }
        let mut any = false;
        for atom in group {
            if eval_atom_in(atom, env)? {
                any = true;
                break;
            }
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

fn eval_atom_in(atom: &Atom, env: &Env) -> Result<bool, EvalError> {
    let op = resolve_id("operator", &atom.operator, operators::OPERATORS)?;
    let left = eval_operand_in(&atom.left, env)?;
    let right = match &atom.right {
        Some(r) => eval_operand_in(r, env)?,
        None => None,
    };
    operators::apply(op, left, right, atom.ignore_case)
}
