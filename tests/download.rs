//! `dl-lab download` against a loopback HTTP server started by each test: the real MNIST test
//! files from `../shared/datasets/mnist` with their published md5s, a corrupted copy, missing
//! files (404), and connections cut halfway. No test touches the internet.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TempDir;
use dl_lab::data::download::{self, md5_hex, Options, Progress, RemoteFile};
use dl_lab::tui::views::dataset::fetch::Fetch;
use dl_lab::Error;

const IMAGES: &str = "t10k-images-idx3-ubyte.gz";
const LABELS: &str = "t10k-labels-idx1-ubyte.gz";
const IMAGES_MD5: &str = "9fb629c4189551a2d022fa330f9573f3";
const LABELS_MD5: &str = "ec29112dd5afa0611ce80d1b7f02629c";

/// A file's bytes, shared by the server's threads.
type Bytes = Arc<Vec<u8>>;

/// What the server answers for one path.
#[derive(Clone)]
enum Reply {
    File(Arc<Vec<u8>>),
    /// Announce the full length, send half, close; the first `cuts` requests only, then serve.
    CutThenFile {
        bytes: Arc<Vec<u8>>,
        cuts: usize,
    },
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (a thread per connection); anything not in its table
/// is a 404. It counts requests per path.
struct Server {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start(routes: Vec<(&str, Reply)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let routes: Arc<HashMap<String, Reply>> = Arc::new(
            routes
                .into_iter()
                .map(|(p, r)| (p.to_string(), r))
                .collect(),
        );
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let served = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, hits) = (routes.clone(), served.clone());
                std::thread::spawn(move || serve(stream, &routes, &hits));
            }
        });
        Server { port, hits }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://127.0.0.1:{}{prefix}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

fn serve(stream: TcpStream, routes: &HashMap<String, Reply>, hits: &Mutex<HashMap<String, usize>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // skip the headers
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let seen = {
        let mut hits = hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let mut out = stream;
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/x-gzip\r\nConnection: close\r\n\r\n")
    };
    let _ = match routes.get(&path) {
        Some(Reply::File(bytes)) => out
            .write_all(head(bytes.len()).as_bytes())
            .and_then(|()| out.write_all(bytes)),
        Some(Reply::CutThenFile { bytes, cuts }) if seen <= *cuts => out
            .write_all(head(bytes.len()).as_bytes())
            .and_then(|()| out.write_all(&bytes[..bytes.len() / 2])),
        Some(Reply::CutThenFile { bytes, .. }) => out
            .write_all(head(bytes.len()).as_bytes())
            .and_then(|()| out.write_all(bytes)),
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    };
    let _ = out.flush();
}

/// The two real MNIST test files, or `None` (the test skips) without ../shared.
fn mnist_t10k() -> Option<(Bytes, Bytes)> {
    let dir = common::shared_dir("datasets/mnist")?;
    let read = |name: &str| Arc::new(std::fs::read(dir.join(name)).expect("read shared file"));
    Some((read(IMAGES), read(LABELS)))
}

fn t10k_files() -> Vec<RemoteFile> {
    vec![
        RemoteFile {
            name: IMAGES.into(),
            md5: IMAGES_MD5.into(),
        },
        RemoteFile {
            name: LABELS.into(),
            md5: LABELS_MD5.into(),
        },
    ]
}

/// Short waits so retries take milliseconds.
fn options(dir: &Path, mirrors: Vec<String>) -> Options {
    let mut opts = Options::new(dir.to_path_buf(), mirrors);
    opts.backoff = Duration::from_millis(5);
    opts.timeout = Duration::from_secs(10);
    opts
}

fn run(files: &[RemoteFile], opts: &Options) -> (dl_lab::Result<download::Summary>, Vec<Progress>) {
    let mut events = Vec::new();
    let result = download::download(files, opts, &mut |p| events.push(p));
    (result, events)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn real_files_are_verified_and_a_second_run_downloads_nothing() {
    let Some((images, labels)) = mnist_t10k() else {
        return;
    };
    let server = Server::start(vec![
        (
            "/mnist/t10k-images-idx3-ubyte.gz",
            Reply::File(images.clone()),
        ),
        (
            "/mnist/t10k-labels-idx1-ubyte.gz",
            Reply::File(labels.clone()),
        ),
    ]);
    let tmp = TempDir::new("download-ok");
    // no trailing '/': the URL gets exactly one
    let opts = options(tmp.dir(), vec![server.url("/mnist")]);
    let (result, events) = run(&t10k_files(), &opts);
    let summary = result.expect("download succeeds");
    assert_eq!(summary.downloaded, vec![IMAGES, LABELS]);
    assert!(summary.cached.is_empty());
    assert_eq!(names_in(tmp.dir()), vec![IMAGES, LABELS], "no .part left");
    assert_eq!(std::fs::read(tmp.join(IMAGES)).unwrap(), *images);
    assert_eq!(std::fs::read(tmp.join(LABELS)).unwrap(), *labels);
    // progress: announced size, last byte count equal to it, then verified
    let total = images.len() as u64;
    assert!(events.contains(&Progress::Start {
        file: IMAGES.into(),
        url: server.url("/mnist/t10k-images-idx3-ubyte.gz"),
        total: Some(total),
    }));
    let last_bytes = events.iter().rev().find_map(|e| match e {
        Progress::Bytes { file, done, total } if file == IMAGES => Some((*done, *total)),
        _ => None,
    });
    assert_eq!(last_bytes, Some((total, Some(total))));
    assert!(events.contains(&Progress::Verified {
        file: IMAGES.into(),
        bytes: total
    }));
    assert_eq!(server.total_hits(), 2);

    let (again, events) = run(&t10k_files(), &opts);
    let again = again.expect("second run succeeds");
    assert!(again.downloaded.is_empty());
    assert_eq!(again.cached, vec![IMAGES, LABELS]);
    assert_eq!(server.total_hits(), 2, "the second run made no request");
    assert_eq!(
        events[0],
        Progress::Cached {
            file: IMAGES.into(),
            bytes: total
        }
    );
    // what arrived is the real MNIST test set
    let set = dl_lab::data::Mnist::load_test_files(tmp.dir()).expect("parses");
    assert_eq!(set.len(), 10_000);
}

#[test]
fn checksum_mismatch_names_expected_and_actual_and_leaves_no_file() {
    let Some((_, labels)) = mnist_t10k() else {
        return;
    };
    let mut corrupted = (*labels).clone();
    corrupted[100] ^= 0xff;
    let actual = md5_hex(&corrupted);
    let server = Server::start(vec![(
        "/t10k-labels-idx1-ubyte.gz",
        Reply::File(Arc::new(corrupted)),
    )]);
    let tmp = TempDir::new("download-md5");
    let files = &t10k_files()[1..];
    let (result, _) = run(files, &options(tmp.dir(), vec![server.url("/")]));
    let msg = result.expect_err("a corrupted file is refused").to_string();
    for needle in [LABELS, LABELS_MD5, actual.as_str(), "checksum mismatch"] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    assert!(
        names_in(tmp.dir()).is_empty(),
        "nothing kept: {:?}",
        names_in(tmp.dir())
    );
    // a mismatch is not retried on the same mirror
    assert_eq!(server.total_hits(), 1);
}

#[test]
fn not_found_names_file_and_url_and_the_next_mirror_serves_it() {
    let Some((_, labels)) = mnist_t10k() else {
        return;
    };
    let server = Server::start(vec![(
        "/b/t10k-labels-idx1-ubyte.gz",
        Reply::File(labels.clone()),
    )]);
    let tmp = TempDir::new("download-404");
    let opts = options(tmp.dir(), vec![server.url("/a/"), server.url("/b/")]);
    let (result, events) = run(&t10k_files()[1..], &opts);
    assert_eq!(
        result.expect("the second mirror has it").downloaded,
        vec![LABELS]
    );
    let missing_url = server.url("/a/t10k-labels-idx1-ubyte.gz");
    assert!(events.contains(&Progress::Failed {
        file: LABELS.into(),
        url: missing_url.clone(),
        why: format!("HTTP 404 Not Found: {missing_url}"),
        wait: None,
    }));
    // a 404 is not retried
    assert_eq!(server.hits("/a/t10k-labels-idx1-ubyte.gz"), 1);
    assert_eq!(std::fs::read(tmp.join(LABELS)).unwrap(), *labels);
}

#[test]
fn a_cut_connection_is_retried_with_growing_backoff_until_it_succeeds() {
    let Some((images, _)) = mnist_t10k() else {
        return;
    };
    let server = Server::start(vec![(
        "/t10k-images-idx3-ubyte.gz",
        Reply::CutThenFile {
            bytes: images.clone(),
            cuts: 2,
        },
    )]);
    let tmp = TempDir::new("download-cut");
    let opts = options(tmp.dir(), vec![server.url("/")]);
    let (result, events) = run(&t10k_files()[..1], &opts);
    assert_eq!(result.expect("third try succeeds").downloaded, vec![IMAGES]);
    assert_eq!(server.total_hits(), 3);
    let waits: Vec<Option<Duration>> = events
        .iter()
        .filter_map(|e| match e {
            Progress::Failed { wait, why, .. } => {
                assert!(why.contains("after"), "says how far it got: {why}");
                Some(*wait)
            }
            _ => None,
        })
        .collect();
    let backoff = opts.backoff;
    assert_eq!(waits, vec![Some(backoff), Some(backoff * 2)]);
    assert_eq!(std::fs::read(tmp.join(IMAGES)).unwrap(), *images);
    assert_eq!(names_in(tmp.dir()), vec![IMAGES]);
}

#[test]
fn a_mirror_that_keeps_failing_gives_way_to_the_next() {
    let Some((images, _)) = mnist_t10k() else {
        return;
    };
    let always_cut = Reply::CutThenFile {
        bytes: images.clone(),
        cuts: usize::MAX,
    };
    let server = Server::start(vec![
        ("/bad/t10k-images-idx3-ubyte.gz", always_cut),
        (
            "/good/t10k-images-idx3-ubyte.gz",
            Reply::File(images.clone()),
        ),
    ]);
    let tmp = TempDir::new("download-next");
    let mut opts = options(tmp.dir(), vec![server.url("/bad/"), server.url("/good/")]);
    opts.attempts = 2;
    let (result, _) = run(&t10k_files()[..1], &opts);
    assert_eq!(
        result.expect("the good mirror serves it").downloaded,
        vec![IMAGES]
    );
    assert_eq!(server.hits("/bad/t10k-images-idx3-ubyte.gz"), 2);
    assert_eq!(server.hits("/good/t10k-images-idx3-ubyte.gz"), 1);
}

#[test]
fn offline_is_said_and_every_file_is_named() {
    // a port nobody listens on: bind, note the port, close
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = TempDir::new("download-offline");
    let mut opts = options(tmp.dir(), vec![format!("http://127.0.0.1:{port}/")]);
    opts.attempts = 2;
    let (result, events) = run(&t10k_files(), &opts);
    let err = result.expect_err("nothing to connect to");
    let Error::Download { failures } = &err else {
        panic!("expected Error::Download, got {err:?}")
    };
    let files: Vec<&str> = failures.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(files, vec![IMAGES, LABELS]);
    let msg = err.to_string();
    assert!(
        msg.contains("offline") && msg.contains("tried 2 times"),
        "{msg}"
    );
    // no mirror reachable: the second file is not tried, and says so
    assert_eq!(failures[1].1, "not tried (see above)");
    assert_eq!(events.len(), 2, "two tries of the first file: {events:?}");
    assert!(names_in(tmp.dir()).is_empty());
}

#[test]
fn md5_hex_matches_the_published_checksum() {
    let Some((images, labels)) = mnist_t10k() else {
        return;
    };
    assert_eq!(md5_hex(&images), IMAGES_MD5);
    assert_eq!(md5_hex(&labels), LABELS_MD5);
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
}

#[test]
fn write_failure_explains_a_full_disk() {
    let e = std::io::Error::from(std::io::ErrorKind::StorageFull);
    let msg = download::write_failure(Path::new("/data/x.gz.part"), &e);
    assert!(
        msg.contains("disk is full") && msg.contains("/data/x.gz.part") && msg.contains("--dir"),
        "{msg}"
    );
}

#[test]
fn the_datasets_have_four_files_with_published_md5s() {
    let mnist = download::Dataset::known("mnist").unwrap();
    let names: Vec<&str> = mnist.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            IMAGES,
            LABELS
        ]
    );
    assert_eq!(mnist.files[0].md5, "f68b3c2dcbeaaa9fbdd348bbdeb94873");
    assert_eq!(mnist.files[2].md5, IMAGES_MD5);
    assert_eq!(
        mnist.mirrors[0],
        "https://ossci-datasets.s3.amazonaws.com/mnist/"
    );
    let fashion = download::Dataset::known("fashion-mnist").unwrap();
    assert_eq!(fashion.files[3].md5, "bb300cfdad3c16e7a12a480ee83cd310");
    assert!(download::Dataset::known("cifar").is_none());
}

// ---- the command line ----

fn dl_lab(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .env("DL_LAB_DOWNLOAD_BACKOFF_MS", "1")
        .output()
        .expect("run dl-lab")
}

#[test]
fn cli_download_reports_404s_by_file_and_url_and_keeps_verified_files() {
    let Some((images, labels)) = mnist_t10k() else {
        return;
    };
    let server = Server::start(vec![
        ("/t10k-images-idx3-ubyte.gz", Reply::File(images.clone())),
        ("/t10k-labels-idx1-ubyte.gz", Reply::File(labels.clone())),
    ]);
    let cache = TempDir::new("cli-download");
    let mirror = server.url("/");
    let out = dl_lab(&["download", "mnist", "--mirror", &mirror], cache.dir());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the training files are missing");
    for needle in [
        "could not download 2 files",
        "train-images-idx3-ubyte.gz: HTTP 404 Not Found",
        &format!("{mirror}train-images-idx3-ubyte.gz"),
        &format!("{mirror}train-labels-idx1-ubyte.gz"),
    ] {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
    let dir = cache.join("dl-lab").join("mnist");
    assert_eq!(
        names_in(&dir),
        vec![IMAGES, LABELS],
        "verified files kept, no .part"
    );
    assert_eq!(server.total_hits(), 4);

    // a second run fetches only what is missing
    let out = dl_lab(&["download", "mnist", "--mirror", &mirror], cache.dir());
    assert!(!out.status.success());
    assert_eq!(
        server.total_hits(),
        6,
        "only the two train files were asked for again"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already downloaded and verified"));

    // --data mnist without the training files says how to get them
    let out = dl_lab(&["run", "softmax-mnist", "--data", "mnist"], cache.dir());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("not been downloaded") && stderr.contains("dl-lab download mnist"),
        "{stderr}"
    );
}

#[test]
fn cli_download_into_dir_asks_only_for_the_files_not_already_there() {
    let Some((images, labels)) = mnist_t10k() else {
        return;
    };
    let server = Server::start(vec![]);
    let tmp = TempDir::new("cli-dir");
    tmp.write(IMAGES, &images);
    tmp.write(LABELS, &labels);
    // a stale file under a real name (wrong checksum) is fetched again, not trusted
    tmp.write("train-labels-idx1-ubyte.gz", b"not the labels");
    let out = dl_lab(
        &[
            "download",
            "mnist",
            "--mirror",
            &server.url("/"),
            "--dir",
            tmp.path(),
        ],
        tmp.dir(),
    );
    assert!(!out.status.success(), "the server has no training files");
    assert_eq!(server.hits("/train-images-idx3-ubyte.gz"), 1);
    assert_eq!(server.hits("/train-labels-idx1-ubyte.gz"), 1);
    assert_eq!(
        server.total_hits(),
        2,
        "the verified t10k files were not asked for"
    );
    assert!(!tmp.join("dl-lab").exists(), "--dir replaces the cache");
}

#[test]
fn cli_download_offline_says_so_at_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = TempDir::new("cli-offline");
    let mirror = format!("http://127.0.0.1:{port}/");
    let out = dl_lab(
        &["download", "fashion-mnist", "--mirror", &mirror],
        cache.dir(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("are you offline?") && stderr.contains("could not download 4 files"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
}

#[test]
fn data_mnist_reads_the_cache() {
    let Some(shared) = common::shared_dir("datasets/mnist") else {
        return;
    };
    let cache = TempDir::new("cli-data-name");
    let dir = cache.join("dl-lab").join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist5k");
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
        std::fs::copy(shipped.join(name), dir.join(name)).unwrap();
    }
    for name in [IMAGES, LABELS] {
        std::fs::copy(shared.join(name), dir.join(name)).unwrap();
    }
    let out = dl_lab(
        &[
            "run",
            "softmax-mnist",
            "--data",
            "mnist",
            "--epochs",
            "1",
            "--json",
        ],
        cache.dir(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    // evaluated on the 10,000 official test images: a real accuracy, not 0
    let acc = line["test_acc"].as_f64().expect("test_acc");
    assert!(acc > 0.5, "{stdout}");
}

// ---- the lab's Dataset pane ----

fn wait_for(fetch: &Fetch) {
    let start = std::time::Instant::now();
    while fetch.is_running() {
        assert!(start.elapsed() < Duration::from_secs(30), "download hangs");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_dataset_pane_downloads_on_a_thread_and_shows_where_it_went() {
    let Some((images, labels)) = mnist_t10k() else {
        return;
    };
    let server = Server::start(vec![
        ("/t10k-images-idx3-ubyte.gz", Reply::File(images.clone())),
        ("/t10k-labels-idx1-ubyte.gz", Reply::File(labels.clone())),
    ]);
    let tmp = TempDir::new("pane-fetch");
    let mut dataset = download::Dataset::known("mnist").unwrap();
    dataset.files = t10k_files();
    dataset.mirrors = vec![server.url("/")];
    let fetch = Fetch::start(dataset, tmp.dir().to_path_buf());
    wait_for(&fetch);
    let state = fetch.state();
    assert_eq!((state.ready, state.files), (2, 2));
    assert_eq!(
        (state.file.as_str(), state.done),
        (LABELS, labels.len() as u64)
    );
    let done = format!(
        "mnist downloaded to {}: reopen the lab with --data mnist",
        tmp.path()
    );
    assert_eq!(fetch.status_line(), done);
    assert_eq!(names_in(tmp.dir()), vec![IMAGES, LABELS]);

    // the pane shows it in its header
    let mut app = common::tui::app("softmax-mnist");
    app.dataset.fetch = Some(fetch);
    let screen = common::tui::screen(&app, 200, 50);
    assert!(screen.contains("mnist downloaded to"), "{screen}");
}

#[test]
fn the_dataset_pane_shows_why_a_download_failed() {
    let server = Server::start(vec![]);
    let tmp = TempDir::new("pane-fetch-404");
    let mut dataset = download::Dataset::known("fashion-mnist").unwrap();
    dataset.mirrors = vec![server.url("/")];
    let fetch = Fetch::start(dataset, tmp.dir().to_path_buf());
    wait_for(&fetch);
    let url = server.url("/train-images-idx3-ubyte.gz");
    assert_eq!(
        fetch.status_line(),
        format!(
            "download fashion-mnist failed: train-images-idx3-ubyte.gz: HTTP 404 Not Found: {url} \
             · details: dl-lab download fashion-mnist"
        )
    );
    assert_eq!(fetch.state().ready, 0);
}

#[test]
fn https_to_a_server_that_speaks_plain_http_is_an_error_not_a_panic() {
    // the TLS stack (rustls) is built in: the handshake runs and fails cleanly
    let server = Server::start(vec![]);
    let tmp = TempDir::new("download-tls");
    let mirror = format!("https://127.0.0.1:{}/", server.port);
    let mut opts = options(tmp.dir(), vec![mirror.clone()]);
    opts.attempts = 1;
    let (result, _) = run(&t10k_files()[1..], &opts);
    let msg = result.expect_err("no TLS there").to_string();
    assert!(msg.contains(&format!("{mirror}{LABELS}")), "{msg}");
    assert!(names_in(tmp.dir()).is_empty());
}

#[test]
fn the_lab_with_data_mnist_not_downloaded_gives_the_command_before_opening() {
    let cache = TempDir::new("lab-data-name");
    let out = dl_lab(&["--data", "fashion-mnist"], cache.dir());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("fashion-mnist has not been downloaded yet")
            && stderr.contains("`dl-lab download fashion-mnist`"),
        "{stderr}"
    );
}
