//! `tableToMarkdown`, byte for byte as CommonServerPython renders it (§6.3 of the semantics).
//!
//! Users compare the emulator's war room with the real one; the details (headers from the
//! first row only, sorted; `**No entries.**`; Python `str()` of list items; `<br>` for
//! newlines) are what makes the output recognisable, so they are reproduced exactly.

use serde_json::{Map, Value};

/// Options of `tableToMarkdown` that change the rendering.
#[derive(Clone, Default)]
pub struct TableOptions<'a> {
    /// `headers`: the columns, in order. `None` = keys of the first row.
    pub headers: Option<Vec<String>>,
    /// `removeNull`: drop columns that are empty in every row.
    pub remove_null: bool,
    /// `sort_headers=False` keeps the first row's key order when headers are derived.
    pub keep_header_order: bool,
    /// `headerTransform`, applied to each header before escaping.
    pub header_transform: Option<&'a dyn Fn(&str) -> String>,
    /// `metadata`: a line printed under the title.
    pub metadata: Option<String>,
}

impl std::fmt::Debug for TableOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableOptions")
            .field("headers", &self.headers)
            .field("remove_null", &self.remove_null)
            .field("keep_header_order", &self.keep_header_order)
            .field("header_transform", &self.header_transform.is_some())
            .finish()
    }
}

/// `tableToMarkdown(name, t)` with default options.
pub fn table_to_markdown(name: &str, t: &Value) -> String {
    table_to_markdown_with(name, t, &TableOptions::default())
}

/// `tableToMarkdown(name, t, headers=..., removeNull=..., ...)`.
pub fn table_to_markdown_with(name: &str, t: &Value, opts: &TableOptions<'_>) -> String {
    let mut out = String::with_capacity(64 + name.len());
    if !name.is_empty() {
        out.push_str("### ");
        out.push_str(name);
        out.push('\n');
    }
    if let Some(meta) = &opts.metadata {
        out.push_str(meta);
        out.push('\n');
    }
    if is_empty(t) {
        out.push_str("**No entries.**\n");
        return out;
    }
    // Headers borrow from the options or from the table; rows are views, never copies.
    let mut headers: Option<Vec<&str>> = opts
        .headers
        .as_ref()
        .map(|h| h.iter().map(String::as_str).collect());
    let mut t = t;
    if headers.is_none() {
        if let Value::Object(map) = t {
            if map.len() == 1 {
                if let Some((k, v)) = map.iter().next() {
                    headers = Some(vec![k.as_str()]);
                    t = v;
                }
            }
        }
    }
    let rows_in: &[Value] = match t {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    };
    let first = headers.as_ref().and_then(|h| h.first().copied());
    let first_is_object = matches!(rows_in.first(), Some(Value::Object(_)));
    if !first_is_object && first.is_none() {
        out.push_str(
            "Missing headers param for tableToMarkdown. Example: headers=['Some Header']\n",
        );
        return out;
    }
    // A row that is not an object stands for `{first_header: value}` (no header: `{}`).
    let row_of = |v| Row::of(v, first_is_object, first.is_some());
    let mut headers = headers.unwrap_or_else(|| {
        let mut keys: Vec<&str> = match rows_in.first().map(row_of) {
            Some(Row::Map(m)) => m.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        if !opts.keep_header_order {
            keys.sort_unstable();
        }
        keys
    });
    if opts.remove_null {
        headers.retain(|h| {
            rows_in
                .iter()
                .any(|r| row_of(r).get(h, first).is_some_and(|v| !is_empty(v)))
        });
    }
    if headers.is_empty() {
        out.push_str("**No entries.**\n");
        return out;
    }
    out.push('|');
    for h in &headers {
        match opts.header_transform {
            Some(f) => escape_into(&mut out, &f(h)),
            None => escape_into(&mut out, h),
        }
        out.push('|');
    }
    out.push_str("\n|");
    for _ in &headers {
        out.push_str("---|");
    }
    out.push('\n');
    for r in rows_in {
        let row = row_of(r);
        out.push_str("| ");
        for (i, h) in headers.iter().enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            match row.get(h, first) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => escape_into(&mut out, s),
                Some(v) => escape_into(&mut out, &format_cell(v)),
            }
        }
        out.push_str(" |\n");
    }
    out
}

/// One table row as `tableToMarkdown` sees it.
#[derive(Clone, Copy)]
enum Row<'a> {
    /// A dict row.
    Map(&'a Map<String, Value>),
    /// A scalar (or, when the first row is not a dict, any value) under the first header.
    Single(&'a Value),
    /// A non-dict row with no header to put it under.
    Empty,
}

impl<'a> Row<'a> {
    fn of(v: &'a Value, first_is_object: bool, has_header: bool) -> Self {
        match v {
            Value::Object(m) if first_is_object => Row::Map(m),
            other if has_header => Row::Single(other),
            _ => Row::Empty,
        }
    }

    fn get(self, header: &str, first: Option<&str>) -> Option<&'a Value> {
        match self {
            Row::Map(m) => m.get(header),
            Row::Single(v) => (first == Some(header)).then_some(v),
            Row::Empty => None,
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `formatCell`: strings as is, lists item by item with Python `str()`, dicts as `key: value`
/// lines, other scalars as JSON.
pub fn format_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", flatten_cell(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => flatten_cell(other),
    }
}

/// `flattenCell`: strings as is, lists joined by `",\n"` of Python `str()`, else `json.dumps`
/// with indent 4.
fn flatten_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(py_str).collect::<Vec<_>>().join(",\n"),
        other => python_json_dumps(other, Some(4), false),
    }
}

/// Python's `json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)` of a JSON value, so
/// text scripts build from it reads exactly as in XSOAR: `", "` / `": "` separators without
/// an indent, `","` and a newline per item with one; `ensure_ascii` writes every character
/// outside printable ASCII as `\uXXXX` (UTF-16 surrogate pairs beyond the BMP), as Python does.
pub fn python_json_dumps(v: &Value, indent: Option<usize>, ensure_ascii: bool) -> String {
    let mut out = String::new();
    dump(v, indent, ensure_ascii, 0, &mut out);
    out
}

fn dump(v: &Value, indent: Option<usize>, ascii: bool, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * depth));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => dump_str(s, ascii, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                dump(item, indent, ascii, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                dump_str(k, ascii, out);
                out.push_str(": ");
                dump(item, indent, ascii, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn dump_str(s: &str, ascii: bool, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && !(' '..='~').contains(&c)) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python `str()` of a JSON value as json.loads would have produced it.
pub(crate) fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python `repr()` of a JSON value (`{'k': 1}`, `True`, `None`, `['a']`).
pub(crate) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str_repr(s),
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Minimal markdown escaping of a cell or header, appended to `out`: newlines become
/// `<br>`, `|` and `` ` `` are backslash-escaped. Runs without special characters are copied
/// in one piece.
fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rep = match bytes[i] {
            b'\r' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    out.push_str(&s[start..i]);
                    out.push_str("<br>");
                    i += 2;
                    start = i;
                    continue;
                }
                "<br>"
            }
            b'\n' => "<br>",
            b'|' => "\\|",
            b'`' => "\\`",
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[start..i]);
        out.push_str(rep);
        i += 1;
        start = i;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(name: &str, t: Value, expected: &str) {
        assert_eq!(table_to_markdown(name, &t), expected, "input: {t}");
    }

    #[test]
    fn python_json_dumps_matches_pythons_layout_and_escapes() {
        let v = json!({"a": 1, "b": [true, null, "x"], "c": {}, "d": [], "e": {"f": 2.5}});
        // json.dumps(v) / json.dumps(v, indent=4) in Python 3.
        assert_eq!(
            python_json_dumps(&v, None, true),
            r#"{"a": 1, "b": [true, null, "x"], "c": {}, "d": [], "e": {"f": 2.5}}"#
        );
        assert_eq!(
            python_json_dumps(&v, Some(4), true),
            "{\n    \"a\": 1,\n    \"b\": [\n        true,\n        null,\n        \"x\"\n    ],\n    \"c\": {},\n    \"d\": [],\n    \"e\": {\n        \"f\": 2.5\n    }\n}"
        );
        // ensure_ascii: é, a character beyond the BMP as a surrogate pair, DEL; quotes,
        // backslashes and control characters escaped either way.
        let s = json!("é😀\u{7f}\"\\\n\u{1}");
        assert_eq!(
            python_json_dumps(&s, None, true),
            r#""\u00e9\ud83d\ude00\u007f\"\\\n\u0001""#
        );
        assert_eq!(
            python_json_dumps(&s, None, false),
            "\"é😀\u{7f}\\\"\\\\\\n\\u0001\""
        );
    }

    #[test]
    fn spec_examples() {
        check(
            "Results",
            json!({"eventId": "e-9"}),
            "### Results\n|eventId|\n|---|\n| e-9 |\n",
        );
        check(
            "Alerts",
            json!([{"id": 2, "name": "b|c"}, {"id": 1, "name": "x\ny", "extra": null}]),
            "### Alerts\n|id|name|\n|---|---|\n| 2 | b\\|c |\n| 1 | x<br>y |\n",
        );
        check("Empty", json!([]), "### Empty\n**No entries.**\n");
        check(
            "",
            json!([{"a": [1, 2], "b": {"k": "v", "n": 1}}]),
            "|a|b|\n|---|---|\n| 1,<br>2 | k: v<br>n: 1 |\n",
        );
        check(
            "T",
            json!([{"a": 0, "b": false}]),
            "### T\n|a|b|\n|---|---|\n| 0 | false |\n",
        );
    }

    #[test]
    fn explicit_headers_keep_their_order() {
        let opts = TableOptions {
            headers: Some(vec!["name".into(), "id".into()]),
            ..Default::default()
        };
        assert_eq!(
            table_to_markdown_with("Alerts", &json!([{"id": 2, "name": "b"}]), &opts),
            "### Alerts\n|name|id|\n|---|---|\n| b | 2 |\n"
        );
    }

    #[test]
    fn headers_come_from_first_row_only_and_are_sorted() {
        check(
            "X",
            json!([{"b": 1, "a": 2}, {"a": 3, "c": 4}]),
            "### X\n|a|b|\n|---|---|\n| 2 | 1 |\n| 3 |  |\n",
        );
    }

    #[test]
    fn list_items_use_python_str() {
        check(
            "X",
            json!([{"l": [{"k": 1}, true, null, "s", ["x"]]}]),
            "### X\n|l|\n|---|\n| {'k': 1},<br>True,<br>None,<br>s,<br>['x'] |\n",
        );
    }

    #[test]
    fn backticks_are_escaped_and_nested_dicts_dumped() {
        check(
            "X",
            json!([{"a": "`x`", "d": {"in": {"z": 1}}}]),
            "### X\n|a|d|\n|---|---|\n| \\`x\\` | in: {<br>    \"z\": 1<br>} |\n",
        );
    }

    #[test]
    fn scalar_list_needs_headers() {
        let opts = TableOptions {
            headers: Some(vec!["ip".into()]),
            ..Default::default()
        };
        assert_eq!(
            table_to_markdown_with("IPs", &json!(["1.1.1.1", "8.8.8.8"]), &opts),
            "### IPs\n|ip|\n|---|\n| 1.1.1.1 |\n| 8.8.8.8 |\n"
        );
        assert!(table_to_markdown("IPs", &json!(["1.1.1.1"])).contains("Missing headers"));
    }

    #[test]
    fn remove_null_drops_empty_columns() {
        let opts = TableOptions {
            remove_null: true,
            ..Default::default()
        };
        assert_eq!(
            table_to_markdown_with("X", &json!([{"a": 1, "b": null, "c": ""}]), &opts),
            "### X\n|a|\n|---|\n| 1 |\n"
        );
    }

    #[test]
    fn rows_that_are_not_objects_go_under_the_first_header() {
        // First row a dict: later scalars become `{first_header: value}`.
        let opts = TableOptions {
            headers: Some(vec!["a".into(), "b".into()]),
            ..Default::default()
        };
        assert_eq!(
            table_to_markdown_with("X", &json!([{"a": 1, "b": 2}, "s"]), &opts),
            "### X\n|a|b|\n|---|---|\n| 1 | 2 |\n| s |  |\n"
        );
        // First row a scalar: every row (dicts too) is a cell of the first header.
        let opts = TableOptions {
            headers: Some(vec!["v".into()]),
            ..Default::default()
        };
        assert_eq!(
            table_to_markdown_with("X", &json!([3, {"k": "x"}]), &opts),
            "### X\n|v|\n|---|\n| 3 |\n| k: x |\n"
        );
        // A dict first row without headers: a scalar row has no column to fill.
        check(
            "X",
            json!([{"a": 1}, 7]),
            "### X\n|a|\n|---|\n| 1 |\n|  |\n",
        );
    }

    #[test]
    fn line_breaks_pipes_and_header_options() {
        check(
            "X",
            json!([{"a|b": "1\r\n2\r3\n4"}]),
            "### X\n|a\\|b|\n|---|\n| 1<br>2<br>3<br>4 |\n",
        );
        let upper = |h: &str| h.to_uppercase();
        let opts = TableOptions {
            header_transform: Some(&upper),
            metadata: Some("meta".into()),
            keep_header_order: true,
            ..Default::default()
        };
        assert_eq!(
            table_to_markdown_with("X", &json!([{"z": 1, "a": "é|"}]), &opts),
            "### X\nmeta\n|Z|A|\n|---|---|\n| 1 | é\\| |\n"
        );
        check("X", json!({}), "### X\n**No entries.**\n");
    }
}
