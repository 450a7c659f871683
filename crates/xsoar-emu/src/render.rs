//! Rendering entries for a terminal.
//!
//! War-room markdown is mostly `### title` + a `tableToMarkdown` table. Tables are drawn with
//! aligned columns, headings in bold, `<br>` as line breaks inside cells; colour only when
//! the output is a terminal. Error entries are marked so they stand out in CI logs too.

use xsoar_engine::Entry;

/// Colours on or off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
}

/// One entry as terminal text.
pub fn entry(e: &Entry, style: Style) -> String {
    let mut out = String::new();
    let mut origin = Vec::new();
    // `none` is XSOAR's brand for entries no integration wrote (the engine's own errors:
    // unknown command, bad argument, no instance); as an origin it would read as "no error".
    if !e.brand.is_empty() && e.brand != "none" {
        origin.push(e.brand.clone());
    }
    if !e.instance.is_empty() && e.instance != e.brand {
        origin.push(e.instance.clone());
    }
    let mut header = format!("[{}]", e.id);
    if !origin.is_empty() {
        header.push(' ');
        header.push_str(&origin.join(" / "));
    }
    if e.simulated {
        header.push_str(" (embedded SIGNL4 simulator)");
    }
    if e.entry_type == 16 {
        header.push_str(&format!(" debug log file '{}'", e.file));
    }
    if e.is_error() {
        out.push_str(&style.red(&format!("✗ ERROR {header}")));
    } else {
        out.push_str(&style.dim(&header));
    }
    out.push('\n');
    let body = if e.entry_type == 16 {
        String::new()
    } else if e.display_format() == "markdown" {
        markdown(&e.display_text(), style)
    } else {
        e.display_text()
    };
    for line in body.lines() {
        out.push_str("  ");
        out.push_str(&if e.is_error() {
            style.red(line)
        } else {
            line.to_owned()
        });
        out.push('\n');
    }
    out
}

/// A file an entry carries (a debug-mode log), indented under the entry; dimmed, since the
/// entry itself is what the command returned.
pub fn attached_file(bytes: &[u8], style: Style) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(bytes).lines() {
        out.push_str("  │ ");
        out.push_str(&style.dim(line));
        out.push('\n');
    }
    out
}

/// Markdown to terminal text: headings, tables, bold.
pub fn markdown(md: &str, style: Style) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with('|') && lines.get(i + 1).is_some_and(|l| is_separator(l)) {
            let mut rows = vec![cells(line)];
            i += 2;
            while i < lines.len() && lines[i].starts_with('|') {
                rows.push(cells(lines[i]));
                i += 1;
            }
            out.push_str(&table(&rows, style));
            continue;
        }
        let heading = line.trim_start_matches('#');
        if heading.len() < line.len() && heading.starts_with(' ') {
            out.push_str(&style.bold(heading.trim()));
        } else {
            out.push_str(&line.replace("**", ""));
        }
        out.push('\n');
        i += 1;
    }
    out
}

fn is_separator(l: &str) -> bool {
    l.starts_with('|') && l.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('|') | Some('`')) => {
                cur.push(chars.next().unwrap_or(c))
            }
            '|' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|c| c.trim().replace("<br>", "\n"))
        .collect()
}

fn table(rows: &[Vec<String>], style: Style) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (j, c) in r.iter().enumerate() {
            for part in c.split('\n') {
                widths[j] = widths[j].max(part.chars().count());
            }
        }
    }
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        let height = r.iter().map(|c| c.split('\n').count()).max().unwrap_or(1);
        for k in 0..height {
            let mut line = String::new();
            for (j, w) in widths.iter().enumerate() {
                let part = r.get(j).and_then(|c| c.split('\n').nth(k)).unwrap_or("");
                let pad = w.saturating_sub(part.chars().count());
                line.push_str(part);
                line.push_str(&" ".repeat(pad));
                if j + 1 < cols {
                    line.push_str("  ");
                }
            }
            let line = line.trim_end().to_owned();
            out.push_str(&if n == 0 { style.bold(&line) } else { line });
            out.push('\n');
        }
        if n == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// The closing part of a terminal report: the context, then what the embedded SIGNL4
/// simulator holds when an entry of this investigation came from it.
pub fn context_and_simulator(
    inv: &xsoar_engine::Investigation,
    simulator: Option<&crate::setup::EmbeddedSimulator>,
    style: Style,
) -> anyhow::Result<()> {
    outln!("{}", style.bold("Context:"));
    outln!("{}", serde_json::to_string_pretty(&inv.context)?);
    let Some(sim) = simulator.filter(|_| inv.entries.iter().any(|e| e.simulated)) else {
        return Ok(());
    };
    let summary = sim.summary();
    if !summary.is_empty() {
        outln!(
            "{}",
            style.bold(&format!(
                "SIGNL4 simulator ({}; no SIGNL4 instance is configured) now holds:",
                sim.url()
            ))
        );
        for s in summary {
            outln!("  {s}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_show_no_brand() {
        let s = Style { color: false };
        let mut e = Entry::new(
            "2@1".into(),
            "1".into(),
            4,
            serde_json::json!("Missing required argument 'message' for command 'signl4_alert'"),
            "2026-01-01T00:00:00Z".into(),
        );
        e.brand = "none".into();
        assert_eq!(
            entry(&e, s),
            "✗ ERROR [2@1]\n  Missing required argument 'message' for command 'signl4_alert'\n"
        );
        e.brand = "SIGNL4".into();
        e.instance = "oncall".into();
        assert!(entry(&e, s).starts_with("✗ ERROR [2@1] SIGNL4 / oncall\n"));
    }

    #[test]
    fn tables_are_aligned() {
        let s = Style { color: false };
        let out = markdown(
            "### SIGNL4 alert created\n|eventId|x|\n|---|---|\n| e-1 | a\\|b<br>c |\n",
            s,
        );
        assert_eq!(
            out,
            "SIGNL4 alert created\neventId  x\n------------\ne-1      a|b\n         c\n"
        );
    }
}
