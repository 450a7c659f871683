//! Lenient request parsing.
//!
//! Real clients send bodies built from swagger models: every field present, unset ones as
//! `null`, booleans sometimes as `"true"`, ids as strings or numbers, and a JSON content type
//! even on GETs. So bodies are read whatever the content type, an empty or `null` body is the
//! default request, unknown keys are ignored, and fields are read through the helpers below
//! rather than strict types.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A JSON body parsed leniently into `T` (a struct whose fields are all optional).
#[derive(Debug, Clone, Default)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(e.body_text())
            } else {
                ApiError::bad_request("Unreadable request body", e.body_text())
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parse a JSON body leniently (empty or `null` → default).
pub fn parse_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("Invalid JSON body", e.to_string()))?;
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("Unexpected request body", e.to_string()))
}

/// A string from a string or a number (`null` and others: `None`).
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-empty string from a string or a number.
pub fn non_empty_text(v: Option<&Value>) -> Option<String> {
    text(v).filter(|s| !s.trim().is_empty())
}

/// The `id` of a body, or its `name` when it has no id; a 400 saying `missing` when it has
/// neither.
pub fn id_or_name(body: &Map<String, Value>, missing: &str) -> Result<String, ApiError> {
    non_empty_text(body.get("id"))
        .or_else(|| non_empty_text(body.get("name")))
        .ok_or_else(|| ApiError::bad_request("Missing id", missing))
}

/// The answer to a request that is not a multipart upload.
pub fn not_multipart(e: MultipartRejection) -> ApiError {
    ApiError::bad_request(
        "Expected a multipart upload",
        format!(
            "{} (send the file as the multipart field 'file')",
            e.body_text()
        ),
    )
}

/// The answer to a multipart upload that cannot be read (413 when it is too large).
pub fn unreadable_multipart(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(e.body_text())
    } else {
        ApiError::bad_request("Invalid multipart body", e.body_text())
    }
}

/// An integer from a number or a numeric string.
pub fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean from a bool or `"true"`/`"false"` (any case), or `1`/`0`.
pub fn boolean(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// A list of strings from an array (of strings or numbers) or a single value.
pub fn text_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| text(Some(x))).collect(),
        Some(other) => text(Some(other)).into_iter().collect(),
        None => Vec::new(),
    }
}

/// A list of integers from an array or a single value.
pub fn int_list(v: Option<&Value>) -> Vec<i64> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| int(Some(x))).collect(),
        Some(other) => int(Some(other)).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helpers_accept_what_clients_send() {
        assert_eq!(text(Some(&json!(104))), Some("104".into()));
        assert_eq!(text(Some(&Value::Null)), None);
        assert_eq!(int(Some(&json!("7"))), Some(7));
        assert_eq!(int(Some(&json!(2.9))), Some(2));
        assert_eq!(boolean(Some(&json!("TRUE"))), Some(true));
        assert_eq!(boolean(Some(&json!("false"))), Some(false));
        assert_eq!(boolean(Some(&json!("maybe"))), None);
        assert_eq!(text_list(Some(&json!(["1", 2]))), vec!["1", "2"]);
        assert_eq!(text_list(Some(&json!("x"))), vec!["x"]);
        assert_eq!(int_list(Some(&json!([9, "0"]))), vec![9, 0]);
    }

    #[test]
    fn empty_and_null_bodies_are_defaults() {
        let v: serde_json::Map<String, Value> = parse_json(b"  ").expect("empty");
        assert!(v.is_empty());
        let v: serde_json::Map<String, Value> = parse_json(b"null").expect("null");
        assert!(v.is_empty());
        let err = parse_json::<serde_json::Map<String, Value>>(b"{nope").expect_err("bad");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
    }
}
