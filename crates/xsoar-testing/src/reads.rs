//! The context paths a task reads: the DT in its arguments and conditions.
//!
//! A failure report that says "VerifyContext failed" is only half an answer; the other half is
//! what the task saw. Listing every path it read, with the value each had when the run
//! stopped, usually shows the cause at once (a key written under another name, a private
//! sub-playbook context that did not export it, ...).

use xsoar_content::{ArgValue, Atom, Complex, Operand, Task};

/// Every context path in a task's arguments and conditions, in order, without repeats.
pub fn task_reads(task: &Task) -> Vec<String> {
    let mut out = argument_reads(task, |_| true);
    for branch in &task.conditions {
        for group in &branch.condition {
            for atom in group {
                atom_paths(atom, &mut out);
            }
        }
    }
    if let Some(l) = &task.loop_settings {
        for group in &l.builtin_condition {
            for atom in group {
                atom_paths(atom, &mut out);
            }
        }
    }
    dedup(&mut out);
    out
}

/// The context paths in the task's arguments `wanted` picks (by name), in order, without
/// repeats: the failure report masks what the `secret: true` arguments read.
pub fn argument_reads(task: &Task, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    // Scripts whose argument *is* a context path.
    let script = task.script_name.as_deref().or(task.script.as_deref());
    let path_args: &[&str] = match script {
        Some("VerifyContext") => &["path"],
        Some("ScheduleGenericPolling") => &["dt"],
        _ => &[],
    };
    for (name, arg) in &task.script_arguments {
        if !wanted(name) {
            continue;
        }
        if path_args.contains(&name.as_str()) {
            if let ArgValue::Simple(s) = arg {
                if !s.contains("${") {
                    push(s, &mut out);
                    continue;
                }
            }
        }
        arg_paths(arg, false, &mut out);
    }
    dedup(&mut out);
    out
}

fn dedup(out: &mut Vec<String>) {
    let mut seen = Vec::new();
    out.retain(|p| {
        if seen.contains(p) {
            false
        } else {
            seen.push(p.clone());
            true
        }
    });
}

fn push(path: &str, out: &mut Vec<String>) {
    let p = path.trim();
    let p = p
        .strip_prefix("${")
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(p)
        .trim();
    if !p.is_empty() {
        out.push(p.to_owned());
    }
}

fn arg_paths(arg: &ArgValue, is_context: bool, out: &mut Vec<String>) {
    match arg {
        ArgValue::Simple(s) if is_context => push(s, out),
        ArgValue::Simple(s) => {
            for expr in interpolations(s) {
                push(&expr, out);
            }
        }
        ArgValue::Complex(c) => complex_paths(c, out),
    }
}

fn complex_paths(c: &Complex, out: &mut Vec<String>) {
    let root = c.root.trim();
    if !root.is_empty() {
        let mut p = root
            .trim_start_matches("${")
            .trim_end_matches('}')
            .to_owned();
        if let Some(a) = c
            .accessor
            .as_deref()
            .map(|a| a.trim().trim_end_matches('}'))
            .filter(|a| !a.is_empty())
        {
            p.push('.');
            p.push_str(a);
        }
        push(&p, out);
    }
    for group in &c.filters {
        for atom in group {
            atom_paths(atom, out);
        }
    }
    for t in &c.transformers {
        for op in t.args.values() {
            operand_paths(op, out);
        }
    }
}

fn atom_paths(atom: &Atom, out: &mut Vec<String>) {
    operand_paths(&atom.left, out);
    if let Some(r) = &atom.right {
        operand_paths(r, out);
    }
}

fn operand_paths(op: &Operand, out: &mut Vec<String>) {
    if let Some(v) = &op.value {
        arg_paths(v, op.is_context, out);
    }
}

/// The expressions inside `${...}` of a text (braces inside selectors are balanced).
pub fn interpolations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let body = &rest[start + 2..];
        let mut depth = 1usize;
        let mut quote: Option<char> = None;
        let mut end = None;
        for (i, c) in body.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '{') => depth += 1,
                (None, '}') => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        match end {
            Some(e) => {
                out.push(body[..e].to_owned());
                rest = &body[e + 1..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_interpolations() {
        assert_eq!(
            interpolations("[XSOAR ${incident.id}] ${A.B(val.x == '}').C} and ${"),
            vec!["incident.id".to_owned(), "A.B(val.x == '}').C".to_owned()]
        );
        assert!(interpolations("no dt here").is_empty());
    }
}
