//! The course's lessons as data. A [`Lesson`] names its task (what is fit,
//! on which data, with which model and loss) and its default
//! hyper-parameters; the same value drives `dl-lab run` and the lab.
//!
//! The registry is [`all()`]: adding a lesson means adding one constructor
//! there, no UI or CLI code.

mod course;
pub mod files;
pub mod headless;
pub mod normalize;
pub mod small;

use std::path::PathBuf;

use crate::nn::LayerSpec;
use crate::{Error, Result};

pub use files::RunFiles;
pub use headless::{run_headless, run_headless_on, run_headless_with};
pub use small::{EpochRecord, SmallSession};

/// Hyper-parameters; every field can be overridden from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyper {
    /// Small lessons run epochs 0..=epochs (the course's `range(nb_epochs + 1)`);
    /// MNIST lessons run epochs 1..=epochs.
    pub epochs: usize,
    pub lr: f32,
    pub optimizer: String,
    pub momentum: f32,
    pub weight_decay: f32,
    /// Mini-batch size; 0 means full batch.
    pub batch_size: usize,
    pub seed: u64,
    /// Log epoch 0, every K-th epoch and the last (small lessons).
    pub log_every: usize,
    /// Standardise the inputs with the training data's mean and sample std
    /// (small lessons' tables, `--normalize`; see [`normalize`]).
    pub normalize: bool,
}

/// What a lesson fits.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Minimise y = (x - 3)² + 4 over one variable x, from `start`.
    Scalar { start: f32 },
    /// Full-batch regression or binary classification on a small table.
    Regression {
        data: SmallData,
        model: SmallModel,
        loss: LossKind,
    },
    /// Digit classification on MNIST-format images.
    Classifier {
        layers: Vec<LayerSpec>,
        input_shape: Vec<usize>,
    },
}

/// The small lessons' data (a `--data FILE.csv` replaces it).
#[derive(Clone, Debug, PartialEq)]
pub enum SmallData {
    /// Fixed rows of inputs and their targets.
    Table { x: Vec<Vec<f32>>, y: Vec<f32> },
    /// `n` points x ~ N(0, 1) with y = x² + 3 (drawn with the run's seed).
    Parabola { n: usize },
    /// `n` points x ~ N(0, 1) with y = x² + 3 + noise·ε, ε ~ N(0, 1) (drawn
    /// with the run's seed, after x).
    NoisyParabola { n: usize, noise: f32 },
}

/// The small lessons' models.
#[derive(Clone, Debug, PartialEq)]
pub enum SmallModel {
    /// H(x) = xW + b with W (features, 1) and b (1) starting at zero.
    Affine,
    /// A stack of layers with PyTorch's initialisation.
    Layers(Vec<LayerSpec>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossKind {
    Mse,
    Bce,
}

/// One lesson of the course.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    pub name: &'static str,
    pub title: &'static str,
    /// What the lesson is about in plain words, for the lab's lesson list
    /// (at most 54 characters, so the list fits 80 columns).
    pub blurb: &'static str,
    /// One line for `dl-lab lessons`.
    pub summary: &'static str,
    /// What to watch for, shown before a run and in the lab.
    pub notes: &'static str,
    pub task: Task,
    pub defaults: Hyper,
}

impl Lesson {
    /// Whether the lesson trains on MNIST-format images.
    pub fn is_classifier(&self) -> bool {
        matches!(self.task, Task::Classifier { .. })
    }
}

/// Every lesson, in course order.
pub fn all() -> Vec<Lesson> {
    course::all()
}

/// The lesson after `name` in course order (None after the last, or for
/// an unknown name).
pub fn next(name: &str) -> Option<Lesson> {
    let all = all();
    let i = all.iter().position(|l| l.name == name)?;
    all.into_iter().nth(i + 1)
}

/// The names of every lesson, comma-separated (for error messages).
pub fn names() -> String {
    all().iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
}

/// The lesson called `name`, or an error listing the lessons there are.
pub fn find(name: &str) -> Result<Lesson> {
    all().into_iter().find(|l| l.name == name).ok_or_else(|| {
        Error::Config(format!(
            "unknown lesson '{name}'; the lessons are: {}",
            names()
        ))
    })
}

/// A run's settings: the lesson's defaults with the command line's overrides.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub hyper: Hyper,
    /// `--data`: a CSV file (small lessons) or an MNIST-format directory.
    pub data: Option<PathBuf>,
    /// `--json`: one JSON object per logged epoch instead of text.
    pub json: bool,
    /// `--predict X`: after training, print H(X) for these raw inputs (small lessons).
    pub predict: Option<Vec<f32>>,
}

impl RunConfig {
    pub fn defaults(lesson: &Lesson) -> Self {
        RunConfig {
            hyper: lesson.defaults.clone(),
            data: None,
            json: false,
            predict: None,
        }
    }
}
