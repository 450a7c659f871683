//! API key check.
//!
//! XSOAR clients send the key verbatim in `Authorization` (no `Bearer`); XSOAR 8 mode adds
//! `x-xdr-auth-id`, which an XSOAR 6 server ignores and so does this one. The comparison is
//! constant-time so response timing does not reveal how much of a guess was right. A missing
//! or wrong key is a 401 with a JSON body (demisto-sdk turns it into "credentials are
//! invalid").

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Reject requests without a known key.
pub async fn require_key(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(AUTHORIZATION)
        .is_some_and(|v| app.key_matches(v.as_bytes()));
    if !ok {
        return ApiError::unauthorized().into_response();
    }
    next.run(req).await
}
