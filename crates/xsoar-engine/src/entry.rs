//! War-room entries (§6 of the semantics).
//!
//! An [`Entry`] keeps XSOAR's REST field names when serialised, so the server can hand it to
//! demisto-py / demisto-sdk unchanged, and the CLI and web console render the same data.

use serde::Serialize;
use serde_json::{Map, Value};
pub use xsoar_connector::CompactString;

pub use xsoar_connector::EntryType;

/// The playbook task that produced an entry (`entryTask`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryTask {
    /// Name of the playbook the task belongs to.
    pub playbook_name: String,
    /// Playbook-local task id.
    pub task_id: String,
    /// Task name.
    pub task_name: String,
}

/// One war-room entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `<seq>@<investigationId>`.
    pub id: CompactString,
    /// The investigation (war room) it belongs to.
    pub investigation_id: CompactString,
    /// Entry type (1 note, 4 error, 16 debug log, ...).
    #[serde(rename = "type")]
    pub entry_type: i64,
    /// Raw contents (`Contents`).
    pub contents: Value,
    /// `ContentsFormat`: `text`, `json`, `markdown`, `table`, `html`.
    pub format: CompactString,
    /// `HumanReadable` markdown, when the command gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human_readable: Option<String>,
    /// The command line that produced it.
    pub parent_content: CompactString,
    /// The entry of that command line, when it was recorded.
    pub parent_id: CompactString,
    /// Integration brand (`Builtin` for builtins and scripts, `none` for engine errors).
    pub brand: CompactString,
    /// Instance name.
    pub instance: CompactString,
    /// Creation time, RFC 3339.
    pub created: CompactString,
    /// Who wrote it (`DBot` for automation).
    pub user: CompactString,
    /// Category (`chat`, `commandAndResults`, `playbookTaskResult`, `playbookErrors`, `artifact`).
    pub category: CompactString,
    /// Playbook task id when a task produced it.
    pub task_id: CompactString,
    /// Playbook id when a task produced it.
    pub playbook_id: CompactString,
    /// Task details when a task produced it.
    pub entry_task: Option<Box<EntryTask>>,
    /// Analyst note flag.
    pub note: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// File name for file / debug-log entries.
    pub file: CompactString,
    /// Stored file id for file / debug-log entries.
    #[serde(rename = "fileID")]
    pub file_id: CompactString,
    /// The `EntryContext` the result carried (kept for debug logs and run reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_context: Option<Box<Map<String, Value>>>,
    /// The instance behind it is the embedded simulator.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

impl Entry {
    /// A bare entry: `id` of `investigation_id`, of `entry_type`, holding `contents` as text,
    /// written at `created`; no command, task, file, tags or context. Callers set the rest with
    /// struct update syntax (`Entry { category: .., ..Entry::new(..) }`).
    pub fn new(
        id: CompactString,
        investigation_id: CompactString,
        entry_type: i64,
        contents: Value,
        created: CompactString,
    ) -> Self {
        Self {
            id,
            investigation_id,
            entry_type,
            contents,
            format: CompactString::const_new("text"),
            human_readable: None,
            parent_content: CompactString::const_new(""),
            parent_id: CompactString::const_new(""),
            brand: CompactString::const_new(""),
            instance: CompactString::const_new(""),
            created,
            user: CompactString::const_new(""),
            category: CompactString::const_new(""),
            task_id: CompactString::const_new(""),
            playbook_id: CompactString::const_new(""),
            entry_task: None,
            note: false,
            tags: Vec::new(),
            file: CompactString::const_new(""),
            file_id: CompactString::const_new(""),
            entry_context: None,
            simulated: false,
        }
    }

    /// Whether it is an error entry.
    pub fn is_error(&self) -> bool {
        self.entry_type == EntryType::ERROR.0
    }

    /// What the war room shows: the human readable output if any, else the contents
    /// (strings as they are, JSON pretty-printed).
    pub fn display_text(&self) -> String {
        if let Some(h) = &self.human_readable {
            return h.clone();
        }
        match &self.contents {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            // A table entry (`ContentsFormat: table`) is shown as the table XSOAR draws.
            table @ (Value::Array(_) | Value::Object(_)) if self.format == "table" => {
                xsoar_connector::table_to_markdown("", table)
            }
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        }
    }

    /// The format of [`Entry::display_text`].
    pub fn display_format(&self) -> &str {
        if self.human_readable.is_some() || (self.format == "table" && !self.contents.is_string()) {
            "markdown"
        } else {
            &self.format
        }
    }
}
