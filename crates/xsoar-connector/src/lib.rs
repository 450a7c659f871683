//! The plugin API shared by the engine and every connector.
//!
//! XSOAR integrations are YAML definitions plus code; the emulator does not run the code, it
//! runs a native implementation of each integration's commands. Those implementations are
//! *connectors*: a crate that depends on this one only, exposes a [`ConnectorFactory`] for its
//! brand (the integration `name`), and builds one [`Connector`] per configured instance.
//!
//! This crate is deliberately tiny (the model is ripgrep's `grep-matcher`): the engine and the
//! connectors agree on it, and nothing here knows about HTTP servers, storage or the CLI.
//!
//! What a connector returns is XSOAR's *result dict* ([`CommandResult`], §4.1 of the
//! semantics): entry type, contents, human readable markdown and `EntryContext`. Builtin
//! scripts (`Set`, `DeleteContext`, ...) are connectors too; the few effects that cannot be
//! expressed as an `EntryContext` merge (overwrite, delete, incident updates) travel as
//! [`Effect`]s that the engine applies.

mod markdown;
mod result;
mod secret;

/// Short text without an allocation (up to 24 bytes inline): entry fields, formats, ids.
pub use compact_str::CompactString;
pub use markdown::{
    format_cell, python_json_dumps, table_to_markdown, table_to_markdown_with, TableOptions,
};
pub use result::{CommandResult, Effect, EntryType, Outputs};
pub use secret::{mask_secret_in, Secret, MASK};

use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of a command after the engine parsed, interpolated and validated them.
///
/// Values are JSON: strings for everything typed in the war room, any JSON type when a
/// playbook passes a context value (XSOAR hands the same types to integration code).
pub type Args = Map<String, Value>;

/// One execution of a command on one instance.
#[derive(Debug)]
pub struct CommandCall<'a> {
    /// The command name, as declared in the integration YAML (or an alias the connector knows).
    pub command: &'a str,
    /// Validated arguments with defaults applied; special arguments (`using=`, ...) removed.
    pub args: &'a Args,
    /// `execution-timeout=` when given, else `None` (the connector's default applies).
    pub timeout: Option<Duration>,
    /// `debug-mode=true`: the connector may add details to [`CommandOutput::debug_log`].
    pub debug: bool,
    /// Read-only view of the investigation, for builtins that read context or entries.
    pub investigation: Option<&'a dyn InvestigationView>,
}

/// Read access to the investigation a command runs in (used by builtin scripts).
pub trait InvestigationView: Send + Sync + std::fmt::Debug {
    /// The investigation's context (the JSON object written by commands).
    fn context(&self) -> &Value;
    /// The incident object (`${incident.*}`), custom fields flattened in.
    fn incident(&self) -> &Value;
    /// Entry type of a war-room entry by id (`12@7`), if the entry exists.
    fn entry_type(&self, entry_id: &str) -> Option<i64>;
    /// Contents of a war-room entry by id, if the entry exists.
    fn entry_contents(&self, entry_id: &str) -> Option<Value>;
    /// Enabled instances as XSOAR's `modules` list (`{brand, name, category, state}`).
    fn modules(&self) -> Vec<Value>;
    /// Whether the command runs as a task of a sub-playbook with a private context.
    fn in_private_subplaybook(&self) -> bool {
        false
    }
    /// The investigation's own context, also when the command runs in a sub-playbook with a
    /// private context (where [`InvestigationView::context`] is the private one).
    fn investigation_context(&self) -> &Value {
        self.context()
    }
    /// The contexts a read looks in, innermost first: a sub-playbook's private context, the
    /// private contexts of the sub-playbooks around it, then the investigation's. A key missing
    /// in one is read from the next, as DT reads it.
    fn context_layers(&self) -> Vec<&Value> {
        vec![self.context()]
    }
    /// The text of an XSOAR list (`getList`, `${lists.<name>}`), if the list exists.
    fn list(&self, _name: &str) -> Option<&str> {
        None
    }
    /// Every list as DT reads it (`{name: text, or its JSON}`), for builtins that evaluate DT.
    fn lists_root(&self) -> Option<&Value> {
        None
    }
}

/// What a command execution produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CommandOutput {
    /// One result dict per war-room entry, in order.
    pub results: Vec<CommandResult>,
    /// Free-form execution log lines (requests made, timings) for `debug-mode=true`.
    /// Connectors must never put secrets here.
    pub debug_log: Vec<String>,
}

impl CommandOutput {
    /// An output with exactly one result.
    pub fn single(result: CommandResult) -> Self {
        Self {
            results: vec![result],
            debug_log: Vec::new(),
        }
    }
}

impl From<CommandResult> for CommandOutput {
    fn from(result: CommandResult) -> Self {
        Self::single(result)
    }
}

/// A configured instance of an integration, as the connector sees it.
#[derive(Clone)]
pub struct InstanceConfig {
    /// Instance name (`SIGNL4_instance_1`), what `using=` refers to.
    pub name: String,
    /// Integration brand (the integration YAML `name`).
    pub brand: String,
    /// Instance parameters (`params()` of XSOAR): `name -> value`.
    pub params: Map<String, Value>,
    /// Names of parameters whose values are secret (types 4, 9, 14): masked in Debug output.
    pub secret_params: Vec<String>,
}

impl InstanceConfig {
    /// A string parameter (numbers and booleans are stringified).
    pub fn param_str(&self, name: &str) -> Option<String> {
        match self.params.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// A boolean parameter; accepts JSON booleans and the strings `true`/`false`/`yes`/`no`.
    pub fn param_bool(&self, name: &str) -> Option<bool> {
        match self.params.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Some(true),
                "false" | "no" | "0" | "" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A secret parameter. Type 9 (credentials) values are objects `{identifier, password}`:
    /// the password is the secret. Plain strings are accepted as well.
    pub fn param_secret(&self, name: &str) -> Option<Secret> {
        match self.params.get(name)? {
            Value::String(s) if !s.is_empty() => Some(Secret::new(s.clone())),
            Value::Object(obj) => obj
                .get("password")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| Secret::new(s.to_owned())),
            _ => None,
        }
    }
}

impl fmt::Debug for InstanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Map<String, Value> = self
            .params
            .iter()
            .map(|(k, v)| {
                let shown = if self.secret_params.iter().any(|s| s == k) {
                    Value::String(secret::MASK.to_owned())
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect();
        f.debug_struct("InstanceConfig")
            .field("name", &self.name)
            .field("brand", &self.brand)
            .field("params", &params)
            .finish()
    }
}

/// Builds connectors for one brand. Registered once in the binary.
pub trait ConnectorFactory: Send + Sync {
    /// The integration brand this factory serves (the integration YAML `name`).
    fn brand(&self) -> &str;
    /// Build the connector for one instance (validates parameters, creates HTTP clients).
    fn build(&self, instance: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError>;

    /// Secrets an instance's parameters hold beyond its declared secret parameters — a
    /// webhook URL pasted with the secret in its path — so the engine masks them wherever it
    /// masks the declared ones (listings, entries, errors). Default: none.
    fn extra_secrets(&self, _instance: &InstanceConfig) -> Vec<Secret> {
        Vec::new()
    }

    /// Command names the connectors of this brand accept beyond the YAML, as (alias, real
    /// name): `signl4_close`, the first release's name. The engine dispatches an alias to the
    /// real command; the test runner accepts mocks for it. Default: none.
    fn aliases(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Instance parameters the connectors of this brand read beyond those the integration
    /// YAML declares (SIGNL4's advanced `url`, which the official pack's YAML lacks), so a
    /// configuration that sets one is not refused as a typo. Default: none.
    fn extra_params(&self) -> &'static [&'static str] {
        &[]
    }
}

/// One instance's implementation of an integration's commands.
pub trait Connector: Send + Sync {
    /// Execute a command. A failure the user should see as an error entry may be returned
    /// either as `Err` or as an `Ok` output holding an error result; `Err` is simpler.
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>>;

    /// The instance's Test button (`test-module`): `Ok(())` means XSOAR's `ok`.
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>>;
}

/// Why a command could not produce a result. Displayed verbatim in the error entry, so every
/// message says what failed and what to check, and never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The connector does not implement that command.
    #[error("the {brand} integration does not implement command '{command}'")]
    UnknownCommand { brand: String, command: String },
    /// An argument is missing or has a value the connector cannot use.
    #[error("invalid argument '{name}': {message}")]
    InvalidArgument { name: String, message: String },
    /// The instance configuration is unusable (missing secret, bad URL).
    #[error("instance configuration error: {0}")]
    Config(String),
    /// The remote service answered with a non-2xx status.
    #[error("{message}")]
    Http { status: u16, message: String },
    /// The remote service could not be reached (refused, DNS, TLS).
    #[error("{0}")]
    Connection(String),
    /// The request did not complete in time.
    #[error("{0}")]
    Timeout(String),
    /// Anything else (an unexpected response body, for instance).
    #[error("{0}")]
    Other(String),
}
