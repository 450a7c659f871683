//! `xsoar-emu serve --watch`: a playbook written, changed or broken on disk is picked up by the
//! running server without a restart, and a broken file never unloads what was loaded.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KEY: &str = "watch-test-key";

/// The server process, killed when the test ends (also on a panic).
struct Server {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xsoar-emu"))
            .args(["serve", "--in-memory", "--bind", "127.0.0.1:0", "--watch"])
            .current_dir(dir)
            .env("XSOAR_EMU_API_KEY", KEY)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start xsoar-emu serve");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            lines: rx,
        };
        let line = server.wait_line("xsoar-emu server listening on ");
        server.url = line
            .trim_start_matches("xsoar-emu server listening on ")
            .trim()
            .to_owned();
        server.wait_line("  watch: reloading content when these change:");
        server
    }

    /// The next output line starting with `prefix` (earlier lines are skipped).
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("the server never printed a line starting with {prefix:?}"),
            }
        }
    }

    async fn playbook(&self, id: &str) -> Option<Value> {
        let reply = reqwest::Client::new()
            .get(format!("{}/playbook/{}", self.url, id.replace(' ', "%20")))
            .header("Authorization", KEY)
            .send()
            .await
            .expect("GET /playbook");
        match reply.status().as_u16() {
            200 => Some(reply.json().await.expect("JSON playbook")),
            404 => None,
            other => panic!("GET /playbook/{id} answered {other}"),
        }
    }

    /// Poll until `check` holds for the playbook `id` (or its absence).
    async fn until(&self, id: &str, what: &str, check: impl Fn(Option<&Value>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if check(self.playbook(id).await.as_ref()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}: not seen within 20 s");
    }
}

fn playbook_yaml(id: &str, description: &str) -> String {
    format!(
        r#"id: {id}
version: -1
name: {id}
description: {description}
starttaskid: "0"
tasks:
  "0":
    id: "0"
    taskid: 00000000-0000-4000-8000-000000000000
    type: start
    task:
      id: 00000000-0000-4000-8000-000000000000
      version: -1
      name: ""
      type: start
      iscommand: false
    nexttasks:
      '#none#':
      - "1"
  "1":
    id: "1"
    taskid: 00000000-0000-4000-8000-000000000001
    type: regular
    task:
      id: 00000000-0000-4000-8000-000000000001
      version: -1
      name: Say it
      scriptName: Print
      type: regular
      iscommand: false
    scriptarguments:
      value:
        simple: {description}
"#
    )
}

#[tokio::test]
async fn content_changes_on_disk_reach_the_running_server() {
    let tmp = tempfile::tempdir().expect("tmp");
    let playbooks = tmp.path().join("playbooks");
    std::fs::create_dir(&playbooks).expect("playbooks/");
    let server = Server::start(tmp.path());
    assert!(server.playbook("Watched").await.is_none(), "not loaded yet");

    // A new file.
    std::fs::write(
        playbooks.join("watched.yml"),
        playbook_yaml("Watched", "first"),
    )
    .expect("write");
    server
        .until("Watched", "the new playbook", |p| p.is_some())
        .await;
    server.wait_line("content reloaded after changes to ");

    // An edit.
    std::fs::write(
        playbooks.join("watched.yml"),
        playbook_yaml("Watched", "second"),
    )
    .expect("write");
    server
        .until("Watched", "the edited description", |p| {
            p.and_then(|p| p.get("description")).and_then(Value::as_str) == Some("second")
        })
        .await;

    // A broken file is reported by name and skipped; what was loaded stays.
    std::fs::write(playbooks.join("broken.yml"), "id: [unclosed\n").expect("write");
    let line = server.wait_line("  skipped: ");
    assert!(
        line.contains("broken.yml"),
        "the problem names the file: {line}"
    );
    assert!(server.playbook("Watched").await.is_some(), "still loaded");

    // A deletion unloads the playbook.
    std::fs::remove_file(playbooks.join("watched.yml")).expect("remove");
    server
        .until("Watched", "the removal", |p| p.is_none())
        .await;
}

/// `GET /lists` as name → type.
async fn list_types(url: &str) -> Vec<(String, String)> {
    let lists: Value = reqwest::Client::new()
        .get(format!("{url}/lists"))
        .header("Authorization", KEY)
        .send()
        .await
        .expect("GET /lists")
        .json()
        .await
        .expect("JSON lists");
    lists
        .as_array()
        .expect("an array")
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap_or_default().to_owned(),
                l["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A pack's list file keeps the `type` it declares in `GET /lists` (a file without one is
/// `plain_text`), at start and after a reload.
#[tokio::test]
async fn lists_read_from_pack_files_keep_their_declared_type() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lists = tmp.path().join("playbooks/Packs/P/Lists");
    std::fs::create_dir_all(&lists).expect("dir");
    std::fs::write(
        lists.join("Settings.json"),
        r#"{"id": "Settings", "name": "Settings", "data": "{\"n\": 3}", "type": "JSON", "version": -1}"#,
    )
    .expect("write");
    std::fs::write(
        lists.join("Hosts.json"),
        r#"{"name": "Hosts", "data": "ws-01"}"#,
    )
    .expect("write");
    let server = Server::start(tmp.path());
    let want = vec![
        ("Hosts".to_owned(), "plain_text".to_owned()),
        ("Settings".to_owned(), "JSON".to_owned()),
    ];
    assert_eq!(list_types(&server.url).await, want);
    let reply = reqwest::Client::new()
        .post(format!("{}/content/reload", server.url))
        .header("Authorization", KEY)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("POST /content/reload");
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(list_types(&server.url).await, want);
}
