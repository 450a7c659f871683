//! One webhook call: send, retry when that can help, and turn every failure into a message
//! that says what went wrong and what to check.
//!
//! The messages start like the official pack's (CommonServerPython `BaseClient`):
//! `Error in API call to SIGNL4 integration [<status>] - <reason>`, so playbooks and people
//! that match on that prefix keep working. What follows is added for the person reading the
//! war room: SIGNL4's own words from the reply body and the setting to look at.
//!
//! The request URL carries the secret, so nothing here formats it: logs and messages use the
//! masked URL, reqwest errors are stripped of theirs, and every text that came from outside
//! (reply bodies, error chains, `Location`) goes through [`Masker::mask`].

use crate::deadline::DeadlineTimers;
use crate::retry::{format_duration, format_time, server_wait, RetryPolicy, ServerWait};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use serde_json::{Map, Value};
use std::error::Error as _;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};
use xsoar_connector::{ConnectorError, Secret};

/// How much of a reply body goes into an error message.
const MESSAGE_SNIPPET: usize = 300;
/// How much of a reply body goes into a debug log line.
const DEBUG_SNIPPET: usize = 4000;

/// Hides a secret in text, in its raw and its percent-encoded (URL path) form.
#[derive(Clone)]
pub(crate) struct Masker {
    raw: Secret,
    encoded: Secret,
}

impl Masker {
    pub(crate) fn new(raw: Secret, encoded: Secret) -> Self {
        Self { raw, encoded }
    }

    pub(crate) fn mask(&self, text: &str) -> String {
        self.encoded.mask_in(&self.raw.mask_in(text))
    }
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Masker(******)")
    }
}

/// Lines for `CommandOutput::debug_log`, collected only when the call asked for them.
#[derive(Debug, Default)]
pub(crate) struct DebugLog(Option<Vec<String>>);

impl DebugLog {
    pub(crate) fn new(enabled: bool) -> Self {
        Self(enabled.then(Vec::new))
    }

    fn enabled(&self) -> bool {
        self.0.is_some()
    }

    fn line(&mut self, masker: &Masker, text: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.0 {
            lines.push(masker.mask(&text()));
        }
    }

    pub(crate) fn push(&mut self, masker: &Masker, text: impl FnOnce() -> String) {
        self.line(masker, text);
    }

    pub(crate) fn into_lines(self) -> Option<Vec<String>> {
        self.0
    }
}

/// A failed call, already worded for the war room and free of the secret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// SIGNL4 answered with a non-2xx status.
    #[error("Error in API call to SIGNL4 integration [{status}] - {reason}{}\n{hint}", said_line(.said))]
    Http {
        status: u16,
        reason: String,
        said: Option<String>,
        hint: String,
    },
    /// No connection (refused, DNS, TLS, reset).
    #[error("{0}")]
    Connection(String),
    /// The request or the reply did not complete in time.
    #[error("{0}")]
    Timeout(String),
    /// A 2xx reply that is not what SIGNL4 sends, or a reply that could not be read.
    #[error("{0}")]
    Reply(String),
}

fn said_line(said: &Option<String>) -> String {
    match said {
        Some(s) => format!("\nSIGNL4 said: {s}"),
        None => String::new(),
    }
}

impl CallError {
    pub(crate) fn into_connector_error(self, masker: &Masker) -> ConnectorError {
        let message = masker.mask(&self.to_string());
        match self {
            CallError::Http { status, .. } => ConnectorError::Http { status, message },
            CallError::Connection(_) => ConnectorError::Connection(message),
            CallError::Timeout(_) => ConnectorError::Timeout(message),
            CallError::Reply(_) => ConnectorError::Other(message),
        }
    }
}

/// Everything needed to reach one instance's webhook.
pub(crate) struct Endpoint {
    pub(crate) client: reqwest::Client,
    /// The webhook URL, secret included. Never formatted.
    pub(crate) url: Url,
    /// The webhook URL with the secret segment replaced by `******`.
    pub(crate) masked_url: String,
    /// The configured base URL (no secret), for messages.
    pub(crate) base: String,
    /// `host:port`, for messages.
    pub(crate) host: String,
    /// The host name alone, for DNS messages.
    pub(crate) host_name: String,
    /// Said after connection failures: which proxy (if any) the instance uses.
    pub(crate) proxy_note: String,
    pub(crate) masker: Masker,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
    /// Deadlines of calls in flight (a timer shared by calls that start close together).
    pub(crate) deadlines: DeadlineTimers,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.masked_url)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why sending failed before any reply arrived.
#[derive(Debug)]
enum SendFailure {
    Timeout,
    Refused(String),
    Dns(String),
    Tls(String),
    /// Anything else; `connecting` when it happened before the request was written.
    Other {
        detail: String,
        connecting: bool,
    },
}

impl SendFailure {
    fn classify(error: reqwest::Error, masker: &Masker) -> Self {
        if error.is_timeout() {
            return SendFailure::Timeout;
        }
        let connecting = error.is_connect();
        let error = error.without_url();
        // reqwest's and hyper's own layers ("error sending request", "client error (Connect)")
        // say nothing the message does not; keep them only when nothing else is known.
        let mut chain: Vec<String> = Vec::new();
        let mut refused = false;
        let mut source = error.source();
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return SendFailure::Timeout;
                }
            }
            let text = s.to_string();
            if !text.starts_with("client error (") && chain.last() != Some(&text) {
                chain.push(text);
            }
            source = s.source();
        }
        if chain.is_empty() {
            chain.push(error.to_string());
        }
        let detail = masker.mask(&chain.join(": "));
        let lower = detail.to_ascii_lowercase();
        if refused {
            SendFailure::Refused(detail)
        } else if [
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "invalidcontenttype",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            SendFailure::Tls(detail)
        } else if [
            "dns error",
            "lookup address",
            "name or service not known",
            "no such host",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            SendFailure::Dns(detail)
        } else {
            SendFailure::Other { detail, connecting }
        }
    }

    fn retryable(&self, policy: &RetryPolicy) -> bool {
        policy.retry_connect_errors
            && matches!(
                self,
                SendFailure::Refused(_)
                    | SendFailure::Dns(_)
                    | SendFailure::Other {
                        connecting: true,
                        ..
                    }
            )
    }

    fn detail(&self) -> &str {
        match self {
            SendFailure::Timeout => "timed out",
            SendFailure::Refused(d)
            | SendFailure::Dns(d)
            | SendFailure::Tls(d)
            | SendFailure::Other { detail: d, .. } => d,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            SendFailure::Timeout => "timeout",
            SendFailure::Refused(_) => "connection refused",
            SendFailure::Dns(_) => "DNS failure",
            SendFailure::Tls(_) => "TLS failure",
            SendFailure::Other { .. } => "connection failure",
        }
    }
}

impl Endpoint {
    /// POST the encoded JSON `payload` to the webhook; the reply object (holding `eventId`)
    /// on success.
    pub(crate) async fn post(
        &self,
        payload: Vec<u8>,
        timeout: Option<Duration>,
        log: &mut DebugLog,
    ) -> Result<Map<String, Value>, CallError> {
        let timeout = timeout.unwrap_or(self.timeout);
        let attempts = self.retry.attempts();
        log.line(&self.masker, || {
            format!("request body: {}", String::from_utf8_lossy(&payload))
        });
        // Shared by every attempt without copying.
        let payload = bytes::Bytes::from(payload);
        let mut attempt = 0;
        loop {
            attempt += 1;
            log.line(&self.masker, || {
                format!(
                    "POST {} (attempt {attempt}/{attempts}, timeout {})",
                    self.masked_url,
                    format_duration(timeout)
                )
            });
            tracing::debug!(url = %self.masked_url, attempt, attempts, "sending SIGNL4 webhook request");
            let started = Instant::now();
            // The whole exchange (connect, send, reply body) runs against one deadline.
            let mut deadline = self.deadlines.after(timeout);
            let request = self
                .client
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(payload.clone())
                .send();
            let sent = tokio::select! {
                biased;
                sent = request => sent.map_err(|e| SendFailure::classify(e, &self.masker)),
                () = &mut deadline => Err(SendFailure::Timeout),
            };
            let response = match sent {
                Ok(response) => response,
                Err(failure) => {
                    let elapsed = started.elapsed();
                    log.line(&self.masker, || {
                        format!(
                            "{} after {} ms: {}",
                            failure.label(),
                            elapsed.as_millis(),
                            failure.detail()
                        )
                    });
                    if attempt < attempts && failure.retryable(&self.retry) {
                        let wait = self.retry.backoff(attempt);
                        tracing::warn!(url = %self.masked_url, attempt, wait_ms = wait.as_millis() as u64, failure = failure.label(), "retrying SIGNL4 webhook request");
                        log.line(&self.masker, || {
                            format!(
                                "retrying in {} after {}",
                                format_duration(wait),
                                failure.label()
                            )
                        });
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(self.send_error(failure, attempt, timeout));
                }
            };
            let status = response.status();
            // Headers matter for retries, errors and the debug log; a plain success needs none.
            let headers = if status.is_success() && !log.enabled() {
                HeaderMap::new()
            } else {
                response.headers().clone()
            };
            let body = tokio::select! {
                biased;
                body = response.bytes() => body.map_err(|e| SendFailure::classify(e, &self.masker)),
                () = &mut deadline => Err(SendFailure::Timeout),
            };
            let bytes = match body {
                Ok(bytes) => bytes,
                Err(failure) => {
                    log.line(&self.masker, || {
                        format!("reading the reply failed: {}", failure.detail())
                    });
                    return Err(match failure {
                        SendFailure::Timeout => self.timeout_error(timeout),
                        other => CallError::Reply(format!(
                            "SIGNL4 answered {status} but reading the reply from {} failed: {}. \
                             Check the network and proxy between the emulator and SIGNL4.",
                            self.host,
                            other.detail()
                        )),
                    });
                }
            };
            let elapsed = started.elapsed();
            tracing::info!(url = %self.masked_url, status = status.as_u16(), elapsed_ms = elapsed.as_millis() as u64, attempt, "SIGNL4 replied");
            log.line(&self.masker, || {
                format!(
                    "response: {status} after {} ms{}",
                    elapsed.as_millis(),
                    rate_limit_summary(&headers)
                )
            });
            log.line(&self.masker, || {
                format!(
                    "response body: {}",
                    truncate(&String::from_utf8_lossy(&bytes), DEBUG_SNIPPET)
                )
            });
            if status.is_success() {
                return self.event_reply(status, &bytes);
            }
            let text = String::from_utf8_lossy(&bytes);
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if retryable && attempt < attempts {
                let hint = server_wait(
                    &headers,
                    status == StatusCode::TOO_MANY_REQUESTS,
                    SystemTime::now(),
                );
                let wait = match &hint {
                    Some(hint) if hint.wait > self.retry.max_delay => {
                        log.line(&self.masker, || {
                            format!(
                                "not retrying: {} asks for {}, more than the {} cap",
                                hint.header,
                                format_duration(hint.wait),
                                format_duration(self.retry.max_delay)
                            )
                        });
                        return Err(self.http_error(status, &headers, &text, attempt, true));
                    }
                    Some(hint) => hint.wait,
                    None => self.retry.backoff(attempt),
                };
                tracing::warn!(url = %self.masked_url, status = status.as_u16(), attempt, wait_ms = wait.as_millis() as u64, "retrying SIGNL4 webhook request");
                log.line(&self.masker, || {
                    format!("retrying in {} after {status}", format_duration(wait))
                });
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(self.http_error(status, &headers, &text, attempt, false));
        }
    }

    /// A 2xx reply: SIGNL4 answers `{"eventId": "..."}`; anything else is reported.
    fn event_reply(
        &self,
        status: StatusCode,
        bytes: &[u8],
    ) -> Result<Map<String, Value>, CallError> {
        match serde_json::from_slice::<Map<String, Value>>(bytes) {
            Ok(map) if map.get("eventId").is_some_and(|v| !v.is_null()) => Ok(map),
            _ => {
                let text = String::from_utf8_lossy(bytes);
                let got = if text.trim().is_empty() {
                    "an empty body".to_owned()
                } else {
                    format!(
                        "'{}'",
                        self.masker.mask(&truncate(text.trim(), MESSAGE_SNIPPET))
                    )
                };
                Err(CallError::Reply(format!(
                    "SIGNL4 answered {status} but the reply holds no eventId (got {got}). \
                     Check that the url parameter ({}) points at SIGNL4's webhook service \
                     (https://connect.signl4.com) or at a SIGNL4 simulator, not at another server.",
                    self.masker.mask(&self.base)
                )))
            }
        }
    }

    fn http_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        text: &str,
        attempts: u32,
        wait_too_long: bool,
    ) -> CallError {
        let code = status.as_u16();
        let reason = status
            .canonical_reason()
            .unwrap_or("Unknown Status")
            .to_owned();
        let said = signl4_said(text).map(|s| self.masker.mask(&s));
        let gave_up = if attempts > 1 {
            format!(" Gave up after {attempts} attempts.")
        } else {
            String::new()
        };
        let hint = match code {
            404 => "The secret (instance parameter 'secret') matches no SIGNL4 webhook: copy the team \
                    or integration secret again from the SIGNL4 portal; if the url parameter points \
                    at a simulator, use one of the simulator's secrets."
                .to_owned(),
            400 => "SIGNL4 rejected the request body. Check the command arguments (title, message and \
                    the s4_* values)."
                .to_owned(),
            401 | 403 => "SIGNL4 refused the request. Check the team or integration secret (instance \
                          parameter 'secret') and that the team or integration is still active."
                .to_owned(),
            405 => format!(
                "SIGNL4 does not accept POST at this URL. Check that the url parameter ({}) is the \
                 SIGNL4 service root (https://connect.signl4.com).",
                self.masker.mask(&self.base)
            ),
            429 => self.throttle_hint(headers, wait_too_long, &gave_up),
            300..=399 => {
                let to = headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|l| format!(" to '{}'", self.masker.mask(l)))
                    .unwrap_or_default();
                format!(
                    "SIGNL4 redirected the request{to}. Redirects are not followed because they turn \
                     the POST into a GET and drop the alert: update the url parameter ({}).",
                    self.masker.mask(&self.base)
                )
            }
            500..=599 => {
                let wait = if wait_too_long { self.too_long_note(headers) } else { String::new() };
                format!(
                    "SIGNL4's service failed to process the event; the instance configuration is \
                     probably fine.{wait}{gave_up} Try again later."
                )
            }
            _ => format!(
                "Check the url parameter ({}) and the command arguments.",
                self.masker.mask(&self.base)
            ),
        };
        CallError::Http {
            status: code,
            reason,
            said,
            hint,
        }
    }

    fn throttle_hint(&self, headers: &HeaderMap, wait_too_long: bool, gave_up: &str) -> String {
        let limit = header(headers, "x-ratelimit-limit")
            .map(|l| format!(" (limit {l} events per window)"))
            .unwrap_or_default();
        let when = match server_wait(headers, true, SystemTime::now()) {
            Some(w) => format!(
                " Intake is blocked until the limit resets in {} (at {}, from {}); run the command again after that.",
                whole_seconds(&w),
                format_time(w.at),
                w.header
            ),
            None => " SIGNL4 did not say when the window resets; wait and run the command again.".to_owned(),
        };
        let too_long = if wait_too_long {
            format!(
                " That is longer than the {} this integration waits between attempts, so it did not retry.",
                format_duration(self.retry.max_delay)
            )
        } else {
            String::new()
        };
        format!("SIGNL4 is throttling events for this account{limit}.{when}{too_long}{gave_up}")
    }

    fn too_long_note(&self, headers: &HeaderMap) -> String {
        match server_wait(headers, false, SystemTime::now()) {
            Some(w) => format!(
                " It asked to retry in {} (at {}), longer than the {} this integration waits, so it did not retry.",
                whole_seconds(&w),
                format_time(w.at),
                format_duration(self.retry.max_delay)
            ),
            None => String::new(),
        }
    }

    fn timeout_error(&self, timeout: Duration) -> CallError {
        CallError::Timeout(format!(
            "The request to SIGNL4 at {} timed out after {}. SIGNL4 may still have received the \
             event, so it was not retried (a retry could raise a duplicate alert). Check the network \
             and proxy, or give the command more time with execution-timeout.",
            self.host,
            format_duration(timeout)
        ))
    }

    fn send_error(&self, failure: SendFailure, attempts: u32, timeout: Duration) -> CallError {
        let gave_up = if attempts > 1 {
            format!(" Gave up after {attempts} attempts.")
        } else {
            String::new()
        };
        let base = self.masker.mask(&self.base);
        let proxy = &self.proxy_note;
        match failure {
            SendFailure::Timeout => self.timeout_error(timeout),
            SendFailure::Refused(detail) => CallError::Connection(format!(
                "Could not connect to SIGNL4 at {}: connection refused ({detail}). Check the url \
                 parameter ({base}): is the SIGNL4 server or simulator running on that host and \
                 port? {proxy}{gave_up}",
                self.host
            )),
            SendFailure::Dns(detail) => CallError::Connection(format!(
                "Could not resolve the SIGNL4 host '{}' ({detail}). Check the url parameter \
                 ({base}), DNS and network access. {proxy}{gave_up}",
                self.host_name
            )),
            SendFailure::Tls(detail) => CallError::Connection(format!(
                "The TLS handshake with SIGNL4 at {} failed ({detail}). Check that the url parameter \
                 ({base}) uses https for SIGNL4 and http for a local simulator, and whether a proxy \
                 intercepts TLS. {proxy}",
                self.host
            )),
            SendFailure::Other { detail, .. } => CallError::Connection(format!(
                "Could not reach SIGNL4 at {} ({detail}). Check the url parameter ({base}), the \
                 proxy and the network. {proxy}{gave_up}",
                self.host
            )),
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A wait rounded up to whole seconds (`15 s`), as reset times are.
fn whole_seconds(w: &ServerWait) -> String {
    let secs = w.wait.as_secs() + u64::from(w.wait.subsec_nanos() > 0);
    format!("{secs} s")
}

fn rate_limit_summary(headers: &HeaderMap) -> String {
    let parts: Vec<String> = [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    ]
    .iter()
    .filter_map(|name| header(headers, name).map(|v| format!("{name}: {v}")))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// SIGNL4's explanation in an error reply: `error_code: description (details)` from a JSON
/// body, else the text itself, shortened.
fn signl4_said(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed) {
        let field = |k: &str| match map.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(other) => Some(other.to_string()),
        };
        let code = field("error_code").or_else(|| field("code"));
        let description = field("description")
            .or_else(|| field("message"))
            .or_else(|| field("error"))
            .or_else(|| field("title"));
        let details = field("details").or_else(|| field("detail"));
        let mut out = match (code, description) {
            (Some(c), Some(d)) => format!("{c}: {d}"),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => String::new(),
        };
        if let Some(d) = details {
            if out.is_empty() {
                out = d;
            } else {
                out = format!("{out} ({d})");
            }
        }
        if !out.is_empty() {
            return Some(truncate(&out, MESSAGE_SNIPPET));
        }
    }
    Some(truncate(trimmed, MESSAGE_SNIPPET))
}

/// At most `max` characters, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signl4_said_prefers_structured_fields() {
        assert_eq!(
            signl4_said(r#"{"error_code":"NotFound","description":"Webhook not found."}"#)
                .as_deref(),
            Some("NotFound: Webhook not found.")
        );
        assert_eq!(
            signl4_said(r#"{"description":"bad","details":{"field":"Title"}}"#).as_deref(),
            Some(r#"bad ({"field":"Title"})"#)
        );
        assert_eq!(
            signl4_said(r#"{"other":1}"#).as_deref(),
            Some(r#"{"other":1}"#)
        );
        assert_eq!(
            signl4_said("  plain failure \n").as_deref(),
            Some("plain failure")
        );
        assert_eq!(signl4_said(""), None);
        let long = "x".repeat(400);
        assert_eq!(
            signl4_said(&long).map(|s| s.chars().count()),
            Some(MESSAGE_SNIPPET + 1)
        );
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("héllo", 5), "héllo");
    }

    #[test]
    fn masker_hides_raw_and_encoded_forms() {
        let m = Masker::new(Secret::new("a b/c"), Secret::new("a%20b%2Fc"));
        assert_eq!(m.mask("x a b/c y a%20b%2Fc"), "x ****** y ******");
        assert_eq!(format!("{m:?}"), "Masker(******)");
    }
}
