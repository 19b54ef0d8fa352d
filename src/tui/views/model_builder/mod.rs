//! The Model pane: the current classifier's layers as an editable list.
//! Each row shows the layer, its output shape and its parameter count, the
//! way Keras' `model.summary()` and torchinfo lay a model out, recomputed
//! from [`infer_shapes`] on every change. A layer that cannot follow its
//! predecessor shows the reason ("Linear expects 3136 inputs, gets 1568")
//! where its shape would be.
//!
//! Editing has three small modes: browsing (j/k select, a/i add, d delete,
//! J/K move, e/Enter edit, u undo, f fix), a layer chooser after `a`/`i`,
//! and a field editor after `e`. The chooser asks which layer to add and
//! inserts nothing until one is picked; the editor previews its change in
//! the table. [`ModelPane::is_editing`] makes the app route keys here before
//! its global keymap (except `q`). When a change leaves the next layer's
//! `in_features`/`in_channels` stale, [`offered_fix`] offers to set it (`f`).
//! [`readiness`] refuses a model whose training would not fit
//! [`TRAIN_MEMORY_BUDGET`] ([`memory_check`]). The trainer copies `specs`
//! when a run starts, so edits never reach a running worker; the pane says
//! so while a run is on.
//!
//! - `mod.rs`: the pane's state ([`ModelPane`], [`Mode`]), the layers the
//!   chooser offers and how a new one is sized, the preview, and the checks
//!   the trainer shares ([`readiness`], [`shape_text`], [`short_label`])
//! - `keys.rs`: the keys of each mode and the list edits they make (add,
//!   delete, move, undo, apply an edit)
//! - `editor.rs`: a layer's editable fields and the field editor
//! - `render.rs`: the pane: its title, the lines under the table (status,
//!   notes, chooser or editor, key hints) and which of them fit
//! - `table.rs`: the layer table, its columns fitted to the width
//! - `glyphs.rs`: the pane's glyphs (ASCII stand-ins) and text cut to a width

mod editor;
mod glyphs;
mod keys;
mod render;
mod table;

pub use editor::{fields_of, Editor, Field, FieldKind};
pub use keys::KEYS;
pub use render::{render, render_pane};

use crate::lessons::{Lesson, Task};
use crate::nn::spec::{infer_shapes, memory_estimate, MemoryEstimate};
use crate::nn::LayerSpec;
use crate::tui::format;

/// Scores the classifier must end with: one per digit.
pub const CLASSES: usize = 10;
/// The largest count a field accepts: beyond it a layer would not fit in memory anyway.
pub const MAX_VALUE: usize = 65_536;
/// The most memory the lab lets a training run take (parameters, gradients,
/// Adam state, activations and their gradients; see [`memory_estimate`]).
/// A bigger model is refused before anything is allocated: an allocation
/// failure aborts the process, with no chance to say why.
pub const TRAIN_MEMORY_BUDGET: u64 = 2 << 30;
/// The batch the estimate assumes: the MNIST lessons' batch size.
pub const ESTIMATE_BATCH: usize = 100;

/// The width of a Linear layer the chooser adds in the middle of a model.
pub const HIDDEN_DEFAULT: usize = 128;

/// The layers the chooser offers, in its order (1–8 pick them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    Linear,
    Conv2d,
    MaxPool2d,
    AvgPool2d,
    ReLU,
    Sigmoid,
    Tanh,
    Flatten,
}

impl LayerKind {
    pub const ALL: [LayerKind; 8] = [
        LayerKind::Linear,
        LayerKind::Conv2d,
        LayerKind::MaxPool2d,
        LayerKind::AvgPool2d,
        LayerKind::ReLU,
        LayerKind::Sigmoid,
        LayerKind::Tanh,
        LayerKind::Flatten,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Linear => "Linear",
            LayerKind::Conv2d => "Conv2d",
            LayerKind::MaxPool2d => "MaxPool2d",
            LayerKind::AvgPool2d => "AvgPool2d",
            LayerKind::ReLU => "ReLU",
            LayerKind::Sigmoid => "Sigmoid",
            LayerKind::Tanh => "Tanh",
            LayerKind::Flatten => "Flatten",
        }
    }
}

/// What the pane's keys do right now.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Browse,
    /// Choosing a layer to add, before or after the selection.
    Choose {
        kind: usize,
        before: bool,
    },
    Edit(Editor),
}

/// The Model pane's own state: the layer list being edited.
pub struct ModelPane {
    pub specs: Vec<LayerSpec>,
    pub selected: usize,
    /// The lesson's input without the batch dimension, e.g. `[1, 28, 28]`.
    pub input_shape: Vec<usize>,
    pub mode: Mode,
    /// A one-line note about the last action ("deleted layer 3 (ReLU)").
    pub note: Option<String>,
    undo: Vec<(Vec<LayerSpec>, usize)>,
    /// What the model must end with: [`CLASSES`] scores (MNIST lessons) or
    /// one output H(x) (the small lessons, see [`ModelPane::for_small`]).
    pub outputs: usize,
}

impl ModelPane {
    pub fn new(lesson: &Lesson) -> Self {
        let (specs, input_shape) = match &lesson.task {
            Task::Classifier {
                layers,
                input_shape,
            } => (layers.clone(), input_shape.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        ModelPane {
            specs,
            selected: 0,
            input_shape,
            mode: Mode::Browse,
            note: None,
            undo: Vec::new(),
            outputs: CLASSES,
        }
    }

    /// The pane editing a small lesson's layers: `features` inputs, one output.
    pub fn for_small(specs: Vec<LayerSpec>, features: usize) -> Self {
        ModelPane {
            specs,
            selected: 0,
            input_shape: vec![features],
            mode: Mode::Browse,
            note: None,
            undo: Vec::new(),
            outputs: 1,
        }
    }

    /// [`readiness`] for this pane's lesson: the digits' scores, or one output.
    pub fn readiness(&self, specs: &[LayerSpec], input: &[usize]) -> Result<usize, String> {
        if self.outputs == CLASSES {
            readiness(specs, input)
        } else {
            small_readiness(specs, input)
        }
    }

    /// Whether the chooser or a field editor is open (it then sees keys before the global keymap).
    pub fn is_editing(&self) -> bool {
        !matches!(self.mode, Mode::Browse)
    }

    /// Where the chooser's layer goes.
    pub(super) fn insert_at(&self, before: bool) -> usize {
        if self.specs.is_empty() {
            0
        } else if before {
            self.selected.min(self.specs.len())
        } else {
            (self.selected + 1).min(self.specs.len())
        }
    }

    /// A layer of `kind` to insert at `at`, sized to take what the layer before gives and,
    /// for Linear and Conv2d, to give the same on (so a valid model stays valid).
    pub fn new_layer(&self, kind: usize, at: usize) -> LayerSpec {
        let before = &self.specs[..at.min(self.specs.len())];
        let input = match infer_shapes(before, &self.input_shape).pop() {
            None => Some(self.input_shape.clone()),
            Some(r) => r.ok(),
        };
        let at_end = at >= self.specs.len();
        match LayerKind::ALL.get(kind).copied().unwrap_or(LayerKind::ReLU) {
            LayerKind::Linear => {
                let features = input
                    .map(|s| s.iter().product::<usize>())
                    .filter(|&f| f > 0)
                    .unwrap_or(CLASSES);
                // give the next layer what it takes, the scores at the end,
                // else a small hidden layer (never features × features: after
                // a conv layer that is hundreds of millions of parameters)
                let out_features = match self.specs.get(at) {
                    _ if at_end => self.outputs,
                    Some(LayerSpec::Linear { in_features, .. }) => *in_features,
                    _ => features.min(HIDDEN_DEFAULT),
                };
                LayerSpec::Linear {
                    in_features: features,
                    out_features,
                }
            }
            LayerKind::Conv2d => {
                let c = match input.as_deref() {
                    Some(&[c, _, _]) => c,
                    _ => 1,
                };
                LayerSpec::Conv2d {
                    in_channels: c,
                    out_channels: c,
                    kernel_size: 3,
                    stride: 1,
                    padding: 1,
                }
            }
            LayerKind::MaxPool2d => LayerSpec::MaxPool2d {
                kernel_size: 2,
                stride: 2,
            },
            LayerKind::AvgPool2d => LayerSpec::AvgPool2d {
                kernel_size: 2,
                stride: 2,
            },
            LayerKind::ReLU => LayerSpec::ReLU,
            LayerKind::Sigmoid => LayerSpec::Sigmoid,
            LayerKind::Tanh => LayerSpec::Tanh,
            LayerKind::Flatten => LayerSpec::Flatten,
        }
    }

    /// The layers as the table shows them (with the chooser's or editor's pending change in
    /// place), and the highlighted one.
    pub fn preview(&self) -> (Vec<LayerSpec>, usize) {
        match &self.mode {
            Mode::Browse => (self.specs.clone(), self.selected),
            // nothing is inserted until the learner picks a layer: the
            // chooser's lines say what each choice would add
            Mode::Choose { .. } => (self.specs.clone(), self.selected),
            Mode::Edit(ed) => {
                let mut specs = self.specs.clone();
                if let (Ok(spec), Some(slot)) = (ed.build(), specs.get_mut(ed.index)) {
                    *slot = spec;
                }
                (specs, ed.index)
            }
        }
    }
}

/// A layer whose input no longer matches its `in_features` / `in_channels`
/// (after a layer before it changed): the first such layer and the same
/// layer taking what it now gets. `f` applies it.
pub fn offered_fix(specs: &[LayerSpec], input: &[usize]) -> Option<(usize, LayerSpec)> {
    let shapes = infer_shapes(specs, input);
    let i = shapes.iter().position(Result::is_err)?;
    let got = match i {
        0 => input.to_vec(),
        _ => shapes[i - 1].clone().ok()?,
    };
    // the first number of Linear and Conv2d is what they take in
    let takes = match (&specs[i], got.as_slice()) {
        (LayerSpec::Linear { .. }, &[f]) => f,
        (LayerSpec::Conv2d { .. }, &[c, _, _]) => c,
        _ => return None,
    };
    let mut fixed = specs[i].clone();
    fixed.set_param(0, takes);
    // only a fix that makes this layer valid is worth offering
    (fixed.output_shape(&got).is_ok() && fixed != specs[i]).then_some((i, fixed))
}

/// "f sets layer 3's in features to 1,568": the offer in words.
pub fn fix_text(i: usize, spec: &LayerSpec) -> String {
    match (spec, spec.params().first()) {
        (LayerSpec::Linear { .. } | LayerSpec::Conv2d { .. }, Some(p)) => format!(
            "f sets layer {}'s {} to {}",
            i + 1,
            p.name,
            format::count(p.value)
        ),
        _ => format!("f fixes layer {}", i + 1),
    }
}

/// The memory training `specs` takes at [`ESTIMATE_BATCH`], and whether it fits
/// [`TRAIN_MEMORY_BUDGET`]: `Err` says how much, against the budget, and which layer to shrink.
pub fn memory_check(specs: &[LayerSpec], input: &[usize]) -> Result<MemoryEstimate, String> {
    let est = memory_estimate(specs, input, ESTIMATE_BATCH);
    if est.total_bytes() <= TRAIN_MEMORY_BUDGET {
        return Ok(est);
    }
    let biggest = specs
        .iter()
        .enumerate()
        .max_by_key(|(_, s)| s.param_count_u64())
        .filter(|(_, s)| s.param_count_u64() > 0)
        .map(|(i, s)| format!(": make layer {} ({}) smaller", i + 1, s.label()))
        .unwrap_or_default();
    Err(format!(
        "too big to train: needs about {} of memory, over the lab's {} budget{biggest}",
        format::bytes(est.total_bytes()),
        format::bytes(TRAIN_MEMORY_BUDGET),
    ))
}

/// "memory to train (batch 100, f32): parameters, gradients, Adam 784.0 KiB +
/// activations and their gradients 67.6 MiB = 68.4 MiB of the 2.0 GiB budget".
pub fn memory_text(est: &MemoryEstimate) -> String {
    format!(
        "memory to train (batch {}, f32): parameters, gradients, Adam {} + activations and \
         their gradients {} = {} of the {} budget",
        est.batch,
        format::bytes(est.param_bytes()),
        format::bytes(est.activation_bytes()),
        format::bytes(est.total_bytes()),
        format::bytes(TRAIN_MEMORY_BUDGET),
    )
}

/// Whether `specs` can be trained on `input`: `Ok(total params)`, or what to fix first
/// ("fix layer 8: Linear expects 3136 inputs, gets 1568"). Layers count from 1, as in the pane.
pub fn readiness(specs: &[LayerSpec], input: &[usize]) -> Result<usize, String> {
    if specs.is_empty() {
        return Err("no layers yet: a adds one".into());
    }
    let shapes = infer_shapes(specs, input);
    if let Some((i, why)) = shapes
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.as_ref().err().map(|w| (i, w)))
    {
        return Err(format!("fix layer {}: {why}", i + 1));
    }
    match shapes.last() {
        Some(Ok(out)) => match out.as_slice() {
            [n] if *n >= CLASSES => {
                memory_check(specs, input)?;
                Ok(specs.iter().map(LayerSpec::param_count).sum())
            }
            [n] => Err(format!(
                "the model ends with {n} scores; the digits need {CLASSES}"
            )),
            _ => Err(format!(
                "the model ends with {}: end with Flatten and Linear(…, {CLASSES})",
                shape_text(out)
            )),
        },
        _ => Err("no layers yet: a adds one".into()),
    }
}

/// Whether `specs` make a small lesson's model: from the inputs to one
/// output H(x). `Ok(total params)`, or what to fix first.
pub fn small_readiness(specs: &[LayerSpec], input: &[usize]) -> Result<usize, String> {
    if specs.is_empty() {
        return Err("no layers yet: a adds one".into());
    }
    let shapes = infer_shapes(specs, input);
    if let Some((i, why)) = shapes
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.as_ref().err().map(|w| (i, w)))
    {
        return Err(format!("fix layer {}: {why}", i + 1));
    }
    match shapes.last() {
        Some(Ok(out)) if out.as_slice() == [1] => {
            Ok(specs.iter().map(LayerSpec::param_count).sum())
        }
        Some(Ok(out)) => Err(format!(
            "the model ends with {}; H(x) is one number: end with Linear(…, 1)",
            shape_text(out)
        )),
        _ => Err("no layers yet: a adds one".into()),
    }
}

/// `[N,32,28,28]`: the shape format of the layer specs' own messages.
pub use crate::nn::spec::fmt_shape as shape_text;

/// A label for narrow panes: `Conv 1→32 k3 s1 p1`, `Linear 3136→10`, `MaxPool 2 s2`.
pub fn short_label(spec: &LayerSpec, ascii: bool) -> String {
    let to = if ascii { "->" } else { "→" };
    let params = spec.params();
    if params.is_empty() {
        return spec.label();
    }
    // the positional numbers joined by arrows, then the tagged ones: `1→32 k3 s1 p1`
    let positional: Vec<String> = params
        .iter()
        .filter(|p| p.tag.is_empty())
        .map(|p| p.value.to_string())
        .collect();
    let tagged: String = params
        .iter()
        .filter(|p| !p.tag.is_empty())
        .map(|p| format!(" {}{}", p.tag, p.value))
        .collect();
    let name = spec.kind_name().trim_end_matches("2d");
    format!("{name} {}{tagged}", positional.join(to))
}
