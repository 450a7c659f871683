//! What the console needs from whoever owns the investigations.
//!
//! The console never keeps state of its own: every change goes through a [`ConsoleBackend`],
//! which runs it on the engine and stores the result. The REST server implements the trait over
//! its store; [`crate::MemoryBackend`] implements it in memory for tests and for a standalone
//! console. Keeping the trait small (investigations, war-room lines, playbook runs, instance
//! persistence, change notifications) keeps the two implementations honest: anything the console
//! can derive from the engine's library (catalog, playbook graphs, integrations) it derives itself.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::broadcast;
use xsoar_engine::{
    Engine, Entry, InstanceSpec, Investigation, LineOutcome, PlaybookRun, RunState, TaskCompletion,
    TaskProgress,
};

/// A backend call's future.
pub type BackendFuture<'a, T> = BoxFuture<'a, Result<T, ConsoleError>>;

/// Why a console request failed. The variant picks the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// No such investigation, playbook, instance or entry (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or names something invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state, e.g. completing a task that does not
    /// wait, or an instance name already taken (409).
    #[error("{0}")]
    Conflict(String),
    /// The backend failed (storage, a poisoned lock) (500).
    #[error("{0}")]
    Backend(String),
}

/// Whether an investigation belongs to an incident or is the playground.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvestigationKind {
    /// An incident's war room.
    Incident,
    /// The playground: a war room without an incident.
    Playground,
}

/// One line of the incidents list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvestigationSummary {
    /// Investigation id (the incident id, or `<uuid>-playground`).
    pub id: String,
    /// Incident name.
    pub name: String,
    /// Incident or playground.
    pub kind: InvestigationKind,
    /// Incident severity (0 unknown … 4 critical).
    pub severity: i64,
    /// Incident status (0 pending, 1 active, 2 closed).
    pub status: i64,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Number of war-room entries.
    pub entries: usize,
    /// The playbook run on it, if one was started.
    pub playbook: Option<String>,
    /// The state of that run.
    pub run_state: Option<RunState>,
}

/// A new incident, as the incidents page submits it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewIncident {
    /// Incident name (required).
    pub name: String,
    /// Severity 0–4.
    #[serde(default)]
    pub severity: i64,
    /// Details text.
    #[serde(default)]
    pub details: String,
    /// Incident type.
    #[serde(default)]
    pub incident_type: Option<String>,
    /// More incident fields (custom fields by machine name).
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// Something that changed in an investigation, sent to its subscribers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum InvestigationEvent {
    /// Entries were appended (in order).
    Entries {
        /// The new entries.
        entries: Vec<Entry>,
    },
    /// The playbook run changed (started, a task changed state, completed).
    Run {
        /// The run as it is now.
        run: Box<PlaybookRun>,
    },
    /// A task of a running playbook started or settled (sent while the run goes on).
    Task {
        /// Which task, in which (sub-)run, and its new state.
        progress: TaskProgress,
    },
}

/// The console's view of investigations, playbook runs and instances.
///
/// Implementations run every change through the [`Engine`] they return from
/// [`ConsoleBackend::engine`], persist it, and then send an [`InvestigationEvent`] to the
/// investigation's subscribers — whoever made the change (the console, the REST API, a
/// playbook), so a war room open in a browser shows entries written by any client.
pub trait ConsoleBackend: Send + Sync + 'static {
    /// The engine: its library (commands, scripts, playbooks, integrations), instance list
    /// (masked) and `test-module`.
    fn engine(&self) -> Arc<Engine>;

    /// Every investigation, playground included, newest first.
    fn list_investigations(&self) -> BackendFuture<'_, Vec<InvestigationSummary>>;

    /// Create an incident and its investigation.
    fn create_incident(&self, incident: NewIncident) -> BackendFuture<'_, InvestigationSummary>;

    /// The playground (created on first use).
    fn playground(&self) -> BackendFuture<'_, InvestigationSummary>;

    /// A snapshot of one investigation: incident, entries, context.
    fn investigation<'a>(&'a self, id: &'a str) -> BackendFuture<'a, Investigation>;

    /// Run one war-room line (`Engine::execute_line`) and store the result. `taskComplete`
    /// requests the line produced are applied to the investigation's playbook run.
    fn execute_line<'a>(&'a self, id: &'a str, line: &'a str) -> BackendFuture<'a, LineOutcome>;

    /// Subscribe to an investigation's changes.
    fn subscribe<'a>(
        &'a self,
        id: &'a str,
    ) -> BackendFuture<'a, broadcast::Receiver<InvestigationEvent>>;

    /// The playbook run of an investigation, if one was started.
    fn playbook_run<'a>(&'a self, id: &'a str) -> BackendFuture<'a, Option<PlaybookRun>>;

    /// Start a playbook (id or name) on an investigation, replacing any earlier run, and run
    /// it until it completes, fails or waits for a manual task.
    fn start_playbook<'a>(
        &'a self,
        id: &'a str,
        playbook: &'a str,
        inputs: Map<String, Value>,
    ) -> BackendFuture<'a, PlaybookRun>;

    /// Complete a waiting task of the investigation's run and continue the run.
    fn complete_task<'a>(
        &'a self,
        id: &'a str,
        completion: TaskCompletion,
    ) -> BackendFuture<'a, PlaybookRun>;

    /// Replace the configured instances (persist them, then `Engine::set_instances`).
    fn save_instances(&self, specs: Vec<InstanceSpec>) -> BackendFuture<'_, ()>;
}
