//! Loading content from disk: the only place files are read.
//!
//! Paths may be files or folders (searched recursively for `*.yml`/`*.yaml`). When the
//! default folders `integrations/` and `playbooks/` are absent (the binary runs outside a
//! checkout), the content embedded at build time is used, so the product runs anywhere.

use anyhow::Result;
use std::path::{Path, PathBuf};
use xsoar_content::{parse_any, ContentItem, Diagnostic, Severity};

fn file_error(file: &str, message: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: file.to_owned(),
        line: None,
        col: None,
        yaml_path: None,
        message: message.to_owned(),
    }
}

/// Content shipped inside the binary: (path, text).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "integrations/SIGNL4/SIGNL4.yml",
        include_str!("../../../integrations/SIGNL4/SIGNL4.yml"),
    ),
    (
        "playbooks/SIGNL4_Alert_and_Close.yml",
        include_str!("../../../playbooks/SIGNL4_Alert_and_Close.yml"),
    ),
    (
        "playbooks/SIGNL4_Page_On_Call_Teams.yml",
        include_str!("../../../playbooks/SIGNL4_Page_On_Call_Teams.yml"),
    ),
    (
        "playbooks/SIGNL4_Page_Team.yml",
        include_str!("../../../playbooks/SIGNL4_Page_Team.yml"),
    ),
];

/// One loaded file.
#[derive(Debug)]
pub struct LoadedFile {
    pub path: String,
    pub item: Option<ContentItem>,
    pub diagnostics: Vec<Diagnostic>,
    /// The text, for positions of diagnostics found once every file is loaded (empty when
    /// the file could not be read).
    pub text: String,
}

impl LoadedFile {
    /// The error diagnostics, rendered (`file:line:col: message`); empty when the file loads.
    pub fn errors(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect()
    }
}

/// The default content plus `extra` paths: the items of files that load, and the errors of
/// those that do not (each skipped whole).
pub fn load_all(extra: &[PathBuf]) -> Result<(Vec<ContentItem>, Vec<String>)> {
    let mut loaded = load_defaults()?;
    if !extra.is_empty() {
        loaded.extend(load_paths(extra)?);
    }
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for f in loaded {
        let errors = f.errors();
        if errors.is_empty() {
            items.extend(f.item);
        } else {
            problems.extend(errors);
        }
    }
    Ok((items, problems))
}

/// Every YAML file under the given paths, sorted for stable output.
pub fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        collect(p, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let name = e.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if e.is_dir() {
                collect(&e, out)?;
            } else if is_yaml(&e) {
                out.push(e);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

/// Files that are YAML but not content (instance configs, mock files, compose files).
fn is_not_content(text: &str) -> bool {
    let head: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .take(3)
        .collect();
    head.iter().any(|l| {
        l.starts_with("instances:") || l.starts_with("mocks:") || l.starts_with("services:")
    })
}

/// Load every file under `paths`.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<LoadedFile>> {
    let mut loaded = Vec::new();
    for file in yaml_files(paths)? {
        let shown = file.display().to_string();
        let text = match std::fs::read(&file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    loaded.push(LoadedFile {
                        path: shown.clone(),
                        item: None,
                        diagnostics: vec![file_error(&shown, "the file is not valid UTF-8")],
                        text: String::new(),
                    });
                    continue;
                }
            },
            Err(e) => {
                loaded.push(LoadedFile {
                    path: shown.clone(),
                    item: None,
                    diagnostics: vec![file_error(&shown, &format!("cannot read the file: {e}"))],
                    text: String::new(),
                });
                continue;
            }
        };
        if is_not_content(&text) {
            continue;
        }
        let (item, diagnostics) = parse_any(&text, &shown);
        loaded.push(LoadedFile {
            path: shown,
            item,
            diagnostics,
            text,
        });
    }
    Ok(loaded)
}

/// The default content: `integrations/` and `playbooks/` of the working folder when they
/// exist, else the embedded copies.
pub fn load_defaults() -> Result<Vec<LoadedFile>> {
    let dirs: Vec<PathBuf> = ["integrations", "playbooks"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect();
    if !dirs.is_empty() {
        return load_paths(&dirs);
    }
    Ok(EMBEDDED
        .iter()
        .map(|(path, text)| {
            let (item, diagnostics) = parse_any(text, path);
            LoadedFile {
                path: (*path).to_owned(),
                item,
                diagnostics,
                text: (*text).to_owned(),
            }
        })
        .collect())
}
