//! The two typed channels between the training worker and the UI:
//! [`TrainEvent`] flows worker → UI, [`TrainCommand`] flows UI → worker.

use std::path::PathBuf;

use crate::engine::Array;

use super::EpochSummary;

/// What the worker reports.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    /// Training began: the sizes a progress bar needs.
    Started {
        epochs: usize,
        batches_per_epoch: usize,
        train_images: usize,
    },
    /// Losses of the batches since the last report (throttled: at most one
    /// event per `REPORT_MS`). `step` is the last batch's global index.
    Batch {
        epoch: usize,
        batch: usize,
        step: usize,
        losses: Vec<f32>,
        img_per_s: f32,
    },
    Epoch(EpochSummary),
    /// The model's parameters (in `parameters()` order) after an epoch or at the end.
    Snapshot(Vec<Array>),
    Paused,
    Resumed,
    /// A batch's loss was NaN or infinite: its update was skipped and the
    /// worker is paused until `Resume` (go on, e.g. with a lower learning
    /// rate) or `Stop`.
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
        lr: f32,
    },
    /// Ran every epoch, or stopped on request.
    Finished {
        stopped: bool,
    },
    /// An error ended training (e.g. the loss diverged).
    Failed(String),
    /// A `Save` was done: the checkpoint at `path` holds the model after
    /// `epoch` finished epochs (and the batches of the next one so far), or
    /// `error` says why it was not written (training goes on either way).
    Saved {
        path: PathBuf,
        epoch: usize,
        error: Option<String>,
    },
}

/// Which training run an event belongs to: every run the lab starts gets
/// the next id, so reports still queued from a stopped run are told apart
/// from the current run's (and dropped).
pub type RunId = u64;

/// A worker's report, tagged with its run's id.
#[derive(Clone, Debug)]
pub struct RunEvent {
    pub run: RunId,
    pub event: TrainEvent,
}

/// What the UI asks of the worker.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainCommand {
    Pause,
    Resume,
    Stop,
    SetLr(f32),
    /// Write a checkpoint of the model and optimizer as they are now to
    /// `path`; `run` describes the run (the worker fills in the epoch and
    /// the learning rate). Answered with `Saved`.
    Save {
        path: PathBuf,
        run: Box<super::RunState>,
    },
}
