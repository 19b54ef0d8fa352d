//! The small lessons' own keys in the lab: `N` standardises the inputs
//! (`--normalize`) and restarts the lesson, `p` asks for inputs X and shows
//! H(X), `b` steps through mini-batch sizes, `A` swaps the cost's graph for the activation functions' plot,
//! `m` turns the Model pane into the layer editor (Layers lessons), `e`
//! types XOR's weights by hand (`hand_weights.rs`). They
//! are read before the global keymap, in the small lessons only (the MNIST
//! lessons' Conv/Pool pane uses `N` and `p` for itself).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::app::{App, PaneId};
use crate::cli::parse_features;
use crate::lessons::headless::{check_predict, predict_text};
use crate::lessons::{SmallModel, Task};

impl App {
    /// A small lesson's own key; true if it used it.
    pub(super) fn small_lesson_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release || self.stepper.is_none() {
            return false;
        }
        if self.predict_prompt.is_some() {
            self.predict_prompt_key(key);
            return true;
        }
        if self.stepper.as_ref().is_some_and(|s| s.hand.is_some()) {
            if super::keymap::is_interrupt(&key) {
                self.shutdown();
            } else {
                self.hand_weights_key(key);
            }
            return true;
        }
        if self.focus == PaneId::Model && self.small_model_editing {
            if let Some(used) = self.small_builder_key(key) {
                return used;
            }
        }
        match key.code {
            KeyCode::Char('N') => self.toggle_normalize(),
            KeyCode::Char('b') => self.next_batch_size(),
            KeyCode::Char('p') => self.open_predict_prompt(),
            KeyCode::Char('A') => {
                if let Some(s) = self.stepper.as_mut() {
                    s.show_activations = !s.show_activations;
                }
            }
            KeyCode::Char('m') if self.focus == PaneId::Model => self.toggle_small_editor(),
            KeyCode::Char('e')
                if self
                    .stepper
                    .as_ref()
                    .is_some_and(super::hand_weights::applies) =>
            {
                self.open_hand_weights()
            }
            _ => return false,
        }
        true
    }

    /// `N`: inputs standardised or not, and the lesson starts again.
    fn toggle_normalize(&mut self) {
        let Some(s) = self.stepper.as_mut() else {
            return;
        };
        let mut h = s.hyper().clone();
        h.normalize = !h.normalize;
        let lesson = s.lesson().clone();
        self.rewind.go_live();
        self.loss.rewound = None;
        match s.restart(&lesson, &h) {
            Ok(()) => {
                self.hyper.normalize = h.normalize;
                self.loss.reset_costs(s);
                self.loss.sync_costs(s);
                self.message = Some(if h.normalize {
                    "inputs standardised, (x − mean) / std: lesson restarted (N undoes)".into()
                } else {
                    "raw inputs again: lesson restarted (N standardises)".into()
                });
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// `b`: the next mini-batch size (full, 1, 2, 4, … below the row
    /// count, then full again), and the lesson starts again.
    fn next_batch_size(&mut self) {
        let Some(s) = self.stepper.as_mut() else {
            return;
        };
        let rows = s.session.data().0.shape().first().copied().unwrap_or(0);
        if s.session.features() == 0 || rows < 2 {
            self.message = Some(format!(
                "b sets mini-batches in the lessons with data; {} has none",
                self.lesson.name
            ));
            return;
        }
        let mut h = s.hyper().clone();
        h.batch_size = match h.batch_size {
            0 => 1,
            b if b * 2 < rows => b * 2,
            _ => 0,
        };
        let lesson = s.lesson().clone();
        self.rewind.go_live();
        self.loss.rewound = None;
        match s.restart(&lesson, &h) {
            Ok(()) => {
                self.hyper.batch_size = h.batch_size;
                self.loss.reset_costs(s);
                self.loss.sync_costs(s);
                self.message = Some(match h.batch_size {
                    0 => "full batch again: lesson restarted (b: mini-batches)".into(),
                    b => format!(
                        "mini-batches of {b} rows, shuffled each epoch ({} steps an epoch; the Loss pane \
                         charts each step): lesson restarted (b: next size)",
                        s.session.steps_per_epoch()
                    ),
                });
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// `p`: a one-line prompt for X in the status line.
    fn open_predict_prompt(&mut self) {
        let Some(s) = self.stepper.as_ref() else {
            return;
        };
        if s.session.features() == 0 {
            self.message = Some(format!(
                "p predicts H(X) in the lessons with inputs; {} minimises a function of x",
                self.lesson.name
            ));
            return;
        }
        let start = s
            .predict_x
            .as_ref()
            .map(|x| {
                x.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        self.predict_prompt = Some(start);
    }

    fn predict_prompt_key(&mut self, key: KeyEvent) {
        let Some(text) = self.predict_prompt.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.predict_prompt = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if c.is_ascii_digit() || ".,-+eE ".contains(c) => text.push(c),
            KeyCode::Enter => {
                let text = text.clone();
                self.predict_prompt = None;
                self.predict(&text);
            }
            _ => {}
        }
    }

    /// Parse X, check its count, and show H(X) (the views keep it current).
    pub fn predict(&mut self, text: &str) {
        let Some(s) = self.stepper.as_mut() else {
            return;
        };
        let x = match parse_features(text) {
            Ok(f) => f.0,
            Err(e) => {
                self.message = Some(format!("p: {e}"));
                return;
            }
        };
        if let Err(e) = check_predict(s.lesson(), &s.session, &x) {
            self.message = Some(e.to_string().replace("--predict", "p"));
            return;
        }
        s.predict_x = Some(x);
        self.message = s.prediction().map(|(x, y)| predict_text(&x, y));
    }

    /// `m` in the Model pane of a Layers lesson: edit the layers (and back).
    fn toggle_small_editor(&mut self) {
        let Some(s) = self.stepper.as_ref() else {
            return;
        };
        let Task::Regression {
            model: SmallModel::Layers(specs),
            ..
        } = &s.lesson().task
        else {
            self.message = Some(format!(
                "m edits the layers of the lessons with a network; {} fits H(x) = xW + b",
                self.lesson.name
            ));
            return;
        };
        self.small_model_editing = !self.small_model_editing;
        if self.small_model_editing {
            let features = s.session.features();
            self.builder =
                super::views::model_builder::ModelPane::for_small(specs.clone(), features);
            self.message = Some(
                "editing the layers: a/i add, e edit, d delete; the lesson restarts with each change (m: back)"
                    .into(),
            );
        } else {
            self.message = None;
        }
    }

    /// Keys of the layer editor in a small lesson: a change that leaves a
    /// valid model restarts the lesson with it. None: not the editor's key.
    fn small_builder_key(&mut self, key: KeyEvent) -> Option<bool> {
        if matches!(key.code, KeyCode::Char('m')) && !self.builder.is_editing() {
            self.toggle_small_editor();
            return Some(true);
        }
        let before = self.builder.specs.clone();
        if !self.builder.handle_key(key) {
            return None;
        }
        if self.builder.specs != before {
            self.restart_with_layers();
        }
        Some(true)
    }

    /// Restart the small lesson with the Model pane's layers, if they make a
    /// model from the inputs to one output.
    fn restart_with_layers(&mut self) {
        let Some(s) = self.stepper.as_mut() else {
            return;
        };
        let specs = self.builder.specs.clone();
        if let Err(why) =
            super::views::model_builder::small_readiness(&specs, &self.builder.input_shape)
        {
            self.message = Some(format!("not restarted: {why}"));
            return;
        }
        let mut lesson = s.lesson().clone();
        if let Task::Regression { model, .. } = &mut lesson.task {
            *model = SmallModel::Layers(specs);
        }
        let h = s.hyper().clone();
        self.rewind.go_live();
        self.loss.rewound = None;
        match s.restart(&lesson, &h) {
            Ok(()) => {
                self.loss.reset_costs(s);
                self.loss.sync_costs(s);
                self.message = Some("lesson restarted with the edited model".into());
            }
            Err(e) => self.message = Some(format!("not restarted: {e}")),
        }
    }
}
