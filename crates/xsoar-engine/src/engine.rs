//! The engine: resolves a command to an implementation, binds its arguments, runs it on the
//! chosen instances and turns the results into entries and context writes.
//!
//! One code path serves the war room ([`Engine::execute_line`]) and playbook tasks
//! ([`Engine::invoke`]), so a command behaves the same wherever it is typed or scheduled.
//! A command that fails produces an error *entry* (type 4); `Err` is never used for that.

use crate::args::{self, BindRules, SpecialArgs};
use crate::builtins::{self, BUILTIN_BRAND, OPEN_ARGUMENT_COMMANDS};
use crate::clock::{rfc3339, rfc3339_compact, Clock};
use crate::cmdline::{self, CommandLine, Line, Quote};
use crate::entry::{CompactString, Entry, EntryTask};
use crate::investigation::{update_incident, Investigation};
use crate::lists::{ListChange, ListObserver, Lists};
use crate::registry::{mask_all, InstanceInfo, InstanceSpec, Registry};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tracing::Instrument;
use xsoar_connector::{
    CommandCall, CommandOutput, CommandResult, Connector, ConnectorError, ConnectorFactory, Effect,
    EntryType, InvestigationView, Secret,
};
use xsoar_content::{parse_any, Command, ContentItem, Diagnostic, Library};
use xsoar_context::{Interpolated, Scope};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Reject argument values outside `predefined` (XSOAR's UI restricts them; default on).
    pub enforce_predefined: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            enforce_predefined: true,
        }
    }
}

/// How a value reaches the engine: typed text (DT is interpolated) or an evaluated value.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgInput {
    /// Text from the war room; `${...}` is interpolated against the context.
    Template(String),
    /// A value already evaluated (playbook task arguments).
    Value(Value),
}

/// One request to run a command or script.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Command or script name.
    pub command: String,
    /// Named arguments.
    pub named: Vec<(String, ArgInput)>,
    /// Positional values (bound to the default argument).
    pub positional: Vec<ArgInput>,
    /// `Brand|||command` restriction (playbook tasks).
    pub brand: Option<String>,
    /// The command line shown as `parentContent` (secrets masked).
    pub parent_content: String,
    /// Entry id of the echoed command line, if one was written.
    pub parent_id: CompactString,
    /// Typed in the war room: unknown arguments are errors.
    pub from_war_room: bool,
}

/// The playbook task an invocation runs for (labels entries).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskTag {
    /// Playbook-local task id.
    pub task_id: String,
    /// Task name.
    pub task_name: String,
    /// Playbook id.
    pub playbook_id: String,
    /// Playbook name.
    pub playbook_name: String,
    /// The task has `skipunavailable`: an unavailable command or script is not an error and
    /// writes no entry (the task is skipped, §8.8).
    pub skip_unavailable: bool,
    /// The task has `note: true`: its entries are marked as notes (§2.2).
    pub note: bool,
    /// The task runs in quiet mode (§2.9): its results write context but no war-room entry;
    /// error and warning entries are still written.
    pub quiet: bool,
}

/// Where an invocation reads and writes context (playbook runs set more than the default).
#[derive(Debug, Clone, Default)]
pub struct ExecScope {
    /// Private sub-playbook contexts, innermost last. Writes go to the innermost; reads fall
    /// back outward and finally to the investigation context.
    pub private: Vec<Value>,
    /// `inputs` of the current playbook.
    pub inputs: Option<Value>,
    /// `currentPlaybookID`.
    pub current_playbook_id: Option<String>,
    /// `lastCompletedTaskEntries`.
    pub last_completed_task_entries: Vec<CompactString>,
    /// The task being run.
    pub task: Option<TaskTag>,
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeStatus {
    /// Every entry is a non-error entry.
    Ok,
    /// At least one error entry.
    Error,
    /// No implementation or no enabled instance (the `skipunavailable` case).
    Unavailable,
}

/// What an invocation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeOutcome {
    /// Ids of the entries written.
    pub entries: Vec<CompactString>,
    /// Overall status.
    pub status: InvokeStatus,
    /// `taskComplete` requests: (task id or tag, label).
    pub completions: Vec<(String, Option<String>)>,
    /// Contents of the last non-error text entry (a condition script's branch label).
    pub last_text: Option<String>,
    /// The first error message, if any.
    pub error: Option<String>,
}

impl InvokeOutcome {
    fn new() -> Self {
        Self {
            // A command writes at least one entry: allocate once, not on the first push.
            entries: Vec::with_capacity(2),
            status: InvokeStatus::Ok,
            completions: Vec::new(),
            last_text: None,
            error: None,
        }
    }
}

/// What a war-room line produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LineOutcome {
    /// The echoed line or the note entry, when one was written.
    pub echo: Option<CompactString>,
    /// The result entries (what `/entry/execute/sync` returns).
    pub results: Vec<CompactString>,
    /// Overall status.
    pub status: InvokeStatus,
    /// `taskComplete` requests.
    pub completions: Vec<(String, Option<String>)>,
}

/// One command call as a [`CommandHook`] sees it.
#[derive(Debug)]
pub struct HookCall<'a> {
    /// Brand of the implementation (`None` for scripts).
    pub brand: Option<&'a str>,
    /// Command or script name.
    pub command: &'a str,
    /// Arguments after binding (defaults applied, special arguments removed).
    pub args: &'a Map<String, Value>,
    /// Instance name for real executions (`None` when intercepting).
    pub instance: Option<&'a str>,
    /// The investigation the command runs in, when intercepting: a script the hook runs
    /// natively (GenericPolling's `RunPollingCommand`) reads its context and incident.
    pub investigation: Option<&'a Investigation>,
    /// The private contexts of the sub-playbooks the command runs in, outermost first.
    pub private: &'a [Value],
}

/// Intercepts commands before dispatch (mocks) and observes real executions (recording).
///
/// The test runner installs one: mocked commands never reach a connector, so a mocked run
/// does no network IO. Builtins (`Set`, `Print`, ...) are not offered to the hook: they always
/// run natively.
pub trait CommandHook: Send + Sync + std::fmt::Debug {
    /// `Some` handles the call (its output becomes the entries); `None` lets it run normally.
    fn intercept<'a>(
        &'a self,
        call: &'a HookCall<'a>,
    ) -> BoxFuture<'a, Option<Result<CommandOutput, ConnectorError>>>;
    /// Called after a real execution with what it produced.
    fn record(&self, _call: &HookCall<'_>, _output: &[CommandResult]) {}
    /// The instance name the entries of an intercepted call show.
    fn instance_label(&self, _call: &HookCall<'_>) -> &'static str {
        "mock"
    }
}

/// The XSOAR engine.
pub struct Engine {
    library: RwLock<Arc<Library>>,
    registry: RwLock<Arc<Registry>>,
    specs: RwLock<Vec<InstanceSpec>>,
    factories: RwLock<BTreeMap<String, Arc<dyn ConnectorFactory>>>,
    clock: Arc<dyn Clock>,
    options: EngineOptions,
    hook: RwLock<Option<Arc<dyn CommandHook>>>,
    /// Command and script names with `secret: true` arguments (masked when echoed).
    secret_commands: RwLock<Arc<NameSet>>,
    /// XSOAR lists (`${lists.<name>}`, `getList`), replaced whole on every change.
    lists: RwLock<Arc<Lists>>,
    /// Told about every list change a command makes (the REST server persists them).
    list_observer: RwLock<Option<ListObserver>>,
    /// The `type` each list file declares (`plain_text`, `JSON`, ...), by list name: what a
    /// listing of the lists says of a list that was never stored. Kept apart from `lists`,
    /// which commands replace whole.
    list_types: RwLock<BTreeMap<String, String>>,
}

/// Names of commands and scripts that declare a `secret: true` argument.
/// Command names looked up on every war-room line (fast hasher: names come from content).
type NameSet = std::collections::HashSet<String, rustc_hash::FxBuildHasher>;

fn secret_command_names(lib: &Library) -> NameSet {
    let commands = lib
        .integrations()
        .flat_map(|i| i.commands.iter())
        .filter(|c| c.arguments.iter().any(|a| a.secret))
        .map(|c| c.name.clone());
    let scripts = lib
        .scripts()
        .filter(|s| s.signature.arguments.iter().any(|a| a.secret))
        .map(|s| s.name.clone());
    commands.chain(scripts).collect()
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A library holding only the builtin definitions.
pub fn builtin_library() -> Library {
    let mut lib = Library::new();
    for (file, text) in builtins::DEFINITIONS {
        if let (Some(item), _) = parse_any(text, file) {
            lib.add(item);
        }
    }
    lib
}

impl Engine {
    /// An engine with the builtins loaded and no instances.
    pub fn new(clock: Arc<dyn Clock>, options: EngineOptions) -> Self {
        let library = builtin_library();
        let registry = Registry::build(Vec::new(), &library, &BTreeMap::new());
        Self {
            library: RwLock::new(Arc::new(library)),
            registry: RwLock::new(Arc::new(registry)),
            specs: RwLock::new(Vec::new()),
            factories: RwLock::new(BTreeMap::new()),
            clock,
            options,
            hook: RwLock::new(None),
            secret_commands: RwLock::new(Arc::new(NameSet::default())),
            lists: RwLock::new(Arc::new(Lists::default())),
            list_observer: RwLock::new(None),
            list_types: RwLock::new(BTreeMap::new()),
        }
    }

    /// Every XSOAR list, as commands and `${lists.<name>}` see them now.
    pub fn lists(&self) -> Arc<Lists> {
        self.lists
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Create or replace a list (`POST /lists/save`, a pack's list file, `--list`). The
    /// observer is not told: the caller is the one that stores it.
    pub fn set_list(&self, name: &str, data: &str) {
        let mut guard = self.lists.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(guard.with(name, data));
    }

    /// Replace every list at once (start-up, content reload).
    pub fn replace_lists(&self, lists: Lists) {
        let mut guard = self.lists.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(lists);
    }

    /// Replace the `type`s the list files declare (list name → `plain_text`, `JSON`, ...).
    pub fn set_list_types(&self, types: BTreeMap<String, String>) {
        let mut guard = self.list_types.write().unwrap_or_else(|p| p.into_inner());
        *guard = types;
    }

    /// The `type` the file of list `name` declares, if it declares one.
    pub fn list_type(&self, name: &str) -> Option<String> {
        self.list_types
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Install (or remove) the observer told about every list change a command makes.
    pub fn set_list_observer(&self, observer: Option<ListObserver>) {
        if let Ok(mut o) = self.list_observer.write() {
            *o = observer;
        }
    }

    /// The roots DT reads from the engine rather than the investigation: `modules`, `lists`.
    pub(crate) fn dt_roots(&self) -> DtRoots {
        DtRoots {
            modules: self.modules(),
            lists: self.lists(),
        }
    }

    /// Install (or remove) the command hook.
    pub fn set_hook(&self, hook: Option<Arc<dyn CommandHook>>) {
        if let Ok(mut h) = self.hook.write() {
            *h = hook;
        }
    }

    fn hook(&self) -> Option<Arc<dyn CommandHook>> {
        self.hook.read().ok().and_then(|h| h.clone())
    }

    /// The clock the engine runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The current content library.
    pub fn library(&self) -> Arc<Library> {
        self.library
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Add content items (integrations, scripts, playbooks); same ids replace older ones.
    pub fn add_content(&self, items: Vec<ContentItem>) -> Vec<Diagnostic> {
        let mut lib = (*self.library()).clone();
        let mut diags = Vec::new();
        for item in items {
            diags.extend(lib.add(item));
        }
        self.replace_library(lib);
        diags
    }

    /// Replace the whole library (content reload); builtins are always kept.
    pub fn replace_library(&self, mut lib: Library) {
        for (file, text) in builtins::DEFINITIONS {
            if let (Some(item), _) = parse_any(text, file) {
                lib.add(item);
            }
        }
        if let Ok(mut s) = self.secret_commands.write() {
            *s = Arc::new(secret_command_names(&lib));
        }
        let lib = Arc::new(lib);
        if let Ok(mut l) = self.library.write() {
            *l = lib;
        }
        self.rebuild_registry();
    }

    /// Register the connector factory of a brand.
    pub fn register_factory(&self, factory: Arc<dyn ConnectorFactory>) {
        if let Ok(mut f) = self.factories.write() {
            f.insert(factory.brand().to_owned(), factory);
        }
        self.rebuild_registry();
    }

    /// Replace the configured instances (connectors are built now).
    pub fn set_instances(&self, specs: Vec<InstanceSpec>) {
        if let Ok(mut s) = self.specs.write() {
            *s = specs;
        }
        self.rebuild_registry();
    }

    /// The configured instances as given (secrets included: for persistence only).
    pub fn instance_specs(&self) -> Vec<InstanceSpec> {
        self.specs.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn rebuild_registry(&self) {
        let specs = self.instance_specs();
        let lib = self.library();
        let factories = self.factories.read().map(|f| f.clone()).unwrap_or_default();
        let registry = Registry::build(specs, &lib, &factories);
        if let Ok(mut r) = self.registry.write() {
            *r = Arc::new(registry);
        }
    }

    /// The configured instances, secrets masked.
    pub fn instances(&self) -> Vec<InstanceInfo> {
        self.registry().infos()
    }

    /// XSOAR's `modules` list.
    pub fn modules(&self) -> Arc<Value> {
        self.registry().modules.clone()
    }

    /// Run an instance's `test-module`. `Ok` is XSOAR's `ok`; the error is in plain words.
    pub async fn test_instance(&self, name: &str) -> Result<(), String> {
        let registry = self.registry();
        let Some(instance) = registry
            .find(name)
            .filter(|i| i.spec.brand != BUILTIN_BRAND)
        else {
            return Err(format!("no instance named '{name}'"));
        };
        let connector = instance.connector.as_ref().map_err(Clone::clone)?;
        connector
            .test_module()
            .await
            .map_err(|e| mask_all(&e.to_string(), &instance.secrets))
    }

    /// Run one war-room line in `inv`: a command, a system command or a chat note.
    pub async fn execute_line(&self, inv: &mut Investigation, line: &str) -> LineOutcome {
        let span = tracing::info_span!("war_room_line", investigation = %inv.id);
        self.execute_line_inner(inv, line).instrument(span).await
    }

    async fn execute_line_inner(&self, inv: &mut Investigation, line: &str) -> LineOutcome {
        let mut outcome = LineOutcome {
            echo: None,
            results: Vec::new(),
            status: InvokeStatus::Ok,
            completions: Vec::new(),
        };
        let parsed = match cmdline::parse_line(line) {
            Ok(p) => p,
            Err(e) => {
                // The line could not be parsed, but a secret argument's value must still
                // never be echoed.
                let shown = self
                    .masked_unparsed_line(line.trim())
                    .unwrap_or_else(|| line.trim().to_owned());
                let echo = self.push_echo(inv, &shown);
                outcome.echo = Some(echo.clone());
                let id = self.push_engine_error(
                    inv,
                    &format!("Invalid command line: {e}"),
                    &shown,
                    &echo,
                    None,
                );
                outcome.results.push(id);
                outcome.status = InvokeStatus::Error;
                return outcome;
            }
        };
        match parsed {
            Line::Empty => outcome,
            Line::Note(text) => {
                outcome.echo = Some(self.push_echo(inv, &text));
                outcome
            }
            Line::System(cl) => {
                let shown = cl.to_string().replacen('!', "/", 1);
                let echo = self.push_echo(inv, &shown);
                outcome.echo = Some(echo.clone());
                let result = match cl.name.as_str() {
                    "close_investigation" | "close" => {
                        let invocation = Invocation {
                            command: "closeInvestigation".into(),
                            named: cl
                                .args
                                .iter()
                                .filter_map(|a| {
                                    a.key
                                        .clone()
                                        .map(|k| (k, ArgInput::Template(a.value.clone())))
                                })
                                .collect(),
                            positional: Vec::new(),
                            brand: Some(BUILTIN_BRAND.into()),
                            parent_content: shown.clone(),
                            parent_id: echo,
                            from_war_room: true,
                        };
                        self.invoke(inv, &mut ExecScope::default(), invocation)
                            .await
                    }
                    other => {
                        let mut o = InvokeOutcome::new();
                        let msg = format!("Unsupported system command: '/{other}' (supported: /close_investigation)");
                        o.entries
                            .push(self.push_engine_error(inv, &msg, &shown, &echo, None));
                        o.status = InvokeStatus::Error;
                        o
                    }
                };
                outcome.results = result.entries;
                outcome.status = result.status;
                outcome
            }
            Line::Command(cl) => {
                let shown = self
                    .masked_line(&cl)
                    .unwrap_or_else(|| line.trim().to_owned());
                let echo = self.push_echo(inv, &shown);
                outcome.echo = Some(echo.clone());
                let invocation = invocation_from_line(cl, shown, echo);
                let result = self
                    .invoke(inv, &mut ExecScope::default(), invocation)
                    .await;
                outcome.results = result.entries;
                outcome.status = result.status;
                outcome.completions = result.completions;
                outcome
            }
        }
    }

    /// The line with the values of `secret: true` arguments masked (`None`: nothing to mask).
    fn masked_line(&self, cl: &CommandLine) -> Option<String> {
        let secret_args = self.secret_args(&cl.name);
        if secret_args.is_empty() {
            return None;
        }
        let mut masked = cl.clone();
        for a in &mut masked.args {
            if a.key.as_ref().is_some_and(|k| secret_args.contains(k)) {
                a.value = xsoar_connector::MASK.into();
                a.quote = Quote::Bare;
            }
        }
        Some(masked.to_string())
    }

    /// A line that does not parse, with what follows `name=` for every secret argument of its
    /// command masked up to the end of the value (quoted or bare; an unterminated quote masks
    /// the rest of the line). `None`: not a command with secret arguments.
    fn masked_unparsed_line(&self, line: &str) -> Option<String> {
        let name = line
            .strip_prefix('!')?
            .split(|c: char| c.is_whitespace())
            .next()?;
        let secret_args = self.secret_args(name);
        if secret_args.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(value_start) = next_secret_assignment(rest, &secret_args) {
            out.push_str(&rest[..value_start]);
            out.push_str("******");
            rest = &rest[value_start + value_len(&rest[value_start..])..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// `args` of `command` with the values of its `secret: true` arguments replaced by
    /// `******`: what a playbook task's run, its entries' `parentContent` and test reports may
    /// show of the arguments a task passed (the war-room echo is masked the same way).
    pub fn mask_secret_arguments(&self, command: &str, args: &mut Map<String, Value>) {
        for name in self.secret_args(command) {
            if let Some(v) = args.get_mut(&name) {
                *v = Value::String(xsoar_connector::MASK.to_owned());
            }
        }
    }

    /// The names of the `secret: true` arguments of a command or script (usually none).
    pub fn secret_args(&self, name: &str) -> Vec<String> {
        let has_secrets = self
            .secret_commands
            .read()
            .map(|s| s.contains(name))
            .unwrap_or(true);
        if !has_secrets {
            return Vec::new();
        }
        let lib = self.library();
        let secret_args: Vec<String> = lib
            .commands_named_iter(name)
            .flat_map(|(_, c)| {
                c.arguments
                    .iter()
                    .filter(|a| a.secret)
                    .map(|a| a.name.clone())
            })
            .chain(lib.script(name).into_iter().flat_map(|s| {
                s.signature
                    .arguments
                    .iter()
                    .filter(|a| a.secret)
                    .map(|a| a.name.clone())
            }))
            .collect();
        secret_args
    }

    fn push_echo(&self, inv: &mut Investigation, text: &str) -> CompactString {
        let id = inv.next_entry_id();
        let entry = Entry {
            format: CompactString::const_new("markdown"),
            user: CompactString::from(inv.user.as_str()),
            category: CompactString::const_new("chat"),
            ..Entry::new(
                id.clone(),
                CompactString::from(inv.id.as_str()),
                1,
                Value::String(text.to_owned()),
                rfc3339_compact(self.clock.now()),
            )
        };
        inv.entries.push(Box::new(entry));
        id
    }

    fn push_engine_error(
        &self,
        inv: &mut Investigation,
        message: &str,
        parent_content: &str,
        parent_id: &str,
        task: Option<&TaskTag>,
    ) -> CompactString {
        let result = CommandResult::error(message);
        let meta = EntryMeta {
            parent_content,
            parent_id,
            brand: "none",
            instance: "",
            task,
            simulated: false,
            raw_response: false,
        };
        push_result(inv, result, &meta, &self.clock)
    }

    /// Write an engine error entry for an invocation and record it in the outcome.
    fn fail_invocation(
        &self,
        inv: &mut Investigation,
        invocation: &Invocation,
        task: Option<&TaskTag>,
        outcome: &mut InvokeOutcome,
        msg: String,
        status: InvokeStatus,
    ) {
        let id = self.push_engine_error(
            inv,
            &msg,
            &invocation.parent_content,
            &invocation.parent_id,
            task,
        );
        outcome.entries.push(id);
        outcome.status = status;
        outcome.error = Some(msg);
    }

    /// Run a command or script: resolve, bind, execute on every selected instance, write
    /// entries and context. Used by the war room and by playbook tasks.
    pub async fn invoke(
        &self,
        inv: &mut Investigation,
        scope: &mut ExecScope,
        invocation: Invocation,
    ) -> InvokeOutcome {
        let span =
            tracing::info_span!("command", command = %invocation.command, investigation = %inv.id);
        self.invoke_inner(inv, scope, invocation)
            .instrument(span)
            .await
    }

    async fn invoke_inner(
        &self,
        inv: &mut Investigation,
        scope: &mut ExecScope,
        invocation: Invocation,
    ) -> InvokeOutcome {
        let started = Instant::now();
        let lib = self.library();
        let registry = self.registry();
        let mut outcome = InvokeOutcome::new();
        let task = scope.task.clone();

        // 1. Evaluate argument values (DT) and pull out the special arguments. The inputs
        // are moved out of the invocation: plain values become argument values without a copy.
        let mut invocation = invocation;
        let inputs = std::mem::take(&mut invocation.named);
        let positional_inputs = std::mem::take(&mut invocation.positional);
        let mut named = Vec::with_capacity(inputs.len());
        let mut positional = Vec::with_capacity(positional_inputs.len());
        {
            let engine_roots = DtRoots {
                modules: registry.modules.clone(),
                lists: self.lists(),
            };
            let read = read_scope(inv, scope, &engine_roots);
            for (name, input) in inputs {
                match evaluate(input, &read) {
                    Ok(v) => named.push((name, v)),
                    Err(e) => {
                        drop(read);
                        self.fail_invocation(
                            inv,
                            &invocation,
                            task.as_ref(),
                            &mut outcome,
                            format!("Invalid value for argument '{name}': {e}"),
                            InvokeStatus::Error,
                        );
                        return outcome;
                    }
                }
            }
            for input in positional_inputs {
                match evaluate(input, &read) {
                    Ok(v) => positional.push(v),
                    Err(e) => {
                        drop(read);
                        self.fail_invocation(
                            inv,
                            &invocation,
                            task.as_ref(),
                            &mut outcome,
                            format!("Invalid positional value: {e}"),
                            InvokeStatus::Error,
                        );
                        return outcome;
                    }
                }
            }
        }
        let special = match args::take_special(&mut named) {
            Ok(s) => s,
            Err(msg) => {
                self.fail_invocation(
                    inv,
                    &invocation,
                    task.as_ref(),
                    &mut outcome,
                    msg,
                    InvokeStatus::Error,
                );
                return outcome;
            }
        };

        // 2. A hook (mocks) may handle the call before any instance is looked up.
        if let Some(hook) = self.hook() {
            if self
                .try_hook(
                    &hook,
                    inv,
                    scope,
                    &lib,
                    &invocation,
                    &special,
                    &named,
                    &positional,
                    &mut outcome,
                )
                .await
            {
                return outcome;
            }
        }

        // 3. Resolve the implementation and the instances to run on. A name no content
        // declares may be a connector's alias (`signl4_close`, the first release's name).
        let aliased;
        let invocation = match alias_target(&lib, &registry, &invocation.command) {
            Some(real) => {
                aliased = Invocation {
                    command: real,
                    ..invocation.clone()
                };
                &aliased
            }
            None => &invocation,
        };
        let targets = match resolve(&lib, &registry, invocation, &special) {
            Ok(t) => t,
            Err((msg, InvokeStatus::Unavailable))
                if task.as_ref().is_some_and(|t| t.skip_unavailable) =>
            {
                outcome.status = InvokeStatus::Unavailable;
                outcome.error = Some(msg);
                return outcome;
            }
            Err((msg, status)) => {
                self.fail_invocation(inv, invocation, task.as_ref(), &mut outcome, msg, status);
                return outcome;
            }
        };

        // 4. Bind, run and record, per instance.
        let single = targets.len() == 1;
        let mut named = Some(named);
        let mut positional = Some(positional);
        for target in targets {
            let (n, p) = if single {
                (
                    named.take().unwrap_or_default(),
                    positional.take().unwrap_or_default(),
                )
            } else {
                (
                    named.clone().unwrap_or_default(),
                    positional.clone().unwrap_or_default(),
                )
            };
            let open = OPEN_ARGUMENT_COMMANDS.contains(&target.definition.name.as_str());
            let rules = BindRules {
                reject_unknown: invocation.from_war_room,
                enforce_predefined: self.options.enforce_predefined,
            };
            let bound = match args::bind(&target.definition, n, p, rules, open) {
                Ok(b) => b,
                Err(msg) => {
                    self.fail_invocation(
                        inv,
                        invocation,
                        task.as_ref(),
                        &mut outcome,
                        msg,
                        InvokeStatus::Error,
                    );
                    continue;
                }
            };
            let (first, rest) = auto_iterate(&target.definition, bound);
            for call_args in std::iter::once(first).chain(rest) {
                self.run_on_instance(
                    inv,
                    scope,
                    invocation,
                    &special,
                    &target,
                    &call_args,
                    &mut outcome,
                )
                .await;
            }
        }
        tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, status = ?outcome.status, "command finished");
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_on_instance(
        &self,
        inv: &mut Investigation,
        scope: &mut ExecScope,
        invocation: &Invocation,
        special: &SpecialArgs,
        target: &Target<'_>,
        call_args: &Map<String, Value>,
        outcome: &mut InvokeOutcome,
    ) {
        let timeout = special
            .execution_timeout
            .or(target.definition_timeout.map(Duration::from_secs));
        let mut attempt = 0u32;
        let started = self.clock.now();
        let (results, debug_log) = loop {
            let registry_modules = self.modules();
            let lists = self.lists();
            let view = View {
                layers: &scope.private,
                investigation: inv,
                modules: &registry_modules,
                lists: &lists,
            };
            let call = CommandCall {
                command: &target.definition.name,
                args: call_args,
                timeout,
                debug: special.debug_mode,
                investigation: Some(&view),
            };
            let span = tracing::info_span!("instance", instance = %target.instance, brand = %target.brand, attempt);
            let res = target.connector.execute(call).instrument(span).await;
            let (results, log) = match res {
                Ok(out) => (out.results, out.debug_log),
                Err(e) => (
                    vec![CommandResult::error(mask_all(
                        &e.to_string(),
                        &target.secrets,
                    ))],
                    Vec::new(),
                ),
            };
            let failed = results.iter().any(CommandResult::is_error);
            if let Some(hook) = self.hook().filter(|_| target.brand != BUILTIN_BRAND) {
                let call = HookCall {
                    brand: Some(&target.brand),
                    command: &target.definition.name,
                    args: call_args,
                    instance: Some(&target.instance),
                    investigation: None,
                    private: &[],
                };
                hook.record(&call, &results);
            }
            if failed && attempt < special.retry_count {
                attempt += 1;
                tracing::info!(attempt, "command failed, retrying");
                self.clock.sleep(special.retry_interval).await;
                continue;
            }
            break (results, log);
        };
        let written_context = self
            .record_results(inv, scope, invocation, special, target, results, outcome)
            .await;
        if special.debug_mode {
            let id = self.push_debug_log(
                inv,
                invocation,
                target,
                call_args,
                &written_context,
                outcome,
                &debug_log,
                started,
            );
            outcome.entries.push(id);
        }
    }

    /// Write a command's results: entries, then context (EntryContext unless
    /// `ignore-outputs`, then `extend-context`), then effects. Returns the context written.
    #[allow(clippy::too_many_arguments)]
    async fn record_results(
        &self,
        inv: &mut Investigation,
        scope: &mut ExecScope,
        invocation: &Invocation,
        special: &SpecialArgs,
        target: &Target<'_>,
        results: Vec<CommandResult>,
        outcome: &mut InvokeOutcome,
    ) -> Map<String, Value> {
        let task_tag = scope.task.clone();
        let meta = EntryMeta {
            parent_content: &invocation.parent_content,
            parent_id: &invocation.parent_id,
            brand: &target.brand,
            instance: &target.instance,
            task: task_tag.as_ref(),
            simulated: target.simulated,
            raw_response: special.raw_response,
        };
        // Only a debug-mode run reports what was written; skip the copies otherwise.
        let keep_written = special.debug_mode;
        let mut written_context = Map::new();
        for mut result in results {
            if !target.secrets.is_empty() {
                mask_result(&mut result, &target.secrets);
            }
            if result.is_error() {
                outcome.status = InvokeStatus::Error;
                if outcome.error.is_none() {
                    outcome.error = result
                        .contents
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| Some(result.contents.to_string()));
                }
            } else if let Value::String(s) = &result.contents {
                outcome.last_text = Some(s.clone());
            }
            // Context: EntryContext (unless ignore-outputs), then extend-context, then effects.
            // The context is written from copies; the result itself then moves into the entry.
            let mut problems = Vec::new();
            {
                let ctx = match scope.private.last_mut() {
                    Some(p) => p,
                    None => &mut inv.context,
                };
                if !special.ignore_outputs {
                    for (key, value) in &result.entry_context {
                        if keep_written {
                            written_context.insert(key.clone(), value.clone());
                        }
                        if let Err(e) = xsoar_context::merge_entry_context(ctx, key, value.clone())
                        {
                            // The key is named once; the error says what is wrong with it.
                            let at = e
                                .position
                                .map(|p| format!(" (at offset {p})"))
                                .unwrap_or_default();
                            problems.push(format!(
                                "Could not write context key '{key}': {}{at}",
                                e.message
                            ));
                        }
                    }
                }
                for (key, path) in &special.extend_context {
                    match xsoar_context::eval_path_on(path, &result.contents) {
                        Ok(Some(v)) => {
                            if keep_written {
                                written_context.insert(key.clone(), v.clone());
                            }
                            if let Err(e) = xsoar_context::merge_entry_context(ctx, key, v) {
                                problems
                                    .push(format!("extend-context: could not write '{key}': {e}"));
                            }
                        }
                        Ok(None) => {}
                        Err(e) => problems.push(format!(
                            "extend-context: invalid path '{path}' for '{key}': {e}"
                        )),
                    }
                }
            }
            let effects = std::mem::take(&mut result.effects);
            // Quiet mode (§2.9) keeps errors and warnings only; the context is written above.
            let quiet = task_tag.as_ref().is_some_and(|t| t.quiet)
                && !result.is_error()
                && result.entry_type != EntryType::WARNING;
            if !quiet {
                let id = push_result(inv, result, &meta, &self.clock);
                outcome.entries.push(id);
            }
            for effect in &effects {
                self.apply_effect(inv, scope, effect, outcome).await;
            }
            for p in problems {
                let id = self.push_engine_error(
                    inv,
                    &p,
                    &invocation.parent_content,
                    &invocation.parent_id,
                    scope.task.as_ref(),
                );
                outcome.entries.push(id);
                outcome.status = InvokeStatus::Error;
            }
        }
        written_context
    }

    /// Offer the call to the hook; `true` when the hook handled it.
    #[allow(clippy::too_many_arguments)]
    async fn try_hook(
        &self,
        hook: &Arc<dyn CommandHook>,
        inv: &mut Investigation,
        scope: &mut ExecScope,
        lib: &Library,
        invocation: &Invocation,
        special: &SpecialArgs,
        named: &[(String, Value)],
        positional: &[Value],
        outcome: &mut InvokeOutcome,
    ) -> bool {
        let name = invocation.command.as_str();
        let is_builtin = builtins::IMPLEMENTED.contains(&name)
            && lib
                .commands_named_iter(name)
                .all(|(i, _)| i.name == BUILTIN_BRAND);
        if is_builtin {
            return false;
        }
        let def = lib.commands_named_iter(name).find(|(i, _)| {
            invocation
                .brand
                .as_deref()
                .is_none_or(|b| i.name == b || i.id == b)
        });
        let (brand, definition) = match def {
            Some((i, c)) => (Some(i.name.clone()), Some(c.clone())),
            None => (
                invocation.brand.clone(),
                lib.script(name).map(|s| s.signature.clone()),
            ),
        };
        let args = match &definition {
            Some(d) => {
                let rules = BindRules {
                    reject_unknown: invocation.from_war_room,
                    enforce_predefined: self.options.enforce_predefined,
                };
                let open = OPEN_ARGUMENT_COMMANDS.contains(&name);
                match args::bind(d, named.to_vec(), positional.to_vec(), rules, open) {
                    Ok(a) => a,
                    Err(msg) => {
                        let task = scope.task.clone();
                        self.fail_invocation(
                            inv,
                            invocation,
                            task.as_ref(),
                            outcome,
                            msg,
                            InvokeStatus::Error,
                        );
                        return true;
                    }
                }
            }
            None => named.iter().cloned().collect(),
        };
        let call = HookCall {
            brand: brand.as_deref(),
            command: name,
            args: &args,
            instance: None,
            investigation: Some(&*inv),
            private: &scope.private,
        };
        let instance = hook.instance_label(&call);
        // retry-count / retry-interval apply to mocked calls exactly as to real ones.
        let mut attempt = 0u32;
        let results = loop {
            let Some(result) = hook.intercept(&call).await else {
                return false;
            };
            let results = match result {
                Ok(out) => out.results,
                Err(e) => vec![CommandResult::error(e.to_string())],
            };
            if results.iter().any(CommandResult::is_error) && attempt < special.retry_count {
                attempt += 1;
                self.clock.sleep(special.retry_interval).await;
                continue;
            }
            break results;
        };
        let target = Target {
            definition: std::borrow::Cow::Owned(definition.unwrap_or_else(|| Command {
                name: name.to_owned(),
                description: String::new(),
                arguments: Vec::new(),
                outputs: Vec::new(),
                deprecated: false,
                hidden: false,
                execution: false,
                polling: false,
                timeout: None,
            })),
            definition_timeout: None,
            connector: Arc::new(builtins::Builtins),
            brand: Cow::Owned(brand.unwrap_or_else(|| "Scripts".into())),
            instance: Cow::Borrowed(instance),
            simulated: false,
            secrets: Cow::Borrowed(&[]),
        };
        self.record_results(inv, scope, invocation, special, &target, results, outcome)
            .await;
        true
    }

    async fn apply_effect(
        &self,
        inv: &mut Investigation,
        scope: &mut ExecScope,
        effect: &Effect,
        outcome: &mut InvokeOutcome,
    ) {
        let ctx = match scope.private.last_mut() {
            Some(p) => p,
            None => &mut inv.context,
        };
        match effect {
            Effect::SetContext { path, value } => xsoar_context::set_path(ctx, path, value.clone()),
            Effect::DeleteContext { path, global } => {
                let ctx = if *global { &mut inv.context } else { ctx };
                xsoar_context::delete_path(ctx, path);
            }
            Effect::DeleteContextIndex {
                path,
                index,
                global,
            } => {
                let ctx = if *global { &mut inv.context } else { ctx };
                xsoar_context::delete_index(ctx, path, *index);
            }
            Effect::ClearContext { keep, global } => {
                let ctx = if *global { &mut inv.context } else { ctx };
                let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
                xsoar_context::clear_except(ctx, &keep);
            }
            Effect::SetList { name, data } => {
                self.set_list(name, data);
                let observer = self.list_observer.read().ok().and_then(|o| o.clone());
                if let Some(observer) = observer {
                    observer(&ListChange {
                        name: name.clone(),
                        data: data.clone(),
                    });
                }
            }
            Effect::UpdateIncident { fields } => update_incident(&mut inv.incident, fields),
            Effect::CloseInvestigation { reason, notes } => {
                let mut fields = Map::new();
                fields.insert("status".into(), Value::from(2));
                fields.insert("closed".into(), Value::String(rfc3339(self.clock.now())));
                if let Some(r) = reason {
                    fields.insert("closeReason".into(), Value::String(r.clone()));
                }
                if let Some(n) = notes {
                    fields.insert("closeNotes".into(), Value::String(n.clone()));
                }
                update_incident(&mut inv.incident, &fields);
            }
            Effect::CompleteTask { task, label } => {
                outcome.completions.push((task.clone(), label.clone()))
            }
            Effect::Sleep { seconds } => {
                self.clock
                    .sleep(Duration::from_secs_f64(seconds.clamp(0.0, 1e9)))
                    .await
            }
            Effect::SetSla { field, sla } => {
                // Checked by setIncident before the effect was made.
                if let Some(sla) = crate::timer::parse_sla(sla) {
                    crate::timer::set_sla(
                        &mut inv.incident,
                        field.as_deref(),
                        sla,
                        self.clock.now(),
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_debug_log(
        &self,
        inv: &mut Investigation,
        invocation: &Invocation,
        target: &Target<'_>,
        call_args: &Map<String, Value>,
        written_context: &Map<String, Value>,
        outcome: &InvokeOutcome,
        log: &[String],
        started: std::time::SystemTime,
    ) -> CompactString {
        let human: String = outcome
            .entries
            .iter()
            .filter_map(|id| inv.entry(id))
            .map(Entry::display_text)
            .collect::<Vec<_>>()
            .join("\n");
        let raw = outcome
            .entries
            .iter()
            .filter_map(|id| inv.entry(id))
            .map(|e| e.contents.clone())
            .next_back()
            .unwrap_or(Value::Null);
        let mut text = String::new();
        text.push_str(&format!("Executed: {}\n", target.definition.name));
        text.push_str(&format!("Instance {}\n", target.instance));
        // The arguments as sent, secret arguments masked as in the echoed line.
        let mut shown_args = call_args.clone();
        self.mask_secret_arguments(&target.definition.name, &mut shown_args);
        text.push_str(&format!("Arguments {}\n", Value::Object(shown_args)));
        text.push_str(&format!("Start time {}\n\n\n", rfc3339(started)));
        text.push_str("Entry\n");
        text.push_str(&format!("Executed on {}\n\n", rfc3339(self.clock.now())));
        text.push_str("Context Outputs:\n");
        let ctx = serde_json::to_string_pretty(&Value::Object(written_context.clone()))
            .unwrap_or_default();
        text.push_str(&ctx.replace('&', "\\u0026"));
        text.push_str("\n\nHuman Readable section:\n");
        text.push_str(&Value::String(human).to_string());
        text.push_str("\n\nRaw Response section:\n");
        text.push_str(&raw.to_string());
        text.push_str("\n\n");
        if !log.is_empty() {
            text.push_str("Full Integration Log:\n");
            for l in log {
                text.push_str(l);
                text.push('\n');
            }
            text.push('\n');
        }
        text.push_str(&format!("End time {}\n", rfc3339(self.clock.now())));
        let text = mask_all(&text, &target.secrets);
        let file_name = format!("{}-debug.log", target.definition.name);
        let file_id = format!("debug-{}", inv.entries.len() + 1);
        inv.files.insert(file_id.clone(), text.into_bytes());
        let id = inv.next_entry_id();
        inv.entries.push(Box::new(Entry {
            parent_content: invocation.parent_content.as_str().into(),
            parent_id: invocation.parent_id.clone(),
            brand: CompactString::from(&*target.brand),
            instance: CompactString::from(&*target.instance),
            user: CompactString::const_new("DBot"),
            category: CompactString::const_new("artifact"),
            file: CompactString::from(file_name.as_str()),
            file_id: file_id.into(),
            simulated: target.simulated,
            ..Entry::new(
                id.clone(),
                CompactString::from(inv.id.as_str()),
                16,
                Value::String(file_name),
                rfc3339_compact(self.clock.now()),
            )
        }));
        id
    }
}

/// An implementation chosen for an invocation.
struct Target<'l> {
    definition: std::borrow::Cow<'l, Command>,
    definition_timeout: Option<u64>,
    connector: Arc<dyn Connector>,
    brand: Cow<'l, str>,
    instance: Cow<'l, str>,
    simulated: bool,
    secrets: Cow<'l, [Secret]>,
}

fn resolve<'l>(
    lib: &'l Library,
    registry: &'l Registry,
    invocation: &Invocation,
    special: &SpecialArgs,
) -> Result<Vec<Target<'l>>, (String, InvokeStatus)> {
    let name = invocation.command.as_str();
    let brand_ok = |brand: &str, integration: &xsoar_content::Integration| {
        integration.name == brand || integration.id == brand
    };
    let defs: Vec<_> = lib
        .commands_named_iter(name)
        .filter(|(i, _)| invocation.brand.as_deref().is_none_or(|b| brand_ok(b, i)))
        .collect();
    if !defs.is_empty() {
        // Usually one instance runs the command.
        let mut targets = Vec::with_capacity(1);
        for instance in &registry.instances {
            let Some((integration, command)) =
                defs.iter().find(|(i, _)| i.name == instance.spec.brand)
            else {
                continue;
            };
            if !instance.spec.enabled {
                continue;
            }
            if special
                .using
                .as_deref()
                .is_some_and(|u| u != instance.spec.name)
            {
                continue;
            }
            if special
                .using_brand
                .as_deref()
                .is_some_and(|b| b != instance.spec.brand)
            {
                continue;
            }
            if special
                .using_category
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case(&integration.category))
            {
                continue;
            }
            let Ok(connector) = &instance.connector else {
                continue;
            };
            targets.push(Target {
                definition: std::borrow::Cow::Borrowed(*command),
                definition_timeout: command.timeout,
                connector: connector.clone(),
                brand: Cow::Borrowed(&instance.spec.brand),
                instance: Cow::Borrowed(&instance.spec.name),
                simulated: instance.spec.simulated,
                secrets: Cow::Borrowed(&instance.secrets),
            });
        }
        if !targets.is_empty() {
            return Ok(targets);
        }
        // A script with the same name can still run (scripts and commands share a namespace).
        if lib.script(name).is_none() || invocation.brand.is_some() {
            let brands: Vec<&str> = defs.iter().map(|(i, _)| i.name.as_str()).collect();
            let msg = match &special.using {
                Some(u) => {
                    let known = registry.find(u);
                    match known {
                        None => format!(
                            "No instance named '{u}' (command '{name}' is implemented by {})",
                            brands.join(", ")
                        ),
                        Some(i) if !i.spec.enabled => format!("Instance '{u}' is disabled"),
                        Some(i) => match &i.connector {
                            Err(e) => format!("Instance '{u}' cannot run: {e}"),
                            Ok(_) => format!(
                                "Instance '{u}' ({}) does not implement '{name}'",
                                i.spec.brand
                            ),
                        },
                    }
                }
                None if special.using_brand.is_some() || special.using_category.is_some() => {
                    // The instances that would have run it, had the filter let them.
                    let usable: Vec<String> = registry
                        .instances
                        .iter()
                        .filter(|i| brands.contains(&i.spec.brand.as_str()) && i.spec.enabled)
                        .filter(|i| i.connector.is_ok())
                        .map(|i| {
                            let category = defs
                                .iter()
                                .find(|(d, _)| d.name == i.spec.brand)
                                .map(|(d, _)| d.category.as_str())
                                .unwrap_or_default();
                            format!(
                                "'{}' ({}, category '{category}')",
                                i.spec.name, i.spec.brand
                            )
                        })
                        .collect();
                    let filter = match (&special.using_brand, &special.using_category) {
                        (Some(b), Some(c)) => format!("of brand '{b}' in category '{c}'"),
                        (Some(b), None) => format!("of brand '{b}'"),
                        (None, Some(c)) => format!("in category '{c}'"),
                        (None, None) => String::new(),
                    };
                    if usable.is_empty() {
                        format!(
                            "No enabled integration instance {filter} implements '{name}' (integration: {})",
                            brands.join(", ")
                        )
                    } else {
                        format!(
                            "No enabled integration instance {filter} implements '{name}'; it runs on {} (drop using-brand/using-category or change it)",
                            usable.join(", ")
                        )
                    }
                }
                None => {
                    let broken: Vec<String> = registry
                        .instances
                        .iter()
                        .filter(|i| brands.contains(&i.spec.brand.as_str()) && i.spec.enabled)
                        .filter_map(|i| {
                            i.connector
                                .as_ref()
                                .err()
                                .map(|e| format!("{}: {e}", i.spec.name))
                        })
                        .collect();
                    if broken.is_empty() {
                        format!(
                            "No enabled integration instance implements '{name}' (integration: {}). Configure an instance of it",
                            brands.join(", ")
                        )
                    } else {
                        format!(
                            "No usable instance implements '{name}': {}",
                            broken.join("; ")
                        )
                    }
                }
            };
            return Err((msg, InvokeStatus::Unavailable));
        }
    }
    if let Some(script) = lib.script(name).filter(|_| {
        invocation
            .brand
            .as_deref()
            .is_none_or(|b| b.is_empty() || b == BUILTIN_BRAND)
    }) {
        if builtins::IMPLEMENTED.contains(&script.name.as_str()) {
            let builtin = registry
                .find(BUILTIN_BRAND)
                .and_then(|i| i.connector.as_ref().ok().cloned());
            if let Some(connector) = builtin {
                return Ok(vec![Target {
                    definition: std::borrow::Cow::Borrowed(&script.signature),
                    definition_timeout: None,
                    connector,
                    brand: Cow::Borrowed(BUILTIN_BRAND),
                    instance: Cow::Borrowed(BUILTIN_BRAND),
                    simulated: false,
                    secrets: Cow::Borrowed(&[]),
                }]);
            }
        }
        return Err((
            format!(
                "Script '{name}' is loaded but the emulator cannot run its code; provide a mock for it (xsoar-emu test --mocks)"
            ),
            InvokeStatus::Unavailable,
        ));
    }
    let mut msg = format!("Unsupported command or script: {name}");
    if let Some(s) = suggest(lib, name) {
        msg.push_str(&format!(" (did you mean '{s}'?)"));
    }
    Err((msg, InvokeStatus::Unavailable))
}

/// The real command name behind a connector alias, when `name` is not declared anywhere.
fn alias_target(lib: &Library, registry: &Registry, name: &str) -> Option<String> {
    if lib.has_command(name) || lib.script(name).is_some() {
        return None;
    }
    registry
        .instances
        .iter()
        .filter(|i| i.spec.enabled && i.connector.is_ok())
        .flat_map(|i| i.aliases.iter())
        .find(|(alias, _)| *alias == name)
        .map(|(_, real)| (*real).to_owned())
}

/// The next `name=` in `text` (at the start of a token) whose name is one of `names`: the
/// offset of the value after `=`.
fn next_secret_assignment(text: &str, names: &[String]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for name in names {
        let pattern = format!("{name}=");
        let mut from = 0;
        while let Some(i) = text[from..].find(&pattern) {
            let at = from + i;
            let token_start = text[..at]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace);
            if token_start {
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, at + pattern.len()));
                }
                break;
            }
            from = at + pattern.len();
        }
    }
    best.map(|(_, value_start)| value_start)
}

/// The length of the argument value at the start of `text`: a quoted value through its closing
/// quote (backslash escapes honoured in `"` and `'`), the rest of the text when the quote is
/// not closed, a bare value up to the next whitespace.
fn value_len(text: &str) -> usize {
    let Some(quote) = text
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))
    else {
        return text.find(char::is_whitespace).unwrap_or(text.len());
    };
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote != '`' {
            escaped = true;
        } else if c == quote {
            return i + c.len_utf8();
        }
    }
    text.len()
}

/// The closest known command or script name, for typos.
fn suggest(lib: &Library, name: &str) -> Option<String> {
    let names: Vec<&str> = lib
        .integrations()
        .flat_map(|i| i.commands.iter().map(|c| c.name.as_str()))
        .chain(lib.scripts().map(|s| s.name.as_str()))
        .collect();
    closest_name(name, names).map(str::to_owned)
}

/// The candidate closest to `name` (case-insensitive edit distance of at most 2, or a quarter
/// of the candidate's length), for "did you mean" hints.
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                crate::eval::edit_distance(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `isArray: false` arguments given a list of several values run the command once per
/// element (§8.5); several such arguments are zipped by index, shorter ones omitted.
/// Returns the first call's arguments and those of the calls after it (usually none).
fn auto_iterate(
    def: &Command,
    bound: Map<String, Value>,
) -> (Map<String, Value>, Vec<Map<String, Value>>) {
    let iterated: Vec<(String, Vec<Value>)> = bound
        .iter()
        .filter(|(k, v)| {
            matches!(v, Value::Array(a) if a.len() > 1)
                && def.argument(k).is_some_and(|a| !a.is_array)
        })
        .map(|(k, v)| (k.clone(), v.as_array().cloned().unwrap_or_default()))
        .collect();
    if iterated.is_empty() {
        return (bound, Vec::new());
    }
    let n = iterated.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
    let mut calls = (0..n).map(|i| {
        let mut args = bound.clone();
        for (k, values) in &iterated {
            match values.get(i) {
                Some(v) => {
                    args.insert(k.clone(), v.clone());
                }
                None => {
                    args.remove(k);
                }
            }
        }
        args
    });
    let first = calls.next().unwrap_or_default();
    (first, calls.collect())
}

fn invocation_from_line(cl: CommandLine, shown: String, echo: CompactString) -> Invocation {
    let mut named = Vec::with_capacity(cl.args.len());
    let mut positional = Vec::new();
    for a in cl.args {
        match a.key {
            Some(k) => named.push((k, ArgInput::Template(a.value))),
            None => positional.push(ArgInput::Template(a.value)),
        }
    }
    Invocation {
        command: cl.name,
        named,
        positional,
        brand: None,
        parent_content: shown,
        parent_id: echo,
        from_war_room: true,
    }
}

/// The DT view of an invocation: special roots, private contexts, the investigation context.
/// The computed roots are built on first use: most argument values hold no `${...}`.
pub(crate) fn read_scope<'a>(
    inv: &'a Investigation,
    scope: &'a ExecScope,
    engine_roots: &'a DtRoots,
) -> ReadScope<'a> {
    ReadScope {
        inv,
        scope,
        engine_roots,
        roots: std::cell::OnceCell::new(),
    }
}

/// The DT roots the engine holds rather than the investigation, taken once per evaluation.
pub(crate) struct DtRoots {
    /// `modules`: the instances.
    pub(crate) modules: Arc<Value>,
    /// `lists`: XSOAR lists (JSON lists parsed).
    pub(crate) lists: Arc<Lists>,
}

pub(crate) struct ReadScope<'a> {
    inv: &'a Investigation,
    scope: &'a ExecScope,
    engine_roots: &'a DtRoots,
    /// `lastCompletedTaskEntries` and `currentPlaybookID`.
    roots: std::cell::OnceCell<(Value, Value)>,
}

impl ReadScope<'_> {
    pub(crate) fn dt(&self) -> Scope<'_> {
        let (entries_value, playbook_id) = self.roots.get_or_init(|| {
            (
                Value::Array(
                    self.scope
                        .last_completed_task_entries
                        .iter()
                        .map(|id| Value::String(id.to_string()))
                        .collect(),
                ),
                self.scope
                    .current_playbook_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            )
        });
        let mut layers = self.scope.private.iter().rev();
        let mut s = match layers.next() {
            Some(first) => Scope::new(first),
            None => Scope::new(&self.inv.context),
        };
        if !self.scope.private.is_empty() {
            for l in layers {
                s = s.with_fallback(l);
            }
            s = s.with_fallback(&self.inv.context);
        }
        s = s
            .with_root("incident", &self.inv.incident)
            .with_root("modules", &self.engine_roots.modules)
            .with_root("lists", self.engine_roots.lists.root())
            .with_root("lastCompletedTaskEntries", entries_value)
            .with_root("currentPlaybookID", playbook_id);
        if let Some(inputs) = &self.scope.inputs {
            s = s.with_root("inputs", inputs);
        }
        s
    }
}

fn evaluate(input: ArgInput, read: &ReadScope<'_>) -> Result<Value, String> {
    match input {
        ArgInput::Value(v) => Ok(v),
        ArgInput::Template(t) => {
            if !t.contains("${") {
                return Ok(Value::String(t));
            }
            match xsoar_context::interpolate(&t, &read.dt()) {
                Ok(Interpolated::Value(v)) => Ok(v),
                Ok(Interpolated::Missing) => Ok(Value::Null),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

struct EntryMeta<'a> {
    parent_content: &'a str,
    parent_id: &'a str,
    brand: &'a str,
    instance: &'a str,
    task: Option<&'a TaskTag>,
    simulated: bool,
    raw_response: bool,
}

fn push_result(
    inv: &mut Investigation,
    result: CommandResult,
    meta: &EntryMeta<'_>,
    clock: &Arc<dyn Clock>,
) -> CompactString {
    let id = inv.next_entry_id();
    let is_error = result.is_error();
    let CommandResult {
        entry_type,
        contents,
        contents_format,
        human_readable,
        entry_context,
        effects: _,
        tags,
        note,
    } = result;
    let (human_readable, format) = if meta.raw_response {
        let f = if contents.is_string() {
            contents_format
        } else {
            "json".into()
        };
        (None, f)
    } else {
        (human_readable, contents_format)
    };
    let (task_id, playbook_id, entry_task, category) = match meta.task {
        Some(t) => (
            CompactString::from(t.task_id.as_str()),
            CompactString::from(t.playbook_id.as_str()),
            Some(Box::new(EntryTask {
                playbook_name: t.playbook_name.clone(),
                task_id: t.task_id.clone(),
                task_name: t.task_name.clone(),
            })),
            if is_error {
                "playbookErrors"
            } else {
                "playbookTaskResult"
            },
        ),
        None => (
            CompactString::const_new(""),
            CompactString::const_new(""),
            None,
            "commandAndResults",
        ),
    };
    inv.entries.push(Box::new(Entry {
        id: id.clone(),
        investigation_id: CompactString::from(inv.id.as_str()),
        entry_type: entry_type.0,
        contents,
        format,
        human_readable,
        parent_content: CompactString::from(meta.parent_content),
        parent_id: CompactString::from(meta.parent_id),
        brand: CompactString::from(meta.brand),
        instance: CompactString::from(meta.instance),
        created: rfc3339_compact(clock.now()),
        user: CompactString::const_new("DBot"),
        category: CompactString::const_new(category),
        task_id,
        playbook_id,
        entry_task,
        note: note || meta.task.is_some_and(|t| t.note),
        tags,
        file: CompactString::const_new(""),
        file_id: CompactString::const_new(""),
        entry_context: (!entry_context.is_empty()).then(|| Box::new(entry_context)),
        simulated: meta.simulated,
    }));
    id
}

/// Defence in depth: whatever a connector returned, an instance secret never reaches an entry.
fn mask_result(result: &mut CommandResult, secrets: &[Secret]) {
    fn mask_value(v: &mut Value, secrets: &[Secret]) {
        match v {
            Value::String(s) if secrets.iter().any(|sec| sec.occurs_in(s)) => {
                *s = mask_all(s, secrets);
            }
            Value::Array(a) => a.iter_mut().for_each(|x| mask_value(x, secrets)),
            Value::Object(o) => o.values_mut().for_each(|x| mask_value(x, secrets)),
            _ => {}
        }
    }
    mask_value(&mut result.contents, secrets);
    if let Some(h) = &mut result.human_readable {
        if secrets.iter().any(|sec| sec.occurs_in(h)) {
            *h = mask_all(h, secrets);
        }
    }
    for v in result.entry_context.values_mut() {
        mask_value(v, secrets);
    }
}

/// Read-only view handed to connectors (builtins read context and entries through it).
struct View<'a> {
    /// The private contexts of the sub-playbooks the command runs in, outermost first (the
    /// command writes to the last, or to the investigation's context when there is none).
    layers: &'a [Value],
    investigation: &'a Investigation,
    modules: &'a Value,
    lists: &'a Lists,
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("investigation", &self.investigation.id)
            .finish()
    }
}

impl InvestigationView for View<'_> {
    fn context(&self) -> &Value {
        self.layers.last().unwrap_or(&self.investigation.context)
    }
    fn incident(&self) -> &Value {
        &self.investigation.incident
    }
    fn entry_type(&self, entry_id: &str) -> Option<i64> {
        self.investigation.entry(entry_id).map(|e| e.entry_type)
    }
    fn entry_contents(&self, entry_id: &str) -> Option<Value> {
        self.investigation
            .entry(entry_id)
            .map(|e| e.contents.clone())
    }
    fn modules(&self) -> Vec<Value> {
        self.modules.as_array().cloned().unwrap_or_default()
    }
    fn in_private_subplaybook(&self) -> bool {
        !self.layers.is_empty()
    }
    fn investigation_context(&self) -> &Value {
        &self.investigation.context
    }
    fn context_layers(&self) -> Vec<&Value> {
        self.layers
            .iter()
            .rev()
            .chain(std::iter::once(&self.investigation.context))
            .collect()
    }
    fn list(&self, name: &str) -> Option<&str> {
        self.lists.get(name)
    }
    fn lists_root(&self) -> Option<&Value> {
        Some(self.lists.root())
    }
}
