//! GenericPolling performed natively (on the engine clock; virtual in test runs).
//!
//! In XSOAR, `ScheduleGenericPolling` schedules `GenericPollingScheduledTask` every
//! `interval` minutes; each run reads the pending ids with the `dt` expression in the
//! context of the sub-playbook that scheduled it, re-runs the polling command for the ids
//! still pending, and when nothing is pending (or the timeout has passed) completes the
//! waiting task tagged `polling` with `YES`. A failure inside the scheduled task completes
//! it with `NO`.
//!
//! The runner does the same once the playbook waits: it waits on the engine's clock for the
//! next due poll (a virtual clock jumps there at once, so a suite of polling playbooks takes
//! milliseconds). Polls run with the
//! scheduling sub-playbook's view (its private context, its inputs) and write there, as the
//! `playbookId` argument makes XSOAR do.

use crate::hook::{render_command, PollRequest};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use xsoar_context::Scope;
use xsoar_engine::playbook::{Frame, PlaybookRun};
use xsoar_engine::{
    ArgInput, Engine, ExecScope, Investigation, Invocation, Lists, RunOptions, RunState,
    TaskCompletion, TaskState, TaskTag,
};

/// Upper bound on poll ticks in one run (a safety net; timeouts end polls long before).
const MAX_TICKS: u32 = 100_000;

#[derive(Debug)]
struct Active {
    req: PollRequest,
    deadline: SystemTime,
    next_due: SystemTime,
    polls: u32,
    checked: bool,
}

/// How a tick ended.
enum Tick {
    /// Poll again at the next interval.
    Again,
    /// Complete the waiting task with this label.
    Finish(&'static str),
}

/// Drive a waiting run through its scheduled polls until it completes, fails, or waits on
/// something that is not a poll. Returns notes for the report.
///
/// Waits for the next poll go through the engine's clock: instant on a virtual clock, real
/// minutes on the system clock (as on a server).
pub async fn drive(
    engine: &Arc<Engine>,
    hook: &crate::hook::TestHook,
    inv: &mut Investigation,
    run: &mut PlaybookRun,
    opts: &RunOptions,
) -> Vec<String> {
    let mut notes = Vec::new();
    let mut active: Vec<Active> = Vec::new();
    let mut ticks = 0u32;
    loop {
        for req in hook.take_polls() {
            let interval = Duration::from_secs(req.interval_minutes * 60);
            active.push(Active {
                deadline: req.scheduled_at + Duration::from_secs(req.timeout_minutes * 60),
                next_due: req.scheduled_at + interval,
                req,
                polls: 0,
                checked: false,
            });
        }
        if run.state != RunState::Waiting || active.is_empty() {
            break;
        }
        ticks += 1;
        if ticks > MAX_TICKS {
            notes.push(format!("polling stopped after {MAX_TICKS} polls"));
            break;
        }
        // The first scheduled poll checks the dt path at once, as ScheduleGenericPolling does.
        let idx = match active.iter().position(|a| !a.checked) {
            Some(i) => i,
            None => {
                let mut best = 0;
                for (i, a) in active.iter().enumerate() {
                    if a.next_due < active[best].next_due {
                        best = i;
                    }
                }
                best
            }
        };
        let finish = if !active[idx].checked {
            active[idx].checked = true;
            check_dt(engine, inv, run, &active[idx].req, &mut notes)
        } else {
            let now = clock_now(engine);
            if active[idx].next_due > now {
                if let Ok(d) = active[idx].next_due.duration_since(now) {
                    engine.clock().sleep(d).await;
                }
            }
            let a = &mut active[idx];
            match tick(engine, inv, run, a, &mut notes).await {
                Tick::Again => {
                    a.next_due += Duration::from_secs(a.req.interval_minutes * 60);
                    None
                }
                Tick::Finish(label) => Some(label),
            }
        };
        if let Some(label) = finish {
            let a = active.remove(idx);
            let completion = TaskCompletion {
                task: a.req.tag.clone(),
                label: Some(label.to_owned()),
            };
            if let Err(e) = engine.complete_task(inv, run, &completion, opts).await {
                notes.push(format!(
                    "GenericPolling could not complete the task tagged '{}': {e}",
                    a.req.tag
                ));
                break;
            }
        }
    }
    notes
}

fn clock_now(engine: &Arc<Engine>) -> SystemTime {
    engine.clock().now()
}

/// ScheduleGenericPolling's check: the dt path must exist, even if no id is pending.
fn check_dt(
    engine: &Engine,
    inv: &Investigation,
    run: &PlaybookRun,
    req: &PollRequest,
    notes: &mut Vec<String>,
) -> Option<&'static str> {
    let (privates, inputs) = view_of(&run.root, req.playbook_run.as_deref());
    let roots = EngineRoots::of(engine);
    let pending = eval(inv, &privates, &inputs, &roots, &req.dt);
    match pending {
        Err(e) => {
            notes.push(format!(
                "GenericPolling for '{}': invalid dt '{}': {e}",
                req.command, req.dt
            ));
            Some("NO")
        }
        Ok(Some(_)) => None,
        Ok(None) => {
            let unfiltered = strip_filters(&req.dt);
            match eval(inv, &privates, &inputs, &roots, &unfiltered) {
                Ok(Some(_)) => {
                    notes.push(format!(
                        "GenericPolling for '{}': no ids matching the dt condition '{}' were found; polling ends at the first poll",
                        req.command, req.dt
                    ));
                    None
                }
                _ => {
                    notes.push(format!(
                        "GenericPolling for '{}': Incorrect dt path: no ids found ('{}' returned nothing in the context of the polling playbook)",
                        req.command, req.dt
                    ));
                    Some("NO")
                }
            }
        }
    }
}

/// One scheduled poll (GenericPollingScheduledTask).
async fn tick(
    engine: &Arc<Engine>,
    inv: &mut Investigation,
    run: &mut PlaybookRun,
    a: &mut Active,
    notes: &mut Vec<String>,
) -> Tick {
    let req = &a.req;
    let elapsed = |now: SystemTime| {
        now.duration_since(req.scheduled_at)
            .unwrap_or_default()
            .as_secs()
            / 60
    };
    let now = clock_now(engine);
    if now >= a.deadline {
        let (privates, inputs) = view_of(&run.root, req.playbook_run.as_deref());
        let still = eval(
            inv,
            own_layer(&privates),
            &inputs,
            &EngineRoots::of(engine),
            &req.dt,
        )
        .ok()
        .flatten()
        .map(|v| ids_of(&v).join(", "))
        .unwrap_or_default();
        notes.push(format!(
            "GenericPolling for '{}' timed out after {} min ({} polls); still pending: {}",
            req.command,
            req.timeout_minutes,
            a.polls,
            if still.is_empty() { "-" } else { &still }
        ));
        return Tick::Finish("YES");
    }
    let path = req
        .playbook_run
        .as_deref()
        .and_then(|id| find_path(&run.root, id))
        .unwrap_or_default();
    let (privates, inputs) = {
        let frames = frames_along(&run.root, &path);
        let privates: Vec<Value> = frames
            .iter()
            .filter_map(|f| f.private_context.clone())
            .collect();
        let inputs = frames.last().map(|f| f.inputs.clone()).unwrap_or_default();
        (privates, inputs)
    };
    let roots = EngineRoots::of(engine);
    let pending = match eval(inv, own_layer(&privates), &inputs, &roots, &req.dt) {
        Ok(Some(v)) => ids_of(&v),
        Ok(None) => Vec::new(),
        Err(e) => {
            notes.push(format!(
                "GenericPolling for '{}': invalid dt '{}': {e}",
                req.command, req.dt
            ));
            return Tick::Finish("NO");
        }
    };
    let mut to_poll: Vec<String> = Vec::new();
    for id in &req.ids {
        if pending.contains(id) && !to_poll.contains(id) {
            to_poll.push(id.clone());
        }
    }
    if to_poll.is_empty() {
        notes.push(format!(
            "GenericPolling for '{}' done after {} min ({} scheduled polls)",
            req.command,
            elapsed(now),
            a.polls
        ));
        return Tick::Finish("YES");
    }
    // Run the polling command in the polling playbook's view.
    let mut named: Vec<(String, Value)> = req
        .extra_args
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    named.push((req.arg_name.clone(), Value::String(to_poll.join(","))));
    let target = frames_along(&run.root, &path).last().map(|f| {
        let waiting = waiting_task(engine, f, &req.tag).unwrap_or_default();
        (
            f.playbook_id.clone(),
            f.playbook_name.clone(),
            f.run_id.clone(),
            waiting,
        )
    });
    let mut scope = ExecScope {
        private: privates,
        inputs: Some(inputs),
        current_playbook_id: target.as_ref().map(|t| t.2.clone()),
        last_completed_task_entries: Vec::new(),
        task: target
            .as_ref()
            .map(|(pid, pname, _, (tid, tname))| TaskTag {
                task_id: tid.clone(),
                task_name: tname.clone(),
                playbook_id: pid.clone(),
                playbook_name: pname.clone(),
                ..TaskTag::default()
            }),
    };
    let invocation = Invocation {
        command: req.command.clone(),
        parent_content: render_command(engine, &req.command, &named),
        named: named
            .into_iter()
            .map(|(k, v)| (k, ArgInput::Value(v)))
            .collect(),
        positional: Vec::new(),
        brand: None,
        parent_id: Default::default(),
        from_war_room: false,
    };
    let outcome = engine.invoke(inv, &mut scope, invocation).await;
    a.polls += 1;
    if let Some(e) = &outcome.error {
        notes.push(format!(
            "GenericPolling: poll {} of '{}' returned an error: {e}",
            a.polls, req.command
        ));
    }
    write_back(&mut run.root, &path, scope.private);
    Tick::Again
}

/// The waiting task of `f` that a completion of `tag` targets: (id, name).
fn waiting_task(engine: &Arc<Engine>, f: &Frame, tag: &str) -> Option<(String, String)> {
    let lib = engine.library();
    let pb = lib
        .playbook(&f.playbook_id)
        .or_else(|| lib.playbook(&f.playbook_name))?;
    f.tasks
        .values()
        .find(|t| {
            t.state == TaskState::Waiting
                && t.sub.is_none()
                && pb.tasks.get(&t.id).is_some_and(|m| {
                    m.id == tag
                        || m.name.eq_ignore_ascii_case(tag)
                        || m.tags.iter().any(|x| x.eq_ignore_ascii_case(tag))
                })
        })
        .map(|t| (t.id.clone(), t.name.clone()))
}

/// Task ids leading from `root` to the frame with run id `run_id`.
pub(crate) fn find_path(root: &Frame, run_id: &str) -> Option<Vec<String>> {
    if root.run_id == run_id {
        return Some(Vec::new());
    }
    for (id, t) in &root.tasks {
        if let Some(sub) = &t.sub {
            if let Some(mut p) = find_path(sub, run_id) {
                p.insert(0, id.clone());
                return Some(p);
            }
        }
    }
    None
}

/// The frames from the root down the path (the root first).
pub(crate) fn frames_along<'a>(root: &'a Frame, path: &[String]) -> Vec<&'a Frame> {
    let mut out = vec![root];
    let mut cur = root;
    for id in path {
        match cur.tasks.get(id).and_then(|t| t.sub.as_deref()) {
            Some(sub) => {
                out.push(sub);
                cur = sub;
            }
            None => break,
        }
    }
    out
}

fn frame_at_mut<'a>(root: &'a mut Frame, path: &[String]) -> Option<&'a mut Frame> {
    let mut cur = root;
    for id in path {
        cur = cur.tasks.get_mut(id)?.sub.as_deref_mut()?;
    }
    Some(cur)
}

/// Put the private contexts (outermost first) back into the frames they came from.
fn write_back(root: &mut Frame, path: &[String], privates: Vec<Value>) {
    let mut it = privates.into_iter();
    for depth in 0..=path.len() {
        let Some(frame) = frame_at_mut(root, &path[..depth]) else {
            return;
        };
        if frame.private_context.is_some() {
            match it.next() {
                Some(p) => frame.private_context = Some(p),
                None => return,
            }
        }
    }
}

/// Private contexts (outermost first) and inputs of the frame with `run_id` (root if absent).
pub(crate) fn view_of(root: &Frame, run_id: Option<&str>) -> (Vec<Value>, Value) {
    let path = run_id
        .and_then(|id| find_path(root, id))
        .unwrap_or_default();
    let frames = frames_along(root, &path);
    let privates = frames
        .iter()
        .filter_map(|f| f.private_context.clone())
        .collect();
    let inputs = frames.last().map(|f| f.inputs.clone()).unwrap_or_default();
    (privates, inputs)
}

/// The context a polling playbook writes to, alone: GenericPollingScheduledTask reads the
/// pending ids from the sub-playbook's own context (`subplaybook-<id>`), without falling back
/// to the parent's, where the ids are typically still pending.
fn own_layer(privates: &[Value]) -> &[Value] {
    match privates.len() {
        0 => privates,
        n => &privates[n - 1..],
    }
}

/// The DT roots the engine holds rather than the investigation — `modules` (the instances)
/// and `lists` (XSOAR lists) — taken from the engine, so a poll's `dt` and a failure report's
/// reads see what the playbook's tasks saw.
pub(crate) struct EngineRoots {
    modules: Arc<Value>,
    lists: Arc<Lists>,
}

impl EngineRoots {
    /// The engine's roots as they are now.
    pub(crate) fn of(engine: &Engine) -> Self {
        Self {
            modules: engine.modules(),
            lists: engine.lists(),
        }
    }
}

/// Evaluate a DT expression (with or without `${}`) in a frame's view.
pub(crate) fn eval(
    inv: &Investigation,
    privates: &[Value],
    inputs: &Value,
    roots: &EngineRoots,
    expr: &str,
) -> Result<Option<Value>, String> {
    let expr = expr.trim();
    let expr = expr
        .strip_prefix("${")
        .and_then(|e| e.strip_suffix('}'))
        .unwrap_or(expr);
    let scope = scope_of(inv, privates, inputs, roots);
    match xsoar_context::eval_path(expr, &scope) {
        Ok(Some(v)) if is_nothing(&v) => Ok(None),
        Ok(v) => Ok(v),
        Err(e) => Err(e.to_string()),
    }
}

/// The DT view: innermost private context first, then outer ones, then the investigation;
/// the roots `incident`, `inputs`, `modules` and `lists`, as the engine's own view has them.
pub(crate) fn scope_of<'a>(
    inv: &'a Investigation,
    privates: &'a [Value],
    inputs: &'a Value,
    roots: &'a EngineRoots,
) -> Scope<'a> {
    let mut layers = privates.iter().rev();
    let mut s = match layers.next() {
        Some(first) => Scope::new(first),
        None => Scope::new(&inv.context),
    };
    if !privates.is_empty() {
        for l in layers {
            s = s.with_fallback(l);
        }
        s = s.with_fallback(&inv.context);
    }
    s.with_root("incident", &inv.incident)
        .with_root("inputs", inputs)
        .with_root("modules", &roots.modules)
        .with_root("lists", roots.lists.root())
}

fn is_nothing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_nothing),
        _ => false,
    }
}

fn ids_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter(|x| !x.is_null())
            .map(xsoar_context::to_display_string)
            .collect(),
        Value::Null => Vec::new(),
        other => vec![xsoar_context::to_display_string(other)],
    }
}

/// The dt path without its filters: `A.B(val.x == 1).C` → `A.B.C` (from the first `(` to the
/// last `)`, as ScheduleGenericPolling strips them).
fn strip_filters(dt: &str) -> String {
    match (dt.find('('), dt.rfind(')')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &dt[..a], &dt[b + 1..]),
        _ => dt.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_stripped_like_the_script() {
        assert_eq!(
            strip_filters("HelloWorld.Scan(val.status !== 'COMPLETE').scan_id"),
            "HelloWorld.Scan.scan_id"
        );
        assert_eq!(strip_filters("A.B"), "A.B");
    }
}
