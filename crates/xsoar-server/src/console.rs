//! The web console over the server's state: `xsoar-emu serve` shows the console at `/`.
//!
//! The console (crate `xsoar-console`) talks to a [`ConsoleBackend`]; this implementation is
//! the server itself, so the console and the REST API see the same incidents, entries, runs
//! and instances, every change is persisted by the same path, and a war room open in a
//! browser streams entries written by demisto-sdk as well as by the page (the server
//! publishes every committed change to the investigation's subscribers).

use crate::error::ApiError;
use crate::state::{AppState, InvSlot};
use futures::FutureExt;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use xsoar_console::{
    BackendFuture, ConsoleBackend, ConsoleError, InvestigationEvent, InvestigationKind,
    InvestigationSummary, NewIncident,
};
use xsoar_engine::{
    Engine, InstanceSpec, Investigation, LineOutcome, PlaybookRun, RunState, TaskCompletion,
};
use xsoar_store::{RunStatus, StoredInstance};

fn console_error(e: ApiError) -> ConsoleError {
    match e.status.as_u16() {
        404 => ConsoleError::NotFound(e.detail),
        400 | 422 => ConsoleError::BadRequest(e.detail),
        409 => ConsoleError::Conflict(e.detail),
        _ => ConsoleError::Backend(e.detail),
    }
}

fn run_state(status: RunStatus) -> RunState {
    match status {
        RunStatus::InProgress => RunState::InProgress,
        RunStatus::Waiting => RunState::Waiting,
        RunStatus::Completed => RunState::Completed,
        RunStatus::Failed | RunStatus::Interrupted => RunState::Failed,
    }
}

impl AppState {
    async fn summary_of(&self, slot: &InvSlot) -> InvestigationSummary {
        let incident = slot.incident_snapshot();
        let entries = slot.state.lock().await.inv.entries.len();
        let playground = slot.kind == xsoar_engine::investigation::PLAYGROUND_TYPE;
        let run = self.run_entry(&slot.id);
        InvestigationSummary {
            id: slot.id.clone(),
            name: if playground {
                "Playground".to_owned()
            } else {
                incident
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            },
            kind: if playground {
                InvestigationKind::Playground
            } else {
                InvestigationKind::Incident
            },
            severity: incident
                .get("severity")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            status: incident.get("status").and_then(Value::as_i64).unwrap_or(1),
            created: slot.created.clone(),
            entries,
            playbook: run.as_ref().map(|r| r.record.playbook_id.clone()),
            run_state: run.map(|r| run_state(r.record.status)),
        }
    }
}

impl ConsoleBackend for AppState {
    fn engine(&self) -> Arc<Engine> {
        AppState::engine(self).clone()
    }

    fn list_investigations(&self) -> BackendFuture<'_, Vec<InvestigationSummary>> {
        async move {
            let mut out = Vec::new();
            for slot in self.all_slots().iter().rev() {
                out.push(self.summary_of(slot).await);
            }
            Ok(out)
        }
        .boxed()
    }

    fn create_incident(&self, incident: NewIncident) -> BackendFuture<'_, InvestigationSummary> {
        async move {
            let mut fields = Map::new();
            fields.insert("name".into(), json!(incident.name));
            fields.insert("severity".into(), json!(incident.severity));
            fields.insert("details".into(), json!(incident.details));
            if let Some(t) = incident.incident_type {
                fields.insert("type".into(), json!(t));
            }
            if !incident.fields.is_empty() {
                fields.insert("CustomFields".into(), Value::Object(incident.fields));
            }
            let slot = AppState::create_incident(self, fields)
                .await
                .map_err(console_error)?;
            Ok(self.summary_of(&slot).await)
        }
        .boxed()
    }

    fn playground(&self) -> BackendFuture<'_, InvestigationSummary> {
        async move {
            let slot = self
                .slot_or_404(self.playground_id())
                .map_err(console_error)?;
            Ok(self.summary_of(&slot).await)
        }
        .boxed()
    }

    fn investigation<'a>(&'a self, id: &'a str) -> BackendFuture<'a, Investigation> {
        async move {
            let slot = self.slot_or_404(id).map_err(console_error)?;
            let inv = slot.state.lock().await.inv.clone();
            Ok(inv)
        }
        .boxed()
    }

    fn execute_line<'a>(&'a self, id: &'a str, line: &'a str) -> BackendFuture<'a, LineOutcome> {
        async move {
            let slot = self.slot_or_404(id).map_err(console_error)?;
            let line = line.to_owned();
            self.with_investigation(slot, move |app, inv| {
                async move { app.engine().execute_line(inv, &line).await }.boxed()
            })
            .await
            .map_err(console_error)
        }
        .boxed()
    }

    fn subscribe<'a>(
        &'a self,
        id: &'a str,
    ) -> BackendFuture<'a, broadcast::Receiver<InvestigationEvent>> {
        async move {
            self.slot_or_404(id).map_err(console_error)?;
            Ok(self.events_for(id).subscribe())
        }
        .boxed()
    }

    fn playbook_run<'a>(&'a self, id: &'a str) -> BackendFuture<'a, Option<PlaybookRun>> {
        async move {
            self.slot_or_404(id).map_err(console_error)?;
            Ok(self.run_entry(id).and_then(|e| e.record.run))
        }
        .boxed()
    }

    fn start_playbook<'a>(
        &'a self,
        id: &'a str,
        playbook: &'a str,
        _inputs: Map<String, Value>,
    ) -> BackendFuture<'a, PlaybookRun> {
        async move {
            let slot = self.slot_or_404(id).map_err(console_error)?;
            AppState::start_playbook(self, slot, playbook)
                .await
                .map_err(console_error)?;
            // The server runs playbooks in the background; the console waits for the first
            // pass (completed, failed or waiting) while task progress streams to the page.
            for _ in 0..60_000 {
                if let Some(entry) = self.run_entry(id) {
                    if entry.record.status != RunStatus::InProgress {
                        return entry.record.run.ok_or_else(|| {
                            ConsoleError::Backend(
                                entry
                                    .record
                                    .error
                                    .unwrap_or_else(|| "the run did not start".into()),
                            )
                        });
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(ConsoleError::Backend(
                "the playbook is still running; watch its state on the page".into(),
            ))
        }
        .boxed()
    }

    fn complete_task<'a>(
        &'a self,
        id: &'a str,
        completion: TaskCompletion,
    ) -> BackendFuture<'a, PlaybookRun> {
        async move {
            let entry = AppState::complete_task(self, id, &completion.task, completion.label)
                .await
                .map_err(console_error)?;
            entry
                .record
                .run
                .ok_or_else(|| ConsoleError::Backend("the run has no state".into()))
        }
        .boxed()
    }

    fn save_instances(&self, specs: Vec<InstanceSpec>) -> BackendFuture<'_, ()> {
        async move {
            let mut book = self.shared.instances.lock().await;
            // Instances from the config file or the embedded simulator stay; what differs from
            // them, and every other instance, is stored.
            let mut keep = Vec::new();
            for spec in specs {
                if book.base.contains(&spec) {
                    continue;
                }
                let existing = book
                    .stored
                    .iter()
                    .find(|s| s.spec.name == spec.name)
                    .cloned();
                let stored = StoredInstance {
                    id: existing
                        .as_ref()
                        .map(|e| e.id.clone())
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    version: existing.as_ref().map_or(1, |e| e.version + 1),
                    extra: existing.map(|e| e.extra).unwrap_or_else(|| json!({})),
                    spec,
                };
                self.store()
                    .save_instance(&stored)
                    .await
                    .map_err(|e| ConsoleError::Backend(e.to_string()))?;
                keep.push(stored.id.clone());
                book.stored
                    .retain(|s| s.id != stored.id && s.spec.name != stored.spec.name);
                book.stored.push(stored);
            }
            let removed: Vec<String> = book
                .stored
                .iter()
                .filter(|s| !keep.contains(&s.id))
                .map(|s| s.id.clone())
                .collect();
            for id in &removed {
                self.store()
                    .delete_instance(id)
                    .await
                    .map_err(|e| ConsoleError::Backend(e.to_string()))?;
            }
            book.stored.retain(|s| !removed.contains(&s.id));
            self.apply_instances(&book);
            Ok(())
        }
        .boxed()
    }
}
