//! The JSON bodies the official pack sends, key for key and in the same order.
//!
//! Order matters only to people diffing captured requests, but that is exactly how parity with
//! XSOAR gets checked, so each body is a struct whose fields serialize in the pack's order.
//! Unset arguments become `null`, as Python's `None` does. The structs borrow the argument
//! values, so building a body costs no copies: the connector should add as little as possible
//! to the HTTP request it wraps.

use crate::SOURCE_SYSTEM;
use serde::Serialize;
use serde_json::Value;
use xsoar_connector::{Args, ConnectorError};

const NULL: &Value = &Value::Null;

/// `signl4_alert`.
#[derive(Debug, Serialize)]
pub(crate) struct AlertBody<'a> {
    #[serde(rename = "Title")]
    title: &'a Value,
    #[serde(rename = "Message")]
    message: &'a Value,
    #[serde(rename = "X-S4-ExternalID")]
    external_id: &'a Value,
    #[serde(rename = "X-S4-Status")]
    status: &'static str,
    #[serde(rename = "X-S4-Service")]
    service: &'a Value,
    #[serde(rename = "X-S4-Location")]
    location: &'a Value,
    #[serde(rename = "X-S4-AlertingScenario")]
    alerting_scenario: &'a Value,
    #[serde(rename = "X-S4-Filtering")]
    filtering: &'a Value,
    #[serde(rename = "X-S4-SourceSystem")]
    source_system: &'static str,
}

/// `signl4_close_alert`.
#[derive(Debug, Serialize)]
pub(crate) struct CloseBody<'a> {
    #[serde(rename = "X-S4-ExternalID")]
    external_id: &'a Value,
    #[serde(rename = "X-S4-Status")]
    status: &'static str,
    #[serde(rename = "X-S4-SourceSystem")]
    source_system: &'static str,
}

/// `test-module`: the pack's test alert (lower-case `title`, no message).
#[derive(Debug, Serialize)]
pub(crate) struct TestBody {
    title: &'static str,
    #[serde(rename = "X-S4-SourceSystem")]
    source_system: &'static str,
}

fn arg<'a>(args: &'a Args, name: &str) -> &'a Value {
    args.get(name).unwrap_or(NULL)
}

fn required<'a>(args: &'a Args, name: &str, command: &str) -> Result<&'a Value, ConnectorError> {
    match args.get(name) {
        None | Some(Value::Null) => Err(ConnectorError::InvalidArgument {
            name: name.to_owned(),
            message: format!("{command} needs it (the alert {name})"),
        }),
        Some(v) => Ok(v),
    }
}

/// `signl4_alert`: `Title`, `Message`, `X-S4-ExternalID`, `X-S4-Status`, `X-S4-Service`,
/// `X-S4-Location`, `X-S4-AlertingScenario`, `X-S4-Filtering`, `X-S4-SourceSystem`.
pub(crate) fn alert(args: &Args) -> Result<AlertBody<'_>, ConnectorError> {
    Ok(AlertBody {
        title: required(args, "title", crate::commands::ALERT)?,
        message: required(args, "message", crate::commands::ALERT)?,
        external_id: arg(args, "s4_external_id"),
        status: "new",
        service: arg(args, "s4_service"),
        location: arg(args, "s4_location"),
        alerting_scenario: arg(args, "s4_alerting_scenario"),
        filtering: arg(args, "s4_filtering"),
        source_system: SOURCE_SYSTEM,
    })
}

/// `signl4_close_alert`: `X-S4-ExternalID`, `X-S4-Status: "resolved"`, `X-S4-SourceSystem`.
/// Without `s4_external_id` the request is still sent (with `null`), as the pack does; it
/// resolves nothing.
pub(crate) fn close(args: &Args) -> CloseBody<'_> {
    CloseBody {
        external_id: arg(args, "s4_external_id"),
        status: "resolved",
        source_system: SOURCE_SYSTEM,
    }
}

/// The `test-module` body.
pub(crate) fn test_alert() -> TestBody {
    TestBody {
        title: "Test Alert from Cortex XSOAR",
        source_system: SOURCE_SYSTEM,
    }
}

/// The body as sent on the wire.
pub(crate) fn encode(body: &impl Serialize) -> Result<Vec<u8>, ConnectorError> {
    serde_json::to_vec(body).map_err(|e| {
        ConnectorError::Other(format!("could not encode the SIGNL4 request body: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => m,
            _ => Args::new(),
        }
    }

    fn text(body: &impl Serialize) -> String {
        encode(body)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn alert_keeps_pack_key_order_and_nulls() {
        let a = args(json!({"message": "M", "title": "T"}));
        let body = alert(&a).map(|b| text(&b));
        assert_eq!(
            body.ok().as_deref(),
            Some(
                r#"{"Title":"T","Message":"M","X-S4-ExternalID":null,"X-S4-Status":"new","X-S4-Service":null,"X-S4-Location":null,"X-S4-AlertingScenario":null,"X-S4-Filtering":null,"X-S4-SourceSystem":"CortexXSOAR"}"#
            )
        );
    }

    #[test]
    fn alert_requires_title_and_message() {
        let a = args(json!({"title": "T"}));
        let err = alert(&a).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid argument 'message': signl4_alert needs it (the alert message)")
        );
        assert!(alert(&args(json!({"title": null, "message": "M"}))).is_err());
    }

    #[test]
    fn close_and_test_bodies() {
        let a = args(json!({"s4_external_id": "id1234"}));
        assert_eq!(
            text(&close(&a)),
            r#"{"X-S4-ExternalID":"id1234","X-S4-Status":"resolved","X-S4-SourceSystem":"CortexXSOAR"}"#
        );
        assert_eq!(
            text(&test_alert()),
            r#"{"title":"Test Alert from Cortex XSOAR","X-S4-SourceSystem":"CortexXSOAR"}"#
        );
    }
}
