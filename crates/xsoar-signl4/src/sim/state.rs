//! The simulator's memory: alerts and their lifecycle, the request log, the throttling window
//! and injected faults.
//!
//! Kept free of HTTP so the lifecycle rules (SIGNL4 §1.4: new / acknowledged / resolved by
//! external id) read as plain code and are tested directly.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Status of a simulated alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Raised, nobody acknowledged it yet.
    New,
    /// Someone (an `X-S4-Status: acknowledged` event) took it.
    Acknowledged,
    /// Closed. Stays closed.
    Resolved,
}

impl AlertStatus {
    /// `new`, `acknowledged` or `resolved`, as SIGNL4 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file part of a multipart request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Form field name.
    pub name: String,
    /// File name of the part.
    pub file_name: Option<String>,
    /// Content type of the part.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: usize,
}

/// An alert the simulator raised, as `GET /alerts` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Alert id (distinct from the event id that raised it).
    pub id: String,
    /// The event that raised it (what the webhook answered).
    pub event_id: String,
    /// `X-S4-ExternalID`.
    pub external_id: Option<String>,
    /// Lifecycle status.
    pub status: AlertStatus,
    /// From `Title` / `title` / `subject`.
    pub title: Option<String>,
    /// From `Message` / `message` / `body`, or the whole text body.
    pub message: Option<String>,
    /// `X-S4-Service`.
    pub service: Option<String>,
    /// `X-S4-Location`.
    pub location: Option<String>,
    /// `X-S4-AlertingScenario`.
    pub scenario: Option<String>,
    /// `X-S4-Filtering` (JSON bool or `"true"`/`"false"`).
    pub filtering: Option<bool>,
    /// `X-S4-SourceSystem`.
    pub source_system: Option<String>,
    /// Every other field of the event (free-form alert parameters).
    pub parameters: Map<String, Value>,
    /// File parts of a multipart event.
    pub attachments: Vec<Attachment>,
    /// When it was raised (RFC 3339, UTC).
    pub created_at: String,
    /// When its status last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// Event ids of the acknowledge / resolve events that changed it.
    pub status_events: Vec<String>,
}

/// A request the webhook received, as `GET /events` shows it. The secret is masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// 1, 2, 3... in arrival order.
    pub seq: u64,
    /// Arrival time (RFC 3339, UTC).
    pub received_at: String,
    /// HTTP method.
    pub method: String,
    /// Request path with the secret replaced by `******`.
    pub path: String,
    /// Whether the secret is one the simulator knows.
    pub secret_known: bool,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// The body as text (lossy UTF-8, shortened past 64 KiB, secrets masked).
    pub body: String,
    /// Status code answered.
    pub status: u16,
    /// Event id answered (201 only).
    pub event_id: Option<String>,
    /// What the simulator did: `alert created`, `2 alerts resolved`, `throttled`, ...
    pub outcome: String,
}

/// Faults to inject into webhook replies (`POST /_sim/faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Delay before every webhook reply, in milliseconds.
    pub latency_ms: u64,
    /// Answer this many next webhook requests with `fail_status`.
    pub fail_next: u32,
    /// Status code of injected failures (300..=599, 3xx a redirect; default 503).
    pub fail_status: u16,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            fail_next: 0,
            fail_status: 503,
        }
    }
}

/// What `X-S4-Status` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatusCommand {
    New,
    Acknowledge,
    Resolve,
    Other(String),
}

/// One webhook event, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Incoming {
    pub title: Option<String>,
    pub message: Option<String>,
    pub external_id: Option<String>,
    pub status: StatusCommand,
    pub service: Option<String>,
    pub location: Option<String>,
    pub scenario: Option<String>,
    pub filtering: Option<bool>,
    pub source_system: Option<String>,
    pub parameters: Map<String, Value>,
    pub attachments: Vec<Attachment>,
}

/// Throttling state of the (single) simulated account: a fixed window.
#[derive(Debug)]
struct Window {
    started: Instant,
    /// Unix second at which the window ends (rounded up), fixed when the window starts so
    /// every reply of the window names the same reset time.
    reset: u64,
    used: u32,
}

/// The `X-RateLimit-*` values for one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Unix timestamp (seconds) when the window resets.
    pub reset: u64,
    /// Seconds until then, at least 1.
    pub retry_after: u64,
}

#[derive(Debug)]
pub(crate) struct State {
    alerts: Vec<Alert>,
    events: VecDeque<Event>,
    next_seq: u64,
    window: Option<Window>,
    /// Erroneous requests of the current minute: when it started and how many.
    errors: Option<(Instant, u32)>,
    pub(crate) faults: Faults,
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl State {
    pub(crate) fn new(faults: Faults) -> Self {
        Self {
            alerts: Vec::new(),
            events: VecDeque::new(),
            next_seq: 1,
            window: None,
            errors: None,
            faults,
        }
    }

    /// Count an erroneous request against `per_minute` (0 = no limit): `None` when it may be
    /// answered, else the seconds until the minute ends (for `Retry-After`).
    pub(crate) fn erroneous(&mut self, per_minute: u32) -> Option<u64> {
        self.erroneous_at(per_minute, Instant::now())
    }

    fn erroneous_at(&mut self, per_minute: u32, now: Instant) -> Option<u64> {
        const MINUTE: Duration = Duration::from_secs(60);
        if per_minute == 0 {
            return None;
        }
        let (started, used) = match self.errors {
            Some((started, used)) if now.duration_since(started) < MINUTE => (started, used),
            _ => (now, 0),
        };
        if used >= per_minute {
            let left = (started + MINUTE).saturating_duration_since(now);
            return Some((left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1));
        }
        self.errors = Some((started, used + 1));
        None
    }

    pub(crate) fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    pub(crate) fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    pub(crate) fn record(&mut self, mut event: Event, max_events: usize) {
        event.seq = self.next_seq;
        self.next_seq += 1;
        self.events.push_back(event);
        while self.events.len() > max_events.max(1) {
            self.events.pop_front();
        }
    }

    /// Take one injected failure, if any is pending.
    pub(crate) fn take_fault(&mut self) -> Option<u16> {
        if self.faults.fail_next == 0 {
            return None;
        }
        self.faults.fail_next -= 1;
        Some(self.faults.fail_status)
    }

    /// The current window's numbers; with `consume`, count this request and say whether it
    /// fits. `quota == 0` or a zero window means no throttling.
    pub(crate) fn rate(&mut self, quota: u32, window: Duration, consume: bool) -> (RateInfo, bool) {
        self.rate_at(quota, window, consume, Instant::now(), SystemTime::now())
    }

    /// [`State::rate`] at a given time (`now` for the window, `wall` for the reset time).
    /// `X-RateLimit-Reset` is the window's end rounded up to the second, fixed when the
    /// window starts so every reply of the window names the same second; `Retry-After` is the
    /// time left in the window, rounded up.
    fn rate_at(
        &mut self,
        quota: u32,
        window: Duration,
        consume: bool,
        now: Instant,
        wall: SystemTime,
    ) -> (RateInfo, bool) {
        let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let expired = self
            .window
            .as_ref()
            .is_none_or(|w| now.duration_since(w.started) >= window);
        if expired {
            let end = unix(wall).saturating_add(window);
            self.window = Some(Window {
                started: now,
                reset: end.as_secs() + u64::from(end.subsec_nanos() > 0),
                used: 0,
            });
        }
        let unlimited = quota == 0 || window.is_zero();
        let mut allowed = true;
        let (mut used, mut reset, mut left) = (0, 0, window);
        if let Some(w) = &mut self.window {
            if consume {
                if unlimited || w.used < quota {
                    w.used = w.used.saturating_add(1);
                } else {
                    allowed = false;
                }
            }
            used = w.used;
            reset = w.reset;
            left = (w.started + window).saturating_duration_since(now);
        }
        let limit = if unlimited { u32::MAX } else { quota };
        let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let info = RateInfo {
            limit,
            remaining: limit.saturating_sub(used),
            reset,
            retry_after: retry_after.max(1),
        };
        (info, allowed)
    }

    /// Apply an accepted event; returns what happened, for the request log.
    pub(crate) fn apply(&mut self, incoming: Incoming, event_id: &str) -> String {
        let now = now_rfc3339();
        match incoming.status {
            StatusCommand::New => {
                self.alerts.push(Alert {
                    id: new_id(),
                    event_id: event_id.to_owned(),
                    external_id: incoming.external_id,
                    status: AlertStatus::New,
                    title: incoming.title,
                    message: incoming.message,
                    service: incoming.service,
                    location: incoming.location,
                    scenario: incoming.scenario,
                    filtering: incoming.filtering,
                    source_system: incoming.source_system,
                    parameters: incoming.parameters,
                    attachments: incoming.attachments,
                    created_at: now.clone(),
                    updated_at: now,
                    status_events: Vec::new(),
                });
                "alert created".to_owned()
            }
            StatusCommand::Acknowledge | StatusCommand::Resolve => {
                let (target, verb) = if incoming.status == StatusCommand::Resolve {
                    (AlertStatus::Resolved, "resolved")
                } else {
                    (AlertStatus::Acknowledged, "acknowledged")
                };
                let Some(external_id) = incoming.external_id else {
                    return format!("nothing {verb}: no X-S4-ExternalID");
                };
                let mut changed = 0;
                for alert in &mut self.alerts {
                    let open = alert.status != AlertStatus::Resolved;
                    if open
                        && alert.external_id.as_deref() == Some(external_id.as_str())
                        && alert.status != target
                    {
                        alert.status = target;
                        alert.updated_at = now.clone();
                        alert.status_events.push(event_id.to_owned());
                        changed += 1;
                    }
                }
                match changed {
                    0 => format!("nothing {verb}: no open alert with external id '{external_id}'"),
                    1 => format!("1 alert {verb}"),
                    n => format!("{n} alerts {verb}"),
                }
            }
            StatusCommand::Other(status) => format!("discarded: unknown X-S4-Status '{status}'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(status: StatusCommand, external_id: Option<&str>) -> Incoming {
        Incoming {
            title: Some("T".into()),
            message: Some("M".into()),
            external_id: external_id.map(str::to_owned),
            status,
            service: None,
            location: None,
            scenario: None,
            filtering: None,
            source_system: None,
            parameters: Map::new(),
            attachments: Vec::new(),
        }
    }

    fn statuses(state: &State) -> Vec<AlertStatus> {
        state.alerts().iter().map(|a| a.status).collect()
    }

    #[test]
    fn lifecycle_by_external_id() {
        let mut s = State::new(Faults::default());
        assert_eq!(
            s.apply(incoming(StatusCommand::New, Some("x")), "e1"),
            "alert created"
        );
        assert_eq!(
            s.apply(incoming(StatusCommand::New, Some("x")), "e2"),
            "alert created"
        );
        assert_eq!(
            s.apply(incoming(StatusCommand::New, Some("y")), "e3"),
            "alert created"
        );
        assert_eq!(
            s.apply(incoming(StatusCommand::Acknowledge, Some("x")), "e4"),
            "2 alerts acknowledged"
        );
        assert_eq!(
            statuses(&s),
            [
                AlertStatus::Acknowledged,
                AlertStatus::Acknowledged,
                AlertStatus::New
            ]
        );
        assert_eq!(
            s.apply(incoming(StatusCommand::Resolve, Some("x")), "e5"),
            "2 alerts resolved"
        );
        assert_eq!(
            s.apply(incoming(StatusCommand::Acknowledge, Some("x")), "e6"),
            "nothing acknowledged: no open alert with external id 'x'"
        );
        assert_eq!(
            statuses(&s),
            [
                AlertStatus::Resolved,
                AlertStatus::Resolved,
                AlertStatus::New
            ]
        );
        assert_eq!(s.alerts()[0].status_events, ["e4", "e5"]);
        assert_eq!(s.alerts()[0].status.to_string(), "resolved");
        assert_eq!(
            s.apply(incoming(StatusCommand::Resolve, None), "e7"),
            "nothing resolved: no X-S4-ExternalID"
        );
        assert_eq!(
            s.apply(
                incoming(StatusCommand::Other("closed".into()), Some("y")),
                "e8"
            ),
            "discarded: unknown X-S4-Status 'closed'"
        );
        assert_eq!(s.alerts().len(), 3);
    }

    #[test]
    fn window_counts_and_blocks() {
        let mut s = State::new(Faults::default());
        let (info, ok) = s.rate(2, Duration::from_secs(15), true);
        assert!(ok);
        assert_eq!((info.limit, info.remaining), (2, 1));
        assert!(info.retry_after <= 15 && info.retry_after >= 14);
        assert!(s.rate(2, Duration::from_secs(15), true).1);
        let (info, ok) = s.rate(2, Duration::from_secs(15), true);
        assert!(!ok);
        assert_eq!(info.remaining, 0);
        let (peek, _) = s.rate(2, Duration::from_secs(15), false);
        assert_eq!(peek.remaining, 0);
        let (unlimited, ok) = s.rate(0, Duration::from_secs(15), true);
        assert!(ok);
        assert_eq!(unlimited.limit, u32::MAX);
    }

    /// SIGNL4 answers at most 10 erroneous requests a minute; the 11th gets 429 until the
    /// minute is over.
    #[test]
    fn erroneous_requests_are_held_to_the_quota_per_minute() {
        let mut s = State::new(Faults::default());
        let start = Instant::now();
        for i in 0..10 {
            assert_eq!(s.erroneous_at(10, start + Duration::from_secs(i)), None);
        }
        assert_eq!(
            s.erroneous_at(10, start + Duration::from_secs(20)),
            Some(40)
        );
        assert_eq!(
            s.erroneous_at(10, start + Duration::from_millis(59_500)),
            Some(1)
        );
        // A new minute answers again.
        assert_eq!(s.erroneous_at(10, start + Duration::from_secs(60)), None);
        // 0 is no limit.
        let mut unlimited = State::new(Faults::default());
        assert!((0..100).all(|_| unlimited.erroneous_at(0, start).is_none()));
    }

    /// The reset time is the window's end for every reply of the window (it used to move by
    /// a second as the sub-second part of the time left rounded differently), and
    /// `Retry-After` reaches the window's end.
    #[test]
    fn reset_stays_put_for_the_whole_window() {
        let mut s = State::new(Faults::default());
        let window = Duration::from_secs(15);
        let start = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_millis(1_000_900);
        let mut resets = Vec::new();
        for (offset_ms, consume) in [(0, true), (200, true), (7_600, false), (14_300, true)] {
            let offset = Duration::from_millis(offset_ms);
            let (info, ok) = s.rate_at(2, window, consume, start + offset, wall + offset);
            let waited = offset + Duration::from_secs(info.retry_after);
            assert!(
                waited >= window && waited < window + Duration::from_secs(1),
                "at +{offset_ms} ms: Retry-After {}",
                info.retry_after
            );
            assert_eq!(
                ok,
                offset_ms < 14_000,
                "the third request is over the quota"
            );
            resets.push(info.reset);
        }
        assert_eq!(resets, [1016; 4]);
        let (next, ok) = s.rate_at(
            2,
            window,
            true,
            start + Duration::from_millis(15_000),
            wall + Duration::from_millis(15_000),
        );
        assert!(ok);
        assert_eq!((next.reset, next.remaining), (1031, 1));
    }

    #[test]
    fn faults_are_consumed() {
        let mut s = State::new(Faults {
            fail_next: 2,
            fail_status: 500,
            latency_ms: 0,
        });
        assert_eq!(s.take_fault(), Some(500));
        assert_eq!(s.take_fault(), Some(500));
        assert_eq!(s.take_fault(), None);
    }
}
