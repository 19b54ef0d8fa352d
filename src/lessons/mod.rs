//! The course's lessons as data. A [`Lesson`] names its task (what is fit,
//! on which data, with which model and loss) and its default
//! hyper-parameters; the same value drives `dl-lab run` and the lab.
//!
//! The registry is [`all()`]: adding a lesson means adding one constructor
//! there, no UI or CLI code.

mod course;
pub mod files;
pub mod headless;
pub mod worked;

use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub use crate::train::normalize;
pub use crate::train::settings::Hyper;
pub use crate::train::small::{Condition, EpochRecord, SmallSession};
pub use crate::train::task::{LossKind, Objective, SmallData, SmallModel, Task};
pub use files::RunFiles;
pub use headless::{run_headless, run_headless_on, run_headless_with};

/// What a run may show, in the lesson's words: `says` is printed (headless)
/// and shown (in the lab) when `when` holds for the run that happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub when: Condition,
    pub says: &'static str,
}

/// One lesson of the course.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    pub name: &'static str,
    pub title: &'static str,
    /// What the lesson is about in plain words, for the lab's lesson list
    /// (at most 54 characters, so the list fits 80 columns).
    pub blurb: &'static str,
    /// One line for `dl-lab lessons` (a run's title line is built from
    /// what it runs instead: [`headless::title_line`]).
    pub summary: &'static str,
    /// What to watch for, shown before a run and in the lab.
    pub notes: &'static str,
    /// What a run may end with, in the lesson's words; the first is the
    /// lesson's success check (its headless test asserts it).
    pub checks: Vec<Check>,
    pub task: Task,
    pub defaults: Hyper,
}

impl Lesson {
    /// Whether the lesson trains on MNIST-format images.
    pub fn is_classifier(&self) -> bool {
        matches!(self.task, Task::Classifier { .. })
    }

    /// Whether the lesson works something out rather than training a model
    /// (backprop, tensor-basics): `dl-lab run` prints it, the lab shows it
    /// in a view of its own.
    pub fn is_worked(&self) -> bool {
        matches!(self.task, Task::Backprop { .. } | Task::TensorCode { .. })
    }

    /// The scalar objective, for the lessons that minimise one.
    pub fn objective(&self) -> Option<&Objective> {
        match &self.task {
            Task::Scalar { objective } => Some(objective),
            _ => None,
        }
    }

    /// What the run in `session` showed, `cost` being its last cost: the
    /// numbers and words of each check that holds. The one function
    /// `dl-lab run` and the lab both use.
    pub fn findings(&self, session: &SmallSession, cost: f32) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for c in &self.checks {
            if let Some(numbers) = session.holds(&c.when, cost)? {
                out.push(format!("{numbers}: {}", c.says));
            }
        }
        Ok(out)
    }
}

impl SmallSession {
    /// Set up `lesson` (not a classifier) with `hyper`; `csv` replaces its data.
    pub fn new(lesson: &Lesson, hyper: &Hyper, csv: Option<&Path>) -> Result<SmallSession> {
        SmallSession::start(lesson.name, &lesson.task, hyper, csv)
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
    /// `--expr` and `--at` (the backprop lesson).
    pub expr: Option<String>,
    pub at: Option<String>,
    /// The optimizer race's `--surface`, `--start` and `--lr` (None: the lesson's).
    pub race: RaceOptions,
}

/// `dl-lab run optimizer-race`'s own flags; `--steps` is `hyper.epochs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RaceOptions {
    pub surface: Option<crate::train::race::Surface>,
    pub start: Option<[f32; 2]>,
    /// `--lr` for every optimizer; None: each one's default.
    pub lr: Option<f32>,
}

impl RunConfig {
    pub fn defaults(lesson: &Lesson) -> Self {
        RunConfig {
            hyper: lesson.defaults.clone(),
            data: None,
            json: false,
            predict: None,
            expr: None,
            at: None,
            race: RaceOptions::default(),
        }
    }
}
