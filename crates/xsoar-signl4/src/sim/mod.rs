//! A local stand-in for SIGNL4's inbound webhook, for tests and offline playbook runs.
//!
//! SIGNL4 offers no sandbox, and paging real people to try a playbook is not acceptable, so
//! the emulator ships a simulator that answers the way SIGNL4's documentation says the
//! webhook answers and keeps what it received for inspection.
//!
//! # Contract
//!
//! | request | reply |
//! |---|---|
//! | `POST /webhook/{secret}` (trailing `/` optional), known secret, body parses | `201 {"eventId": "<uuid>"}`; the event is applied (below) |
//! | `?ExtIDParam=..&ExtStatusParam=..&ResolvedStatus=..[&AckStatus=..][&NewStatus=..]` | those payload fields give the external id and status (names and values case-insensitive); with `NewStatus`, other values are discarded |
//! | `POST /api/v2/events/{secret}` with `X-S4-Api-Key` | the same as the webhook; no key (or one not in `api_keys`) is `401` |
//! | `X-S4-Status` absent, `""`, `null` or `new` | a new alert `{id, eventId, externalId, status: "new", title, message, service, location, scenario, filtering, sourceSystem, createdAt, ...}` |
//! | `X-S4-Status` `acknowledged` / `resolved` | every open alert with that `X-S4-ExternalID` changes status (resolved alerts stay resolved); 201 even if none matched |
//! | any other `X-S4-Status` | discarded, still 201 |
//! | unknown secret (also `/webhook`, `/webhook/` and paths with more after the secret) | `404 {"error_code": "NotFound", "description": ...}` |
//! | body invalid for its content type | `400 {"error_code": "BadRequest", "description": ...}` (`lenient_json` reads invalid JSON as text) |
//! | method other than POST | `405`, empty body, `Allow: POST` |
//! | over `quota_per_window` in the current window | `429 {"error_code": "TooManyRequests", ...}` + `Retry-After` |
//! | injected fault pending | `fail_status` (default 503) with a JSON error body; a 3xx status is a redirect (`Location: /_sim/moved`, no body) |
//! | more than `error_quota_per_minute` (10) erroneous requests (unknown secret, malformed body) in a minute | `429 {"error_code": "TooManyRequests", ...}` + `Retry-After`, as SIGNL4 holds erroneous requests to 10 a minute |
//!
//! Every webhook reply carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (unix seconds). Bodies: JSON, form-urlencoded, multipart (text fields
//! plus file parts checked against SIGNL4's 4 MB and file-type limits), XML (each child of the
//! root element a field) and anything else as plain text (the whole body is the message). Keys are matched case-insensitively; title from
//! `Title`/`title`/`subject`, message from `Message`/`message`/`body`; `null` means absent.
//! All secrets share one account: one throttling window and one set of alerts.
//!
//! # Inspection and control
//!
//! `GET /alerts` (`?externalId=`, `?status=` filters; anything else is a 400), `GET /events`
//! (every webhook request, secret masked), `GET|POST /_sim/faults` (`{"latency_ms",
//! "fail_next", "fail_status"}`; a POST changes the knobs it names and keeps the others),
//! `POST /_sim/reset`, `GET /_sim/health`. [`Simulator`] has the same controls as methods.

mod body;
mod state;

pub use state::{Alert, AlertStatus, Attachment, Event, Faults};

use axum::body::{Body, Bytes};
use axum::extract::{
    DefaultBodyLimit, FromRequest, Multipart, Path, Query, RawQuery, Request, State,
};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use body::{BodyError, BodyKind, StatusMapping};
use serde::Deserialize;
use serde_json::{json, Value};
use state::{RateInfo, State as SimState};
use std::fmt;
use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The secret the simulator knows by default.
pub const DEFAULT_SIM_SECRET: &str = "xsoar-emu-simulator";

/// Largest request body accepted (a few attachments of 4 MB).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How much of a body the request log keeps.
const LOGGED_BODY_BYTES: usize = 64 * 1024;

/// Where an injected redirect points (nothing answers there but a 404).
const MOVED_PATH: &str = "/_sim/moved";

/// What `/webhook/{secret}` paths are logged as.
const MASKED_PATH: &str = "/webhook/******";

/// `127.0.0.1:port`: the simulator listens on loopback unless told otherwise.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Simulator settings.
#[derive(Clone)]
pub struct SimConfig {
    /// Team or integration secrets that `/webhook/{secret}` accepts.
    pub secrets: Vec<String>,
    /// Webhook requests accepted per window before 429 (0 = no throttling).
    pub quota_per_window: u32,
    /// Length of the throttling window.
    pub window: Duration,
    /// Delay before every webhook reply (changeable at run time through faults).
    pub latency: Duration,
    /// Read invalid JSON sent as `application/json` as plain text instead of answering 400.
    pub lenient_json: bool,
    /// Erroneous requests (unknown secret, malformed body) answered per minute before 429
    /// (SIGNL4 holds them to 10; 0 = no limit).
    pub error_quota_per_minute: u32,
    /// `X-S4-Api-Key` values `/api/v2/events/{secret}` accepts (empty: any non-empty key).
    pub api_keys: Vec<String>,
    /// Requests kept for `GET /events` (oldest dropped first).
    pub max_events: usize,
}

impl Default for SimConfig {
    /// [`DEFAULT_SIM_SECRET`]; SIGNL4's commercial limit of 150 events per 15 s and 10
    /// erroneous requests a minute; no latency; strict JSON; the last 10 000 requests kept.
    fn default() -> Self {
        Self {
            secrets: vec![DEFAULT_SIM_SECRET.to_owned()],
            quota_per_window: 150,
            window: Duration::from_secs(15),
            latency: Duration::ZERO,
            lenient_json: false,
            error_quota_per_minute: 10,
            api_keys: Vec::new(),
            max_events: 10_000,
        }
    }
}

impl SimConfig {
    /// Default settings with these secrets.
    pub fn with_secrets<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            secrets: secrets.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("secrets", &format_args!("[{} masked]", self.secrets.len()))
            .field("quota_per_window", &self.quota_per_window)
            .field("window", &self.window)
            .field("latency", &self.latency)
            .field("lenient_json", &self.lenient_json)
            .field("error_quota_per_minute", &self.error_quota_per_minute)
            .field(
                "api_keys",
                &format_args!("[{} masked]", self.api_keys.len()),
            )
            .field("max_events", &self.max_events)
            .finish()
    }
}

/// A simulated SIGNL4 account. Clones share state, so tests keep one and serve another.
#[derive(Clone)]
pub struct Simulator {
    config: Arc<SimConfig>,
    state: Arc<Mutex<SimState>>,
}

impl Default for Simulator {
    fn default() -> Self {
        Self::new(SimConfig::default())
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Simulator")
            .field("config", &self.config)
            .field("alerts", &state.alerts().len())
            .field("faults", &state.faults)
            .finish()
    }
}

impl Simulator {
    /// A simulator with no alerts.
    pub fn new(config: SimConfig) -> Self {
        let faults = initial_faults(&config);
        Self {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(SimState::new(faults))),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Every alert, oldest first.
    pub fn alerts(&self) -> Vec<Alert> {
        self.lock().alerts().to_vec()
    }

    /// Alerts raised with this `X-S4-ExternalID`, oldest first.
    pub fn alerts_with_external_id(&self, external_id: &str) -> Vec<Alert> {
        self.lock()
            .alerts()
            .iter()
            .filter(|a| a.external_id.as_deref() == Some(external_id))
            .cloned()
            .collect()
    }

    /// Webhook requests received (the last `max_events`), oldest first; secrets masked.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events().cloned().collect()
    }

    /// Faults currently configured.
    pub fn faults(&self) -> Faults {
        self.lock().faults
    }

    /// Replace the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Delay every webhook reply by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().faults.latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    }

    /// Answer the next `count` webhook requests with `status` (e.g. 503).
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut state = self.lock();
        state.faults.fail_next = count;
        state.faults.fail_status = status;
    }

    /// Forget alerts, events, throttling and faults (latency back to the configured one).
    pub fn reset(&self) {
        *self.lock() = SimState::new(initial_faults(&self.config));
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why `/api/v2/events` refuses the request's `X-S4-Api-Key`, if it does.
    fn api_key_refusal(&self, headers: &HeaderMap) -> Option<&'static str> {
        let key = headers
            .get("x-s4-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        if key.is_empty() {
            Some("The X-S4-Api-Key header is missing.")
        } else if !self.config.api_keys.is_empty() && !self.config.api_keys.iter().any(|k| k == key)
        {
            Some("The X-S4-Api-Key header holds an unknown API key.")
        } else {
            None
        }
    }

    fn mask(&self, text: &str) -> String {
        self.config
            .secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "******"))
    }

    async fn webhook(
        &self,
        route: Route,
        method: Method,
        secret: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response {
        let mapping = query.and_then(StatusMapping::from_query);
        let latency = Duration::from_millis(self.lock().faults.latency_ms);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let known = !secret.is_empty() && self.config.secrets.iter().any(|s| s == secret);
        let mut event = Event {
            seq: 0,
            received_at: state::now_rfc3339(),
            method: method.to_string(),
            path: route.masked_path().to_owned(),
            secret_known: known,
            content_type: content_type.clone(),
            body: self.mask(&String::from_utf8_lossy(
                &body[..body.len().min(LOGGED_BODY_BYTES)],
            )),
            status: 0,
            event_id: None,
            outcome: String::new(),
        };
        let (quota, window) = (self.config.quota_per_window, self.config.window);

        if method != Method::POST {
            let (rate, _) = self.lock().rate(quota, window, false);
            let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, None, rate);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return self.finish(event, response, "method not allowed");
        }
        if let Route::RestEvents = route {
            if let Some(refusal) = self.api_key_refusal(headers) {
                let (rate, _) = self.lock().rate(quota, window, false);
                let body = error_body(StatusCode::UNAUTHORIZED, refusal);
                return self.finish(
                    event,
                    reply(StatusCode::UNAUTHORIZED, Some(body), rate),
                    "API key refused",
                );
            }
        }
        let fault = self.lock().take_fault();
        if let Some(code) = fault {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (rate, _) = self.lock().rate(quota, window, false);
            if status.is_redirection() {
                let mut response = reply(status, None, rate);
                response
                    .headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static(MOVED_PATH));
                return self.finish(event, response, "injected redirect");
            }
            let body = error_body(status, "Simulated failure (fault injection).");
            return self.finish(event, reply(status, Some(body), rate), "injected fault");
        }
        if !known {
            let (rate, _) = self.lock().rate(quota, window, false);
            if let Some(response) = self.hold_erroneous(rate) {
                return self.finish(event, response, "erroneous requests throttled");
            }
            let body = error_body(
                StatusCode::NOT_FOUND,
                "Webhook not found. Check the team or integration secret.",
            );
            return self.finish(
                event,
                reply(StatusCode::NOT_FOUND, Some(body), rate),
                "unknown secret",
            );
        }
        let (rate, allowed) = self.lock().rate(quota, window, true);
        if !allowed {
            let body = error_body(
                StatusCode::TOO_MANY_REQUESTS,
                "Event throttling limit reached. New events are blocked until the reset time.",
            );
            let mut response = reply(StatusCode::TOO_MANY_REQUESTS, Some(body), rate);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(rate.retry_after));
            return self.finish(event, response, "throttled");
        }
        let incoming = match self
            .read_body(content_type.as_deref(), body, mapping.as_ref())
            .await
        {
            Ok(incoming) => incoming,
            Err(e) => {
                if let Some(response) = self.hold_erroneous(rate) {
                    return self.finish(event, response, "erroneous requests throttled");
                }
                let body = error_body(StatusCode::BAD_REQUEST, &e.to_string());
                let outcome = format!("malformed body: {e}");
                return self.finish(
                    event,
                    reply(StatusCode::BAD_REQUEST, Some(body), rate),
                    &outcome,
                );
            }
        };
        let event_id = state::new_id();
        let outcome = self.lock().apply(incoming, &event_id);
        event.event_id = Some(event_id.clone());
        let response = reply(
            StatusCode::CREATED,
            Some(json!({ "eventId": event_id })),
            rate,
        );
        self.finish(event, response, &outcome)
    }

    /// Count an erroneous request; over `error_quota_per_minute`, the 429 to send instead.
    fn hold_erroneous(&self, rate: RateInfo) -> Option<Response> {
        let retry_after = self.lock().erroneous(self.config.error_quota_per_minute)?;
        let body = error_body(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many erroneous requests (unknown secret or malformed body): at most 10 a minute are answered.",
        );
        let mut response = reply(StatusCode::TOO_MANY_REQUESTS, Some(body), rate);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        Some(response)
    }

    async fn read_body(
        &self,
        content_type: Option<&str>,
        body: Bytes,
        mapping: Option<&StatusMapping>,
    ) -> Result<state::Incoming, BodyError> {
        let kind = BodyKind::of(content_type);
        if kind != BodyKind::Multipart {
            let fields = body::parse_fields(kind, &body, self.config.lenient_json)?;
            return Ok(mapped(fields, Vec::new(), mapping));
        }
        let request = Request::builder()
            .header(header::CONTENT_TYPE, content_type.unwrap_or_default())
            .body(Body::from(body))
            .map_err(|e| BodyError::Multipart(e.to_string()))?;
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| BodyError::Multipart(e.body_text()))?;
        let mut fields = Vec::new();
        let mut attachments = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| BodyError::Multipart(e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let part_type = field.content_type().map(str::to_owned);
            let data = field
                .bytes()
                .await
                .map_err(|e| BodyError::Multipart(e.body_text()))?;
            if file_name.is_some() {
                let attachment = Attachment {
                    name,
                    file_name,
                    content_type: part_type,
                    size: data.len(),
                };
                body::check_attachment(&attachment)?;
                attachments.push(attachment);
            } else {
                let text = String::from_utf8(data.to_vec()).map_err(|_| BodyError::NotUtf8)?;
                fields.push((name, Value::String(text)));
            }
        }
        Ok(mapped(fields, attachments, mapping))
    }

    fn finish(&self, mut event: Event, response: Response, outcome: &str) -> Response {
        event.status = response.status().as_u16();
        event.outcome = outcome.to_owned();
        tracing::debug!(
            status = event.status,
            outcome,
            "SIGNL4 simulator webhook request"
        );
        self.lock().record(event, self.config.max_events);
        response
    }
}

fn initial_faults(config: &SimConfig) -> Faults {
    Faults {
        latency_ms: u64::try_from(config.latency.as_millis()).unwrap_or(u64::MAX),
        ..Faults::default()
    }
}

fn error_body(status: StatusCode, description: &str) -> Value {
    let code: String = status
        .canonical_reason()
        .unwrap_or("Error")
        .split_whitespace()
        .collect();
    json!({ "error_code": code, "description": description })
}

/// A webhook reply: JSON body (or none) plus the rate-limit headers.
fn reply(status: StatusCode, body: Option<Value>, rate: RateInfo) -> Response {
    let mut response = match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderValue::from(rate.limit),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderValue::from(rate.remaining),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-reset"),
        HeaderValue::from(rate.reset),
    );
    response
}

async fn webhook(
    State(sim): State<Simulator>,
    method: Method,
    Path(secret): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.webhook(
        Route::Webhook,
        method,
        &secret,
        query.as_deref(),
        &headers,
        body,
    )
    .await
}

/// `POST /api/v2/events/{teamSecret}`: SIGNL4's REST twin of the webhook — the same body and
/// replies, authenticated by an `X-S4-Api-Key` header (any non-empty key, or one of
/// [`SimConfig::api_keys`] when it names some). A missing or unknown key is a 401.
async fn rest_events(
    State(sim): State<Simulator>,
    method: Method,
    Path(secret): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.webhook(
        Route::RestEvents,
        method,
        &secret,
        query.as_deref(),
        &headers,
        body,
    )
    .await
}

/// Which of SIGNL4's two inbound URLs a request came to.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// `/webhook/{secret}`.
    Webhook,
    /// `/api/v2/events/{secret}` with `X-S4-Api-Key`.
    RestEvents,
}

impl Route {
    /// How the request log shows the path (the secret masked).
    fn masked_path(self) -> &'static str {
        match self {
            Route::Webhook => MASKED_PATH,
            Route::RestEvents => "/api/v2/events/******",
        }
    }
}

/// [`body::interpret`], with the external id and status a URL's status mapping reads
/// replacing the `X-S4-*` ones.
fn mapped(
    fields: Vec<(String, Value)>,
    attachments: Vec<Attachment>,
    mapping: Option<&StatusMapping>,
) -> state::Incoming {
    let read = mapping.map(|m| m.read(&fields));
    let mut incoming = body::interpret(fields, attachments);
    if let Some((external_id, status)) = read {
        if external_id.is_some() {
            incoming.external_id = external_id;
        }
        if let Some(status) = status {
            incoming.status = status;
        }
    }
    incoming
}

/// Paths no route takes. Under `/webhook` they are webhook URLs whose secret is missing
/// (`/webhook/` from an empty variable) or followed by more path: answered as an unknown
/// secret, so the reply, its rate-limit headers and the request log follow the webhook
/// contract. Anything else is a plain 404.
async fn fallback(
    State(sim): State<Simulator>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/webhook" || path.starts_with("/webhook/") {
        return sim
            .webhook(Route::Webhook, method, "", None, &headers, body)
            .await;
    }
    if path == "/api/v2/events" || path.starts_with("/api/v2/events/") {
        return sim
            .webhook(Route::RestEvents, method, "", None, &headers, body)
            .await;
    }
    StatusCode::NOT_FOUND.into_response()
}

/// `GET /alerts` filters. Unknown parameters are refused rather than ignored: a misspelt
/// filter (`?externalid=`) would otherwise list every alert and pass an assertion by accident.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertFilter {
    #[serde(rename = "externalId")]
    external_id: Option<String>,
    status: Option<AlertStatus>,
}

async fn list_alerts(
    State(sim): State<Simulator>,
    filter: Result<Query<AlertFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(filter) => filter,
        Err(e) => {
            let body = error_body(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Invalid alert filter: {}. Filters: externalId=<id>, status=new|acknowledged|resolved",
                    e.body_text()
                ),
            );
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let alerts: Vec<Alert> = sim
        .alerts()
        .into_iter()
        .filter(|a| {
            filter
                .external_id
                .as_ref()
                .is_none_or(|id| a.external_id.as_ref() == Some(id))
        })
        .filter(|a| filter.status.is_none_or(|s| a.status == s))
        .collect();
    Json(alerts).into_response()
}

async fn list_events(State(sim): State<Simulator>) -> Json<Vec<Event>> {
    Json(sim.events())
}

async fn get_faults(State(sim): State<Simulator>) -> Json<Faults> {
    Json(sim.faults())
}

/// A `POST /_sim/faults` body: the knobs to change. A knob left out keeps its value, so
/// injecting failures does not drop the latency a simulator was started with
/// (`--latency-ms`), and changing the latency does not cancel failures still pending.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsUpdate {
    latency_ms: Option<u64>,
    fail_next: Option<u32>,
    fail_status: Option<u16>,
}

async fn set_faults(State(sim): State<Simulator>, body: Bytes) -> Response {
    let update: FaultsUpdate = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            let body = error_body(StatusCode::BAD_REQUEST, &format!("Invalid faults: {e}"));
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    if update
        .fail_status
        .is_some_and(|s| !(300..=599).contains(&s))
    {
        let body = error_body(
            StatusCode::BAD_REQUEST,
            "fail_status must be between 300 (a redirect) and 599",
        );
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let faults = {
        let mut state = sim.lock();
        let faults = &mut state.faults;
        faults.latency_ms = update.latency_ms.unwrap_or(faults.latency_ms);
        faults.fail_next = update.fail_next.unwrap_or(faults.fail_next);
        faults.fail_status = update.fail_status.unwrap_or(faults.fail_status);
        *faults
    };
    Json(faults).into_response()
}

async fn reset(State(sim): State<Simulator>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The simulator's HTTP application.
pub fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/webhook/{secret}", any(webhook))
        .route("/webhook/{secret}/", any(webhook))
        .route("/api/v2/events/{secret}", any(rest_events))
        .route("/api/v2/events/{secret}/", any(rest_events))
        .route("/alerts", get(list_alerts))
        .route("/events", get(list_events))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/reset", post(reset))
        .route("/_sim/health", get(health))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(sim)
}

/// A running simulator. Dropping it stops the server (without waiting).
#[derive(Debug)]
pub struct SimHandle {
    url: String,
    local_addr: SocketAddr,
    simulator: Simulator,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// `http://127.0.0.1:<port>`: the `url` parameter of a SIGNL4 instance using it.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The simulator it serves (shares state with the server).
    pub fn simulator(&self) -> &Simulator {
        &self.simulator
    }

    /// `{url}/webhook/{first secret}`, the full webhook URL (contains a secret: tests only).
    pub fn webhook_url(&self) -> String {
        let secret = self
            .simulator
            .config
            .secrets
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        format!("{}/webhook/{secret}", self.url)
    }

    /// Stop accepting connections, let requests in flight finish, and wait for the server.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.join().await
    }

    /// Wait until the server stops (after [`SimHandle::shutdown`] elsewhere or an IO error);
    /// for a standalone simulator, race it with Ctrl-C.
    pub async fn join(&mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serve `sim` on `addr` (port 0 picks a free port) in a background task.
pub async fn spawn(sim: Simulator, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(sim.clone());
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = rx.await;
    });
    let task = tokio::spawn(server.into_future());
    tracing::info!(%local_addr, "SIGNL4 simulator listening");
    Ok(SimHandle {
        url: format!("http://{local_addr}"),
        local_addr,
        simulator: sim,
        shutdown: Some(tx),
        task: Some(task),
    })
}
