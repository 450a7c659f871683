//! Offline runner for XSOAR test playbooks.
//!
//! Content developers can only run XSOAR test playbooks on a live server. This crate runs
//! them on the emulator's engine instead: each test playbook on a fresh investigation and a
//! virtual clock, its integration commands answered by mocks (or, when asked, by real
//! instances while recording a mock file), GenericPolling performed natively so polling
//! playbooks finish in milliseconds, and the results written as console text, JUnit XML and
//! JSON.
//!
//! * [`mocks`]: the mock file format (documented in `docs/mocks.md`) and matching;
//! * [`hook`]: the engine hook that answers commands from mocks and implements
//!   `RunPollingCommand` / `ScheduleGenericPolling`;
//! * [`polling`]: the scheduled polls, on the virtual clock;
//! * [`runner`]: one engine per test, parallel runs;
//! * [`select`]: discovery (`TestPlaybooks/` layout), `--filter`, `--shard`;
//! * [`report`]: failure analysis, JUnit XML, JSON;
//! * [`record`]: real executions back into a mock file;
//! * [`lint`]: warnings about mocks that load but can never apply.
//!
//! Like the engine, this crate does no IO of its own: it takes file contents and returns
//! texts, and the binary reads and writes the files.

pub mod hook;
pub mod lint;
pub mod mocks;
pub mod polling;
pub mod reads;
pub mod record;
pub mod report;
pub mod runner;
pub mod select;

pub use hook::{Live, PollRequest, RecordedCall, TestHook, NATIVE_SCRIPTS};
pub use lint::lint;
pub use mocks::{Fixture, Matcher, Mock, MockError, MockErrors, MockSet, Selection};
pub use record::recording_yaml;
pub use report::{
    failing_top_task, failure_details, human_ms, human_virtual, json_report, junit_xml,
    summary_line, ContextRead, FailedTask, Failure, JunitMeta, Predecessor, TestResult,
};
pub use runner::{mock_instance_name, EngineTemplate, RunConfig, Runner, Spawner};
pub use select::{name_matches, select, test_cases, Shard, TestCase};
