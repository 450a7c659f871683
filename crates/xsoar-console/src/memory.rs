//! [`MemoryBackend`]: investigations and playbook runs held in memory.
//!
//! Used by the console's tests and by `xsoar-emu console`, and usable by the REST server until
//! it stores investigations itself. Each investigation has a published snapshot that readers
//! clone without waiting, and a mutation lock: a command or playbook step runs on a copy and the
//! copy is published when the engine returns, so a long command never blocks the pages that
//! only read.

use crate::backend::{
    BackendFuture, ConsoleBackend, ConsoleError, InvestigationEvent, InvestigationKind,
    InvestigationSummary, NewIncident,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;
use xsoar_engine::{
    rfc3339, Engine, InstanceSpec, Investigation, LineOutcome, PlaybookRun, RunError, RunOptions,
    TaskCompletion,
};

/// Events buffered per subscriber before it is told to resynchronise.
const EVENT_BUFFER: usize = 256;

/// Investigations and runs in memory, changed through the engine.
pub struct MemoryBackend {
    engine: Arc<Engine>,
    run_options: RunOptions,
    state: Mutex<State>,
    /// Embedded-simulator instances set aside while an enabled instance of their brand is
    /// configured (restored when none is left), as `serve` lists them.
    stood_down: Mutex<Vec<InstanceSpec>>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    next_incident: u64,
    slots: BTreeMap<String, Arc<Slot>>,
    /// Creation order (the list shows newest first).
    order: Vec<String>,
    playground: Option<String>,
}

struct Slot {
    kind: InvestigationKind,
    created: String,
    /// Serialises changes: one command or playbook step at a time per investigation.
    op: Arc<tokio::sync::Mutex<()>>,
    snapshot: RwLock<Snapshot>,
    events: broadcast::Sender<InvestigationEvent>,
}

#[derive(Clone)]
struct Snapshot {
    inv: Investigation,
    run: Option<PlaybookRun>,
}

impl Slot {
    fn new(kind: InvestigationKind, created: String, inv: Investigation) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            kind,
            created,
            op: Arc::new(tokio::sync::Mutex::new(())),
            snapshot: RwLock::new(Snapshot { inv, run: None }),
            events,
        }
    }

    fn read(&self) -> Snapshot {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Publish a new snapshot and tell subscribers what changed.
    fn publish(&self, snap: Snapshot, entries_before: usize, run_changed: bool) {
        let new_entries = snap
            .inv
            .entries
            .get(entries_before..)
            .unwrap_or(&[])
            .iter()
            .map(|e| (**e).clone())
            .collect::<Vec<_>>();
        let run = snap.run.clone();
        match self.snapshot.write() {
            Ok(mut s) => *s = snap,
            Err(p) => *p.into_inner() = snap,
        }
        // A send error only means nobody listens.
        if !new_entries.is_empty() {
            let _ = self.events.send(InvestigationEvent::Entries {
                entries: new_entries,
            });
        }
        if let (true, Some(run)) = (run_changed, run) {
            let _ = self
                .events
                .send(InvestigationEvent::Run { run: Box::new(run) });
        }
    }

    fn summary(&self, id: &str) -> InvestigationSummary {
        let snap = self.read();
        let field = |k: &str| snap.inv.incident.get(k);
        InvestigationSummary {
            id: id.to_owned(),
            name: field("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            kind: self.kind,
            severity: field("severity").and_then(Value::as_i64).unwrap_or(0),
            status: field("status").and_then(Value::as_i64).unwrap_or(0),
            created: self.created.clone(),
            entries: snap.inv.entries.len(),
            playbook: snap.run.as_ref().map(|r| r.root.playbook_name.clone()),
            run_state: snap.run.as_ref().map(|r| r.state),
        }
    }
}

fn run_error(e: RunError) -> ConsoleError {
    match e {
        RunError::PlaybookNotFound(_) | RunError::NoSuchTask(_) => {
            ConsoleError::NotFound(e.to_string())
        }
        RunError::NoSuchLabel { .. } => ConsoleError::BadRequest(e.to_string()),
        RunError::NotWaiting { .. } | RunError::Finished(_) => {
            ConsoleError::Conflict(e.to_string())
        }
    }
}

impl MemoryBackend {
    /// A backend over `engine` with default run options (manual tasks wait).
    pub fn new(engine: Arc<Engine>) -> Self {
        Self::with_run_options(engine, RunOptions::default())
    }

    /// A backend with explicit playbook run options.
    pub fn with_run_options(engine: Arc<Engine>, run_options: RunOptions) -> Self {
        Self {
            engine,
            run_options,
            state: Mutex::new(State {
                next_incident: 1,
                ..State::default()
            }),
            stood_down: Mutex::new(Vec::new()),
        }
    }

    /// The instances to run with after a change: the embedded simulator's instance of a brand
    /// is used only while no enabled instance of that brand is configured (as at start), so a
    /// command never runs on both the simulator and the instance just added.
    fn with_simulators_in_place(&self, specs: Vec<InstanceSpec>) -> Vec<InstanceSpec> {
        let configured: std::collections::HashSet<String> = specs
            .iter()
            .filter(|s| s.enabled && !s.simulated)
            .map(|s| s.brand.clone())
            .collect();
        let mut stood_down = match self.stood_down.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (set_aside, mut active): (Vec<_>, Vec<_>) = specs
            .into_iter()
            .partition(|s| s.simulated && configured.contains(&s.brand));
        stood_down.extend(set_aside);
        let (back, still): (Vec<_>, Vec<_>) = std::mem::take(&mut *stood_down)
            .into_iter()
            .partition(|s| !configured.contains(&s.brand));
        *stood_down = still;
        for spec in back {
            if !active.iter().any(|a| a.name == spec.name) {
                active.push(spec);
            }
        }
        active
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn slot(&self, id: &str) -> Result<Arc<Slot>, ConsoleError> {
        self.lock()
            .slots
            .get(id)
            .cloned()
            .ok_or_else(|| ConsoleError::NotFound(format!("no investigation '{id}'")))
    }

    fn now(&self) -> String {
        rfc3339(self.engine.clock().now())
    }

    /// Create an incident synchronously (also used to seed investigations).
    pub fn add_incident(&self, new: NewIncident) -> Result<InvestigationSummary, ConsoleError> {
        let name = new.name.trim();
        if name.is_empty() {
            return Err(ConsoleError::BadRequest("an incident needs a name".into()));
        }
        if !(0..=4).contains(&new.severity) {
            return Err(ConsoleError::BadRequest(
                "severity is 0 (unknown) to 4 (critical)".into(),
            ));
        }
        let created = self.now();
        let mut state = self.lock();
        let id = state.next_incident.to_string();
        state.next_incident += 1;
        let mut incident = new.fields.clone();
        incident.insert("name".into(), json!(name));
        incident.insert("severity".into(), json!(new.severity));
        incident.insert("details".into(), json!(new.details));
        if let Some(t) = new.incident_type.filter(|t| !t.trim().is_empty()) {
            incident.insert("type".into(), json!(t));
        }
        incident.insert("created".into(), json!(created));
        incident.insert("occurred".into(), json!(created));
        let inv = Investigation::new(id.clone(), Value::Object(incident));
        let slot = Arc::new(Slot::new(InvestigationKind::Incident, created, inv));
        state.slots.insert(id.clone(), slot.clone());
        state.order.push(id.clone());
        drop(state);
        Ok(slot.summary(&id))
    }

    fn playground_slot(&self) -> (String, Arc<Slot>) {
        let mut state = self.lock();
        if let Some(slot) = state
            .playground
            .clone()
            .and_then(|id| state.slots.get(&id).cloned().map(|s| (id, s)))
        {
            return slot;
        }
        let id = format!("{}-playground", uuid::Uuid::new_v4());
        let mut inv = Investigation::new(
            id.clone(),
            json!({"name": "Playground", "type": "Playground"}),
        );
        inv.user = "admin".into();
        let slot = Arc::new(Slot::new(InvestigationKind::Playground, self.now(), inv));
        state.slots.insert(id.clone(), slot.clone());
        state.order.push(id.clone());
        state.playground = Some(id.clone());
        (id, slot)
    }

    /// Start a change: wait for the investigation's mutation lock and copy its snapshot.
    /// Run options that send each task's progress to the investigation's subscribers, so
    /// the playbook page colours tasks while the run goes on.
    fn live_options(&self, events: &broadcast::Sender<InvestigationEvent>) -> RunOptions {
        let events = events.clone();
        let mut opts = self.run_options.clone();
        opts.progress = Some(Arc::new(move |p: &xsoar_engine::TaskProgress| {
            // A send error only means nobody listens.
            let _ = events.send(InvestigationEvent::Task {
                progress: p.clone(),
            });
        }));
        opts
    }

    async fn begin(&self, id: &str) -> Result<Change, ConsoleError> {
        let slot = self.slot(id)?;
        let guard = slot.op.clone().lock_owned().await;
        let snap = slot.read();
        Ok(Change {
            before: snap.inv.entries.len(),
            snap,
            slot,
            _guard: guard,
        })
    }
}

/// A change in progress; [`Change::finish`] publishes it. Entries written before a failure are
/// real (a command ran), so a change is published whether or not it succeeded.
struct Change {
    slot: Arc<Slot>,
    snap: Snapshot,
    before: usize,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Change {
    fn finish(self, run_changed: bool) {
        self.slot.publish(self.snap, self.before, run_changed);
    }
}

impl ConsoleBackend for MemoryBackend {
    fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    fn list_investigations(&self) -> BackendFuture<'_, Vec<InvestigationSummary>> {
        Box::pin(async move {
            let slots: Vec<(String, Arc<Slot>)> = {
                let state = self.lock();
                state
                    .order
                    .iter()
                    .rev()
                    .filter_map(|id| state.slots.get(id).map(|s| (id.clone(), s.clone())))
                    .collect()
            };
            Ok(slots.iter().map(|(id, s)| s.summary(id)).collect())
        })
    }

    fn create_incident(&self, incident: NewIncident) -> BackendFuture<'_, InvestigationSummary> {
        Box::pin(async move { self.add_incident(incident) })
    }

    fn playground(&self) -> BackendFuture<'_, InvestigationSummary> {
        Box::pin(async move {
            let (id, slot) = self.playground_slot();
            Ok(slot.summary(&id))
        })
    }

    fn investigation<'a>(&'a self, id: &'a str) -> BackendFuture<'a, Investigation> {
        Box::pin(async move { Ok(self.slot(id)?.read().inv) })
    }

    fn execute_line<'a>(&'a self, id: &'a str, line: &'a str) -> BackendFuture<'a, LineOutcome> {
        Box::pin(async move {
            let mut change = self.begin(id).await?;
            let slot_events = change.slot.events.clone();
            let snap = &mut change.snap;
            let outcome = self.engine.execute_line(&mut snap.inv, line).await;
            let mut run_changed = false;
            if let Some(run) = snap.run.as_mut() {
                for (task, label) in &outcome.completions {
                    let completion = TaskCompletion {
                        task: task.clone(),
                        label: label.clone(),
                    };
                    match self
                        .engine
                        .complete_task(
                            &mut snap.inv,
                            run,
                            &completion,
                            &self.live_options(&slot_events),
                        )
                        .await
                    {
                        Ok(()) => run_changed = true,
                        Err(e) => {
                            tracing::warn!(task = %task, error = %e, "taskComplete from the war room did not apply")
                        }
                    }
                }
            }
            change.finish(run_changed);
            Ok(outcome)
        })
    }

    fn subscribe<'a>(
        &'a self,
        id: &'a str,
    ) -> BackendFuture<'a, broadcast::Receiver<InvestigationEvent>> {
        Box::pin(async move { Ok(self.slot(id)?.events.subscribe()) })
    }

    fn playbook_run<'a>(&'a self, id: &'a str) -> BackendFuture<'a, Option<PlaybookRun>> {
        Box::pin(async move { Ok(self.slot(id)?.read().run) })
    }

    fn start_playbook<'a>(
        &'a self,
        id: &'a str,
        playbook: &'a str,
        inputs: Map<String, Value>,
    ) -> BackendFuture<'a, PlaybookRun> {
        Box::pin(async move {
            let mut change = self.begin(id).await?;
            let slot_events = change.slot.events.clone();
            let inputs = (!inputs.is_empty()).then_some(inputs);
            let result = self
                .engine
                .run_playbook(
                    &mut change.snap.inv,
                    playbook,
                    inputs,
                    &self.live_options(&slot_events),
                )
                .await;
            match result {
                Ok(run) => {
                    change.snap.run = Some(run.clone());
                    change.finish(true);
                    Ok(run)
                }
                Err(e) => {
                    change.finish(false);
                    Err(run_error(e))
                }
            }
        })
    }

    fn complete_task<'a>(
        &'a self,
        id: &'a str,
        completion: TaskCompletion,
    ) -> BackendFuture<'a, PlaybookRun> {
        Box::pin(async move {
            let mut change = self.begin(id).await?;
            let slot_events = change.slot.events.clone();
            let snap = &mut change.snap;
            let Some(run) = snap.run.as_mut() else {
                change.finish(false);
                return Err(ConsoleError::Conflict(
                    "no playbook runs on this investigation".into(),
                ));
            };
            let result = self
                .engine
                .complete_task(
                    &mut snap.inv,
                    run,
                    &completion,
                    &self.live_options(&slot_events),
                )
                .await;
            let run = run.clone();
            match result {
                Ok(()) => {
                    change.finish(true);
                    Ok(run)
                }
                Err(e) => {
                    change.finish(false);
                    Err(run_error(e))
                }
            }
        })
    }

    fn save_instances(&self, specs: Vec<InstanceSpec>) -> BackendFuture<'_, ()> {
        Box::pin(async move {
            self.engine
                .set_instances(self.with_simulators_in_place(specs));
            Ok(())
        })
    }
}
