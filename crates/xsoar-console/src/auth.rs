//! Sessions, CSRF and security headers.
//!
//! The pages are static shells and carry no data, so they are served to anyone; the data lives
//! behind `/console/api`, which needs a session. A session starts when the user pastes the API
//! key the server printed at start: the key is exchanged for a random session token in an
//! `HttpOnly; SameSite=Strict` cookie, so page scripts never hold the key and other sites cannot
//! ride the session. State-changing requests must also carry `X-Requested-With`, a header a
//! cross-site form cannot set and a cross-site `fetch` cannot send without a CORS preflight the
//! console never grants. That check stays on with authentication disabled, which is exactly
//! when a local console is most exposed to drive-by requests.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "xsoar_console_session";
/// The header state-changing requests must carry.
pub const CSRF_HEADER: &str = "x-requested-with";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions kept at most (the oldest is dropped beyond it).
const MAX_SESSIONS: usize = 1024;

/// The Content-Security-Policy of every response: scripts and styles from the console only, no
/// inline script, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Who may use the console's API.
#[derive(Clone)]
pub struct ConsoleAuth {
    keys: Arc<Vec<String>>,
    required: bool,
}

impl std::fmt::Debug for ConsoleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleAuth")
            .field("keys", &self.keys.len())
            .field("required", &self.required)
            .finish()
    }
}

impl ConsoleAuth {
    /// Require a session obtained with one of these API keys (empty keys are ignored).
    pub fn with_keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys
            .into_iter()
            .map(Into::into)
            .filter(|k| !k.is_empty())
            .collect();
        Self {
            keys: Arc::new(keys),
            required: true,
        }
    }

    /// No login (tests, a console bound to loopback with `--no-auth`). CSRF checks stay on.
    pub fn disabled() -> Self {
        Self {
            keys: Arc::new(Vec::new()),
            required: false,
        }
    }

    /// Whether a session is required.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Whether `key` is one of the API keys (compared in constant time per key).
    pub fn accepts(&self, key: &str) -> bool {
        let mut ok = false;
        for k in self.keys.iter() {
            ok |= constant_time_eq(k.as_bytes(), key.as_bytes());
        }
        ok
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Live sessions: token → expiry.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        match self.map.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A new session token.
    pub(crate) fn create(&self) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, exp| *exp > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(token.clone(), now + SESSION_TTL);
        token
    }

    pub(crate) fn valid(&self, token: &str) -> bool {
        self.lock()
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }

    pub(crate) fn remove(&self, token: &str) {
        self.lock().remove(token);
    }
}

/// The session token from the request's cookies.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for a new session.
pub(crate) fn session_cookie(token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// `Set-Cookie` that ends the session.
pub(crate) fn expired_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// What the API guard needs.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) auth: ConsoleAuth,
    pub(crate) sessions: Arc<Sessions>,
}

/// Reject state-changing requests without the CSRF header (every route, login included).
pub(crate) async fn csrf(req: Request, next: Next) -> Response {
    if changes_state(req.method()) && !req.headers().contains_key(CSRF_HEADER) {
        return json_error(
            StatusCode::FORBIDDEN,
            "state-changing requests need the X-Requested-With header",
        );
    }
    next.run(req).await
}

/// Require a session on the API when authentication is on.
pub(crate) async fn require_session(
    State(guard): State<Guard>,
    req: Request,
    next: Next,
) -> Response {
    if guard.auth.is_required() {
        let ok = session_token(req.headers()).is_some_and(|t| guard.sessions.valid(&t));
        if !ok {
            return json_error(StatusCode::UNAUTHORIZED, "log in with the API key first");
        }
    }
    next.run(req).await
}

/// Security headers on every response; API responses are never cached.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/console/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if api || !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_exactly() {
        let auth = ConsoleAuth::with_keys(["k-1", "", "k-2"]);
        assert!(auth.accepts("k-1"));
        assert!(auth.accepts("k-2"));
        assert!(!auth.accepts("k-"));
        assert!(!auth.accepts(""));
        assert!(!auth.accepts("k-1 "));
        assert!(auth.is_required());
        assert!(!ConsoleAuth::disabled().is_required());
        assert!(!format!("{auth:?}").contains("k-1"));
    }

    #[test]
    fn cookie_header_is_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; xsoar_console_session=tok; b=2"),
        );
        assert_eq!(session_token(&h).as_deref(), Some("tok"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xsoar_console_sessionx=tok"),
        );
        assert_eq!(session_token(&h), None);
    }

    #[test]
    fn sessions_are_random_and_removable() {
        let s = Sessions::default();
        let a = s.create();
        let b = s.create();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(s.valid(&a));
        s.remove(&a);
        assert!(!s.valid(&a));
        assert!(s.valid(&b));
        assert!(!s.valid("nope"));
    }
}
