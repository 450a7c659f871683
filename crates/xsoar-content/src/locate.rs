//! Finding the line and column of a YAML node from its path, after the fact.
//!
//! `serde_yaml::Value` carries no positions, and a marked parse costs about as much as the
//! parse itself. Positions are only needed when a diagnostic is printed, so they are found
//! lazily by a small indentation-aware scan of the text: block mappings and sequences are
//! followed by indentation, flow collections (`{a: 1}`, `[x, y]`) by a bracket-aware scan.
//! The scanner is deliberately forgiving: on anything it does not understand it stops and
//! reports the closest enclosing node it did find, which is still a useful place to look.

use crate::diag::PathSeg;

/// Line and column (both 1-based, column in characters) of the node at `yaml_path`, or `None`
/// when the node is not in the text.
pub fn locate(text: &str, yaml_path: &[PathSeg]) -> Option<(usize, usize)> {
    let locator = Locator::new(text);
    let (matched, pos) = locator.find(yaml_path);
    if matched == yaml_path.len() {
        pos.map(|p| locator.line_col(p))
    } else {
        None
    }
}

/// A position as (line index, byte column) in the line table.
type Pos = (usize, usize);

/// Where a node's value starts.
#[derive(Debug, Clone, Copy)]
enum Node {
    /// In block context, at (line index, byte column).
    Block(Pos),
    /// Inside a flow collection, at a byte offset of the text.
    Flow(usize),
}

/// A line table over a text, with path lookups.
#[derive(Debug)]
pub(crate) struct Locator<'t> {
    text: &'t str,
    /// (byte offset of the line start, line content without the line break).
    lines: Vec<(usize, &'t str)>,
}

impl<'t> Locator<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        // Line breaks as YAML counts them: LF, CRLF and a lone CR.
        let mut lines = Vec::new();
        let bytes = text.as_bytes();
        let (mut start, mut i) = (0, 0);
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    lines.push((start, &text[start..i]));
                    start = i + 1;
                }
                b'\r' => {
                    lines.push((start, &text[start..i]));
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        if start < text.len() {
            lines.push((start, &text[start..]));
        }
        Locator { text, lines }
    }

    /// Line/column (1-based) of the deepest node of `path` that exists; the document start
    /// when not even the first segment is found. `None` only for a text with no content.
    pub(crate) fn nearest(&self, path: &[PathSeg]) -> Option<(usize, usize)> {
        self.find(path).1.map(|p| self.line_col(p))
    }

    /// The raw text of the scalar at `path`, when the whole path is found and the value is a
    /// plain scalar (used to keep numbers as written: `fromversion: 6.10`).
    pub(crate) fn plain_scalar(&self, path: &[PathSeg]) -> Option<&'t str> {
        let (matched, _, node) = self.walk(path);
        if matched != path.len() {
            return None;
        }
        let (offset, flow) = match node? {
            Node::Block((line, col)) => (self.lines.get(line)?.0 + col, false),
            Node::Flow(offset) => (offset, true),
        };
        let rest = self.text.get(offset..)?;
        let mut end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        if flow {
            if let Some(e) = rest[..end].find([',', '}', ']']) {
                end = e;
            }
        }
        let mut token = &rest[..end];
        if let Some(c) = token.find(" #") {
            token = &token[..c];
        }
        let token = token.trim();
        (!token.is_empty()).then_some(token)
    }

    /// Convert (line index, byte column) to 1-based line and character column.
    fn line_col(&self, (line, col): Pos) -> (usize, usize) {
        let content = self.lines.get(line).map_or("", |l| l.1);
        let chars = content.get(..col).map_or(col, |s| s.chars().count());
        (line + 1, chars + 1)
    }

    fn offset_to_pos(&self, offset: usize) -> Pos {
        let line = match self.lines.binary_search_by(|(start, _)| start.cmp(&offset)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.lines.get(line).map_or(0, |l| l.0);
        (line, offset.saturating_sub(start))
    }

    /// How many segments were found, and the position of the last one found.
    fn find(&self, path: &[PathSeg]) -> (usize, Option<Pos>) {
        let (matched, pos, _) = self.walk(path);
        (matched, pos)
    }

    fn walk(&self, path: &[PathSeg]) -> (usize, Option<Pos>, Option<Node>) {
        let Some(first) = self.first_content(0, true) else {
            return (0, None, None);
        };
        let root = (first, indent(self.lines[first].1));
        let mut pos = root;
        let mut node = Some(Node::Block(root));
        for (i, seg) in path.iter().enumerate() {
            let Some(current) = node else {
                return (i, Some(pos), None);
            };
            let found = match current {
                Node::Block(at) => self.block_child(at, seg),
                Node::Flow(offset) => self.flow_child(offset, seg),
            };
            match found {
                Some((p, value)) => {
                    pos = p;
                    node = value;
                }
                None => return (i, Some(pos), None),
            }
        }
        (path.len(), Some(pos), node)
    }

    /// Index of the first line at or after `from` with content (not blank, not a comment).
    fn first_content(&self, from: usize, document_start: bool) -> Option<usize> {
        (from..self.lines.len()).find(|&i| {
            let t = self.lines[i].1.trim();
            !(t.is_empty()
                || t.starts_with('#')
                || (document_start && (t == "---" || t.starts_with('%'))))
        })
    }

    /// The child `seg` of the block node starting at `at`: the key (or item) position and
    /// where its value starts.
    fn block_child(&self, at: Pos, seg: &PathSeg) -> Option<(Pos, Option<Node>)> {
        let (line, col) = at;
        let rest = self.lines.get(line)?.1.get(col..)?;
        if rest.starts_with('{') || rest.starts_with('[') {
            return self.flow_child(self.lines[line].0 + col, seg);
        }
        match seg {
            PathSeg::Key(key) => self.block_key(at, key),
            PathSeg::Index(n) => self.block_item(at, *n),
        }
    }

    fn block_key(&self, at: Pos, wanted: &str) -> Option<(Pos, Option<Node>)> {
        self.block_key_nth(at, wanted, 0)
    }

    /// Where the mapping that starts at 1-based (`line`, `col`) repeats `key`: the position
    /// of its second occurrence (for duplicate-key errors, which the parser reports at the
    /// mapping).
    pub(crate) fn second_key(&self, line: usize, col: usize, key: &str) -> Option<(usize, usize)> {
        let l0 = line.checked_sub(1)?;
        let content = self.lines.get(l0)?.1;
        let c = content
            .char_indices()
            .nth(col.checked_sub(1)?)
            .map_or(content.len(), |(i, _)| i);
        self.block_key_nth((l0, c), key, 1)
            .map(|(p, _)| self.line_col(p))
    }

    fn block_key_nth(
        &self,
        (l0, c): Pos,
        wanted: &str,
        mut skip: usize,
    ) -> Option<(Pos, Option<Node>)> {
        let mut line = l0;
        while line < self.lines.len() {
            let content = self.lines[line].1;
            let t = content.trim_start();
            if !(t.is_empty() || t.starts_with('#')) {
                if line != l0 {
                    let ind = indent(content);
                    if ind < c {
                        return None;
                    }
                    if ind > c {
                        line += 1;
                        continue;
                    }
                }
                if let Some((key, colon)) = content.get(c..).and_then(parse_block_key) {
                    if key_matches(&key, wanted) {
                        if skip == 0 {
                            let value = self.value_after(line, c, c + colon + 1);
                            return Some(((line, c), value));
                        }
                        skip -= 1;
                    }
                }
            }
            line += 1;
        }
        None
    }

    fn block_item(&self, (l0, c): Pos, n: usize) -> Option<(Pos, Option<Node>)> {
        let mut count = 0;
        let mut line = l0;
        while line < self.lines.len() {
            let content = self.lines[line].1;
            let t = content.trim_start();
            if !(t.is_empty() || t.starts_with('#')) {
                if line != l0 {
                    let ind = indent(content);
                    if ind < c {
                        return None;
                    }
                    if ind > c {
                        line += 1;
                        continue;
                    }
                }
                let rest = content.get(c..)?;
                if !is_item(rest) {
                    return None;
                }
                if count == n {
                    let after = c + 1 + (rest.len() - 1 - rest[1..].trim_start().len());
                    let value = self.inline_or_next(line, after, c, false);
                    return Some(((line, c), value));
                }
                count += 1;
            }
            line += 1;
        }
        None
    }

    /// The value of a key at column `key_col` whose `:` ends at byte `after`.
    fn value_after(&self, line: usize, key_col: usize, after: usize) -> Option<Node> {
        self.inline_or_next(line, after, key_col, true)
    }

    /// A value starting after byte `after` of `line`, or on the next content line when
    /// nothing but a comment, an anchor or a tag follows.
    fn inline_or_next(
        &self,
        line: usize,
        after: usize,
        parent: usize,
        same_indent_seq: bool,
    ) -> Option<Node> {
        let content = self.lines.get(line)?.1;
        let mut at = after.min(content.len());
        loop {
            let rest = content.get(at..)?;
            let trimmed = rest.trim_start();
            at += rest.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                break;
            }
            if trimmed.starts_with('&') || trimmed.starts_with('!') {
                let token = trimmed.find([' ', '\t']).unwrap_or(trimmed.len());
                at += token;
                continue;
            }
            return Some(Node::Block((line, at)));
        }
        let next = self.first_content(line + 1, false)?;
        let ind = indent(self.lines[next].1);
        let fits = ind > parent
            || (same_indent_seq && ind == parent && is_item(self.lines[next].1.get(ind..)?));
        fits.then_some(Node::Block((next, ind)))
    }

    fn flow_child(&self, offset: usize, seg: &PathSeg) -> Option<(Pos, Option<Node>)> {
        let mut scan = Flow {
            text: self.text.as_bytes(),
            pos: offset,
        };
        let (item, value) = match seg {
            PathSeg::Key(key) => scan.key(key)?,
            PathSeg::Index(n) => scan.item(*n)?,
        };
        Some((self.offset_to_pos(item), value.map(Node::Flow)))
    }
}

/// Leading spaces.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `- x` or a lone `-`.
fn is_item(rest: &str) -> bool {
    let mut b = rest.bytes();
    b.next() == Some(b'-') && matches!(b.next(), None | Some(b' ' | b'\t'))
}

/// Key compare; YAML booleans are normalised to lowercase by the loader.
fn key_matches(found: &str, wanted: &str) -> bool {
    found == wanted
        || ((wanted == "true" || wanted == "false") && found.eq_ignore_ascii_case(wanted))
}

/// Parse `key:` at the start of `s`: the key text and the byte index of the `:`.
fn parse_block_key(s: &str) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    let (key, end) = match bytes.first()? {
        b'"' => {
            let end = double_quoted_end(bytes, 0)?;
            (
                serde_json::from_str::<String>(&s[..end])
                    .unwrap_or_else(|_| s[1..end - 1].to_owned()),
                end,
            )
        }
        b'\'' => {
            let end = single_quoted_end(bytes, 0)?;
            (s[1..end - 1].replace("''", "'"), end)
        }
        b'#' | b'{' | b'[' | b']' | b'}' | b',' | b'?' | b'|' | b'>' | b'&' | b'*' | b'!'
        | b'%' | b'@' | b'`' => return None,
        b'-' if is_item(s) => return None,
        _ => {
            let colon = plain_key_colon(s)?;
            return Some((s[..colon].trim_end().to_owned(), colon));
        }
    };
    let rest = &s[end..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let colon = end + (rest.len() - trimmed.len());
    let mut after = trimmed.bytes();
    (after.next() == Some(b':') && matches!(after.next(), None | Some(b' ' | b'\t')))
        .then_some((key, colon))
}

/// Byte index of the `:` ending a plain key: the first `:` followed by a blank or the end.
fn plain_key_colon(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ' | b'\t')) => return Some(i),
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t') => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// End (exclusive) of a double-quoted scalar starting at `start`.
fn double_quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// End (exclusive) of a single-quoted scalar starting at `start` (`''` is an escaped quote).
fn single_quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// A forgiving scanner over flow collections.
struct Flow<'b> {
    text: &'b [u8],
    pos: usize,
}

impl Flow<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' if self.pos == 0
                    || matches!(self.text[self.pos - 1], b' ' | b'\t' | b'\n' | b'\r') =>
                {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// Skip a scalar (quoted or plain); returns its text when it is a plain or quoted key.
    fn scalar(&mut self, in_map: bool) -> Option<String> {
        let start = self.pos;
        match self.peek()? {
            b'"' => {
                let end = double_quoted_end(self.text, start)?;
                self.pos = end;
                let raw = std::str::from_utf8(&self.text[start..end]).ok()?;
                Some(
                    serde_json::from_str::<String>(raw)
                        .unwrap_or_else(|_| raw.trim_matches('"').to_owned()),
                )
            }
            b'\'' => {
                let end = single_quoted_end(self.text, start)?;
                self.pos = end;
                let raw = std::str::from_utf8(&self.text[start + 1..end - 1]).ok()?;
                Some(raw.replace("''", "'"))
            }
            _ => {
                while let Some(b) = self.peek() {
                    let stop = match b {
                        b',' | b'}' | b']' | b'\n' | b'\r' => true,
                        b':' => {
                            in_map
                                && matches!(
                                    self.text.get(self.pos + 1),
                                    None | Some(b' ' | b'\t' | b',' | b'}' | b']' | b'\n' | b'\r')
                                )
                        }
                        _ => false,
                    };
                    if stop {
                        break;
                    }
                    self.pos += 1;
                }
                let raw = std::str::from_utf8(&self.text[start..self.pos]).ok()?;
                Some(raw.trim().to_owned())
            }
        }
    }

    /// Skip one value (nested collections included).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'{' | b'[' => {
                            depth += 1;
                            self.pos += 1;
                        }
                        b'}' | b']' => {
                            depth -= 1;
                            self.pos += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        b'"' => self.pos = double_quoted_end(self.text, self.pos)?,
                        b'\'' => self.pos = single_quoted_end(self.text, self.pos)?,
                        _ => self.pos += 1,
                    }
                }
            }
            _ => self.scalar(false).map(|_| ()),
        }
    }

    /// Find `wanted` in the flow mapping at `pos`: (key offset, value offset).
    fn key(&mut self, wanted: &str) -> Option<(usize, Option<usize>)> {
        if self.peek()? != b'{' {
            return None;
        }
        self.pos += 1;
        loop {
            self.skip_ws();
            match self.peek()? {
                b'}' => return None,
                b',' => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let key_at = self.pos;
            let key = self.scalar(true)?;
            if self.pos == key_at {
                return None;
            }
            self.skip_ws();
            let mut value = None;
            if self.peek() == Some(b':') {
                self.pos += 1;
                self.skip_ws();
                if !matches!(self.peek(), Some(b',' | b'}') | None) {
                    value = Some(self.pos);
                }
            }
            if key_matches(&key, wanted) {
                return Some((key_at, value));
            }
            if value.is_some() {
                self.skip_value()?;
            }
        }
    }

    /// Find item `n` of the flow sequence at `pos`: (item offset, item offset).
    fn item(&mut self, n: usize) -> Option<(usize, Option<usize>)> {
        if self.peek()? != b'[' {
            return None;
        }
        self.pos += 1;
        let mut count = 0;
        loop {
            self.skip_ws();
            match self.peek()? {
                b']' => return None,
                b',' => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            if count == n {
                return Some((self.pos, Some(self.pos)));
            }
            let before = self.pos;
            self.skip_value()?;
            if self.pos == before {
                return None;
            }
            count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Vec<PathSeg> {
        PathSeg::parse_path(s).unwrap_or_default()
    }

    const DOC: &str = "# comment\n---\nid: x\ntasks:\n  '0':\n    id: '0'\n    nexttasks:\n      '#none#':\n      - '1'\n      - \"2\"\n  3:\n    type: regular\n    task: {id: abc, name: 'a, b', tags: [t1, t2]}\nlist:\n- a: 1\n  b: 2\n-   c: 3\n- - x\n  - y\n";

    #[test]
    fn block_and_flow_paths() {
        let cases = [
            ("id", Some((3, 1))),
            ("tasks", Some((4, 1))),
            ("tasks.\"0\"", Some((5, 3))),
            ("tasks.\"0\".nexttasks.\"#none#\"", Some((8, 7))),
            ("tasks.\"0\".nexttasks.\"#none#\"[1]", Some((10, 7))),
            ("tasks.\"3\".type", Some((12, 5))),
            ("tasks.\"3\".task.name", Some((13, 21))),
            ("tasks.\"3\".task.tags[1]", Some((13, 46))),
            ("list[1].c", Some((17, 5))),
            ("list[2][1]", Some((19, 3))),
            ("list[0].b", Some((16, 3))),
            ("missing", None),
            ("tasks.\"3\".nope", None),
        ];
        for (p, want) in cases {
            assert_eq!(locate(DOC, &path(p)), want, "{p}");
        }
    }

    #[test]
    fn nearest_falls_back_to_the_parent() {
        let l = Locator::new(DOC);
        assert_eq!(l.nearest(&path("tasks.\"3\".nope")), Some((11, 3)));
        assert_eq!(l.nearest(&path("nope")), Some((3, 1)));
        assert_eq!(Locator::new("").nearest(&path("a")), None);
    }

    #[test]
    fn plain_scalars_as_written() {
        let l = Locator::new("a: 6.10 # c\nb: {x: 0x1F, y: 2}\nc:\n- 1.50\n");
        assert_eq!(l.plain_scalar(&path("a")), Some("6.10"));
        assert_eq!(l.plain_scalar(&path("b.x")), Some("0x1F"));
        assert_eq!(l.plain_scalar(&path("c[0]")), Some("1.50"));
    }

    #[test]
    fn crlf_and_multibyte_columns() {
        let text = "a:\r\n  é: {b: 1}\r\n";
        assert_eq!(locate(text, &path("a.é.b")), Some((2, 7)));
    }
}
