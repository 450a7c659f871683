//! `xsoar-emu serve --watch`: re-read content when integration or playbook files change.
//!
//! Content developers edit YAML and want the running server to pick the change up without a
//! restart or a `POST /content/reload`. File events come from the operating system (inotify on
//! Linux) through `notify`. An editor's save is a burst of events (write, rename, chmod), so
//! events are coalesced into one reload after a short quiet period; the reload is the same as
//! the endpoint's: files with errors are reported and skipped, everything else (and every
//! uploaded item) stays loaded.

use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::Instrument;
use xsoar_server::AppState;

/// How long the folders must be quiet before a burst of changes is reloaded.
const QUIET: Duration = Duration::from_millis(300);

/// Keeps the file watch alive; dropping it stops watching.
pub struct ContentWatcher {
    _watcher: notify::RecommendedWatcher,
    /// What is watched, for the start-up message.
    pub watched: Vec<PathBuf>,
}

impl std::fmt::Debug for ContentWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentWatcher")
            .field("watched", &self.watched)
            .finish()
    }
}

/// A watched place: a folder (every YAML file below it) or one file (watched through its
/// folder, since editors replace files by renaming).
#[derive(Debug, Clone)]
struct Place {
    dir: PathBuf,
    file: Option<PathBuf>,
}

impl Place {
    fn of(path: &Path) -> Result<Self> {
        let path = path
            .canonicalize()
            .with_context(|| format!("--watch: cannot read {}", path.display()))?;
        if path.is_dir() {
            return Ok(Self {
                dir: path,
                file: None,
            });
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Self {
            dir,
            file: Some(path),
        })
    }

    fn concerns(&self, changed: &Path) -> bool {
        match &self.file {
            Some(f) => changed == f,
            None => changed.starts_with(&self.dir) && is_content_file(changed),
        }
    }
}

fn is_content_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

/// Watch `paths` (folders or files) and reload `state`'s content when they change.
pub fn start(state: AppState, paths: &[PathBuf]) -> Result<ContentWatcher> {
    let places: Vec<Place> = paths.iter().map(|p| Place::of(p)).collect::<Result<_>>()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let filter = places.clone();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(event) => {
                if matches!(
                    event.kind,
                    EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                ) {
                    for p in event.paths {
                        if filter.iter().any(|place| place.concerns(&p)) {
                            // The receiver is gone only when the server stops.
                            let _ = tx.send(p);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "content watch error"),
        })
        .context("--watch: cannot start watching files")?;
    // Each folder once; recursively when any place is the whole folder.
    let mut dirs: std::collections::BTreeMap<&Path, RecursiveMode> = Default::default();
    for place in &places {
        let mode = dirs
            .entry(place.dir.as_path())
            .or_insert(RecursiveMode::NonRecursive);
        if place.file.is_none() {
            *mode = RecursiveMode::Recursive;
        }
    }
    for (dir, mode) in dirs {
        watcher
            .watch(dir, mode)
            .with_context(|| format!("--watch: cannot watch {}", dir.display()))?;
    }
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changed = vec![first];
            loop {
                match tokio::time::timeout(QUIET, rx.recv()).await {
                    Ok(Some(p)) => changed.push(p),
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            changed.sort();
            changed.dedup();
            let span = tracing::info_span!("content_watch", files = changed.len());
            report(&changed, state.reload_content().instrument(span).await);
        }
    });
    Ok(ContentWatcher {
        _watcher: watcher,
        watched: places
            .into_iter()
            .map(|p| p.file.unwrap_or(p.dir))
            .collect(),
    })
}

fn report(changed: &[PathBuf], outcome: Result<serde_json::Value, xsoar_server::ApiError>) {
    let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
    match outcome {
        Ok(summary) => {
            let n = |k: &str| {
                summary
                    .get(k)
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            };
            let problems: Vec<&str> = summary
                .get("problems")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default();
            outln!(
                "content reloaded after changes to {}: {} integrations, {} scripts, {} playbooks, {} uploaded; {} problem(s)",
                names.join(", "),
                n("integrations"),
                n("scripts"),
                n("playbooks"),
                n("uploaded"),
                problems.len()
            );
            for p in problems {
                outln!("  skipped: {p}");
            }
        }
        Err(e) => outln!(
            "content reload after changes to {} failed: {e}; the content loaded before stays",
            names.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yaml_below_a_folder_or_the_watched_file_counts() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("one.yml");
        std::fs::write(&file, "x: 1").expect("write");
        let dir = Place::of(tmp.path()).expect("dir");
        let one = Place::of(&file).expect("file");
        let root = tmp.path().canonicalize().expect("canonical");
        assert!(dir.concerns(&root.join("sub/pb.yaml")));
        assert!(!dir.concerns(&root.join("notes.txt")));
        assert!(!dir.concerns(Path::new("/elsewhere/pb.yml")));
        assert!(one.concerns(&root.join("one.yml")));
        assert!(!one.concerns(&root.join("two.yml")));
        assert!(Place::of(&tmp.path().join("missing.yml")).is_err());
    }
}
