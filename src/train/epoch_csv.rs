//! `--history FILE.csv`: one row per epoch (epoch, loss, test_acc,
//! img_per_s, train_acc, test_loss), written and flushed as each epoch ends,
//! so a stopped run keeps its rows. A run resumed from a checkpoint saved
//! after epoch k keeps the history's rows up to epoch k and appends its own.
//! A history written before `train_acc` and `test_loss` existed (its header
//! is [`OLD_HEADER`]) is carried on: rewritten under the new header with
//! those two columns empty in its old rows.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::EpochSummary;
use crate::{Error, Result};

/// The CSV's first line.
pub const HEADER: &str = "epoch,loss,test_acc,img_per_s,train_acc,test_loss";

/// The first line of a history written before `train_acc` and `test_loss`.
pub const OLD_HEADER: &str = "epoch,loss,test_acc,img_per_s";

/// An open history file.
pub struct EpochCsv {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl EpochCsv {
    /// Create (or replace) `path` and write the header.
    pub fn create(path: &Path) -> Result<EpochCsv> {
        Self::open(path, false)
    }

    /// With `append` (a resumed run) and `path` already a history (its first
    /// line is [`HEADER`]), add rows after the old ones; otherwise as [`create`](Self::create).
    pub fn open(path: &Path, append: bool) -> Result<EpochCsv> {
        Self::open_after(path, append.then_some(usize::MAX))
    }

    /// For a run resumed after epoch `after`: keep the history's rows up to
    /// that epoch (rows of a later, abandoned run are dropped, the file
    /// rewritten atomically) and add rows after them. With `None`, or when
    /// `path` is not a history, as [`create`](Self::create).
    pub fn open_after(path: &Path, after: Option<usize>) -> Result<EpochCsv> {
        let old = std::fs::read_to_string(path)
            .ok()
            .filter(|s| matches!(s.lines().next(), Some(HEADER | OLD_HEADER)));
        let appending = after.is_some() && old.is_some();
        if let (Some(after), Some(old)) = (after, &old) {
            let upgraded = old.lines().next() == Some(OLD_HEADER);
            let old = &upgrade(old);
            // a row whose epoch does not parse is kept: nothing is lost that is not replaced
            let later = |l: &str| {
                l.split(',')
                    .next()
                    .and_then(|e| e.trim().parse::<usize>().ok())
                    .is_some_and(|e| e > after)
            };
            if upgraded || old.lines().any(later) || !old.ends_with('\n') {
                let kept: String = old
                    .lines()
                    .filter(|l| !later(l))
                    .flat_map(|l| [l, "\n"])
                    .collect();
                super::checkpoint::write_atomic(path, kept.as_bytes())?;
            }
        }
        let file = if appending {
            std::fs::OpenOptions::new().append(true).open(path)
        } else {
            std::fs::File::create(path)
        }
        .map_err(|e| Error::io(path, e))?;
        let mut csv = EpochCsv {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
        };
        if !appending {
            csv.line(HEADER)?;
        }
        Ok(csv)
    }

    /// Append one epoch's row.
    pub fn push(&mut self, s: &EpochSummary) -> Result<()> {
        let row = format!(
            "{},{},{},{:.1},{},{}",
            s.epoch, s.loss, s.test_acc, s.img_per_s, s.train_acc, s.test_loss
        );
        self.line(&row)
    }

    fn line(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// A history under [`OLD_HEADER`] as one under [`HEADER`]: its rows get two
/// empty columns (nothing is made up for epochs that did not record them).
fn upgrade(old: &str) -> String {
    let mut lines = old.lines();
    if lines.next() != Some(OLD_HEADER) {
        return old.to_string();
    }
    let mut out = format!("{HEADER}\n");
    for l in lines {
        out.push_str(l);
        if !l.trim().is_empty() {
            out.push_str(",,");
        }
        out.push('\n');
    }
    out
}
