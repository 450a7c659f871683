//! The one error type of the crate.

use std::fmt;

/// Longest expression text kept in an error (a 10 MB path must not become a 10 MB message).
const MAX_EXPRESSION_IN_ERROR: usize = 256;

/// A DT expression (path, selector, mutator, context key or JavaScript snippet) that cannot be
/// evaluated: a syntax error, an unbalanced bracket, a JavaScript syntax error, a script that
/// exceeded its time or memory budget, or a path over the size limits.
///
/// Missing *data* is never an error (it yields nothing); only a broken *expression* is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DT expression '{expression}'{}: {message}", AtOffset(.position))]
pub struct DtError {
    /// The expression as written (truncated to a few hundred characters).
    pub expression: String,
    /// Byte offset of the problem inside `expression`, when known.
    pub position: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl DtError {
    pub(crate) fn new(
        expression: &str,
        position: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        DtError {
            expression: truncate(expression),
            position,
            message: message.into(),
        }
    }
}

struct AtOffset<'a>(&'a Option<usize>);

impl fmt::Display for AtOffset<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, " at offset {p}"),
            None => Ok(()),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_EXPRESSION_IN_ERROR {
        return s.to_owned();
    }
    let mut end = MAX_EXPRESSION_IN_ERROR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
