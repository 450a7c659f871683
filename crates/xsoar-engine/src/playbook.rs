//! Playbook execution (§8 of the semantics): a deterministic scheduler over the task graph.
//!
//! A run is a tree of [`Frame`]s: one per playbook run, with a child frame for each
//! sub-playbook task. Frames hold every bit of state (task states, edge states, the ready
//! queue, private contexts, loop progress), so a run that waits for a manual task can be
//! stored, reloaded and resumed, and the same code drives the CLI, the server and the test
//! runner. Tasks that are ready run one at a time in ascending numeric id (XSOAR runs
//! parallel branches concurrently; a fixed order makes runs reproducible).
//!
//! Join rule (§8.3): a task with several parents runs once, after every incoming edge is
//! either *activated* (its source chose it) or *dead* (its source resolved without choosing
//! it, or never ran); a task whose incoming edges are all dead is *not executed* and kills
//! its own outgoing edges. Edges that close a cycle (back edges) are not waited for; when
//! one is activated the target runs again, bounded by [`RunOptions::max_task_executions`].

use crate::engine::{ArgInput, ExecScope, Invocation, InvokeStatus, TaskTag};
use crate::eval;
use crate::investigation::{update_incident, Investigation};
use crate::timer;
use crate::{rfc3339, CompactString, Engine};
use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use tracing::Instrument;
use xsoar_content::{ArgValue, Playbook, Task, TaskTarget, TaskType};

/// Labels with a meaning of their own.
pub const NONE_LABEL: &str = "#none#";
/// The else branch of a condition.
pub const DEFAULT_LABEL: &str = "#default#";
/// The error path.
pub const ERROR_LABEL: &str = "#error#";

/// A task changed state during a run (live displays: the console colours tasks as they go).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgress {
    /// Run id of the frame (`currentPlaybookID`): the root run's id or a sub-run's.
    pub run_id: String,
    /// Playbook name of that frame.
    pub playbook: String,
    /// Playbook-local task id.
    pub task_id: String,
    /// Task name.
    pub task_name: String,
    /// The state it entered.
    pub state: TaskState,
}

/// Receives [`TaskProgress`] as tasks start and finish.
pub type ProgressFn = std::sync::Arc<dyn Fn(&TaskProgress) + Send + Sync>;

/// Limits and manual-task handling of a run.
#[derive(Clone)]
pub struct RunOptions {
    /// Stop the run after this many task executions (runaway graphs).
    pub max_task_executions: usize,
    /// Upper bound on loop iterations of any sub-playbook task (XSOAR's default max is 100).
    pub max_loop_iterations: u64,
    /// Complete manual tasks at once (conditions take their first non-default label).
    pub auto_complete: bool,
    /// Completions to apply when a task starts waiting: (task id, tag or name; label).
    pub completions: Vec<TaskCompletion>,
    /// Deepest sub-playbook nesting allowed.
    pub max_depth: usize,
    /// Called when a task starts and when it settles.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("max_task_executions", &self.max_task_executions)
            .field("max_loop_iterations", &self.max_loop_iterations)
            .field("auto_complete", &self.auto_complete)
            .field("completions", &self.completions)
            .field("max_depth", &self.max_depth)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_task_executions: 10_000,
            max_loop_iterations: 1_000,
            auto_complete: false,
            completions: Vec::new(),
            max_depth: 20,
            progress: None,
        }
    }
}

/// Completing a waiting task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCompletion {
    /// Task id, tag or name.
    pub task: String,
    /// Branch label for conditions.
    pub label: Option<String>,
}

/// State of a run (the `/inv-playbook` `state` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Tasks still run.
    InProgress,
    /// Stopped on a manual task.
    Waiting,
    /// Every task resolved, no error left uncontinued.
    Completed,
    /// A task errored and was not continued (or the run was stopped).
    Failed,
}

impl RunState {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::InProgress => "inprogress",
            RunState::Waiting => "waiting",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
        }
    }
}

/// State of a task (§8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    /// Not reached yet.
    Pending,
    /// Executing.
    Running,
    /// Waiting for a manual completion.
    Waiting,
    /// Finished (possibly with a continued error).
    Completed,
    /// Failed and not continued.
    Error,
    /// Skipped: command unavailable and `skipunavailable`.
    Skipped,
    /// On a branch that was not taken.
    NotExecuted,
    /// Behind an error: can never run.
    Blocked,
}

impl TaskState {
    /// The name XSOAR's API uses.
    pub fn api_name(self) -> &'static str {
        match self {
            TaskState::Pending => "New",
            TaskState::Running => "InProgress",
            TaskState::Waiting => "Waiting",
            TaskState::Completed => "Completed",
            TaskState::Error => "Error",
            TaskState::Skipped => "Skipped",
            TaskState::NotExecuted => "WillNotBeExecuted",
            TaskState::Blocked => "Blocked",
        }
    }

    /// A word for reports.
    pub fn word(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Waiting => "waiting",
            TaskState::Completed => "completed",
            TaskState::Error => "error",
            TaskState::Skipped => "skipped",
            TaskState::NotExecuted => "not executed",
            TaskState::Blocked => "blocked",
        }
    }

    fn is_resolved(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Skipped | TaskState::NotExecuted
        )
    }
}

/// Edge state for the join rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeState {
    /// The source chose this edge.
    Activated,
    /// The source resolved without choosing it.
    Dead,
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    /// Playbook-local task id.
    pub id: String,
    /// Task name.
    pub name: String,
    /// Task type (`regular`, `condition`, ...).
    pub task_type: String,
    /// What it executes (`SIGNL4|||signl4_alert`, `Set`, a sub-playbook name); `manual` for a
    /// task that waits for an analyst, empty for one that runs nothing (builtin conditions).
    pub target: String,
    /// State.
    pub state: TaskState,
    /// First start, RFC 3339.
    pub started: Option<String>,
    /// Completion, RFC 3339.
    pub completed: Option<String>,
    /// Time spent (on the engine clock), milliseconds.
    pub duration_ms: u64,
    /// Entries it wrote.
    pub entries: Vec<CompactString>,
    /// Why it failed (also set for continued errors), or why it was skipped.
    pub error: Option<String>,
    /// The branch a condition took.
    pub label: Option<String>,
    /// Resolved arguments (or sub-playbook inputs) of the last execution.
    pub inputs: Map<String, Value>,
    /// How many times it ran.
    pub executions: u32,
    /// The sub-playbook run of a playbook task (the last iteration).
    pub sub: Option<Box<Frame>>,
    /// Loop progress of a playbook task.
    pub loop_progress: Option<LoopProgress>,
}

/// Progress of a looping sub-playbook task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopProgress {
    /// Iterations started.
    pub iteration: u64,
    /// For-each: the inputs of every iteration.
    pub for_each_inputs: Option<Vec<Map<String, Value>>>,
    /// Inputs for a condition loop (the same every iteration).
    pub inputs: Map<String, Value>,
    /// A condition loop that ended because it reached `max` with its exit condition still
    /// false (the task completes, as in XSOAR; reports say so).
    #[serde(default)]
    pub stopped_at_max: bool,
}

/// One playbook run (the root run, or a sub-playbook run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Run id (`currentPlaybookID`).
    pub run_id: String,
    /// Playbook id.
    pub playbook_id: String,
    /// Playbook name.
    pub playbook_name: String,
    /// Task runs, in playbook order.
    pub tasks: IndexMap<String, TaskRun>,
    /// Edge states: target -> source -> state.
    pub edges: BTreeMap<String, BTreeMap<String, EdgeState>>,
    /// Tasks ready to run.
    pub ready: BTreeSet<ReadyKey>,
    /// The playbook's evaluated `inputs`.
    pub inputs: Value,
    /// The private context (sub-playbooks with `separatecontext: true`).
    pub private_context: Option<Value>,
    /// Frame state.
    pub state: RunState,
    /// Entries of the last completed task (`lastCompletedTaskEntries`).
    pub last_completed_entries: Vec<CompactString>,
}

/// Ready-queue key: numeric ids sort numerically, others after them by text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReadyKey(u64, String);

impl ReadyKey {
    fn of(id: &str) -> Self {
        ReadyKey(id.parse().unwrap_or(u64::MAX), id.to_owned())
    }
}

/// A playbook run on an investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookRun {
    /// The root frame.
    pub root: Frame,
    /// Run state.
    pub state: RunState,
    /// Start time.
    pub started: String,
    /// End time (completed or failed).
    pub finished: Option<String>,
    /// Task executions so far (all frames).
    pub executions: usize,
    /// Why the run stopped, when the engine stopped it.
    pub error: Option<String>,
    /// Sub-runs created so far (run ids are `<root>.<n>`).
    pub sub_runs: u64,
}

/// Errors in driving a run (not task failures: those are task states).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// No playbook by that id or name.
    #[error("playbook '{0}' is not loaded (give its id or name; `xsoar-emu validate` lists them)")]
    PlaybookNotFound(String),
    /// Completing a task that does not wait.
    #[error("task '{task}' is not waiting (state: {state})")]
    NotWaiting { task: String, state: String },
    /// Completing a task that does not exist.
    #[error("no task '{0}' in this run (give a task id, tag or name)")]
    NoSuchTask(String),
    /// A label that the task does not offer.
    #[error("task {task} does not offer '{label}' (it offers: {known})")]
    NoSuchLabel {
        task: String,
        label: String,
        known: String,
    },
    /// The run is over.
    #[error("the run is already {0}")]
    Finished(String),
}

/// The graph facts of a playbook the scheduler needs.
struct Graph {
    /// target -> forward parents (back edges excluded).
    parents: HashMap<String, BTreeSet<String>>,
    /// (source, target) pairs that close a cycle.
    back_edges: BTreeSet<(String, String)>,
}

impl Graph {
    /// Parents and back edges in O(tasks + edges): an iterative depth-first search from the
    /// start task (then from any task not reached); an edge to a task still on the DFS stack
    /// closes a cycle.
    fn of(pb: &Playbook) -> Self {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnStack,
            Done,
        }
        let mut marks: HashMap<&str, Mark> =
            pb.tasks.keys().map(|k| (k.as_str(), Mark::New)).collect();
        let mut back_edges = BTreeSet::new();
        let mut roots: Vec<&str> = vec![pb.start_task_id.as_str()];
        roots.extend(pb.tasks.keys().map(String::as_str));
        for root in roots {
            if marks.get(root) != Some(&Mark::New) {
                continue;
            }
            // Stack of (task, its successors, next successor index).
            let succ = |id: &str| -> Vec<&str> {
                pb.tasks
                    .get(id)
                    .map(|t| {
                        t.next_tasks
                            .values()
                            .flatten()
                            .map(String::as_str)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            marks.insert(root, Mark::OnStack);
            let mut stack: Vec<(&str, Vec<&str>, usize)> = vec![(root, succ(root), 0)];
            while let Some((node, next, i)) = stack.last_mut() {
                if let Some(to) = next.get(*i).copied() {
                    *i += 1;
                    match marks.get(to).copied() {
                        Some(Mark::New) => {
                            marks.insert(to, Mark::OnStack);
                            let s = succ(to);
                            stack.push((to, s, 0));
                        }
                        Some(Mark::OnStack) => {
                            back_edges.insert((node.to_string(), to.to_owned()));
                        }
                        _ => {}
                    }
                } else {
                    let done = *node;
                    marks.insert(done, Mark::Done);
                    stack.pop();
                }
            }
        }
        let mut parents: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (id, task) in &pb.tasks {
            for to in task.next_tasks.values().flatten() {
                if !back_edges.contains(&(id.clone(), to.clone())) {
                    parents.entry(to.clone()).or_default().insert(id.clone());
                }
            }
        }
        Self {
            parents,
            back_edges,
        }
    }
}

fn task_type_name(t: &TaskType) -> String {
    match t {
        TaskType::Other(s) => s.clone(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

fn target_text(t: &Task) -> String {
    match t.target() {
        TaskTarget::SubPlaybook(p) => p.to_owned(),
        TaskTarget::Command { brand, command } => format!("{}|||{command}", brand.unwrap_or("")),
        TaskTarget::Script(s) => s.to_owned(),
        TaskTarget::NoOp => String::new(),
        // A condition task with builtin conditions runs nothing and waits for no one.
        TaskTarget::Manual if !t.conditions.is_empty() => String::new(),
        TaskTarget::Manual => "manual".into(),
    }
}

impl Frame {
    fn new(run_id: String, pb: &Playbook, inputs: Value, private: bool) -> Self {
        let tasks = pb
            .tasks
            .iter()
            .map(|(id, t)| {
                (
                    id.clone(),
                    TaskRun {
                        id: id.clone(),
                        name: t.name.clone(),
                        task_type: task_type_name(&t.task_type),
                        target: target_text(t),
                        state: TaskState::Pending,
                        started: None,
                        completed: None,
                        duration_ms: 0,
                        entries: Vec::new(),
                        error: None,
                        label: None,
                        inputs: Map::new(),
                        executions: 0,
                        sub: None,
                        loop_progress: None,
                    },
                )
            })
            .collect();
        let mut ready = BTreeSet::new();
        if pb.tasks.contains_key(&pb.start_task_id) {
            ready.insert(ReadyKey::of(&pb.start_task_id));
        }
        Self {
            run_id,
            playbook_id: pb.id.clone(),
            playbook_name: pb.name.clone(),
            tasks,
            edges: BTreeMap::new(),
            ready,
            inputs,
            private_context: private.then(|| Value::Object(Map::new())),
            state: RunState::InProgress,
            last_completed_entries: Vec::new(),
        }
    }

    /// Every task run of this frame and its sub-frames, depth first.
    pub fn walk(&self) -> Vec<(&Frame, &TaskRun)> {
        let mut out = Vec::new();
        for t in self.tasks.values() {
            out.push((self, t));
            if let Some(sub) = &t.sub {
                out.extend(sub.walk());
            }
        }
        out
    }
}

/// Mutable state threaded through one scheduling pass.
struct Pass<'a> {
    opts: &'a RunOptions,
    executions: &'a mut usize,
    sub_runs: &'a mut u64,
    root_id: String,
    stop: Option<String>,
}

impl Engine {
    /// Start a playbook (by id or name) on `inv` and run it until it completes, fails or
    /// waits for a manual task.
    ///
    /// The completions of `opts` are checked first: one naming no task of the playbook or of
    /// its sub-playbooks is [`RunError::NoSuchTask`], a label the task does not offer is
    /// [`RunError::NoSuchLabel`].
    pub async fn run_playbook(
        &self,
        inv: &mut Investigation,
        playbook: &str,
        inputs: Option<Map<String, Value>>,
        opts: &RunOptions,
    ) -> Result<PlaybookRun, RunError> {
        let lib = self.library();
        let pb = lib
            .playbook(playbook)
            .ok_or_else(|| RunError::PlaybookNotFound(playbook.to_owned()))?;
        check_completions(&lib, pb, &opts.completions)?;
        let run_id = inv.id.clone();
        let span =
            tracing::info_span!("playbook_run", playbook = %pb.name, investigation = %inv.id);
        async {
            let given = inputs.unwrap_or_default();
            let mut exec = ExecScope::default();
            let evaluated = self.child_inputs(inv, &mut exec, pb, &given, &Map::new());
            let mut run = PlaybookRun {
                root: Frame::new(run_id, pb, Value::Object(evaluated), false),
                state: RunState::InProgress,
                started: rfc3339(self.clock().now()),
                finished: None,
                executions: 0,
                error: None,
                sub_runs: 0,
            };
            if let Value::Object(o) = &mut inv.incident {
                o.insert("playbookId".into(), Value::String(pb.id.clone()));
            }
            self.drive(inv, &mut run, opts).await;
            Ok(run)
        }
        .instrument(span)
        .await
    }

    /// Complete a waiting task (by id, tag or name; the label picks a condition's branch)
    /// and continue the run until it completes, fails or waits again.
    pub async fn complete_task(
        &self,
        inv: &mut Investigation,
        run: &mut PlaybookRun,
        completion: &TaskCompletion,
        opts: &RunOptions,
    ) -> Result<(), RunError> {
        if matches!(run.state, RunState::Completed | RunState::Failed) {
            return Err(RunError::Finished(run.state.as_str().into()));
        }
        let lib = self.library();
        let now = rfc3339(self.clock().now());
        let task = complete_in_frame(&lib, &mut run.root, completion, &now)?;
        self.apply_timer_triggers(inv, task);
        self.drive(inv, run, opts).await;
        Ok(())
    }

    /// Continue a run (after loading it, or after completions).
    pub async fn resume(&self, inv: &mut Investigation, run: &mut PlaybookRun, opts: &RunOptions) {
        self.drive(inv, run, opts).await;
    }

    async fn drive(&self, inv: &mut Investigation, run: &mut PlaybookRun, opts: &RunOptions) {
        let mut exec = ExecScope::default();
        let mut pass = Pass {
            opts,
            executions: &mut run.executions,
            sub_runs: &mut run.sub_runs,
            root_id: run.root.run_id.clone(),
            stop: None,
        };
        self.run_frame(inv, &mut run.root, &mut exec, &mut pass, 0)
            .await;
        if let Some(stop) = pass.stop {
            run.error = Some(stop);
        }
        run.state = run.root.state;
        if matches!(run.state, RunState::Completed | RunState::Failed) {
            run.finished = Some(rfc3339(self.clock().now()));
        }
    }

    /// Run a frame until nothing is ready. Recursion goes through sub-playbook tasks.
    fn run_frame<'a>(
        &'a self,
        inv: &'a mut Investigation,
        frame: &'a mut Frame,
        exec: &'a mut ExecScope,
        pass: &'a mut Pass<'_>,
        depth: usize,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let lib = self.library();
            let Some(pb) = lib
                .playbook(&frame.playbook_id)
                .or_else(|| lib.playbook(&frame.playbook_name))
            else {
                frame.state = RunState::Failed;
                pass.stop = Some(format!(
                    "playbook '{}' is no longer loaded",
                    frame.playbook_id
                ));
                return;
            };
            let graph = Graph::of(pb);
            let pushed_private = frame.private_context.take().map(|p| {
                exec.private.push(p);
            });
            frame.state = RunState::InProgress;
            // Resume sub-playbook tasks that wait inside their child run.
            let waiting_subs: Vec<String> = frame
                .tasks
                .values()
                .filter(|t| t.state == TaskState::Waiting && t.sub.is_some())
                .map(|t| t.id.clone())
                .collect();
            for id in waiting_subs {
                if let Some(task) = pb.tasks.get(&id) {
                    self.run_playbook_task(inv, frame, pb, &graph, task, exec, pass, depth)
                        .await;
                    self.after_completion(inv, frame, task);
                }
            }
            loop {
                if pass.stop.is_some() {
                    break;
                }
                let Some(key) = frame.ready.pop_first() else {
                    break;
                };
                let id = key.1;
                let Some(task) = pb.tasks.get(&id) else {
                    continue;
                };
                if *pass.executions >= pass.opts.max_task_executions {
                    pass.stop = Some(format!(
                        "run stopped after {} task executions at task {} ({}): the graph seems to loop forever; raise the limit (--max-task-executions) if this is intended",
                        pass.opts.max_task_executions, id, task.name
                    ));
                    set_state(
                        frame,
                        &id,
                        TaskState::Error,
                        Some(pass.stop.clone().unwrap_or_default()),
                    );
                    break;
                }
                *pass.executions += 1;
                report_progress(pass.opts, frame, task, TaskState::Running);
                self.run_task(inv, frame, pb, &graph, task, exec, pass, depth)
                    .await;
                self.after_completion(inv, frame, task);
                if let Some(state) = frame.tasks.get(&task.id).map(|t| t.state) {
                    report_progress(pass.opts, frame, task, state);
                }
            }
            finalize(frame, pass.stop.is_some());
            if pushed_private.is_some() {
                frame.private_context = exec.private.pop();
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_task(
        &self,
        inv: &mut Investigation,
        frame: &mut Frame,
        pb: &Playbook,
        graph: &Graph,
        task: &Task,
        exec: &mut ExecScope,
        pass: &mut Pass<'_>,
        depth: usize,
    ) {
        let span =
            tracing::info_span!("task", task = %task.id, name = %task.name, playbook = %pb.name);
        let _enter = span.enter();
        let now = rfc3339(self.clock().now());
        if let Some(t) = frame.tasks.get_mut(&task.id) {
            t.state = TaskState::Running;
            t.executions += 1;
            t.started.get_or_insert(now);
            t.error = None;
            t.label = None;
        }
        match task.task_type {
            TaskType::Start | TaskType::Title | TaskType::Section => {
                self.finish(
                    frame,
                    pb,
                    graph,
                    task,
                    TaskState::Completed,
                    &[NONE_LABEL],
                    Vec::new(),
                );
                return;
            }
            TaskType::Playbook => {
                self.run_playbook_task(inv, frame, pb, graph, task, exec, pass, depth)
                    .await;
                return;
            }
            _ => {}
        }
        // Builtin conditions.
        if task.task_type == TaskType::Condition && !task.conditions.is_empty() {
            let result = {
                let modules = self.dt_roots();
                let read = crate::engine::read_scope(inv, exec_with(exec, frame), &modules);
                let dt = read.dt();
                eval::choose_branch(&task.conditions, &dt)
            };
            match result {
                Ok(label) => {
                    let label = label.unwrap_or_else(|| DEFAULT_LABEL.to_owned());
                    let edges = branch_label(task, &label);
                    if let Some(t) = frame.tasks.get_mut(&task.id) {
                        t.label = Some(label);
                    }
                    self.finish(
                        frame,
                        pb,
                        graph,
                        task,
                        TaskState::Completed,
                        &[edges.as_str()],
                        Vec::new(),
                    );
                }
                Err(e) => self.fail(
                    frame,
                    pb,
                    graph,
                    task,
                    format!("condition: {e}"),
                    Vec::new(),
                ),
            }
            return;
        }
        let target = task.target();
        let (command, brand) = match target {
            TaskTarget::Command { brand, command } => {
                (command.to_owned(), brand.map(str::to_owned))
            }
            TaskTarget::Script(s) => (s.to_owned(), None),
            TaskTarget::Manual | TaskTarget::NoOp | TaskTarget::SubPlaybook(_) => {
                self.wait_or_complete(frame, pb, graph, task, pass);
                return;
            }
        };
        // Evaluate arguments against the task's view of the context.
        let exec_view = exec_with(exec, frame);
        let (named, mut shown) = match self.eval_script_args(inv, exec_view, &task.script_arguments)
        {
            Ok(evaluated) => evaluated,
            Err(e) => {
                self.fail(frame, pb, graph, task, e, Vec::new());
                return;
            }
        };
        // What the task's entries, its run (reports, the REST API, the console) and the test
        // runner show of its arguments: secret arguments masked, as the war-room echo is.
        self.mask_secret_arguments(&command, &mut shown);
        let parent_content = render_command(&command, &shown);
        let quiet = is_quiet(pb, task);
        if let Some(t) = frame.tasks.get_mut(&task.id) {
            // Quiet mode does not store a task's inputs (§2.9).
            t.inputs = if quiet { Map::new() } else { shown };
        }
        let invocation = Invocation {
            command: command.clone(),
            named,
            positional: Vec::new(),
            brand,
            parent_content,
            parent_id: CompactString::const_new(""),
            from_war_room: false,
        };
        let started = self.clock().now();
        let outcome = {
            let exec = exec_with(exec, frame);
            exec.task = Some(TaskTag {
                task_id: task.id.clone(),
                task_name: task.name.clone(),
                playbook_id: pb.id.clone(),
                playbook_name: pb.name.clone(),
                skip_unavailable: task.skip_unavailable,
                note: task.note,
                quiet,
            });
            let out = self.invoke(inv, exec, invocation).await;
            exec.task = None;
            out
        };
        let elapsed = self
            .clock()
            .now()
            .duration_since(started)
            .unwrap_or_default();
        if let Some(t) = frame.tasks.get_mut(&task.id) {
            t.duration_ms += elapsed.as_millis() as u64;
        }
        for (task_ref, label) in &outcome.completions {
            let c = TaskCompletion {
                task: task_ref.clone(),
                label: label.clone(),
            };
            let lib = self.library();
            let now = rfc3339(self.clock().now());
            // A taskComplete for a task of this run; unknown references are reported.
            match complete_in_frame(&lib, frame, &c, &now) {
                Ok(completed) => self.apply_timer_triggers(inv, completed),
                Err(e) => tracing::warn!(error = %e, "taskComplete did not apply"),
            }
        }
        let entries = outcome.entries.clone();
        match outcome.status {
            InvokeStatus::Ok => {
                if task.task_type == TaskType::Condition {
                    let label = outcome
                        .last_text
                        .as_deref()
                        .map(str::trim)
                        .filter(|l| task.next_for(l).is_some())
                        .map(str::to_owned)
                        .unwrap_or_else(|| DEFAULT_LABEL.to_owned());
                    if let Some(t) = frame.tasks.get_mut(&task.id) {
                        t.label = Some(label.clone());
                    }
                    self.finish(
                        frame,
                        pb,
                        graph,
                        task,
                        TaskState::Completed,
                        &[label.as_str()],
                        entries,
                    );
                } else {
                    self.finish(
                        frame,
                        pb,
                        graph,
                        task,
                        TaskState::Completed,
                        &[NONE_LABEL],
                        entries,
                    );
                }
            }
            InvokeStatus::Unavailable if task.skip_unavailable => {
                let label = if task.task_type == TaskType::Condition {
                    DEFAULT_LABEL
                } else {
                    NONE_LABEL
                };
                if let Some(t) = frame.tasks.get_mut(&task.id) {
                    t.error = outcome.error.clone();
                }
                self.finish(
                    frame,
                    pb,
                    graph,
                    task,
                    TaskState::Skipped,
                    &[label],
                    entries,
                );
            }
            InvokeStatus::Unavailable | InvokeStatus::Error => {
                let msg = outcome
                    .error
                    .unwrap_or_else(|| "the command returned an error entry".into());
                self.fail(frame, pb, graph, task, msg, entries);
            }
        }
        self.apply_field_mapping(inv, exec, frame, task);
    }

    fn apply_field_mapping(
        &self,
        inv: &mut Investigation,
        exec: &mut ExecScope,
        frame: &mut Frame,
        task: &Task,
    ) {
        if task.field_mapping.is_empty() {
            return;
        }
        let mut fields = Map::new();
        {
            let modules = self.dt_roots();
            let read = crate::engine::read_scope(inv, exec_with(exec, frame), &modules);
            let dt = read.dt();
            for m in &task.field_mapping {
                if let Ok(Some(v)) = eval::eval_arg(&m.output, &dt) {
                    fields.insert(m.incident_field.clone(), v);
                }
            }
        }
        update_incident(&mut inv.incident, &fields);
    }

    /// After a task ran: a task that completed (continued errors included; skipped and failed
    /// tasks excluded) applies its timer triggers. Its field mapping was applied already.
    fn after_completion(&self, inv: &mut Investigation, frame: &Frame, task: &Task) {
        if frame
            .tasks
            .get(&task.id)
            .is_some_and(|t| t.state == TaskState::Completed)
        {
            self.apply_timer_triggers(inv, task);
        }
    }

    /// `timertriggers` (§8.4), in the order written, at the engine clock's now. A field that
    /// held something other than a timer object is replaced by a new timer, with a warning.
    fn apply_timer_triggers(&self, inv: &mut Investigation, task: &Task) {
        if task.timer_triggers.is_empty() {
            return;
        }
        let now = self.clock().now();
        for trigger in &task.timer_triggers {
            let change = timer::apply_timer_action(
                &mut inv.incident,
                &trigger.field_name,
                trigger.action,
                now,
            );
            if let Some(old) = &change.replaced {
                tracing::warn!(
                    task = %task.id,
                    field = %trigger.field_name,
                    value = %old,
                    "incident field is not a timer; it was replaced by a new timer"
                );
            }
            tracing::debug!(
                task = %task.id,
                field = %trigger.field_name,
                action = %trigger.action,
                from = change.from.as_str(),
                to = change.to.as_str(),
                "timer trigger"
            );
        }
    }

    /// A manual task: wait, or complete from the run options.
    fn wait_or_complete(
        &self,
        frame: &mut Frame,
        pb: &Playbook,
        graph: &Graph,
        task: &Task,
        pass: &mut Pass<'_>,
    ) {
        // The first completion naming this task with a label it offers.
        let given = pass
            .opts
            .completions
            .iter()
            .filter(|c| matches_task(task, &c.task))
            .find_map(|c| manual_branch(task, c.label.as_deref()).ok());
        let branch = match given {
            Some(b) => Some(b),
            None if pass.opts.auto_complete => manual_branch(task, None).ok(),
            None => None,
        };
        match branch {
            None => {
                if let Some(t) = frame.tasks.get_mut(&task.id) {
                    t.state = TaskState::Waiting;
                }
            }
            Some((label, edges)) => {
                if let Some(t) = frame.tasks.get_mut(&task.id) {
                    t.label = label;
                }
                self.finish(
                    frame,
                    pb,
                    graph,
                    task,
                    TaskState::Completed,
                    &[edges.as_str()],
                    Vec::new(),
                );
            }
        }
    }

    /// Resolve a task: set its state and resolve its outgoing edges.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        frame: &mut Frame,
        pb: &Playbook,
        graph: &Graph,
        task: &Task,
        state: TaskState,
        labels: &[&str],
        entries: Vec<CompactString>,
    ) {
        let clock_now = self.clock().now();
        let now = rfc3339(clock_now);
        if let Some(t) = frame.tasks.get_mut(&task.id) {
            // A sub-playbook task's time is its run from start to end, loop waits and the
            // child's own tasks included (command tasks add up their executions instead).
            if t.sub.is_some() && t.duration_ms == 0 {
                if let Some(start) = t.started.as_deref().and_then(crate::eval::dates::parse_str) {
                    let end = time::OffsetDateTime::from(clock_now);
                    t.duration_ms = u64::try_from((end - start).whole_milliseconds()).unwrap_or(0);
                }
            }
            t.state = state;
            t.completed = Some(now);
            t.entries.extend(entries.iter().cloned());
        }
        if !entries.is_empty() {
            frame.last_completed_entries = entries;
        }
        resolve_edges(frame, pb, graph, task, labels);
    }

    /// A task failed: continue per its settings or leave it in Error.
    fn fail(
        &self,
        frame: &mut Frame,
        pb: &Playbook,
        graph: &Graph,
        task: &Task,
        message: String,
        entries: Vec<CompactString>,
    ) {
        tracing::info!(task = %task.id, error = %message, "task failed");
        if let Some(t) = frame.tasks.get_mut(&task.id) {
            t.error = Some(message);
        }
        if task.continue_on_error {
            let label = if task.error_path {
                ERROR_LABEL
            } else if task.task_type == TaskType::Condition && task.next_for(NONE_LABEL).is_none() {
                DEFAULT_LABEL
            } else {
                NONE_LABEL
            };
            self.finish(
                frame,
                pb,
                graph,
                task,
                TaskState::Completed,
                &[label],
                entries,
            );
        } else {
            let now = rfc3339(self.clock().now());
            if let Some(t) = frame.tasks.get_mut(&task.id) {
                t.state = TaskState::Error;
                t.completed = Some(now);
                t.entries.extend(entries.iter().cloned());
            }
            if !entries.is_empty() {
                frame.last_completed_entries = entries;
            }
        }
    }

    /// Inputs of a (sub-)playbook run: given values, else the playbook's defaults evaluated
    /// in its own view (§8.10 step 2).
    ///
    /// `supplied` holds every input the task passes (all iterations of a for-each together):
    /// one of those missing from `given` is *absent* in this iteration, as a list shorter than
    /// the iteration index is (§8.9: x=[1,2], z=9 runs (1,9) then (2,) — not (2, z's default)).
    fn child_inputs(
        &self,
        inv: &Investigation,
        exec: &mut ExecScope,
        child: &Playbook,
        given: &Map<String, Value>,
        supplied: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let saved = exec.inputs.take();
        exec.inputs = Some(Value::Object(Map::new()));
        {
            let modules = self.dt_roots();
            let read = crate::engine::read_scope(inv, exec, &modules);
            let dt = read.dt();
            for input in &child.inputs {
                if let Some(v) = given.get(&input.key) {
                    out.insert(input.key.clone(), v.clone());
                    continue;
                }
                if supplied.contains_key(&input.key) {
                    continue;
                }
                if let Some(default) = &input.value {
                    if let Ok(Some(v)) = eval::eval_arg(default, &dt) {
                        out.insert(input.key.clone(), v);
                    }
                }
            }
        }
        for (k, v) in given {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        exec.inputs = saved;
        out
    }

    /// A sub-playbook task: start or resume its child run, with loops (§8.9–§8.10).
    #[allow(clippy::too_many_arguments)]
    async fn run_playbook_task(
        &self,
        inv: &mut Investigation,
        frame: &mut Frame,
        pb: &Playbook,
        graph: &Graph,
        task: &Task,
        exec: &mut ExecScope,
        pass: &mut Pass<'_>,
        depth: usize,
    ) {
        let lib = self.library();
        let TaskTarget::SubPlaybook(name) = task.target() else {
            self.wait_or_complete(frame, pb, graph, task, pass);
            return;
        };
        // By `playbookId`, else by `playbookName` (§8.10 step 1).
        let Some(child_pb) = lib.sub_playbook(task) else {
            let refs: Vec<&str> = task.sub_playbook_refs().collect();
            let name = match refs.as_slice() {
                [id, by_name] if id != by_name => format!("{id}' (playbookName '{by_name}"),
                _ => name.to_owned(),
            };
            if task.skip_unavailable {
                if let Some(t) = frame.tasks.get_mut(&task.id) {
                    t.error = Some(format!("sub-playbook '{name}' is not loaded"));
                }
                self.finish(
                    frame,
                    pb,
                    graph,
                    task,
                    TaskState::Skipped,
                    &[NONE_LABEL],
                    Vec::new(),
                );
            } else {
                self.fail(
                    frame,
                    pb,
                    graph,
                    task,
                    format!("sub-playbook '{name}' is not loaded"),
                    Vec::new(),
                );
            }
            return;
        };
        if depth >= pass.opts.max_depth {
            self.fail(
                frame,
                pb,
                graph,
                task,
                format!(
                    "sub-playbooks nested more than {} deep (does '{name}' call itself?)",
                    pass.opts.max_depth
                ),
                Vec::new(),
            );
            return;
        }
        let loop_settings = task.loop_settings.as_ref().filter(|l| l.loops());
        let max_iterations = loop_settings
            .map(|l| if l.max == 0 { 100 } else { l.max })
            .unwrap_or(1)
            .min(pass.opts.max_loop_iterations.max(1));
        // Start: evaluate the inputs the task passes (in the parent's view).
        let resuming = frame
            .tasks
            .get(&task.id)
            .is_some_and(|t| t.state == TaskState::Waiting && t.sub.is_some());
        if !resuming {
            let mut given = Map::new();
            {
                let modules = self.dt_roots();
                let read = crate::engine::read_scope(inv, exec_with(exec, frame), &modules);
                let dt = read.dt();
                for (k, arg) in &task.script_arguments {
                    match eval::eval_arg(arg, &dt) {
                        Ok(Some(v)) => {
                            given.insert(k.clone(), v);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            drop(dt);
                            drop(read);
                            self.fail(
                                frame,
                                pb,
                                graph,
                                task,
                                format!("input '{k}': {e}"),
                                Vec::new(),
                            );
                            return;
                        }
                    }
                }
            }
            let for_each = loop_settings
                .filter(|l| l.for_each)
                .map(|_| for_each_plan(&given, max_iterations));
            let quiet = is_quiet(pb, task);
            if let Some(t) = frame.tasks.get_mut(&task.id) {
                // Quiet mode does not store a task's inputs (§2.9).
                t.inputs = if quiet { Map::new() } else { given.clone() };
                t.loop_progress = Some(LoopProgress {
                    iteration: 0,
                    for_each_inputs: for_each,
                    inputs: given,
                    stopped_at_max: false,
                });
                t.sub = None;
            }
        }
        loop {
            // Start the next iteration unless one is waiting.
            let needs_start = frame
                .tasks
                .get(&task.id)
                .is_some_and(|t| t.sub.as_ref().is_none_or(|s| s.state != RunState::Waiting));
            if needs_start {
                // Only this iteration's inputs are copied (the plan may hold thousands).
                let Some(progress) = frame
                    .tasks
                    .get(&task.id)
                    .and_then(|t| t.loop_progress.as_ref())
                else {
                    return;
                };
                let iteration = progress.iteration;
                let iteration_inputs = match &progress.for_each_inputs {
                    Some(plan) => match plan.get(iteration as usize) {
                        Some(i) => i.clone(),
                        None => break,
                    },
                    None => progress.inputs.clone(),
                };
                if iteration > 0 {
                    if let Some(wait) = loop_settings.map(|l| l.wait).filter(|w| *w > 0.0) {
                        self.clock()
                            .sleep(Duration::from_secs_f64(wait.min(86_400.0)))
                            .await;
                    }
                }
                *pass.sub_runs += 1;
                let run_id = format!("{}.{}", pass.root_id, pass.sub_runs);
                let inputs = {
                    let none = Map::new();
                    let supplied = frame
                        .tasks
                        .get(&task.id)
                        .and_then(|t| t.loop_progress.as_ref())
                        .map_or(&none, |p| &p.inputs);
                    let exec = exec_with(exec, frame);
                    self.child_inputs(inv, exec, child_pb, &iteration_inputs, supplied)
                };
                let mut child = Frame::new(
                    run_id,
                    child_pb,
                    Value::Object(inputs),
                    task.separate_context,
                );
                // A condition loop re-runs one sub-playbook until its context satisfies the
                // exit condition, so a private context carries over from one iteration to the
                // next (a counter can reach its limit); for-each iterations start afresh.
                if loop_settings.is_some_and(|l| !l.for_each) {
                    if let Some(previous) = frame
                        .tasks
                        .get(&task.id)
                        .and_then(|t| t.sub.as_ref())
                        .and_then(|s| s.private_context.clone())
                    {
                        child.private_context = Some(previous);
                    }
                }
                if let Some(t) = frame.tasks.get_mut(&task.id) {
                    t.sub = Some(Box::new(child));
                    if let Some(p) = t.loop_progress.as_mut() {
                        p.iteration += 1;
                    }
                }
            }
            // Run (or resume) the child.
            let Some(mut child) = frame.tasks.get_mut(&task.id).and_then(|t| t.sub.take()) else {
                return;
            };
            {
                let exec = exec_with(exec, frame);
                let saved_inputs = exec.inputs.take();
                let saved_playbook = exec.current_playbook_id.take();
                let saved_last = std::mem::take(&mut exec.last_completed_task_entries);
                self.run_frame(inv, &mut child, exec, pass, depth + 1).await;
                exec.inputs = saved_inputs;
                exec.current_playbook_id = saved_playbook;
                exec.last_completed_task_entries = saved_last;
            }
            let child_state = child.state;
            match child_state {
                RunState::Waiting | RunState::InProgress => {
                    if let Some(t) = frame.tasks.get_mut(&task.id) {
                        t.sub = Some(child);
                        t.state = TaskState::Waiting;
                    }
                    return;
                }
                RunState::Failed => {
                    let failing = innermost_failure(&child);
                    let entries: Vec<CompactString> = child
                        .walk()
                        .iter()
                        .flat_map(|(_, t)| t.entries.clone())
                        .collect();
                    if let Some(t) = frame.tasks.get_mut(&task.id) {
                        t.sub = Some(child);
                    }
                    self.fail(
                        frame,
                        pb,
                        graph,
                        task,
                        format!("sub-playbook '{}' failed: {failing}", child_pb.name),
                        entries,
                    );
                    return;
                }
                RunState::Completed => {}
            }
            // Outputs of a private child go to the parent context (append semantics): after
            // every for-each iteration (they accumulate), or once when a condition loop ends.
            let per_iteration = loop_settings.is_none_or(|l| l.for_each);
            if per_iteration {
                self.copy_outputs(inv, exec, frame, task, child_pb, &child);
            }
            let iteration = frame
                .tasks
                .get(&task.id)
                .and_then(|t| t.loop_progress.as_ref())
                .map(|p| p.iteration)
                .unwrap_or(1);
            if let Some(t) = frame.tasks.get_mut(&task.id) {
                t.sub = Some(child);
            }
            let Some(l) = loop_settings else { break };
            if l.for_each {
                let total = frame
                    .tasks
                    .get(&task.id)
                    .and_then(|t| t.loop_progress.as_ref())
                    .and_then(|p| p.for_each_inputs.as_ref())
                    .map(|p| p.len() as u64)
                    .unwrap_or(0);
                if iteration >= total {
                    break;
                }
                continue;
            }
            // Condition loop: exit when the condition holds in the child's context, or when
            // the exit script (`scriptId`, or the legacy `exitCondition`) says so.
            let exit_script = l.script_id.as_deref().or(l.exit_condition.as_deref());
            let exit = if l.builtin_condition.is_empty() {
                match exit_script {
                    None => false,
                    Some(script) => {
                        let (result, entries) = self
                            .run_loop_exit_script(inv, exec, frame, pb, task, script)
                            .await;
                        match result {
                            Ok(b) => {
                                if let Some(t) = frame.tasks.get_mut(&task.id) {
                                    t.entries.extend(entries);
                                }
                                b
                            }
                            Err(e) => {
                                self.fail(
                                    frame,
                                    pb,
                                    graph,
                                    task,
                                    format!("loop exit script '{script}': {e}"),
                                    entries,
                                );
                                return;
                            }
                        }
                    }
                }
            } else {
                let child_ctx = frame
                    .tasks
                    .get(&task.id)
                    .and_then(|t| t.sub.as_ref())
                    .and_then(|s| s.private_context.clone());
                let exec = exec_with(exec, frame);
                if let Some(c) = child_ctx {
                    exec.private.push(c);
                }
                let result = {
                    let modules = self.dt_roots();
                    let read = crate::engine::read_scope(inv, exec, &modules);
                    let dt = read.dt();
                    eval::eval_condition(&l.builtin_condition, &dt)
                };
                if task.separate_context {
                    exec.private.pop();
                }
                match result {
                    Ok(b) => b,
                    Err(e) => {
                        self.fail(
                            frame,
                            pb,
                            graph,
                            task,
                            format!("loop exit condition: {e}"),
                            Vec::new(),
                        );
                        return;
                    }
                }
            };
            if exit || iteration >= max_iterations {
                if !exit && (!l.builtin_condition.is_empty() || exit_script.is_some()) {
                    if let Some(p) = frame
                        .tasks
                        .get_mut(&task.id)
                        .and_then(|t| t.loop_progress.as_mut())
                    {
                        p.stopped_at_max = true;
                    }
                }
                if let Some(child) = frame.tasks.get(&task.id).and_then(|t| t.sub.clone()) {
                    self.copy_outputs(inv, exec, frame, task, child_pb, &child);
                }
                break;
            }
            *pass.executions += 1;
            if *pass.executions >= pass.opts.max_task_executions {
                pass.stop = Some(format!(
                    "run stopped after {} task executions while looping task {} ({})",
                    pass.opts.max_task_executions, task.id, task.name
                ));
                self.fail(
                    frame,
                    pb,
                    graph,
                    task,
                    pass.stop.clone().unwrap_or_default(),
                    Vec::new(),
                );
                return;
            }
        }
        self.finish(
            frame,
            pb,
            graph,
            task,
            TaskState::Completed,
            &[NONE_LABEL],
            Vec::new(),
        );
    }
}

impl Engine {
    /// A task's script arguments evaluated against `exec`'s view of the context: the
    /// arguments to pass and what the task shows of them (secret arguments not yet masked),
    /// or the first argument that does not evaluate.
    fn eval_script_args(
        &self,
        inv: &Investigation,
        exec: &ExecScope,
        arguments: &IndexMap<String, ArgValue>,
    ) -> Result<EvaluatedArgs, String> {
        let roots = self.dt_roots();
        let read = crate::engine::read_scope(inv, exec, &roots);
        let dt = read.dt();
        let mut named = Vec::new();
        let mut shown = Map::new();
        for (name, arg) in arguments {
            match eval::eval_arg(arg, &dt) {
                Ok(Some(v)) => {
                    shown.insert(name.clone(), v.clone());
                    named.push((name.clone(), ArgInput::Value(v)));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("argument '{name}': {e}")),
            }
        }
        Ok((named, shown))
    }

    /// Run the exit script of a condition loop (§8.9: `scriptId` with `scriptArguments`, or a
    /// legacy `exitCondition` script) after an iteration, against the sub-playbook's context,
    /// as a script condition runs (§8.6): its result is the text of its last entry, and the
    /// loop exits when that is `yes` or `true` (any case: `Exists`, `isError` and
    /// `AreValuesEqual` answer `yes`/`no`). An error entry, an unavailable script or an
    /// argument that does not evaluate is the error returned. The entries it wrote go with it.
    async fn run_loop_exit_script(
        &self,
        inv: &mut Investigation,
        exec: &mut ExecScope,
        frame: &mut Frame,
        pb: &Playbook,
        task: &Task,
        script: &str,
    ) -> (Result<bool, String>, Vec<CompactString>) {
        let arguments = task
            .loop_settings
            .as_ref()
            .map(|l| &l.script_arguments)
            .filter(|a| !a.is_empty());
        let child_ctx = frame
            .tasks
            .get(&task.id)
            .and_then(|t| t.sub.as_ref())
            .and_then(|s| s.private_context.clone());
        let pushed = child_ctx.is_some();
        let exec = exec_with(exec, frame);
        if let Some(c) = child_ctx {
            exec.private.push(c);
        }
        let empty = IndexMap::new();
        let outcome = match self.eval_script_args(inv, exec, arguments.unwrap_or(&empty)) {
            Err(e) => Err(e),
            Ok((named, mut shown)) => {
                self.mask_secret_arguments(script, &mut shown);
                let invocation = Invocation {
                    command: script.to_owned(),
                    named,
                    positional: Vec::new(),
                    brand: None,
                    parent_content: render_command(script, &shown),
                    parent_id: CompactString::const_new(""),
                    from_war_room: false,
                };
                exec.task = Some(TaskTag {
                    task_id: task.id.clone(),
                    task_name: task.name.clone(),
                    playbook_id: pb.id.clone(),
                    playbook_name: pb.name.clone(),
                    skip_unavailable: false,
                    note: task.note,
                    quiet: is_quiet(pb, task),
                });
                let out = self.invoke(inv, exec, invocation).await;
                exec.task = None;
                Ok(out)
            }
        };
        // What the script wrote to the child's private context stays there for the next
        // iteration.
        if pushed {
            let written = exec.private.pop();
            if let Some(sub) = frame.tasks.get_mut(&task.id).and_then(|t| t.sub.as_mut()) {
                sub.private_context = written;
            }
        }
        match outcome {
            Err(e) => (Err(e), Vec::new()),
            Ok(out) => {
                let result = match out.status {
                    InvokeStatus::Ok => Ok(out.last_text.as_deref().is_some_and(|t| {
                        let t = t.trim();
                        t.eq_ignore_ascii_case("yes") || t.eq_ignore_ascii_case("true")
                    })),
                    InvokeStatus::Error | InvokeStatus::Unavailable => Err(out
                        .error
                        .unwrap_or_else(|| "the script returned an error entry".into())),
                };
                (result, out.entries)
            }
        }
    }

    /// Copy a private child's declared outputs into the parent's context.
    fn copy_outputs(
        &self,
        inv: &mut Investigation,
        exec: &mut ExecScope,
        frame: &Frame,
        task: &Task,
        child_pb: &Playbook,
        child: &Frame,
    ) {
        if !task.separate_context {
            return;
        }
        let mut declared: Vec<&str> = child_pb
            .outputs
            .iter()
            .map(|o| o.context_path.as_str())
            .collect();
        declared.sort();
        let private = child.private_context.clone().unwrap_or(Value::Null);
        let exec = exec_with(exec, frame);
        let ctx = match exec.private.last_mut() {
            Some(p) => p,
            None => &mut inv.context,
        };
        for path in &declared {
            let covered = declared
                .iter()
                .any(|other| other != path && path.starts_with(&format!("{other}.")));
            if covered {
                continue;
            }
            if let Ok(Some(v)) = xsoar_context::eval_path_on(path, &private) {
                if let Err(e) = xsoar_context::merge_entry_context(ctx, path, v) {
                    tracing::warn!(path, error = %e, "could not copy a sub-playbook output");
                }
            }
        }
    }
}

/// Where a failed sub-playbook run failed, told once: the innermost task in error (down
/// through failed sub-playbook tasks) and how many sub-playbook levels below `child` it is.
/// (Repeating each level's message would grow with the square of the nesting depth.)
fn innermost_failure(child: &Frame) -> String {
    let mut frame = child;
    let mut levels = 0usize;
    loop {
        let Some(task) = frame.tasks.values().find(|t| t.state == TaskState::Error) else {
            return String::from("a task failed");
        };
        match task.sub.as_deref() {
            Some(sub)
                if sub.state == RunState::Failed
                    && sub.tasks.values().any(|t| t.state == TaskState::Error) =>
            {
                frame = sub;
                levels += 1;
            }
            _ => {
                let depth = match levels {
                    0 => String::new(),
                    1 => " (1 sub-playbook level down)".to_owned(),
                    n => format!(" ({n} sub-playbook levels down)"),
                };
                return format!(
                    "task {} ({}) of '{}'{depth}: {}",
                    task.id,
                    task.name,
                    frame.playbook_name,
                    task.error.as_deref().unwrap_or("error")
                );
            }
        }
    }
}

fn report_progress(opts: &RunOptions, frame: &Frame, task: &Task, state: TaskState) {
    if let Some(p) = &opts.progress {
        p(&TaskProgress {
            run_id: frame.run_id.clone(),
            playbook: frame.playbook_name.clone(),
            task_id: task.id.clone(),
            task_name: task.name.clone(),
            state,
        });
    }
}

/// Whether `task` runs in quiet mode (§2.9): `quietmode` 1 is on, 2 is off, 0 (XSOAR's
/// default; any other value too) follows the playbook's `quiet`.
fn is_quiet(pb: &Playbook, task: &Task) -> bool {
    match task.quiet_mode {
        1 => true,
        2 => false,
        _ => pb.quiet,
    }
}

/// The exec scope as seen from `frame`: its inputs and run id.
/// A task's evaluated arguments: what is passed, and what the task shows of them.
type EvaluatedArgs = (Vec<(String, ArgInput)>, Map<String, Value>);

fn exec_with<'e>(exec: &'e mut ExecScope, frame: &Frame) -> &'e mut ExecScope {
    exec.inputs = Some(frame.inputs.clone());
    exec.current_playbook_id = Some(frame.run_id.clone());
    exec.last_completed_task_entries = frame.last_completed_entries.clone();
    exec
}

/// For-each: one input map per iteration; lists are walked index-wise, scalars appear only
/// in the first iteration, shorter lists are absent in later iterations (§8.9).
fn for_each_plan(given: &Map<String, Value>, max: u64) -> Vec<Map<String, Value>> {
    let n = given
        .values()
        .map(|v| match v {
            Value::Array(a) => a.len(),
            _ => 1,
        })
        .max()
        .unwrap_or(1)
        .min(max as usize);
    (0..n)
        .map(|i| {
            given
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Array(a) => a.get(i).map(|x| (k.clone(), x.clone())),
                    other if i == 0 => Some((k.clone(), other.clone())),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

fn set_state(frame: &mut Frame, id: &str, state: TaskState, error: Option<String>) {
    if let Some(t) = frame.tasks.get_mut(id) {
        t.state = state;
        if error.is_some() {
            t.error = error;
        }
    }
}

/// Resolve the outgoing edges of `task` given the labels it chose.
fn resolve_edges(frame: &mut Frame, pb: &Playbook, graph: &Graph, task: &Task, labels: &[&str]) {
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let mut all: BTreeSet<String> = BTreeSet::new();
    for (label, targets) in &task.next_tasks {
        let activated = labels.iter().any(|l| l.eq_ignore_ascii_case(label));
        for t in targets {
            all.insert(t.clone());
            if activated {
                chosen.insert(t.clone());
            }
        }
    }
    for to in all {
        let state = if chosen.contains(&to) {
            EdgeState::Activated
        } else {
            EdgeState::Dead
        };
        if graph.back_edges.contains(&(task.id.clone(), to.clone())) {
            if state == EdgeState::Activated {
                retrigger(frame, pb, graph, &to);
            }
            continue;
        }
        frame
            .edges
            .entry(to.clone())
            .or_default()
            .insert(task.id.clone(), state);
        check_ready(frame, pb, graph, &to);
    }
}

/// A back edge fired: the target and the loop body run again.
fn retrigger(frame: &mut Frame, pb: &Playbook, graph: &Graph, target: &str) {
    // Reset the edge states inside the cycle so joins in the body wait again.
    let body: BTreeSet<String> = graph
        .back_edges
        .iter()
        .filter(|(_, to)| to == target)
        .map(|(from, _)| from.clone())
        .chain(std::iter::once(target.to_owned()))
        .collect();
    let mut stack: Vec<String> = vec![target.to_owned()];
    let mut in_loop: BTreeSet<String> = BTreeSet::new();
    while let Some(n) = stack.pop() {
        if !in_loop.insert(n.clone()) {
            continue;
        }
        if let Some(t) = pb.tasks.get(&n) {
            for next in t.next_tasks.values().flatten() {
                if !graph.back_edges.contains(&(n.clone(), next.clone())) {
                    stack.push(next.clone());
                }
            }
        }
    }
    let _ = body;
    for n in &in_loop {
        if n != target {
            if let Some(e) = frame.edges.get_mut(n) {
                e.retain(|from, _| !in_loop.contains(from));
            }
            if let Some(t) = frame.tasks.get_mut(n) {
                if t.state.is_resolved() {
                    t.state = TaskState::Pending;
                }
            }
        }
    }
    frame.ready.insert(ReadyKey::of(target));
}

/// Apply the join rule to `to`.
///
/// A task pruned earlier (not executed) counts as resolved only until one of its incoming
/// edges is activated: that happens when a parent runs again on a later pass of a loop (the
/// exit branch of a loop is pruned on every pass but the last), and then the task runs.
fn check_ready(frame: &mut Frame, pb: &Playbook, graph: &Graph, to: &str) {
    let Some(state) = frame.tasks.get(to).map(|t| t.state) else {
        return;
    };
    if !matches!(state, TaskState::Pending | TaskState::NotExecuted) {
        return;
    }
    let empty = BTreeMap::new();
    let edges = frame.edges.get(to).unwrap_or(&empty);
    if let Some(parents) = graph.parents.get(to) {
        if !parents.iter().all(|p| edges.contains_key(p)) {
            return;
        }
    }
    if edges.values().any(|s| *s == EdgeState::Activated) {
        if let Some(t) = frame.tasks.get_mut(to) {
            t.state = TaskState::Pending;
        }
        frame.ready.insert(ReadyKey::of(to));
    } else if state == TaskState::Pending {
        if let Some(t) = frame.tasks.get_mut(to) {
            t.state = TaskState::NotExecuted;
        }
        if let Some(task) = pb.tasks.get(to) {
            resolve_edges(frame, pb, graph, task, &[]);
        }
    }
}

/// Frame state once nothing is ready.
fn finalize(frame: &mut Frame, stopped: bool) {
    let any_waiting = frame.tasks.values().any(|t| t.state == TaskState::Waiting);
    let any_error = frame.tasks.values().any(|t| t.state == TaskState::Error);
    frame.state = if stopped || (any_error && !any_waiting) {
        RunState::Failed
    } else if any_waiting {
        RunState::Waiting
    } else {
        RunState::Completed
    };
    if matches!(frame.state, RunState::Completed | RunState::Failed) {
        for t in frame.tasks.values_mut() {
            if t.state == TaskState::Pending {
                t.state = if any_error {
                    TaskState::Blocked
                } else {
                    TaskState::NotExecuted
                };
            }
        }
    }
}

fn matches_task(task: &Task, reference: &str) -> bool {
    task.id == reference
        || task.task_id == reference
        || task.tags.iter().any(|t| t.eq_ignore_ascii_case(reference))
        || task.name.eq_ignore_ascii_case(reference)
}

/// The labels a manual completion may choose: an Ask task's `replyOptions`, else a
/// condition's branch labels; `None` for a task without branches (a regular manual task).
fn offered_labels(task: &Task) -> Option<Vec<String>> {
    if !task.reply_options.is_empty() {
        let mut offered = task.reply_options.clone();
        if task.next_for(DEFAULT_LABEL).is_some() {
            offered.push(DEFAULT_LABEL.to_owned());
        }
        return Some(offered);
    }
    (task.task_type == TaskType::Condition).then(|| {
        task.next_tasks
            .keys()
            .filter(|l| *l != NONE_LABEL && *l != ERROR_LABEL)
            .cloned()
            .collect()
    })
}

/// The edges a chosen label follows (§8.4): `nexttasks[label]` (case-insensitive), else
/// `nexttasks['#default#']`; with neither the task completes with no successors.
fn branch_label(task: &Task, label: &str) -> String {
    if task.next_for(label).is_none() && task.next_for(DEFAULT_LABEL).is_some() {
        DEFAULT_LABEL.to_owned()
    } else {
        label.to_owned()
    }
}

/// A manual completion checked against what the task offers: the label to record for
/// the task (conditions and Ask tasks) and the label whose edges to follow.
///
/// Without a label, a condition takes its first reply option or branch. A label the task
/// does not offer is an error, unless the task is a condition with a `#default#` branch; a
/// regular manual task has no branches and ignores the label.
fn manual_branch(task: &Task, label: Option<&str>) -> Result<(Option<String>, String), RunError> {
    let Some(offered) = offered_labels(task) else {
        return Ok((None, NONE_LABEL.to_owned()));
    };
    let given = label.map(str::trim).filter(|l| !l.is_empty());
    let chosen = match given {
        Some(l) => {
            let known = offered.iter().find(|o| o.eq_ignore_ascii_case(l));
            // A condition's '#default#' takes any other label (GenericPolling completes its
            // wait task with labels it has no edge for); an Ask task's replies are its options.
            let open = offered.is_empty()
                || (task.reply_options.is_empty() && task.next_for(DEFAULT_LABEL).is_some());
            match known {
                Some(k) => k.clone(),
                None if open => l.to_owned(),
                None => {
                    return Err(RunError::NoSuchLabel {
                        task: format!("{} ({})", task.id, task.name),
                        label: l.to_owned(),
                        known: offered.join(", "),
                    })
                }
            }
        }
        None => offered
            .iter()
            .find(|l| *l != DEFAULT_LABEL)
            .or(offered.first())
            .cloned()
            .unwrap_or_else(|| DEFAULT_LABEL.to_owned()),
    };
    let edges = branch_label(task, &chosen);
    Ok((Some(chosen), edges))
}

/// Every task of `pb` and of the sub-playbooks it calls (each playbook once).
fn tasks_in_tree<'l>(lib: &'l xsoar_content::Library, pb: &'l Playbook) -> Vec<&'l Task> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack = vec![pb];
    let mut out = Vec::new();
    while let Some(p) = stack.pop() {
        if !seen.insert(p.id.as_str()) {
            continue;
        }
        for t in p.tasks.values() {
            out.push(t);
            if t.task_type == TaskType::Playbook {
                if let Some(child) = lib.sub_playbook(t) {
                    stack.push(child);
                }
            }
        }
    }
    out
}

/// Check completions given before a run: each must name a task of the playbook or of a
/// sub-playbook it calls, and a label must be one that task offers.
fn check_completions(
    lib: &xsoar_content::Library,
    pb: &Playbook,
    completions: &[TaskCompletion],
) -> Result<(), RunError> {
    if completions.is_empty() {
        return Ok(());
    }
    let tasks = tasks_in_tree(lib, pb);
    for c in completions {
        let matching: Vec<&Task> = tasks
            .iter()
            .copied()
            .filter(|t| matches_task(t, &c.task))
            .collect();
        if matching.is_empty() {
            return Err(RunError::NoSuchTask(c.task.clone()));
        }
        let mut first_error = None;
        let accepted = matching
            .iter()
            .any(|t| match manual_branch(t, c.label.as_deref()) {
                Ok(_) => true,
                Err(e) => {
                    first_error.get_or_insert(e);
                    false
                }
            });
        if let (false, Some(e)) = (accepted, first_error) {
            return Err(e);
        }
    }
    Ok(())
}

/// Complete a waiting task found anywhere in the frame tree; the task completed.
fn complete_in_frame<'l>(
    lib: &'l xsoar_content::Library,
    frame: &mut Frame,
    completion: &TaskCompletion,
    now: &str,
) -> Result<&'l Task, RunError> {
    let Some(pb) = lib
        .playbook(&frame.playbook_id)
        .or_else(|| lib.playbook(&frame.playbook_name))
    else {
        return Err(RunError::PlaybookNotFound(frame.playbook_id.clone()));
    };
    // Prefer a waiting match in this frame, then in sub-frames.
    let own: Vec<String> = pb
        .tasks
        .values()
        .filter(|t| matches_task(t, &completion.task))
        .map(|t| t.id.clone())
        .collect();
    let waiting_own = own.iter().find(|id| {
        frame
            .tasks
            .get(*id)
            .is_some_and(|t| t.state == TaskState::Waiting && t.sub.is_none())
    });
    if let Some(id) = waiting_own.cloned() {
        let task = pb
            .tasks
            .get(&id)
            .ok_or_else(|| RunError::NoSuchTask(id.clone()))?;
        let (label, edges) = manual_branch(task, completion.label.as_deref())?;
        let graph = Graph::of(pb);
        if let Some(t) = frame.tasks.get_mut(&id) {
            t.state = TaskState::Completed;
            t.completed = Some(now.to_owned());
            t.label = label;
        }
        resolve_edges(frame, pb, &graph, task, &[edges.as_str()]);
        return Ok(task);
    }
    for t in frame.tasks.values_mut() {
        if let Some(sub) = t.sub.as_mut() {
            if sub.state == RunState::Waiting {
                if let Ok(task) = complete_in_frame(lib, sub, completion, now) {
                    return Ok(task);
                }
            }
        }
    }
    match own.first().and_then(|id| frame.tasks.get(id)) {
        Some(t) => Err(RunError::NotWaiting {
            task: completion.task.clone(),
            state: t.state.word().into(),
        }),
        None => Err(RunError::NoSuchTask(completion.task.clone())),
    }
}

/// `!command a=b` as shown for a task's entries (`args` already masked).
fn render_command(command: &str, args: &Map<String, Value>) -> String {
    let mut s = format!("!{command}");
    for (k, v) in args {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&crate::cmdline::quote_value(&text));
    }
    s
}

/// `ArgValue` shown in reports.
pub fn describe_arg(arg: &ArgValue) -> String {
    match arg {
        ArgValue::Simple(s) => s.clone(),
        ArgValue::Complex(c) => {
            let mut s = c.root.clone();
            if let Some(a) = &c.accessor {
                s.push('.');
                s.push_str(a);
            }
            for t in &c.transformers {
                s.push_str(" | ");
                s.push_str(&t.operator);
            }
            s
        }
    }
}
