//! Playbooks as the work plan draws them: tasks with positions, labelled edges, manual steps.
//!
//! Positions come from the YAML's `view` (what XSOAR's editor saved); tasks without one are laid
//! out by depth from the start task so hand-written playbooks still draw legibly. The page only
//! draws: which tasks wait for a person and which labels they can choose are decided here.

use crate::render::{entry_view, EntryView};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use xsoar_content::{Playbook, Task, TaskTarget, TaskType};
use xsoar_engine::playbook::{describe_arg, ERROR_LABEL, NONE_LABEL};
use xsoar_engine::{CompactString, Investigation, PlaybookRun};

/// Horizontal and vertical spacing of the automatic layout.
const AUTO_DX: f64 = 350.0;
const AUTO_DY: f64 = 175.0;

/// One line of the playbooks list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookSummary {
    /// Playbook id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Number of tasks.
    pub tasks: usize,
    /// File it was loaded from.
    pub file: String,
}

/// A playbook's graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookGraph {
    /// Playbook id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Start task id.
    pub start_task_id: String,
    /// Tasks in file order.
    pub tasks: Vec<GraphTask>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
    /// Inputs with their default values as written.
    pub inputs: Vec<GraphInput>,
}

/// One task box.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphTask {
    /// Playbook-local id.
    pub id: String,
    /// Name (the start task is named `Start` when unnamed).
    pub name: String,
    /// `start`, `regular`, `condition`, `title`, `playbook`, `collection`, `section`.
    #[serde(rename = "type")]
    pub task_type: String,
    /// Description.
    pub description: String,
    /// What it runs (`SIGNL4|||signl4_alert`, `Print`, a sub-playbook).
    pub target: String,
    /// It waits for a person.
    pub manual: bool,
    /// The labels a person can choose when completing it (conditions, ask tasks).
    pub labels: Vec<String>,
    /// Tags (`taskComplete` handles).
    pub tags: Vec<String>,
    /// Position of the box's top-centre.
    pub x: f64,
    /// Position of the box's top-centre.
    pub y: f64,
    /// Arguments as written.
    pub arguments: BTreeMap<String, String>,
}

/// One edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdge {
    /// Source task id.
    pub from: String,
    /// Target task id.
    pub to: String,
    /// Label as written (`#none#` for unlabelled).
    pub label: String,
}

/// One playbook input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphInput {
    /// Key.
    pub key: String,
    /// Default value as written.
    pub value: String,
    /// Required.
    pub required: bool,
    /// Description.
    pub description: String,
}

/// Every loaded playbook, by name.
pub fn summaries<'a>(playbooks: impl Iterator<Item = &'a Playbook>) -> Vec<PlaybookSummary> {
    let mut out: Vec<PlaybookSummary> = playbooks
        .map(|p| PlaybookSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            tasks: p.tasks.len(),
            file: p.file.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn type_name(t: &TaskType) -> String {
    match t {
        TaskType::Start => "start".into(),
        TaskType::Regular => "regular".into(),
        TaskType::Condition => "condition".into(),
        TaskType::Title => "title".into(),
        TaskType::Playbook => "playbook".into(),
        TaskType::Collection => "collection".into(),
        TaskType::Section => "section".into(),
        TaskType::Other(s) => s.clone(),
    }
}

/// Depth of every task reachable from the start (breadth first), for tasks without positions.
fn depths(pb: &Playbook) -> HashMap<String, usize> {
    let mut depth = HashMap::new();
    let mut queue = VecDeque::new();
    depth.insert(pb.start_task_id.clone(), 0);
    queue.push_back(pb.start_task_id.clone());
    while let Some(id) = queue.pop_front() {
        let d = depth.get(&id).copied().unwrap_or(0);
        if let Some(t) = pb.tasks.get(&id) {
            for next in t.next_tasks.values().flatten() {
                if !depth.contains_key(next) {
                    depth.insert(next.clone(), d + 1);
                    queue.push_back(next.clone());
                }
            }
        }
    }
    depth
}

/// The graph of a playbook. `secret_args` names the `secret: true` arguments of a command or
/// script: a value a task passes to one of them is drawn as `******`, as runs and entries show
/// it, even when the playbook's YAML spells it out.
pub fn graph(pb: &Playbook, secret_args: &dyn Fn(&str) -> Vec<String>) -> PlaybookGraph {
    let depth = depths(pb);
    let mut per_row: HashMap<usize, usize> = HashMap::new();
    let max_depth = depth.values().copied().max().unwrap_or(0);
    let mut tasks = Vec::with_capacity(pb.tasks.len());
    let mut edges = Vec::new();
    for (id, t) in &pb.tasks {
        let (x, y) = match t.position {
            Some(p) => p,
            None => {
                let row = depth.get(id).copied().unwrap_or(max_depth + 1);
                let col = per_row.entry(row).or_insert(0);
                let pos = (*col as f64 * AUTO_DX, row as f64 * AUTO_DY);
                *col += 1;
                pos
            }
        };
        let target = t.target();
        let secret = match target {
            TaskTarget::Command { command, .. } => secret_args(command),
            TaskTarget::Script(s) => secret_args(s),
            _ => Vec::new(),
        };
        let manual = match t.task_type {
            TaskType::Condition => {
                t.conditions.is_empty()
                    && !matches!(target, TaskTarget::Script(_) | TaskTarget::Command { .. })
            }
            TaskType::Collection => true,
            TaskType::Regular => matches!(target, TaskTarget::Manual),
            _ => false,
        };
        let labels = offered_labels(t);
        let target_text = match target {
            TaskTarget::SubPlaybook(p) => p.to_owned(),
            TaskTarget::Command { brand, command } => match brand {
                Some(b) => format!("{b}|||{command}"),
                None => command.to_owned(),
            },
            TaskTarget::Script(s) => s.to_owned(),
            // Builtin conditions and manual steps run nothing; `manual` says which waits.
            TaskTarget::NoOp | TaskTarget::Manual => String::new(),
        };
        let name = if t.name.is_empty() && t.task_type == TaskType::Start {
            "Start".to_owned()
        } else {
            t.name.clone()
        };
        tasks.push(GraphTask {
            id: id.clone(),
            name,
            task_type: type_name(&t.task_type),
            description: t.description.clone().unwrap_or_default(),
            target: target_text,
            manual,
            labels,
            tags: t.tags.clone(),
            x,
            y,
            arguments: t
                .script_arguments
                .iter()
                .map(|(k, v)| {
                    let shown = if secret.contains(k) {
                        xsoar_connector::MASK.to_owned()
                    } else {
                        describe_arg(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        });
        for (label, targets) in &t.next_tasks {
            for to in targets {
                if pb.tasks.contains_key(to) {
                    edges.push(GraphEdge {
                        from: id.clone(),
                        to: to.clone(),
                        label: label.clone(),
                    });
                }
            }
        }
    }
    PlaybookGraph {
        id: pb.id.clone(),
        name: pb.name.clone(),
        description: pb.description.clone(),
        start_task_id: pb.start_task_id.clone(),
        tasks,
        edges,
        inputs: pb
            .inputs
            .iter()
            .map(|i| GraphInput {
                key: i.key.clone(),
                value: i.value.as_ref().map(describe_arg).unwrap_or_default(),
                required: i.required,
                description: i.description.clone(),
            })
            .collect(),
    }
}

/// A run with the entries its tasks wrote, rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    /// The investigation it runs on.
    pub investigation_id: String,
    /// The run (task states per task id, resolved inputs, errors, labels).
    pub run: PlaybookRun,
    /// The entries of the root frame's tasks, by entry id.
    pub entries: BTreeMap<CompactString, EntryView>,
}

/// Attach the rendered entries of the run's tasks.
pub fn run_view(inv: &Investigation, run: PlaybookRun) -> RunView {
    let entries = run
        .root
        .walk()
        .into_iter()
        .flat_map(|(_, t)| t.entries.iter())
        .filter_map(|id| inv.entry(id).map(|e| (id.clone(), entry_view(e))))
        .collect();
    RunView {
        investigation_id: inv.id.clone(),
        run,
        entries,
    }
}

/// The labels a person can choose when completing `t`: its reply options (ask tasks), a
/// condition's branches, none for other tasks.
pub fn offered_labels(t: &Task) -> Vec<String> {
    if !t.reply_options.is_empty() {
        t.reply_options.clone()
    } else if t.task_type == TaskType::Condition {
        t.next_tasks
            .keys()
            .filter(|l| l.as_str() != ERROR_LABEL && l.as_str() != NONE_LABEL)
            .cloned()
            .collect()
    } else {
        Vec::new()
    }
}
