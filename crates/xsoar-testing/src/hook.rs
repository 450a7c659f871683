//! The command hook of a test run: mocks first, then native GenericPolling scripts, then
//! (only when asked) real instances.
//!
//! One hook serves one test playbook run on its own engine, so "how often was this mock
//! used" and "which polls were scheduled" are plain per-run state. Builtins (`Set`, `Print`,
//! `DeleteContext`, ...) never reach the hook: the engine runs them natively.
//!
//! GenericPolling's scripts are Python in XSOAR and run here natively:
//! * `RunPollingCommand` runs the polling command once, through the engine (so the command is
//!   mocked, or recorded, like any other), and returns its entries as its own;
//! * `ScheduleGenericPolling` only registers a [`PollRequest`]: the runner performs the
//!   scheduled polls on the run's virtual clock once the playbook waits on the task tagged
//!   `polling` (see [`crate::polling`]), because only the runner can read the context and
//!   complete the waiting task.

use crate::mocks::{MockSet, Selection};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::SystemTime;
use xsoar_connector::{mask_secret_in, CommandOutput, CommandResult, ConnectorError, MASK};
use xsoar_engine::{
    ArgInput, CommandHook, Engine, Entry, ExecScope, HookCall, Investigation, Invocation,
};

/// GenericPolling's `RunPollingCommand` script, run natively in test runs.
pub const RUN_POLLING_COMMAND: &str = "RunPollingCommand";
/// GenericPolling's `ScheduleGenericPolling` script, run natively in test runs.
pub const SCHEDULE_GENERIC_POLLING: &str = "ScheduleGenericPolling";
/// The scripts a test run implements natively (no content declares them).
pub const NATIVE_SCRIPTS: &[&str] = &[RUN_POLLING_COMMAND, SCHEDULE_GENERIC_POLLING];

/// Whether commands without a mock may reach real instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Live {
    /// Never: a command without a mock fails (no network IO at all).
    #[default]
    Off,
    /// Commands of these brands or instances run on the configured instances when no mock
    /// answers them.
    Allow(Vec<String>),
    /// Every command without a mock runs for real, and every real execution is recorded.
    Record,
    /// Every command without a mock runs on the configured instances, nothing is recorded:
    /// an ordinary run that only wants GenericPolling performed natively (`playbook run`).
    All,
}

impl Live {
    fn allows(&self, call: &HookCall<'_>, instances: &[(String, String)]) -> bool {
        match self {
            Live::Off => false,
            Live::Record | Live::All => true,
            Live::Allow(names) => call.brand.is_some_and(|brand| {
                names.iter().any(|n| {
                    n.eq_ignore_ascii_case(brand)
                        || instances
                            .iter()
                            .any(|(inst, b)| inst == n && b.eq_ignore_ascii_case(brand))
                })
            }),
        }
    }
}

/// A real execution seen while recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// Brand of the implementation.
    pub brand: Option<String>,
    /// Command name.
    pub command: String,
    /// Arguments after binding.
    pub args: Map<String, Value>,
    /// The arguments among `args` the command declares `secret: true`: a recorded mock file
    /// matches them with `*` (any value) instead of writing them down.
    pub secret: Vec<String>,
    /// What it returned.
    pub results: Vec<CommandResult>,
}

/// A `ScheduleGenericPolling` call: what to poll, how often, until when.
#[derive(Debug, Clone, PartialEq)]
pub struct PollRequest {
    /// Ids to poll.
    pub ids: Vec<String>,
    /// DT expression that yields the ids still pending.
    pub dt: String,
    /// The polling command.
    pub command: String,
    /// The argument of the polling command that receives the ids.
    pub arg_name: String,
    /// Further (name, value) arguments of the polling command.
    pub extra_args: Vec<(String, String)>,
    /// Minutes between polls.
    pub interval_minutes: u64,
    /// Minutes after which polling stops.
    pub timeout_minutes: u64,
    /// Tag (or id) of the task to complete when polling ends.
    pub tag: String,
    /// Run id of the (sub-)playbook that scheduled it (its context is the polling context).
    pub playbook_run: Option<String>,
    /// When it was scheduled (engine clock).
    pub scheduled_at: SystemTime,
}

#[derive(Debug, Default)]
struct State {
    uses: Vec<u32>,
    polls: Vec<PollRequest>,
    recorded: Vec<RecordedCall>,
    missing: Vec<String>,
}

/// The hook installed on a test run's engine.
#[derive(Debug)]
pub struct TestHook {
    mocks: Arc<MockSet>,
    playbook_id: String,
    playbook_name: String,
    live: Live,
    /// (instance, brand) of the configured instances, for `Live::Allow` by instance name.
    instances: Vec<(String, String)>,
    engine: OnceLock<Weak<Engine>>,
    state: Mutex<State>,
}

impl TestHook {
    /// A hook for one run of test playbook (`id`, `name`).
    pub fn new(
        mocks: Arc<MockSet>,
        playbook_id: &str,
        playbook_name: &str,
        live: Live,
        instances: Vec<(String, String)>,
    ) -> Self {
        let uses = vec![0; mocks.mocks().len()];
        Self {
            mocks,
            playbook_id: playbook_id.to_owned(),
            playbook_name: playbook_name.to_owned(),
            live,
            instances,
            engine: OnceLock::new(),
            state: Mutex::new(State {
                uses,
                ..State::default()
            }),
        }
    }

    /// A hook for an ordinary run of `playbook` (id, name): no mocks, every command runs on
    /// the configured instances, and GenericPolling's scripts run natively. Bind it to the
    /// engine, install it, and after the run call [`crate::polling::drive`].
    pub fn native_polling(playbook_id: &str, playbook_name: &str) -> Self {
        Self::new(
            Arc::new(MockSet::new()),
            playbook_id,
            playbook_name,
            Live::All,
            Vec::new(),
        )
    }

    /// Give the hook its engine (for `RunPollingCommand` and latencies). A weak reference:
    /// the engine owns the hook.
    pub fn bind(&self, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    fn engine(&self) -> Option<Arc<Engine>> {
        self.engine.get().and_then(Weak::upgrade)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Polls scheduled since the last call.
    pub fn take_polls(&self) -> Vec<PollRequest> {
        std::mem::take(&mut self.state().polls)
    }

    /// Real executions seen so far.
    pub fn take_recorded(&self) -> Vec<RecordedCall> {
        std::mem::take(&mut self.state().recorded)
    }

    /// Missing-mock messages so far.
    pub fn missing(&self) -> Vec<String> {
        self.state().missing.clone()
    }

    /// How often each mock answered (indexed like [`MockSet::mocks`]).
    pub fn uses(&self) -> Vec<u32> {
        self.state().uses.clone()
    }

    async fn answer(&self, call: &HookCall<'_>) -> Option<Result<CommandOutput, ConnectorError>> {
        // The command's `secret: true` arguments: a mismatch quotes none of their values.
        let secret = self
            .engine()
            .map(|e| e.secret_args(call.command))
            .unwrap_or_default();
        let selection = {
            let mut st = self.state();
            let sel = self.mocks.select(
                call,
                &self.playbook_id,
                &self.playbook_name,
                &st.uses,
                &secret,
            );
            if let Selection::Found(i) = sel {
                if let Some(u) = st.uses.get_mut(i) {
                    *u += 1;
                }
            }
            sel
        };
        match selection {
            Selection::Found(i) => {
                let mock = self.mocks.mocks().get(i)?;
                tracing::debug!(command = %call.command, mock = %mock.name, "mocked");
                if !mock.latency.is_zero() {
                    if let Some(engine) = self.engine() {
                        engine.clock().sleep(mock.latency).await;
                    }
                }
                Some(Ok(CommandOutput {
                    results: mock.results.clone(),
                    debug_log: Vec::new(),
                }))
            }
            Selection::Missing(why_not) => {
                if self.live.allows(call, &self.instances) {
                    return None;
                }
                let message = self.missing_message(call, &why_not);
                self.state().missing.push(message.clone());
                Some(Err(ConnectorError::Other(message)))
            }
        }
    }

    fn missing_message(&self, call: &HookCall<'_>, why_not: &[String]) -> String {
        let key = match call.brand {
            Some(b) if !b.is_empty() => format!("{b}|||{}", call.command),
            _ => call.command.to_owned(),
        };
        let secret = self
            .engine()
            .map(|e| e.secret_args(call.command))
            .unwrap_or_default();
        let args: Vec<String> = call
            .args
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                if secret.contains(k) {
                    format!("{k}={MASK}")
                } else {
                    format!("{k}={}", json_text(v))
                }
            })
            .collect();
        let args = if args.is_empty() {
            "no arguments".to_owned()
        } else {
            args.join(" ")
        };
        let searched = if self.mocks.files().is_empty() {
            "no mock files were given (use --mocks FILE_OR_FOLDER)".to_owned()
        } else {
            format!("mock files searched: {}", self.mocks.files().join(", "))
        };
        let mut msg = format!(
            "No mock for command '{key}' ({args}) in test playbook '{}'; {searched}.",
            self.playbook_name
        );
        if !why_not.is_empty() {
            msg.push_str(" Mocks of this command that did not apply: ");
            // A mismatch quotes the value it saw; a secret argument's value is masked.
            let mut reasons = why_not.join("; ");
            for name in &secret {
                let value = call.args.get(name).map(xsoar_context::to_display_string);
                if let Some(value) = value {
                    reasons = mask_secret_in(&reasons, &value);
                }
            }
            msg.push_str(&reasons);
            msg.push('.');
        }
        msg.push_str(
            " Add a mock (docs/mocks.md), record one with --record FILE, or let the brand run on a configured instance with --allow-live BRAND.",
        );
        msg
    }

    /// `RunPollingCommand`: run the polling command once with the ids joined by commas.
    async fn run_polling_command(
        &self,
        call: &HookCall<'_>,
    ) -> Result<CommandOutput, ConnectorError> {
        let args = call.args;
        let command = text_arg(args, "pollingCommand").ok_or_else(|| missing("pollingCommand"))?;
        let arg_name = text_arg(args, "pollingCommandArgName").unwrap_or_else(|| "ids".into());
        let ids = list_arg(args.get("ids"));
        let extra = extra_args(args)?;
        let engine = self
            .engine()
            .ok_or_else(|| ConnectorError::Other("RunPollingCommand: the engine is gone".into()))?;
        let mut named: Vec<(String, Value)> = extra
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        named.push((arg_name, Value::String(ids.join(","))));
        let reads = call.investigation.map(|inv| (inv, call.private));
        let results = run_nested(&engine, &command, named, reads).await;
        Ok(CommandOutput {
            results,
            debug_log: Vec::new(),
        })
    }

    /// `ScheduleGenericPolling`: validate and register the poll.
    fn schedule_polling(&self, call: &HookCall<'_>) -> Result<CommandOutput, ConnectorError> {
        let args = call.args;
        let command = text_arg(args, "pollingCommand").ok_or_else(|| missing("pollingCommand"))?;
        let dt = text_arg(args, "dt").ok_or_else(|| missing("dt"))?;
        let minutes = |name: &str| -> Result<u64, ConnectorError> {
            let text = text_arg(args, name).unwrap_or_default();
            match text.trim().parse::<f64>() {
                Ok(n) if n >= 1.0 && n.is_finite() => Ok(n as u64),
                _ => Err(ConnectorError::InvalidArgument {
                    name: name.into(),
                    message: format!(
                        "Interval and timeout must be positive numbers of minutes (got '{text}')"
                    ),
                }),
            }
        };
        let interval_minutes = minutes("interval")?;
        let timeout_minutes = minutes("timeout")?;
        let request = PollRequest {
            ids: list_arg(args.get("ids")),
            dt: dt.clone(),
            command: command.clone(),
            arg_name: text_arg(args, "pollingCommandArgName").unwrap_or_else(|| "ids".into()),
            extra_args: extra_args(args)?,
            interval_minutes,
            timeout_minutes,
            tag: text_arg(args, "tag").unwrap_or_else(|| "polling".into()),
            playbook_run: text_arg(args, "playbookId"),
            scheduled_at: self
                .engine()
                .map(|e| e.clock().now())
                .unwrap_or(SystemTime::UNIX_EPOCH),
        };
        let text = format!(
            "Polling scheduled: `!{command}` every {interval_minutes} min for up to {timeout_minutes} min, until `{dt}` returns nothing (virtual clock)."
        );
        self.state().polls.push(request);
        Ok(CommandOutput::single(CommandResult::markdown(text)))
    }
}

impl CommandHook for TestHook {
    fn intercept<'a>(
        &'a self,
        call: &'a HookCall<'a>,
    ) -> BoxFuture<'a, Option<Result<CommandOutput, ConnectorError>>> {
        Box::pin(async move {
            // A mock wins even for the native scripts, so a test can stub them out.
            let mocked = self.mocks.mocks().iter().any(|m| m.command == call.command);
            if !mocked {
                match call.command {
                    RUN_POLLING_COMMAND => return Some(self.run_polling_command(call).await),
                    SCHEDULE_GENERIC_POLLING => return Some(self.schedule_polling(call)),
                    _ => {}
                }
            }
            self.answer(call).await
        })
    }

    fn instance_label(&self, call: &HookCall<'_>) -> &'static str {
        let native = matches!(call.command, "RunPollingCommand" | "ScheduleGenericPolling")
            && !self.mocks.mocks().iter().any(|m| m.command == call.command);
        if native {
            "native"
        } else {
            "mock"
        }
    }

    fn record(&self, call: &HookCall<'_>, output: &[CommandResult]) {
        if self.live == Live::All {
            return;
        }
        let secret = self
            .engine()
            .map(|e| e.secret_args(call.command))
            .unwrap_or_default()
            .into_iter()
            .filter(|name| call.args.contains_key(name))
            .collect();
        self.state().recorded.push(RecordedCall {
            brand: call.brand.map(str::to_owned),
            command: call.command.to_owned(),
            args: call.args.clone(),
            secret,
            results: output.to_vec(),
        });
    }
}

/// Run a command on a scratch investigation and return its entries as result dicts.
pub(crate) async fn run_nested(
    engine: &Arc<Engine>,
    command: &str,
    named: Vec<(String, Value)>,
    reads: Option<(&Investigation, &[Value])>,
) -> Vec<CommandResult> {
    // A scratch copy of what the command may read (the investigation's context and incident,
    // the private contexts around it), as XSOAR runs it in the same investigation; what it
    // writes comes back as its results only.
    let mut scope = ExecScope::default();
    let mut scratch = match reads {
        Some((inv, private)) => {
            let mut copy = Investigation::new(inv.id.clone(), inv.incident.clone());
            copy.context = inv.context.clone();
            scope.private = private.to_vec();
            copy
        }
        None => Investigation::new("polling", json!({})),
    };
    let shown = render_command(engine, command, &named);
    let invocation = Invocation {
        command: command.to_owned(),
        named: named
            .into_iter()
            .map(|(k, v)| (k, ArgInput::Value(v)))
            .collect(),
        positional: Vec::new(),
        brand: None,
        parent_content: shown,
        parent_id: Default::default(),
        from_war_room: false,
    };
    let outcome = engine.invoke(&mut scratch, &mut scope, invocation).await;
    outcome
        .entries
        .iter()
        .filter_map(|id| scratch.entry(id))
        .map(entry_to_result)
        .collect()
}

/// The result dict an entry was written from.
pub(crate) fn entry_to_result(e: &Entry) -> CommandResult {
    let mut r = CommandResult::text(String::new());
    r.entry_type = xsoar_connector::EntryType(e.entry_type);
    r.contents = e.contents.clone();
    r.contents_format = e.format.clone();
    r.human_readable = e.human_readable.clone();
    r.entry_context = e.entry_context.as_deref().cloned().unwrap_or_default();
    r.tags = e.tags.clone();
    r.note = e.note;
    r
}

/// `!command a=b c="d e"` for entries and reports; the values of the command's
/// `secret: true` arguments show as `******`, as in the war-room echo.
pub(crate) fn render_command(engine: &Engine, command: &str, args: &[(String, Value)]) -> String {
    let secret = engine.secret_args(command);
    let mut s = format!("!{command}");
    for (k, v) in args {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        if secret.contains(k) {
            s.push_str(MASK);
        } else {
            s.push_str(&json_text(v));
        }
    }
    s
}

/// A value as typed on a command line: bare when simple (and the `******` of a masked
/// secret), else double-quoted.
pub(crate) fn json_text(v: &Value) -> String {
    let text = xsoar_context::to_display_string(v);
    if text == MASK {
        return text;
    }
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.:@/+".contains(c))
    {
        text
    } else {
        Value::String(text).to_string()
    }
}

fn missing(name: &str) -> ConnectorError {
    ConnectorError::InvalidArgument {
        name: name.into(),
        message: "is required".into(),
    }
}

fn text_arg(args: &Map<String, Value>, name: &str) -> Option<String> {
    args.get(name)
        .filter(|v| !v.is_null())
        .map(xsoar_context::to_display_string)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// XSOAR's `argToList`: a list, a JSON list in text, or comma-separated text.
pub(crate) fn list_arg(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter(|i| !i.is_null())
            .map(xsoar_context::to_display_string)
            .collect(),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.starts_with('[') {
                if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(t) {
                    return list_arg(Some(&Value::Array(items)));
                }
            }
            t.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        }
        Some(other) => vec![xsoar_context::to_display_string(other)],
    }
}

/// `additionalPollingCommandArgNames` zipped with `...ArgValues`.
fn extra_args(args: &Map<String, Value>) -> Result<Vec<(String, String)>, ConnectorError> {
    let names = list_arg(args.get("additionalPollingCommandArgNames"));
    let values = list_arg(args.get("additionalPollingCommandArgValues"));
    if names.len() != values.len() {
        return Err(ConnectorError::InvalidArgument {
            name: "additionalPollingCommandArgValues".into(),
            message: format!(
                "arg names and arg values lists do not match: names ({}): {names:?}, values ({}): {values:?}",
                names.len(),
                values.len()
            ),
        });
    }
    Ok(names.into_iter().zip(values).collect())
}
