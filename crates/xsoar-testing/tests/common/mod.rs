//! Helpers shared by the runner's tests: content from the repository, inline playbooks and
//! mock files, and a tokio spawner like the binary's.

#![allow(dead_code)]

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use xsoar_content::{parse_any, ContentItem, Library, Playbook};
use xsoar_testing::{EngineTemplate, MockSet, RunConfig, Runner, Spawner, TestCase, TestResult};

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Parse a content file of the repository.
pub fn item(rel: &str) -> ContentItem {
    let path = repo().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_text(&text, rel)
}

/// Parse content text.
pub fn parse_text(text: &str, name: &str) -> ContentItem {
    let (item, diags) = parse_any(text, name);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
    item.unwrap_or_else(|| panic!("{name} is not content"))
}

/// The playbook of content text.
pub fn playbook(text: &str, name: &str) -> Playbook {
    match parse_text(text, name) {
        ContentItem::Playbook(p) => p,
        _ => panic!("{name} is not a playbook"),
    }
}

/// A library with the repository's SIGNL4 integration, product playbooks and these items.
pub fn library(items: Vec<ContentItem>) -> Library {
    let mut lib = Library::new();
    lib.add(item("integrations/SIGNL4/SIGNL4.yml"));
    for f in [
        "playbooks/SIGNL4_Alert_and_Close.yml",
        "playbooks/SIGNL4_Page_On_Call_Teams.yml",
    ] {
        lib.add(item(f));
    }
    for i in items {
        lib.add(i);
    }
    lib
}

/// Mock files given as (name, text).
pub fn mocks(files: &[(&str, &str)]) -> MockSet {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    MockSet::parse(&files).unwrap_or_else(|e| panic!("mock files do not parse:\n{e}"))
}

/// Every mock file of `tests/mocks/`, named as the CLI names them.
pub fn repo_mocks() -> MockSet {
    let dir = repo().join("tests/mocks");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    names.sort();
    let files: Vec<(String, String)> = names
        .iter()
        .map(|p| {
            let name = format!(
                "tests/mocks/{}",
                p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
            );
            (name, std::fs::read_to_string(p).unwrap_or_default())
        })
        .collect();
    MockSet::parse(&files).unwrap_or_else(|e| panic!("tests/mocks do not parse:\n{e}"))
}

/// The test playbooks of `tests/playbooks/`.
pub fn repo_test_playbooks() -> Vec<Playbook> {
    let dir = repo().join("tests/playbooks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let rel = format!(
                "tests/playbooks/{}",
                p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
            );
            match item(&rel) {
                ContentItem::Playbook(pb) => pb,
                _ => panic!("{rel} is not a playbook"),
            }
        })
        .collect()
}

/// A mocks-only runner.
pub fn runner(lib: Library, mocks: MockSet) -> Runner {
    Runner::new(EngineTemplate::new(lib), mocks, RunConfig::default())
}

/// The test case of a loaded playbook.
pub fn case(lib: &Library, id: &str) -> TestCase {
    TestCase::of(
        lib.playbook(id)
            .unwrap_or_else(|| panic!("playbook {id} is not loaded")),
    )
}

/// Run every test on tokio's pool, like the binary.
pub fn tokio_spawner() -> Box<Spawner> {
    Box::new(|fut: BoxFuture<'static, TestResult>| {
        let handle = tokio::spawn(fut);
        Box::pin(async move { handle.await.map_err(|e| e.to_string()) })
    })
}

/// Results with the wall-clock time zeroed (the only field that varies between runs).
pub fn timeless(mut results: Vec<TestResult>) -> Vec<TestResult> {
    for r in &mut results {
        r.duration_ms = 0;
    }
    results
}
