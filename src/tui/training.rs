//! The lab's classifier training run: the worker thread's handle, where
//! training stands ([`TrainState`]), its progress counters and the model
//! it trained so far. `App` starts, pauses, resumes, stops and resets it,
//! and hands it the worker's reports ([`TrainingRun::handle`]).
//!
//! Every run gets a new id ([`RunId`], increasing over the process) and
//! its worker tags each report with it. A run that is stopped or replaced
//! may still have reports queued: they carry an old id and are dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Array;
use crate::nn::{spec::build_model, LayerSpec, Module, Sequential};
use crate::train::{ClassifierRun, RunEvent, RunId, RunState, TrainCommand, TrainEvent, Worker};

/// Where classifier training stands.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainState {
    Idle,
    Running,
    Paused,
    Finished,
    /// Paused because a batch's loss was NaN or infinite (that update was
    /// skipped); lower the learning rate and resume with `s`.
    Diverged(String),
    /// Stopped by an error; the message says what happened.
    Failed(String),
}

/// Progress counters of the current run, as the worker reports them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub epochs: usize,
    pub batches_per_epoch: usize,
    pub train_images: usize,
    pub epoch: usize,
    pub batch: usize,
    pub step: usize,
    pub img_per_s: f32,
    pub last_loss: Option<f32>,
    pub last_acc: Option<f32>,
    /// Epochs finished (a checkpoint saved now records this many).
    pub epochs_done: usize,
    /// When training started (the ETA's clock).
    pub started: Option<Instant>,
    /// Time spent paused so far, left out of the ETA.
    pub paused_for: Duration,
    /// When the current pause began, if paused.
    pub paused_at: Option<Instant>,
}

impl Progress {
    /// Fraction of all batches done, 0..=1.
    pub fn fraction(&self) -> f64 {
        let total = (self.epochs * self.batches_per_epoch).max(1);
        (self.step as f64 / total as f64).min(1.0)
    }

    /// Estimated seconds left, from the pace so far.
    pub fn eta_secs(&self) -> Option<f64> {
        let started = self.started?;
        let now = self.paused_at.unwrap_or_else(Instant::now);
        let busy = now
            .duration_since(started)
            .saturating_sub(self.paused_for)
            .as_secs_f64();
        let f = self.fraction();
        (f > 0.0).then(|| busy * (1.0 - f) / f)
    }
}

/// The next run's id: 1, 2, … over the whole process (0 is never given,
/// so it matches no report), so a lab that switched lessons cannot take an
/// old lesson's report for its own.
static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

/// The lab's classifier run: one at a time, replaced by the next.
pub struct TrainingRun {
    /// The run whose reports are read; 0 when none is (before the first
    /// run, after a stop or a reset).
    id: RunId,
    worker: Option<Worker>,
    pub state: TrainState,
    pub progress: Progress,
    /// The layers of the run (the builder may have moved on since).
    specs: Vec<LayerSpec>,
    /// One image's shape as the first layer takes it.
    input_shape: Vec<usize>,
    /// The latest model the run trained (a worker snapshot), for the
    /// predictions and the learned filters.
    trained: Option<Arc<Sequential>>,
    /// The run trained every epoch (it was not stopped).
    completed: bool,
    /// The ended run's model and optimizer (kept for a checkpoint).
    ended: Option<ClassifierRun>,
    /// A worker asked to stop that has not ended yet: `r` and `q` never
    /// wait for a long step on the UI thread; its run becomes `ended` once
    /// the thread ends.
    stopping: Option<Worker>,
    /// The last pause (true) or resume (false) asked of the worker while
    /// answers are still due, and how many are due: a second `s` before
    /// the worker answers the first toggles back instead of repeating it.
    asked: Option<bool>,
    unanswered: u32,
}

impl Default for TrainingRun {
    fn default() -> Self {
        TrainingRun::new()
    }
}

impl TrainingRun {
    pub fn new() -> TrainingRun {
        TrainingRun {
            id: 0,
            worker: None,
            state: TrainState::Idle,
            progress: Progress::default(),
            specs: Vec::new(),
            input_shape: Vec::new(),
            trained: None,
            completed: false,
            ended: None,
            stopping: None,
            asked: None,
            unanswered: 0,
        }
    }

    /// The id of the run whose reports are read (0: none).
    pub fn id(&self) -> RunId {
        self.id
    }

    /// The layers the run trains (empty before the first run).
    pub fn specs(&self) -> &[LayerSpec] {
        &self.specs
    }

    /// The model the run trained so far (after its first snapshot).
    pub fn trained(&self) -> Option<&Arc<Sequential>> {
        self.trained.as_ref()
    }

    /// Show `model` as the trained one (a test, a loaded model); its
    /// layers become the run's when it keeps its specs.
    pub fn set_trained(&mut self, model: Option<Arc<Sequential>>) {
        if let Some(specs) = model.as_ref().and_then(|m| m.specs()) {
            self.specs = specs.to_vec();
        }
        self.trained = model;
    }

    /// Whether the last run trained every epoch (it was not stopped).
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Begin a new run of `specs` on images of `input_shape`, with no
    /// worker yet: its id (reports tagged with it are read from now on),
    /// a fresh state and progress, and no trained model.
    pub fn begin(&mut self, specs: &[LayerSpec], input_shape: &[usize]) -> RunId {
        self.stop();
        // the new run supersedes a stopped one still finishing its step
        if let Some(w) = self.stopping.take() {
            w.detach();
        }
        self.id = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
        self.state = TrainState::Running;
        self.completed = false;
        self.forget_asked();
        self.progress = Progress {
            started: Some(Instant::now()),
            ..Progress::default()
        };
        // the last run's model goes with its own layers: drop it
        self.trained = None;
        self.ended = None;
        self.specs = specs.to_vec();
        self.input_shape = input_shape.to_vec();
        self.id
    }

    /// Train `run` on a worker thread; `send` delivers its tagged reports
    /// (to the lab's event channel) and answers false once nobody listens.
    pub fn start(
        &mut self,
        run: ClassifierRun,
        send: impl Fn(RunEvent) -> bool + Send + 'static,
    ) -> std::io::Result<()> {
        let specs = run.model.specs().unwrap_or_default().to_vec();
        let before = (self.state.clone(), self.progress.clone());
        let id = self.begin(&specs, &run.input_shape.clone());
        match Worker::spawn(id, run, send) {
            Ok(w) => {
                self.worker = Some(w);
                Ok(())
            }
            Err(e) => {
                // nothing started: the state stays as it was
                self.id = 0;
                (self.state, self.progress) = before;
                Err(e)
            }
        }
    }

    fn command(&self, c: TrainCommand) {
        if let Some(w) = &self.worker {
            // a worker that has ended no longer listens: nothing to do
            let _ = w.commands.send(c);
        }
    }

    /// Ask the worker to pause (it answers `Paused`).
    pub fn pause(&mut self) {
        self.ask(true);
    }

    /// Ask the worker to go on (it answers `Resumed`).
    pub fn resume(&mut self) {
        self.ask(false);
    }

    /// Pause a running run, resume a paused one. Until the worker answers,
    /// the run is taken to be where it was last asked to go, so two quick
    /// presses pause and resume (the worker obeys both, in order).
    pub fn toggle_pause(&mut self) {
        self.ask(!self.will_be_paused());
    }

    /// Whether the run is paused, or was asked to pause and not yet answered.
    pub fn will_be_paused(&self) -> bool {
        self.asked.unwrap_or(matches!(
            self.state,
            TrainState::Paused | TrainState::Diverged(_)
        ))
    }

    fn ask(&mut self, pause: bool) {
        if self.worker.is_none() {
            return;
        }
        self.command(if pause {
            TrainCommand::Pause
        } else {
            TrainCommand::Resume
        });
        self.asked = Some(pause);
        self.unanswered += 1;
    }

    /// One pause or resume was answered.
    fn answered(&mut self) {
        self.unanswered = self.unanswered.saturating_sub(1);
        if self.unanswered == 0 {
            self.asked = None;
        }
    }

    fn forget_asked(&mut self) {
        self.asked = None;
        self.unanswered = 0;
    }

    /// Change the running optimizer's learning rate.
    pub fn set_lr(&self, lr: f32) {
        self.command(TrainCommand::SetLr(lr));
    }

    /// Whether the worker may still read a command: it has not ended nor
    /// sent its last report.
    pub fn working(&self) -> bool {
        let ended = matches!(self.state, TrainState::Finished | TrainState::Failed(_));
        !ended && self.worker.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Ask a working worker to write a checkpoint to `path` (it answers
    /// `Saved`, or ends first without: the caller saves from the ended
    /// run then); false when no worker is working.
    pub fn save(&self, path: &std::path::Path, run: RunState) -> bool {
        let working = self.working();
        if working {
            self.command(TrainCommand::Save {
                path: path.to_path_buf(),
                run: Box::new(run),
            });
        }
        working
    }

    /// The model and optimizer of a run that has ended (finished, failed or
    /// stopped), for a checkpoint; None while one works or before any.
    pub fn ended_run(&mut self) -> Option<&ClassifierRun> {
        if self.worker.is_some() && !self.working() {
            // its last reports may still be queued: the id stays
            self.ended = self.worker.take().and_then(Worker::stop);
        }
        if let Some(run) = self.stopping.as_mut().and_then(Worker::try_join) {
            self.stopping = None;
            self.ended = run;
        }
        self.ended.as_ref()
    }

    /// Stop the worker, if any, without waiting for it: it ends at its next
    /// batch boundary on its own thread and [`TrainingRun::ended_run`]
    /// then has its run; its queued reports are dropped from now on. State,
    /// progress and model stay as they are.
    pub fn stop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.request_stop();
            self.ended = None;
            // an older one still stopping is superseded
            if let Some(old) = self.stopping.replace(w) {
                old.detach();
            }
        }
        self.id = 0;
        self.forget_asked();
    }

    /// Whether a stopped worker is still finishing its step.
    pub fn stopping(&self) -> bool {
        self.stopping.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Stop every worker and wait for none (quitting the lab).
    pub fn abandon(&mut self) {
        self.stop();
        if let Some(w) = self.stopping.take() {
            w.detach();
        }
    }

    /// Stop, and forget the run: idle, no progress, no trained model.
    pub fn reset(&mut self) {
        self.stop();
        if let Some(w) = self.stopping.take() {
            w.detach();
        }
        self.ended = None;
        self.state = TrainState::Idle;
        self.progress = Progress::default();
        self.trained = None;
    }

    /// Read one report. Returns the event when it is the current run's
    /// (after updating the state, progress and model), None when it is an
    /// old run's and was dropped.
    pub fn handle(&mut self, ev: RunEvent) -> Option<TrainEvent> {
        if ev.run != self.id || self.id == 0 {
            return None;
        }
        let p = &mut self.progress;
        match &ev.event {
            TrainEvent::Started {
                epochs,
                batches_per_epoch,
                train_images,
            } => {
                p.epochs = *epochs;
                p.batches_per_epoch = *batches_per_epoch;
                p.train_images = *train_images;
            }
            TrainEvent::Batch {
                epoch,
                batch,
                step,
                losses,
                img_per_s,
            } => {
                p.epoch = *epoch;
                p.batch = *batch;
                p.step = *step;
                p.img_per_s = *img_per_s;
                p.last_loss = losses.last().copied();
            }
            TrainEvent::Epoch(s) => {
                p.last_acc = Some(s.test_acc);
                p.epochs_done = s.epoch;
            }
            TrainEvent::Snapshot(params) => {
                if let Ok(model) = model_from_params(&self.specs, &self.input_shape, params) {
                    self.trained = Some(Arc::new(model));
                }
            }
            TrainEvent::Diverged {
                epoch,
                step,
                loss,
                lr,
            } => {
                let msg = format!(
                    "the loss became {loss} at epoch {epoch}, step {step} with lr {}: training diverged \
                     and is paused (that step was skipped). Press - to lower the learning rate, then s to resume",
                    super::format::lr(*lr)
                );
                self.state = TrainState::Diverged(msg);
                p.paused_at = Some(Instant::now());
                // the worker paused itself: a queued pause is ignored
                self.forget_asked();
            }
            TrainEvent::Paused => {
                self.state = TrainState::Paused;
                p.paused_at = Some(Instant::now());
                self.answered();
            }
            TrainEvent::Resumed => {
                self.state = TrainState::Running;
                if let Some(t) = p.paused_at.take() {
                    p.paused_for += t.elapsed();
                }
                self.answered();
            }
            TrainEvent::Finished { stopped } => {
                self.state = TrainState::Finished;
                self.completed = !stopped;
                self.forget_asked();
            }
            TrainEvent::Failed(msg) => {
                self.state = TrainState::Failed(msg.clone());
                self.forget_asked();
            }
            TrainEvent::Saved { .. } => {}
        }
        Some(ev.event)
    }
}

/// A model built from `specs` with the given parameter values (a worker snapshot).
pub fn model_from_params(
    specs: &[LayerSpec],
    input_shape: &[usize],
    params: &[Array],
) -> crate::Result<Sequential> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let model = build_model(specs, input_shape, &mut rng)?;
    let slots = model.parameters();
    if slots.len() != params.len() {
        return Err(crate::Error::Config(
            "snapshot does not match the model".into(),
        ));
    }
    for (slot, value) in slots.iter().zip(params) {
        if slot.shape() != value.shape() {
            return Err(crate::Error::Config(
                "snapshot does not match the model".into(),
            ));
        }
        slot.set_data(value.clone());
    }
    Ok(model)
}
