//! What the store keeps, as plain records.
//!
//! Entries are stored as the JSON the engine serialises (XSOAR's REST field names), so a row
//! can be read by anything that speaks the API; [`EntryRow`] reads them back into engine
//! entries, tolerating fields that a later engine adds or an older one lacked.

use serde::Deserialize;
use serde_json::{Map, Value};
use xsoar_engine::{CompactString, Entry, EntryTask, InstanceSpec, Investigation, PlaybookRun};

/// Investigation metadata (the war room itself is an [`Investigation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InvestigationRecord {
    /// Investigation id (the incident id, or `<hex>-playground`).
    pub id: String,
    /// XSOAR investigation type: 0 standard, 9 playground.
    pub kind: i64,
    /// The user who owns it (`creatingUserId`).
    pub user: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The incident behind it; `None` for a playground.
    pub incident_id: Option<String>,
}

/// An incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    /// Incident id (`"1"`, `"2"`, ...).
    pub id: String,
    /// Numeric order (ids are allocated from it).
    pub seq: i64,
    /// The incident object as the API and `${incident}` show it.
    pub data: Value,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Last change, RFC 3339.
    pub modified: String,
}

/// State of a stored playbook run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Running when last written.
    InProgress,
    /// Stopped on a manual task (resumable).
    Waiting,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Was running when the server stopped; it did not finish.
    Interrupted,
}

impl RunStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::InProgress => "inprogress",
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Parse the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "inprogress" => RunStatus::InProgress,
            "waiting" => RunStatus::Waiting,
            "completed" => RunStatus::Completed,
            "failed" => RunStatus::Failed,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }

    /// The status of an engine run state.
    pub fn of(state: xsoar_engine::RunState) -> Self {
        match state {
            xsoar_engine::RunState::InProgress => RunStatus::InProgress,
            xsoar_engine::RunState::Waiting => RunStatus::Waiting,
            xsoar_engine::RunState::Completed => RunStatus::Completed,
            xsoar_engine::RunState::Failed => RunStatus::Failed,
        }
    }
}

/// A playbook run of an investigation (one per investigation: the latest).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The investigation it runs on.
    pub investigation_id: String,
    /// Playbook id.
    pub playbook_id: String,
    /// State.
    pub status: RunStatus,
    /// The engine's run state (absent while the first pass has not finished).
    pub run: Option<PlaybookRun>,
    /// Start time, RFC 3339.
    pub started: String,
    /// End time, RFC 3339.
    pub finished: Option<String>,
    /// Last write, RFC 3339.
    pub updated: String,
    /// Why it stopped, when it did not complete.
    pub error: Option<String>,
}

/// An integration instance configured through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInstance {
    /// XSOAR instance id.
    pub id: String,
    /// Version (incremented on every update).
    pub version: i64,
    /// Name, brand, enabled, parameters (secrets as given).
    pub spec: InstanceSpec,
    /// Other instance fields the API echoes back (log level, mappers...).
    pub extra: Value,
}

/// A content item uploaded through the API, as its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentRecord {
    /// `integration`, `script`, `playbook` or `pack`.
    pub kind: String,
    /// Item id (pack name for packs).
    pub id: String,
    /// The file name it was uploaded as.
    pub file: String,
    /// YAML text (pack metadata JSON for packs).
    pub text: String,
    /// Upload time, RFC 3339.
    pub uploaded: String,
}

/// An investigation as loaded: metadata, war room and context.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedInvestigation {
    /// Metadata.
    pub record: InvestigationRecord,
    /// Incident, entries, context and files.
    pub investigation: Investigation,
}

/// Everything the server needs at start.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Incidents, by ascending id.
    pub incidents: Vec<IncidentRecord>,
    /// Investigations with their entries, context and files.
    pub investigations: Vec<LoadedInvestigation>,
    /// The latest playbook run of each investigation that had one.
    pub runs: Vec<RunRecord>,
    /// Instances configured through the API.
    pub instances: Vec<StoredInstance>,
    /// Uploaded content.
    pub content: Vec<ContentRecord>,
}

/// What one command (or one playbook pass) changed in an investigation; committed in one
/// transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// The investigation.
    pub investigation_id: String,
    /// New (or rewritten) entries.
    pub entries: Vec<Entry>,
    /// The context after the command, when it may have changed (encoded by the caller, so
    /// a large context is neither cloned nor encoded on the writer thread).
    pub context: Option<JsonText>,
    /// The incident after the command, when it changed.
    pub incident: Option<Value>,
    /// New stored files (file id, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// The playbook run, when it changed.
    pub run: Option<RunRecord>,
}

impl Commit {
    /// A commit with nothing in it yet.
    pub fn new(investigation_id: impl Into<String>) -> Self {
        Self {
            investigation_id: investigation_id.into(),
            ..Self::default()
        }
    }
}

/// A value already encoded as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(pub(crate) String);

impl JsonText {
    /// Encode a value.
    pub fn encode(v: &Value) -> Result<Self, crate::StoreError> {
        serde_json::to_string(v)
            .map(JsonText)
            .map_err(|e| crate::StoreError::Encode {
                what: "context",
                detail: e.to_string(),
            })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads a stored entry back (the engine's `Entry` is serialise-only).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EntryRow {
    id: CompactString,
    investigation_id: CompactString,
    #[serde(rename = "type")]
    entry_type: i64,
    contents: Value,
    format: CompactString,
    human_readable: Option<String>,
    parent_content: CompactString,
    parent_id: CompactString,
    brand: CompactString,
    instance: CompactString,
    created: CompactString,
    user: CompactString,
    category: CompactString,
    task_id: CompactString,
    playbook_id: CompactString,
    entry_task: Option<EntryTaskRow>,
    note: bool,
    tags: Option<Vec<String>>,
    file: CompactString,
    #[serde(rename = "fileID")]
    file_id: CompactString,
    entry_context: Option<Box<Map<String, Value>>>,
    simulated: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct EntryTaskRow {
    playbook_name: String,
    task_id: String,
    task_name: String,
}

impl From<EntryRow> for Entry {
    fn from(r: EntryRow) -> Self {
        Entry {
            id: r.id,
            investigation_id: r.investigation_id,
            entry_type: r.entry_type,
            contents: r.contents,
            format: r.format,
            human_readable: r.human_readable,
            parent_content: r.parent_content,
            parent_id: r.parent_id,
            brand: r.brand,
            instance: r.instance,
            created: r.created,
            user: r.user,
            category: r.category,
            task_id: r.task_id,
            playbook_id: r.playbook_id,
            entry_task: r.entry_task.map(|t| {
                Box::new(EntryTask {
                    playbook_name: t.playbook_name,
                    task_id: t.task_id,
                    task_name: t.task_name,
                })
            }),
            note: r.note,
            tags: r.tags.unwrap_or_default(),
            file: r.file,
            file_id: r.file_id,
            entry_context: r.entry_context,
            simulated: r.simulated,
        }
    }
}

/// The sequence number of an entry id (`12@7` → 12).
pub fn entry_seq(entry_id: &str) -> Option<i64> {
    let (seq, _) = entry_id.split_once('@')?;
    seq.parse().ok().filter(|n| *n > 0)
}
