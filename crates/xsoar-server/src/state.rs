//! The server's shared state: the engine, the store, investigations, playbook runs and
//! instances, and the rules that keep memory and database in step.
//!
//! Investigations live in memory (the engine mutates them in place) behind one async mutex
//! each: commands on one investigation run one after another, commands on different ones run
//! in parallel. After every command the new entries, the context, changed incident fields and
//! new files are committed in one transaction *before* the response is sent; a slot remembers
//! how much of its investigation is already stored, so a failed commit is retried with the
//! next one rather than lost.
//!
//! Work that mutates an investigation runs in a spawned task, never in the request future:
//! a client that disconnects mid-command would otherwise cancel the engine half-way through
//! and leave memory and database apart.
//!
//! Playbook runs start in the background. A run holds its investigation's lock while it
//! executes (the engine needs the investigation exclusively) and is committed when it stops
//! (completes, fails or waits for a manual task). `GET /inv-playbook` reads the run table,
//! not the investigation, so polling never waits for a running playbook.

use crate::error::ApiError;
use crate::views;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use xsoar_content::{parse_any, ContentItem, Diagnostic, Library};
use xsoar_engine::{
    Engine, InstanceSpec, Investigation, ListChange, RunOptions, TaskCompletion, TaskState,
};
use xsoar_store::{
    Commit, ContentRecord, IncidentRecord, InvestigationRecord, JsonText, RunRecord, RunStatus,
    Store, StoreError, StoredInstance,
};

/// What a content reload produced: the items read from disk and the files it skipped.
#[derive(Debug, Default)]
pub struct ReloadOutcome {
    /// Items loaded.
    pub items: Vec<ContentItem>,
    /// One line per skipped file (`file:line:col: error: ...`).
    pub problems: Vec<String>,
    /// XSOAR lists read from disk: (name, text). Lists saved through the API or changed by
    /// commands are stored and win over these.
    pub lists: Vec<(String, String)>,
}

/// Re-reads content from disk (given by the binary: the server does no filesystem reads).
pub type ReloadFn =
    Arc<dyn Fn() -> BoxFuture<'static, Result<ReloadOutcome, String>> + Send + Sync>;

/// How the server is set up.
#[derive(Clone)]
pub struct ServerConfig {
    /// Accepted API keys (compared verbatim with the `Authorization` header).
    pub api_keys: Vec<String>,
    /// Instances from the configuration file and the embedded simulator (not stored).
    pub base_instances: Vec<InstanceSpec>,
    /// Content reload (`POST /content/reload`); `None` answers 501.
    pub reload: Option<ReloadFn>,
    /// Limits of playbook runs.
    pub run_options: RunOptions,
    /// The user every request acts as (owner of the playground).
    pub user: String,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field(
                "api_keys",
                &format_args!("[{} hidden]", self.api_keys.len()),
            )
            .field(
                "base_instances",
                &self
                    .base_instances
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("reload", &self.reload.is_some())
            .field("user", &self.user)
            .finish()
    }
}

impl ServerConfig {
    /// A configuration with one key and nothing else.
    pub fn with_key(key: impl Into<String>) -> Self {
        Self {
            api_keys: vec![key.into()],
            base_instances: Vec::new(),
            reload: None,
            run_options: RunOptions::default(),
            user: "admin".into(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// No API key was given.
    #[error("no API key configured")]
    NoKey,
}

/// One investigation in memory.
pub(crate) struct InvSlot {
    pub id: String,
    pub kind: i64,
    pub user: String,
    pub created: String,
    pub incident_id: Option<String>,
    /// The incident as last committed (read by searches without taking the lock).
    pub incident: RwLock<Value>,
    pub state: tokio::sync::Mutex<InvState>,
}

impl InvSlot {
    pub fn incident_snapshot(&self) -> Value {
        self.incident
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn info<'a>(&'a self, incident: &'a Value) -> views::InvestigationInfo<'a> {
        views::InvestigationInfo {
            id: &self.id,
            kind: self.kind,
            user: &self.user,
            created: &self.created,
            incident,
        }
    }
}

/// The investigation and what of it is already stored.
pub(crate) struct InvState {
    pub inv: Investigation,
    persisted_entries: usize,
    persisted_files: HashSet<String>,
    persisted_incident: Value,
}

impl InvState {
    fn new(inv: Investigation) -> Self {
        Self {
            persisted_entries: inv.entries.len(),
            persisted_files: inv.files.keys().cloned().collect(),
            persisted_incident: inv.incident.clone(),
            inv,
        }
    }
}

/// A playbook run as the API reports it.
#[derive(Debug, Clone)]
pub(crate) struct RunEntry {
    pub record: RunRecord,
    /// Entries explaining a failure (computed when the run stops).
    pub failure: Vec<Value>,
    /// Task states reported while the first pass of a run goes on (before `record.run`
    /// exists), so `/inv-playbook` shows tasks completing one by one.
    pub live: std::collections::BTreeMap<String, xsoar_engine::TaskState>,
}

/// Where an instance comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The configuration file.
    Config,
    /// The embedded simulator.
    Simulator,
    /// Created through the API (stored).
    Api,
}

/// Instances: the base ones (config file, simulator) and those stored through the API. A
/// stored instance with a base instance's name overrides it; an enabled stored instance of a
/// brand hides the simulator instance of that brand (a command must not reach both).
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceBook {
    pub base: Vec<InstanceSpec>,
    pub stored: Vec<StoredInstance>,
}

/// One instance as listed.
#[derive(Debug, Clone)]
pub(crate) struct ListedInstance {
    pub id: String,
    pub version: i64,
    pub spec: InstanceSpec,
    pub extra: Value,
    pub origin: Origin,
}

impl InstanceBook {
    pub fn listing(&self) -> Vec<ListedInstance> {
        let stored_names: HashSet<&str> =
            self.stored.iter().map(|s| s.spec.name.as_str()).collect();
        let stored_brands: HashSet<&str> = self
            .stored
            .iter()
            .filter(|s| s.spec.enabled)
            .map(|s| s.spec.brand.as_str())
            .collect();
        let mut out: Vec<ListedInstance> = self
            .base
            .iter()
            .filter(|b| !stored_names.contains(b.name.as_str()))
            .filter(|b| !(b.simulated && stored_brands.contains(b.brand.as_str())))
            .map(|b| ListedInstance {
                id: b.name.clone(),
                version: 1,
                spec: b.clone(),
                extra: json!({}),
                origin: if b.simulated {
                    Origin::Simulator
                } else {
                    Origin::Config
                },
            })
            .collect();
        out.extend(self.stored.iter().map(|s| {
            // An override of the embedded simulator keeps only its switch: the simulator's
            // address changes with every start, so its parameters come from the base.
            let spec = match self
                .base
                .iter()
                .find(|b| b.simulated && b.name == s.spec.name)
            {
                Some(b) => InstanceSpec {
                    enabled: s.spec.enabled,
                    ..b.clone()
                },
                None => s.spec.clone(),
            };
            ListedInstance {
                id: s.id.clone(),
                version: s.version,
                spec,
                extra: s.extra.clone(),
                origin: Origin::Api,
            }
        }));
        out
    }

    pub fn effective(&self) -> Vec<InstanceSpec> {
        self.listing().into_iter().map(|l| l.spec).collect()
    }
}

pub(crate) struct Shared {
    pub engine: Arc<Engine>,
    pub store: Store,
    keys: Vec<Vec<u8>>,
    pub user: String,
    pub playground: String,
    invs: RwLock<HashMap<String, Arc<InvSlot>>>,
    incidents: RwLock<BTreeMap<u64, Arc<InvSlot>>>,
    next_incident: AtomicU64,
    runs: Mutex<HashMap<String, RunEntry>>,
    running: AtomicUsize,
    idle: tokio::sync::Notify,
    pub instances: tokio::sync::Mutex<InstanceBook>,
    pub reload: Option<ReloadFn>,
    pub run_options: RunOptions,
    /// Serialises uploads and reloads (each rebuilds the library).
    pub content_lock: tokio::sync::Mutex<()>,
    /// Change streams of investigations (the web console subscribes), created on demand.
    pub events:
        Mutex<HashMap<String, tokio::sync::broadcast::Sender<xsoar_console::InvestigationEvent>>>,
    /// Nonces of advanced-key requests accepted within the timestamp window (replays are refused).
    nonces: Mutex<HashMap<Vec<u8>, u64>>,
    /// Username/password sessions (`api::login`).
    sessions: Mutex<crate::api::login::Sessions>,
    /// List changes made by commands, not stored yet (the engine's list observer fills it;
    /// every commit of a command's results stores them).
    pending_lists: Arc<Mutex<Vec<ListChange>>>,
}

/// How far an advanced key's `x-xdr-timestamp` may be from the server's clock, in seconds.
pub(crate) const ADVANCED_KEY_WINDOW_SECS: u64 = 300;

/// The state every handler gets: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.shared.store)
            .field("playground", &self.shared.playground)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Constant-time comparison (no early exit on the first differing byte).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0
}

/// Whether a stored content kind is an engine item (packs, lists and jobs are kept for the
/// API only).
pub(crate) fn is_item_kind(kind: &str) -> bool {
    matches!(kind, "integration" | "script" | "playbook")
}

/// The stored lists as (name, text); a stored list that does not read is logged and skipped.
pub(crate) fn stored_lists(content: &[ContentRecord]) -> Vec<(String, String)> {
    content
        .iter()
        .filter(|c| c.kind == "list")
        .filter_map(|c| {
            let v: Value = match serde_json::from_str(&c.text) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(list = %c.id, problem = %e, "stored list skipped");
                    return None;
                }
            };
            let data = match v.get("data") {
                Some(Value::String(d)) => d.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            Some((c.id.clone(), data))
        })
        .collect()
}

/// Parse stored or uploaded YAML into an item, refusing files with errors.
pub(crate) fn parse_item(text: &str, file: &str) -> Result<ContentItem, Vec<Diagnostic>> {
    let (item, diags) = parse_any(text, file);
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    match item {
        Some(item) if errors.is_empty() => Ok(item),
        _ if !errors.is_empty() => Err(errors),
        _ => Err(vec![Diagnostic {
            severity: xsoar_content::Severity::Error,
            file: file.to_owned(),
            line: None,
            col: None,
            yaml_path: None,
            message: "not an integration, script or playbook".into(),
        }]),
    }
}

impl AppState {
    /// Load everything from the store, apply uploaded content and instances to the engine,
    /// and create the playground at first start.
    pub async fn new(
        engine: Arc<Engine>,
        store: Store,
        config: ServerConfig,
    ) -> Result<Self, StartError> {
        let keys: Vec<Vec<u8>> = config
            .api_keys
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec())
            .collect();
        if keys.is_empty() {
            return Err(StartError::NoKey);
        }
        let snap = store.load().await?;

        // Uploaded content goes over what the binary loaded from disk.
        let mut items = Vec::new();
        for c in snap.content.iter().filter(|c| is_item_kind(&c.kind)) {
            match parse_item(&c.text, &c.file) {
                Ok(item) => items.push(item),
                Err(diags) => {
                    for d in diags {
                        tracing::warn!(file = %c.file, problem = %d, "stored content skipped");
                    }
                }
            }
        }
        if !items.is_empty() {
            engine.add_content(items);
        }
        // Stored lists (saved through the API or changed by commands) go over the lists the
        // binary read from disk; from now on every change a command makes is stored.
        for (name, data) in stored_lists(&snap.content) {
            engine.set_list(&name, &data);
        }
        let pending_lists: Arc<Mutex<Vec<ListChange>>> = Arc::default();
        let sink = pending_lists.clone();
        engine.set_list_observer(Some(Arc::new(move |change: &ListChange| {
            lock(&sink).push(change.clone());
        })));
        let book = InstanceBook {
            base: config.base_instances.clone(),
            stored: snap.instances.clone(),
        };
        engine.set_instances(book.effective());

        let mut invs = HashMap::new();
        let mut incidents = BTreeMap::new();
        let mut max_seq = snap.incidents.iter().map(|i| i.seq).max().unwrap_or(0);
        let mut playground = None;
        let mut loaded_runs: HashMap<String, RunRecord> = snap
            .runs
            .into_iter()
            .map(|r| (r.investigation_id.clone(), r))
            .collect();
        let mut runs = HashMap::new();
        for li in snap.investigations {
            let rec = li.record;
            if rec.kind == xsoar_engine::investigation::PLAYGROUND_TYPE
                && rec.user == config.user
                && playground.is_none()
            {
                playground = Some(rec.id.clone());
            }
            if let Some(run) = loaded_runs.remove(&rec.id) {
                let failure = views::failure_entries(
                    &run,
                    &|id| li.investigation.entry(id).cloned(),
                    RERUN_HINT,
                );
                runs.insert(
                    rec.id.clone(),
                    RunEntry {
                        record: run,
                        failure,
                        live: Default::default(),
                    },
                );
            }
            let slot = Arc::new(InvSlot {
                id: rec.id.clone(),
                kind: rec.kind,
                user: rec.user.clone(),
                created: rec.created.clone(),
                incident_id: rec.incident_id.clone(),
                incident: RwLock::new(li.investigation.incident.clone()),
                state: tokio::sync::Mutex::new(InvState::new(li.investigation)),
            });
            if let Some(iid) = &rec.incident_id {
                if let Ok(n) = iid.parse::<u64>() {
                    incidents.insert(n, slot.clone());
                    max_seq = max_seq.max(n as i64);
                }
            }
            invs.insert(rec.id, slot);
        }
        let playground = match playground {
            Some(p) => p,
            None => {
                let slot = new_playground(&engine, &store, &config.user).await?;
                let id = slot.id.clone();
                invs.insert(id.clone(), slot);
                id
            }
        };
        let shared = Shared {
            engine,
            store,
            keys,
            user: config.user.clone(),
            playground,
            invs: RwLock::new(invs),
            incidents: RwLock::new(incidents),
            next_incident: AtomicU64::new((max_seq.max(0) as u64) + 1),
            runs: Mutex::new(runs),
            running: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
            instances: tokio::sync::Mutex::new(book),
            reload: config.reload,
            run_options: config.run_options,
            content_lock: tokio::sync::Mutex::new(()),
            events: Mutex::new(HashMap::new()),
            nonces: Mutex::new(HashMap::new()),
            sessions: Mutex::new(crate::api::login::Sessions::default()),
            pending_lists,
        };
        Ok(AppState {
            shared: Arc::new(shared),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.shared.engine
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The id of the user's playground.
    pub fn playground_id(&self) -> &str {
        &self.shared.playground
    }

    /// Whether an `Authorization` header value is a known key (constant time per key).
    /// The username/password sessions.
    pub(crate) fn sessions(&self) -> std::sync::MutexGuard<'_, crate::api::login::Sessions> {
        lock(&self.shared.sessions)
    }

    pub fn key_matches(&self, presented: &[u8]) -> bool {
        self.shared
            .keys
            .iter()
            .fold(false, |acc, k| acc | ct_eq(k, presented))
    }

    /// Whether `presented` is `sha256_hex(key + nonce + timestamp)` for a known key (an advanced
    /// API key, as demisto-py sends it: a fresh 64-character nonce and the time in whole seconds
    /// ×1000 on every request). The nonce is 16 to 256 ASCII letters and digits, the timestamp
    /// within [`ADVANCED_KEY_WINDOW_SECS`] of `now_ms`, and a nonce is accepted once per window.
    pub fn advanced_key_matches(
        &self,
        presented: &[u8],
        nonce: &[u8],
        timestamp: &[u8],
        now_ms: u64,
    ) -> bool {
        self.advanced_key_check(presented, nonce, timestamp, now_ms)
            .is_ok()
    }

    /// [`Self::advanced_key_matches`], saying which check failed. Only a request signed with
    /// a known key learns that its nonce was used before.
    pub fn advanced_key_check(
        &self,
        presented: &[u8],
        nonce: &[u8],
        timestamp: &[u8],
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let well_formed = (16..=256).contains(&nonce.len())
            && nonce.iter().all(u8::is_ascii_alphanumeric)
            && (1..=19).contains(&timestamp.len())
            && timestamp.iter().all(u8::is_ascii_digit);
        let Some(ts) = std::str::from_utf8(timestamp)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|_| well_formed)
        else {
            return Err("advanced API key: x-xdr-nonce must be 16 to 256 letters and digits and x-xdr-timestamp the time in milliseconds");
        };
        if ts.abs_diff(now_ms) > ADVANCED_KEY_WINDOW_SECS * 1000 {
            return Err(
                "advanced API key: x-xdr-timestamp is more than 5 minutes from the server's clock",
            );
        }
        let signed = self.shared.keys.iter().fold(false, |acc, k| {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(k);
            ctx.update(nonce);
            ctx.update(timestamp);
            let digest = ctx.finish();
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            acc | ct_eq(hex.as_bytes(), presented)
        });
        if !signed {
            return Err("advanced API key: Authorization is not sha256(key + x-xdr-nonce + x-xdr-timestamp) for any of the server's keys");
        }
        let Ok(mut seen) = self.shared.nonces.lock() else {
            return Err("advanced API key: the nonce register is unavailable");
        };
        let horizon = now_ms.saturating_sub(2 * ADVANCED_KEY_WINDOW_SECS * 1000);
        seen.retain(|_, at| *at >= horizon);
        if seen.insert(nonce.to_vec(), now_ms).is_some() {
            return Err("advanced API key: this x-xdr-nonce was already used (make a fresh nonce for every request)");
        }
        Ok(())
    }

    /// Wait (up to `grace`) for running playbooks to stop; returns how many still run.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.shared.idle.notified();
            let n = self.shared.running.load(Ordering::SeqCst);
            if n == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.shared.running.load(Ordering::SeqCst);
            }
        }
    }

    pub(crate) fn now(&self) -> String {
        xsoar_engine::rfc3339(self.shared.engine.clock().now())
    }

    pub(crate) fn slot(&self, id: &str) -> Option<Arc<InvSlot>> {
        self.shared.invs.read().ok()?.get(id).cloned()
    }

    pub(crate) fn slot_or_404(&self, id: &str) -> Result<Arc<InvSlot>, ApiError> {
        self.slot(id).ok_or_else(|| {
            ApiError::not_found(
                "Investigation not found",
                format!("no investigation '{id}'"),
            )
        })
    }

    pub(crate) fn all_slots(&self) -> Vec<Arc<InvSlot>> {
        let mut v: Vec<Arc<InvSlot>> = self
            .shared
            .invs
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        v
    }

    pub(crate) fn incident_slots(&self) -> Vec<Arc<InvSlot>> {
        self.shared
            .incidents
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Commit what changed in an investigation since its last commit.
    pub(crate) async fn persist(
        &self,
        slot: &InvSlot,
        st: &mut InvState,
        run: Option<RunRecord>,
    ) -> Result<(), ApiError> {
        let mut commit = Commit::new(st.inv.id.clone());
        commit.entries = st
            .inv
            .entries
            .get(st.persisted_entries..)
            .map(|new| new.iter().map(|e| (**e).clone()).collect())
            .unwrap_or_default();
        commit.context = Some(JsonText::encode(&st.inv.context).map_err(ApiError::internal)?);
        if st.inv.incident != st.persisted_incident {
            let now = self.now();
            if let Value::Object(o) = &mut st.inv.incident {
                o.insert("modified".into(), Value::String(now));
            }
            commit.incident = Some(st.inv.incident.clone());
        }
        commit.files = st
            .inv
            .files
            .iter()
            .filter(|(k, _)| !st.persisted_files.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let published = commit.entries.clone();
        let published_run = run.as_ref().and_then(|r| r.run.clone());
        commit.run = run;
        let new_files: Vec<String> = commit.files.iter().map(|(k, _)| k.clone()).collect();
        let incident = commit.incident.clone();
        self.shared.store.commit(commit).await?;
        st.persisted_entries = st.inv.entries.len();
        st.persisted_files.extend(new_files);
        if !published.is_empty() {
            self.publish(
                &slot.id,
                xsoar_console::InvestigationEvent::Entries { entries: published },
            );
        }
        if let Some(run) = published_run {
            self.publish(
                &slot.id,
                xsoar_console::InvestigationEvent::Run { run: Box::new(run) },
            );
        }
        if let Some(i) = incident {
            st.persisted_incident = i.clone();
            if let Ok(mut cache) = slot.incident.write() {
                *cache = i;
            }
        }
        // The lists commands changed (shared by every investigation, so not part of the
        // investigation's commit); what cannot be stored now is kept for the next commit.
        self.store_list_changes().await
    }

    /// Store the list changes commands made (the engine already holds them), oldest first. A
    /// change that cannot be stored is put back and the error returned.
    pub(crate) async fn store_list_changes(&self) -> Result<(), ApiError> {
        let changes = std::mem::take(&mut *lock(&self.shared.pending_lists));
        let mut left = changes.into_iter();
        while let Some(change) = left.next() {
            if let Err(e) = crate::api::content::store_list(self, &change.name, &change.data).await
            {
                let mut pending = lock(&self.shared.pending_lists);
                let newer = std::mem::take(&mut *pending);
                pending.push(change);
                pending.extend(left);
                pending.extend(newer);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Run `f` on an investigation under its lock in a task of its own (not cancelled with
    /// the request), then commit.
    pub(crate) async fn with_investigation<T, F>(
        &self,
        slot: Arc<InvSlot>,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a AppState, &'a mut Investigation) -> BoxFuture<'a, T> + Send + 'static,
    {
        let app = self.clone();
        let task = tokio::spawn(async move {
            let mut st = slot.state.lock().await;
            let out = f(&app, &mut st.inv).await;
            app.persist(&slot, &mut st, None).await.map(|()| out)
        });
        task.await.map_err(ApiError::internal)?
    }

    // ----- incidents ------------------------------------------------------------------

    /// Create an incident and its investigation.
    pub(crate) async fn create_incident(
        &self,
        fields: Map<String, Value>,
    ) -> Result<Arc<InvSlot>, ApiError> {
        let mut data = fields;
        crate::fields::check_incident(&mut data)?;
        let seq = self.shared.next_incident.fetch_add(1, Ordering::SeqCst);
        let id = seq.to_string();
        let now = self.now();
        data.insert("id".into(), Value::String(id.clone()));
        data.insert("investigationId".into(), Value::String(id.clone()));
        data.insert("created".into(), Value::String(now.clone()));
        data.insert("modified".into(), Value::String(now.clone()));
        data.entry("occurred")
            .or_insert_with(|| Value::String(now.clone()));
        data.insert("status".into(), json!(1));
        let mut inv = Investigation::new(id.clone(), Value::Object(data));
        inv.user = self.shared.user.clone();
        let record = InvestigationRecord {
            id: id.clone(),
            kind: 0,
            user: self.shared.user.clone(),
            created: now.clone(),
            incident_id: Some(id.clone()),
        };
        let incident = IncidentRecord {
            id: id.clone(),
            seq: seq as i64,
            data: inv.incident.clone(),
            created: now.clone(),
            modified: now,
        };
        self.shared
            .store
            .create_investigation(record.clone(), Some(incident), None)
            .await?;
        let slot = Arc::new(InvSlot {
            id: id.clone(),
            kind: 0,
            user: record.user,
            created: record.created,
            incident_id: Some(id.clone()),
            incident: RwLock::new(inv.incident.clone()),
            state: tokio::sync::Mutex::new(InvState::new(inv)),
        });
        if let Ok(mut m) = self.shared.invs.write() {
            m.insert(id.clone(), slot.clone());
        }
        if let Ok(mut m) = self.shared.incidents.write() {
            m.insert(seq, slot.clone());
        }
        Ok(slot)
    }

    /// Delete incidents (with their investigations, entries and runs). Returns how many.
    pub(crate) async fn delete_incidents(&self, ids: &[String]) -> Result<usize, ApiError> {
        let mut removed = Vec::new();
        for id in ids {
            let Ok(n) = id.parse::<u64>() else { continue };
            let slot = self
                .shared
                .incidents
                .write()
                .ok()
                .and_then(|mut m| m.remove(&n));
            if let Some(slot) = slot {
                if let Ok(mut m) = self.shared.invs.write() {
                    m.remove(&slot.id);
                }
                lock(&self.shared.runs).remove(&slot.id);
                removed.push(slot.id.clone());
            }
        }
        if removed.is_empty() {
            return Ok(0);
        }
        Ok(self.shared.store.delete_investigations(removed).await?)
    }

    // ----- playbook runs ----------------------------------------------------------------

    pub(crate) fn run_entry(&self, investigation_id: &str) -> Option<RunEntry> {
        lock(&self.shared.runs).get(investigation_id).cloned()
    }

    /// Start a playbook on an investigation in the background.
    pub(crate) async fn start_playbook(
        &self,
        slot: Arc<InvSlot>,
        playbook_id: &str,
    ) -> Result<RunRecord, ApiError> {
        let lib = self.shared.engine.library();
        let Some(pb) = lib.playbook(playbook_id) else {
            return Err(playbook_not_found(playbook_id));
        };
        let now = self.now();
        let record = RunRecord {
            investigation_id: slot.id.clone(),
            playbook_id: pb.id.clone(),
            status: RunStatus::InProgress,
            run: None,
            started: now.clone(),
            finished: None,
            updated: now,
            error: None,
        };
        {
            let mut runs = lock(&self.shared.runs);
            if runs
                .get(&slot.id)
                .is_some_and(|r| r.record.status == RunStatus::InProgress)
            {
                return Err(ApiError::conflict(
                    "Playbook already running",
                    format!(
                        "a playbook is already running on investigation '{}'",
                        slot.id
                    ),
                ));
            }
            runs.insert(
                slot.id.clone(),
                RunEntry {
                    record: record.clone(),
                    failure: Vec::new(),
                    live: Default::default(),
                },
            );
        }
        if let Err(e) = self.shared.store.save_run(&record).await {
            lock(&self.shared.runs).remove(&slot.id);
            return Err(e.into());
        }
        self.shared.running.fetch_add(1, Ordering::SeqCst);
        let app = self.clone();
        let pid = pb.id.clone();
        let start = record.clone();
        tokio::spawn(async move {
            let inv_id = slot.id.clone();
            let outcome = AssertUnwindSafe(app.drive_run(slot, pid, start.clone()))
                .catch_unwind()
                .await;
            if outcome.is_err() {
                tracing::error!(investigation = %inv_id, "a playbook run panicked");
                let mut record = start;
                record.status = RunStatus::Failed;
                record.error = Some("internal error while running the playbook".into());
                record.finished = Some(app.now());
                if let Err(e) = app.shared.store.save_run(&record).await {
                    tracing::error!(error = %e, "cannot record the failed run");
                }
                let failure = views::failure_entries(&record, &|_| None, RERUN_HINT);
                lock(&app.shared.runs).insert(
                    inv_id,
                    RunEntry {
                        record,
                        failure,
                        live: Default::default(),
                    },
                );
            }
            app.task_done();
        });
        Ok(record)
    }

    fn task_done(&self) {
        self.shared.running.fetch_sub(1, Ordering::SeqCst);
        self.shared.idle.notify_waiters();
    }

    async fn drive_run(&self, slot: Arc<InvSlot>, playbook_id: String, mut record: RunRecord) {
        let mut st = slot.state.lock().await;
        let result = self
            .shared
            .engine
            .run_playbook(
                &mut st.inv,
                &playbook_id,
                None,
                &self.live_options(&slot.id),
            )
            .await;
        match result {
            Ok(run) => {
                record.status = RunStatus::of(run.state);
                record.finished = run.finished.clone();
                record.error = run.error.clone();
                record.run = Some(run);
            }
            Err(e) => {
                record.status = RunStatus::Failed;
                record.error = Some(e.to_string());
                record.finished = Some(self.now());
            }
        }
        record.updated = self.now();
        self.finish_pass(&slot, &mut st, record).await;
    }

    /// The change stream of an investigation.
    pub(crate) fn events_for(
        &self,
        id: &str,
    ) -> tokio::sync::broadcast::Sender<xsoar_console::InvestigationEvent> {
        lock(&self.shared.events)
            .entry(id.to_owned())
            .or_insert_with(|| tokio::sync::broadcast::channel(256).0)
            .clone()
    }

    /// Send a change to an investigation's subscribers (none listening is fine).
    pub(crate) fn publish(&self, id: &str, event: xsoar_console::InvestigationEvent) {
        let sender = lock(&self.shared.events).get(id).cloned();
        if let Some(s) = sender {
            let _ = s.send(event);
        }
    }

    /// Run options that record each root task's state as the run goes on.
    fn live_options(&self, investigation_id: &str) -> RunOptions {
        let mut opts = self.shared.run_options.clone();
        let shared = self.shared.clone();
        let id = investigation_id.to_owned();
        opts.progress = Some(Arc::new(move |p: &xsoar_engine::TaskProgress| {
            if p.run_id == id {
                if let Some(entry) = lock(&shared.runs).get_mut(&id) {
                    entry.live.insert(p.task_id.clone(), p.state);
                }
            }
            let sender = lock(&shared.events).get(&id).cloned();
            if let Some(s) = sender {
                let _ = s.send(xsoar_console::InvestigationEvent::Task {
                    progress: p.clone(),
                });
            }
        }));
        opts
    }

    /// Commit a run after a pass and publish its state.
    async fn finish_pass(&self, slot: &InvSlot, st: &mut InvState, record: RunRecord) {
        let failure = if matches!(record.status, RunStatus::Failed | RunStatus::Interrupted) {
            views::failure_entries(&record, &|id| st.inv.entry(id).cloned(), RERUN_HINT)
        } else {
            Vec::new()
        };
        if let Err(e) = self.persist(slot, st, Some(record.clone())).await {
            tracing::error!(investigation = %slot.id, error = %e.detail, "cannot store the playbook run");
        }
        // A run whose investigation was deleted meanwhile is not brought back.
        if self.slot(&slot.id).is_some() {
            lock(&self.shared.runs).insert(
                slot.id.clone(),
                RunEntry {
                    record,
                    failure,
                    live: Default::default(),
                },
            );
        }
    }

    /// Complete a waiting task and continue the run until it stops again.
    pub(crate) async fn complete_task(
        &self,
        investigation_id: &str,
        task: &str,
        input: Option<String>,
    ) -> Result<RunEntry, ApiError> {
        let slot = self.slot_or_404(investigation_id)?;
        let lib = self.shared.engine.library();
        let (before, label) = {
            let mut runs = lock(&self.shared.runs);
            let Some(entry) = runs.get_mut(investigation_id) else {
                return Err(ApiError::not_found(
                    "No playbook run",
                    format!("investigation '{investigation_id}' has no playbook run"),
                ));
            };
            let found = entry.record.run.as_ref().and_then(|run| {
                run.root
                    .walk()
                    .into_iter()
                    .find(|(_, t)| t.id == task)
                    .map(|(f, t)| (f.playbook_id.clone(), t.state, t.id.clone()))
            });
            if let Some((_, TaskState::Completed, _)) = &found {
                return Err(ApiError::bad_request(
                    "Task is completed already",
                    format!("Task is completed already: task '{task}' of investigation '{investigation_id}'"),
                ));
            }
            match entry.record.status {
                RunStatus::Waiting => {}
                RunStatus::InProgress => {
                    return Err(ApiError::conflict(
                        "Playbook is running",
                        "the playbook is running; complete the task when it waits".to_owned(),
                    ))
                }
                other => {
                    return Err(ApiError::bad_request(
                        "Playbook run is over",
                        format!("the playbook run is {}", views::run_state(other)),
                    ))
                }
            }
            // Only conditions (and ask tasks) take a branch label; elsewhere the input is a note.
            let takes_label = found
                .as_ref()
                .and_then(|(pid, _, tid)| lib.playbook(pid).and_then(|pb| pb.tasks.get(tid)))
                .is_some_and(|t| {
                    t.task_type == xsoar_content::TaskType::Condition || !t.reply_options.is_empty()
                });
            let label = input.filter(|s| !s.trim().is_empty() && takes_label);
            let before = entry.clone();
            entry.record.status = RunStatus::InProgress;
            (before, label)
        };
        let app = self.clone();
        let completion = TaskCompletion {
            task: task.to_owned(),
            label,
        };
        let handle = tokio::spawn(async move {
            let mut st = slot.state.lock().await;
            let Some(mut run) = before.record.run.clone() else {
                lock(&app.shared.runs).insert(slot.id.clone(), before.clone());
                return Err(ApiError::bad_request(
                    "Playbook run is over",
                    "the run has no state to continue",
                ));
            };
            let result = app
                .shared
                .engine
                .complete_task(
                    &mut st.inv,
                    &mut run,
                    &completion,
                    &app.live_options(&slot.id),
                )
                .await;
            if let Err(e) = result {
                lock(&app.shared.runs).insert(slot.id.clone(), before);
                let title = match e {
                    xsoar_engine::RunError::NoSuchTask(_) => "Task not found",
                    _ => "Cannot complete the task",
                };
                return Err(ApiError::bad_request(title, e.to_string()));
            }
            let mut record = before.record;
            record.status = RunStatus::of(run.state);
            record.finished = run.finished.clone();
            record.error = run.error.clone();
            record.run = Some(run);
            record.updated = app.now();
            app.finish_pass(&slot, &mut st, record).await;
            Ok(app.run_entry(&slot.id))
        });
        match handle.await {
            Ok(Ok(Some(entry))) => Ok(entry),
            Ok(Ok(None)) => Err(ApiError::not_found(
                "No playbook run",
                "the investigation was deleted",
            )),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(ApiError::internal(e)),
        }
    }

    // ----- instances and content --------------------------------------------------------

    /// Apply the instance book to the engine.
    pub(crate) fn apply_instances(&self, book: &InstanceBook) {
        self.shared.engine.set_instances(book.effective());
    }

    /// Rebuild the library: disk content (from the reload callback) plus stored uploads
    /// (`POST /content/reload`, and `xsoar-emu serve --watch` when content files change).
    pub async fn reload_content(&self) -> Result<Value, ApiError> {
        let Some(reload) = self.shared.reload.clone() else {
            return Err(ApiError::not_available(
                "this server was started without a content directory to reload",
            ));
        };
        let _guard = self.shared.content_lock.lock().await;
        let outcome = reload()
            .await
            .map_err(|e| ApiError::bad_request("Content reload failed", e))?;
        let mut lib = Library::new();
        let mut counts = [0usize; 3];
        let mut count = |item: &ContentItem| match item {
            ContentItem::Integration(_) => counts[0] += 1,
            ContentItem::Script(_) => counts[1] += 1,
            ContentItem::Playbook(_) => counts[2] += 1,
        };
        for item in outcome.items {
            count(&item);
            lib.add(item);
        }
        let mut problems = outcome.problems;
        let stored = self.shared.store.content(None).await?;
        let mut uploaded = 0usize;
        for c in stored.iter().filter(|c| is_item_kind(&c.kind)) {
            match parse_item(&c.text, &c.file) {
                Ok(item) => {
                    uploaded += 1;
                    lib.add(item);
                }
                Err(diags) => problems.extend(diags.iter().map(ToString::to_string)),
            }
        }
        self.shared.engine.replace_library(lib);
        let mut lists: BTreeMap<String, String> = outcome.lists.into_iter().collect();
        lists.extend(stored_lists(&stored));
        let list_count = lists.len();
        self.shared
            .engine
            .replace_lists(xsoar_engine::Lists::from_texts(lists));
        Ok(json!({
            "integrations": counts[0],
            "scripts": counts[1],
            "playbooks": counts[2],
            "uploaded": uploaded,
            "lists": list_count,
            "problems": problems,
        }))
    }
}

/// Create the user's playground (first start).
async fn new_playground(
    engine: &Engine,
    store: &Store,
    user: &str,
) -> Result<Arc<InvSlot>, StartError> {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    let id = format!("{}-playground", hex.get(..8).unwrap_or("00000000"));
    let now = xsoar_engine::rfc3339(engine.clock().now());
    let root = json!({"id": id, "name": "Playground", "type": "Playground", "created": now, "occurred": now, "modified": now});
    let record = InvestigationRecord {
        id: id.clone(),
        kind: xsoar_engine::investigation::PLAYGROUND_TYPE,
        user: user.to_owned(),
        created: now,
        incident_id: None,
    };
    let mut inv = Investigation::new(id.clone(), root);
    inv.user = user.to_owned();
    store
        .create_investigation(record.clone(), None, Some(inv.incident.clone()))
        .await?;
    Ok(Arc::new(InvSlot {
        id,
        kind: record.kind,
        user: record.user,
        created: record.created,
        incident_id: None,
        incident: RwLock::new(inv.incident.clone()),
        state: tokio::sync::Mutex::new(InvState::new(inv)),
    }))
}

/// What to tell the user about an interrupted run.
pub(crate) const RERUN_HINT: &str =
    "Start it again with POST /inv-playbook/new/{playbookId}/{investigationId} (or create a new incident with the playbook).";

pub(crate) fn playbook_not_found(id: &str) -> ApiError {
    ApiError::bad_request(
        "Playbook not found",
        format!("playbook-id '{id}' does not exist (it is not loaded; upload it or put it in playbooks/)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare_is_exact() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(!ct_eq(b"", b"a"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn stored_instances_hide_the_simulator_of_their_brand() {
        let spec = |name: &str, brand: &str, simulated: bool, enabled: bool| InstanceSpec {
            name: name.into(),
            brand: brand.into(),
            enabled,
            params: Map::new(),
            simulated,
        };
        let mut book = InstanceBook {
            base: vec![
                spec("signl4-simulator", "SIGNL4", true, true),
                spec("cfg", "Other", false, true),
            ],
            stored: Vec::new(),
        };
        assert_eq!(book.effective().len(), 2);
        book.stored.push(StoredInstance {
            id: "x".into(),
            version: 1,
            spec: spec("SIGNL4_instance_1", "SIGNL4", false, false),
            extra: json!({}),
        });
        assert_eq!(book.effective().len(), 3, "a disabled one hides nothing");
        book.stored[0].spec.enabled = true;
        let names: Vec<String> = book.effective().into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["cfg", "SIGNL4_instance_1"]);
        book.stored.push(StoredInstance {
            id: "cfg".into(),
            version: 2,
            spec: spec("cfg", "Other", false, false),
            extra: json!({}),
        });
        let listing = book.listing();
        assert_eq!(listing.len(), 2);
        assert!(listing.iter().all(|l| l.origin == Origin::Api));
        // A stored switch of the simulator takes the simulator's current parameters.
        let mut fresh = spec("signl4-simulator", "SIGNL4", true, true);
        fresh
            .params
            .insert("url".into(), json!("http://127.0.0.1:2"));
        let mut stale = spec("signl4-simulator", "SIGNL4", false, false);
        stale
            .params
            .insert("url".into(), json!("http://127.0.0.1:1"));
        let book = InstanceBook {
            base: vec![fresh],
            stored: vec![StoredInstance {
                id: "signl4-simulator".into(),
                version: 2,
                spec: stale,
                extra: json!({}),
            }],
        };
        let only = book.effective();
        assert_eq!(only.len(), 1);
        assert!(!only[0].enabled);
        assert!(only[0].simulated);
        assert_eq!(only[0].params["url"], "http://127.0.0.1:2");
    }
}
