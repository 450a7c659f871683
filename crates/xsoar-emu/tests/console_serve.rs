//! The web console served by the real `xsoar-emu serve` binary, in headless Chromium.
//!
//! The binary runs in memory on a free loopback port with a known API key and its embedded
//! SIGNL4 simulator. The browser reaches it through a small TCP relay that keeps every byte
//! the server sent to the page. One session logs in with the key, runs `!signl4_alert` and
//! `!signl4_close_alert` in an incident's war room (result tables, the context viewer), sees
//! entries written through the REST API (`POST /entry/execute/sync`, as demisto-sdk does)
//! stream into the open page without a reload, runs the sample playbook "SIGNL4 Alert and
//! Close" on an incident created over REST and completes its manual task from the page.
//! Then the simulator's secret must be in none of: the bytes the page received, the pages'
//! HTML, the REST and console API answers the test fetched, the server's output.
//!
//! Like the console's own browser test (crates/xsoar-console/tests/browser.rs) it needs
//! `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`) and fails
//! without them; set `XSOAR_CONSOLE_SKIP_BROWSER=1` to skip it on purpose. `CHROMIUM` and
//! `CHROMEDRIVER` override the binaries' paths. Page screenshots go to
//! `$XSOAR_CONSOLE_SCREENSHOTS` (default tests/artifacts/tmp/screenshots, prefixed `serve-`);
//! on failure, tests/artifacts/tmp/console-serve-failure.png. The browser plumbing both tests
//! share is in the `xsoar-webdriver` crate.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xsoar_webdriver::{fail, workspace_root, Browser as Ui, POLL, WAIT};

type R<T> = xsoar_webdriver::Result<T>;

const API_KEY: &str = "console-serve-test-key-4b7e19";
/// The secret of the embedded simulator's instance: it must never reach a client.
const SIM_SECRET: &str = xsoar_signl4::sim::DEFAULT_SIM_SECRET;
const PLAYBOOK: &str = "SIGNL4 Alert and Close";

// ---- the server ------------------------------------------------------------------------

/// `xsoar-emu serve`, killed on drop (also when the test panics).
struct Server {
    child: Child,
    base: String,
    output: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

/// Copy a pipe into `output` line by line; lines starting with `xsoar-emu server listening on`
/// are also sent to `tx`.
fn drain(pipe: impl Read + Send + 'static, output: Arc<Mutex<String>>, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut o) = output.lock() {
                o.push_str(&line);
                o.push('\n');
            }
            if let Some(url) = line.strip_prefix("xsoar-emu server listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
}

/// Start the binary on port 0 and read the address it printed; wait until it answers.
async fn start_server() -> R<Server> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xsoar-emu"))
        .args(["serve", "--in-memory", "--bind", "127.0.0.1:0"])
        .current_dir(workspace_root())
        .env("XSOAR_EMU_API_KEY", API_KEY)
        .env_remove("XSOAR_EMU_CONFIG")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let output = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        drain(out, output.clone(), tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        drain(err, output.clone(), tx);
    }
    let mut server = Server {
        child,
        base: String::new(),
        output,
    };
    let deadline = Instant::now() + WAIT;
    let url = loop {
        if let Ok(url) = rx.recv_timeout(POLL) {
            break url;
        }
        if let Some(status) = server.child.try_wait()? {
            return fail(format!(
                "xsoar-emu serve exited ({status}) before listening:\n{}",
                server.output()
            ));
        }
        if Instant::now() > deadline {
            return fail(format!(
                "xsoar-emu serve did not say where it listens:\n{}",
                server.output()
            ));
        }
    };
    server.base = url;
    let http = rest_client()?;
    loop {
        let ok = http
            .get(format!("{}/health/server", server.base))
            .header("authorization", API_KEY)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        if Instant::now() > deadline {
            return fail(format!(
                "xsoar-emu serve at {} never answered /health/server:\n{}",
                server.base,
                server.output()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    let out = server.output();
    if !out.contains("SIGNL4: embedded simulator at") {
        return fail(format!("the embedded SIGNL4 simulator is not on:\n{out}"));
    }
    Ok(server)
}

fn rest_client() -> R<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()?)
}

// ---- a relay that keeps what the server sent ---------------------------------------------

/// What the server sent on one relayed connection.
type Stream = Arc<Mutex<Vec<u8>>>;

/// Every byte the server sent through the relay, one buffer per connection.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<Stream>>>);

impl Captured {
    fn connection(&self) -> Stream {
        let buf = Arc::new(Mutex::new(Vec::new()));
        if let Ok(mut all) = self.0.lock() {
            all.push(buf.clone());
        }
        buf
    }

    fn all(&self) -> Vec<Vec<u8>> {
        self.0
            .lock()
            .map(|all| {
                all.iter()
                    .map(|b| b.lock().map(|b| b.clone()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Listen on a free loopback port and relay each connection to `upstream`, keeping the
/// server's side. Returns the relay's base URL.
async fn relay(upstream: SocketAddr, captured: Captured) -> R<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let keep = captured.connection();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = async {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    let _ = server_write.shutdown().await;
                };
                let down = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match server_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if let Ok(mut k) = keep.lock() {
                                    k.extend_from_slice(&buf[..n]);
                                }
                                if client_write.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    Ok(format!("http://{addr}"))
}

// ---- the REST and console APIs, every answer kept -----------------------------------------

struct Api {
    http: reqwest::Client,
    base: String,
    /// (request, answer body) of every call.
    fetched: Vec<(String, String)>,
    session: Option<String>,
}

impl Api {
    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        console: bool,
    ) -> R<Value> {
        let what = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("accept", "application/json");
        if console {
            let cookie = self.session.clone().ok_or("no console session")?;
            req = req
                .header("cookie", cookie)
                .header("x-requested-with", "xsoar-console");
        } else {
            req = req.header("authorization", API_KEY);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| format!("{what}: {e}"))?;
        self.fetched.push((what.clone(), text.clone()));
        if !status.is_success() {
            return fail(format!("{what} answered {status}: {text}"));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{what}: not JSON ({e}): {text}").into())
    }

    /// The REST API, with the key in `Authorization` as demisto-sdk sends it.
    async fn rest(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> R<Value> {
        self.send(method, path, body, false).await
    }

    /// The console's own API, with a session opened with the key.
    async fn console(&mut self, path: &str) -> R<Value> {
        if self.session.is_none() {
            let res = self
                .http
                .post(format!("{}/console/login", self.base))
                .header("x-requested-with", "xsoar-console")
                .json(&json!({"key": API_KEY}))
                .send()
                .await?;
            let cookie = res
                .headers()
                .get("set-cookie")
                .and_then(|c| c.to_str().ok())
                .and_then(|c| c.split(';').next())
                .map(str::to_owned);
            let status = res.status();
            let text = res.text().await?;
            self.fetched.push(("POST /console/login".into(), text));
            match cookie {
                Some(c) if status.is_success() => self.session = Some(c),
                _ => return fail(format!("console login answered {status} without a session")),
            }
        }
        self.send(reqwest::Method::GET, path, None, true).await
    }
}

// ---- the walk --------------------------------------------------------------------------

/// Log in with the key and create an incident from the form; returns its id (its war room is
/// open).
async fn login_and_incident(ui: &mut Ui) -> R<String> {
    ui.goto("/").await?;
    ui.until(
        "the redirect to the login page",
        "return location.pathname === '/login' && document.getElementById('api-key');",
    )
    .await?;
    ui.type_into("#api-key", "not-the-key").await?;
    ui.click("#login button[type=submit]").await?;
    let refused = ui
        .until(
            "the wrong key to be refused",
            "const e = document.getElementById('login-error'); return !e.hidden && e.textContent;",
        )
        .await?;
    if location_of(ui).await? != "/login" {
        return fail(format!("a wrong key logged in ({refused})"));
    }
    // The browser logs the refused login (401) as an error; only that one is expected.
    ui.drain_log().await?;
    ui.console_errors
        .retain(|e| !(e.contains("/console/login") && e.contains("401")));
    ui.clear("#api-key").await?;
    ui.type_into("#api-key", API_KEY).await?;
    ui.shot("serve-login").await?;
    ui.click("#login button[type=submit]").await?;
    ui.until(
        "the incidents page after login",
        "return location.pathname === '/' && document.querySelector('#incidents tbody tr[data-id]');",
    )
    .await?;
    ui.type_into("#inc-name", "Disk full on db1").await?;
    ui.select("#inc-severity", "3").await?;
    ui.click("#new-incident button[type=submit]").await?;
    let id = ui
        .until(
            "the war room of the new incident",
            "const m = location.pathname.match(/^\\/investigations\\/([^/]+)$/);\
             return m && document.getElementById('inv-title').textContent === 'Disk full on db1' ? decodeURIComponent(m[1]) : null;",
        )
        .await?;
    ui.until(
        "the war room's live connection",
        "return document.getElementById('live').classList.contains('on');",
    )
    .await?;
    id.as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no incident id in the URL".into())
}

async fn location_of(ui: &Ui) -> R<String> {
    Ok(ui
        .js("return location.pathname;")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The result entry whose table is headed `heading`: its command, source, simulator badge,
/// header cells and first data cell.
fn result_entry_script(heading: &str) -> String {
    format!(
        "const e = [...document.querySelectorAll('#entries .entry.kind-result')]\
           .find(e => {{ const h = e.querySelector('.body h3'); return h && h.textContent === {heading:?} && e.querySelector('.body td'); }});\
         if (!e) return null;\
         return {{ cmd: e.querySelector('.cmd').textContent, source: e.querySelector('.source').textContent,\
                  sim: e.querySelector('.badge.sim') ? e.querySelector('.badge.sim').textContent : null,\
                  th: [...e.querySelectorAll('.body th')].map(t => t.textContent),\
                  td: e.querySelector('.body td').textContent.trim() }};"
    )
}

/// The value the context viewer shows for `path` (a JSON string as displayed).
fn context_value_script(path: &str) -> String {
    format!(
        "const k = document.querySelector('#context button.key[data-path={path:?}]');\
         return k && k.parentElement.querySelector('.val') ? k.parentElement.querySelector('.val').textContent : null;"
    )
}

async fn signl4_in_the_war_room(ui: &mut Ui, api: &mut Api, inv: &str) -> R<()> {
    let alert = r#"!signl4_alert title="Disk full" message="db1 at 95%" s4_external_id=inc-42"#;
    ui.run_line(alert).await?;
    let entry = ui
        .until(
            "the 'SIGNL4 alert created' table",
            &result_entry_script("SIGNL4 alert created"),
        )
        .await?;
    if entry["cmd"] != alert
        || entry["source"] != "SIGNL4 / signl4-simulator"
        || entry["sim"] != "embedded SIGNL4 simulator"
        || entry["th"] != json!(["eventId"])
    {
        return fail(format!("the alert's result entry: {entry}"));
    }
    let created = entry["td"].as_str().unwrap_or_default().to_owned();
    if created.is_empty() {
        return fail(format!("no event id in the table: {entry}"));
    }
    let shown = ui
        .until(
            "SIGNL4.AlertCreated.eventId in the context viewer",
            &context_value_script("SIGNL4.AlertCreated.eventId"),
        )
        .await?;
    if shown != json!(format!("\"{created}\"")) {
        return fail(format!(
            "the context viewer shows {shown}, the table {created}"
        ));
    }
    // The page shows the server's state: the REST API reads the same context.
    let over_rest = api
        .rest(
            reqwest::Method::POST,
            &format!("/investigation/{inv}/context"),
            Some(json!({"query": "${SIGNL4.AlertCreated.eventId}"})),
        )
        .await?;
    if over_rest != json!(created) {
        return fail(format!(
            "the REST API has {over_rest} for the event id the page shows as {created}"
        ));
    }

    let close = "!signl4_close_alert s4_external_id=inc-42";
    ui.run_line(close).await?;
    let entry = ui
        .until(
            "the 'SIGNL4 alert closed' table",
            &result_entry_script("SIGNL4 alert closed"),
        )
        .await?;
    if entry["cmd"] != close || entry["sim"] != "embedded SIGNL4 simulator" {
        return fail(format!("the close's result entry: {entry}"));
    }
    ui.until(
        "SIGNL4.AlertClosed.eventId in the context viewer",
        &context_value_script("SIGNL4.AlertClosed.eventId"),
    )
    .await?;
    ui.js("document.getElementById('command').blur();").await?;
    ui.shot("serve-warroom-signl4").await?;
    Ok(())
}

/// Entries written through the REST API appear on the open page, which is not reloaded.
async fn rest_entries_stream_in(ui: &mut Ui, api: &mut Api, inv: &str) -> R<()> {
    ui.js("window.__sameDocument = 'still here';").await?;
    let text = "written through the REST API";
    let out = api
        .rest(
            reqwest::Method::POST,
            "/entry/execute/sync",
            Some(json!({"investigationId": inv, "data": format!("!Print value=\"{text}\"")})),
        )
        .await?;
    let entries = out.as_array().cloned().unwrap_or_default();
    if !entries.iter().any(|e| {
        e["contents"].as_str().is_some_and(|c| c.contains(text))
            && e["parentContent"] == format!("!Print value=\"{text}\"")
    }) {
        return fail(format!("/entry/execute/sync answered {out}"));
    }
    ui.until(
        "the entry written through the REST API on the open page",
        &format!(
            "return [...document.querySelectorAll('#entries .entry .body')].some(b => b.textContent.includes({text:?}));"
        ),
    )
    .await?;
    // The context viewer follows writes from elsewhere too.
    api.rest(
        reqwest::Method::POST,
        "/entry/execute/sync",
        Some(json!({"investigationId": inv, "data": "!Set key=FromRest.colour value=blue"})),
    )
    .await?;
    let shown = ui
        .until(
            "FromRest.colour in the context viewer",
            &context_value_script("FromRest.colour"),
        )
        .await?;
    if shown != "\"blue\"" {
        return fail(format!(
            "the context viewer shows FromRest.colour = {shown}"
        ));
    }
    let same = ui.js("return window.__sameDocument;").await?;
    if same != "still here" {
        return fail("the war room was reloaded to show the REST entries");
    }
    ui.shot("serve-warroom-rest").await?;
    Ok(())
}

/// Run the sample playbook from its page on an incident created over REST and complete its
/// manual task there.
async fn playbook_from_the_page(ui: &mut Ui, api: &mut Api) -> R<()> {
    let inc = api
        .rest(
            reqwest::Method::POST,
            "/incident",
            Some(json!({"name": "Paged from the playbook page", "severity": 2, "createInvestigation": true})),
        )
        .await?;
    let id = inc["id"]
        .as_str()
        .ok_or_else(|| format!("POST /incident answered {inc}"))?
        .to_owned();

    ui.goto("/playbooks").await?;
    ui.until(
        "the playbooks list",
        &format!(
            "return [...document.querySelectorAll('#playbooks a')].some(a => a.textContent === {PLAYBOOK:?});"
        ),
    )
    .await?;
    ui.click_link(PLAYBOOK).await?;
    ui.until(
        "the task graph",
        &format!(
            "return document.getElementById('pb-title').textContent === {PLAYBOOK:?} && document.querySelectorAll('#graph g.task').length === 8\
                    && document.querySelector('#run-incident option[value={id:?}]');"
        ),
    )
    .await?;
    ui.select("#run-incident", &id).await?;
    ui.until(
        "the REST incident to be chosen",
        &format!(
            "return document.getElementById('run-incident').value === {id:?}\
                    && document.getElementById('run-warroom').getAttribute('href') === '/investigations/' + encodeURIComponent({id:?})\
                    && document.getElementById('run-state').textContent.includes('Not run');"
        ),
    )
    .await?;
    let states = ui.run_to_manual_task("3").await?;
    if states["1"] != "Completed" || states["2"] != "Completed" || states["4"] != "Pending" {
        return fail(format!("task states while waiting: {states}"));
    }
    let waiting = api
        .rest(reqwest::Method::GET, &format!("/inv-playbook/{id}"), None)
        .await?;
    if waiting["state"] != "waiting" {
        return fail(format!("the REST API reports the waiting run as {waiting}"));
    }
    ui.shot("serve-playbook-waiting").await?;
    let states = ui.complete_manual_task().await?;
    let expected = json!({"0": "Completed", "1": "Completed", "2": "Completed", "3": "Completed", "4": "Completed",
        "5": "Completed", "6": "Completed", "7": "NotExecuted"});
    if states != expected {
        return fail(format!("final task states: {states}"));
    }
    let run = api
        .rest(reqwest::Method::GET, &format!("/inv-playbook/{id}"), None)
        .await?;
    if run["state"] != "completed" || run["playbookId"].as_str().is_none_or(str::is_empty) {
        return fail(format!("the REST API reports the run as {run}"));
    }
    // The playbook paged and resolved an alert for this incident.
    let closed = api
        .rest(
            reqwest::Method::POST,
            &format!("/investigation/{id}/context"),
            Some(json!({"query": "${SIGNL4.AlertClosed.eventId}"})),
        )
        .await?;
    if closed.as_str().is_none_or(str::is_empty) {
        return fail(format!("no closed alert in the run's context: {closed}"));
    }
    ui.shot("serve-playbook-completed").await?;
    Ok(())
}

/// Everything a client can read about the incidents and instances, through both APIs.
async fn read_everything(api: &mut Api) -> R<()> {
    for path in [
        "/console/api/instances",
        "/console/api/integrations",
        "/console/api/catalog",
        "/console/api/investigations",
        "/console/api/playbooks",
    ] {
        api.console(path).await?;
    }
    let list = api.console("/console/api/investigations").await?;
    let ids: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    if ids.len() < 3 {
        return fail(format!("the console lists {list}"));
    }
    for id in &ids {
        api.console(&format!("/console/api/investigations/{id}"))
            .await?;
        api.console(&format!("/console/api/investigations/{id}/context"))
            .await?;
        api.console(&format!("/console/api/investigations/{id}/run"))
            .await?;
        api.rest(
            reqwest::Method::POST,
            &format!("/investigation/{id}"),
            Some(json!({"pageSize": 1000})),
        )
        .await?;
        api.rest(
            reqwest::Method::POST,
            &format!("/investigation/{id}/context"),
            Some(json!({"query": "${.}"})),
        )
        .await?;
    }
    let search = api
        .rest(
            reqwest::Method::POST,
            "/settings/integration/search",
            Some(json!({"size": 1000})),
        )
        .await?;
    if !search["instances"]
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["brand"] == "SIGNL4"))
    {
        return fail(format!("no SIGNL4 instance in {search}"));
    }
    api.rest(
        reqwest::Method::POST,
        "/incidents/search",
        Some(json!({"filter": {"page": 0, "size": 50}})),
    )
    .await?;
    Ok(())
}

fn secret_checks(ui: &Ui, api: &Api, captured: &Captured, server_output: &str) -> R<()> {
    // The relay really saw the session: pages, API answers, the live stream.
    let streams = captured.all();
    let seen = |needle: &str| {
        streams
            .iter()
            .any(|s| String::from_utf8_lossy(s).contains(needle))
    };
    for needle in [
        "<h1>Incidents</h1>",
        "SIGNL4 alert created",
        "written through the REST API",
        "text/event-stream",
        "signl4-simulator",
    ] {
        if !seen(needle) {
            return fail(format!(
                "the relay did not see {needle:?} in {} connection(s): the capture is broken",
                streams.len()
            ));
        }
    }
    if seen(SIM_SECRET) {
        return fail("the SIGNL4 secret was sent to the browser");
    }
    if ui.pages.len() < 5 {
        return fail(format!("only {} page snapshots", ui.pages.len()));
    }
    for (page, html) in &ui.pages {
        if html.contains(SIM_SECRET) {
            return fail(format!("the SIGNL4 secret is in the {page} page"));
        }
    }
    if api.fetched.len() < 20 {
        return fail(format!("only {} API answers were read", api.fetched.len()));
    }
    for (what, text) in &api.fetched {
        if text.contains(SIM_SECRET) {
            return fail(format!("the SIGNL4 secret is in the answer to {what}"));
        }
    }
    if server_output.contains(SIM_SECRET) {
        return fail("the SIGNL4 secret is in the server's output");
    }
    Ok(())
}

async fn walk(ui: &mut Ui, api: &mut Api) -> R<()> {
    let inv = login_and_incident(ui).await?;
    signl4_in_the_war_room(ui, api, &inv).await?;
    rest_entries_stream_in(ui, api, &inv).await?;
    playbook_from_the_page(ui, api).await?;
    // The incidents list shows both incidents and the run.
    ui.goto("/").await?;
    ui.until(
        "the incidents list with the run",
        "return [...document.querySelectorAll('#incidents tbody tr[data-id]')].some(r => r.textContent.includes('Paged from the playbook page') && r.textContent.includes('completed'))\
                && [...document.querySelectorAll('#incidents tbody tr[data-id]')].some(r => r.textContent.includes('Disk full on db1'));",
    )
    .await?;
    ui.shot("serve-incidents").await?;
    read_everything(api).await?;
    ui.no_console_errors().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_of_the_serve_binary_in_a_real_browser() {
    if xsoar_webdriver::skip_requested() {
        return;
    }
    let started = Instant::now();
    let server = start_server().await.unwrap_or_else(|e| panic!("{e}"));
    let upstream: SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("xsoar-emu printed {}: {e}", server.base));
    let captured = Captured::default();
    let base = relay(upstream, captured.clone())
        .await
        .unwrap_or_else(|e| panic!("the relay does not start: {e}"));
    let mut ui = Ui::launch("xsoar-console-serve", base)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut api = Api {
        http: rest_client().unwrap_or_else(|e| panic!("{e}")),
        base: server.base.clone(),
        fetched: Vec::new(),
        session: None,
    };
    let mut outcome = walk(&mut ui, &mut api).await;
    ui.close(outcome.is_err(), "console-serve-failure").await;
    let output = server.output();
    drop(server);
    if outcome.is_ok() {
        outcome = secret_checks(&ui, &api, &captured, &output);
    }
    if let Err(e) = outcome {
        panic!(
            "console over `xsoar-emu serve` failed: {e}\n(screenshot: tests/artifacts/tmp/console-serve-failure.png)\nserver output:\n{output}"
        );
    }
    eprintln!(
        "console over xsoar-emu serve: walk took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
