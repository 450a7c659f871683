//! The war-room command line (§5.2 of the semantics).
//!
//! `!name key=value key2="quoted value" key3=`raw` positional` is tokenised here without any
//! knowledge of the command's definition; binding tokens to declared arguments happens in
//! [`crate::args`]. Parsing is separate so that errors can point at a column of the line the
//! user typed (an unterminated quote, an unbalanced `${`).

use std::fmt;

/// What a war-room line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `!command args...`
    Command(CommandLine),
    /// `/system_command args...`
    System(CommandLine),
    /// Anything else: a chat message, stored as a note entry.
    Note(String),
    /// Nothing but white space.
    Empty,
}

/// A tokenised command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The command or script name.
    pub name: String,
    /// Arguments in the order typed.
    pub args: Vec<RawArg>,
}

/// How an argument value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// No quotes.
    Bare,
    /// `"..."` (escapes processed).
    Double,
    /// `'...'` (escapes processed).
    Single,
    /// `` `...` `` (raw).
    Backtick,
}

/// One argument token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawArg {
    /// `key` of `key=value`; `None` for a positional value.
    pub key: Option<String>,
    /// The value with quotes removed and escapes processed (DT not yet interpolated).
    pub value: String,
    /// How the value was quoted.
    pub quote: Quote,
}

/// A line that cannot be tokenised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct LineError {
    /// 1-based column (in characters) where the problem starts.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Lines longer than this are refused (a war-room line is typed or generated, not a file).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Parse one war-room line.
pub fn parse_line(input: &str) -> Result<Line, LineError> {
    if input.len() > MAX_LINE_BYTES {
        return Err(LineError {
            column: 1,
            message: format!(
                "the line is {} bytes long; the limit is {MAX_LINE_BYTES} bytes",
                input.len()
            ),
        });
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Ok(Line::Empty);
    }
    let offset = input.len() - input.trim_start().len();
    let (rest, system) = match trimmed.as_bytes()[0] {
        b'!' => (&trimmed[1..], false),
        b'/' => (&trimmed[1..], true),
        _ => return Ok(Line::Note(trimmed.to_owned())),
    };
    let base_col = input[..offset].chars().count() + 2;
    let mut p = Parser {
        s: rest,
        pos: 0,
        base_col,
    };
    let name = p.take_while(|c| !c.is_whitespace());
    if name.is_empty() {
        return Err(LineError {
            column: base_col,
            message: "expected a command name after '!'".into(),
        });
    }
    let mut args = Vec::new();
    loop {
        p.skip_ws();
        if p.at_end() {
            break;
        }
        args.push(p.argument()?);
    }
    let line = CommandLine { name, args };
    Ok(if system {
        Line::System(line)
    } else {
        Line::Command(line)
    })
}

/// A cursor over the line after `!`: byte positions into the text (values are slices of it),
/// columns counted in characters only when an error is reported.
struct Parser<'a> {
    s: &'a str,
    pos: usize,
    base_col: usize,
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<char> {
        // Lines are mostly ASCII: one byte is one character.
        match self.s.as_bytes().get(self.pos) {
            Some(&b) if b < 0x80 => Some(char::from(b)),
            Some(_) => self.s.get(self.pos..).and_then(|r| r.chars().next()),
            None => None,
        }
    }

    /// Moves past the current character.
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn col(&self, pos: usize) -> usize {
        self.base_col + self.s.get(..pos).map_or(0, |p| p.chars().count())
    }

    fn slice(&self, from: usize) -> String {
        self.s.get(from..self.pos).unwrap_or_default().to_owned()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        self.slice(start)
    }

    fn argument(&mut self) -> Result<RawArg, LineError> {
        // A key is a run of key characters followed by '='.
        let rest = self.s.get(self.pos..).unwrap_or_default();
        let ascii_key = rest
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
            .unwrap_or(rest.len());
        let key_len = if rest.as_bytes().get(ascii_key).is_none_or(|&b| b < 0x80) {
            ascii_key
        } else {
            // A non-ASCII letter or digit may continue the key.
            rest.chars()
                .take_while(|&c| is_key_char(c))
                .map(char::len_utf8)
                .sum()
        };
        let key = if key_len > 0 && rest.as_bytes().get(key_len) == Some(&b'=') {
            let key = rest[..key_len].to_owned();
            self.pos += key_len + 1;
            Some(key)
        } else {
            None
        };
        let (value, quote) = self.value()?;
        Ok(RawArg { key, value, quote })
    }

    fn value(&mut self) -> Result<(String, Quote), LineError> {
        match self.peek() {
            None => Ok((String::new(), Quote::Bare)),
            Some(c) if c.is_whitespace() => Ok((String::new(), Quote::Bare)),
            Some('"') => self.quoted('"').map(|v| (v, Quote::Double)),
            Some('\'') => self.quoted('\'').map(|v| (v, Quote::Single)),
            Some('`') => self.backtick().map(|v| (v, Quote::Backtick)),
            Some(_) => self.bare().map(|v| (v, Quote::Bare)),
        }
    }

    fn quoted(&mut self, q: char) -> Result<String, LineError> {
        let start = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    let kind = if q == '"' { "double" } else { "single" };
                    return Err(LineError {
                        column: self.col(start),
                        message: format!(
                            "unterminated {kind} quote: add the closing {q} (or use backticks for text with quotes)"
                        ),
                    });
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('r') => out.push('\r'),
                        Some(c @ ('"' | '\'' | '\\')) => out.push(c),
                        Some(c) => {
                            out.push('\\');
                            out.push(c);
                        }
                        None => out.push('\\'),
                    }
                    self.bump();
                }
                Some(c) if c == q => {
                    self.bump();
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }

    fn backtick(&mut self) -> Result<String, LineError> {
        let start = self.pos;
        self.bump();
        let body_start = self.pos;
        match self.s.get(body_start..).and_then(|r| r.find('`')) {
            Some(len) => {
                self.pos = body_start + len;
                let out = self.slice(body_start);
                self.bump();
                Ok(out)
            }
            None => {
                self.pos = self.s.len();
                Err(LineError {
                    column: self.col(start),
                    message: "unterminated backtick quote: add the closing `".into(),
                })
            }
        }
    }

    /// A bare value ends at white space, except inside `${...}`, which may hold spaces,
    /// quotes and nested brackets (`${X(val.a == 'b c')}`).
    fn bare(&mut self) -> Result<String, LineError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                break;
            }
            if c == '$' && self.s.as_bytes().get(self.pos + 1) == Some(&b'{') {
                let open = self.pos;
                self.pos += 2;
                self.skip_dt_body(open)?;
                continue;
            }
            self.bump();
        }
        Ok(self.slice(start))
    }

    fn skip_dt_body(&mut self, open: usize) -> Result<(), LineError> {
        // Any closing bracket closes one level (as it always has); alongside, brackets are
        // paired by kind with where they opened, so a line that ends inside the `${` can name
        // the bracket or quote left open rather than only say that the `${` is not closed.
        let mut depth = 1usize;
        let mut inner: Vec<(char, usize)> = Vec::new();
        let mut quote: Option<(char, usize)> = None;
        while let Some(c) = self.peek() {
            let at = self.pos;
            self.bump();
            match quote {
                Some((q, _)) => {
                    if c == '\\' {
                        self.bump();
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' | '`' => quote = Some((c, at)),
                    '{' | '(' | '[' => {
                        depth += 1;
                        inner.push((c, at));
                    }
                    '}' | ')' | ']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(());
                        }
                        let opener = match c {
                            ')' => '(',
                            ']' => '[',
                            _ => '{',
                        };
                        if inner.last().is_some_and(|&(o, _)| o == opener) {
                            inner.pop();
                        }
                    }
                    _ => {}
                },
            }
        }
        let message = match (quote, inner.last()) {
            (Some((q, at)), _) => format!(
                "unbalanced '${{': the {q} opened at column {} inside it is never closed",
                self.col(at)
            ),
            (None, Some(&(b, at))) => format!(
                "unbalanced '${{': the '{b}' at column {} inside it is never closed (add '{}', then the closing '}}')",
                self.col(at),
                match b {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                }
            ),
            (None, None) => "unbalanced '${': add the closing '}' (or quote the value)".into(),
        };
        Err(LineError {
            column: self.col(open),
            message,
        })
    }
}

impl fmt::Display for CommandLine {
    /// The canonical form of the line (used as `parentContent`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "!{}", self.name)?;
        for a in &self.args {
            f.write_str(" ")?;
            match &a.key {
                Some(k) => write!(f, "{k}={}", quote_value(&a.value))?,
                // A positional value that starts like `key=` is quoted, or it would read back
                // as a named argument.
                None if looks_named(&a.value) => write!(f, "{}", quote_always(&a.value))?,
                None => write!(f, "{}", quote_value(&a.value))?,
            }
        }
        Ok(())
    }
}

/// Quote a value so that [`parse_line`] reads it back unchanged.
pub fn quote_value(v: &str) -> String {
    if !v.is_empty()
        && !v.chars().any(|c| c.is_whitespace() || "\"'`\\".contains(c))
        && (!v.contains("${") || reads_back_bare(v))
    {
        return v.to_owned();
    }
    quote_always(v)
}

/// `${` in a bare value opens a DT span that runs to its closing brace: a value with an
/// unbalanced `${` only reads back quoted.
fn reads_back_bare(v: &str) -> bool {
    match parse_line(&format!("!x k={v}")) {
        Ok(Line::Command(cl)) => matches!(cl.args.as_slice(), [a] if a.value == v),
        _ => false,
    }
}

/// Whether a bare `v` would be read as `key=value`.
fn looks_named(v: &str) -> bool {
    let key_len: usize = v
        .chars()
        .take_while(|&c| is_key_char(c))
        .map(char::len_utf8)
        .sum();
    key_len > 0 && v[key_len..].starts_with('=')
}

/// `v` in backticks or double quotes, whichever keeps it unchanged.
fn quote_always(v: &str) -> String {
    if v.contains('"') && !v.contains('`') && !v.contains('\n') {
        return format!("`{v}`");
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a parse as `name | key=«value»(quote) ...` or `ERR column: message`.
    fn render(input: &str) -> String {
        match parse_line(input) {
            Err(e) => format!("ERR {e}"),
            Ok(Line::Empty) => "EMPTY".into(),
            Ok(Line::Note(t)) => format!("NOTE «{t}»"),
            Ok(Line::Command(c)) | Ok(Line::System(c)) => {
                let mut out = c.name.clone();
                for a in &c.args {
                    out.push_str(" | ");
                    if let Some(k) = &a.key {
                        out.push_str(k);
                        out.push('=');
                    }
                    out.push_str(&format!("«{}»{:?}", a.value, a.quote));
                }
                out
            }
        }
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(render(input), expected, "input: {input}");
    }

    #[test]
    fn kinds_of_lines() {
        check("", "EMPTY");
        check("   ", "EMPTY");
        check("hello team", "NOTE «hello team»");
        check("  !Print value=x  ", "Print | value=«x»Bare");
        check("/close_investigation", "close_investigation");
        check("!", "ERR column 2: expected a command name after '!'");
    }

    #[test]
    fn quoting() {
        check(
            r#"!signl4_alert title="Disk full" message="db1 at 95%""#,
            "signl4_alert | title=«Disk full»Double | message=«db1 at 95%»Double",
        );
        check(
            "!Print value='single quoted'",
            "Print | value=«single quoted»Single",
        );
        check(
            r#"!Set key=Host value=`{"name": "ws-01", "ip": "10.0.0.5"}`"#,
            r#"Set | key=«Host»Bare | value=«{"name": "ws-01", "ip": "10.0.0.5"}»Backtick"#,
        );
        check(
            r#"!Print value="say \"hi\"\n\tnow \\ \q""#,
            "Print | value=«say \"hi\"\n\tnow \\ \\q»Double",
        );
        check(
            r"!Print value=`raw \n stays`",
            r"Print | value=«raw \n stays»Backtick",
        );
        check("!Print value=", "Print | value=«»Bare");
        check(
            "!Print value= other=1",
            "Print | value=«»Bare | other=«1»Bare",
        );
    }

    #[test]
    fn positional_and_keys() {
        check("!ip 1.1.1.1", "ip | «1.1.1.1»Bare");
        check("!ip \"1.1.1.1\"", "ip | «1.1.1.1»Double");
        check(
            "!x using-brand=A extend-context=K=Contents.a::L= a.b=1",
            "x | using-brand=«A»Bare | extend-context=«K=Contents.a::L=»Bare | a.b=«1»Bare",
        );
    }

    #[test]
    fn dt_in_bare_values_spans_spaces() {
        check(
            "!Print value=${X(val.a == 'b c')}",
            "Print | value=«${X(val.a == 'b c')}»Bare",
        );
        check(
            "!Print value=pre${a.b}post next=1",
            "Print | value=«pre${a.b}post»Bare | next=«1»Bare",
        );
        check(
            "!Print value=${a.{b}} k=v",
            "Print | value=«${a.{b}}»Bare | k=«v»Bare",
        );
    }

    #[test]
    fn errors_name_the_column() {
        check(r#"!Print value="oops"#, "ERR column 14: unterminated double quote: add the closing \" (or use backticks for text with quotes)");
        check("!Print value='oops", "ERR column 14: unterminated single quote: add the closing ' (or use backticks for text with quotes)");
        check(
            "!Print value=`oops",
            "ERR column 14: unterminated backtick quote: add the closing `",
        );
        check(
            "!Print value=${a.b c=1",
            "ERR column 14: unbalanced '${': add the closing '}' (or quote the value)",
        );
        check(
            "  !Print value=${",
            "ERR column 16: unbalanced '${': add the closing '}' (or quote the value)",
        );
        check(
            "!Print value=${foo.(bar}",
            "ERR column 14: unbalanced '${': the '(' at column 20 inside it is never closed (add ')', then the closing '}')",
        );
        check(
            "!Print value=${a.[0}",
            "ERR column 14: unbalanced '${': the '[' at column 18 inside it is never closed (add ']', then the closing '}')",
        );
        check(
            "!Print value=${a.(val.x == 'b)}",
            "ERR column 14: unbalanced '${': the ' opened at column 28 inside it is never closed",
        );
        // Columns count characters, not bytes.
        check(
            "!cmd x=é y=\"ü",
            "ERR column 12: unterminated double quote: add the closing \" (or use backticks for text with quotes)",
        );
    }

    #[test]
    fn non_ascii_values_and_keys() {
        let Ok(Line::Command(cl)) =
            parse_line("!sig títle=\"Ünïcode ✓\" clé=`日本` ${x.ü ü} bare→x")
        else {
            panic!("parses");
        };
        assert_eq!(cl.name, "sig");
        let got: Vec<(Option<&str>, &str)> = cl
            .args
            .iter()
            .map(|a| (a.key.as_deref(), a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("títle"), "Ünïcode ✓"),
                (Some("clé"), "日本"),
                (None, "${x.ü ü}"),
                (None, "bare→x"),
            ]
        );
    }

    #[test]
    fn display_round_trips() {
        for line in [
            r#"!signl4_alert title="Disk full" message="db1 at 95%""#,
            r#"!Set key=Host value=`{"a": "b c"}`"#,
            "!Print value=\"it's `x` \\\\ \"",
            "!ip 1.1.1.1",
            "!Print value=",
            // A `${` without its `}` and a positional value that looks like `key=value` are
            // quoted in the canonical form, or they would not read back.
            r#"!Print value="${x""#,
            r#"!Print "${a b""#,
            r#"!cmd "a=b" c="d=e""#,
            "!cmd `é=1`",
        ] {
            let Ok(Line::Command(c)) = parse_line(line) else {
                panic!("{line}")
            };
            let Ok(Line::Command(again)) = parse_line(&c.to_string()) else {
                panic!("{c}")
            };
            let strip = |c: &CommandLine| -> Vec<(Option<String>, String)> {
                c.args
                    .iter()
                    .map(|a| (a.key.clone(), a.value.clone()))
                    .collect()
            };
            assert_eq!(
                (again.name.clone(), strip(&again)),
                (c.name.clone(), strip(&c)),
                "{line} -> {c}"
            );
        }
    }

    #[test]
    fn huge_lines_are_refused_not_parsed() {
        let line = format!("!Print value={}", "x".repeat(MAX_LINE_BYTES));
        assert!(matches!(parse_line(&line), Err(e) if e.message.contains("limit")));
        let ok = format!("!Print value={}", "x".repeat(10 * 1024 * 1024));
        assert!(matches!(parse_line(&ok), Ok(Line::Command(_))));
    }
}
