//! The XSOAR engine: war-room command line, argument binding, dispatch to connectors,
//! entries, context writes, builtins, and (in [`playbook`]) playbook execution.
//!
//! Invariant: this crate does no IO. It never touches the filesystem, the network, the
//! environment or the system clock; content arrives as parsed models, connectors are
//! `dyn Connector` plugins, time comes from an injected [`Clock`]. That keeps every
//! behaviour testable in-process and deterministic under a [`VirtualClock`].

pub mod args;
pub mod builtins;
pub mod clock;
pub mod cmdline;
mod engine;
pub mod entry;
pub mod eval;
pub mod fields;
pub mod investigation;
pub mod lists;
pub mod playbook;
mod registry;
pub mod timer;

pub use clock::{rfc3339, rfc3339_compact, Clock, VirtualClock};
pub use engine::{
    builtin_library, closest_name, ArgInput, CommandHook, Engine, EngineOptions, ExecScope,
    HookCall, Invocation, InvokeOutcome, InvokeStatus, LineOutcome, TaskTag,
};
pub use entry::{CompactString, Entry, EntryTask};
pub use investigation::Investigation;
pub use lists::{ListChange, ListObserver, Lists};
pub use playbook::{
    PlaybookRun, ProgressFn, RunError, RunOptions, RunState, TaskCompletion, TaskProgress,
    TaskState,
};
pub use registry::{InstanceInfo, InstanceSpec};
