//! Reading a `serde_yaml::Value` into the model, leniently, with diagnostics.
//!
//! Content comes from many XSOAR versions and from hand edits: booleans arrive as `"true"`,
//! ids as integers, keys with marketplace suffixes. The helpers here coerce what XSOAR itself
//! accepts and report everything else with the YAML path of the offending node. The path is a
//! chain of stack frames ([`At`]) so that the happy path allocates nothing for it; it is only
//! turned into owned segments when a diagnostic is emitted. Positions are resolved even later
//! (see [`crate::locate`]).

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_yaml::{Mapping, Value};

use crate::diag::{PathSeg, Pending};
use crate::locate::Locator;

/// One step of a path frame.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// What a path frame is about, for the message prefix (`task "3", ...`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Label<'a> {
    Task(&'a str),
    Command(&'a str),
    Argument(&'a str),
    Param(&'a str),
    Input(&'a str),
}

/// A YAML path as a chain of frames on the stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Option<Seg<'a>>,
    label: Option<Label<'a>>,
}

impl<'a> At<'a> {
    pub(crate) const ROOT: At<'static> = At {
        parent: None,
        seg: None,
        label: None,
    };

    pub(crate) fn key<'b>(&'b self, key: &'b str) -> At<'b> {
        At {
            parent: Some(self),
            seg: Some(Seg::Key(key)),
            label: None,
        }
    }

    pub(crate) fn idx(&self, i: usize) -> At<'_> {
        At {
            parent: Some(self),
            seg: Some(Seg::Index(i)),
            label: None,
        }
    }

    pub(crate) fn labelled(mut self, label: Label<'a>) -> At<'a> {
        self.label = Some(label);
        self
    }

    pub(crate) fn path(&self) -> Vec<PathSeg> {
        let mut out = Vec::new();
        let mut cur = Some(self);
        while let Some(at) = cur {
            match at.seg {
                Some(Seg::Key(k)) => out.push(PathSeg::Key(k.to_owned())),
                Some(Seg::Index(i)) => out.push(PathSeg::Index(i)),
                None => {}
            }
            cur = at.parent;
        }
        out.reverse();
        out
    }

    /// `task "3", command "x": ` style prefix from the labelled frames, outermost first.
    fn prefix(&self) -> String {
        let mut labels = Vec::new();
        let mut cur = Some(self);
        while let Some(at) = cur {
            if let Some(l) = at.label {
                labels.push(match l {
                    Label::Task(id) => format!("task {id:?}"),
                    Label::Command(n) => format!("command {n:?}"),
                    Label::Argument(n) => format!("argument {n:?}"),
                    Label::Param(n) => format!("parameter {n:?}"),
                    Label::Input(n) => format!("input {n:?}"),
                });
            }
            cur = at.parent;
        }
        labels.reverse();
        if labels.is_empty() {
            String::new()
        } else {
            format!("{}: ", labels.join(", "))
        }
    }
}

/// The state of one walk: the text (for scalars kept as written) and the diagnostics.
#[derive(Debug)]
pub(crate) struct Cx<'t> {
    text: &'t str,
    locator: OnceCell<Locator<'t>>,
    pub(crate) diags: Vec<Pending>,
}

impl<'t> Cx<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Cx {
            text,
            locator: OnceCell::new(),
            diags: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, at: &At<'_>, message: impl AsRef<str>) {
        let message = format!("{}{}", at.prefix(), message.as_ref());
        self.diags.push(Pending::error(at.path(), message));
    }

    pub(crate) fn warn(&mut self, at: &At<'_>, message: impl AsRef<str>) {
        let message = format!("{}{}", at.prefix(), message.as_ref());
        self.diags.push(Pending::warning(at.path(), message));
    }

    /// The source text of a non-string scalar (`1.50`, `True`, `0x1F`), when it can be found
    /// and reads back as the same value; otherwise its canonical rendering.
    fn as_written(&self, at: &At<'_>, v: &Value, canonical: String) -> String {
        if self.text.is_empty() {
            return canonical;
        }
        let locator = self.locator.get_or_init(|| Locator::new(self.text));
        match locator.plain_scalar(&at.path()) {
            Some(raw) if serde_yaml::from_str::<Value>(raw).ok().as_ref() == Some(v) => {
                raw.to_owned()
            }
            _ => canonical,
        }
    }

    /// Any scalar as a string (numbers and booleans as written). `None` for null and
    /// collections.
    pub(crate) fn scalar_string(&self, at: &At<'_>, v: &Value) -> Option<String> {
        match untag(v) {
            Value::String(s) => Some(s.clone()),
            n @ Value::Number(num) => Some(self.as_written(at, n, num.to_string())),
            b @ Value::Bool(x) => Some(self.as_written(at, b, x.to_string())),
            _ => None,
        }
    }
}

/// Strip YAML tags (`!foo value`).
pub(crate) fn untag(mut v: &Value) -> &Value {
    while let Value::Tagged(t) = v {
        v = &t.value;
    }
    v
}

/// How a value is described in messages.
pub(crate) fn describe(v: &Value) -> String {
    match untag(v) {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {:?}", truncate(s, 60)),
        Value::Sequence(_) => "a sequence".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(_) => "a tagged value".to_owned(),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => Cow::Owned(format!("{}...", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// A mapping key as a string: strings as they are, integers and booleans normalised.
pub(crate) fn key_string(k: &Value) -> Option<Cow<'_, str>> {
    match untag(k) {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Marketplace suffixes, by preference for an XSOAR (on-prem) emulator; `None` = ignore.
fn suffix_rank(suffix: &str) -> Option<Option<u8>> {
    match suffix {
        "xsoar" => Some(Some(3)),
        "xsoar_on_prem" => Some(Some(2)),
        "xsoar_saas" | "marketplacev2" | "xpanse" | "platform" | "xsiam" => Some(None),
        _ => None,
    }
}

/// Split `name:xsoar` into (`name`, rank); plain keys have rank 1; keys for other
/// marketplaces yield `None`.
pub(crate) fn split_marketplace(key: &str) -> Option<(&str, u8)> {
    if let Some((base, suffix)) = key.rsplit_once(':') {
        match suffix_rank(suffix) {
            Some(Some(rank)) => return Some((base, rank)),
            Some(None) => return None,
            None => {}
        }
    }
    Some((key, 1))
}

/// A mapping seen through marketplace overrides (`name:xsoar` wins over `name`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'v> {
    map: &'v Mapping,
    suffixed: bool,
}

impl<'v> Obj<'v> {
    pub(crate) fn new(map: &'v Mapping) -> Self {
        let suffixed = map
            .keys()
            .any(|k| matches!(k, Value::String(s) if s.contains(':')));
        Obj { map, suffixed }
    }

    /// The value of `key` (null included) and the key it was found under.
    pub(crate) fn get(&self, key: &'static str) -> Option<(&'v str, &'v Value)> {
        if !self.suffixed {
            return self.map.get(key).map(|v| (key, v));
        }
        let mut best: Option<(u8, &'v str, &'v Value)> = None;
        for (k, v) in self.map {
            let Value::String(k) = k else { continue };
            let Some((base, rank)) = split_marketplace(k) else {
                continue;
            };
            if base == key && best.is_none_or(|(r, _, _)| rank > r) {
                best = Some((rank, k.as_str(), v));
            }
        }
        best.map(|(_, k, v)| (k, v))
    }

    /// Entries with overrides applied: (base key, key as written, value), in file order of the
    /// winning key. Keys that are not scalars are skipped.
    pub(crate) fn entries(&self) -> Vec<(Cow<'v, str>, Cow<'v, str>, &'v Value)> {
        let mut out: Vec<(Cow<'v, str>, Cow<'v, str>, &'v Value, u8)> =
            Vec::with_capacity(self.map.len());
        for (k, v) in self.map {
            let Some(written) = key_string(k) else {
                continue;
            };
            if !self.suffixed {
                out.push((written.clone(), written, v, 1));
                continue;
            }
            let (base, rank) = match &written {
                Cow::Borrowed(s) => match split_marketplace(s) {
                    Some((b, r)) => (Cow::Borrowed(b), r),
                    None => continue,
                },
                Cow::Owned(s) => (Cow::Owned(s.clone()), 1),
            };
            // A different marketplace variant of a key already seen replaces it (or loses to
            // it); a plain duplicate is kept so that the caller can report it.
            match out.iter_mut().find(|e| e.0 == base && e.3 != rank) {
                Some(slot) if rank > slot.3 => *slot = (base, written, v, rank),
                Some(_) => {}
                None => out.push((base, written, v, rank)),
            }
        }
        out.into_iter().map(|(b, w, v, _)| (b, w, v)).collect()
    }
}

// ---- field readers -------------------------------------------------------------------------

/// An optional string field: scalars are stringified; null or absent is `None`.
pub(crate) fn opt_str(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Option<String> {
    let (k, v) = obj.get(key)?;
    let at = at.key(k);
    match untag(v) {
        Value::Null => None,
        Value::Sequence(_) | Value::Mapping(_) => {
            cx.error(
                &at,
                format!("field '{key}' must be a string, found {}", describe(v)),
            );
            None
        }
        _ => cx.scalar_string(&at, v),
    }
}

/// An optional string field where `""` means absent.
pub(crate) fn opt_nonempty(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Option<String> {
    opt_str(cx, obj, at, key).filter(|s| !s.trim().is_empty())
}

/// A string field defaulting to `""`.
pub(crate) fn str_or_empty(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> String {
    opt_str(cx, obj, at, key).unwrap_or_default()
}

/// A required string field: reports an error when absent or null.
pub(crate) fn req_str(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Option<String> {
    match obj.get(key) {
        None => {
            cx.error(&at.key(key), format!("missing required field '{key}'"));
            None
        }
        Some((k, v)) if matches!(untag(v), Value::Null) => {
            cx.error(
                &at.key(k),
                format!("field '{key}' must be a string, found null"),
            );
            None
        }
        Some(_) => opt_str(cx, obj, at, key),
    }
}

/// A boolean field: YAML booleans and the strings `true`/`false` (any case); absent, null or
/// `""` is false.
pub(crate) fn flag(cx: &mut Cx<'_>, obj: &Obj<'_>, at: &At<'_>, key: &'static str) -> bool {
    let Some((k, v)) = obj.get(key) else {
        return false;
    };
    match bool_value(v) {
        Some(b) => b,
        None => {
            cx.error(
                &at.key(k),
                format!("field '{key}' must be a boolean, found {}", describe(v)),
            );
            false
        }
    }
}

/// A value as a boolean, per [`flag`].
pub(crate) fn bool_value(v: &Value) -> Option<bool> {
    match untag(v) {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") || s.is_empty() {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `hidden`: a boolean, or a list of marketplaces (hidden when it names `xsoar`).
pub(crate) fn hidden(cx: &mut Cx<'_>, obj: &Obj<'_>, at: &At<'_>) -> bool {
    let Some((k, v)) = obj.get("hidden") else {
        return false;
    };
    if let Value::Sequence(items) = untag(v) {
        return items
            .iter()
            .any(|m| matches!(untag(m), Value::String(s) if s.trim() == "xsoar"));
    }
    match bool_value(v) {
        Some(b) => b,
        None => {
            cx.error(
                &at.key(k),
                format!(
                    "field 'hidden' must be a boolean or a list of marketplaces, found {}",
                    describe(v)
                ),
            );
            false
        }
    }
}

/// An integer field: integers, integral floats and numeric strings.
pub(crate) fn opt_int(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Option<i64> {
    let (k, v) = obj.get(key)?;
    let n = match untag(v) {
        Value::Null => return None,
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    if n.is_none() {
        cx.error(
            &at.key(k),
            format!("field '{key}' must be an integer, found {}", describe(v)),
        );
    }
    n
}

/// A non-negative integer field.
pub(crate) fn opt_u64(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Option<u64> {
    let n = opt_int(cx, obj, at, key)?;
    match u64::try_from(n) {
        Ok(n) => Some(n),
        Err(_) => {
            let k = obj.get(key).map_or(key, |(k, _)| k);
            cx.error(
                &at.key(k),
                format!("field '{key}' must not be negative, found {n}"),
            );
            None
        }
    }
}

/// A number field (float).
pub(crate) fn opt_f64(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Option<f64> {
    let (k, v) = obj.get(key)?;
    let n = match untag(v) {
        Value::Null => return None,
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    if n.is_none() {
        cx.error(
            &at.key(k),
            format!("field '{key}' must be a number, found {}", describe(v)),
        );
    }
    n
}

/// A list field: absent or null is empty; anything but a sequence is reported.
pub(crate) fn seq<'v>(
    cx: &mut Cx<'_>,
    obj: &Obj<'v>,
    at: &At<'_>,
    key: &'static str,
) -> (&'v str, &'v [Value]) {
    let Some((k, v)) = obj.get(key) else {
        return (key, &[]);
    };
    match untag(v) {
        Value::Null => (k, &[]),
        Value::Sequence(s) => (k, s.as_slice()),
        _ => {
            cx.error(
                &at.key(k),
                format!("field '{key}' must be a list, found {}", describe(v)),
            );
            (k, &[])
        }
    }
}

/// A mapping field: absent or null is `None`; anything but a mapping is reported.
pub(crate) fn map<'v>(
    cx: &mut Cx<'_>,
    obj: &Obj<'v>,
    at: &At<'_>,
    key: &'static str,
) -> Option<(&'v str, Obj<'v>)> {
    let (k, v) = obj.get(key)?;
    match untag(v) {
        Value::Null => None,
        Value::Mapping(m) => Some((k, Obj::new(m))),
        _ => {
            cx.error(
                &at.key(k),
                format!("field '{key}' must be a mapping, found {}", describe(v)),
            );
            None
        }
    }
}

/// A list of strings: scalars are stringified, nulls skipped; a lone scalar is a one-item
/// list.
pub(crate) fn str_list(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    at: &At<'_>,
    key: &'static str,
) -> Vec<String> {
    let Some((k, v)) = obj.get(key) else {
        return Vec::new();
    };
    let at = at.key(k);
    match untag(v) {
        Value::Null => Vec::new(),
        Value::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = at.idx(i);
                match untag(item) {
                    Value::Null => {}
                    Value::Sequence(_) | Value::Mapping(_) => {
                        cx.error(
                            &at,
                            format!("items of '{key}' must be strings, found {}", describe(item)),
                        );
                    }
                    _ => out.extend(cx.scalar_string(&at, item)),
                }
            }
            out
        }
        Value::Mapping(_) => {
            cx.error(
                &at,
                format!(
                    "field '{key}' must be a list of strings, found {}",
                    describe(v)
                ),
            );
            Vec::new()
        }
        _ => cx.scalar_string(&at, v).into_iter().collect(),
    }
}
