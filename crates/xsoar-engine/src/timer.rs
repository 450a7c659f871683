//! SLA timer incident fields and the `timertriggers` of playbook tasks (§2.2, §8.4).
//!
//! A timer field holds XSOAR's timer object:
//!
//! ```json
//! {"runStatus": "running", "startDate": "2025-01-01T00:00:00Z", "endDate": "0001-01-01T00:00:00Z",
//!  "lastPauseDate": "0001-01-01T00:00:00Z", "accumulatedPause": 0, "totalDuration": 0,
//!  "dueDate": "0001-01-01T00:00:00Z", "sla": 0, "slaStatus": -1, "breachTriggered": false}
//! ```
//!
//! Durations are whole seconds, `sla` is in minutes (0: no SLA, `slaStatus` stays -1), unset
//! dates are [`UNSET_DATE`]. Transitions:
//!
//! * `start`: idle or ended → running (new `startDate`, `endDate` unset, no pause so far);
//!   paused → running (the pause is added to `accumulatedPause` and pushes `dueDate` back);
//! * `pause`: running → paused (`lastPauseDate` = now);
//! * `stop`: running or paused → ended (`endDate` = now, a pause in progress counts up to now,
//!   `totalDuration` = end − start − accumulated pause).
//!
//! Any other transition leaves the timer as it is. A field that does not exist (or is null)
//! starts as an idle timer; keys of an existing timer object that are not timer keys are kept.

use std::time::SystemTime;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use xsoar_content::TimerAction;

use crate::eval::dates;
use crate::investigation::update_incident;
use crate::rfc3339;

/// How XSOAR writes a date that is not set.
pub const UNSET_DATE: &str = "0001-01-01T00:00:00Z";

/// `runStatus` of a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerStatus {
    /// Never started.
    Idle,
    /// Counting.
    Running,
    /// Paused; `start` resumes it.
    Paused,
    /// Stopped; `start` starts it over.
    Ended,
}

impl TimerStatus {
    /// The `runStatus` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Ended => "ended",
        }
    }

    /// A `runStatus` value (any case); anything else reads as idle.
    fn of(v: Option<&Value>) -> Self {
        let s = v.and_then(Value::as_str).unwrap_or("").trim();
        [Self::Running, Self::Paused, Self::Ended]
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .unwrap_or(Self::Idle)
    }
}

/// What applying one trigger did.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerChange {
    /// `runStatus` before.
    pub from: TimerStatus,
    /// `runStatus` after (the same when the action does not apply in that state).
    pub to: TimerStatus,
    /// The value the field held when it was not a timer object (it was replaced by a new
    /// timer).
    pub replaced: Option<Value>,
}

/// A timer that has never run.
pub fn idle_timer() -> Value {
    json!({
        "runStatus": TimerStatus::Idle.as_str(),
        "startDate": UNSET_DATE,
        "endDate": UNSET_DATE,
        "lastPauseDate": UNSET_DATE,
        "accumulatedPause": 0,
        "totalDuration": 0,
        "dueDate": UNSET_DATE,
        "sla": 0,
        "slaStatus": -1,
        "breachTriggered": false,
    })
}

/// Apply `action` to the timer field `field` of `incident` at `now`. The field is read at the
/// top level (else under `CustomFields`) and written like `setIncident` writes it. An
/// incident that is not an object is left alone.
pub fn apply_timer_action(
    incident: &mut Value,
    field: &str,
    action: TimerAction,
    now: SystemTime,
) -> TimerChange {
    let current = incident.as_object().and_then(|o| {
        o.get(field)
            .or_else(|| o.get("CustomFields").and_then(|c| c.get(field)))
    });
    let (mut timer, replaced) = match current {
        Some(Value::Object(t)) => (t.clone(), None),
        None | Some(Value::Null) => (Map::new(), None),
        Some(other) => (Map::new(), Some(other.clone())),
    };
    if let Value::Object(defaults) = idle_timer() {
        for (k, v) in defaults {
            timer.entry(k).or_insert(v);
        }
    }
    let from = TimerStatus::of(timer.get("runStatus"));
    let to = transition(&mut timer, from, action, now);
    let mut fields = Map::new();
    fields.insert(field.to_owned(), Value::Object(timer));
    update_incident(incident, &fields);
    TimerChange { from, to, replaced }
}

/// What `setIncident sla=` sets: minutes, or the due date itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sla {
    /// The SLA in minutes (0: none).
    Minutes(i64),
    /// The date the SLA is due.
    Due(OffsetDateTime),
}

/// `sla` as `setIncident` takes it: a whole number of minutes (number or digit text), or a
/// date (`2025-01-02T10:00:00Z` and the other forms incident dates take).
pub fn parse_sla(v: &Value) -> Option<Sla> {
    match v {
        Value::Number(n) => n.as_i64().filter(|m| *m >= 0).map(Sla::Minutes),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(m) if m >= 0 => Some(Sla::Minutes(m)),
            Ok(_) => None,
            Err(_) => date(Some(v)).map(Sla::Due),
        },
        _ => None,
    }
}

/// Set the SLA of the timer field `field` at `now`: its `sla` minutes and `dueDate` (counted
/// from `startDate`, pauses added, once the timer has started; a due date sets the minutes
/// from the start, or from now for a timer not started), and `slaStatus` for a started timer.
/// Without a field, the incident's own `dueDate` (now + minutes, or the date).
pub fn set_sla(incident: &mut Value, field: Option<&str>, sla: Sla, now: SystemTime) {
    let now_dt = OffsetDateTime::from(now);
    let Some(field) = field else {
        let due = match sla {
            Sla::Minutes(m) => now_dt.checked_add(time::Duration::minutes(m)),
            Sla::Due(d) => Some(d),
        };
        if let Some(due) = due.and_then(dates::format) {
            let mut fields = Map::new();
            fields.insert("dueDate".into(), due.into());
            update_incident(incident, &fields);
        }
        return;
    };
    let current = incident.as_object().and_then(|o| {
        o.get(field)
            .or_else(|| o.get("CustomFields").and_then(|c| c.get(field)))
    });
    let mut timer = match current {
        Some(Value::Object(t)) => t.clone(),
        _ => Map::new(),
    };
    if let Value::Object(defaults) = idle_timer() {
        for (k, v) in defaults {
            timer.entry(k).or_insert(v);
        }
    }
    let status = TimerStatus::of(timer.get("runStatus"));
    let start = date(timer.get("startDate")).filter(|_| status != TimerStatus::Idle);
    // Paused time so far, the pause in progress included.
    let mut paused = int(timer.get("accumulatedPause")).max(0);
    if status == TimerStatus::Paused {
        paused += date(timer.get("lastPauseDate")).map_or(0, |p| seconds(now_dt - p));
    }
    let (minutes, due) = match (sla, start) {
        (Sla::Minutes(m), Some(start)) => (
            m,
            start.checked_add(time::Duration::seconds(
                m.saturating_mul(60).saturating_add(paused),
            )),
        ),
        (Sla::Minutes(m), None) => (m, None),
        (Sla::Due(d), Some(start)) => (
            whole_minutes_up((d - start).whole_seconds() - paused),
            Some(d),
        ),
        (Sla::Due(d), None) => (whole_minutes_up((d - now_dt).whole_seconds()), Some(d)),
    };
    timer.insert("sla".into(), minutes.into());
    let due_text = due
        .filter(|_| minutes > 0)
        .and_then(dates::format)
        .unwrap_or_else(|| UNSET_DATE.to_owned());
    timer.insert("dueDate".into(), due_text.into());
    let status_value = match (minutes, status, due) {
        (0, _, _) | (_, TimerStatus::Idle, _) | (_, _, None) => -1,
        (_, TimerStatus::Ended, Some(due)) => {
            i64::from(date(timer.get("endDate")).is_some_and(|end| end > due))
        }
        (_, _, Some(due)) => i64::from(now_dt > due),
    };
    timer.insert("slaStatus".into(), status_value.into());
    let mut fields = Map::new();
    fields.insert(field.to_owned(), Value::Object(timer));
    update_incident(incident, &fields);
}

fn transition(
    timer: &mut Map<String, Value>,
    from: TimerStatus,
    action: TimerAction,
    now: SystemTime,
) -> TimerStatus {
    use TimerStatus::*;
    let now_text = rfc3339(now);
    let now_dt = OffsetDateTime::from(now);
    let sla_minutes = int(timer.get("sla")).max(0);
    let to = match (action, from) {
        (TimerAction::Start, Idle | Ended) => {
            timer.insert("startDate".into(), now_text.into());
            timer.insert("endDate".into(), UNSET_DATE.into());
            timer.insert("lastPauseDate".into(), UNSET_DATE.into());
            timer.insert("accumulatedPause".into(), 0.into());
            timer.insert("totalDuration".into(), 0.into());
            timer.insert("breachTriggered".into(), false.into());
            let due = (sla_minutes > 0)
                .then(|| sla_minutes.checked_mul(60))
                .flatten()
                .and_then(|s| now_dt.checked_add(time::Duration::seconds(s)))
                .and_then(dates::format)
                .unwrap_or_else(|| UNSET_DATE.to_owned());
            timer.insert("dueDate".into(), due.into());
            Running
        }
        (TimerAction::Start, Paused) => {
            let pause = end_pause(timer, now_dt);
            if sla_minutes > 0 {
                if let Some(due) = date(timer.get("dueDate")) {
                    let later = due
                        .checked_add(time::Duration::seconds(pause))
                        .and_then(dates::format);
                    if let Some(later) = later {
                        timer.insert("dueDate".into(), later.into());
                    }
                }
            }
            Running
        }
        (TimerAction::Pause, Running) => {
            timer.insert("lastPauseDate".into(), now_text.into());
            Paused
        }
        (TimerAction::Stop, Running | Paused) => {
            if from == Paused {
                end_pause(timer, now_dt);
            }
            timer.insert("endDate".into(), now_text.into());
            let elapsed = date(timer.get("startDate")).map_or(0, |s| seconds(now_dt - s));
            let total = elapsed
                .saturating_sub(int(timer.get("accumulatedPause")).max(0))
                .max(0);
            timer.insert("totalDuration".into(), total.into());
            Ended
        }
        (_, unchanged) => unchanged,
    };
    timer.insert("runStatus".into(), to.as_str().into());
    // Within or late against the due date, when the timer starts or stops.
    if sla_minutes == 0 {
        timer.insert("slaStatus".into(), (-1).into());
    } else if to != from && matches!(to, Running | Ended) {
        let late = date(timer.get("dueDate")).is_some_and(|due| now_dt > due);
        timer.insert("slaStatus".into(), i64::from(late).into());
    }
    to
}

/// Close the pause in progress at `now`: add it to `accumulatedPause`; the pause in seconds.
fn end_pause(timer: &mut Map<String, Value>, now: OffsetDateTime) -> i64 {
    let pause = date(timer.get("lastPauseDate")).map_or(0, |p| seconds(now - p));
    let total = int(timer.get("accumulatedPause"))
        .max(0)
        .saturating_add(pause);
    timer.insert("accumulatedPause".into(), total.into());
    pause
}

/// Seconds as whole minutes, rounded up, never negative.
fn whole_minutes_up(secs: i64) -> i64 {
    (secs.max(0) as u64).div_ceil(60) as i64
}

/// Whole seconds of a duration, never negative.
fn seconds(d: time::Duration) -> i64 {
    d.whole_seconds().max(0)
}

/// A set date (the unset date and unparsable text read as `None`).
fn date(v: Option<&Value>) -> Option<OffsetDateTime> {
    let d = dates::parse_value(v?)?;
    (d.year() > 1).then_some(d)
}

/// An integer however it was written (number or digit string); 0 otherwise.
fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_735_689_600 + secs)
    }

    fn timer<'a>(inc: &'a Value, f: &str) -> &'a Value {
        &inc[f]
    }

    #[test]
    fn start_pause_resume_stop() {
        let mut inc = json!({"CustomFields": {}});
        let c = apply_timer_action(&mut inc, "ttr", TimerAction::Start, at(0));
        assert_eq!((c.from, c.to), (TimerStatus::Idle, TimerStatus::Running));
        apply_timer_action(&mut inc, "ttr", TimerAction::Pause, at(10));
        assert_eq!(timer(&inc, "ttr")["lastPauseDate"], "2025-01-01T00:00:10Z");
        apply_timer_action(&mut inc, "ttr", TimerAction::Start, at(40));
        assert_eq!(timer(&inc, "ttr")["accumulatedPause"], 30);
        apply_timer_action(&mut inc, "ttr", TimerAction::Stop, at(100));
        let t = timer(&inc, "ttr");
        assert_eq!(t["runStatus"], "ended");
        assert_eq!(t["startDate"], "2025-01-01T00:00:00Z");
        assert_eq!(t["endDate"], "2025-01-01T00:01:40Z");
        assert_eq!(t["totalDuration"], 70);
        assert_eq!(t["slaStatus"], -1);
        assert_eq!(inc["CustomFields"]["ttr"], inc["ttr"]);
    }

    #[test]
    fn stopping_while_paused_counts_the_pause_up_to_now() {
        let mut inc = json!({});
        apply_timer_action(&mut inc, "t", TimerAction::Start, at(0));
        apply_timer_action(&mut inc, "t", TimerAction::Pause, at(5));
        apply_timer_action(&mut inc, "t", TimerAction::Stop, at(65));
        assert_eq!(inc["t"]["totalDuration"], 5);
        assert_eq!(inc["t"]["accumulatedPause"], 60);
    }

    #[test]
    fn other_transitions_change_nothing() {
        let mut inc = json!({});
        let c = apply_timer_action(&mut inc, "t", TimerAction::Stop, at(0));
        assert_eq!((c.from, c.to), (TimerStatus::Idle, TimerStatus::Idle));
        assert_eq!(inc["t"], idle_timer());
        apply_timer_action(&mut inc, "t", TimerAction::Pause, at(1));
        assert_eq!(inc["t"], idle_timer());
        apply_timer_action(&mut inc, "t", TimerAction::Start, at(2));
        let running = inc["t"].clone();
        apply_timer_action(&mut inc, "t", TimerAction::Start, at(9));
        assert_eq!(inc["t"], running);
        apply_timer_action(&mut inc, "t", TimerAction::Stop, at(12));
        let ended = inc["t"].clone();
        apply_timer_action(&mut inc, "t", TimerAction::Pause, at(20));
        apply_timer_action(&mut inc, "t", TimerAction::Stop, at(30));
        assert_eq!(inc["t"], ended);
        // Starting an ended timer starts it over.
        apply_timer_action(&mut inc, "t", TimerAction::Start, at(50));
        assert_eq!(inc["t"]["startDate"], "2025-01-01T00:00:50Z");
        assert_eq!(inc["t"]["endDate"], UNSET_DATE);
        assert_eq!(inc["t"]["totalDuration"], 0);
    }

    #[test]
    fn a_value_that_is_not_a_timer_is_replaced() {
        let mut inc = json!({"t": "soon", "CustomFields": {"t": "soon"}});
        let c = apply_timer_action(&mut inc, "t", TimerAction::Start, at(0));
        assert_eq!(c.replaced, Some(json!("soon")));
        assert_eq!(inc["t"]["runStatus"], "running");
        assert_eq!(inc["CustomFields"]["t"]["runStatus"], "running");
    }

    #[test]
    fn hostile_timer_values_do_not_panic() {
        let bad = [
            json!({"sla": i64::MAX, "runStatus": "paused", "lastPauseDate": "9999-12-31T23:59:59Z",
                   "dueDate": "9999-12-31T23:59:59Z", "accumulatedPause": i64::MAX}),
            json!({"sla": "x", "runStatus": 7, "startDate": [], "accumulatedPause": i64::MIN}),
            json!({"sla": -5, "runStatus": "RUNNING", "startDate": "-1", "accumulatedPause": 1e300}),
        ];
        for t in bad {
            for action in [TimerAction::Start, TimerAction::Pause, TimerAction::Stop] {
                let mut inc = json!({"t": t.clone()});
                apply_timer_action(&mut inc, "t", action, at(0));
                let total = inc["t"]["totalDuration"].as_i64().unwrap_or(-1);
                assert!(total >= 0, "{inc}");
            }
        }
        let mut not_an_object = json!("incident");
        apply_timer_action(&mut not_an_object, "t", TimerAction::Start, at(0));
        assert_eq!(not_an_object, json!("incident"));
    }

    #[test]
    fn an_sla_sets_the_due_date_and_the_status() {
        let mut inc = json!({"t": {"sla": 1, "keep": "me"}});
        apply_timer_action(&mut inc, "t", TimerAction::Start, at(0));
        assert_eq!(inc["t"]["dueDate"], "2025-01-01T00:01:00Z");
        assert_eq!(inc["t"]["slaStatus"], 0);
        assert_eq!(inc["t"]["keep"], "me");
        apply_timer_action(&mut inc, "t", TimerAction::Pause, at(30));
        apply_timer_action(&mut inc, "t", TimerAction::Start, at(90));
        assert_eq!(inc["t"]["dueDate"], "2025-01-01T00:02:00Z");
        assert_eq!(inc["t"]["slaStatus"], 0);
        apply_timer_action(&mut inc, "t", TimerAction::Stop, at(150));
        assert_eq!(inc["t"]["slaStatus"], 1);
        assert_eq!(inc["t"]["totalDuration"], 90);
    }
}
