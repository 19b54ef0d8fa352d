//! `--history FILE.csv`: one row per epoch (epoch, loss, test_acc, img_per_s),
//! written and flushed as each epoch ends, so a stopped run keeps its rows.
//! A run resumed from a checkpoint appends to the history it finds there.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::EpochSummary;
use crate::{Error, Result};

/// The CSV's first line.
pub const HEADER: &str = "epoch,loss,test_acc,img_per_s";

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
        let is_history =
            || std::fs::read_to_string(path).is_ok_and(|s| s.lines().next() == Some(HEADER));
        let appending = append && is_history();
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
        let row = format!("{},{},{},{:.1}", s.epoch, s.loss, s.test_acc, s.img_per_s);
        self.line(&row)
    }

    fn line(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}
