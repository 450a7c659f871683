//! The content model: what the engine needs from integration, script and playbook YAML.
//!
//! Field names follow XSOAR's YAML (§1–§2 of the semantics) translated to Rust style. The
//! model is normalised: ids and labels are strings, `simple` values are strings, booleans that
//! arrive as `"true"` are booleans, missing lists are empty, `standard` tasks are `Regular`.
//! UI-only data is kept only where the emulator shows it (task positions for drawing).

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

/// An integration definition (unified YAML).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    /// `commonfields.id`.
    pub id: String,
    /// `name`: the brand, used by `Brand|||command` and `using-brand=`.
    pub name: String,
    /// `display`.
    pub display: String,
    /// `category`.
    pub category: String,
    /// `description`.
    pub description: String,
    /// `detaileddescription` (markdown help).
    pub detailed_description: Option<String>,
    /// `configuration`: the instance parameters.
    pub params: Vec<Param>,
    /// `script.commands`.
    pub commands: Vec<Command>,
    /// `script.type` (`python`, `javascript`, `powershell`).
    pub script_type: String,
    /// `script.subtype`.
    pub subtype: Option<String>,
    /// `script.dockerimage`.
    pub docker_image: Option<String>,
    /// `script.isfetch`.
    pub is_fetch: bool,
    /// `script.longRunning`.
    pub long_running: bool,
    /// `tests`.
    pub tests: Vec<String>,
    /// `fromversion`.
    pub from_version: Option<String>,
    /// `beta`.
    pub beta: bool,
    /// `deprecated`.
    pub deprecated: bool,
    /// `hidden`.
    pub hidden: bool,
    /// The file it was loaded from (as given to the parser).
    pub file: String,
}

impl Integration {
    /// The command with that exact name.
    pub fn command(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name == name)
    }
}

/// An instance parameter (`configuration[]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    /// `name`: the key in `params()`.
    pub name: String,
    /// `display`.
    pub display: Option<String>,
    /// `displaypassword` (type 9).
    pub display_password: Option<String>,
    /// `type`: the XSOAR type code (0 string, 4 encrypted, 8 boolean, 9 credentials, ...).
    pub param_type: i64,
    /// `required`.
    pub required: bool,
    /// `defaultvalue`, normalised: strings for every type but 8 (boolean), which is a bool.
    pub default_value: Option<Value>,
    /// `options` (types 15/16).
    pub options: Vec<String>,
    /// `additionalinfo`.
    pub additional_info: Option<String>,
    /// `hidden` (true when hidden for XSOAR).
    pub hidden: bool,
    /// `hiddenusername` (type 9 without a username box).
    pub hidden_username: bool,
    /// `hiddenpassword`.
    pub hidden_password: bool,
    /// `advanced`.
    pub advanced: bool,
    /// `section`.
    pub section: Option<String>,
}

impl Param {
    /// Types whose values are secret: 4 (encrypted), 9 (credentials), 14 (encrypted text area).
    pub fn is_secret(&self) -> bool {
        matches!(self.param_type, 4 | 9 | 14)
    }
}

/// A command of an integration (`script.commands[]`), or a script's signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Command {
    /// `name`, typed after `!`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `arguments`.
    pub arguments: Vec<Argument>,
    /// `outputs`.
    pub outputs: Vec<Output>,
    /// `deprecated`.
    pub deprecated: bool,
    /// `hidden`.
    pub hidden: bool,
    /// `execution` (potentially harmful).
    pub execution: bool,
    /// `polling`.
    pub polling: bool,
    /// `timeout` in seconds.
    pub timeout: Option<u64>,
}

impl Command {
    /// The argument with that name.
    pub fn argument(&self, name: &str) -> Option<&Argument> {
        self.arguments.iter().find(|a| a.name == name)
    }

    /// The argument marked `default: true` (positional), if any.
    pub fn default_argument(&self) -> Option<&Argument> {
        self.arguments.iter().find(|a| a.default)
    }
}

/// A command argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Argument {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `required`.
    pub required: bool,
    /// `default`: may be given positionally.
    pub default: bool,
    /// `isArray`.
    pub is_array: bool,
    /// `auto` (`PREDEFINED`).
    pub auto: Option<String>,
    /// `predefined` values (as strings).
    pub predefined: Vec<String>,
    /// `defaultValue`, as a string.
    pub default_value: Option<String>,
    /// `secret`: masked when the command line is echoed.
    pub secret: bool,
    /// `deprecated`.
    pub deprecated: bool,
    /// `hidden`.
    pub hidden: bool,
}

/// A documented context output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    /// `contextPath` (also accepts the misspelling `contentPath`).
    pub context_path: String,
    /// `description`.
    pub description: String,
    /// `type`, as written (`String`, `number`, `Unknown`, ...).
    pub output_type: Option<String>,
}

/// An automation (script) YAML: `Set`, `Print`, user scripts. Builtins are declared this way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Script {
    /// `commonfields.id`.
    pub id: String,
    /// `name`: what `!Name` and `scriptName:` refer to.
    pub name: String,
    /// `comment`.
    pub comment: String,
    /// `tags` (`Utility`, `transformer`, `filter`, `Condition`).
    pub tags: Vec<String>,
    /// `args` and `outputs`, as a command signature (name = script name).
    pub signature: Command,
    /// `type`.
    pub script_type: String,
    /// The file it was loaded from.
    pub file: String,
}

/// A playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Playbook {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `starttaskid`.
    pub start_task_id: String,
    /// `tasks`, keyed by the playbook-local task id, in file order.
    pub tasks: IndexMap<String, Task>,
    /// `inputs`.
    pub inputs: Vec<PlaybookInput>,
    /// `outputs`.
    pub outputs: Vec<PlaybookOutput>,
    /// `quiet`.
    pub quiet: bool,
    /// `tests`.
    pub tests: Vec<String>,
    /// `fromversion`.
    pub from_version: Option<String>,
    /// The file it was loaded from.
    pub file: String,
}

/// Task types (§2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    /// `start`.
    Start,
    /// `regular` (and its alias `standard`).
    Regular,
    /// `condition`.
    Condition,
    /// `title`.
    Title,
    /// `playbook` (sub-playbook).
    Playbook,
    /// `collection` (data collection / ask).
    Collection,
    /// `section`.
    Section,
    /// Anything else (kept, reported as a warning).
    Other(String),
}

/// What a task executes, resolved per §2.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskTarget<'a> {
    /// A sub-playbook by id or name.
    SubPlaybook(&'a str),
    /// An integration or builtin command; `brand` is `None` for "any".
    Command {
        brand: Option<&'a str>,
        command: &'a str,
    },
    /// A script (automation) by name.
    Script(&'a str),
    /// Nothing to execute (start, title, section).
    NoOp,
    /// A manual task: waits for completion.
    Manual,
}

/// One task of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// The key in `tasks` (referenced by `nexttasks`).
    pub id: String,
    /// `taskid` (UUID).
    pub task_id: String,
    /// `type`.
    pub task_type: TaskType,
    /// `task.name`.
    pub name: String,
    /// `task.description`.
    pub description: Option<String>,
    /// `task.script` (`Brand|||command` or a script name).
    pub script: Option<String>,
    /// `task.scriptName`.
    pub script_name: Option<String>,
    /// `task.playbookName`.
    pub playbook_name: Option<String>,
    /// `task.playbookId`.
    pub playbook_id: Option<String>,
    /// `task.iscommand`.
    pub is_command: bool,
    /// `task.brand`.
    pub brand: Option<String>,
    /// `task.tags` (completion handles for `taskComplete`).
    pub tags: Vec<String>,
    /// `nexttasks`: label -> task ids, labels as written, in file order.
    pub next_tasks: IndexMap<String, Vec<String>>,
    /// `scriptarguments` without the `{}` (not supplied) entries.
    pub script_arguments: IndexMap<String, ArgValue>,
    /// `conditions` (builtin condition tasks).
    pub conditions: Vec<ConditionBranch>,
    /// `loop` (sub-playbook tasks).
    pub loop_settings: Option<Loop>,
    /// `separatecontext`.
    pub separate_context: bool,
    /// `continueonerror`.
    pub continue_on_error: bool,
    /// `continueonerrortype == errorPath`.
    pub error_path: bool,
    /// `skipunavailable`.
    pub skip_unavailable: bool,
    /// `quietmode` (0 inherit, 1 on, 2 off).
    pub quiet_mode: i64,
    /// `note`: the entries the task writes are marked as notes (§2.2).
    pub note: bool,
    /// `fieldMapping`: incident field -> value evaluated after completion.
    pub field_mapping: Vec<FieldMapping>,
    /// `timertriggers`: SLA timer actions applied after completion (after `fieldMapping`).
    pub timer_triggers: Vec<TimerTrigger>,
    /// `message.replyOptions` (ask tasks): the labels a reply can choose.
    pub reply_options: Vec<String>,
    /// `view.position` (x, y), for drawing the graph.
    pub position: Option<(f64, f64)>,
}

impl Task {
    /// The references a sub-playbook task names its playbook by, in lookup order (§8.10):
    /// `playbookId`, then `playbookName` (empty ones left out). Exports often carry both, and
    /// an id that only exists on the server the playbook came from (a UUID) is common, so the
    /// name must still find the playbook: [`crate::Library::sub_playbook`] tries them in turn.
    pub fn sub_playbook_refs(&self) -> impl Iterator<Item = &str> {
        [&self.playbook_id, &self.playbook_name]
            .into_iter()
            .filter_map(|s| s.as_deref().map(str::trim).filter(|s| !s.is_empty()))
    }

    /// What this task executes (§2.4 resolution algorithm). A sub-playbook is shown by its
    /// first reference (`playbookId`, else `playbookName`); to find the playbook, use
    /// [`crate::Library::sub_playbook`], which falls back to the name.
    pub fn target(&self) -> TaskTarget<'_> {
        fn non_empty(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        match self.task_type {
            TaskType::Playbook => {
                return match self.sub_playbook_refs().next() {
                    Some(p) => TaskTarget::SubPlaybook(p),
                    None => TaskTarget::Manual,
                }
            }
            TaskType::Start | TaskType::Title | TaskType::Section => return TaskTarget::NoOp,
            _ => {}
        }
        if let Some(script) = non_empty(&self.script) {
            if let Some((brand, command)) = script.split_once("|||") {
                let brand = Some(brand.trim()).filter(|b| !b.is_empty());
                return TaskTarget::Command {
                    brand,
                    command: command.trim(),
                };
            }
            if non_empty(&self.script_name).is_none() {
                return TaskTarget::Script(script);
            }
        }
        match non_empty(&self.script_name) {
            Some(name) => TaskTarget::Script(name),
            None => TaskTarget::Manual,
        }
    }

    /// Target task ids of the edges with this label (case-insensitive, §2.5).
    pub fn next_for(&self, label: &str) -> Option<&[String]> {
        self.next_tasks
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, v)| v.as_slice())
    }
}

/// An argument value (`AdvanceArg`): `{simple}` or `{complex}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArgValue {
    /// `simple`: a string template with `${...}` DT (scalars are kept as their source text).
    Simple(String),
    /// `complex`: root, filters, accessor, transformers.
    Complex(Complex),
}

/// `complex: {root, filters, accessor, transformers}` (§3.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Complex {
    /// `root`: a bare context path (the `${Endpoint` + `Hostname}` split quirk is repaired).
    pub root: String,
    /// `filters`: AND of OR-groups.
    pub filters: Vec<Vec<Atom>>,
    /// `accessor`.
    pub accessor: Option<String>,
    /// `transformers`, in order.
    pub transformers: Vec<Transformer>,
}

/// One transformer (`{operator, args}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transformer {
    /// `operator`, as written (category prefixes such as `general.` are kept).
    pub operator: String,
    /// `args`: name -> operand.
    pub args: IndexMap<String, Operand>,
}

/// One side of a condition or a transformer argument: `{value: {simple|complex}, iscontext}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operand {
    /// `value`; `None` for `{}`.
    pub value: Option<ArgValue>,
    /// `iscontext`.
    pub is_context: bool,
}

/// One condition atom (`{operator, left, right, ignorecase}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Atom {
    /// `operator`, as written.
    pub operator: String,
    /// `left`.
    pub left: Operand,
    /// `right` (absent for unary operators).
    pub right: Option<Operand>,
    /// `ignorecase`.
    pub ignore_case: bool,
}

/// One labelled branch of a builtin condition task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionBranch {
    /// `label`.
    pub label: String,
    /// `condition`: AND of OR-groups.
    pub condition: Vec<Vec<Atom>>,
}

/// `loop` settings of a sub-playbook task (§2.8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loop {
    /// `forEach`.
    pub for_each: bool,
    /// `max` (0 = the default of 100).
    pub max: u64,
    /// `wait` seconds between iterations.
    pub wait: f64,
    /// `exitCondition` (legacy exit script name; empty = none).
    pub exit_condition: Option<String>,
    /// `builtincondition`: exit when true.
    pub builtin_condition: Vec<Vec<Atom>>,
    /// `scriptId`: exit script.
    pub script_id: Option<String>,
    /// `scriptArguments` of the exit script.
    pub script_arguments: IndexMap<String, ArgValue>,
}

impl Loop {
    /// Whether the block actually loops (the default block runs once).
    pub fn loops(&self) -> bool {
        self.for_each
            || !self.builtin_condition.is_empty()
            || self.script_id.is_some()
            || self.exit_condition.is_some()
    }
}

/// `fieldMapping[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldMapping {
    /// `incidentfield`.
    pub incident_field: String,
    /// `output`.
    pub output: ArgValue,
}

/// `timertriggers[]`: an action on an SLA timer incident field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimerTrigger {
    /// `fieldname`: the timer field (machine name, e.g. `timetoassignment`).
    pub field_name: String,
    /// `action`.
    pub action: TimerAction,
}

/// What a timer trigger does to its SLA timer field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimerAction {
    /// Start the timer, or resume it after a pause.
    Start,
    /// Pause a running timer.
    Pause,
    /// End a running or paused timer.
    Stop,
}

impl TimerAction {
    /// The action named as in `timertriggers` (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [Self::Start, Self::Pause, Self::Stop]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The name XSOAR writes (`start`, `pause`, `stop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Stop => "stop",
        }
    }
}

impl std::fmt::Display for TimerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `inputs[]` of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookInput {
    /// `key` (may contain spaces).
    pub key: String,
    /// `value`: the default; `None` for `{}`.
    pub value: Option<ArgValue>,
    /// `required`.
    pub required: bool,
    /// `description`.
    pub description: String,
}

/// `outputs[]` of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookOutput {
    /// `contextPath`.
    pub context_path: String,
    /// `description`.
    pub description: String,
    /// `type`.
    pub output_type: Option<String>,
}
