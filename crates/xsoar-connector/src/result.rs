//! XSOAR's result dict (`CommandResults.to_context()`), the unit a command returns.

use crate::markdown::table_to_markdown;
use compact_str::CompactString;
use serde_json::{Map, Value};

/// War-room entry type (`Type`, §6.1 of the semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryType(pub i64);

impl EntryType {
    /// Normal result or chat text.
    pub const NOTE: EntryType = EntryType(1);
    /// File attachment.
    pub const FILE: EntryType = EntryType(3);
    /// Error: makes a playbook task fail.
    pub const ERROR: EntryType = EntryType(4);
    /// Informational file.
    pub const ENTRY_INFO_FILE: EntryType = EntryType(9);
    /// Warning.
    pub const WARNING: EntryType = EntryType(11);
    /// Debug log file (`debug-mode=true`).
    pub const DEBUG_LOG: EntryType = EntryType(16);
    /// API execution metrics (not displayed).
    pub const EXECUTION_METRICS: EntryType = EntryType(19);

    /// Whether this is an error entry.
    pub fn is_error(self) -> bool {
        self == Self::ERROR
    }
}

/// A change to the investigation that is not an `EntryContext` merge. Builtin scripts
/// (`Set`, `DeleteContext`, `setIncident`, ...) express what XSOAR's server does for them.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// `setContext(path, value)`: overwrite the value at a plain dot path.
    SetContext { path: String, value: Value },
    /// Delete the value at a plain dot path. `global`: in the investigation's context even
    /// when the command runs in a sub-playbook with a private context (`DeleteContext
    /// subplaybook=no`); otherwise in the context the command writes to.
    DeleteContext { path: String, global: bool },
    /// Delete one element of the list at `path` (`global` as for `DeleteContext`).
    DeleteContextIndex {
        path: String,
        index: usize,
        global: bool,
    },
    /// Delete the whole context except the listed dot paths (`global` as for `DeleteContext`).
    ClearContext { keep: Vec<String>, global: bool },
    /// Store the text of an XSOAR list (`createList`, `setList`, `addToList`,
    /// `removeFromList`), creating the list when it does not exist. Lists are not part of
    /// the investigation: the change is visible to every later `${lists.<name>}` read.
    SetList { name: String, data: String },
    /// Update incident fields (system fields by name, custom fields by machine name).
    UpdateIncident { fields: Map<String, Value> },
    /// Close the investigation (incident status 2).
    CloseInvestigation {
        reason: Option<String>,
        notes: Option<String>,
    },
    /// Complete a waiting playbook task by id or tag, choosing a branch label.
    CompleteTask { task: String, label: Option<String> },
    /// Pause for this many seconds (on the engine's clock).
    Sleep { seconds: f64 },
    /// `setIncident sla= slaField=`: the SLA of the timer field `field` — `sla` minutes
    /// (a number), or a due date (date text) — on the engine's clock; without a field, the
    /// incident's own `dueDate`.
    SetSla { field: Option<String>, sla: Value },
}

/// One result dict: becomes one war-room entry, and its `EntryContext` is merged into the
/// investigation context.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandResult {
    /// Entry type.
    pub entry_type: EntryType,
    /// Raw payload (`Contents`).
    pub contents: Value,
    /// `ContentsFormat`: `text`, `json`, `markdown`, `table`, `html`.
    pub contents_format: CompactString,
    /// `HumanReadable` markdown shown instead of `Contents` when present.
    pub human_readable: Option<String>,
    /// `EntryContext`: context key (with optional DT selector) -> value.
    pub entry_context: Map<String, Value>,
    /// Effects applied by the engine after the entry is written.
    pub effects: Vec<Effect>,
    /// Entry tags.
    pub tags: Vec<String>,
    /// The entry is an analyst note.
    pub note: bool,
}

impl CommandResult {
    fn base(entry_type: EntryType, contents: Value, format: &str) -> Self {
        Self {
            entry_type,
            contents,
            contents_format: CompactString::new(format),
            human_readable: None,
            entry_context: Map::new(),
            effects: Vec::new(),
            tags: Vec::new(),
            note: false,
        }
    }

    /// A plain text note entry.
    pub fn text(text: impl Into<String>) -> Self {
        Self::base(EntryType::NOTE, Value::String(text.into()), "text")
    }

    /// A markdown note entry.
    pub fn markdown(markdown: impl Into<String>) -> Self {
        Self::base(EntryType::NOTE, Value::String(markdown.into()), "markdown")
    }

    /// An error entry (type 4, text).
    pub fn error(message: impl Into<String>) -> Self {
        Self::base(EntryType::ERROR, Value::String(message.into()), "text")
    }

    /// A warning entry (type 11, text).
    pub fn warning(message: impl Into<String>) -> Self {
        Self::base(EntryType::WARNING, Value::String(message.into()), "text")
    }

    /// An entry that only carries effects (no visible contents beyond `text`).
    pub fn with_effect(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// Add an `EntryContext` key.
    pub fn with_context(mut self, key: impl Into<String>, value: Value) -> Self {
        self.entry_context.insert(key.into(), value);
        self
    }

    /// `CommandResults(...).to_context()` exactly as CommonServerPython builds it.
    pub fn from_outputs(spec: Outputs) -> Self {
        let Outputs {
            prefix,
            key_fields,
            outputs,
            readable_output,
            raw_response,
            replace_existing,
        } = spec;
        let contents = match raw_response {
            Some(raw) => raw,
            None => outputs.clone().unwrap_or(Value::Null),
        };
        let format = match &contents {
            Value::String(_) | Value::Number(_) => "text",
            _ => "json",
        };
        let mut result = Self::base(EntryType::NOTE, contents, format);
        let has_outputs = match &outputs {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        result.human_readable = match readable_output {
            Some(r) => Some(r),
            None => match &outputs {
                Some(v @ (Value::Object(_) | Value::Array(_))) if has_outputs => {
                    Some(table_to_markdown("Results", v))
                }
                Some(Value::String(s)) => Some(s.clone()),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
                _ => None,
            },
        };
        if let (true, Some(outputs)) = (has_outputs, outputs) {
            match prefix {
                Some(prefix) if replace_existing && prefix.contains('.') => {
                    let (parent, last) = prefix.rsplit_once('.').unwrap_or(("", &prefix));
                    let mut inner = Map::new();
                    inner.insert(last.to_owned(), outputs);
                    result
                        .entry_context
                        .insert(format!("{parent}(true)"), Value::Object(inner));
                }
                Some(mut key) if !key_fields.is_empty() => {
                    // `Prefix(val.K && val.K == obj.K && ...)`, built in one buffer.
                    let terms: usize = key_fields.iter().map(|k| 3 * k.len() + 27).sum();
                    key.reserve_exact(terms + 2);
                    key.push('(');
                    for (i, k) in key_fields.iter().enumerate() {
                        if i > 0 {
                            key.push_str(" && ");
                        }
                        for part in ["val.", k, " && val.", k, " == obj.", k] {
                            key.push_str(part);
                        }
                    }
                    key.push(')');
                    result.entry_context.insert(key, outputs);
                }
                Some(prefix) => {
                    result.entry_context.insert(prefix, outputs);
                }
                None => {
                    if let Value::Object(map) = outputs {
                        result.entry_context.extend(map);
                    }
                }
            }
        }
        result
    }

    /// Whether this result is an error entry.
    pub fn is_error(&self) -> bool {
        self.entry_type.is_error()
    }
}

/// The arguments of CommonServerPython's `CommandResults`.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// `outputs_prefix`, e.g. `SIGNL4.AlertCreated`.
    pub prefix: Option<String>,
    /// `outputs_key_field` (one or more).
    pub key_fields: Vec<String>,
    /// `outputs`.
    pub outputs: Option<Value>,
    /// `readable_output`.
    pub readable_output: Option<String>,
    /// `raw_response`.
    pub raw_response: Option<Value>,
    /// `replace_existing`.
    pub replace_existing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_field_selector_matches_command_results() {
        let r = CommandResult::from_outputs(Outputs {
            prefix: Some("SIGNL4.AlertCreated".into()),
            key_fields: vec!["eventId".into()],
            outputs: Some(json!({"eventId": "e-9"})),
            ..Default::default()
        });
        assert_eq!(
            Value::Object(r.entry_context.clone()),
            json!({"SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId)": {"eventId": "e-9"}})
        );
        assert_eq!(r.contents_format, "json");
        assert_eq!(
            r.human_readable.as_deref(),
            Some("### Results\n|eventId|\n|---|\n| e-9 |\n")
        );
    }

    #[test]
    fn replace_existing_uses_true_selector_on_parent() {
        let r = CommandResult::from_outputs(Outputs {
            prefix: Some("A.Next".into()),
            outputs: Some(json!("tok")),
            replace_existing: true,
            ..Default::default()
        });
        assert_eq!(
            Value::Object(r.entry_context),
            json!({"A(true)": {"Next": "tok"}})
        );
        assert_eq!(r.contents_format, "text");
    }

    #[test]
    fn empty_outputs_write_no_context() {
        let r = CommandResult::from_outputs(Outputs {
            prefix: Some("X".into()),
            outputs: Some(json!([])),
            ..Default::default()
        });
        assert!(r.entry_context.is_empty());
        assert_eq!(r.human_readable, None);
    }
}
