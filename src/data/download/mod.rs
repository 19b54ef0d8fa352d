//! Downloading the full MNIST and Fashion-MNIST sets (`dl-lab download`), opt-in and separate
//! from parsing: the lab works offline on the shipped sample, and `--data mnist` reads what a
//! download left in the cache.
//!
//! Each file is fetched over HTTP(S) into `NAME.part`, its md5 is checked against the checksum
//! the data set publishes (the same ones torchvision checks), and only then is it renamed to
//! `NAME`: a file under its real name has always been verified, and a bad one never is. A file
//! already there with the right checksum is not fetched again. A transfer that fails (no
//! connection, a connection cut halfway, a server error) is retried with a doubling back-off;
//! a 404 or a wrong checksum moves on to the next mirror straight away. Every file is tried even
//! when an earlier one failed, so whatever could be verified stays.
//!
//! Progress goes to a callback ([`Progress`]), so the CLI can draw a bar and the lab a gauge.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

use super::mnist::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use crate::{Error, Result};

pub mod cli;
mod transfer;

use transfer::{fetch_file, Stop};
pub use transfer::{file_url, write_failure};

/// The data sets `dl-lab download` knows, by the name `--data` also takes.
pub const DATASETS: [&str; 2] = ["mnist", "fashion-mnist"];

/// The MNIST mirrors torchvision tries, then the original site.
pub const MNIST_MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];
/// Fashion-MNIST's own download site (Zalando Research).
pub const FASHION_MNIST_MIRRORS: [&str; 1] =
    ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];

/// Published md5 of the four `.gz` files, in the order train images, train labels, test images,
/// test labels (MNIST: yann.lecun.com; Fashion-MNIST: its README; both as torchvision checks).
const MNIST_MD5: [&str; 4] = [
    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "d53e105ee54ea40749a09fcbcd1e9432",
    "9fb629c4189551a2d022fa330f9573f3",
    "ec29112dd5afa0611ce80d1b7f02629c",
];
const FASHION_MNIST_MD5: [&str; 4] = [
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "25c81989df183df01b3e8a0aad5dffbe",
    "bef4ecab320f06d8554ea6380940ec79",
    "bb300cfdad3c16e7a12a480ee83cd310",
];

/// One file to fetch: its name on the mirror (and on disk) and its published md5 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub md5: String,
}

/// A data set to download: its files and the mirrors that serve them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub name: &'static str,
    pub files: Vec<RemoteFile>,
    /// Base URLs, tried in order; a file's URL is the base plus its name.
    pub mirrors: Vec<String>,
}

impl Dataset {
    /// `mnist` or `fashion-mnist`, with the default mirrors; `None` for any other name.
    pub fn known(name: &str) -> Option<Dataset> {
        let (name, md5, mirrors): (&'static str, _, &[&str]) = match name {
            "mnist" => ("mnist", MNIST_MD5, &MNIST_MIRRORS),
            "fashion-mnist" => ("fashion-mnist", FASHION_MNIST_MD5, &FASHION_MNIST_MIRRORS),
            _ => return None,
        };
        let names = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];
        let files = names
            .iter()
            .zip(md5)
            .map(|(n, md5)| RemoteFile {
                name: format!("{n}.gz"),
                md5: md5.to_string(),
            })
            .collect();
        Some(Dataset {
            name,
            files,
            mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
        })
    }
}

/// Where downloads are kept: `$XDG_CACHE_HOME/dl-lab`, else `~/.cache/dl-lab`.
pub fn cache_root() -> Result<PathBuf> {
    let nonempty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").and_then(nonempty) {
        return Ok(xdg.join("dl-lab"));
    }
    match std::env::var_os("HOME").and_then(nonempty) {
        Some(home) => Ok(home.join(".cache").join("dl-lab")),
        None => Err(Error::Config(
            "no cache directory: neither XDG_CACHE_HOME nor HOME is set; \
             choose one with `dl-lab download … --dir DIR`"
                .into(),
        )),
    }
}

/// The cache directory of data set `name` (`mnist` → `~/.cache/dl-lab/mnist`).
pub fn cache_dir(name: &str) -> Result<PathBuf> {
    Ok(cache_root()?.join(name))
}

/// The command that downloads `name` (for messages).
pub fn download_command(name: &str) -> String {
    format!("dl-lab download {name}")
}

/// What `--data ARG` means: an existing path is itself; a data set name (`mnist`,
/// `fashion-mnist`) is its cache directory, which must hold a finished download (else the
/// error says which command fetches it); anything else is returned unchanged for the caller
/// to report as it does today.
pub fn resolve_data_arg(arg: &Path) -> Result<PathBuf> {
    let name = arg.to_str().unwrap_or_default();
    if arg.exists() || !DATASETS.contains(&name) {
        return Ok(arg.to_path_buf());
    }
    let dir = cache_dir(name)?;
    let dataset = Dataset::known(name).expect("DATASETS are known");
    let missing: Vec<&str> = dataset
        .files
        .iter()
        .filter(|f| !dir.join(&f.name).is_file())
        .map(|f| f.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(dir);
    }
    Err(Error::Config(format!(
        "--data {name}: {name} has not been downloaded yet ({} missing from {}); \
         fetch it with `{}`",
        missing.join(", "),
        dir.display(),
        download_command(name)
    )))
}

/// How to download: where to, from which mirrors, how persistently.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory the files end up in (created if missing).
    pub dir: PathBuf,
    /// Base URLs, tried in order for each file.
    pub mirrors: Vec<String>,
    /// Tries per mirror for a transfer that fails (connection, cut, 5xx); at least 1.
    pub attempts: usize,
    /// Wait before the second try; doubled before each further one.
    pub backoff: Duration,
    /// Connection and per-read timeout.
    pub timeout: Duration,
}

impl Options {
    /// Defaults for `dir`: 3 tries per mirror, back-off from 1 s, 30 s timeout.
    pub fn new(dir: PathBuf, mirrors: Vec<String>) -> Options {
        Options {
            dir,
            mirrors,
            attempts: 3,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the download is doing, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// `file` is already there with the right checksum: nothing to fetch.
    Cached { file: String, bytes: u64 },
    /// A transfer starts; `total` is the size the server announced.
    Start {
        file: String,
        url: String,
        total: Option<u64>,
    },
    /// `done` bytes of `file` have arrived.
    Bytes {
        file: String,
        done: u64,
        total: Option<u64>,
    },
    /// A try failed; the next one starts after `wait` (same mirror) or at once (next mirror).
    Failed {
        file: String,
        url: String,
        why: String,
        wait: Option<Duration>,
    },
    /// `file` arrived and matched its checksum.
    Verified { file: String, bytes: u64 },
}

/// What was downloaded and what was already there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub downloaded: Vec<String>,
    pub cached: Vec<String>,
}

/// Fetch `files` into `opts.dir` (see the module docs for the rules). Returns which files were
/// fetched and which were already there; fails, after trying every file, naming each file that
/// could not be had and why.
pub fn download(
    files: &[RemoteFile],
    opts: &Options,
    on: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    if opts.mirrors.is_empty() {
        return Err(Error::Config("no mirror to download from".into()));
    }
    std::fs::create_dir_all(&opts.dir).map_err(|e| Error::io(&opts.dir, e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(opts.timeout))
        .timeout_per_read(Some(opts.timeout))
        .user_agent(concat!("dl-lab/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut summary = Summary::default();
    let mut failures = Vec::new();
    let mut files_left = files.iter();
    for file in files_left.by_ref() {
        let path = opts.dir.join(&file.name);
        if path.is_file() && md5_file(&path)? == file.md5 {
            let bytes = std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
            on(Progress::Cached {
                file: file.name.clone(),
                bytes,
            });
            summary.cached.push(file.name.clone());
            continue;
        }
        match fetch_file(&agent, file, opts, on) {
            Ok(()) => summary.downloaded.push(file.name.clone()),
            Err(Stop::File(why)) => failures.push((file.name.clone(), why)),
            Err(Stop::All(why)) => {
                failures.push((file.name.clone(), why));
                break;
            }
        }
    }
    for file in files_left {
        let why = "not tried (see above)".to_string();
        failures.push((file.name.clone(), why));
    }
    if failures.is_empty() {
        Ok(summary)
    } else {
        Err(Error::Download { failures })
    }
}

/// The md5 of a file, in lower-case hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(hex(&md5.finalize()));
        }
        md5.update(&buf[..n]);
    }
}

/// The md5 of `bytes`, in lower-case hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
