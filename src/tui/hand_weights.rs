//! `e` in the XOR lessons: type the weights by hand, as the course picks
//! them (h1 an OR, h2 a NAND, the output their AND), and see whether they
//! classify XOR. Each number of each parameter is a field, written as the
//! course writes the tensors (W1 2×2, b1, W2 1×2, b2; a perceptron's W 1×2
//! and b); Tab / ↓ / → and Shift-Tab / ↑ / ← move between fields, typing
//! replaces a field's number, Enter sets them all and Esc leaves them.
//! Once set, the plane, the four predictions and the cost are those of the
//! typed weights, and Space or s trains on from them (r goes back to the
//! lesson's start). A field that is not a number is named and nothing
//! changes; a model with more than [`HAND_MAX`] numbers (xor-deep's 261)
//! is refused with its size.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ndarray::IxDyn;

use super::app::App;
use super::stepper::{param_arrays, slope, two_params, Stepper};
use crate::engine::Array;
use crate::lessons::{LossKind, Task};

/// The most numbers `e` asks for (xor-mlp has 9).
pub const HAND_MAX: usize = 16;

/// One parameter in the form: its course name and shape.
#[derive(Clone, Debug, PartialEq)]
pub struct HandParam {
    /// "W1", "b1", … ("W" and "b" for a single layer).
    pub label: String,
    pub shape: Vec<usize>,
}

/// The weights being typed.
#[derive(Clone, Debug, PartialEq)]
pub struct HandEdit {
    pub params: Vec<HandParam>,
    /// What each field holds, every parameter's numbers in row-major order
    /// (shown to 3 decimals until typed in).
    pub texts: Vec<String>,
    /// Each number as it was when the form opened: a field not typed in
    /// keeps it exactly (its text is rounded).
    pub exact: Vec<f32>,
    /// Which fields have been typed in.
    pub typed: Vec<bool>,
    /// The field being typed.
    pub at: usize,
    /// The next typed character replaces the field (it shows the value it
    /// had when the form opened or the field was entered).
    pub fresh: bool,
    /// Why the last Enter was refused.
    pub error: Option<String>,
}

/// Whether `s` shows XOR's plane (two inputs, binary targets), where `e`
/// types the weights.
pub fn applies(s: &Stepper) -> bool {
    match &s.lesson().task {
        Task::Regression {
            loss: LossKind::Bce,
            ..
        } => s.session.data().0.shape().get(1) == Some(&2),
        _ => false,
    }
}

/// A number as the form first shows it: 3 decimals, trailing zeros dropped.
fn field_text(v: f32) -> String {
    let short = format!("{v:.3}");
    let short = short.trim_end_matches('0').trim_end_matches('.');
    match short {
        "-0" | "" => "0".into(),
        s => s.into(),
    }
}

impl HandEdit {
    /// The form for `s`'s parameters, filled with their values; Err says
    /// why not (a model too big to type).
    pub fn open(s: &Stepper) -> Result<HandEdit, String> {
        let params = s.params();
        let n: usize = params.iter().map(|(_, a)| a.len()).sum();
        if n > HAND_MAX {
            return Err(format!("{n} weights: e types at most {HAND_MAX}"));
        }
        let layers = params.len() / 2;
        let hand = params
            .iter()
            .enumerate()
            .map(|(i, (name, a))| {
                let letter = if name.ends_with("bias") { "b" } else { "W" };
                let k = if layers > 1 {
                    (i / 2 + 1).to_string()
                } else {
                    String::new()
                };
                HandParam {
                    label: format!("{letter}{k}"),
                    shape: a.shape().to_vec(),
                }
            })
            .collect();
        let exact: Vec<f32> = params
            .iter()
            .flat_map(|(_, a)| a.iter().copied().collect::<Vec<_>>())
            .collect();
        Ok(HandEdit {
            params: hand,
            texts: exact.iter().map(|&v| field_text(v)).collect(),
            typed: vec![false; exact.len()],
            exact,
            at: 0,
            fresh: true,
            error: None,
        })
    }

    /// The field's name as the course indexes it: "W1[0,1]", "b1[1]", "b".
    pub fn field_name(&self, field: usize) -> String {
        let mut first = 0;
        for p in &self.params {
            let n: usize = p.shape.iter().product();
            if field < first + n {
                let i = field - first;
                return match p.shape.as_slice() {
                    _ if n == 1 => p.label.clone(),
                    [_, cols] => format!("{}[{},{}]", p.label, i / cols, i % cols),
                    _ => format!("{}[{i}]", p.label),
                };
            }
            first += n;
        }
        format!("field {field}")
    }

    /// Every field as a number, or the first that is not one, named.
    pub fn values(&self) -> Result<Vec<f32>, String> {
        self.texts
            .iter()
            .enumerate()
            .map(|(i, t)| match t.trim().parse::<f32>() {
                _ if !self.typed[i] => Ok(self.exact[i]),
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(format!(
                    "{} = {:?} is not a number; nothing changed (fix it, or Esc)",
                    self.field_name(i),
                    t.trim()
                )),
            })
            .collect()
    }

    fn move_to(&mut self, field: usize) {
        self.at = field % self.texts.len().max(1);
        self.fresh = true;
    }

    /// A key while the form is open; what it leads to.
    pub fn key(&mut self, key: KeyEvent) -> HandKey {
        let n = self.texts.len().max(1);
        match key.code {
            KeyCode::Esc => return HandKey::Cancel,
            KeyCode::Enter => return HandKey::Confirm,
            KeyCode::Tab | KeyCode::Down | KeyCode::Right => self.move_to(self.at + 1),
            KeyCode::BackTab | KeyCode::Up | KeyCode::Left => self.move_to(self.at + n - 1),
            KeyCode::Backspace => {
                if let Some(t) = self.texts.get_mut(self.at) {
                    t.pop();
                    self.typed[self.at] = true;
                }
                self.fresh = false;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if let Some(t) = self.texts.get_mut(self.at) {
                    if self.fresh {
                        t.clear();
                    }
                    t.push(c);
                    self.typed[self.at] = true;
                }
                self.fresh = false;
            }
            _ => {}
        }
        HandKey::Typing
    }
}

/// What a key did to the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandKey {
    Typing,
    Confirm,
    Cancel,
}

impl Stepper {
    /// Put `values` (every parameter's numbers, row-major, in parameter
    /// order) into the model, as if training had reached them: the views,
    /// the cost and the next step start from there. On error nothing changes.
    pub fn set_params(&mut self, values: &[f32]) -> Result<(), String> {
        let params = self.session.params();
        let need: usize = params
            .iter()
            .map(|(_, t)| t.shape().iter().product::<usize>())
            .sum();
        if values.len() != need {
            return Err(format!("{need} numbers needed, {} given", values.len()));
        }
        let mut arrays = Vec::new();
        let mut rest = values;
        for (_, t) in &params {
            let shape = t.shape();
            let (mine, more) = rest.split_at(shape.iter().product());
            arrays.push(
                Array::from_shape_vec(IxDyn(&shape), mine.to_vec()).map_err(|e| e.to_string())?,
            );
            rest = more;
        }
        for ((_, t), a) in params.iter().zip(arrays) {
            t.set_data(a);
        }
        self.before = param_arrays(&self.session);
        self.last = None;
        self.diverged = None;
        self.running_away = None;
        if let Some(p) = two_params(&self.session) {
            self.path = vec![p];
        }
        self.now = slope(&self.session);
        self.update_findings();
        Ok(())
    }
}

impl App {
    /// `e` in the XOR lessons: open the form on the current weights.
    pub(super) fn open_hand_weights(&mut self) {
        let Some(s) = self.stepper.as_mut() else {
            return;
        };
        match HandEdit::open(s) {
            Ok(form) => {
                s.auto = false;
                s.hand = Some(form);
                // the form is drawn in the Model pane's place
                if self.zoomed {
                    self.focus = super::app::PaneId::Model;
                }
                self.rewind.go_live();
                self.loss.rewound = None;
                self.message = None;
            }
            Err(why) => self.message = Some(why),
        }
    }

    /// A key while the form is open (it takes every key but Ctrl-C).
    pub(super) fn hand_weights_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        let Some(s) = self.stepper.as_mut() else {
            return;
        };
        let Some(form) = s.hand.as_mut() else {
            return;
        };
        match form.key(key) {
            HandKey::Typing => form.error = None,
            HandKey::Cancel => {
                s.hand = None;
                self.message = Some("e: weights left as they were".into());
            }
            HandKey::Confirm => {
                let set = form.values().and_then(|v| s.set_params(&v));
                match set {
                    Ok(()) => {
                        s.hand = None;
                        self.loss.mark_hand_set(s);
                        let cost = s.now.as_ref().map_or(f32::NAN, |n| n.cost);
                        self.message = Some(format!(
                            "set by hand: cost {} (r resets)",
                            super::format::cost(cost)
                        ));
                    }
                    Err(why) => {
                        if let Some(form) = s.hand.as_mut() {
                            form.error = Some(why);
                        }
                    }
                }
            }
        }
    }
}
