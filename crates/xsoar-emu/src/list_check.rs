//! `validate`'s check of list files.
//!
//! `run`, `serve` and `test` load the list files of the content paths with
//! [`content::load_lists`], which reports an unusable list file and skips it. `validate` must
//! say the same about each file — which file, where in it, and how many lists are good — so
//! it hands the loader one `.json` file at a time and turns each problem into an error
//! [`Diagnostic`] of that file. What a list file is (a `Lists/` folder, `list-*.json`, a split
//! list's `<name>_data.json`) stays decided by the loader alone.

use crate::content;
use anyhow::Result;
use std::path::PathBuf;
use xsoar_content::{Diagnostic, Severity};

/// What `validate` found in one list file.
#[derive(Debug)]
pub struct CheckedList {
    /// The file as shown.
    pub file: String,
    /// The list's name when the file is a usable list.
    pub name: Option<String>,
    /// Its problems (errors), each located in the file when the loader says where.
    pub diagnostics: Vec<Diagnostic>,
}

/// Every list file under `paths` (JSON files that are not lists are left out), sorted.
pub fn check_list_files(paths: &[PathBuf]) -> Result<Vec<CheckedList>> {
    // The same `.json` files the content loader walks.
    let files = content::json_files(paths)?;
    let mut out = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let (lists, problems) = content::load_lists(std::slice::from_ref(&file))?;
        if lists.is_empty() && problems.is_empty() {
            continue;
        }
        out.push(CheckedList {
            name: lists.into_iter().next().map(|l| l.name),
            diagnostics: problems.iter().map(|p| diagnostic(&shown, p)).collect(),
            file: shown,
        });
    }
    Ok(out)
}

/// A loader problem (`FILE[:LINE:COL]: message`) as an error of `file`. A problem about
/// another file (a split list's unreadable `_data` file) keeps its own text whole.
fn diagnostic(file: &str, problem: &str) -> Diagnostic {
    let mut d = Diagnostic {
        severity: Severity::Error,
        file: file.to_owned(),
        line: None,
        col: None,
        yaml_path: None,
        message: problem.to_owned(),
    };
    let Some(rest) = problem.strip_prefix(file) else {
        return d;
    };
    if let Some(message) = rest.strip_prefix(": ") {
        d.message = message.to_owned();
        return d;
    }
    // `:LINE:COL: message`
    let mut parts = rest.splitn(4, ':');
    let (_, line, col, message) = (parts.next(), parts.next(), parts.next(), parts.next());
    let line = line.and_then(|l| l.parse::<usize>().ok());
    let col = col.and_then(|c| c.parse::<usize>().ok());
    if let (Some(line), Some(col), Some(message)) = (line, col, message) {
        d.line = Some(line);
        d.col = Some(col);
        d.message = message.trim_start().to_owned();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_problems_become_located_errors() {
        let d = diagnostic(
            "Lists/Broken.json",
            "Lists/Broken.json:1:2: the list file is not valid JSON: key must be a string",
        );
        assert_eq!(
            d.to_string(),
            "Lists/Broken.json:1:2: error: the list file is not valid JSON: key must be a string"
        );
        let d = diagnostic("list-X.json", "list-X.json: the name is missing");
        assert_eq!(d.to_string(), "list-X.json: error: the name is missing");
        let d = diagnostic("a.json", "b_data.json: cannot read the list's data: gone");
        assert_eq!(
            d.to_string(),
            "a.json: error: b_data.json: cannot read the list's data: gone"
        );
    }
}
