//! The API's one error type.
//!
//! Every failure leaves as a status code and a JSON body `{id, status, title, detail}` in the
//! shape XSOAR 6 uses, because demisto-py turns any non-2xx into an `ApiException` that prints
//! the body, and demisto-sdk shows it in its failure tables. Internal errors (database,
//! panics in a task) are logged with their cause and answered with a generic detail, so no
//! internal detail (paths, SQL, secrets) leaves the server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{title}: {detail}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short machine id (`bad_request`, `not_found`, ...).
    pub id: &'static str,
    /// One-line title.
    pub title: String,
    /// What went wrong, for the user.
    pub detail: String,
}

impl ApiError {
    /// A 400 with a title and detail.
    pub fn bad_request(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            id: "bad_request",
            title: title.into(),
            detail: detail.into(),
        }
    }

    /// A 404.
    pub fn not_found(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            id: "not_found",
            title: title.into(),
            detail: detail.into(),
        }
    }

    /// A 405 (the path exists, the method does not).
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            id: "method_not_allowed",
            title: "Method not allowed".into(),
            detail: detail.into(),
        }
    }

    /// A 409 (the thing is busy or in the wrong state).
    pub fn conflict(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            id: "conflict",
            title: title.into(),
            detail: detail.into(),
        }
    }

    /// A 401 (missing or unknown API key).
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            id: "unauthorized",
            title: "Unauthorized".into(),
            detail: "missing or invalid API key: send it verbatim in the Authorization header"
                .into(),
        }
    }

    /// A 401 naming the check a signed (advanced-key) request failed.
    pub fn unauthorized_because(why: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            id: "unauthorized",
            title: "Unauthorized".into(),
            detail: why.to_owned(),
        }
    }

    /// A 401 for a refused login or login step.
    pub fn unauthorized_login() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            id: "unauthorized",
            title: "Unauthorized".into(),
            detail: "login refused: the user is the server's user (GET /user) and the password one of its API keys; POST /login needs the XSRF-TOKEN of GET / in X-XSRF-TOKEN".into(),
        }
    }

    /// A 413.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            id: "payload_too_large",
            title: "Request body too large".into(),
            detail: detail.into(),
        }
    }

    /// A 501 (a feature this server was started without).
    pub fn not_available(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_IMPLEMENTED,
            id: "not_implemented",
            title: "Not available".into(),
            detail: detail.into(),
        }
    }

    /// A 500: the cause is logged, the client gets a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            id: "internal_error",
            title: "Internal server error".into(),
            detail: "the server could not complete the request; see the server log".into(),
        }
    }
}

impl From<xsoar_store::StoreError> for ApiError {
    fn from(e: xsoar_store::StoreError) -> Self {
        match e {
            xsoar_store::StoreError::NoInvestigation(id) => ApiError::not_found(
                "Investigation not found",
                format!("no investigation '{id}'"),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::fields::FieldError> for ApiError {
    fn from(e: crate::fields::FieldError) -> Self {
        ApiError::bad_request("Invalid incident field", e.to_string())
    }
}

impl From<crate::fields::DateError> for ApiError {
    fn from(e: crate::fields::DateError) -> Self {
        ApiError::bad_request("Invalid date", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // XSOAR 6's error shape: `error` repeats the detail for clients that read only it.
        let body = json!({
            "id": self.id,
            "status": self.status.as_u16(),
            "title": self.title,
            "detail": self.detail,
            "error": self.detail,
        });
        (self.status, axum::Json(body)).into_response()
    }
}
