//! One file's transfer: mirror after mirror, a few tries each with a doubling back-off, into
//! `NAME.part`, renamed once the md5 matches. Failures are sorted into "try again" (the
//! connection), "next mirror" (404, checksum, a host that does not resolve) and "stop" (the
//! disk), each with a message naming the file and the URL.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::time::Duration;

use md5::{Digest, Md5};

use super::{hex, Options, Progress, RemoteFile};

/// Why a file could not be had: `File` moves on to the next file; `All` (disk full, or no
/// mirror reachable at all) stops, since the next file would fare no better.
pub(super) enum Stop {
    File(String),
    All(String),
}

/// One try's failure: whether another try at the same mirror might succeed.
enum TryError {
    /// Connection refused or cut, timeout, 5xx: wait and try again.
    Transient(String),
    /// 404, wrong checksum: this mirror will not do, try the next.
    Mirror(String),
    Fatal(String),
}

/// Fetch one file, mirror after mirror, retrying transient failures on each.
pub(super) fn fetch_file(
    agent: &ureq::Agent,
    file: &RemoteFile,
    opts: &Options,
    on: &mut dyn FnMut(Progress),
) -> std::result::Result<(), Stop> {
    let mut reasons = Vec::new();
    let mut offline_everywhere = true;
    for mirror in &opts.mirrors {
        let url = file_url(mirror, &file.name);
        for attempt in 1..=opts.attempts.max(1) {
            let why = match fetch_once(agent, file, &url, &opts.dir, on) {
                Ok(()) => return Ok(()),
                Err(TryError::Fatal(why)) => return Err(Stop::All(why)),
                Err(TryError::Mirror(why)) => {
                    offline_everywhere &= why.ends_with(OFFLINE_HINT);
                    on(failed(file, &url, &why, None));
                    reasons.push(why);
                    break;
                }
                Err(TryError::Transient(why)) => why,
            };
            if attempt == opts.attempts.max(1) {
                offline_everywhere &= why.ends_with(OFFLINE_HINT);
                on(failed(file, &url, &why, None));
                reasons.push(format!("{why} (tried {attempt} times)"));
            } else {
                let wait = opts.backoff * 2u32.saturating_pow(attempt as u32 - 1);
                on(failed(file, &url, &why, Some(wait)));
                std::thread::sleep(wait);
            }
        }
    }
    let why = reasons.join("; then ");
    if offline_everywhere {
        Err(Stop::All(why))
    } else {
        Err(Stop::File(why))
    }
}

fn failed(file: &RemoteFile, url: &str, why: &str, wait: Option<Duration>) -> Progress {
    Progress::Failed {
        file: file.name.clone(),
        url: url.to_string(),
        why: why.to_string(),
        wait,
    }
}

/// `mirror` + `name`, with exactly one `/` between them.
pub fn file_url(mirror: &str, name: &str) -> String {
    format!("{}/{name}", mirror.trim_end_matches('/'))
}

/// One try: stream `url` into `NAME.part`, check the md5, rename. The `.part` file is removed
/// on every failure.
fn fetch_once(
    agent: &ureq::Agent,
    file: &RemoteFile,
    url: &str,
    dir: &Path,
    on: &mut dyn FnMut(Progress),
) -> std::result::Result<(), TryError> {
    let mut response = agent.get(url).call().map_err(|e| request_error(e, url))?;
    let total = response.body().content_length();
    on(Progress::Start {
        file: file.name.clone(),
        url: url.to_string(),
        total,
    });
    let part = dir.join(format!("{}.part", file.name));
    let result = stream_to(&mut response.body_mut().as_reader(), &part, file, total, on).and_then(
        |actual| {
            if actual == file.md5 {
                Ok(())
            } else {
                Err(TryError::Mirror(format!(
                    "checksum mismatch for {} from {url}: expected md5 {}, got {actual} \
                     (the download was deleted)",
                    file.name, file.md5
                )))
            }
        },
    );
    let final_path = dir.join(&file.name);
    let result = result.and_then(|()| {
        std::fs::rename(&part, &final_path)
            .map_err(|e| TryError::Fatal(format!("cannot rename {}: {e}", part.display())))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
        return result;
    }
    let bytes = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    on(Progress::Verified {
        file: file.name.clone(),
        bytes,
    });
    Ok(())
}

/// Copy `body` into `part`, reporting progress; returns the md5 of what arrived.
fn stream_to(
    body: &mut dyn Read,
    part: &Path,
    file: &RemoteFile,
    total: Option<u64>,
    on: &mut dyn FnMut(Progress),
) -> std::result::Result<String, TryError> {
    let write_error = |e: std::io::Error| TryError::Fatal(write_failure(part, &e));
    let mut out = File::create(part).map_err(write_error)?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(TryError::Transient(format!(
                    "the connection broke after {done} bytes{}: {e}",
                    total.map(|t| format!(" of {t}")).unwrap_or_default()
                )))
            }
        };
        out.write_all(&buf[..n]).map_err(write_error)?;
        md5.update(&buf[..n]);
        done += n as u64;
        on(Progress::Bytes {
            file: file.name.clone(),
            done,
            total,
        });
    }
    if let Some(t) = total.filter(|&t| t != done) {
        return Err(TryError::Transient(format!(
            "the connection closed after {done} of {t} bytes"
        )));
    }
    out.sync_all().map_err(write_error)?;
    Ok(hex(&md5.finalize()))
}

/// The message for a failed write: disk full gets its own advice.
pub fn write_failure(path: &Path, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::StorageFull || e.kind() == ErrorKind::QuotaExceeded {
        format!(
            "the disk is full: cannot write {} ({e}); free some space, or download elsewhere \
             with --dir DIR",
            path.display()
        )
    } else {
        format!("cannot write {}: {e}", path.display())
    }
}

/// Sort a failed request into retry / next mirror, with a message a person can act on.
fn request_error(e: ureq::Error, url: &str) -> TryError {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url);
    match e {
        ureq::Error::StatusCode(404) => TryError::Mirror(format!("HTTP 404 Not Found: {url}")),
        ureq::Error::StatusCode(code) if code >= 500 => {
            TryError::Transient(format!("HTTP {code} (server error) from {url}"))
        }
        ureq::Error::StatusCode(code) => TryError::Mirror(format!("HTTP {code} from {url}")),
        // a name that does not resolve will not resolve a second later: next mirror
        ureq::Error::HostNotFound => TryError::Mirror(offline(&format!("cannot resolve {host}"))),
        ureq::Error::Io(io) if io.to_string().contains("lookup address") => {
            TryError::Mirror(offline(&format!("cannot resolve {host} ({io})")))
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::HostUnreachable
            ) =>
        {
            TryError::Transient(offline(&format!("cannot connect to {host} ({io})")))
        }
        ureq::Error::BadUri(why) => TryError::Mirror(format!("bad URL {url}: {why}")),
        other => TryError::Transient(format!("{url}: {other}")),
    }
}

/// What an unreachable host is most likely to mean.
const OFFLINE_HINT: &str =
    "are you offline? (check the network, or name a reachable mirror with --mirror URL)";

fn offline(what: &str) -> String {
    format!("{what}: {OFFLINE_HINT}")
}
