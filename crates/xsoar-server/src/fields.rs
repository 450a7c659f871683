//! Incident fields as clients write them: dates and severity.
//!
//! demisto-py parses every datetime field of an incident it reads back, and one value it
//! cannot parse breaks every search that includes that incident (rest-api.md §2.3). So a
//! date is checked where it is written, as the engine reads one for `setIncident`
//! (`xsoar_engine::fields`); a value that is not a time is refused with the field and the
//! value it had.

use serde_json::{Map, Value};
pub(crate) use xsoar_engine::fields::{parse_rfc3339, INCIDENT_DATE_FIELDS};

/// A value that is not a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field '{field}' has {value}, which is not a time: send RFC 3339 (2025-11-29T07:00:00Z), epoch seconds or milliseconds, or null")]
pub(crate) struct DateError {
    /// The field.
    pub field: String,
    /// The value as sent (JSON).
    pub value: String,
}

/// The time `v` stands for: `Ok(None)` for "not set" (`null`, `""`), `Ok(Some(rfc3339))`
/// for a time, an error naming `field` otherwise (the engine's reading, shared with
/// `setIncident`).
pub(crate) fn normalize(field: &str, v: &Value) -> Result<Option<String>, DateError> {
    xsoar_engine::fields::normalize_date(v).map_err(|_| DateError {
        field: field.to_owned(),
        value: v.to_string(),
    })
}

/// A severity that is not one of XSOAR's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field 'severity' has {0}, which is not a severity: send 0 (Unknown), 0.5 (Informational), 1 (Low), 2 (Medium), 3 (High), 4 (Critical) or one of those words")]
pub(crate) struct SeverityError(pub String);

/// XSOAR's severity for `v`: a number of the scale (0, 0.5, 1–4, also as a string) or its
/// word, any case (`high` → 3, as XSOAR's mappers and CommonServerPython's
/// `IncidentSeverity` read them). `null` and `""` are "not set".
pub(crate) fn severity(v: &Value) -> Result<Option<Value>, SeverityError> {
    let bad = || SeverityError(v.to_string());
    let number = match v {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        // Words and numbers as the engine's setIncident reads them; only the scale is checked here.
        Value::String(_) | Value::Number(_) => xsoar_engine::builtins::parse_severity(v)
            .and_then(|n| n.as_f64())
            .ok_or_else(bad)?,
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => return Err(bad()),
    };
    if number == 0.5 {
        return Ok(Some(serde_json::json!(0.5)));
    }
    if number.fract() == 0.0 && (0.0..=4.0).contains(&number) {
        return Ok(Some(serde_json::json!(number as i64)));
    }
    Err(bad())
}

/// Check and normalise the date fields of incident fields about to be written: times become
/// RFC 3339 strings, unset ones are removed.
pub(crate) fn normalize_incident(fields: &mut Map<String, Value>) -> Result<(), DateError> {
    for field in INCIDENT_DATE_FIELDS {
        let Some(v) = fields.get(*field) else {
            continue;
        };
        match normalize(field, v)? {
            Some(t) => {
                fields.insert((*field).to_owned(), Value::String(t));
            }
            None => {
                fields.remove(*field);
            }
        }
    }
    Ok(())
}

/// Why incident fields cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FieldError {
    /// A date field that is not a time.
    #[error(transparent)]
    Date(#[from] DateError),
    /// A severity off XSOAR's scale.
    #[error(transparent)]
    Severity(#[from] SeverityError),
}

/// Check and normalise incident fields about to be written (top level and `CustomFields`
/// merged by the caller): dates, then severity.
pub(crate) fn check_incident(fields: &mut Map<String, Value>) -> Result<(), FieldError> {
    normalize_incident(fields)?;
    if let Some(v) = fields.get("severity") {
        match severity(v)? {
            Some(s) => {
                fields.insert("severity".into(), s);
            }
            None => {
                fields.remove("severity");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_is_kept_and_epochs_are_converted() {
        let t = |v: Value| normalize("occurred", &v);
        assert_eq!(
            t(json!("2025-11-29T07:00:00.123456789Z")),
            Ok(Some("2025-11-29T07:00:00.123456789Z".into()))
        );
        assert_eq!(
            t(json!("2025-11-29T07:00:00+03:00")),
            Ok(Some("2025-11-29T07:00:00+03:00".into()))
        );
        assert_eq!(
            t(json!("0001-01-01T00:00:00Z")),
            Ok(Some("0001-01-01T00:00:00Z".into()))
        );
        assert_eq!(
            t(json!(1_700_000_000)),
            Ok(Some("2023-11-14T22:13:20Z".into()))
        );
        assert_eq!(
            t(json!(1_700_000_000_500_i64)),
            Ok(Some("2023-11-14T22:13:20.5Z".into()))
        );
        assert_eq!(
            t(json!("1700000000")),
            Ok(Some("2023-11-14T22:13:20Z".into()))
        );
        assert_eq!(t(json!(null)), Ok(None));
        assert_eq!(t(json!("  ")), Ok(None));
    }

    #[test]
    fn anything_else_is_refused_with_field_and_value() {
        for v in [
            json!("notadate"),
            json!("tomorrow"),
            json!("2025-13-01T00:00:00Z"),
            json!(true),
            json!([1]),
            json!({"a": 1}),
            json!(1e300),
        ] {
            let e = normalize("dueDate", &v).expect_err("refused");
            assert_eq!(e.field, "dueDate");
            assert!(e.to_string().contains(&v.to_string()), "{e}");
        }
    }

    #[test]
    fn severities_are_numbers_or_words() {
        assert_eq!(severity(&json!("High")), Ok(Some(json!(3))));
        assert_eq!(severity(&json!("informational")), Ok(Some(json!(0.5))));
        assert_eq!(severity(&json!(2)), Ok(Some(json!(2))));
        assert_eq!(severity(&json!(2.0)), Ok(Some(json!(2))));
        assert_eq!(severity(&json!("4")), Ok(Some(json!(4))));
        assert_eq!(severity(&json!(0.5)), Ok(Some(json!(0.5))));
        assert_eq!(severity(&json!(null)), Ok(None));
        for v in [
            json!("urgent"),
            json!(99),
            json!(-1),
            json!(1.5),
            json!(true),
            json!("NaN"),
        ] {
            assert!(severity(&v).is_err(), "{v}");
        }
    }

    #[test]
    fn incident_fields_are_normalised_in_place() {
        let mut m =
            json!({"name": "x", "occurred": 1_700_000_000, "dueDate": "", "reminder": null})
                .as_object()
                .cloned()
                .unwrap_or_default();
        normalize_incident(&mut m).expect("valid");
        assert_eq!(m["occurred"], "2023-11-14T22:13:20Z");
        assert!(!m.contains_key("dueDate"));
        assert!(!m.contains_key("reminder"));
        let mut m = json!({"occurred": "notadate"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(normalize_incident(&mut m).is_err());
    }
}
