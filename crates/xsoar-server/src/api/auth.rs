//! API key check.
//!
//! XSOAR clients send the key verbatim in `Authorization` (no `Bearer`); XSOAR 8 mode adds
//! `x-xdr-auth-id`, which an XSOAR 6 server ignores and so does this one. An *advanced* key
//! (demisto-py's `DEMISTO_ADVANCED_API_KEY`) is never sent: the client sends `x-xdr-nonce`,
//! `x-xdr-timestamp` and `Authorization: sha256_hex(key + nonce + timestamp)`, and the server
//! computes the same digest for each of its keys. The timestamp must be within 5 minutes of the
//! server's clock and a nonce is accepted once, so a captured request cannot be replayed later
//! (the client makes a fresh nonce and timestamp for every request). Comparisons are
//! constant-time so response timing does not reveal how much of a guess was right. A missing
//! or wrong key is a 401 with a JSON body (demisto-sdk turns it into "credentials are
//! invalid"). A username/password session (`login.rs`) is the other way in.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reject requests without a known key (plain, or an advanced key's digest).
pub async fn require_key(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let advanced = headers
        .get("x-xdr-nonce")
        .zip(headers.get("x-xdr-timestamp"))
        .map(|(n, t)| (n.as_bytes(), t.as_bytes()));
    let mut refused = None;
    let ok = headers.get(AUTHORIZATION).is_some_and(|v| match advanced {
        Some((nonce, timestamp)) => app
            .advanced_key_check(v.as_bytes(), nonce, timestamp, now_ms())
            .map_err(|why| refused = Some(why))
            .is_ok(),
        None => app.key_matches(v.as_bytes()),
    });
    // A username/password session (`login.rs`): its cookie and its XSRF token.
    let ok = ok || {
        let cookies = headers
            .get(axum::http::header::COOKIE)
            .and_then(|v| v.to_str().ok());
        let xsrf = headers.get("x-xsrf-token").and_then(|v| v.to_str().ok());
        match (cookies, xsrf) {
            (Some(c), Some(x)) => app.sessions().matches(c, x),
            _ => false,
        }
    };
    if !ok {
        return match refused {
            Some(why) => ApiError::unauthorized_because(why),
            None => ApiError::unauthorized(),
        }
        .into_response();
    }
    next.run(req).await
}
