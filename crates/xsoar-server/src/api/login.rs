//! Username/password sessions, for clients configured with `DEMISTO_USERNAME` /
//! `DEMISTO_PASSWORD` instead of an API key.
//!
//! demisto-py's `login` does what XSOAR's web client does: a JSON `GET /` answered with
//! `Set-Cookie: XSRF-TOKEN=<token>` (demisto-py passes `{"user", "password"}` as its body, but
//! its HTTP layer drops the body of a GET), then `POST /login` with that body, the token in
//! `X-XSRF-TOKEN` and the cookie, answered with a session cookie. Every later call sends both
//! cookies and `X-XSRF-TOKEN`, and no `Authorization`. A `GET /` that is not JSON is a page
//! load and goes to the console (or the index page).
//!
//! The emulator has one user (`GET /user`, `admin` unless configured otherwise) and no
//! passwords of its own: the password is one of the server's API keys, so a session gives
//! no more than the key does. Tokens are 256 random bits from the operating system; a token
//! not used for `POST /login` within [`PENDING_TTL`] is forgotten, a session after
//! [`SESSION_TTL`]. Sessions live in memory: a restart logs every client out.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an `XSRF-TOKEN` from `GET /` stays valid for `POST /login`.
pub const PENDING_TTL: Duration = Duration::from_secs(300);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Name of the session cookie.
const SESSION_COOKIE: &str = "S";
/// Sessions (and pending tokens) kept at most; the oldest go first.
const MAX_SESSIONS: usize = 1024;
/// Largest login body read.
const MAX_LOGIN_BODY: usize = 64 * 1024;

/// Open sessions and the XSRF tokens handed out for a login.
#[derive(Debug, Default)]
pub struct Sessions {
    /// XSRF token → when it was handed out.
    pending: HashMap<String, Instant>,
    /// Session id → (its XSRF token, when it was opened).
    open: HashMap<String, (String, Instant)>,
}

impl Sessions {
    fn prune(&mut self, now: Instant) {
        self.pending
            .retain(|_, at| now.duration_since(*at) < PENDING_TTL);
        self.open
            .retain(|_, (_, at)| now.duration_since(*at) < SESSION_TTL);
        while self.pending.len() >= MAX_SESSIONS {
            let Some(oldest) = oldest(self.pending.iter().map(|(k, at)| (k, *at))) else {
                break;
            };
            self.pending.remove(&oldest);
        }
        while self.open.len() >= MAX_SESSIONS {
            let Some(oldest) = oldest(self.open.iter().map(|(k, (_, at))| (k, *at))) else {
                break;
            };
            self.open.remove(&oldest);
        }
    }

    /// Whether `cookies` name an open session whose XSRF token is `xsrf`.
    pub fn matches(&mut self, cookies: &str, xsrf: &str) -> bool {
        self.prune(Instant::now());
        let Some(id) = cookie(cookies, SESSION_COOKIE) else {
            return false;
        };
        self.open.iter().fold(false, |acc, (sid, (token, _))| {
            acc | (ct_eq(sid.as_bytes(), id.as_bytes()) & ct_eq(token.as_bytes(), xsrf.as_bytes()))
        })
    }
}

fn oldest<'a>(items: impl Iterator<Item = (&'a String, Instant)>) -> Option<String> {
    items.min_by_key(|(_, at)| *at).map(|(k, _)| k.clone())
}

/// Constant-time comparison.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

/// The value of cookie `name` in a `Cookie` header (demisto-py also passes the attributes of
/// the `Set-Cookie` it got, e.g. `XSRF-TOKEN=t; Path=/; S=id; Path=/`).
fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split([';', ','])
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// 256 random bits, hex.
fn token() -> Result<String, ApiError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the operating system gave no random bytes"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

/// `/`, `/login` under the API's prefixes (none, `/xsoar`, `/xsoar/public/v1`).
fn login_step(method: &Method, path: &str) -> Option<bool> {
    let path = path.trim_end_matches('/');
    let rest = ["/xsoar/public/v1", "/xsoar", ""]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    match (method, rest) {
        (&Method::GET, "") => Some(false),
        (&Method::POST, "/login") => Some(true),
        _ => None,
    }
}

/// A client's request (JSON in or out), not a browser's page load.
fn is_json(headers: &HeaderMap) -> bool {
    [header::CONTENT_TYPE, header::ACCEPT].iter().any(|h| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"))
    })
}

/// Handles the two login requests; everything else goes on unchanged.
pub async fn intercept(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(second) = login_step(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    // `GET /` without a JSON body is a page load (the console or the index page).
    if !second && !is_json(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_LOGIN_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::bad_request("Invalid login", "the login body is too large")
                .into_response()
        }
    };
    // demisto-py's HTTP layer drops the body of a GET, so the first step usually carries no
    // credentials: the token is handed out, and the credentials are checked at `POST /login`
    // (and here too when they are sent).
    let credentials: Option<Credentials> = match serde_json::from_slice(&bytes) {
        Ok(c) => Some(c),
        Err(_) if !second && bytes.iter().all(u8::is_ascii_whitespace) => None,
        Err(_) if !second => {
            // Not a login: pass the request on with its body.
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
        Err(e) => {
            return ApiError::bad_request(
                "Invalid login",
                format!("the body must be {{\"user\": ..., \"password\": ...}}: {e}"),
            )
            .into_response()
        }
    };
    if let Some(credentials) = &credentials {
        let valid = credentials.user.eq_ignore_ascii_case(&app.shared.user)
            & app.key_matches(credentials.password.as_bytes());
        if !valid {
            tracing::warn!(user = %credentials.user, "login refused");
            return ApiError::unauthorized_login().into_response();
        }
    }
    let now = Instant::now();
    let new_token = match token() {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    if !second {
        let mut sessions = app.sessions();
        sessions.prune(now);
        sessions.pending.insert(new_token.clone(), now);
        return with_cookie(
            Json(json!({})).into_response(),
            &format!("XSRF-TOKEN={new_token}; Path=/; SameSite=Strict"),
        );
    }
    let presented = parts
        .headers
        .get("x-xsrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    {
        let mut sessions = app.sessions();
        sessions.prune(now);
        let known = sessions
            .pending
            .keys()
            .find(|t| ct_eq(t.as_bytes(), presented.as_bytes()))
            .cloned();
        let Some(xsrf) = known else {
            return ApiError::unauthorized_login().into_response();
        };
        sessions.pending.remove(&xsrf);
        sessions.open.insert(new_token.clone(), (xsrf, now));
    }
    tracing::info!(user = %app.shared.user, "session opened");
    let user = app.shared.user.clone();
    with_cookie(
        Json(json!({"id": user, "username": user})).into_response(),
        &format!("{SESSION_COOKIE}={new_token}; Path=/; HttpOnly; SameSite=Strict"),
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_demisto_pys_joined_header() {
        let h = "XSRF-TOKEN=abc; Path=/; SameSite=Strict; S=sid1; Path=/; HttpOnly";
        assert_eq!(cookie(h, "S"), Some("sid1"));
        assert_eq!(cookie(h, "XSRF-TOKEN"), Some("abc"));
        assert_eq!(cookie(h, "missing"), None);
    }

    #[test]
    fn a_session_needs_its_own_xsrf_token() {
        let mut s = Sessions::default();
        s.open.insert("sid".into(), ("tok".into(), Instant::now()));
        assert!(s.matches("S=sid", "tok"));
        assert!(!s.matches("S=sid", "other"));
        assert!(!s.matches("S=nope", "tok"));
        assert!(!s.matches("", "tok"));
    }

    #[test]
    fn login_paths_under_every_prefix() {
        assert_eq!(login_step(&Method::GET, "/"), Some(false));
        assert_eq!(login_step(&Method::GET, "/xsoar/"), Some(false));
        assert_eq!(login_step(&Method::POST, "/login"), Some(true));
        assert_eq!(
            login_step(&Method::POST, "/xsoar/public/v1/login"),
            Some(true)
        );
        assert_eq!(login_step(&Method::GET, "/about"), None);
        assert_eq!(login_step(&Method::POST, "/"), None);
    }
}
