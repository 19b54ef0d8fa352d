//! Key `c`: the lesson as a PyTorch script, written with the lab's current
//! settings (the learning rate and optimizer as changed here, the epochs,
//! the seed, the `--data` directory, the model as the Model pane has it,
//! and for the small lessons `N`, `b` and `p`'s X), by the same [`crate::code::python_script`]
//! that `dl-lab code` prints.
//!
//! The file is `LESSON.py` in the current directory, or next to `--save`
//! when it is given. An existing file is never written over: the next free
//! name is taken (`LESSON-2.py`, `LESSON-3.py`, …), created with
//! `create_new` so that not even a file appearing meanwhile is lost.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::app::App;
use crate::lessons::{Lesson, RunConfig, Task};

/// Names tried before giving up (`LESSON.py` … `LESSON-99.py`).
const MAX_TRIES: usize = 99;

impl App {
    /// The lesson and run settings the script is written for: the lab's
    /// hyper-parameters (the small lesson's learning rate as stepped, its
    /// edited layers, `N`, `b` and `p`'s X), the MNIST lessons' `--data`
    /// directory and edited model.
    pub fn code_settings(&self) -> (Lesson, RunConfig) {
        let mut lesson = self.lesson.clone();
        let mut hyper = self.hyper.clone();
        let mut predict = None;
        if let Some(s) = &self.stepper {
            // the small lesson as stepped: its edited layers (m), N and b
            lesson = s.lesson().clone();
            hyper = s.hyper().clone();
            hyper.lr = s.lr();
            predict = s.predict_x.clone();
        }
        let mut data = None;
        if let Task::Classifier { layers, .. } = &mut lesson.task {
            layers.clone_from(&self.builder.specs);
            data = self.data_dir.clone();
        }
        let cfg = RunConfig {
            hyper,
            data,
            predict,
            ..RunConfig::defaults(&lesson)
        };
        (lesson, cfg)
    }

    /// `c`: write the script and name the file in the status line (or say
    /// why it could not be written).
    pub fn write_code(&mut self) {
        let (lesson, cfg) = self.code_settings();
        let script = match crate::code::python_script(&lesson, &cfg) {
            Ok(s) => s,
            Err(e) => {
                self.message = Some(format!("cannot write the PyTorch script: {e}"));
                return;
            }
        };
        let dir = self
            .files
            .save
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.message = Some(match write_new(&dir, lesson.name, &script) {
            Ok(path) => format!(
                "wrote the lesson as PyTorch code to {} (python3 {})",
                path.display(),
                path.display()
            ),
            Err(e) => format!("cannot write the PyTorch script: {e}"),
        });
    }
}

/// `LESSON.py`, then `LESSON-2.py`, … in `dir` (empty: the current directory).
pub fn candidate(dir: &Path, lesson: &str, n: usize) -> PathBuf {
    let name = match n {
        0 | 1 => format!("{lesson}.py"),
        n => format!("{lesson}-{n}.py"),
    };
    dir.join(name)
}

/// Write `text` to the first free [`candidate`]; the error names the file.
pub fn write_new(dir: &Path, lesson: &str, text: &str) -> Result<PathBuf, String> {
    for n in 1..=MAX_TRIES {
        let path = candidate(dir, lesson, n);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match file {
            Ok(mut f) => {
                return f
                    .write_all(text.as_bytes())
                    .map(|()| path.clone())
                    .map_err(|e| format!("{}: {e}", path.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Err(format!(
        "{} … {} all exist; remove some",
        candidate(dir, lesson, 1).display(),
        candidate(dir, lesson, MAX_TRIES).display()
    ))
}
