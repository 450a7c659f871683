//! Writing the context: `EntryContext` merge (§4.2, §4.3), `setContext` overwrite (§4.4) and
//! the deletions of `DeleteContext` (§4.6).
//!
//! A merge is done in two phases so that a failing selector never leaves the context half
//! written: first every decision (which existing item each new object updates, or that it is
//! appended) is taken on a read-only view, then the writes are applied, which cannot fail.
//!
//! Merge keys are on the hottest path of the emulator (every command output carries one), so
//! the parsed key is cached per thread, and for each new object the selector is partially
//! evaluated with `obj` bound before it is run against the existing items.

use crate::cache::{cached, ExprCache};
use crate::js::{engine::Outcome, fast, JsExpr};
use crate::path::field;
use crate::scan::matching_paren;
use crate::DtError;
use serde_json::{Map, Value};
use std::cell::RefCell;

/// Most dot-separated parts in a context key or write path.
const MAX_SEGMENTS: usize = 1024;
/// Objects nested deeper than this are replaced rather than merged key by key.
const MAX_MERGE_DEPTH: usize = 256;
/// Parameters of a merge selector.
const VAL_OBJ: &[&str] = &["val", "obj"];

#[derive(Debug)]
enum Selector {
    /// `Path`: append.
    None,
    /// `Path(true)`: overwrite the fields of the (first) existing item.
    True,
    /// `Path(expr)`: update the first matching item, else append. `keys` is the selector
    /// read as key-field terms when it has the `CommandResults` shape.
    Js(JsExpr, Option<Vec<KeyTerm>>),
}

/// One `&&` term of a key-field selector: `val.K` (truthy) or `val.K == obj.K`.
#[derive(Debug, Clone, PartialEq)]
struct KeyTerm {
    path: Vec<String>,
    compare: bool,
    /// Same path as the previous term: its value is reused, not read again.
    reuse: bool,
}

/// Read `val.K && val.K == obj.K && ...` (the selectors `CommandResults` writes for its key
/// fields, with `==` or `===`) as terms; anything else is `None`.
fn key_terms(src: &str) -> Option<Vec<KeyTerm>> {
    fn member(s: &str, root: &str) -> Option<Vec<String>> {
        let rest = s.trim().strip_prefix(root)?.strip_prefix('.')?;
        let parts: Vec<String> = rest.split('.').map(str::to_owned).collect();
        parts
            .iter()
            .all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            })
            .then_some(parts)
    }
    if src.contains("||") {
        return None;
    }
    let mut terms: Vec<KeyTerm> = src
        .split("&&")
        .map(|term| {
            let term = term.trim();
            let (l, r) = match term.split_once("===").or_else(|| term.split_once("==")) {
                Some((l, r)) => (l, Some(r)),
                None => (term, None),
            };
            let path = member(l, "val")?;
            match r {
                None => Some(KeyTerm {
                    path,
                    compare: false,
                    reuse: false,
                }),
                Some(r) => (member(r, "obj")? == path).then_some(KeyTerm {
                    path,
                    compare: true,
                    reuse: false,
                }),
            }
        })
        .collect::<Option<_>>()?;
    for i in 1..terms.len() {
        let same = terms[i - 1].path == terms[i].path;
        terms[i].reuse = same;
    }
    Some(terms)
}

fn key_field<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(v, |cur, p| match cur {
        // Context items are small objects: a scan beats hashing the key.
        Value::Object(m) if m.len() <= 8 => m.iter().find(|(k, _)| *k == p).map(|(_, v)| v),
        other => other.get(p.as_str()),
    })
}

/// Key-field terms evaluated directly on JSON. `None` when JavaScript would have to decide
/// (values of different types, where loose equality converts). Each distinct path is read
/// once per item (the usual `val.K && val.K == obj.K` reads `K` once).
#[inline]
fn key_match(terms: &[KeyTerm], item: &Value, obj_vals: &[Option<Value>]) -> Option<bool> {
    let mut v = None;
    for (t, obj_v) in terms.iter().zip(obj_vals) {
        if !t.reuse {
            v = key_field(item, &t.path);
        }
        let truthy = match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
            Some(_) => true,
        };
        if !t.compare {
            if !truthy {
                return Some(false);
            }
            continue;
        }
        let equal = match (v, obj_v.as_ref()) {
            (Some(Value::String(a)), Some(Value::String(b))) => a == b,
            (Some(Value::Number(a)), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
            (Some(Value::Bool(a)), Some(Value::Bool(b))) => a == b,
            (None | Some(Value::Null), None | Some(Value::Null)) => true,
            _ => return None,
        };
        if !equal {
            return Some(false);
        }
    }
    Some(true)
}

/// A parsed `EntryContext` key.
#[derive(Debug)]
struct Key {
    path: Vec<Box<str>>,
    selector: Selector,
    /// Old content's `Path(selector).field`: the value is that field of the new object.
    sub: Vec<Box<str>>,
}

thread_local! {
    static KEYS: RefCell<ExprCache<Key>> = RefCell::new(ExprCache::new(1024));
}

fn split_path(key: &str, at: usize, p: &str) -> Result<Vec<Box<str>>, DtError> {
    let segs: Vec<Box<str>> = p
        .split('.')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Into::into)
        .collect();
    if segs.len() > MAX_SEGMENTS {
        return Err(DtError::new(
            key,
            Some(at),
            format!("more than {MAX_SEGMENTS} path parts"),
        ));
    }
    Ok(segs)
}

/// Parses `Path`, `Path(selector)` or `Path(selector).sub` (§4.2). The path part is a plain dot
/// path, which cannot contain `(`, so the first `(` starts the selector (an apostrophe in a
/// name, as in `User's.Data(...)`, is not mistaken for a quote).
fn parse_key(key: &str) -> Result<Key, DtError> {
    let k = key.trim();
    let (path_part, selector, sub) = match k.find('(') {
        None => (k, Selector::None, Vec::new()),
        Some(open) => {
            let close = matching_paren(k, open)
                .ok_or_else(|| DtError::new(key, Some(open), "'(' without matching ')'"))?;
            let src = k.get(open + 1..close).unwrap_or_default().trim();
            let selector = match src {
                "" => return Err(DtError::new(key, Some(open), "empty selector")),
                "true" => Selector::True,
                _ => Selector::Js(
                    JsExpr::compile(src, VAL_OBJ).map_err(|m| {
                        DtError::new(
                            key,
                            Some(open),
                            format!("selector ({src}) does not compile: {m}"),
                        )
                    })?,
                    key_terms(src),
                ),
            };
            let after = k.get(close + 1..).unwrap_or_default().trim();
            let sub = if after.is_empty() {
                Vec::new()
            } else if let Some(rest) = after.strip_prefix('.') {
                split_path(key, close + 1, rest)?
            } else {
                return Err(DtError::new(
                    key,
                    Some(close + 1),
                    "expected '.' after the selector",
                ));
            };
            (k.get(..open).unwrap_or_default(), selector, sub)
        }
    };
    let path = split_path(key, 0, path_part)?;
    if path.is_empty() {
        return Err(DtError::new(key, Some(0), "empty context path"));
    }
    Ok(Key {
        path,
        selector,
        sub,
    })
}

/// Merges one `EntryContext` entry into `ctx` (§4.3).
///
/// * `Path` — append: stored as written when absent, otherwise the old value (as a list) plus
///   the new item(s); no de-duplication.
/// * `Path(selector)` — for each new object, the first existing item for which the selector
///   (with `val` = item, `obj` = new object) is truthy is deep-merged with it (objects merge key
///   by key, new values win, anything else is replaced); without a match the object is
///   appended. A selector that throws counts as no match.
/// * `Path(true)` — the fields of the new object overwrite those of the existing item
///   (one level: a field's old content is replaced, not merged), which is what
///   `replace_existing` relies on to keep one node that is refreshed on every run.
/// * `Path(selector).field` (old content) — the value is the `field` of a new object.
///
/// Shape: an absent path stores the value as written (object stays object, list stays list);
/// several items become a list; updating the only existing item keeps its shape.
///
/// On error (a selector that does not compile or exhausts its budget) `ctx` is unchanged.
pub fn merge_entry_context(ctx: &mut Value, key: &str, value: Value) -> Result<(), DtError> {
    let k = cached(&KEYS, key, parse_key)?;
    check_parents(ctx, &k.path, key)?;
    let value = wrap(&k.sub, value);
    match &k.selector {
        Selector::None => {
            append_segs(ctx, &k.path, value);
            Ok(())
        }
        Selector::True => {
            merge_true(ctx, &k.path, value);
            Ok(())
        }
        Selector::Js(js, keys) => merge_selector(ctx, &k.path, js, keys.as_deref(), key, value),
    }
}

/// Checks an `EntryContext` key (`Path`, `Path(selector)`, `Path(selector).sub`) without
/// writing anything: scripts that turn an argument into a key report a broken one up front.
pub fn check_entry_context_key(key: &str) -> Result<(), DtError> {
    cached(&KEYS, key, parse_key).map(|_| ())
}

/// `{sub: value}` (nested for a dotted `sub`).
fn wrap(sub: &[Box<str>], value: Value) -> Value {
    sub.iter().rev().fold(value, |v, s| {
        let mut m = Map::new();
        m.insert(s.to_string(), v);
        Value::Object(m)
    })
}

fn into_items(value: Value) -> (Vec<Value>, bool) {
    match value {
        Value::Array(a) => (a, true),
        v => (vec![v], false),
    }
}

/// The object to write into: an object, or the last object of a list (§4.3 "path creation");
/// anything else is replaced by an empty object.
fn container_mut(v: &mut Value) -> Option<&mut Map<String, Value>> {
    let redirect = matches!(v, Value::Array(a) if matches!(a.last(), Some(Value::Object(_))));
    if redirect {
        return match v {
            Value::Array(a) => a.last_mut().and_then(Value::as_object_mut),
            _ => None,
        };
    }
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

fn container_ref(v: &Value) -> Option<&Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        Value::Array(a) => a.last().and_then(Value::as_object),
        _ => None,
    }
}

/// A merge writes under the objects along `segs`; an intermediate that holds something else (a
/// text, a number, a list whose last item is not an object) would have to be replaced, losing
/// what is stored, so the merge is refused instead, naming the path and what it holds.
fn check_parents(ctx: &Value, segs: &[Box<str>], key: &str) -> Result<(), DtError> {
    let Some((_, parents)) = segs.split_last() else {
        return Ok(());
    };
    let mut cur = ctx;
    for (i, seg) in parents.iter().enumerate() {
        let Some(map) = container_ref(cur) else {
            break;
        };
        let Some(next) = field(map, seg) else {
            return Ok(());
        };
        let holds = match next {
            Value::Null | Value::Object(_) => None,
            Value::Array(a) if matches!(a.last(), Some(Value::Object(_))) => None,
            Value::Array(_) => Some("a list whose last item is not an object"),
            Value::String(_) => Some("a text, not an object"),
            Value::Number(_) => Some("a number, not an object"),
            Value::Bool(_) => Some("a boolean, not an object"),
        };
        if let Some(holds) = holds {
            let path: Vec<&str> = parents[..=i].iter().map(AsRef::as_ref).collect();
            return Err(DtError::new(
                key,
                None,
                format!(
                    "'{}' holds {holds}; writing under it would replace what is stored",
                    path.join(".")
                ),
            ));
        }
        cur = next;
    }
    Ok(())
}

/// The map that holds the last segment, creating intermediate objects.
fn parent_mut<'c>(ctx: &'c mut Value, parents: &[Box<str>]) -> Option<&'c mut Map<String, Value>> {
    let mut cur = ctx;
    for seg in parents {
        let map = container_mut(cur)?;
        if !map.contains_key(seg.as_ref()) {
            map.insert(seg.to_string(), Value::Object(Map::new()));
        }
        cur = map.get_mut(seg.as_ref())?;
    }
    container_mut(cur)
}

/// Read-side twin of [`parent_mut`]: the current value at `segs`, `None` when absent or null.
fn existing<'c>(ctx: &'c Value, segs: &[Box<str>]) -> Option<&'c Value> {
    let mut cur = ctx;
    for seg in segs {
        cur = field(container_ref(cur)?, seg)?;
    }
    (!cur.is_null()).then_some(cur)
}

fn append_segs(ctx: &mut Value, segs: &[Box<str>], value: Value) {
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    let Some(map) = parent_mut(ctx, parents) else {
        return;
    };
    match map.get_mut(last.as_ref()) {
        // Appending nothing leaves an existing value (and its shape) alone.
        Some(slot) if !slot.is_null() && matches!(&value, Value::Array(a) if a.is_empty()) => {}
        Some(slot) if !slot.is_null() => {
            let mut list = match std::mem::take(slot) {
                Value::Array(a) => a,
                v => vec![v],
            };
            match value {
                Value::Array(a) => list.extend(a),
                v => list.push(v),
            }
            *slot = Value::Array(list);
        }
        Some(slot) => *slot = value,
        None => {
            map.insert(last.to_string(), value);
        }
    }
}

fn merge_true(ctx: &mut Value, segs: &[Box<str>], value: Value) {
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    let Some(map) = parent_mut(ctx, parents) else {
        return;
    };
    let slot = match map.get_mut(last.as_ref()) {
        Some(slot) if !slot.is_null() => slot,
        _ => {
            map.insert(last.to_string(), value);
            return;
        }
    };
    let was_list = slot.is_array();
    let mut list = match std::mem::take(slot) {
        Value::Array(a) => a,
        v => vec![v],
    };
    for obj in into_items(value).0 {
        match (list.first_mut(), obj) {
            (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
            (Some(first), obj) => *first = obj,
            (None, obj) => list.push(obj),
        }
    }
    *slot = reshape(list, was_list);
}

/// One item, not written as a list → the item; otherwise a list.
fn reshape(mut list: Vec<Value>, was_list: bool) -> Value {
    if list.len() == 1 && !was_list {
        list.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(list)
    }
}

/// Recursive object merge, new values winning; depth-capped.
fn deep_merge(old: &mut Value, new: Value, depth: usize) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) if depth < MAX_MERGE_DEPTH => {
            for (k, v) in n {
                match o.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v, depth + 1),
                    None => {
                        o.insert(k, v);
                    }
                }
            }
        }
        (old, new) => *old = new,
    }
}

/// One key field `K` (terms `val.K && val.K == obj.K`, or `val.K == obj.K`) whose new value
/// is a non-empty string: the first item whose `K` is that same string. `None` when some
/// item's `K` is neither absent, null, false nor a string (JavaScript decides those).
fn scan_string_key(
    terms: &[KeyTerm],
    obj_vals: &[Option<&Value>],
    old: &[Value],
) -> Option<Option<usize>> {
    let (path, want) = match (terms, obj_vals) {
        ([t], [Some(Value::String(w))]) if t.compare => (&t.path, w),
        ([a, b], [_, Some(Value::String(w))]) if !a.compare && b.compare && b.reuse => (&b.path, w),
        _ => return None,
    };
    let [name] = path.as_slice() else {
        return None;
    };
    if want.is_empty() {
        return None;
    }
    for (i, item) in old.iter().enumerate() {
        let Value::Object(m) = item else { continue };
        if m.len() > 8 {
            match m.get(name.as_str()) {
                Some(Value::String(s)) if same_text(s, want) => return Some(Some(i)),
                None | Some(Value::Null | Value::Bool(false) | Value::String(_)) => {}
                Some(_) => return None,
            }
            continue;
        }
        // Small objects: look at each value before its key. A string that is not `want`
        // (the usual case: every other item's id) decides nothing whatever its key is, so
        // the key's text is only read for a matching string or a non-string value.
        for (k, v) in m {
            match v {
                Value::String(s) if same_text(s, want) && same_text(k, name) => {
                    return Some(Some(i))
                }
                Value::String(_) | Value::Null | Value::Bool(false) => {}
                _ if same_text(k, name) => return None,
                _ => {}
            }
        }
    }
    Some(None)
}

/// The items stored at a path (a value that is not a list is one item), and whether they
/// were stored as a list.
fn stored_items(current: Option<&Value>) -> (&[Value], bool) {
    match current {
        Some(Value::Array(a)) => (a, true),
        Some(v) => (std::slice::from_ref(v), false),
        None => (&[], false),
    }
}

/// Where a selector merge writes.
enum Slot<'c> {
    /// Nothing is stored yet: insert under this key of this map.
    Absent(&'c mut Map<String, Value>, &'c str),
    /// The stored value to update.
    Stored(&'c mut Value),
    /// The path cannot be written (an empty path).
    Unreachable,
}

fn write_slot<'c>(ctx: &'c mut Value, segs: &'c [Box<str>], existed: bool) -> Slot<'c> {
    let Some((last, parents)) = segs.split_last() else {
        return Slot::Unreachable;
    };
    let Some(map) = parent_mut(ctx, parents) else {
        return Slot::Unreachable;
    };
    if !existed {
        return Slot::Absent(map, last);
    }
    match map.get_mut(last.as_ref()) {
        Some(slot) => Slot::Stored(slot),
        None => Slot::Unreachable,
    }
}

/// The usual merge (one new object, one string key field, e.g. `Prefix(val.eventId &&
/// val.eventId == obj.eventId)`) without the general planning: the same result as
/// [`merge_selector`]'s two phases for that case. Hands `value` back when it does not apply.
fn merge_one_by_string_key(
    ctx: &mut Value,
    segs: &[Box<str>],
    keys: Option<&[KeyTerm]>,
    value: Value,
) -> Result<(), Value> {
    let Some(terms) = keys.filter(|k| k.len() <= 2) else {
        return Err(value);
    };
    if !value.is_object() {
        return Err(value);
    }
    let mut vals: [Option<&Value>; 2] = [None, None];
    for (slot, t) in vals.iter_mut().zip(terms) {
        *slot = key_field(&value, &t.path);
    }
    let current = existing(ctx, segs);
    let (old, was_list) = stored_items(current);
    let Some(found) = scan_string_key(terms, &vals[..terms.len()], old) else {
        return Err(value);
    };
    let slot = match write_slot(ctx, segs, current.is_some()) {
        Slot::Absent(map, last) => {
            map.insert(last.to_owned(), value);
            return Ok(());
        }
        Slot::Stored(slot) => slot,
        Slot::Unreachable => return Ok(()),
    };
    match found {
        Some(i) if was_list => {
            if let Some(item) = slot.as_array_mut().and_then(|l| l.get_mut(i)) {
                deep_merge(item, value, 0);
            }
        }
        // The only existing item was updated: keep it an object.
        Some(_) => deep_merge(slot, value, 0),
        None => match slot {
            Value::Array(list) => list.push(value),
            other => {
                let first = std::mem::take(other);
                *other = Value::Array(vec![first, value]);
            }
        },
    }
    Ok(())
}

/// String equality for key scans, which compare one value (often a UUID or a counter-based
/// id) against every stored item: rejects on the length and the last eight bytes before
/// comparing the rest, and compares short keys without a library call.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    match (a.last_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(x), Some(y)) => x == y && a == b,
        _ => a.iter().zip(b).all(|(x, y)| x == y),
    }
}

/// Does `js` select `item` for `obj`? `residual` is `js` specialised for `obj`.
fn matches(
    js: &JsExpr,
    keys: Option<(&[KeyTerm], &[Option<Value>])>,
    residual: Option<&fast::Expr>,
    item: &Value,
    obj: &Value,
) -> Result<bool, String> {
    if let Some(decided) = keys.and_then(|(k, vals)| key_match(k, item, vals)) {
        return Ok(decided);
    }
    if let Some(r) = residual {
        match fast::eval(r, &[item, obj]) {
            Ok(v) => return Ok(fast::truthy(v)),
            Err(fast::Abort::Throw(_)) => return Ok(false),
            Err(fast::Abort::Bail) => {}
        }
    }
    Ok(matches!(js.truth(&[item, obj])?, Outcome::Ok(true)))
}

/// Where a new object goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    Old(usize),
    New(usize),
}

fn merge_selector(
    ctx: &mut Value,
    segs: &[Box<str>],
    js: &JsExpr,
    keys: Option<&[KeyTerm]>,
    key: &str,
    value: Value,
) -> Result<(), DtError> {
    let value = match merge_one_by_string_key(ctx, segs, keys, value) {
        Ok(()) => return Ok(()),
        Err(value) => value,
    };
    let (items, written_as_list) = into_items(value);
    if items.is_empty() {
        return Ok(());
    }
    // Phase 1, read only: decide a target for every new object.
    let current = existing(ctx, segs);
    let (old, was_list) = stored_items(current);
    let multi = items.len() > 1;
    // Only needed with several new objects: the merged state later objects are matched against.
    let mut updated: Vec<(usize, Value)> = Vec::new();
    let mut appended: Vec<Value> = Vec::new();
    // Updates of existing items, in order.
    let mut plan: Vec<(usize, Value)> = Vec::with_capacity(items.len());
    let fail = |m: String| DtError::new(key, None, format!("merge selector: {m}"));
    for obj in items {
        // Worth it only when the selector will run against several items.
        let residual = if keys.is_none() && old.len() + appended.len() > 1 {
            js.specialise(1, &obj)
        } else {
            None
        };
        // The new object's key values, read once for every existing item.
        let obj_vals: Vec<Option<Value>> = keys
            .map(|k| {
                k.iter()
                    .map(|t| key_field(&obj, &t.path).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let keys_and_vals = keys.map(|k| (k, obj_vals.as_slice()));
        let mut target = None;
        // The usual case (one string key field, no earlier update in this merge) is decided
        // by a plain scan; it steps aside when JavaScript's loose equality would have a say.
        let mut scanned = false;
        if let (Some(k), true) = (keys, updated.is_empty()) {
            let refs: Vec<Option<&Value>> = obj_vals.iter().map(Option::as_ref).collect();
            if let Some(found) = scan_string_key(k, &refs, old) {
                target = found.map(Target::Old);
                scanned = true;
            }
        }
        for (i, item) in old.iter().enumerate().filter(|_| !scanned) {
            let view = if updated.is_empty() {
                item
            } else {
                updated
                    .iter()
                    .find(|(j, _)| *j == i)
                    .map_or(item, |(_, v)| v)
            };
            if matches(js, keys_and_vals, residual.as_ref(), view, &obj).map_err(fail)? {
                target = Some(Target::Old(i));
                break;
            }
        }
        if target.is_none() {
            for (j, item) in appended.iter().enumerate() {
                if matches(js, keys_and_vals, residual.as_ref(), item, &obj).map_err(fail)? {
                    target = Some(Target::New(j));
                    break;
                }
            }
        }
        match target {
            Some(Target::Old(i)) => {
                if multi {
                    let pos = updated.iter().position(|(j, _)| *j == i);
                    let mut merged = match pos {
                        Some(p) => updated.swap_remove(p).1,
                        None => old.get(i).cloned().unwrap_or(Value::Null),
                    };
                    deep_merge(&mut merged, obj.clone(), 0);
                    updated.push((i, merged));
                }
                plan.push((i, obj));
            }
            Some(Target::New(j)) => {
                if let Some(a) = appended.get_mut(j) {
                    deep_merge(a, obj, 0);
                }
            }
            None => appended.push(obj),
        }
    }
    let existed = current.is_some();

    // Phase 2: apply (cannot fail).
    let slot = match write_slot(ctx, segs, existed) {
        Slot::Absent(map, last) => {
            let v = if written_as_list || appended.len() > 1 {
                Value::Array(appended)
            } else {
                appended.pop().unwrap_or(Value::Null)
            };
            map.insert(last.to_owned(), v);
            return Ok(());
        }
        Slot::Stored(slot) => slot,
        Slot::Unreachable => return Ok(()),
    };
    if appended.is_empty() && !was_list {
        // The only existing item was updated: keep it an object.
        for (_, obj) in plan {
            deep_merge(slot, obj, 0);
        }
        return Ok(());
    }
    let mut list = match std::mem::take(slot) {
        Value::Array(a) => a,
        v => vec![v],
    };
    for (i, obj) in plan {
        if let Some(item) = list.get_mut(i) {
            deep_merge(item, obj, 0);
        }
    }
    list.extend(appended);
    *slot = reshape(list, was_list);
    Ok(())
}

fn segments(path: &str) -> Vec<Box<str>> {
    path.split('.')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(MAX_SEGMENTS)
        .map(Into::into)
        .collect()
}

/// The value at a plain dot path (no DT): objects by key, lists by numeric index.
pub fn get_path<'v>(ctx: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = ctx;
    for seg in path.split('.').map(str::trim).filter(|s| !s.is_empty()) {
        cur = match cur {
            Value::Object(m) => field(m, seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Overwrites the value at `path` (`setContext`, `Set append=false`), creating intermediate
/// objects. The empty path is ignored.
pub fn set_path(ctx: &mut Value, path: &str, value: Value) {
    let segs = segments(path);
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    if let Some(map) = parent_mut(ctx, parents) {
        map.insert(last.to_string(), value);
    }
}

/// Appends at `path` like an `EntryContext` key without selector.
pub fn append_path(ctx: &mut Value, path: &str, value: Value) {
    append_segs(ctx, &segments(path), value);
}

/// Deletes the key at `path`; through lists, the key is deleted from every element. Returns
/// whether anything was removed.
pub fn delete_path(ctx: &mut Value, path: &str) -> bool {
    let segs = segments(path);
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut removed = false;
    // Work list of containers reached by `parents` (lists fan out to their elements).
    let mut level: Vec<&mut Value> = vec![ctx];
    for seg in parents {
        let mut next = Vec::new();
        while let Some(v) = level.pop() {
            match v {
                Value::Object(m) => {
                    if let Some(c) = m.get_mut(seg.as_ref()) {
                        next.push(c);
                    }
                }
                Value::Array(a) => level.extend(a.iter_mut()),
                _ => {}
            }
        }
        level = next;
    }
    while let Some(v) = level.pop() {
        match v {
            Value::Object(m) => removed |= m.shift_remove(last.as_ref()).is_some(),
            Value::Array(a) => level.extend(a.iter_mut()),
            _ => {}
        }
    }
    removed
}

/// Deletes item `index` of the list at `path`; a single (non-list) value counts as a list of
/// one. Returns whether anything was removed.
pub fn delete_index(ctx: &mut Value, path: &str, index: usize) -> bool {
    let segs = segments(path);
    let mut cur = &mut *ctx;
    for seg in &segs {
        cur = match cur {
            Value::Object(m) => match m.get_mut(seg.as_ref()) {
                Some(c) => c,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Array(a) if index < a.len() => {
            let mut i = 0;
            a.retain(|_| {
                i += 1;
                i - 1 != index
            });
            true
        }
        Value::Array(_) | Value::Null => false,
        _ if index == 0 && !segs.is_empty() => delete_path(ctx, path),
        _ => false,
    }
}

/// Prefix tree of the paths to keep.
#[derive(Debug, Default)]
struct Keep {
    all: bool,
    children: Vec<(Box<str>, Keep)>,
}

impl Keep {
    fn child(&self, k: &str) -> Option<&Keep> {
        self.children
            .iter()
            .find(|(n, _)| n.as_ref() == k)
            .map(|(_, c)| c)
    }

    fn add(&mut self, segs: &[Box<str>]) {
        let mut node = self;
        for s in segs {
            let pos = match node.children.iter().position(|(n, _)| n == s) {
                Some(p) => p,
                None => {
                    node.children.push((s.clone(), Keep::default()));
                    node.children.len() - 1
                }
            };
            node = match node.children.get_mut(pos) {
                Some((_, c)) => c,
                None => return,
            };
        }
        node.all = true;
    }
}

/// Keeps what `keep` selects inside `v`; returns whether anything is left.
fn prune(v: &mut Value, keep: &Keep) -> bool {
    if keep.all {
        return true;
    }
    match v {
        Value::Object(m) => {
            m.retain(|k, child| keep.child(k).is_some_and(|c| prune(child, c)));
            !m.is_empty()
        }
        Value::Array(a) => {
            a.retain_mut(|el| prune(el, keep));
            !a.is_empty()
        }
        _ => false,
    }
}

/// Empties the context except the given paths (`DeleteContext all=yes keysToKeep=...`). Nested
/// paths such as `URL.Data` keep that field (of every element, through lists) and drop the
/// siblings; containers left empty are removed.
pub fn clear_except(ctx: &mut Value, keep: &[&str]) {
    let mut tree = Keep::default();
    for k in keep {
        let segs = segments(k);
        if !segs.is_empty() {
            tree.add(&segs);
        }
    }
    if ctx.is_object() {
        prune(ctx, &tree);
    } else {
        *ctx = Value::Object(Map::new());
    }
}
