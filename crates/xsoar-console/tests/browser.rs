//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! One session walks the console as a user would — log in, create an incident, use the war
//! room's autocomplete and history, run a SIGNL4 command against the simulator, read and filter
//! the context, post hostile content, run the sample playbook and complete its manual step,
//! manage instances — and checks what only a browser shows: scripts that must not run, dialogs
//! that must not open, console errors, layout at a narrow width, and every byte the page
//! received (captured at the server) for instance secrets. It saves a screenshot of each page
//! (see `xsoar_webdriver::screenshots_dir`).
//!
//! It needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! tests/browser/run.sh installs them). Without them it fails; set
//! `XSOAR_CONSOLE_SKIP_BROWSER=1` to skip it on purpose. `CHROMIUM` and `CHROMEDRIVER` override
//! the binaries' paths. The browser plumbing it shares with the binary's browser test is in the
//! `xsoar-webdriver` crate.

mod common;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use common::{world, World, OTHER_INSTANCE, OTHER_SECRET, SIM_INSTANCE, SIM_SECRET};
use futures::StreamExt;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xsoar_console::{router, ConsoleAuth, ConsoleBackend};
use xsoar_webdriver::fantoccini::{self, Client};
use xsoar_webdriver::{fail, Browser as Ui};

type R<T> = xsoar_webdriver::Result<T>;

const API_KEY: &str = "browser-test-api-key-5d1c";
/// A secret typed into the instance form (it must come back in no response).
const TYPED_SECRET: &str = "typed-SECRET-9e2f61";

// ---- the server, with every response body captured -------------------------------------

/// One captured response chunk: the request path and the bytes.
type Chunk = (String, Vec<u8>);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<Chunk>>>);

impl Captured {
    fn all(&self) -> Vec<Chunk> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Tee every response body (event streams included) into the capture.
async fn capture(State(store): State<Captured>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let (parts, body) = res.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        if let (Ok(bytes), Ok(mut v)) = (&chunk, store.0.lock()) {
            v.push((path.clone(), bytes.to_vec()));
        }
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

async fn serve(w: &World, captured: Captured) -> R<String> {
    let app = router(w.backend.clone(), ConsoleAuth::with_keys([API_KEY]))
        .layer(axum::middleware::from_fn_with_state(captured, capture));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("console server stopped: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

// ---- the browser -----------------------------------------------------------------------

/// Size the window so that the page itself gets `width`×`height` CSS pixels.
async fn viewport(c: &Client, width: u32, height: u32) -> R<()> {
    c.set_window_size(width, height).await?;
    let inner = c
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await?;
    let (w, h) = (
        inner[0].as_u64().unwrap_or(width.into()),
        inner[1].as_u64().unwrap_or(height.into()),
    );
    let grow = |want: u32, got: u64| (2 * u64::from(want)).saturating_sub(got);
    c.set_window_size(
        u32::try_from(grow(width, w)).unwrap_or(width),
        u32::try_from(grow(height, h)).unwrap_or(height),
    )
    .await?;
    Ok(())
}

/// No alert/confirm/prompt is open.
async fn no_dialog(ui: &Ui) -> R<()> {
    match ui.client.get_alert_text().await {
        Ok(text) => fail(format!("a dialog opened: {text:?}")),
        Err(e) if e.to_string().contains("no such alert") => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The war room's autocomplete suggestions, once they show.
async fn suggestions(ui: &Ui) -> R<Vec<String>> {
    let v = ui
        .until(
            "suggestions",
            "const ul = document.getElementById('suggestions');\
             if (ul.hidden) return null;\
             return [...ul.querySelectorAll('li')].map(li => li.dataset.value);",
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

// ---- the walk --------------------------------------------------------------------------

async fn login_and_incidents(ui: &mut Ui) -> R<()> {
    // The API refuses without a session: the page sends the user to the login page.
    ui.goto("/").await?;
    ui.until(
        "the redirect to the login page",
        "return location.pathname === '/login' && document.getElementById('api-key');",
    )
    .await?;
    ui.shot("login").await?;
    ui.type_into("#api-key", API_KEY).await?;
    ui.click("#login button[type=submit]").await?;
    ui.until(
        "the incidents page",
        "return location.pathname === '/' && document.querySelector('#incidents tbody td');",
    )
    .await?;
    // The session cookie is HttpOnly: page scripts cannot read it.
    let cookies = ui.js("return document.cookie;").await?;
    if cookies != "" {
        return fail(format!("document.cookie exposes {cookies}"));
    }
    // Create an incident from the form; it opens its war room.
    ui.type_into("#inc-name", "Suspicious login").await?;
    ui.select("#inc-severity", "3").await?;
    ui.click("#new-incident button[type=submit]").await?;
    ui.until(
        "the war room of incident 1",
        "return location.pathname === '/investigations/1' && document.getElementById('inv-title').textContent === 'Suspicious login';",
    )
    .await?;
    Ok(())
}

async fn war_room(ui: &mut Ui, w: &World) -> R<()> {
    ui.until(
        "the live connection",
        "return document.getElementById('live').classList.contains('on');",
    )
    .await?;
    // Autocomplete: commands after `!sig`.
    ui.click("#command").await?;
    ui.type_into("#command", "!sig").await?;
    let s = suggestions(ui).await?;
    if s.first().map(String::as_str) != Some("signl4_alert")
        || !s.contains(&"signl4_close_alert".to_owned())
    {
        return fail(format!("suggestions after !sig: {s:?}"));
    }
    // Arguments after the command, required ones marked.
    ui.clear("#command").await?;
    ui.type_into("#command", "!signl4_alert ").await?;
    let s = suggestions(ui).await?;
    if s.first().map(String::as_str) != Some("title")
        || !s.contains(&"s4_alerting_scenario".to_owned())
        || !s.contains(&"using".to_owned())
    {
        return fail(format!("argument suggestions: {s:?}"));
    }
    let required = ui
        .js("return document.querySelector('#suggestions li[data-value=\"title\"] .req') !== null;")
        .await?;
    if required != json!(true) {
        return fail("title is not marked required");
    }
    // Predefined values after the argument name.
    ui.type_into("#command", "s4_alerting_scenario=").await?;
    let s = suggestions(ui).await?;
    if s != ["single_ack", "multi_ack", "emergency"] {
        return fail(format!("values of s4_alerting_scenario: {s:?}"));
    }
    ui.shot("warroom-autocomplete").await?;
    // Tab completes the typed prefix.
    ui.type_into("#command", "mul").await?;
    ui.type_into("#command", &fantoccini::key::Key::Tab.to_string())
        .await?;
    let v = ui
        .js("return document.getElementById('command').value;")
        .await?;
    if v != "!signl4_alert s4_alerting_scenario=multi_ack " {
        return fail(format!("after Tab: {v}"));
    }
    // using= completes instance names (enabled ones only).
    ui.type_into("#command", "using=").await?;
    let s = suggestions(ui).await?;
    if s != [SIM_INSTANCE] {
        return fail(format!("using= values: {s:?}"));
    }

    // Run a command: the table entry appears, with its command, brand/instance and simulator mark.
    ui.run_line("!signl4_alert title=x message=y").await?;
    let entry = ui
        .until(
            "the SIGNL4 result entry",
            "const e = [...document.querySelectorAll('#entries .entry.kind-result')].find(e => e.querySelector('.body table'));\
             if (!e) return null;\
             return { head: e.querySelector('.body h3').textContent, th: [...e.querySelectorAll('.body th')].map(t => t.textContent),\
                      cmd: e.querySelector('.cmd').textContent, source: e.querySelector('.source').textContent,\
                      sim: e.querySelector('.badge.sim') ? e.querySelector('.badge.sim').textContent : null,\
                      json: e.querySelector('details.json pre').textContent };",
        )
        .await?;
    if entry["head"] != "SIGNL4 alert created"
        || entry["cmd"] != "!signl4_alert title=x message=y"
        || entry["source"] != format!("SIGNL4 / {SIM_INSTANCE}")
        || entry["sim"] != "embedded SIGNL4 simulator"
        || !entry["th"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("eventId")))
        || !entry["json"]
            .as_str()
            .is_some_and(|j| j.contains("\"eventId\""))
    {
        return fail(format!("result entry: {entry}"));
    }
    // The context viewer shows the output and copies its DT path.
    let key = "#context button.key[data-path=\"SIGNL4.AlertCreated.eventId\"]";
    ui.until(
        "SIGNL4.AlertCreated.eventId in the context viewer",
        &format!("return document.querySelector('{key}');"),
    )
    .await?;
    let shown = ui
        .js(&format!(
            "return document.querySelector('{key}').parentElement.querySelector('.val').textContent;"
        ))
        .await?;
    let event_id = w.sim.simulator().alerts()[0].event_id.clone();
    if shown != json!(format!("\"{event_id}\"")) {
        return fail(format!(
            "context shows {shown}, the simulator has {event_id}"
        ));
    }
    ui.click(key).await?;
    ui.until(
        "the copied-path notice",
        "return document.getElementById('toast').textContent.includes('${SIGNL4.AlertCreated.eventId}');",
    )
    .await?;
    // Another key, then the filter hides it.
    ui.run_line("!Set key=Other.colour value=blue").await?;
    ui.until(
        "Other.colour in the context",
        "return document.querySelector('#context [data-path=\"Other.colour\"]');",
    )
    .await?;
    ui.type_into("#ctx-search", "eventid").await?;
    let filtered = ui
        .until(
            "the filtered context",
            "return document.querySelector('#context [data-path=\"Other.colour\"]') === null &&\
                    document.querySelector('#context [data-path=\"SIGNL4.AlertCreated.eventId\"]') !== null;",
        )
        .await?;
    if filtered != json!(true) {
        return fail("the context filter did not filter");
    }
    ui.clear("#ctx-search").await?;
    ui.type_into("#ctx-search", " ").await?;
    ui.clear("#ctx-search").await?;

    // A failing command shows a red error entry.
    ui.run_line("!signl4_alert message=y").await?;
    let err = ui
        .until(
            "the error entry",
            "const e = document.querySelector('#entries .entry.kind-error'); return e && e.querySelector('.body').textContent;",
        )
        .await?;
    if !err.as_str().is_some_and(|e| e.contains("title")) {
        return fail(format!("error entry: {err}"));
    }
    let colour = ui
        .js("return getComputedStyle(document.querySelector('#entries .entry.kind-error .body')).color;")
        .await?;
    if colour != "rgb(179, 38, 30)" {
        return fail(format!("error entries are not red: {colour}"));
    }
    // History: ↑ brings back the last line.
    ui.clear("#command").await?;
    ui.type_into("#command", &fantoccini::key::Key::Up.to_string())
        .await?;
    let v = ui
        .js("return document.getElementById('command').value;")
        .await?;
    if v != "!signl4_alert message=y" {
        return fail(format!("history ↑ gave {v}"));
    }
    ui.clear("#command").await?;
    // Entries written by another client stream in live.
    w.backend
        .execute_line("1", "!Print value=\"written elsewhere\"")
        .await?;
    ui.until(
        "the entry written by another client",
        "return [...document.querySelectorAll('#entries .entry .body')].some(b => b.textContent.includes('written elsewhere'));",
    )
    .await?;
    ui.js("document.getElementById('command').blur(); document.getElementById('entries').scrollTop = 0;")
        .await?;
    ui.shot("warroom").await?;
    Ok(())
}

async fn hostile_content(ui: &mut Ui) -> R<()> {
    ui.js("window.__pwned = 0;").await?;
    ui.run_line(
        "<img src=x onerror=\"window.__pwned=1;alert(1)\"><script>window.__pwned=2;alert(2)</script> see [here](javascript:alert(3))",
    )
    .await?;
    ui.run_line(
        "!signl4_alert title=\"<img src=x onerror=alert(4)>\" message=\"<script>alert(5)</script>\"",
    )
    .await?;
    ui.until(
        "the hostile entries",
        "return [...document.querySelectorAll('#entries .entry.kind-result .cmd')].some(c => c.textContent.includes('onerror=alert(4)'))\
                && [...document.querySelectorAll('#entries .entry.kind-chat .body')].some(b => b.textContent.includes('title=\"<img src=x onerror=alert(4)>\"'))\
                && [...document.querySelectorAll('#entries .entry a')].some(a => a.textContent === 'here');",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    no_dialog(ui).await?;
    let counts = ui
        .js("return { scripts: document.querySelectorAll('#entries script').length,\
                      handlers: document.querySelectorAll('#entries [onerror], #entries [onclick], #entries [onload]').length,\
                      jsLinks: [...document.querySelectorAll('#entries a')].filter(a => (a.getAttribute('href') || '').toLowerCase().includes('javascript')).length,\
                      imgs: document.querySelectorAll('#entries img').length,\
                      pwned: window.__pwned };")
        .await?;
    if counts != json!({"scripts": 0, "handlers": 0, "jsLinks": 0, "imgs": 1, "pwned": 0}) {
        return fail(format!("hostile content is not inert: {counts}"));
    }
    // Clicking the neutered link navigates nowhere and opens nothing.
    let before = ui.client.current_url().await?;
    ui.click_link("here").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    no_dialog(ui).await?;
    if ui.client.current_url().await? != before {
        return fail("the neutered link navigated");
    }
    Ok(())
}

async fn playbook(ui: &mut Ui) -> R<()> {
    ui.goto("/playbooks").await?;
    ui.until(
        "the playbooks list",
        "return document.querySelector('#playbooks a');",
    )
    .await?;
    ui.shot("playbooks").await?;
    ui.click_link("SIGNL4 Alert and Close").await?;
    ui.until(
        "the task graph",
        "return document.querySelectorAll('#graph g.task').length === 8 && document.querySelectorAll('#graph path.edge').length === 9;",
    )
    .await?;
    // Boxes sit where the YAML puts them.
    let t7 = ui
        .js("return document.querySelector('#graph [data-task=\"7\"]').getAttribute('transform');")
        .await?;
    if t7 != "translate(800 545)" {
        return fail(format!("task 7 is drawn at {t7}"));
    }
    ui.click("#new-incident").await?;
    ui.until(
        "the new incident to be chosen",
        "return document.getElementById('run-incident').value === '2' && document.getElementById('run-state').textContent.includes('Not run');",
    )
    .await?;
    let states = ui.run_to_manual_task("3").await?;
    if states["1"] != "Completed" || states["2"] != "Completed" || states["4"] != "Pending" {
        return fail(format!("states while waiting: {states}"));
    }
    let states = ui.complete_manual_task().await?;
    let expected = json!({"0": "Completed", "1": "Completed", "2": "Completed", "3": "Completed", "4": "Completed",
        "5": "Completed", "6": "Completed", "7": "NotExecuted"});
    if states != expected {
        return fail(format!("final states: {states}"));
    }
    let run_state = ui
        .js("return document.getElementById('run-state').textContent;")
        .await?;
    if run_state != "Run completed" {
        return fail(format!("run state: {run_state}"));
    }
    let fill = ui
        .js("return getComputedStyle(document.querySelector('#graph [data-task=\"4\"] rect')).fill;")
        .await?;
    if fill != "rgb(230, 244, 234)" {
        return fail(format!("completed tasks are not green: {fill}"));
    }
    // Task details: resolved inputs, entries, outputs.
    ui.click("#graph [data-task=\"1\"]").await?;
    let details = ui
        .until(
            "the task details",
            "const i = document.getElementById('task-inputs'); if (!i) return null;\
             return { inputs: JSON.parse(i.textContent), entry: document.querySelector('#task-panel .entry .body h3').textContent,\
                      outputs: document.querySelector('#task-panel details.outputs pre').textContent };",
        )
        .await?;
    if details["inputs"]["title"] != "[XSOAR 2] Run of SIGNL4 Alert and Close"
        || details["inputs"]["s4_external_id"] != "xsoar-2"
        || details["entry"] != "SIGNL4 alert created"
        || !details["outputs"]
            .as_str()
            .is_some_and(|o| o.contains("SIGNL4.AlertCreated"))
    {
        return fail(format!("task 1 details: {details}"));
    }
    ui.shot("playbook").await?;
    Ok(())
}

async fn integrations(ui: &mut Ui, w: &World) -> R<()> {
    ui.goto("/integrations").await?;
    let row = format!("#instances tr[data-instance=\"{SIM_INSTANCE}\"]");
    ui.until(
        "the instances",
        &format!("return document.querySelector('{row}');"),
    )
    .await?;
    ui.click(&format!("{row} button[data-action=test]")).await?;
    ui.until(
        "the test result",
        &format!(
            "return document.querySelector('{row} .test-result').textContent === 'Success: ok';"
        ),
    )
    .await?;
    // Enable the second instance.
    let other = format!("#instances tr[data-instance=\"{OTHER_INSTANCE}\"]");
    ui.click(&format!("{other} button[data-action=toggle]"))
        .await?;
    ui.until(
        "the second instance to be enabled",
        &format!("return document.querySelector('{other} .badge').textContent === 'enabled';"),
    )
    .await?;
    // Add one through the form, typing a secret.
    ui.click("#add-instance").await?;
    ui.type_into("#inst-name", "added from the page").await?;
    ui.type_into("#param-secret", TYPED_SECRET).await?;
    ui.clear("#param-url").await?;
    ui.type_into("#param-url", &w.sim.url()).await?;
    ui.click("#instance-form button[type=submit]").await?;
    let added = "#instances tr[data-instance=\"added from the page\"]";
    let secret = ui
        .until(
            "the added instance",
            &format!("const r = document.querySelector('{added}'); return r && r.querySelector('[data-secret=secret]').textContent;"),
        )
        .await?;
    if secret != "set" {
        return fail(format!("the added instance's secret shows {secret}"));
    }
    let spec = w
        .engine
        .instance_specs()
        .into_iter()
        .find(|s| s.name == "added from the page")
        .ok_or("the instance was not added to the engine")?;
    if spec.params["secret"]["password"] != TYPED_SECRET {
        return fail("the typed secret did not reach the engine");
    }
    // Edit it without a secret: the secret is kept.
    ui.click(&format!("{added} button[data-action=edit]"))
        .await?;
    let placeholder = ui
        .js("return document.getElementById('param-secret').placeholder + '|' + document.getElementById('param-secret').value;")
        .await?;
    if placeholder != "set — leave empty to keep|" {
        return fail(format!("secret box when editing: {placeholder}"));
    }
    ui.click("#instance-form button[type=submit]").await?;
    ui.until(
        "the form to close",
        "return document.getElementById('instance-form').hidden;",
    )
    .await?;
    let kept =
        w.engine.instance_specs().into_iter().any(|s| {
            s.name == "added from the page" && s.params["secret"]["password"] == TYPED_SECRET
        });
    if !kept {
        return fail("editing without a secret lost the secret");
    }
    ui.js("window.scrollTo(0, 0);").await?;
    ui.shot("integrations").await?;
    Ok(())
}

async fn narrow_and_lists(ui: &mut Ui) -> R<()> {
    ui.goto("/").await?;
    ui.until(
        "the incidents list",
        "return document.querySelectorAll('#incidents tbody tr[data-id]').length === 2;",
    )
    .await?;
    ui.shot("incidents").await?;
    ui.goto("/playground").await?;
    ui.until(
        "the playground",
        "return document.getElementById('inv-title').textContent === 'Playground' && document.getElementById('live').classList.contains('on');",
    )
    .await?;
    ui.run_line("!Print value=\"Hello from the playground\"")
        .await?;
    ui.until(
        "the playground entry",
        "return [...document.querySelectorAll('#entries .entry .body')].some(b => b.textContent.includes('Hello from the playground'));",
    )
    .await?;
    viewport(&ui.client, 480, 900).await?;
    ui.goto("/investigations/1").await?;
    ui.until(
        "the war room at a narrow width",
        "return document.querySelector('#entries .entry') && document.querySelector('#context .tree');",
    )
    .await?;
    let overflow = ui
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await?;
    if overflow.as_i64().unwrap_or(1) > 0 {
        return fail(format!(
            "the narrow war room scrolls sideways by {overflow}px"
        ));
    }
    ui.shot("warroom-narrow").await?;
    viewport(&ui.client, 1280, 800).await?;
    Ok(())
}

async fn walk(ui: &mut Ui, w: &World, captured: &Captured) -> R<()> {
    login_and_incidents(ui).await?;
    war_room(ui, w).await?;
    hostile_content(ui).await?;
    playbook(ui).await?;
    integrations(ui, w).await?;
    narrow_and_lists(ui).await?;
    ui.drain_log().await?;
    no_dialog(ui).await?;

    // No secret in anything the browser received, nor in any page's final DOM.
    let secrets = [SIM_SECRET, OTHER_SECRET, TYPED_SECRET];
    let responses = captured.all();
    if responses.len() < 50 {
        return fail(format!(
            "only {} response chunks were captured",
            responses.len()
        ));
    }
    for (path, body) in &responses {
        let text = String::from_utf8_lossy(body);
        for s in secrets {
            if text.contains(s) {
                return fail(format!("a secret was sent to the browser in {path}"));
            }
        }
    }
    for (page, source) in &ui.pages {
        for s in secrets {
            if source.contains(s) {
                return fail(format!("a secret is in the {page} page"));
            }
        }
    }
    ui.no_console_errors().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_real_browser() {
    if xsoar_webdriver::skip_requested() {
        return;
    }
    let w = world().await;
    let captured = Captured::default();
    let base = serve(&w, captured.clone())
        .await
        .expect("the console starts");
    let mut ui = Ui::launch("xsoar-console-browser", base)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let outcome = match viewport(&ui.client, 1280, 800).await {
        Ok(()) => walk(&mut ui, &w, &captured).await,
        Err(e) => Err(e),
    };
    ui.close(outcome.is_err(), "failure").await;
    if let Err(e) = outcome {
        panic!("browser test failed: {e} (screenshot: tests/artifacts/tmp/failure.png)");
    }
    eprintln!("browser walk took {:.1}s", started.elapsed().as_secs_f64());
}
