//! DT paths: parsing (§3.2) and evaluation (§3.3).
//!
//! Evaluation walks the steps left to right over borrowed references into the context and
//! copies only the final result, so reading one field of a 10 MB context costs what the field
//! costs. The walk is a loop over steps, and mapping over nested lists uses an explicit stack,
//! so neither a 100-segment path nor deeply nested data recurses. Paths are capped in length
//! and segment count with a clear error rather than an unbounded parse.

use crate::cache::{cached, ExprCache};
use crate::js::{engine::Outcome, JsExpr};
use crate::scan::{matching_bracket, matching_paren};
use crate::{DtError, Scope};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Longest DT expression accepted, in bytes.
pub(crate) const MAX_PATH_LEN: usize = 64 * 1024;
/// Most steps (names, indexes, selectors) in one path.
pub(crate) const MAX_STEPS: usize = 1024;

/// Parameters of selectors and mutators in paths.
pub(crate) const VAL: &[&str] = &["val"];

#[derive(Debug)]
pub(crate) enum Step {
    Name(Box<str>),
    Index(i64),
    /// `[a:b]`, end inclusive (§3.3, U6); open ends allowed.
    Range(Option<i64>, Option<i64>),
    Select {
        offset: usize,
        expr: JsExpr,
    },
}

#[derive(Debug)]
pub(crate) struct Path {
    pub(crate) steps: Vec<Step>,
    mutator: Option<(usize, JsExpr)>,
}

thread_local! {
    static PATHS: RefCell<ExprCache<Path>> = RefCell::new(ExprCache::new(4096));
}

/// Parses `expr` (no `${}`), through the per-thread cache.
pub(crate) fn parse_cached(expr: &str) -> Result<Rc<Path>, DtError> {
    cached(&PATHS, expr, parse)
}

fn err(expr: &str, at: usize, msg: impl Into<String>) -> DtError {
    DtError::new(expr, Some(at), msg)
}

/// Parses a bare DT expression.
pub(crate) fn parse(expr: &str) -> Result<Path, DtError> {
    if expr.len() > MAX_PATH_LEN {
        return Err(DtError::new(
            expr,
            None,
            format!(
                "expression is {} bytes long; the limit is {MAX_PATH_LEN}",
                expr.len()
            ),
        ));
    }
    let b = expr.as_bytes();
    let mut i = 0;
    let mut steps = Vec::new();
    let mut mutator = None;
    'segments: loop {
        let start = i;
        while i < b.len() && !matches!(b[i], b'.' | b'(' | b'[' | b'=') {
            i += 1;
        }
        let name = expr.get(start..i).unwrap_or_default().trim();
        if !name.is_empty() {
            steps.push(Step::Name(name.into()));
        }
        loop {
            if steps.len() > MAX_STEPS {
                return Err(err(expr, i, format!("more than {MAX_STEPS} path steps")));
            }
            while i < b.len() && matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            match b.get(i) {
                None => break 'segments,
                Some(b'.') => {
                    i += 1;
                    continue 'segments;
                }
                Some(b'[') => {
                    let close = matching_bracket(expr, i)
                        .ok_or_else(|| err(expr, i, "'[' without matching ']'"))?;
                    let inner = expr.get(i + 1..close).unwrap_or_default();
                    steps.push(bracket(expr, i, inner)?);
                    i = close + 1;
                }
                Some(b'(') => {
                    let close = matching_paren(expr, i)
                        .ok_or_else(|| err(expr, i, "'(' without matching ')'"))?;
                    let src = expr.get(i + 1..close).unwrap_or_default();
                    if src.trim().is_empty() {
                        return Err(err(expr, i, "empty selector"));
                    }
                    let js = JsExpr::compile(src, VAL).map_err(|m| {
                        err(expr, i, format!("selector ({src}) does not compile: {m}"))
                    })?;
                    steps.push(Step::Select {
                        offset: i,
                        expr: js,
                    });
                    i = close + 1;
                }
                Some(b'=') => {
                    let src = expr.get(i + 1..).unwrap_or_default();
                    if src.trim().is_empty() {
                        return Err(err(expr, i, "empty mutator after '='"));
                    }
                    let js = JsExpr::compile(src, VAL)
                        .map_err(|m| err(expr, i, format!("mutator does not compile: {m}")))?;
                    mutator = Some((i, js));
                    break 'segments;
                }
                Some(_) => {
                    return Err(err(
                        expr,
                        i,
                        "expected '.', '(', '[' or '=' after ')' or ']'",
                    ));
                }
            }
        }
    }
    Ok(Path { steps, mutator })
}

/// `[n]`, `[a:b]` or `['name']`.
fn bracket(expr: &str, at: usize, inner: &str) -> Result<Step, DtError> {
    let t = inner.trim();
    let int = |s: &str| -> Result<Option<i64>, DtError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .map_err(|_| err(expr, at, format!("invalid index '{s}'")))
    };
    if let Some((a, z)) = t.split_once(':') {
        return Ok(Step::Range(int(a)?, int(z)?));
    }
    if t.len() >= 2
        && (t.starts_with('\'') && t.ends_with('\'') || t.starts_with('"') && t.ends_with('"'))
    {
        return Ok(Step::Name(t.get(1..t.len() - 1).unwrap_or_default().into()));
    }
    match int(t)? {
        Some(n) => Ok(Step::Index(n)),
        None => Err(err(expr, at, "empty index '[]'")),
    }
}

/// Field of an object; small objects are scanned (no hashing).
#[inline]
pub(crate) fn field<'v>(m: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if m.len() <= 8 {
        m.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        m.get(key)
    }
}

/// The current value of a walk: nothing, one value (possibly an array), or the list that
/// mapping over arrays produced.
#[derive(Debug)]
pub(crate) enum Cur<'v> {
    Nothing,
    One(&'v Value),
    Many(Vec<&'v Value>),
}

impl<'v> Cur<'v> {
    fn many(v: Vec<&'v Value>) -> Self {
        if v.is_empty() {
            Cur::Nothing
        } else {
            Cur::Many(v)
        }
    }

    /// True when the walk produced nothing the result could be made of.
    fn is_empty(&self) -> bool {
        match self {
            Cur::Nothing => true,
            Cur::One(Value::Null) => true,
            Cur::One(Value::Array(a)) => a.iter().all(Value::is_null),
            Cur::One(_) => false,
            Cur::Many(v) => v.is_empty(),
        }
    }

    /// The elements a selector or mutator iterates: a list's items, or the single value.
    fn elements(self) -> Vec<&'v Value> {
        match self {
            Cur::Nothing => Vec::new(),
            Cur::One(Value::Array(a)) => a.iter().collect(),
            Cur::One(v) => vec![v],
            Cur::Many(v) => v,
        }
    }
}

/// Appends `v` to `out`, flattening one level of list and dropping nulls.
fn push_flat<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Null => {}
        Value::Array(a) => out.extend(a.iter().filter(|x| !x.is_null())),
        _ => out.push(v),
    }
}

/// Name step over a list: every object element's field, nested lists walked with an explicit
/// stack.
fn map_name<'v>(items: &[&'v Value], name: &str, out: &mut Vec<&'v Value>) {
    for item in items {
        match item {
            Value::Object(m) => {
                if let Some(v) = field(m, name) {
                    push_flat(v, out);
                }
            }
            Value::Array(a) => {
                let mut stack = vec![a.iter()];
                while let Some(it) = stack.last_mut() {
                    match it.next() {
                        None => {
                            stack.pop();
                        }
                        Some(Value::Object(m)) => {
                            if let Some(v) = field(m, name) {
                                push_flat(v, out);
                            }
                        }
                        Some(Value::Array(inner)) => stack.push(inner.iter()),
                        Some(_) => {}
                    }
                }
            }
            _ => {}
        }
    }
}

fn resolve_index(len: usize, n: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if n < 0 { len + n } else { n };
    (0..len)
        .contains(&i)
        .then(|| usize::try_from(i).ok())
        .flatten()
}

/// Inclusive range `[a:b]` over `len` items as a half-open `start..end`.
fn resolve_range(len: usize, a: Option<i64>, z: Option<i64>) -> std::ops::Range<usize> {
    let Ok(l) = i64::try_from(len) else {
        return 0..0;
    };
    let clamp = |n: i64| if n < 0 { (l + n).max(0) } else { n.min(l) };
    let start = clamp(a.unwrap_or(0));
    let end = z.map_or(l, |z| clamp(z).saturating_add(1).min(l));
    let (s, e) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    if s < e {
        s..e
    } else {
        0..0
    }
}

impl Path {
    /// Walks `steps` from `start`.
    pub(crate) fn walk<'v>(
        &self,
        expr: &str,
        steps: &[Step],
        start: &'v Value,
    ) -> Result<Cur<'v>, DtError> {
        let mut cur = Cur::One(start);
        for step in steps {
            cur = match (step, cur) {
                (_, Cur::Nothing) => return Ok(Cur::Nothing),
                (Step::Name(n), Cur::One(Value::Object(m))) => match field(m, n) {
                    None | Some(Value::Null) => Cur::Nothing,
                    Some(v) => Cur::One(v),
                },
                (Step::Name(n), Cur::One(v @ Value::Array(_))) => {
                    let mut out = Vec::new();
                    map_name(&[v], n, &mut out);
                    Cur::many(out)
                }
                (Step::Name(_), Cur::One(_)) => Cur::Nothing,
                (Step::Name(n), Cur::Many(items)) => {
                    let mut out = Vec::with_capacity(items.len());
                    map_name(&items, n, &mut out);
                    Cur::many(out)
                }
                (Step::Index(n), Cur::One(Value::Array(a))) => {
                    match resolve_index(a.len(), *n).and_then(|i| a.get(i)) {
                        None | Some(Value::Null) => Cur::Nothing,
                        Some(v) => Cur::One(v),
                    }
                }
                // `[0]` on a single value is the value (§3.3 step 2).
                (Step::Index(n), Cur::One(v)) => {
                    if *n == 0 || *n == -1 {
                        Cur::One(v)
                    } else {
                        Cur::Nothing
                    }
                }
                (Step::Index(n), Cur::Many(items)) => {
                    match resolve_index(items.len(), *n).and_then(|i| items.get(i)) {
                        Some(v) => Cur::One(v),
                        None => Cur::Nothing,
                    }
                }
                (Step::Range(a, z), Cur::One(Value::Array(items))) => {
                    let r = resolve_range(items.len(), *a, *z);
                    Cur::many(
                        items
                            .get(r)
                            .unwrap_or_default()
                            .iter()
                            .filter(|v| !v.is_null())
                            .collect(),
                    )
                }
                (Step::Range(a, z), Cur::One(v)) => {
                    if resolve_range(1, *a, *z).is_empty() {
                        Cur::Nothing
                    } else {
                        Cur::One(v)
                    }
                }
                (Step::Range(a, z), Cur::Many(items)) => {
                    let r = resolve_range(items.len(), *a, *z);
                    Cur::many(items.get(r).unwrap_or_default().to_vec())
                }
                (Step::Select { offset, expr: js }, cur) => {
                    let mut kept = Vec::new();
                    for el in cur.elements() {
                        if el.is_null() {
                            continue;
                        }
                        match js.truth(&[el]) {
                            Ok(Outcome::Ok(true)) => kept.push(el),
                            // A selector that throws is false for that element.
                            Ok(Outcome::Ok(false) | Outcome::Threw(_)) => {}
                            Err(fatal) => {
                                return Err(err(
                                    expr,
                                    *offset,
                                    format!("selector ({}): {fatal}", js.src()),
                                ))
                            }
                        }
                    }
                    Cur::many(kept)
                }
            };
        }
        Ok(cur)
    }

    /// The result of a walk: mutator applied, single-element lists unwrapped, empty → `None`.
    pub(crate) fn conclude(&self, expr: &str, cur: Cur<'_>) -> Result<Option<Value>, DtError> {
        let Some((offset, js)) = &self.mutator else {
            return Ok(match cur {
                Cur::Nothing => None,
                Cur::One(v) => normalise_ref(v),
                Cur::Many(v) if v.len() == 1 => {
                    v.first().and_then(|v| (!v.is_null()).then(|| (*v).clone()))
                }
                Cur::Many(v) => Some(Value::Array(v.into_iter().cloned().collect())),
            });
        };
        if cur.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for el in cur.elements() {
            match js.value(&[el]) {
                Ok(Outcome::Ok(Some(v))) => out.push(v),
                // `undefined`, or a mutator that throws: nothing for that element.
                Ok(Outcome::Ok(None) | Outcome::Threw(_)) => {}
                Err(fatal) => return Err(err(expr, *offset, format!("mutator: {fatal}"))),
            }
        }
        Ok(normalise_owned(out))
    }
}

/// A value as a DT result: null and `[]` are nothing, `[x]` is `x`.
fn normalise_ref(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) if a.len() == 1 => {
            a.first().and_then(|x| (!x.is_null()).then(|| x.clone()))
        }
        _ => Some(v.clone()),
    }
}

fn normalise_owned(mut v: Vec<Value>) -> Option<Value> {
    match v.len() {
        0 => None,
        1 => v.pop().filter(|x| !x.is_null()),
        _ => Some(Value::Array(v)),
    }
}

/// `expr` without one enclosing `${...}`, trimmed.
pub(crate) fn strip_braces(expr: &str) -> &str {
    let t = expr.trim();
    if t.starts_with("${") && crate::scan::interpolation_end(t, 0) == Some(t.len() - 1) {
        t.get(2..t.len() - 1).unwrap_or_default().trim()
    } else {
        t
    }
}

/// Checks the syntax of a DT expression without evaluating it, as `validate` does for the
/// context paths a playbook reads: a broken path (an unclosed `[`, a selector without its `)`)
/// then shows up at its line before a run reaches the task. One enclosing `${...}` is
/// stripped; the empty expression is fine (it yields nothing).
pub fn check_path(expr: &str) -> Result<(), DtError> {
    let inner = strip_braces(expr);
    if inner.is_empty() {
        return Ok(());
    }
    parse_cached(inner).map(drop)
}

/// Evaluates a bare DT expression against a scope. `Ok(None)` is *nothing*.
///
/// An enclosing `${...}` is stripped. The empty expression is nothing; `.` is the whole view.
/// A leading name that is a special root is resolved there; otherwise each context layer that
/// has the name is tried in turn and the first one that yields something wins.
pub fn eval_path(expr: &str, scope: &Scope<'_>) -> Result<Option<Value>, DtError> {
    let inner = strip_braces(expr);
    if inner.is_empty() {
        return Ok(None);
    }
    let path = parse_cached(inner)?;
    match path.steps.first() {
        Some(Step::Name(first)) => {
            let rest = path.steps.get(1..).unwrap_or_default();
            if let Some(root) = scope.root(first) {
                let cur = path.walk(inner, rest, root)?;
                return path.conclude(inner, cur);
            }
            for layer in scope.layers() {
                let Some(v) = layer.as_object().and_then(|m| field(m, first)) else {
                    continue;
                };
                let cur = path.walk(inner, rest, v)?;
                if !cur.is_empty() {
                    return path.conclude(inner, cur);
                }
            }
            Ok(None)
        }
        _ => {
            let view = scope.to_value();
            let cur = path.walk(inner, &path.steps, &view)?;
            path.conclude(inner, cur)
        }
    }
}

/// Evaluates a DT path relative to a value: complex-filter sides relative to an element, and
/// `extend-context` paths on raw responses. `.` or the empty string is the value itself; `.=expr`
/// applies a mutator to it (element-wise when it is a list).
pub fn eval_path_on(expr: &str, value: &Value) -> Result<Option<Value>, DtError> {
    let inner = strip_braces(expr);
    let path = parse_cached(inner)?;
    let cur = path.walk(inner, &path.steps, value)?;
    path.conclude(inner, cur)
}
