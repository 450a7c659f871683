//! Incident date fields: one reading of "a time" for everything that writes an incident.
//!
//! demisto-py parses every datetime field of an incident it reads back, and one value it cannot
//! parse breaks every search that includes that incident. So the REST API and `setIncident` in
//! a playbook or the war room check a date where it is written, the same way: an RFC 3339 time
//! is kept as given, epoch seconds or milliseconds (a number or a string of digits) become
//! RFC 3339, `null` and `""` mean "not set", and anything else is refused.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Incident fields holding a time.
pub const INCIDENT_DATE_FIELDS: &[&str] = &[
    "occurred", "dueDate", "reminder", "closed", "created", "modified",
];

/// A value that is not a time (the caller names the field and says what to send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a time")]
pub struct NotATime;

/// A time in RFC 3339, if `s` is one.
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// An epoch number (seconds, or milliseconds from 1e11 on, as the date transformers read
/// them) as RFC 3339.
fn from_epoch(n: f64) -> Option<String> {
    crate::eval::time_from_epoch(n).and_then(crate::eval::dates::format)
}

/// The time `v` stands for: `Ok(None)` for "not set" (`null`, `""`), `Ok(Some(rfc3339))` for
/// a time.
pub fn normalize_date(v: &Value) -> Result<Option<String>, NotATime> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            if parse_rfc3339(s).is_some() {
                return Ok(Some(s.to_owned()));
            }
            if s.bytes().all(|b| b.is_ascii_digit()) {
                let n: f64 = s.parse().map_err(|_| NotATime)?;
                return from_epoch(n).map(Some).ok_or(NotATime);
            }
            Err(NotATime)
        }
        Value::Number(n) => n.as_f64().and_then(from_epoch).map(Some).ok_or(NotATime),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(NotATime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_epochs_and_unset_values() {
        assert_eq!(
            normalize_date(&json!(" 2025-11-29T07:00:00Z ")),
            Ok(Some("2025-11-29T07:00:00Z".into()))
        );
        assert_eq!(
            normalize_date(&json!(1764399600)),
            Ok(Some("2025-11-29T07:00:00Z".into()))
        );
        assert_eq!(
            normalize_date(&json!("1764399600000")),
            Ok(Some("2025-11-29T07:00:00Z".into()))
        );
        assert_eq!(normalize_date(&json!(null)), Ok(None));
        assert_eq!(normalize_date(&json!(" ")), Ok(None));
        for bad in [
            json!("yesterday"),
            json!("2025-13-01"),
            json!(true),
            json!([1]),
        ] {
            assert_eq!(normalize_date(&bad), Err(NotATime), "{bad}");
        }
    }
}
