//! XSOAR content (integration, script and playbook YAML) as a checked, normalised model.
//!
//! The emulator runs real content exported from XSOAR, and that content is inconsistent in
//! ways XSOAR tolerates (§10 of the semantics): integer task keys, `"true"` booleans,
//! marketplace-suffixed keys, `{}` for "not supplied". This crate absorbs all of that once, so
//! the engine works with one shape, and reports what it cannot absorb as [`Diagnostic`]s that
//! name the file, line, column and YAML path.
//!
//! Loading is two steps: `serde_yaml` parses the text into a `Value`, then a lenient walk
//! builds the model. Positions are not tracked on the way (that would cost as much as the
//! parse); when there is something to report, they are recovered by scanning the text for the
//! YAML path ([`locate`]). A file without problems therefore costs little more than the YAML
//! parse itself.
//!
//! ```
//! let text = "id: p\nname: P\nstarttaskid: '0'\ntasks:\n  '0':\n    type: start\n    task: {name: ''}\n    nexttasks: {'#none#': ['1']}\n";
//! let (playbook, diags) = xsoar_content::parse_playbook(text, "p.yml");
//! assert_eq!(playbook.map(|p| p.tasks.len()), Some(1));
//! assert_eq!(diags[0].to_string(), "p.yml:8:28: warning: task \"0\": nexttasks \"#none#\" refers to missing task \"1\" (at tasks.\"0\".nexttasks.\"#none#\"[0])");
//! ```

pub mod model;
pub use model::*;

mod check;
mod diag;
mod integration;
mod library;
mod locate;
mod playbook;
mod refs;
mod walk;

pub use check::{check_integration, check_playbook, check_playbook_references};
pub use diag::{resolve_positions, Diagnostic, PathError, PathSeg, Severity};
pub use library::Library;
pub use locate::locate;
pub use refs::{check_duplicates, check_playbook_vocabulary, Vocabulary};

use serde::Serialize;
use serde_yaml::Value;

use crate::diag::{finish, Pending};
use crate::walk::{untag, At, Cx};

/// Any loadable content item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ContentItem {
    /// An integration.
    Integration(Integration),
    /// A script (automation).
    Script(Script),
    /// A playbook.
    Playbook(Playbook),
}

impl ContentItem {
    /// The kind of item.
    pub fn kind(&self) -> ContentKind {
        match self {
            ContentItem::Integration(_) => ContentKind::Integration,
            ContentItem::Script(_) => ContentKind::Script,
            ContentItem::Playbook(_) => ContentKind::Playbook,
        }
    }

    /// Its id (`commonfields.id`, or `id` for playbooks).
    pub fn id(&self) -> &str {
        match self {
            ContentItem::Integration(i) => &i.id,
            ContentItem::Script(s) => &s.id,
            ContentItem::Playbook(p) => &p.id,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            ContentItem::Integration(i) => &i.name,
            ContentItem::Script(s) => &s.name,
            ContentItem::Playbook(p) => &p.name,
        }
    }

    /// The file it was loaded from.
    pub fn file(&self) -> &str {
        match self {
            ContentItem::Integration(i) => &i.file,
            ContentItem::Script(s) => &s.file,
            ContentItem::Playbook(p) => &p.file,
        }
    }
}

/// The kinds of content items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// An integration.
    Integration,
    /// A script (automation).
    Script,
    /// A playbook.
    Playbook,
}

impl std::fmt::Display for ContentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContentKind::Integration => "integration",
            ContentKind::Script => "script",
            ContentKind::Playbook => "playbook",
        })
    }
}

/// Parse the YAML text; a syntax error becomes an error diagnostic with its position.
fn load(text: &str, file: &str) -> Result<Value, Diagnostic> {
    serde_yaml::from_str::<Value>(text).map_err(|e| {
        let location = e.location();
        let mut message = e.to_string();
        let mut position = location.as_ref().map(|l| (l.line(), l.column()));
        if let Some((line, col)) = position {
            // The position goes in front; keep the rest of the message (context marks) as is.
            message = message.replacen(&format!(" at line {line} column {col}"), "", 1);
            // Duplicate keys are reported at the mapping; point at the repeated key instead.
            const DUPLICATE: &str = "duplicate entry with key ";
            if let Some(key) = message
                .find(DUPLICATE)
                .map(|i| &message[i + DUPLICATE.len()..])
            {
                let key = serde_json::from_str::<String>(key)
                    .unwrap_or_else(|_| key.trim_matches('`').to_owned());
                position = locate::Locator::new(text)
                    .second_key(line, col, &key)
                    .or(position);
            }
        }
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line: position.map(|p| p.0),
            col: position.map(|p| p.1),
            yaml_path: None,
            message: format!("invalid yaml: {message}"),
        }
    })
}

/// Run `build` over the parsed text, then the item's checks, and resolve positions.
fn parse_with<T>(
    text: &str,
    file: &str,
    build: impl FnOnce(&mut Cx<'_>, &Value) -> Option<T>,
    checks: impl FnOnce(&T) -> Vec<Pending>,
) -> (Option<T>, Vec<Diagnostic>) {
    let root = match load(text, file) {
        Ok(v) => v,
        Err(d) => return (None, vec![d]),
    };
    let mut cx = Cx::new(text);
    let item = build(&mut cx, &root);
    let mut pending = std::mem::take(&mut cx.diags);
    drop(cx);
    if let Some(item) = &item {
        pending.extend(checks(item));
    }
    (item, finish(pending, file, text))
}

/// Parse an integration YAML. `None` when the text is not YAML, not a mapping, or has
/// neither an id nor a name; otherwise the integration, with diagnostics for what was
/// defaulted or dropped and the findings of [`check_integration`].
pub fn parse_integration(text: &str, file: &str) -> (Option<Integration>, Vec<Diagnostic>) {
    parse_with(
        text,
        file,
        |cx, root| integration::integration(cx, root, file),
        check::check_integration_pending,
    )
}

/// Parse a script (automation) YAML; as [`parse_integration`], with the argument checks.
pub fn parse_script(text: &str, file: &str) -> (Option<Script>, Vec<Diagnostic>) {
    parse_with(
        text,
        file,
        |cx, root| integration::script(cx, root, file),
        check::check_script_pending,
    )
}

/// Parse a playbook YAML; as [`parse_integration`], with the structural findings of
/// [`check_playbook`] (without a library: sub-playbook references are checked by
/// [`check_playbook_references`] once everything is loaded).
pub fn parse_playbook(text: &str, file: &str) -> (Option<Playbook>, Vec<Diagnostic>) {
    parse_with(
        text,
        file,
        |cx, root| playbook::playbook(cx, root, file),
        check::check_playbook_pending,
    )
}

/// What kind of item a parsed document is: a `script` mapping (with `commands`) or a
/// `configuration` makes an integration; `tasks` or `starttaskid` a playbook; `args`,
/// `comment`, or a `script` given as text makes a script.
fn detect(root: &Value) -> Option<ContentKind> {
    let Value::Mapping(m) = untag(root) else {
        return None;
    };
    let has = |k: &str| m.contains_key(k);
    let script = m.get("script").map(untag);
    if matches!(script, Some(Value::Mapping(_))) || has("configuration") {
        Some(ContentKind::Integration)
    } else if has("tasks") || has("starttaskid") {
        Some(ContentKind::Playbook)
    } else if has("args")
        || has("comment")
        || matches!(script, Some(Value::String(_)))
        || (has("type") && has("script"))
    {
        Some(ContentKind::Script)
    } else {
        None
    }
}

/// Parse any content item, telling the kind from its top-level keys: a `script` mapping
/// (with `commands`) or a `configuration` makes an integration; `tasks` or `starttaskid` a
/// playbook; `args`, `comment` or a `script` given as text a script. Diagnostics are those of
/// the matching `parse_*` function.
pub fn parse_any(text: &str, file: &str) -> (Option<ContentItem>, Vec<Diagnostic>) {
    let root = match load(text, file) {
        Ok(v) => v,
        Err(d) => return (None, vec![d]),
    };
    let mut cx = Cx::new(text);
    let item = match detect(&root) {
        Some(ContentKind::Integration) => {
            integration::integration(&mut cx, &root, file).map(ContentItem::Integration)
        }
        Some(ContentKind::Playbook) => {
            playbook::playbook(&mut cx, &root, file).map(ContentItem::Playbook)
        }
        Some(ContentKind::Script) => {
            integration::script(&mut cx, &root, file).map(ContentItem::Script)
        }
        None => {
            match untag(&root) {
                Value::Mapping(_) => cx.error(
                    &At::ROOT,
                    "not an integration, script or playbook: expected 'script' with 'commands', 'configuration', 'tasks' or 'args' at the top level",
                ),
                _ => {
                    integration::root_obj(&mut cx, &root);
                }
            }
            None
        }
    };
    let mut pending = std::mem::take(&mut cx.diags);
    drop(cx);
    match &item {
        Some(ContentItem::Integration(i)) => pending.extend(check::check_integration_pending(i)),
        Some(ContentItem::Script(s)) => pending.extend(check::check_script_pending(s)),
        Some(ContentItem::Playbook(p)) => pending.extend(check::check_playbook_pending(p)),
        None => {}
    }
    (item, finish(pending, file, text))
}
