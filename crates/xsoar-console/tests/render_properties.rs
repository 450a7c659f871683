//! Generated hostile entry contents (proptest): markdown and HTML assembled from the pieces
//! attacks are made of — script and style elements, event handlers, `javascript:`/`data:`/
//! entity-encoded URLs in links, images and SVG, broken tags and quotes — rendered as every kind
//! of entry the war room shows. The HTML that reaches the page holds only allowed elements,
//! no event-handler or style attributes, and only http, https or mailto URLs; sanitising it
//! again changes nothing.
//!
//! (`text` entries are escaped, not sanitised: they are checked by the same rules.)

use proptest::prelude::*;
use serde_json::Value;
use xsoar_console::render::{entry_view, sanitize_html};
use xsoar_engine::{CompactString, Entry};

const PIECES: &[&str] = &[
    "<script>alert(1)</script>",
    "<script src=//evil.example/x.js></script>",
    "<SCRIPT>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<svg onload=alert(1)><circle r=1></svg>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"/entry/execute/sync\">relative</a>",
    "<a href=\"https://example.com\" onclick=\"x()\">ok</a>",
    "<iframe src=https://example.com></iframe>",
    "<object data=x></object>",
    "<embed src=x>",
    "<style>body{display:none}</style>",
    "<b style=\"background:url(javascript:alert(1))\">b</b>",
    "<form action=https://example.com><input name=x></form>",
    "<meta http-equiv=refresh content=\"0;url=javascript:alert(1)\">",
    "<base href=https://evil.example/>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<div><p>nested <em>ok</em></p></div>",
    "[md link](javascript:alert(1))",
    "[md link](https://example.com \"t\")",
    "![img](javascript:alert(1))",
    "<javascript:alert(1)>",
    "<https://example.com>",
    "| a | b |\n|---|---|\n| <script>x</script> | `code` |\n",
    "```\n<script>in code</script>\n```\n",
    "**bold** _em_ ~~s~~",
    "\"",
    "'",
    "<",
    ">",
    "&",
    "=",
    " ",
    "\n",
    "`",
    "<!-- comment <script>x</script> -->",
    "<![CDATA[<script>x</script>]]>",
    "<a href=x",
    "<img src=\"x\" onerror=\"",
];

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(PIECES), 1..8).prop_map(|p| p.concat()),
        1 => any::<String>(),
    ]
}

/// Elements the war room's allow-list may produce (ammonia's defaults).
const ALLOWED: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "map",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
    "input",
];

/// Decode the entities ammonia writes in attribute values.
fn unescape(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every tag of `html` (text is escaped, so each `<` opens one) follows the rules.
fn check_html(html: &str) -> Result<(), String> {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after
            .find('>')
            .ok_or_else(|| format!("unclosed tag in {html}"))?;
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with('/') {
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !ALLOWED.contains(&name.as_str()) {
            return Err(format!("element <{name}> in {html}"));
        }
        // Attributes: name="value" pairs (ammonia always quotes values).
        let mut attrs = &tag[name.len()..];
        while let Some(eq) = attrs.find("=\"") {
            let attr = attrs[..eq]
                .rsplit(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let value_start = eq + 2;
            let value_len = attrs[value_start..]
                .find('"')
                .ok_or_else(|| format!("unterminated attribute in {html}"))?;
            let value = unescape(&attrs[value_start..value_start + value_len]);
            attrs = &attrs[value_start + value_len + 1..];
            if attr.starts_with("on") || attr == "style" {
                return Err(format!("attribute {attr} in {html}"));
            }
            if matches!(
                attr.as_str(),
                "href" | "src" | "action" | "formaction" | "xlink:href"
            ) {
                let scheme = value
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                let ok =
                    value.contains(':') && matches!(scheme.as_str(), "http" | "https" | "mailto");
                if !ok {
                    return Err(format!("{attr}={value:?} in {html}"));
                }
            }
        }
    }
    Ok(())
}

fn entry(contents: &str, format: &str, human_readable: Option<&str>, category: &str) -> Entry {
    Entry {
        format: CompactString::from(format),
        human_readable: human_readable.map(str::to_owned),
        category: CompactString::from(category),
        ..Entry::new(
            "1@1".into(),
            "1".into(),
            1,
            Value::String(contents.to_owned()),
            "2025-01-01T00:00:00Z".into(),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn hostile_contents_render_to_safe_html(text in hostile(), kind in 0usize..6) {
        let e = match kind {
            0 => entry(&text, "markdown", None, "commandAndResults"),
            1 => entry(&text, "html", None, "commandAndResults"),
            2 => entry(&text, "text", None, "commandAndResults"),
            3 => entry("{}", "json", Some(&text), "commandAndResults"),
            4 => entry(&format!("!Print value={text}"), "markdown", None, "chat"),
            _ => entry(&text, "table", None, "chat"),
        };
        let html = entry_view(&e).html;
        if let Err(problem) = check_html(&html) {
            prop_assert!(false, "{problem}\nfrom {text:?} (kind {kind})");
        }
        // Sanitised output is a fixed point (plain text is escaped into the page's own wrapper).
        if !html.starts_with("<div class=\"plain\">") {
            prop_assert_eq!(sanitize_html(&html), html.clone(), "sanitising twice changed {:?}", text);
        }
    }
}

/// The checker itself: it rejects what it is meant to catch and accepts safe HTML.
#[test]
fn the_checker_rejects_unsafe_html() {
    for bad in [
        "<script>alert(1)</script>",
        "<img src=\"x\" onerror=\"alert(1)\">",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"&#106;avascript:alert(1)\">x</a>",
        "<a href=\"/entry/execute/sync\">x</a>",
        "<b style=\"color:red\">x</b>",
        "<iframe src=\"https://example.com\"></iframe>",
        "<div",
    ] {
        assert!(check_html(bad).is_err(), "accepted {bad}");
    }
    for good in [
        "<p>text &lt;script&gt;</p>",
        "<a href=\"https://example.com\" rel=\"noopener noreferrer nofollow\">x</a>",
        "<table><thead><tr><th>a</th></tr></thead></table>",
        "<div class=\"plain\">x</div>",
    ] {
        assert!(check_html(good).is_ok(), "rejected {good}");
    }
}
