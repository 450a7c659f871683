//! The web console: incidents, war room with live entries and a context viewer, playbook work
//! plans, integrations and instances.
//!
//! It is the first thing a user opens, so it has to work anywhere the binary runs: offline, with
//! no build step and no CDN. Pages are handlebars shells plus a small vanilla script each, all
//! embedded in the binary ([`pages`]). Data flows through a documented internal JSON API under
//! `/console/api` (docs/console-api.md) over a [`ConsoleBackend`], the one seam between the
//! console and whoever stores investigations: the REST server implements it over its store,
//! [`MemoryBackend`] in memory. Every change goes through the engine behind the backend; the
//! pages only display and ask.
//!
//! Entry contents come from external systems and are rendered on the server as sanitised HTML
//! ([`render`]); instance credentials are write-only ([`instances`]); the API needs a session
//! and a CSRF header, and every response carries a strict Content-Security-Policy ([`auth`]).

mod api;
pub mod auth;
mod backend;
pub mod catalog;
pub mod instances;
mod memory;
mod pages;
pub mod playbooks;
pub mod render;

pub use auth::ConsoleAuth;
pub use backend::{
    BackendFuture, ConsoleBackend, ConsoleError, InvestigationEvent, InvestigationKind,
    InvestigationSummary, NewIncident,
};
pub use memory::MemoryBackend;
pub use pages::TemplateError;

use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// Largest request body the console accepts (instance forms, war-room lines).
const MAX_BODY: usize = 1024 * 1024;

/// The console: pages at `/`, assets at `/assets`, the API at `/console/api`, and
/// `/console/session`, `/console/login`, `/console/logout`.
///
/// Self-contained: merge it into another router as it is. Fails only if an embedded template
/// is invalid, which the crate's tests rule out.
pub fn try_router(
    backend: Arc<dyn ConsoleBackend>,
    auth: ConsoleAuth,
) -> Result<Router, TemplateError> {
    let pages = Arc::new(pages::Pages::new()?);
    let guard = auth::Guard {
        auth,
        sessions: Arc::new(auth::Sessions::default()),
    };
    let state = api::Api {
        backend,
        guard: guard.clone(),
    };
    let api = api::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            guard,
            auth::require_session,
        ))
        .with_state(state.clone());
    let session = Router::new()
        .route("/session", get(api::session))
        .route("/login", post(api::login))
        .route("/logout", post(api::logout))
        .with_state(state);
    let page_routes = Router::new()
        .route("/", get(pages::incidents))
        .route("/login", get(pages::login))
        .route("/playground", get(pages::playground))
        .route("/investigations/{id}", get(pages::war_room))
        .route("/playbooks", get(pages::playbooks))
        .route("/playbooks/{id}", get(pages::playbook))
        .route("/integrations", get(pages::integrations))
        .fallback(pages::not_found)
        .with_state(pages);
    Ok(Router::new()
        .nest("/console/api", api)
        .nest("/console", session)
        .route("/assets/{name}", get(pages::asset))
        .route("/favicon.ico", get(pages::favicon))
        .merge(page_routes)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(auth::csrf))
        .layer(axum::middleware::from_fn(auth::security_headers)))
}

/// [`try_router`] for callers that treat an invalid embedded template as a bug: the templates
/// are compiled in and tested, so this cannot fail in a released binary. Should it, the router
/// serves a 500 page explaining so rather than panicking.
pub fn router(backend: Arc<dyn ConsoleBackend>, auth: ConsoleAuth) -> Router {
    match try_router(backend, auth) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "console templates are invalid");
            let message = e.to_string();
            Router::new().fallback(move || {
                let message = message.clone();
                async move { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, message) }
            })
        }
    }
}
