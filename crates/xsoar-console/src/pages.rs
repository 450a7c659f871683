//! Page shells and static assets, compiled into the binary.
//!
//! The console must work offline and as a single binary, so templates, scripts, styles and the
//! icon are embedded with `include_str!`/`include_bytes!` and nothing is loaded from a CDN.
//! Shells carry no investigation data (they are served without a session); each page's script
//! fetches what it shows from the API. Handlebars escapes every value put into a shell.

use axum::extract::{Path, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use handlebars::Handlebars;
use serde::Serialize;
use std::sync::Arc;

/// Templates by name, embedded.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../templates/layout.hbs")),
    ("incidents", include_str!("../templates/incidents.hbs")),
    ("login", include_str!("../templates/login.hbs")),
    ("warroom", include_str!("../templates/warroom.hbs")),
    ("playbooks", include_str!("../templates/playbooks.hbs")),
    ("playbook", include_str!("../templates/playbook.hbs")),
    (
        "integrations",
        include_str!("../templates/integrations.hbs"),
    ),
    ("not_found", include_str!("../templates/not_found.hbs")),
];

/// Static assets: (file name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/console.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/common.js"),
    ),
    (
        "incidents.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/incidents.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/login.js"),
    ),
    (
        "warroom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/warroom.js"),
    ),
    (
        "playbooks.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/playbooks.js"),
    ),
    (
        "playbook.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/playbook.js"),
    ),
    (
        "integrations.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/integrations.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
];

/// The registered templates.
#[derive(Debug)]
pub(crate) struct Pages {
    hbs: Handlebars<'static>,
}

/// Why the templates could not be registered (a bug in an embedded template).
#[derive(Debug, thiserror::Error)]
#[error("console template '{name}' is invalid: {message}")]
pub struct TemplateError {
    name: &'static str,
    message: String,
}

impl Pages {
    pub(crate) fn new() -> Result<Self, TemplateError> {
        let mut hbs = Handlebars::new();
        hbs.set_strict_mode(true);
        for (name, text) in TEMPLATES {
            hbs.register_template_string(name, text)
                .map_err(|e| TemplateError {
                    name,
                    message: e.to_string(),
                })?;
        }
        Ok(Self { hbs })
    }
}

/// What every shell gets.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shell<'a> {
    title: &'a str,
    /// Page key: the script `/assets/<page>.js` and the active navigation item.
    page: &'a str,
    nav: &'a str,
    investigation: &'a str,
    playbook: &'a str,
}

fn render(pages: &Pages, template: &str, shell: &Shell<'_>) -> Response {
    match pages.hbs.render(template, shell) {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template, "console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page did not render").into_response()
        }
    }
}

fn shell<'a>(title: &'a str, page: &'a str, nav: &'a str) -> Shell<'a> {
    Shell {
        title,
        page,
        nav,
        investigation: "",
        playbook: "",
    }
}

pub(crate) async fn incidents(State(pages): State<Arc<Pages>>) -> Response {
    render(
        &pages,
        "incidents",
        &shell("Incidents", "incidents", "incidents"),
    )
}

pub(crate) async fn login(State(pages): State<Arc<Pages>>) -> Response {
    render(&pages, "login", &shell("Log in", "login", ""))
}

pub(crate) async fn playground(State(pages): State<Arc<Pages>>) -> Response {
    let mut s = shell("Playground", "warroom", "playground");
    s.investigation = "playground";
    render(&pages, "warroom", &s)
}

pub(crate) async fn war_room(State(pages): State<Arc<Pages>>, Path(id): Path<String>) -> Response {
    let title = format!("War room {id}");
    let mut s = shell(&title, "warroom", "incidents");
    s.investigation = &id;
    render(&pages, "warroom", &s)
}

pub(crate) async fn playbooks(State(pages): State<Arc<Pages>>) -> Response {
    render(
        &pages,
        "playbooks",
        &shell("Playbooks", "playbooks", "playbooks"),
    )
}

pub(crate) async fn playbook(State(pages): State<Arc<Pages>>, Path(id): Path<String>) -> Response {
    let title = format!("Playbook {id}");
    let mut s = shell(&title, "playbook", "playbooks");
    s.playbook = &id;
    render(&pages, "playbook", &s)
}

pub(crate) async fn integrations(State(pages): State<Arc<Pages>>) -> Response {
    render(
        &pages,
        "integrations",
        &shell("Integrations", "integrations", "integrations"),
    )
}

pub(crate) async fn not_found(State(pages): State<Arc<Pages>>) -> Response {
    let mut res = render(&pages, "not_found", &shell("Not found", "", ""));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// `GET /assets/{name}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    serve_asset(&name)
}

/// `GET /favicon.ico` (browsers ask for it regardless of the `<link rel=icon>`).
pub(crate) async fn favicon() -> Response {
    serve_asset("favicon.svg")
}

fn serve_asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            let mut res = (*bytes).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_registers_and_renders() {
        let pages = Pages::new().expect("embedded templates are valid");
        for (name, _) in TEMPLATES.iter().filter(|(n, _)| *n != "layout") {
            let mut s = shell("T <x>", "warroom", "incidents");
            s.investigation = "<img src=x onerror=alert(1)>";
            s.playbook = "\"><script>alert(1)</script>";
            let html = pages.hbs.render(name, &s).expect("renders");
            assert!(html.contains("<title>T &lt;x&gt;"), "{name}: {html}");
            assert!(!html.contains("<img src=x"), "{name}");
            assert!(!html.contains("<script>alert"), "{name}");
            assert!(
                !html.contains("style="),
                "{name}: inline styles break the CSP"
            );
            assert!(
                !html.contains("<script>"),
                "{name}: inline scripts break the CSP"
            );
        }
    }

    #[test]
    fn every_page_script_is_an_asset() {
        for page in [
            "incidents",
            "login",
            "warroom",
            "playbooks",
            "playbook",
            "integrations",
        ] {
            let name = format!("{page}.js");
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name}");
        }
    }
}
