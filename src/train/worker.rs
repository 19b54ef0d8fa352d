//! The training worker: a named thread that runs [`ClassifierRun::train`]
//! (the same loop as `dl-lab run`) and reports through a channel. It never
//! blocks on the UI: batch reports are throttled, and a failed `send` means
//! the UI is gone, so the worker stops quietly.
//!
//! The run's device is the [`ClassifierRun`]'s: the model was moved there
//! when the run was built. What crosses to the host is what the UI draws:
//! each batch's loss and, after each epoch, a copy of the parameters.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::messages::{RunEvent, RunId, TrainCommand, TrainEvent};
use super::{Checkpoint, ClassifierRun, Control, Progress};
use crate::nn::{Module, Sequential};
use crate::optim::Optimizer;

/// The training thread's name (the lab's panic hook tells it apart).
pub const THREAD_NAME: &str = "dl-lab-train";

/// At most one batch report per this many milliseconds.
pub const REPORT_MS: u64 = 50;

/// Shortest time between two parameter snapshots while an epoch runs, so
/// the lab's picture of conv1's filters changes as they learn (a snapshot
/// copies every parameter: ~200 KB for cnn-mnist).
pub const SNAPSHOT_MS: u64 = 1000;

/// The UI's side of a running worker.
pub struct Worker {
    pub commands: Sender<TrainCommand>,
    handle: Option<JoinHandle<ClassifierRun>>,
}

impl Worker {
    /// Start training `run` on a new thread; `send` delivers each event,
    /// tagged with the run's `id`, to the UI and returns false once the UI
    /// is gone.
    pub fn spawn(
        id: RunId,
        mut run: ClassifierRun,
        send: impl Fn(RunEvent) -> bool + Send + 'static,
    ) -> std::io::Result<Worker> {
        let (commands, inbox) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                let send = |event: TrainEvent| send(RunEvent { run: id, event });
                // a bug in training must not leave the UI waiting for a
                // report that never comes: end the stream with Failed
                let worked =
                    panic::catch_unwind(AssertUnwindSafe(|| work(&mut run, &inbox, &send)));
                if let Err(payload) = worked {
                    let why = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown cause".into());
                    send(TrainEvent::Failed(format!(
                        "training stopped by an internal error: {why}"
                    )));
                }
                run
            })?;
        Ok(Worker {
            commands,
            handle: Some(handle),
        })
    }

    /// Ask the worker to stop and wait for it; returns the run (model and
    /// optimizer as they are now) unless the thread panicked.
    pub fn stop(mut self) -> Option<ClassifierRun> {
        let _ = self.commands.send(TrainCommand::Stop);
        self.handle.take().and_then(|h| h.join().ok())
    }

    /// Ask the worker to stop, without waiting: it stops at its next
    /// batch boundary (see [`Worker::try_join`] to collect the run).
    pub fn request_stop(&self) {
        let _ = self.commands.send(TrainCommand::Stop);
    }

    /// The run once the thread has ended (`Some(None)` if it panicked);
    /// None while it still works. Never blocks.
    pub fn try_join(&mut self) -> Option<Option<ClassifierRun>> {
        if !self.is_finished() {
            return None;
        }
        Some(self.handle.take().and_then(|h| h.join().ok()))
    }

    /// Ask the worker to stop and let it end on its own: the UI never waits
    /// for a step to finish (on quit the process may end first).
    pub fn detach(mut self) {
        let _ = self.commands.send(TrainCommand::Stop);
        drop(self.handle.take());
    }

    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.commands.send(TrainCommand::Stop);
            let _ = h.join();
        }
    }
}

/// The parameters copied to the host, or None when the device cannot be
/// read (the next batch then fails with the reason, as `Failed`).
fn snapshot(model: &crate::nn::Sequential) -> Option<TrainEvent> {
    let params: crate::Result<Vec<_>> = model
        .parameters()
        .iter()
        .map(|p| p.storage().to_host())
        .collect();
    params.ok().map(TrainEvent::Snapshot)
}

/// Send the snapshot if there is one; false once the UI is gone.
fn send_snapshot(model: &crate::nn::Sequential, send: &dyn Fn(TrainEvent) -> bool) -> bool {
    snapshot(model).is_none_or(send)
}

/// Apply waiting commands; `Pause` blocks until `Resume` or `Stop`, and so
/// does `start_paused` (after a divergence). `Save` writes `model` and `opt`
/// as they are, after `epoch` finished epochs. Returns false when training
/// should stop.
fn obey(
    inbox: &Receiver<TrainCommand>,
    (opt, model, epoch): (&mut dyn Optimizer, &Sequential, usize),
    send: &dyn Fn(TrainEvent) -> bool,
    start_paused: bool,
) -> bool {
    let mut paused = start_paused;
    loop {
        let cmd = if paused {
            inbox.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            inbox.try_recv()
        };
        match cmd {
            Ok(TrainCommand::Stop) | Err(TryRecvError::Disconnected) => return false,
            Err(TryRecvError::Empty) => return true,
            Ok(TrainCommand::SetLr(lr)) => opt.set_lr(lr),
            Ok(TrainCommand::Save { path, mut run }) => {
                run.epoch = epoch;
                run.lr = opt.lr();
                let error = Checkpoint::capture(*run, model, &*opt)
                    .and_then(|c| c.save(&path))
                    .err()
                    .map(|e| e.to_string());
                if !send(TrainEvent::Saved { path, epoch, error }) {
                    return false;
                }
            }
            Ok(TrainCommand::Pause) if !paused => {
                paused = true;
                if !send(TrainEvent::Paused) {
                    return false;
                }
            }
            Ok(TrainCommand::Resume) if paused => {
                if !send(TrainEvent::Resumed) {
                    return false;
                }
                return true;
            }
            Ok(_) => {}
        }
    }
}

fn work(
    run: &mut ClassifierRun,
    inbox: &Receiver<TrainCommand>,
    send: &dyn Fn(TrainEvent) -> bool,
) {
    let train_images = run.train.labels.len();
    let batches = (train_images / run.batch_size.max(1)).max(1);
    if !send(TrainEvent::Started {
        epochs: run.epochs,
        batches_per_epoch: batches,
        train_images,
    }) {
        return;
    }
    // the starting (random) parameters, so the lab shows where learning begins
    if !send_snapshot(&run.model, send) {
        return;
    }
    let mut pending = Vec::new();
    let mut last_report = Instant::now();
    let mut last_snapshot = Instant::now();
    let mut stopped = false;
    // the epochs finished so far, which a checkpoint saved now records
    let mut done = run.done_epochs;
    let result = run.train(|p, opt, model| {
        if let Progress::Epoch(s) = p {
            done = s.epoch;
        }
        let alive = obey(inbox, (&mut *opt, model, done), send, false)
            && match p {
                Progress::Batch {
                    epoch,
                    batch,
                    step,
                    loss,
                    img_per_s,
                    batches,
                } => {
                    pending.push(*loss);
                    let due = last_report.elapsed() >= Duration::from_millis(REPORT_MS)
                        || batch == batches;
                    let reported = !due || {
                        last_report = Instant::now();
                        let losses = std::mem::take(&mut pending);
                        send(TrainEvent::Batch {
                            epoch: *epoch,
                            batch: *batch,
                            step: *step,
                            losses,
                            img_per_s: *img_per_s,
                        })
                    };
                    let snap_due = last_snapshot.elapsed() >= Duration::from_millis(SNAPSHOT_MS);
                    reported
                        && (!snap_due || {
                            last_snapshot = Instant::now();
                            send_snapshot(model, send)
                        })
                }
                Progress::Epoch(s) => {
                    send(TrainEvent::Epoch(s.clone())) && send_snapshot(model, send)
                }
                // pause until the learner resumes (the bad batch is skipped) or stops
                Progress::Diverged {
                    epoch,
                    step,
                    loss,
                    lr,
                } => {
                    let ev = TrainEvent::Diverged {
                        epoch: *epoch,
                        step: *step,
                        loss: *loss,
                        lr: *lr,
                    };
                    send(ev) && obey(inbox, (opt, model, done), send, true)
                }
            };
        if alive {
            Control::Continue
        } else {
            stopped = true;
            Control::Stop
        }
    });
    let last = match result {
        Ok(_) => TrainEvent::Finished { stopped },
        Err(e) => TrainEvent::Failed(e.to_string()),
    };
    let _ = send_snapshot(&run.model, send) && send(last);
}
