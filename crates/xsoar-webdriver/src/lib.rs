//! Test support: the web console in headless Chromium, driven over WebDriver (chromedriver).
//!
//! Two tests walk the console in a real browser: the console's own
//! (`crates/xsoar-console/tests/browser.rs`, over an in-memory backend) and the binary's
//! (`crates/xsoar-emu/tests/console_serve.rs`, over `xsoar-emu serve`). This crate holds the
//! browser plumbing they share, so that both start, drive and stop the browser the same way:
//! chromedriver on a free port, Chromium's options, the browser console log, waiting for the
//! page, screenshots, and the `XSOAR_CONSOLE_SKIP_BROWSER` switch. What each test checks stays
//! in its test file. It is a dev-dependency only and is not published.
//!
//! It needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! tests/browser/run.sh installs them). `CHROMIUM` and `CHROMEDRIVER` override the binaries'
//! paths.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fantoccini;

/// The error of a browser test step: any error, with a message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The result of a browser test step.
pub type Result<T> = std::result::Result<T, Error>;

/// How long to wait for the browser, chromedriver or the page.
pub const WAIT: Duration = Duration::from_secs(20);

/// How often to look again while waiting.
pub const POLL: Duration = Duration::from_millis(100);

/// A failed step with `message`.
pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(message.into().into())
}

/// Whether `XSOAR_CONSOLE_SKIP_BROWSER` asks to skip the browser tests (set, not empty, not
/// `0`); says so on stderr when it does.
pub fn skip_requested() -> bool {
    let skip =
        std::env::var_os("XSOAR_CONSOLE_SKIP_BROWSER").is_some_and(|v| !v.is_empty() && v != "0");
    if skip {
        eprintln!("browser test skipped: XSOAR_CONSOLE_SKIP_BROWSER is set");
    }
    skip
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where page screenshots go: `$XSOAR_CONSOLE_SCREENSHOTS` (tests/browser/run.sh points it at
/// the committed tests/artifacts/screenshots), else the ignored tests/artifacts/tmp/screenshots,
/// so a plain `cargo test` leaves the committed files alone.
pub fn screenshots_dir() -> PathBuf {
    match std::env::var_os("XSOAR_CONSOLE_SCREENSHOTS").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("tests/artifacts/tmp/screenshots"),
    }
}

/// Where the screenshot of a failed walk goes: the ignored tests/artifacts/tmp.
pub fn failure_dir() -> PathBuf {
    workspace_root().join("tests/artifacts/tmp")
}

// ---- chromedriver and Chromium -----------------------------------------------------------

/// chromedriver, stopped on drop (also when the test panics).
#[derive(Debug)]
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The binary named by `$env`, else `default`; an error telling how to install it if missing.
fn binary(env: &str, default: &str) -> Result<PathBuf> {
    let path = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.to_owned()));
    if !path.exists() {
        return fail(format!(
            "{} not found: install chromium and chromium-driver (tests/browser/run.sh does), set {env}, \
             or set XSOAR_CONSOLE_SKIP_BROWSER=1 to skip the browser tests",
            path.display()
        ));
    }
    Ok(path)
}

impl Driver {
    /// Start chromedriver on a free loopback port and wait until it listens. `name` goes into
    /// the name of Chromium's throwaway profile directory.
    async fn start(name: &str) -> Result<Self> {
        let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: std::env::temp_dir().join(format!("{name}-{}-{port}", std::process::id())),
        };
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return fail("chromedriver did not start listening");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(driver)
    }

    /// Open a headless Chromium session (1280×800, console log kept, dialogs left open).
    async fn connect(&self) -> Result<Client> {
        let chromium = binary("CHROMIUM", "/usr/bin/chromium")?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", self.profile.display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        Ok(ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await?)
    }
}

/// chromedriver's console log (`/session/{id}/se/log`); each read drains it.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

// ---- the browser on the console ------------------------------------------------------------

/// Headless Chromium on the console at one base URL, with what a walk collects: the browser
/// console's errors and the HTML of every page shot.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver session, for what the helpers here do not cover.
    pub client: Client,
    base: String,
    shots: PathBuf,
    /// Errors (`SEVERE`) the browser console logged, read at each [`Browser::goto`] and
    /// [`Browser::drain_log`].
    pub console_errors: Vec<String>,
    /// (screenshot name, page HTML) of every [`Browser::shot`].
    pub pages: Vec<(String, String)>,
    driver: Option<Driver>,
}

impl Browser {
    /// Start chromedriver and Chromium on the console at `base` (`http://host:port`).
    /// Screenshots go to [`screenshots_dir`]; `name` names Chromium's throwaway profile.
    pub async fn launch(name: &str, base: impl Into<String>) -> Result<Self> {
        let driver = Driver::start(name).await?;
        let client = driver
            .connect()
            .await
            .map_err(|e| format!("cannot start Chromium through chromedriver: {e}"))?;
        Ok(Browser {
            client,
            base: base.into(),
            shots: screenshots_dir(),
            console_errors: Vec::new(),
            pages: Vec::new(),
            driver: Some(driver),
        })
    }

    /// Read the browser console log, then open `path` of the console.
    pub async fn goto(&mut self, path: &str) -> Result<()> {
        self.drain_log().await?;
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// Read the browser console log, keeping its errors in [`Browser::console_errors`].
    pub async fn drain_log(&mut self) -> Result<()> {
        let logs = self.client.issue_cmd(BrowserLog).await?;
        for l in logs.as_array().into_iter().flatten() {
            if l["level"] == "SEVERE" {
                self.console_errors
                    .push(l["message"].as_str().unwrap_or_default().to_owned());
            }
        }
        Ok(())
    }

    /// Read the browser console log; fail if the browser console logged any error in the walk
    /// (but those removed from [`Browser::console_errors`] as expected).
    pub async fn no_console_errors(&mut self) -> Result<()> {
        self.drain_log().await?;
        if !self.console_errors.is_empty() {
            return fail(format!(
                "browser console errors: {:#?}",
                self.console_errors
            ));
        }
        Ok(())
    }

    /// Poll a script until it returns something truthy; return that. On timeout the error
    /// names `what` and the console's error banner, if it shows one.
    pub async fn until(&self, what: &str, script: &str) -> Result<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script).await?;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                let banner = self
                    .js("const b = document.getElementById('banner'); return b && !b.hidden ? b.textContent : '';")
                    .await
                    .unwrap_or_default();
                return fail(format!(
                    "timed out after {}s waiting for {what} (page banner: {banner})",
                    WAIT.as_secs()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Run a script in the page; return what it returns.
    pub async fn js(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Type `text` into the element at `css`.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let el = self.client.find(Locator::Css(css)).await?;
        el.send_keys(text).await?;
        Ok(())
    }

    /// Empty the input at `css`.
    pub async fn clear(&self, css: &str) -> Result<()> {
        self.client.find(Locator::Css(css)).await?.clear().await?;
        Ok(())
    }

    /// Click the element at `css`.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Choose the option with `value` in the `<select>` at `css`.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        self.client
            .find(Locator::Css(css))
            .await?
            .select_by_value(value)
            .await?;
        Ok(())
    }

    /// Click the link whose text is `text`.
    pub async fn click_link(&self, text: &str) -> Result<()> {
        self.client
            .find(Locator::LinkText(text))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Run a line in the war room: type it into the command box and press Enter.
    pub async fn run_line(&self, line: &str) -> Result<()> {
        self.clear("#command").await?;
        self.type_into("#command", line).await?;
        self.type_into("#command", &fantoccini::key::Key::Enter.to_string())
            .await
    }

    /// Save a screenshot of the page as `{name}.png` and keep its HTML in [`Browser::pages`].
    pub async fn shot(&mut self, name: &str) -> Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::create_dir_all(&self.shots)?;
        std::fs::write(self.shots.join(format!("{name}.png")), png)?;
        let source = self.client.source().await?;
        self.pages.push((name.to_owned(), source));
        Ok(())
    }

    /// On a playbook page: the state of each task drawn in the graph, by task id
    /// (`{"1": "Completed", "4": "Pending", …}`).
    pub async fn task_states(&self) -> Result<Value> {
        self.js("return Object.fromEntries([...document.querySelectorAll('#graph g.task')].map(g => [g.dataset.task, g.dataset.state]));")
            .await
    }

    /// On a playbook page with an incident chosen: press Run and wait until the manual task
    /// `task` waits for the user (its Complete button shows); return [`Browser::task_states`]
    /// then.
    pub async fn run_to_manual_task(&self, task: &str) -> Result<Value> {
        self.click("#run-button").await?;
        self.until(
            &format!("manual task {task} to wait"),
            &format!(
                "return document.querySelector('#graph [data-task={task:?}]').dataset.state === 'Waiting' && document.getElementById('complete-task');"
            ),
        )
        .await?;
        self.task_states().await
    }

    /// On a playbook page whose run waits: complete the manual task and wait until the page
    /// shows the run completed; return [`Browser::task_states`] then.
    pub async fn complete_manual_task(&self) -> Result<Value> {
        self.click("#complete-task").await?;
        self.until(
            "the run to complete",
            "return document.getElementById('run-state').textContent === 'Run completed';",
        )
        .await?;
        self.task_states().await
    }

    /// End the walk: if `failed`, save a screenshot `{failure}.png` in [`failure_dir`]; then
    /// close Chromium and stop chromedriver. What the walk collected stays readable.
    pub async fn close(&mut self, failed: bool, failure: &str) {
        if failed {
            self.shots = failure_dir();
            let _ = self.shot(failure).await;
        }
        let _ = self.client.clone().close().await;
        self.driver = None;
    }
}
