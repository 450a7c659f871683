//! Loading content from disk: the only place files are read.
//!
//! Paths may be files or folders (searched recursively for `*.yml`/`*.yaml`). When the
//! default folders `integrations/` and `playbooks/` are absent (the binary runs outside a
//! checkout), the content embedded at build time is used, so the product runs anywhere.
//!
//! The same paths are searched for XSOAR list files, as packs ship them
//! (`Packs/<Pack>/Lists/<name>.json`, exports named `list-<name>.json`): a JSON object with
//! the list's `name` and its text in `data`. A list file that is not one is an error naming
//! the file; other JSON files (incidents, mocks, pack metadata) are not lists and are left
//! alone. `--list NAME=FILE` makes a list of any text or JSON file.

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

/// Every YAML file under the given paths (a file named directly whatever its extension),
/// sorted for stable output.
pub fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    files_under(paths, is_yaml, true)
}

/// Files under `paths` that `wanted` accepts, sorted and without repeats. Hidden entries,
/// `target` and `node_modules` are not entered, nor a folder already walked (a symbolic link
/// back to a parent would otherwise be followed round and round); a file named directly in
/// `paths` is kept when `named_always`, else only when `wanted` accepts it.
fn files_under(
    paths: &[PathBuf],
    wanted: fn(&Path) -> bool,
    named_always: bool,
) -> Result<Vec<PathBuf>> {
    fn walk(
        dir: &Path,
        wanted: fn(&Path) -> bool,
        seen: &mut std::collections::HashSet<PathBuf>,
        out: &mut Vec<PathBuf>,
    ) -> Result<()> {
        if let Ok(real) = std::fs::canonicalize(dir) {
            if !seen.insert(real) {
                return Ok(());
            }
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let name = e.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if e.is_dir() {
                walk(&e, wanted, seen, out)?;
            } else if wanted(&e) {
                out.push(e);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, wanted, &mut seen, &mut out)?;
        } else if named_always || wanted(p) {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
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

/// One list read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    /// The list's name.
    pub name: String,
    /// Its text.
    pub data: String,
    /// Where it came from (for messages).
    pub file: String,
    /// The `type` a list file declares (`plain_text`, `JSON`, ...); `None` for `--list` files,
    /// which hold the text itself.
    pub list_type: Option<String>,
}

/// Whether a path must hold a list: a `.json` file in a `Lists` folder or named `list-*.json`.
fn must_be_list(p: &Path) -> bool {
    let is_json = p.extension().and_then(|e| e.to_str()) == Some("json");
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let in_lists = p
        .ancestors()
        .skip(1)
        .filter_map(|a| a.file_name().and_then(|n| n.to_str()))
        .take(2)
        .any(|n| n == "Lists");
    is_json && !name.ends_with("_data.json") && (in_lists || name.starts_with("list-"))
}

/// Every `.json` file under the given paths, sorted.
pub(crate) fn json_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    files_under(
        paths,
        |p| p.extension().and_then(|e| e.to_str()) == Some("json"),
        false,
    )
}

/// Read one list file. `Ok(None)`: a JSON file that is not a list (only where lists are not
/// required). A list whose `data` is `-` keeps its text in `<stem>_data.<ext>` next to it,
/// as `demisto-sdk split` writes JSON lists.
fn read_list_file(path: &Path) -> std::result::Result<Option<ListFile>, String> {
    let shown = path.display().to_string();
    let required = must_be_list(path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{shown}: cannot read the list file: {e}"))?;
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) if required => {
            return Err(format!(
                "{shown}:{}:{}: the list file is not valid JSON: {e}",
                e.line(),
                e.column()
            ))
        }
        Err(_) => return Ok(None),
    };
    let obj = value.as_object();
    let name = obj
        .and_then(|o| o.get("name").or_else(|| o.get("id")))
        .and_then(|v| v.as_str())
        .filter(|n| !n.trim().is_empty());
    let data = obj.and_then(|o| o.get("data"));
    let list_type = obj
        .and_then(|o| o.get("type"))
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let (name, data) = match (name, data) {
        (Some(n), Some(serde_json::Value::String(d))) => (n.to_owned(), d.clone()),
        _ if !required => return Ok(None),
        (None, _) => {
            return Err(format!(
                "{shown}: a list file is a JSON object with the list's \"name\" and its text in \"data\"; the name is missing"
            ))
        }
        (Some(_), None) => {
            return Err(format!("{shown}: the list file has no \"data\" (the list's text)"))
        }
        (Some(_), Some(_)) => {
            return Err(format!(
                "{shown}: the list's \"data\" must be its text (a string); JSON lists hold their JSON as text"
            ))
        }
    };
    let data = if data == "-" {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let dir = path.parent().unwrap_or(Path::new("."));
        let companion = ["json", "txt", "md", "html", "css"]
            .iter()
            .map(|ext| dir.join(format!("{stem}_data.{ext}")))
            .find(|p| p.is_file());
        match companion {
            Some(p) => std::fs::read_to_string(&p)
                .map_err(|e| format!("{}: cannot read the list's data: {e}", p.display()))?,
            None => data,
        }
    } else {
        data
    };
    Ok(Some(ListFile {
        name,
        data,
        file: shown,
        list_type,
    }))
}

/// The lists under `paths` (pack `Lists/` folders, `list-*.json`, JSON files holding a list
/// object), and one problem per list file that cannot be used (each skipped).
pub fn load_lists(paths: &[PathBuf]) -> Result<(Vec<ListFile>, Vec<String>)> {
    let mut lists = Vec::new();
    let mut problems = Vec::new();
    for file in json_files(paths)? {
        match read_list_file(&file) {
            Ok(Some(l)) => lists.push(l),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    Ok((lists, problems))
}

/// `--list NAME=FILE`: the file's text is the list, without the file's final newline (a
/// `.json` file must hold valid JSON).
pub fn read_list_arg(arg: &str) -> Result<ListFile> {
    let Some((name, file)) = arg.split_once('=') else {
        anyhow::bail!(
            "--list {arg:?}: give NAME=FILE (the list's name, then the file holding its text)"
        );
    };
    let name = name.trim();
    if name.is_empty() {
        anyhow::bail!("--list {arg:?}: the list needs a name before '='");
    }
    let path = Path::new(file);
    let mut data = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--list {name}: cannot read {file}: {e}"))?;
    // The newline editors end a file with is not part of the list (`addToList` would append
    // after it, and a mock comparing the list's text would not match).
    if data.ends_with('\n') {
        data.pop();
        if data.ends_with('\r') {
            data.pop();
        }
    }
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&data) {
            anyhow::bail!(
                "--list {name}: {file}:{}:{}: not valid JSON: {e} (give a .txt file for a text list)",
                e.line(),
                e.column()
            );
        }
    }
    Ok(ListFile {
        name: name.to_owned(),
        data,
        file: file.to_owned(),
        list_type: None,
    })
}

/// Every list a command starts with: the lists under the default folders and `--content`
/// paths, then `--list` files (which win over a list of the same name). Unusable list files
/// are reported as problems and skipped; a bad `--list` is an error.
pub fn all_lists(
    content: &[PathBuf],
    list_args: &[String],
) -> Result<(Vec<ListFile>, Vec<String>)> {
    let mut paths: Vec<PathBuf> = ["integrations", "playbooks"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect();
    paths.extend(content.iter().cloned());
    let (mut lists, problems) = load_lists(&paths)?;
    for arg in list_args {
        lists.push(read_list_arg(arg)?);
    }
    Ok((lists, problems))
}

/// The `type` each list's file declares, by list name, for `GET /lists` to report a list the
/// server never stored (a later list of the same name wins, as it does for the text; a
/// `--list` file declares nothing).
pub fn declared_types(lists: &[ListFile]) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for l in lists {
        match &l.list_type {
            Some(t) => out.insert(l.name.clone(), t.clone()),
            None => out.remove(&l.name),
        };
    }
    out
}

/// Lists as the engine holds them (a later file of the same name wins).
pub fn engine_lists(lists: &[ListFile]) -> xsoar_engine::Lists {
    xsoar_engine::Lists::from_texts(lists.iter().map(|l| (l.name.clone(), l.data.clone())))
}
