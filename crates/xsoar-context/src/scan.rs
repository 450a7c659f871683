//! Bracket matching that respects JavaScript string literals, shared by the DT path parser,
//! the context-key parser and the `${...}` scanner.

/// Index of the `)` matching the `(` at byte `open`; quotes (`'`, `"`, `` ` ``) and backslash
/// escapes inside them are honoured, so `(val.x == ')')` is one selector.
pub(crate) fn matching_paren(s: &str, open: usize) -> Option<usize> {
    matching(s, open, b'(', b')')
}

/// Index of the `]` matching the `[` at byte `open`.
pub(crate) fn matching_bracket(s: &str, open: usize) -> Option<usize> {
    matching(s, open, b'[', b']')
}

fn matching(s: &str, open: usize, o: u8, c: u8) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(open) != Some(&o) {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = open;
    while i < b.len() {
        let ch = b[i];
        if let Some(q) = quote {
            if ch == b'\\' {
                i += 1;
            } else if ch == q {
                quote = None;
            }
        } else if ch == b'\'' || ch == b'"' || ch == b'`' {
            quote = Some(ch);
        } else if ch == o {
            depth += 1;
        } else if ch == c {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// End (index of the closing `}`) of a `${...}` whose `$` is at byte `start`, or `None` when it
/// is unbalanced. Nested `{}`/`()`/`[]` are counted; quotes are honoured where JavaScript can
/// occur — inside parentheses or brackets, inside nested braces, or after a mutator's `=` — but
/// not in plain names, which may contain apostrophes (`inputs.User's name`).
pub(crate) fn interpolation_end(s: &str, start: usize) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(start) != Some(&b'$') || b.get(start + 1) != Some(&b'{') {
        return None;
    }
    let mut braces = 1usize;
    let mut nested = 0usize; // ( and [
    let mut after_eq = false;
    let mut quote: Option<u8> = None;
    let mut i = start + 2;
    while i < b.len() {
        let ch = b[i];
        if let Some(q) = quote {
            if ch == b'\\' {
                i += 1;
            } else if ch == q {
                quote = None;
            }
        } else {
            match ch {
                b'\'' | b'"' | b'`' if nested > 0 || braces > 1 || after_eq => quote = Some(ch),
                b'(' | b'[' => nested += 1,
                b')' | b']' => nested = nested.saturating_sub(1),
                b'=' if nested == 0 && braces == 1 => after_eq = true,
                b'{' => braces += 1,
                // A `}` cannot close `${` while a `(` or `[` inside it is still open.
                b'}' if braces == 1 && nested > 0 => {}
                b'}' => {
                    braces -= 1;
                    if braces == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}
