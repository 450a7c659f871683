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

fn missing(name: &str, command: &str) -> ConnectorError {
    ConnectorError::InvalidArgument {
        name: name.to_owned(),
        message: format!("{command} needs it (the alert {name})"),
    }
}

/// `signl4_alert`: `Title`, `Message`, `X-S4-ExternalID`, `X-S4-Status`, `X-S4-Service`,
/// `X-S4-Location`, `X-S4-AlertingScenario`, `X-S4-Filtering`, `X-S4-SourceSystem`.
pub(crate) fn alert(args: &Args) -> Result<AlertBody<'_>, ConnectorError> {
    let mut body = AlertBody {
        title: NULL,
        message: NULL,
        external_id: NULL,
        status: "new",
        service: NULL,
        location: NULL,
        alerting_scenario: NULL,
        filtering: NULL,
        source_system: SOURCE_SYSTEM,
    };
    // One pass over the (few) arguments instead of a hashed lookup per field.
    for (name, value) in args {
        let slot = match name.as_str() {
            "title" => &mut body.title,
            "message" => &mut body.message,
            "s4_external_id" => &mut body.external_id,
            "s4_service" => &mut body.service,
            "s4_location" => &mut body.location,
            "s4_alerting_scenario" => &mut body.alerting_scenario,
            "s4_filtering" => &mut body.filtering,
            _ => continue,
        };
        *slot = value;
    }
    for (name, value) in [("title", body.title), ("message", body.message)] {
        if value.is_null() {
            return Err(missing(name, crate::commands::ALERT));
        }
    }
    Ok(body)
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
    // A typical body is 200-300 bytes: one allocation.
    let mut buf = Vec::with_capacity(384);
    serde_json::to_writer(&mut buf, body)
        .map(|()| buf)
        .map_err(|e| {
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
