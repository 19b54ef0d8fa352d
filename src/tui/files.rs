//! The lab's files (MNIST lessons): `w` writes a checkpoint (`--save PATH`,
//! else `dl-lab-LESSON.ckpt` here), `o` opens one or a `.safetensors` file
//! (`--load PATH`, else the path `w` writes), and `--history FILE.csv` gets
//! a row per finished epoch. A file that cannot be read or does not fit the
//! model is a message in the status line; the model shown stays as it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::app::App;
use super::views::loss_chart::LossPane;
use crate::lessons::Task;
use crate::nn::{spec::build_model, LayerSpec, Module, Sequential};
use crate::train::{Checkpoint, ClassifierRun, EpochCsv, EpochSummary, RunState};
use crate::Result;

/// The lab's `--load`, `--save` and `--history`, and what was loaded.
#[derive(Default)]
pub struct LabFiles {
    pub load: Option<PathBuf>,
    pub save: Option<PathBuf>,
    pub history: Option<PathBuf>,
    /// The checkpoint (or weights) the model was opened from; training
    /// starts from it. The Model pane names it.
    pub loaded: Option<Checkpoint>,
    /// The current run's history file.
    csv: Option<EpochCsv>,
    /// A save asked of the worker and not answered yet.
    save_pending: bool,
}

/// Where `w` writes without `--save`: `dl-lab-LESSON.ckpt` in the current directory.
pub fn default_path(lesson: &str) -> PathBuf {
    PathBuf::from(format!("dl-lab-{lesson}.ckpt"))
}

impl LabFiles {
    pub fn new(load: Option<PathBuf>, save: Option<PathBuf>, history: Option<PathBuf>) -> Self {
        LabFiles {
            load,
            save,
            history,
            ..LabFiles::default()
        }
    }

    /// Where `w` writes.
    pub fn save_path(&self, lesson: &str) -> PathBuf {
        self.save.clone().unwrap_or_else(|| default_path(lesson))
    }

    /// What `o` opens: `--load`, else where `w` writes.
    pub fn load_path(&self, lesson: &str) -> PathBuf {
        self.load.clone().unwrap_or_else(|| self.save_path(lesson))
    }

    /// The loaded file's name, for the Model pane's title.
    pub fn loaded_name(&self) -> Option<String> {
        let path = &self.loaded.as_ref()?.path;
        let name = path.file_name().unwrap_or(path.as_os_str());
        Some(name.to_string_lossy().into_owned())
    }

    /// Open the history for a new run (appending when it resumes a
    /// checkpoint); an error says why no rows will be written.
    fn open_history(&mut self, resuming: bool) -> Option<String> {
        self.csv = None;
        let path = self.history.as_deref()?;
        match EpochCsv::open(path, resuming) {
            Ok(csv) => {
                self.csv = Some(csv);
                None
            }
            Err(e) => Some(format!("--history: {e}")),
        }
    }

    /// Add a finished epoch's row; an error (the file stops) as a message.
    pub fn record_epoch(&mut self, s: &EpochSummary) -> Option<String> {
        let err = self.csv.as_mut()?.push(s).err()?;
        self.csv = None;
        Some(format!("--history: {err}"))
    }
}

fn seeded() -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(0)
}

/// `specs` on `input_shape` with the weights of `path`, checked.
fn read_model(
    path: &Path,
    specs: &[LayerSpec],
    input_shape: &[usize],
) -> Result<(Checkpoint, Sequential)> {
    let ck = Checkpoint::load(path)?;
    ck.check_architecture(specs, input_shape)?;
    let model = build_model(specs, input_shape, &mut seeded())?;
    ck.apply(&model)?;
    Ok((ck, model))
}

const MNIST_ONLY: &str = "checkpoints are for the MNIST lessons (softmax-mnist, cnn-mnist)";

impl App {
    fn classifier_input(&self) -> Option<Vec<usize>> {
        match &self.lesson.task {
            Task::Classifier { input_shape, .. } => Some(input_shape.clone()),
            _ => None,
        }
    }

    /// The run a checkpoint saved now describes (the worker fills in the
    /// epoch and learning rate when it saves).
    fn run_state(&self, input_shape: &[usize]) -> RunState {
        let specs = match self.training.specs() {
            [] => self.builder.specs.clone(),
            s => s.to_vec(),
        };
        let h = &self.hyper;
        RunState {
            lesson: self.lesson.name.to_string(),
            layers: specs,
            input_shape: input_shape.to_vec(),
            epoch: self.training.progress.epochs_done,
            seed: h.seed,
            data: self.data.source.clone(),
            optimizer: h.optimizer.name().to_string(),
            lr: h.lr,
            momentum: h.optimizer.momentum(),
            weight_decay: h.optimizer.weight_decay(),
            batch_size: h.batch_size,
            init: h.init.name().to_string(),
        }
    }

    /// `w`: write the model (and optimizer) to the save path. A working
    /// run saves from its worker (answered with `Saved`); an ended run from
    /// its model and optimizer; an opened model with no run, its weights.
    pub fn save_checkpoint(&mut self) {
        let Some(input_shape) = self.classifier_input() else {
            self.message = Some(MNIST_ONLY.into());
            return;
        };
        let path = self.files.save_path(self.lesson.name);
        let state = self.run_state(&input_shape);
        if self.training.save(&path, state.clone()) {
            self.files.save_pending = true;
            self.message = Some(format!("saving to {} …", path.display()));
            return;
        }
        let ck = if let Some(run) = self.training.ended_run() {
            capture_ended(state, run)
        } else if let Some(model) = self.training.trained() {
            Ok(weights_only(state, model, self.files.loaded.as_ref()))
        } else {
            self.message = Some("nothing to save yet: train (s) or open (o) a model".into());
            return;
        };
        self.message = Some(match ck.and_then(|ck| ck.save(&path).map(|_| ck)) {
            Ok(ck) => saved_note(&path, ck.run.map_or(0, |r| r.epoch)),
            Err(e) => format!("cannot save: {e}"),
        });
    }

    /// The worker's answer to a save.
    pub fn on_saved(&mut self, path: &Path, epoch: usize, error: Option<String>) {
        self.files.save_pending = false;
        self.message = Some(match error {
            None => saved_note(path, epoch),
            Some(e) => format!("cannot save: {e}"),
        });
    }

    /// The run ended: a save it did not answer is done from the ended run.
    pub fn on_run_ended(&mut self) {
        if std::mem::take(&mut self.files.save_pending) {
            self.save_checkpoint();
        }
    }

    /// `o`: open the load path into the lab's model (stopping any run), or
    /// say why not and keep the model.
    pub fn open_checkpoint(&mut self) {
        let Some(input_shape) = self.classifier_input() else {
            self.message = Some(MNIST_ONLY.into());
            return;
        };
        let path = self.files.load_path(self.lesson.name);
        let (ck, model) = match read_model(&path, &self.builder.specs, &input_shape) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.message = Some(format!("cannot open: {e}"));
                return;
            }
        };
        self.training.reset();
        self.files.save_pending = false;
        self.loss = LossPane {
            log_scale: self.loss.log_scale,
            ..LossPane::default()
        };
        let pixels = self.data.test.pixels();
        let specs = &self.builder.specs;
        if matches!(specs.first(), Some(LayerSpec::Conv2d { .. }))
            || super::views::conv_viz::weights::applies(specs, pixels)
        {
            self.conv.show_filters = true;
        }
        self.message = Some(match &ck.run {
            Some(run) => {
                // its settings, as `dl-lab run --load` takes them
                run.settings_into(&mut self.hyper);
                self.training.progress.epochs_done = run.epoch;
                // the init only when it is not PyTorch's default
                let init = match run.init.as_str() {
                    "uniform" => String::new(),
                    other => format!(", init {other}"),
                };
                format!(
                    "loaded {} (epoch {}{init}): s trains on from it",
                    path.display(),
                    run.epoch
                )
            }
            None => format!(
                "loaded the weights in {}: s trains on from them",
                path.display()
            ),
        });
        self.files.loaded = Some(ck);
        // its held-out predictions, for the confusion matrix and the mistakes
        self.mistakes.clear();
        self.dataset.filter = None;
        let held_out = crate::train::evaluate_held_out(
            &model,
            &self.data.test,
            &input_shape,
            crate::train::classifier::EVAL_BATCH,
            &crate::backend::Device::Cpu,
        );
        if let Ok(h) = held_out {
            self.mistakes
                .record(None, Arc::new(h.predictions), &self.data.test.labels);
        }
        self.set_trained(Some(Arc::new(model)));
    }

    /// A new run starts from the opened checkpoint, if any (its weights;
    /// for a dl-lab checkpoint its epoch and optimizer state too), and
    /// opens the history. Returns a note for the status line.
    pub fn prepare_run(&mut self, run: &mut ClassifierRun, specs: &[LayerSpec]) -> Option<String> {
        let from = self.files.loaded.as_ref().map(|ck| {
            ck.check_architecture(specs, &run.input_shape)
                .and_then(|_| ck.apply(&run.model))
                .map(|_| ck)
        });
        let mut note = None;
        let mut resuming = false;
        match from {
            None => {}
            Some(Err(_)) => {
                // the Model pane's layers changed since: a new model starts fresh
                self.files.loaded = None;
                note = Some("the model differs from the opened file: training from scratch".into());
            }
            Some(Ok(ck)) => {
                if let Some(saved) = &ck.run {
                    run.done_epochs = saved.epoch;
                    run.epochs = saved.epoch + self.hyper.epochs;
                    resuming = true;
                    if saved
                        .optimizer
                        .eq_ignore_ascii_case(self.hyper.optimizer.name())
                        && run.opt.load_state(ck.optimizer_state.clone()).is_err()
                    {
                        note = Some("the optimizer state did not fit: a fresh one".into());
                    }
                }
            }
        }
        self.files.open_history(resuming).or(note)
    }
}

fn saved_note(path: &Path, epoch: usize) -> String {
    format!("saved to {} (epoch {epoch})", path.display())
}

/// An ended run's checkpoint: its model and optimizer.
fn capture_ended(state: RunState, run: &ClassifierRun) -> Result<Checkpoint> {
    let state = RunState {
        lr: run.opt.lr(),
        ..state
    };
    Checkpoint::capture(state, &run.model, run.opt.as_ref())
}

/// A checkpoint of `model`'s weights with no run behind it: the optimizer
/// state of the file it was opened from, if that was a checkpoint.
fn weights_only(state: RunState, model: &Sequential, loaded: Option<&Checkpoint>) -> Checkpoint {
    let weights: Vec<_> = model
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (n, t.to_array()))
        .collect();
    let optimizer_state = match loaded {
        Some(ck) if ck.run.is_some() && ck.optimizer_state.len() == weights.len() => {
            ck.optimizer_state.clone()
        }
        _ => weights.iter().map(|_| None).collect(),
    };
    Checkpoint {
        path: PathBuf::new(),
        weights,
        run: Some(state),
        optimizer_state,
    }
}
