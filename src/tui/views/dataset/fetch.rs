//! Downloading the full data set from the Dataset pane (`D`: MNIST, `F`: Fashion-MNIST): the
//! download runs on its own thread ([`crate::data::download`]) and leaves its progress in a
//! shared [`FetchState`], which the pane reads on every redraw (the ticker redraws), so the UI
//! never waits on the network. A finished download is used by reopening the lab with
//! `--data NAME`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::data::download::{self, Dataset, Options, Progress};

/// What the pane shows about a download.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchState {
    pub name: String,
    /// The file being fetched and its bytes so far (and of how many, if known).
    pub file: String,
    pub done: u64,
    pub total: Option<u64>,
    /// Files verified or already there.
    pub ready: usize,
    pub files: usize,
    /// `Ok(dir)` or the error, once the thread ends.
    pub outcome: Option<Result<PathBuf, String>>,
}

/// A download in progress (or finished): its shared state.
pub struct Fetch {
    state: Arc<Mutex<FetchState>>,
}

impl Fetch {
    /// Start downloading `dataset` into `dir` on a thread named `dl-lab-download`.
    pub fn start(dataset: Dataset, dir: PathBuf) -> Fetch {
        let state = Arc::new(Mutex::new(FetchState {
            name: dataset.name.to_string(),
            files: dataset.files.len(),
            ..FetchState::default()
        }));
        let shared = state.clone();
        let run = move || {
            let opts = Options::new(dir.clone(), dataset.mirrors.clone());
            let mut update = |p: Progress| {
                let Ok(mut s) = shared.lock() else { return };
                match p {
                    Progress::Start { file, total, .. } => {
                        (s.file, s.done, s.total) = (file, 0, total);
                    }
                    Progress::Bytes { done, .. } => s.done = done,
                    Progress::Cached { .. } | Progress::Verified { .. } => s.ready += 1,
                    Progress::Failed { .. } => {}
                }
            };
            let result = download::download(&dataset.files, &opts, &mut update);
            if let Ok(mut s) = shared.lock() {
                s.outcome = Some(result.map(|_| dir).map_err(|e| e.to_string()));
            }
        };
        let spawned = std::thread::Builder::new()
            .name("dl-lab-download".into())
            .spawn(run);
        if let Err(e) = spawned {
            if let Ok(mut s) = state.lock() {
                s.outcome = Some(Err(format!("cannot start the download: {e}")));
            }
        }
        Fetch { state }
    }

    /// Start downloading the data set `name` (`mnist`, `fashion-mnist`) into the cache, from
    /// the default mirrors; one that cannot start is a finished, failed fetch.
    pub fn start_named(name: &str) -> Fetch {
        let dataset = Dataset::known(name).ok_or_else(|| format!("unknown data set {name}"));
        let dir = download::cache_dir(name).map_err(|e| e.to_string());
        match (dataset, dir) {
            (Ok(dataset), Ok(dir)) => Fetch::start(dataset, dir),
            (Err(why), _) | (_, Err(why)) => Fetch::failed(name, format!("\n{why}")),
        }
    }

    /// A download of `name` that ended with the error `why` (the
    /// downloader's text: a header line, then one line per file).
    pub fn failed(name: &str, why: String) -> Fetch {
        Fetch {
            state: Arc::new(Mutex::new(FetchState {
                name: name.to_string(),
                outcome: Some(Err(why)),
                ..FetchState::default()
            })),
        }
    }

    /// Whether the download ended with an error.
    pub fn has_failed(&self) -> bool {
        matches!(self.state().outcome, Some(Err(_)))
    }

    /// A copy of the current state.
    pub fn state(&self) -> FetchState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn is_running(&self) -> bool {
        self.state().outcome.is_none()
    }

    /// One line for the pane: progress, or how it ended.
    pub fn status_line(&self) -> String {
        let s = self.state();
        match &s.outcome {
            None if s.file.is_empty() => format!("download {}: starting…", s.name),
            None => {
                let mb = |b: u64| b as f64 / 1e6;
                let of = s
                    .total
                    .map(|t| format!(" of {:.1}", mb(t)))
                    .unwrap_or_default();
                let pct = s
                    .total
                    .filter(|&t| t > 0)
                    .map(|t| format!(" ({:.0}%)", 100.0 * s.done as f64 / t as f64))
                    .unwrap_or_default();
                format!(
                    "download {} ({}/{} files ready): {} {:.1}{of} MB{pct}",
                    s.name,
                    s.ready,
                    s.files,
                    s.file,
                    mb(s.done)
                )
            }
            Some(Ok(dir)) => format!(
                "{} downloaded to {}: reopen the lab with --data {}",
                s.name,
                dir.display(),
                s.name
            ),
            Some(Err(why)) => format!("download {} failed: {}", s.name, short_reason(why, &s.name)),
        }
    }
}

/// Why a download failed, short enough for a few rows of the pane: the
/// likely cause first, then where the whole story is (`dl-lab download`
/// prints every file's and every mirror's reason).
fn short_reason(why: &str, name: &str) -> String {
    let details = format!("details: dl-lab download {name}");
    if why.contains("are you offline?") {
        return format!("offline? (cannot reach any mirror) · {details}");
    }
    // the first file's reason (the first line is a header ending in ':')
    let first = why
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.ends_with(':'))
        .unwrap_or(why.trim());
    format!("{first} · {details}")
}
