//! An XSOAR-compatible REST API over the emulator's engine, persisted in SQLite.
//!
//! The point is that the tools people already use against Cortex XSOAR — `demisto-sdk run`,
//! `run-playbook`, `upload`, and scripts written with demisto-py — work unchanged against the
//! emulator. So the API presents itself as XSOAR 6 on-prem and follows what those clients
//! actually send and parse (`shared/spec/rest-api.md`), quirks included: lenient bodies,
//! percent-encoded ids, string `contents`, no `"error"` key in successful bodies, an `/about`
//! that survives the SDK's `'`→`"` re-parse, every route also under `/xsoar`.
//!
//! [`router`] builds the whole application from an [`AppState`]; it is a plain function so
//! tests drive it in-process. [`router_with`] merges extra, unauthenticated routes (the web
//! console) next to the API. Every request gets a tracing span with method, path, status and
//! latency; bodies, headers and query strings are never logged.

mod api;
mod body;
mod console;
mod error;
mod fields;
mod source;
mod state;
pub mod views;

pub use error::ApiError;
pub use state::{AppState, ReloadFn, ReloadOutcome, ServerConfig, StartError};

use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{Method, Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Largest upload (content packs, YAML files).
pub const UPLOAD_LIMIT: usize = 32 * 1024 * 1024;
/// Largest body of any other request.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Longest a request may take (commands with retries, `test-module` against slow services).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The API routes, without authentication or prefixes.
fn api_routes() -> Router<AppState> {
    let uploads = Router::new()
        .route(
            "/settings/integration-conf/upload",
            post(api::content::upload_integration),
        )
        .route("/playbook/save/yaml", post(api::content::upload_playbook))
        .route("/automation/import", post(api::content::upload_script))
        .route(
            "/contentpacks/installed/upload",
            post(api::content::upload_pack),
        )
        .route("/entry/upload/{id}", post(api::war_room::upload))
        .route("/jobs/import", post(api::content::import_job))
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT));
    Router::new()
        .route("/health/server", get(api::system::health))
        .route("/about", get(api::system::about))
        .route("/user", get(api::system::user))
        .route("/public_api/v1/healthcheck", get(api::system::healthcheck))
        .route(
            "/investigations/search",
            post(api::war_room::search_investigations),
        )
        .route("/entry/execute/sync", post(api::war_room::execute_sync))
        .route("/entry", post(api::war_room::add_entry))
        .route("/entry/note", post(api::war_room::add_note))
        .route("/entry/formatted", post(api::war_room::add_formatted))
        .route("/entry/download/{entry_id}", get(api::war_room::download))
        .route("/investigation/{id}", post(api::war_room::investigation))
        .route("/investigation/{id}/context", post(api::war_room::context))
        .route(
            "/investigation/{id}/workplan/tasks",
            post(api::playbooks::workplan_tasks),
        )
        .route("/incident", post(api::incidents::create))
        .route("/incidents/search", post(api::incidents::search))
        .route("/incident/close", post(api::incidents::close))
        .route("/incident/batchDelete", post(api::incidents::batch_delete))
        .route(
            "/inv-playbook/{id}",
            get(api::playbooks::investigation_playbook),
        )
        .route(
            "/inv-playbook/task/complete",
            post(api::playbooks::complete_task),
        )
        .route(
            "/inv-playbook/new/{playbook_id}/{investigation_id}",
            post(api::playbooks::start_on_investigation),
        )
        .route("/playbook/{id}", get(api::playbooks::playbook))
        .route("/playbook/{id}/yaml", get(api::playbooks::yaml))
        .route("/playbook/search", post(api::playbooks::search))
        .route("/playbook/delete", post(api::playbooks::delete))
        .route("/playbook/inputs/{id}", post(api::playbooks::set_inputs))
        .route("/incident/investigate", post(api::incidents::investigate))
        .route(
            "/system/config",
            get(api::system::get_config).post(api::system::set_config),
        )
        .route("/containers/reset", post(api::system::reset_containers))
        .route(
            "/settings/integration-conf",
            put(api::content::save_module_config),
        )
        .route("/automation/search", post(api::automation::search))
        .route("/automation", post(api::automation::save))
        .route("/automation/delete", post(api::automation::delete))
        .route("/automation/copy", post(api::automation::copy))
        .route(
            "/automation/load/{name}",
            get(api::automation::load).post(api::automation::load),
        )
        .route("/content/bundle", get(api::content::bundle))
        .route("/lists/save", post(api::content::save_list))
        .route("/lists", get(api::content::all_lists))
        .route(
            "/settings/integration/search",
            post(api::integrations::search),
        )
        .route("/settings/integration", put(api::integrations::save))
        .route(
            "/settings/integration/{id}",
            delete(api::integrations::remove),
        )
        .route("/settings/integration/test", post(api::integrations::test))
        .route(
            "/contentpacks/metadata/installed",
            get(api::content::installed_packs),
        )
        .route("/content/reload", post(api::content::reload))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(uploads)
        .method_not_allowed_fallback(method_not_allowed)
}

/// The application: the API (authenticated, also under `/xsoar` and `/xsoar/public/v1`) and
/// a small index page at `/`.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new().route("/", get(index)))
}

/// The REST API with the web console behind it: API paths first; the console's paths
/// (`/console/...`, `/assets/...`) and page loads (GET without an API key) go to the console,
/// which serves its pages to anyone and its API only to a session opened with the server's
/// API key. Any other unknown path is a REST client's mistake: a JSON 404 naming it (a known
/// path with a wrong method: a JSON 405).
pub fn router_with_console(state: AppState, api_keys: Vec<String>) -> Router {
    let console = xsoar_console::router(
        Arc::new(state.clone()),
        xsoar_console::ConsoleAuth::with_keys(api_keys),
    );
    build(state, Router::new(), Some(console))
}

/// The application with `extra` routes merged in front of the API without authentication
/// (the web console serves its pages this way). `extra` must not use the API's paths.
pub fn router_with(state: AppState, extra: Router) -> Router {
    build(state, extra, None)
}

fn build(state: AppState, extra: Router, console: Option<Router>) -> Router {
    let login_state = state.clone();
    let api = api_routes();
    let authed = Router::new()
        .merge(api.clone())
        .nest("/xsoar", api.clone())
        .nest("/xsoar/public/v1", api)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::auth::require_key,
        ))
        .with_state(state);
    // Time and size limits cover the API; the console (long-lived event streams) sets its own.
    let app = Router::new()
        .merge(authed)
        .merge(extra)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(RequestBodyLimitLayer::new(UPLOAD_LIMIT));
    let app = match console {
        Some(console) => app.fallback(move |req: Request<axum::body::Body>| {
            let console = console.clone();
            async move {
                if for_console(&req) {
                    console.oneshot(req).await.into_response()
                } else {
                    not_found(req.method().clone(), OriginalUri(req.uri().clone())).await
                }
            }
        }),
        None => app.fallback(not_found),
    };
    // Username/password logins (`GET /` with a JSON body, `POST /login`) before any route.
    let app = app.layer(axum::middleware::from_fn_with_state(
        login_state,
        api::login::intercept,
    ));
    app.layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &Request<_>| {
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    status = tracing::field::Empty,
                    latency_ms = tracing::field::Empty,
                )
            })
            .on_request(())
            .on_response(|res: &Response, latency: Duration, span: &tracing::Span| {
                span.record("status", res.status().as_u16());
                span.record("latency_ms", latency.as_secs_f64() * 1000.0);
                tracing::info!(
                    status = res.status().as_u16(),
                    latency_ms = latency.as_secs_f64() * 1000.0,
                    "request finished"
                );
            })
            .on_failure(()),
    )
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>xsoar-emu</title></head>\
         <body><h1>xsoar-emu server</h1><p>XSOAR-compatible REST API at <code>/</code> \
         (for example <code>GET /about</code>, <code>POST /entry/execute/sync</code>); \
         send the API key in the <code>Authorization</code> header.</p></body></html>",
    )
}

/// Whether a request no API route matched is the console's: its own paths, and page loads
/// (GET/HEAD without an API key, so a browser gets the console's page). Anything else (an API
/// key, a state-changing method) is a REST client that used a wrong path.
fn for_console(req: &Request<axum::body::Body>) -> bool {
    let path = req.uri().path();
    if path == "/console"
        || path.starts_with("/console/")
        || path.starts_with("/assets/")
        || path == "/favicon.ico"
    {
        return true;
    }
    matches!(*req.method(), Method::GET | Method::HEAD)
        && !req
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION)
}

async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    ApiError::not_found(
        "Not found",
        format!("no API endpoint {method} {}", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    ApiError::method_not_allowed(format!("{} does not take {method} requests", uri.path()))
        .into_response()
}
