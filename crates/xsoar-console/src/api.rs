//! The console's internal JSON API (`/console/api/...`, documented in docs/console-api.md).
//!
//! Handlers translate between HTTP and the [`ConsoleBackend`]; they add rendering (entries as
//! sanitised HTML) and the views derived from the engine's library. Changes run in a spawned
//! task, so a browser that navigates away mid-command does not cancel a command half-way: the
//! command finishes and its entries are stored and broadcast as usual.

use crate::auth::{self, json_error, Guard};
use crate::backend::{
    ConsoleBackend, ConsoleError, InvestigationEvent, InvestigationSummary, NewIncident,
};
use crate::catalog::catalog;
use crate::instances::{self, InstanceInput};
use crate::playbooks::{self, run_view, RunView};
use crate::render::{entry_seq, entry_view, EntryView};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use xsoar_engine::{InvokeStatus, TaskCompletion};

/// Shared state of the API handlers.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) backend: Arc<dyn ConsoleBackend>,
    pub(crate) guard: Guard,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        json_error(status, &self.to_string())
    }
}

type ApiResult<T> = Result<Json<T>, ConsoleError>;

/// A JSON request body. A body that is not JSON or lacks a field is answered in the API's error
/// shape (`{"error": ...}`, 400; 413 when too large) rather than as plain text.
pub(crate) struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => {
                let status = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                Err(json_error(
                    status,
                    &format!("invalid request body: {}", rejection.body_text()),
                ))
            }
        }
    }
}

/// The API routes (state still to be supplied).
pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route("/investigations", get(list).post(create))
        .route("/investigations/{id}", get(investigation))
        .route("/investigations/{id}/context", get(context))
        .route("/investigations/{id}/execute", post(execute))
        .route("/investigations/{id}/events", get(events))
        .route("/investigations/{id}/run", get(run).post(start_run))
        .route("/investigations/{id}/run/complete", post(complete))
        .route("/catalog", get(command_catalog))
        .route("/playbooks", get(playbook_list))
        .route("/playbooks/{id}", get(playbook))
        .route("/integrations", get(integrations))
        .route("/instances", get(instance_list).post(instance_add))
        .route(
            "/instances/{name}",
            axum::routing::put(instance_edit).delete(instance_delete),
        )
        .route("/instances/{name}/enabled", post(instance_enable))
        .route("/instances/{name}/test", post(instance_test))
}

/// Run a backend change to completion even if the request is dropped.
async fn detached<T, F>(fut: F) -> Result<T, ConsoleError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, ConsoleError>> + Send + 'static,
{
    tokio::spawn(fut)
        .await
        .map_err(|e| ConsoleError::Backend(format!("the change did not finish: {e}")))?
}

/// `playground` names the playground; anything else is an investigation id.
async fn resolve(backend: &dyn ConsoleBackend, id: &str) -> Result<String, ConsoleError> {
    if id == "playground" {
        Ok(backend.playground().await?.id)
    } else {
        Ok(id.to_owned())
    }
}

async fn summary_of(
    backend: &dyn ConsoleBackend,
    id: &str,
) -> Result<InvestigationSummary, ConsoleError> {
    backend
        .list_investigations()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ConsoleError::NotFound(format!("no investigation '{id}'")))
}

/// `GET /console/session` (no session needed): whether this browser is logged in, so pages
/// can go to the login page before calling the API instead of collecting 401s.
pub(crate) async fn session(State(api): State<Api>, headers: HeaderMap) -> Json<Value> {
    let required = api.guard.auth.is_required();
    let authenticated =
        !required || auth::session_token(&headers).is_some_and(|t| api.guard.sessions.valid(&t));
    Json(json!({ "authenticated": authenticated, "authRequired": required }))
}

async fn list(State(api): State<Api>) -> ApiResult<Vec<InvestigationSummary>> {
    Ok(Json(api.backend.list_investigations().await?))
}

async fn create(
    State(api): State<Api>,
    Body(new): Body<NewIncident>,
) -> Result<(StatusCode, Json<InvestigationSummary>), ConsoleError> {
    if new.name.trim().is_empty() {
        return Err(ConsoleError::BadRequest("an incident needs a name".into()));
    }
    if !(0..=4).contains(&new.severity) {
        return Err(ConsoleError::BadRequest(format!(
            "severity {} is not one of 0 (unknown), 1 (low), 2 (medium), 3 (high), 4 (critical)",
            new.severity
        )));
    }
    let backend = api.backend.clone();
    let created = detached(async move { backend.create_incident(new).await }).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize)]
struct After {
    /// Only entries after this sequence number.
    #[serde(default)]
    after: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InvestigationView {
    summary: InvestigationSummary,
    incident: Value,
    entries: Vec<EntryView>,
}

async fn investigation(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(after): Query<After>,
) -> ApiResult<InvestigationView> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    let inv = api.backend.investigation(&id).await?;
    let summary = summary_of(api.backend.as_ref(), &id).await?;
    Ok(Json(InvestigationView {
        summary,
        entries: inv
            .entries
            .iter()
            .filter(|e| entry_seq(&e.id) > after.after)
            .map(|e| entry_view(e))
            .collect(),
        incident: inv.incident,
    }))
}

async fn context(State(api): State<Api>, Path(id): Path<String>) -> ApiResult<Value> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    Ok(Json(api.backend.investigation(&id).await?.context))
}

#[derive(Debug, Deserialize)]
struct Line {
    line: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteView {
    /// `ok`, `error` or `unavailable`.
    status: &'static str,
    /// The echoed line (or note) and the result entries.
    entries: Vec<EntryView>,
}

async fn execute(
    State(api): State<Api>,
    Path(id): Path<String>,
    Body(line): Body<Line>,
) -> ApiResult<ExecuteView> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    let backend = api.backend.clone();
    let run_id = id.clone();
    let outcome = detached(async move { backend.execute_line(&run_id, &line.line).await }).await?;
    let inv = api.backend.investigation(&id).await?;
    let entries = outcome
        .echo
        .iter()
        .chain(outcome.results.iter())
        .filter_map(|eid| inv.entry(eid))
        .map(entry_view)
        .collect();
    Ok(Json(ExecuteView {
        status: match outcome.status {
            InvokeStatus::Ok => "ok",
            InvokeStatus::Error => "error",
            InvokeStatus::Unavailable => "unavailable",
        },
        entries,
    }))
}

/// What the event stream needs to turn backend events into SSE events.
struct EventSource {
    rx: broadcast::Receiver<InvestigationEvent>,
    backend: Arc<dyn ConsoleBackend>,
    id: String,
}

async fn next_event(mut src: EventSource) -> Option<(Result<Event, Infallible>, EventSource)> {
    let event = match src.rx.recv().await {
        Ok(InvestigationEvent::Entries { entries }) => {
            let views: Vec<EntryView> = entries.iter().map(entry_view).collect();
            Event::default()
                .event("entries")
                .json_data(json!({ "entries": views }))
        }
        Ok(InvestigationEvent::Run { run }) => {
            let view = match src.backend.investigation(&src.id).await {
                Ok(inv) => run_view(&inv, *run),
                Err(_) => return None,
            };
            Event::default().event("run").json_data(view)
        }
        Ok(InvestigationEvent::Task { progress }) => {
            Event::default().event("task").json_data(progress)
        }
        Err(broadcast::error::RecvError::Lagged(n)) => {
            Ok(Event::default().event("resync").data(n.to_string()))
        }
        Err(broadcast::error::RecvError::Closed) => return None,
    };
    let event = event.unwrap_or_else(|e| Event::default().event("resync").data(e.to_string()));
    Some((Ok(event), src))
}

async fn events(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    let rx = api.backend.subscribe(&id).await?;
    let src = EventSource {
        rx,
        backend: api.backend.clone(),
        id,
    };
    let stream = futures::stream::unfold(src, next_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn run(State(api): State<Api>, Path(id): Path<String>) -> ApiResult<Option<RunView>> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    let run = api.backend.playbook_run(&id).await?;
    match run {
        None => Ok(Json(None)),
        Some(run) => {
            let inv = api.backend.investigation(&id).await?;
            Ok(Json(Some(run_view(&inv, run))))
        }
    }
}

#[derive(Debug, Deserialize)]
struct StartRun {
    playbook: String,
    #[serde(default)]
    inputs: Map<String, Value>,
}

async fn start_run(
    State(api): State<Api>,
    Path(id): Path<String>,
    Body(start): Body<StartRun>,
) -> ApiResult<RunView> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    let backend = api.backend.clone();
    let run_id = id.clone();
    let run = detached(async move {
        backend
            .start_playbook(&run_id, &start.playbook, start.inputs)
            .await
    })
    .await?;
    let inv = api.backend.investigation(&id).await?;
    Ok(Json(run_view(&inv, run)))
}

/// A label the waiting task `completion.task` (id, tag or name) does not offer is a 400
/// (unknown tasks and tasks that do not wait are left to the backend: 404 / 409).
async fn check_label(
    backend: &dyn ConsoleBackend,
    id: &str,
    completion: &TaskCompletion,
) -> Result<(), ConsoleError> {
    let Some(label) = completion.label.as_deref().filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let Some(run) = backend.playbook_run(id).await? else {
        return Ok(());
    };
    let lib = backend.engine().library();
    let wanted = completion.task.as_str();
    let waiting = run.root.walk().into_iter().find_map(|(frame, t)| {
        if t.state != xsoar_engine::TaskState::Waiting {
            return None;
        }
        let def = lib.playbook(&frame.playbook_id)?.tasks.get(&t.id)?;
        (t.id == wanted || def.name == wanted || def.tags.iter().any(|g| g == wanted))
            .then_some(def)
    });
    let Some(task) = waiting else {
        return Ok(());
    };
    let offered = playbooks::offered_labels(task);
    if offered.iter().any(|l| l == label) {
        return Ok(());
    }
    Err(ConsoleError::BadRequest(if offered.is_empty() {
        format!("task '{wanted}' takes no label; complete it without one (got '{label}')")
    } else {
        format!(
            "task '{wanted}' offers no label '{label}' (labels: {})",
            offered.join(", ")
        )
    }))
}

async fn complete(
    State(api): State<Api>,
    Path(id): Path<String>,
    Body(completion): Body<TaskCompletion>,
) -> ApiResult<RunView> {
    let id = resolve(api.backend.as_ref(), &id).await?;
    check_label(api.backend.as_ref(), &id, &completion).await?;
    let backend = api.backend.clone();
    let run_id = id.clone();
    let run = detached(async move { backend.complete_task(&run_id, completion).await }).await?;
    let inv = api.backend.investigation(&id).await?;
    Ok(Json(run_view(&inv, run)))
}

async fn command_catalog(State(api): State<Api>) -> ApiResult<crate::catalog::Catalog> {
    Ok(Json(catalog(&api.backend.engine())))
}

async fn playbook_list(State(api): State<Api>) -> ApiResult<Vec<playbooks::PlaybookSummary>> {
    let lib = api.backend.engine().library();
    Ok(Json(playbooks::summaries(lib.playbooks())))
}

async fn playbook(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> ApiResult<playbooks::PlaybookGraph> {
    let engine = api.backend.engine();
    let lib = engine.library();
    let pb = lib
        .playbook(&id)
        .ok_or_else(|| ConsoleError::NotFound(format!("no playbook '{id}' is loaded")))?;
    Ok(Json(playbooks::graph(pb, &|name| engine.secret_args(name))))
}

async fn integrations(State(api): State<Api>) -> ApiResult<Vec<instances::IntegrationView>> {
    Ok(Json(instances::integrations(&api.backend.engine())))
}

async fn instance_list(State(api): State<Api>) -> ApiResult<Vec<instances::InstanceView>> {
    Ok(Json(instances::instance_views(&api.backend.engine())))
}

async fn save(
    api: &Api,
    specs: Vec<xsoar_engine::InstanceSpec>,
) -> ApiResult<Vec<instances::InstanceView>> {
    let backend = api.backend.clone();
    detached(async move { backend.save_instances(specs).await }).await?;
    Ok(Json(instances::instance_views(&api.backend.engine())))
}

async fn instance_add(
    State(api): State<Api>,
    Body(input): Body<InstanceInput>,
) -> ApiResult<Vec<instances::InstanceView>> {
    let specs = instances::add(&api.backend.engine(), &input)?;
    save(&api, specs).await
}

async fn instance_edit(
    State(api): State<Api>,
    Path(name): Path<String>,
    Body(input): Body<InstanceInput>,
) -> ApiResult<Vec<instances::InstanceView>> {
    let specs = instances::edit(&api.backend.engine(), &name, &input)?;
    save(&api, specs).await
}

#[derive(Debug, Deserialize)]
struct Enabled {
    enabled: bool,
}

async fn instance_enable(
    State(api): State<Api>,
    Path(name): Path<String>,
    Body(enabled): Body<Enabled>,
) -> ApiResult<Vec<instances::InstanceView>> {
    let input = InstanceInput {
        name: None,
        brand: None,
        enabled: Some(enabled.enabled),
        params: Map::new(),
        clear: Vec::new(),
    };
    let specs = instances::edit(&api.backend.engine(), &name, &input)?;
    save(&api, specs).await
}

async fn instance_delete(
    State(api): State<Api>,
    Path(name): Path<String>,
) -> ApiResult<Vec<instances::InstanceView>> {
    let specs = instances::delete(&api.backend.engine(), &name)?;
    save(&api, specs).await
}

async fn instance_test(State(api): State<Api>, Path(name): Path<String>) -> ApiResult<Value> {
    let engine = api.backend.engine();
    if !engine.instance_specs().iter().any(|s| s.name == name) {
        return Err(ConsoleError::NotFound(format!(
            "no instance named '{name}'"
        )));
    }
    let result = detached(async move { Ok(engine.test_instance(&name).await) }).await?;
    Ok(Json(match result {
        Ok(()) => json!({ "ok": true, "message": "ok" }),
        Err(e) => json!({ "ok": false, "message": e }),
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Login {
    key: String,
}

/// `POST /console/login`: exchange the API key for a session cookie.
pub(crate) async fn login(State(api): State<Api>, Body(login): Body<Login>) -> Response {
    if !api.guard.auth.is_required() {
        return StatusCode::NO_CONTENT.into_response();
    }
    if !api.guard.auth.accepts(login.key.trim()) {
        // Slow down guessing.
        tokio::time::sleep(Duration::from_millis(250)).await;
        return json_error(StatusCode::UNAUTHORIZED, "that is not the API key");
    }
    let token = api.guard.sessions.create();
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&auth::session_cookie(&token)) {
        headers.insert(header::SET_COOKIE, v);
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// `POST /console/logout`: end the session.
pub(crate) async fn logout(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Some(t) = auth::session_token(&headers) {
        api.guard.sessions.remove(&t);
    }
    let mut out = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&auth::expired_cookie()) {
        out.insert(header::SET_COOKIE, v);
    }
    (StatusCode::NO_CONTENT, out).into_response()
}
