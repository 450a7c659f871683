//! The SIGNL4 integration: a connector for the `SIGNL4` brand and a local SIGNL4 simulator.
//!
//! # Why this crate exists
//!
//! The official XSOAR pack (`Packs/SIGNL4`) is a thin Python wrapper around SIGNL4's inbound
//! webhook: `POST https://connect.signl4.com/webhook/{secret}` with a JSON body. The emulator
//! does not run Python, so this crate re-implements the pack's two commands natively and
//! byte-for-byte where it is observable (URL, JSON body and key order, context outputs,
//! readable output, error text), and adds what a local tool needs on top: retries, clear
//! messages, a debug log, and a simulator so playbooks can run without a SIGNL4 account.
//!
//! # Commands
//!
//! | command | body sent | context |
//! |---|---|---|
//! | `signl4_alert` | `Title`, `Message`, `X-S4-ExternalID`, `X-S4-Status: "new"`, `X-S4-Service`, `X-S4-Location`, `X-S4-AlertingScenario`, `X-S4-Filtering`, `X-S4-SourceSystem: "CortexXSOAR"` | `SIGNL4.AlertCreated` |
//! | `signl4_close_alert` (alias `signl4_close`) | `X-S4-ExternalID`, `X-S4-Status: "resolved"`, `X-S4-SourceSystem` | `SIGNL4.AlertClosed` |
//! | `test-module` | `{"title": "Test Alert from Cortex XSOAR", "X-S4-SourceSystem": "CortexXSOAR"}` | none |
//!
//! # Decisions
//!
//! * **Unset arguments are sent as JSON `null`**, exactly as the official pack does (Python
//!   `None` in the payload dict). SIGNL4 treats `null` as absent, and keeping the same body
//!   means a captured request from XSOAR and one from the emulator compare equal.
//! * **Argument values are sent as given** (strings from the war room, any JSON type from a
//!   playbook), again like the pack; SIGNL4 decides what it accepts.
//! * **Retries**: HTTP 429 and 5xx, and connection failures that happen before the request
//!   is written (refused, DNS, other connect errors), are retried up to [`RetryPolicy::max_attempts`] attempts in
//!   total with exponential backoff. A wait the server asks for (`Retry-After` in seconds or
//!   as an HTTP date, or `X-RateLimit-Reset` as a unix timestamp on 429) is honoured; if it is
//!   longer than [`RetryPolicy::max_delay`] the connector stops and reports when to retry.
//!   Timeouts and TLS failures are not retried: after a timeout SIGNL4 may already have
//!   created the alert, and a certificate problem does not go away by itself.
//! * **Redirects are not followed**: a 301/302 turns the POST into a GET and silently drops
//!   the alert, so the redirect is reported instead (update the `url` parameter).
//! * **The secret never leaves the request line.** Logs, debug lines, errors and `Debug`
//!   output show the webhook URL as `/webhook/******`; reqwest errors are stripped of their
//!   URL and every message is passed through [`xsoar_connector::Secret::mask_in`].
//! * **With `debug-mode=true` a failure is returned as `Ok` holding an error entry** (type 4,
//!   the same text as the `Err` would carry) so the debug log survives: a
//!   [`xsoar_connector::ConnectorError`] cannot carry one.
//!
//! # Simulator
//!
//! [`sim`] is an axum application that behaves like SIGNL4's webhook intake (status codes,
//! rate-limit headers, alert lifecycle by external id) and exposes what it received, for
//! tests and for running playbooks offline. See the module docs.

mod connector;
mod deadline;
mod http;
mod payload;
mod retry;
pub mod sim;

pub use connector::{factory, Signl4Connector, Signl4Factory};
pub use retry::RetryPolicy;

/// The integration brand (the integration YAML `name`).
pub const BRAND: &str = "SIGNL4";

/// SIGNL4's service URL, used when the instance has no `url` parameter.
pub const DEFAULT_URL: &str = "https://connect.signl4.com";

/// `X-S4-SourceSystem` value the official pack sends.
pub const SOURCE_SYSTEM: &str = "CortexXSOAR";

/// Per-request timeout when the command has no `execution-timeout`.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Command names (as in the integration YAML).
pub mod commands {
    /// Trigger an alert.
    pub const ALERT: &str = "signl4_alert";
    /// Resolve the alerts of an external id.
    pub const CLOSE_ALERT: &str = "signl4_close_alert";
    /// Name of the close command in the pack's first release, accepted as an alias.
    pub const CLOSE_ALIAS: &str = "signl4_close";
}
