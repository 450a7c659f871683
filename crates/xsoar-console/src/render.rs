//! Entries as the war room shows them: HTML rendered on the server and sanitised.
//!
//! Entry contents come from external systems (alert titles, ticket bodies, API errors), so they
//! are hostile input. Markdown is rendered with pulldown-cmark and the HTML — including raw HTML
//! embedded in the markdown — goes through ammonia's allow-list: no `<script>`, no event-handler
//! attributes, no `javascript:` URLs, no relative URLs that could reach the console's own API.
//! The page inserts only this sanitised HTML; everything else it shows is set as text. The
//! Content-Security-Policy (no inline script) is a second wall, not the first.

use pulldown_cmark::{html, Options, Parser};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use xsoar_engine::{CompactString, Entry, EntryTask};

/// Markdown to sanitised HTML (tables, strikethrough, task lists; raw HTML is sanitised).
pub fn markdown_to_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let parser = Parser::new_ext(markdown, options);
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, parser);
    sanitize_html(&raw)
}

/// Sanitise HTML from an untrusted source with the war room's allow-list.
pub fn sanitize_html(raw: &str) -> String {
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    ammonia::Builder::default()
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(raw)
        .to_string()
}

/// Plain text as HTML (escaped; the page keeps line breaks with CSS).
pub fn text_to_html(text: &str) -> String {
    format!("<div class=\"plain\">{}</div>", escape_html(text))
}

/// Escape the five HTML-significant characters.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What kind of entry it is, for styling.
fn kind(entry: &Entry) -> &'static str {
    match entry.entry_type {
        4 => "error",
        11 => "warning",
        16 => "debug",
        3 | 9 => "file",
        _ if entry.category == "chat" => "chat",
        _ if entry.note => "note",
        _ => "result",
    }
}

/// One war-room entry, ready for the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    /// Entry id (`3@7`).
    pub id: CompactString,
    /// Position in the war room (1-based).
    pub seq: usize,
    /// XSOAR entry type.
    #[serde(rename = "type")]
    pub entry_type: i64,
    /// `chat`, `result`, `note`, `error`, `warning`, `debug`, `file`.
    pub kind: &'static str,
    /// Contents format.
    pub format: CompactString,
    /// Sanitised HTML of what the war room shows.
    pub html: String,
    /// Pretty-printed JSON contents, shown collapsible (set as text by the page).
    pub json: Option<String>,
    /// The command line that produced it (`parentContent`).
    pub command: CompactString,
    /// Integration brand.
    pub brand: CompactString,
    /// Instance name.
    pub instance: CompactString,
    /// The instance is the embedded SIGNL4 simulator.
    pub simulated: bool,
    /// Creation time, RFC 3339.
    pub created: CompactString,
    /// Author.
    pub user: CompactString,
    /// Category.
    pub category: CompactString,
    /// The playbook task that wrote it.
    pub task: Option<Box<EntryTask>>,
    /// Context the entry wrote (its outputs), pretty-printed.
    pub outputs: Option<String>,
    /// Attached file name.
    pub file: CompactString,
}

/// The sequence number of an entry id (`12@7` → 12).
pub fn entry_seq(id: &str) -> usize {
    id.split_once('@')
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0)
}

fn pretty(v: &Value) -> Option<String> {
    serde_json::to_string_pretty(v).ok()
}

/// A war-room command (`!cmd`) or system command (`/close`) echoed as a chat entry.
fn is_command_line(text: &str) -> bool {
    text.starts_with('!') || text.starts_with('/')
}

/// Render an entry.
pub fn entry_view(entry: &Entry) -> EntryView {
    let structured = matches!(entry.contents, Value::Object(_) | Value::Array(_));
    let html = match (&entry.human_readable, &entry.contents) {
        (Some(hr), _) => markdown_to_html(hr),
        // A typed command line is shown as typed, not as markdown.
        (None, Value::String(s)) if entry.category == "chat" && is_command_line(s) => {
            text_to_html(s)
        }
        (None, Value::String(s)) => match entry.format.as_str() {
            "markdown" | "table" => markdown_to_html(s),
            "html" => sanitize_html(s),
            _ => text_to_html(s),
        },
        // A table entry (`ContentsFormat: table`) is drawn as a table, as XSOAR does.
        (None, table @ (Value::Array(_) | Value::Object(_))) if entry.format == "table" => {
            markdown_to_html(&xsoar_connector::table_to_markdown("", table))
        }
        (None, Value::Null) => String::new(),
        (None, Value::Bool(_) | Value::Number(_)) => text_to_html(&entry.contents.to_string()),
        // Structured contents without a human-readable form are shown as JSON below.
        (None, _) => String::new(),
    };
    let outputs = entry
        .entry_context
        .as_ref()
        .filter(|c| !c.is_empty())
        .and_then(|c| pretty(&Value::Object(Map::clone(c))));
    EntryView {
        id: entry.id.clone(),
        seq: entry_seq(&entry.id),
        entry_type: entry.entry_type,
        kind: kind(entry),
        format: entry.format.clone(),
        html,
        json: structured.then(|| pretty(&entry.contents)).flatten(),
        command: entry.parent_content.clone(),
        brand: entry.brand.clone(),
        instance: entry.instance.clone(),
        simulated: entry.simulated,
        created: entry.created.clone(),
        user: entry.user.clone(),
        category: entry.category.clone(),
        task: entry.entry_task.clone(),
        outputs,
        file: entry.file.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tags_are_removed_with_their_content() {
        let html = markdown_to_html("hello <script>alert('x')</script> world");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert("), "{html}");
        assert!(html.contains("hello"), "{html}");
        assert!(html.contains("world"), "{html}");
    }

    #[test]
    fn event_handler_attributes_are_removed() {
        let html =
            markdown_to_html("<img src=x onerror=\"alert(1)\"> and <b onclick=\"x()\">b</b>");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(html.contains("<b>b</b>"), "{html}");
    }

    #[test]
    fn javascript_links_lose_their_href() {
        for md in [
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">click</a>",
            "<a href=\"JaVaScRiPt:alert(1)\">click</a>",
            "<a href=\"/console/api/instances\">click</a>",
        ] {
            let html = markdown_to_html(md);
            assert!(
                !html.to_ascii_lowercase().contains("javascript:"),
                "{md} -> {html}"
            );
            assert!(!html.contains("href=\"/console"), "{md} -> {html}");
            assert!(html.contains("click"), "{md} -> {html}");
        }
    }

    #[test]
    fn safe_links_are_kept_with_rel() {
        let html = markdown_to_html("[SIGNL4](https://www.signl4.com/)");
        assert_eq!(
            html.trim(),
            "<p><a href=\"https://www.signl4.com/\" rel=\"noopener noreferrer nofollow\">SIGNL4</a></p>"
        );
    }

    #[test]
    fn table_entries_are_drawn_as_escaped_tables_with_the_json_kept() {
        let entry = Entry {
            format: "table".into(),
            ..Entry::new(
                "3@1".into(),
                "1".into(),
                1,
                serde_json::json!([{"Context key": "Host", "Value": "<img src=x onerror=alert(1)>"}]),
                "2026-01-01T00:00:00Z".into(),
            )
        };
        let view = entry_view(&entry);
        assert!(view.html.contains("<th>Context key</th>"), "{}", view.html);
        assert!(view.html.contains("<td>Host</td>"), "{}", view.html);
        assert!(!view.html.contains("onerror"), "{}", view.html);
        assert!(view
            .json
            .is_some_and(|j| j.contains("\"Context key\": \"Host\"")));
    }

    #[test]
    fn tables_are_kept() {
        let md = "### SIGNL4 alert created\n|eventId|status|\n|---|---|\n| ev-1 | new |\n";
        let html = markdown_to_html(md);
        assert!(html.contains("<h3>SIGNL4 alert created</h3>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<th>eventId</th>"), "{html}");
        assert!(html.contains("<td>ev-1</td>"), "{html}");
    }

    #[test]
    fn plain_text_is_escaped() {
        assert_eq!(
            text_to_html("<img src=x onerror=alert(1)> & \"q\""),
            "<div class=\"plain\">&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;</div>"
        );
    }

    #[test]
    fn html_format_entries_are_sanitised() {
        let html = sanitize_html(
            "<div><iframe src=\"https://x\"></iframe><p style=\"color:red\">hi</p></div>",
        );
        assert_eq!(html, "<div><p>hi</p></div>");
    }

    #[test]
    fn entry_seq_parses_ids() {
        assert_eq!(entry_seq("12@7"), 12);
        assert_eq!(entry_seq("x"), 0);
    }
}
