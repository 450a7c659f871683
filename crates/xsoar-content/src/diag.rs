//! Diagnostics and YAML paths.
//!
//! Content is written by hand and exported by several XSOAR versions, so loading reports
//! problems rather than failing on the first one. A diagnostic names the file, the position
//! (when the text is at hand) and the YAML path of the node it is about, so a message can be
//! acted upon without opening a debugger. The path is kept as text (`tasks."3".nexttasks`)
//! because that is what people read and paste; [`PathSeg::parse_path`] turns it back into
//! segments when a position has to be resolved later.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The item, or part of it, cannot be used as written.
    Error,
    /// Suspicious but usable (XSOAR itself would load it).
    Warning,
    /// Worth knowing, not a problem as written: a task marked `skipunavailable` whose
    /// script, command or sub-playbook is not loaded (it is skipped when it runs).
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// One problem found while loading or checking content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as given to the parser (or the item's `file`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub col: Option<usize>,
    /// The YAML path of the node, rendered as in `tasks."3".nexttasks."#none#"[0]`.
    pub yaml_path: Option<String>,
    /// What is wrong, in lowercase, quoting the offending value.
    pub message: String,
}

impl Diagnostic {
    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Fill in `line`/`col` from the YAML path, using the text of the file the item was
    /// loaded from. Diagnostics that already have a line, or have no path, are left alone.
    pub fn locate_in(&mut self, text: &str) {
        resolve_positions(text, std::slice::from_mut(self));
    }
}

/// Fill in `line`/`col` of every diagnostic that has a YAML path but no line, by scanning
/// `text` once. Meant for diagnostics of [`check_playbook`](crate::check_playbook) and
/// [`check_integration`](crate::check_integration), which work on the model and do not see
/// the text.
pub fn resolve_positions(text: &str, diags: &mut [Diagnostic]) {
    let mut locator = None;
    for d in diags.iter_mut().filter(|d| d.line.is_none()) {
        let Some(path) = d.yaml_path.as_deref() else {
            continue;
        };
        let Ok(segs) = PathSeg::parse_path(path) else {
            continue;
        };
        let loc = locator.get_or_insert_with(|| crate::locate::Locator::new(text));
        if let Some((line, col)) = loc.nearest(&segs) {
            d.line = Some(line);
            d.col = Some(col);
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            f.write_str(&self.file)?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(col) = self.col {
                    write!(f, ":{col}")?;
                }
            }
            f.write_str(": ")?;
        } else if let Some(line) = self.line {
            write!(f, "{line}")?;
            if let Some(col) = self.col {
                write!(f, ":{col}")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(path) = &self.yaml_path {
            write!(f, " (at {path})")?;
        }
        Ok(())
    }
}

/// One step of a YAML path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum PathSeg {
    /// A mapping key, as a string (integer and boolean keys in their normalised form).
    Key(String),
    /// A 0-based sequence index.
    Index(usize),
}

impl PathSeg {
    /// Render a path: bare keys joined by `.`, other keys JSON-quoted, indices as `[n]`.
    pub fn format_path(path: &[PathSeg]) -> String {
        let mut out = String::new();
        for (i, seg) in path.iter().enumerate() {
            match seg {
                PathSeg::Key(k) => {
                    if i > 0 {
                        out.push('.');
                    }
                    if is_bare(k) {
                        out.push_str(k);
                    } else {
                        out.push_str(&quote_json(k));
                    }
                }
                PathSeg::Index(n) => {
                    out.push('[');
                    out.push_str(&n.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// Parse a path rendered by [`PathSeg::format_path`].
    pub fn parse_path(s: &str) -> Result<Vec<PathSeg>, PathError> {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'[' {
                let close = s[i..].find(']').ok_or(PathError::Unclosed { at: i })? + i;
                let n = s[i + 1..close]
                    .parse::<usize>()
                    .map_err(|_| PathError::BadIndex {
                        index: s[i + 1..close].to_owned(),
                    })?;
                out.push(PathSeg::Index(n));
                i = close + 1;
                continue;
            }
            if b == b'.' {
                if out.is_empty() {
                    return Err(PathError::Unexpected { ch: '.', at: i });
                }
                i += 1;
            } else if !out.is_empty() {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(PathError::Unexpected { ch, at: i });
            }
            if bytes.get(i) == Some(&b'"') {
                let end = quoted_end(bytes, i).ok_or(PathError::Unclosed { at: i })?;
                let key: String =
                    serde_json::from_str(&s[i..end]).map_err(|_| PathError::BadQuote {
                        text: s[i..end].to_owned(),
                    })?;
                out.push(PathSeg::Key(key));
                i = end;
            } else {
                let end = s[i..].find(['.', '[']).map_or(s.len(), |e| e + i);
                if end == i {
                    let ch = s[i..].chars().next().unwrap_or('?');
                    return Err(PathError::Unexpected { ch, at: i });
                }
                out.push(PathSeg::Key(s[i..end].to_owned()));
                i = end;
            }
        }
        Ok(out)
    }
}

impl fmt::Display for PathSeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&PathSeg::format_path(std::slice::from_ref(self)))
    }
}

/// A YAML path that [`PathSeg::parse_path`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// A `[` or `"` without its closing counterpart.
    #[error("unclosed bracket or quote at byte {at}")]
    Unclosed {
        /// Byte offset of the opening character.
        at: usize,
    },
    /// `[x]` where x is not a number.
    #[error("sequence index {index:?} is not a number")]
    BadIndex {
        /// The text between the brackets.
        index: String,
    },
    /// A quoted key that is not a valid JSON string.
    #[error("quoted key {text} is not a valid json string")]
    BadQuote {
        /// The quoted text.
        text: String,
    },
    /// A character where a separator or key was expected.
    #[error("unexpected {ch:?} at byte {at}")]
    Unexpected {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
}

fn is_bare(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quote_json(k: &str) -> String {
    serde_json::to_string(k).unwrap_or_else(|_| format!("\"{k}\""))
}

/// End (exclusive) of the JSON string starting at `start` (a `"`).
fn quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
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

/// A diagnostic before its position is known: the path is structured so it can be located.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub severity: Severity,
    pub path: Vec<PathSeg>,
    pub message: String,
}

impl Pending {
    pub(crate) fn error(path: Vec<PathSeg>, message: String) -> Self {
        Pending {
            severity: Severity::Error,
            path,
            message,
        }
    }

    pub(crate) fn warning(path: Vec<PathSeg>, message: String) -> Self {
        Pending {
            severity: Severity::Warning,
            path,
            message,
        }
    }

    pub(crate) fn note(path: Vec<PathSeg>, message: String) -> Self {
        Pending {
            severity: Severity::Note,
            path,
            message,
        }
    }

    /// Turn into a diagnostic; positions are resolved when a locator is given.
    pub(crate) fn into_diagnostic(
        self,
        file: &str,
        locator: Option<&crate::locate::Locator<'_>>,
    ) -> Diagnostic {
        let (line, col) = match locator.and_then(|l| l.nearest(&self.path)) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        Diagnostic {
            severity: self.severity,
            file: file.to_owned(),
            line,
            col,
            yaml_path: if self.path.is_empty() {
                None
            } else {
                Some(PathSeg::format_path(&self.path))
            },
            message: self.message,
        }
    }
}

/// Convert pending diagnostics, resolving positions in `text` only if there are any.
pub(crate) fn finish(pending: Vec<Pending>, file: &str, text: &str) -> Vec<Diagnostic> {
    if pending.is_empty() {
        return Vec::new();
    }
    let locator = crate::locate::Locator::new(text);
    pending
        .into_iter()
        .map(|p| p.into_diagnostic(file, Some(&locator)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let cases: &[&[PathSeg]] = &[
            &[],
            &[
                PathSeg::Key("tasks".into()),
                PathSeg::Key("3".into()),
                PathSeg::Key("nexttasks".into()),
            ],
            &[
                PathSeg::Key("script".into()),
                PathSeg::Key("commands".into()),
                PathSeg::Index(2),
            ],
            &[
                PathSeg::Index(0),
                PathSeg::Index(1),
                PathSeg::Key("a \"b\".c[d]".into()),
            ],
            &[PathSeg::Key("#none#".into()), PathSeg::Index(0)],
        ];
        for path in cases {
            let text = PathSeg::format_path(path);
            assert_eq!(PathSeg::parse_path(&text).as_deref(), Ok(*path), "{text}");
        }
        assert_eq!(
            PathSeg::format_path(&[PathSeg::Key("tasks".into()), PathSeg::Key("3".into())]),
            "tasks.\"3\""
        );
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(PathSeg::parse_path("a[x]").is_err());
        assert!(PathSeg::parse_path("a[1").is_err());
        assert!(PathSeg::parse_path("\"abc").is_err());
        assert!(PathSeg::parse_path(".a").is_err());
        assert!(PathSeg::parse_path("a..b").is_err());
    }

    #[test]
    fn display_omits_missing_parts() {
        let mut d = Diagnostic {
            severity: Severity::Error,
            file: "x.yml".into(),
            line: Some(3),
            col: Some(5),
            yaml_path: Some("tasks.\"3\"".into()),
            message: "bad".into(),
        };
        assert_eq!(d.to_string(), "x.yml:3:5: error: bad (at tasks.\"3\")");
        d.col = None;
        d.severity = Severity::Warning;
        assert_eq!(d.to_string(), "x.yml:3: warning: bad (at tasks.\"3\")");
        d.severity = Severity::Note;
        assert_eq!(d.to_string(), "x.yml:3: note: bad (at tasks.\"3\")");
        assert!(!d.is_error());
        d.severity = Severity::Warning;
        d.line = None;
        d.yaml_path = None;
        assert_eq!(d.to_string(), "x.yml: warning: bad");
    }
}
