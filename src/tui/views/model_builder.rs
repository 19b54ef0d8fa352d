//! The Model pane: the current classifier's layers as an editable list.
//! Each row shows the layer, its output shape and its parameter count, the
//! way Keras' `model.summary()` and torchinfo lay a model out, recomputed
//! from [`infer_shapes`] on every change. A layer that cannot follow its
//! predecessor shows the reason ("Linear expects 3136 inputs, gets 1568")
//! where its shape would be.
//!
//! Editing has three small modes: browsing (j/k select, a/i add, d delete,
//! J/K move, e/Enter edit, u undo), a layer chooser after `a`/`i`, and a
//! field editor after `e`. While the chooser or editor is open the table
//! previews the result, and [`ModelPane::is_editing`] makes the app route
//! keys here before its global keymap (except `q`). The trainer copies
//! `specs` when a run starts, so edits never reach a running worker.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::pane_block;
use crate::lessons::{Lesson, Task};
use crate::nn::spec::infer_shapes;
use crate::nn::LayerSpec;
use crate::tui::app::{App, TrainState};
use crate::tui::keymap;

/// Scores the classifier must end with: one per digit.
pub const CLASSES: usize = 10;
/// The largest count a field accepts: beyond it a layer would not fit in memory anyway.
pub const MAX_VALUE: usize = 65_536;
/// Digits a field takes when typed (enough for [`MAX_VALUE`] and a bit, to say it is too big).
const MAX_DIGITS: usize = 6;
/// Edits `u` can take back.
const UNDO_DEPTH: usize = 100;
/// Below this inner size the pane only says it is too small.
const MIN_INNER_WIDTH: u16 = 16;
const MIN_INNER_HEIGHT: u16 = 2;

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

/// What an editor field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A whole number, at least `min` (and at most [`MAX_VALUE`]).
    Number { min: usize },
    /// One of a few names; the field's value indexes them.
    Choice(&'static [&'static str]),
}

/// One editable parameter of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub value: usize,
}

const POOLS: &[&str] = &["max", "avg"];
const ACTIVATIONS: &[&str] = &["ReLU", "Sigmoid", "Tanh"];

fn number(name: &'static str, value: usize, min: usize) -> Field {
    Field {
        name,
        kind: FieldKind::Number { min },
        value,
    }
}

fn choice(name: &'static str, options: &'static [&'static str], value: usize) -> Field {
    Field {
        name,
        kind: FieldKind::Choice(options),
        value,
    }
}

/// The fields the editor shows for `spec` (none for Flatten).
pub fn fields_of(spec: &LayerSpec) -> Vec<Field> {
    match *spec {
        LayerSpec::Linear {
            in_features,
            out_features,
        } => {
            vec![
                number("in features", in_features, 1),
                number("out features", out_features, 1),
            ]
        }
        LayerSpec::Conv2d {
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
        } => vec![
            number("in channels", in_channels, 1),
            number("out channels", out_channels, 1),
            number("kernel", kernel_size, 1),
            number("stride", stride, 1),
            number("padding", padding, 0),
        ],
        LayerSpec::MaxPool2d {
            kernel_size,
            stride,
        } => {
            vec![
                choice("type", POOLS, 0),
                number("size", kernel_size, 1),
                number("stride", stride, 1),
            ]
        }
        LayerSpec::AvgPool2d {
            kernel_size,
            stride,
        } => {
            vec![
                choice("type", POOLS, 1),
                number("size", kernel_size, 1),
                number("stride", stride, 1),
            ]
        }
        LayerSpec::ReLU => vec![choice("function", ACTIVATIONS, 0)],
        LayerSpec::Sigmoid => vec![choice("function", ACTIVATIONS, 1)],
        LayerSpec::Tanh => vec![choice("function", ACTIVATIONS, 2)],
        LayerSpec::Flatten => Vec::new(),
    }
}

/// The layer `values` describe, in the family of `original` (the inverse of [`fields_of`]).
fn spec_from(original: &LayerSpec, values: &[usize]) -> LayerSpec {
    match (original, values) {
        (LayerSpec::Linear { .. }, &[in_features, out_features]) => LayerSpec::Linear {
            in_features,
            out_features,
        },
        (LayerSpec::Conv2d { .. }, &[in_channels, out_channels, kernel_size, stride, padding]) => {
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
            }
        }
        (
            LayerSpec::MaxPool2d { .. } | LayerSpec::AvgPool2d { .. },
            &[kind, kernel_size, stride],
        ) => {
            if kind == 0 {
                LayerSpec::MaxPool2d {
                    kernel_size,
                    stride,
                }
            } else {
                LayerSpec::AvgPool2d {
                    kernel_size,
                    stride,
                }
            }
        }
        (LayerSpec::ReLU | LayerSpec::Sigmoid | LayerSpec::Tanh, &[f]) => match f {
            0 => LayerSpec::ReLU,
            1 => LayerSpec::Sigmoid,
            _ => LayerSpec::Tanh,
        },
        _ => original.clone(),
    }
}

/// The field editor for one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Editor {
    /// Which layer (index into `specs`).
    pub index: usize,
    pub original: LayerSpec,
    pub fields: Vec<Field>,
    /// The focused field.
    pub field: usize,
    /// Digits typed into the focused field, not yet taken.
    pub typed: Option<String>,
    /// Why the last key was refused ("stride must be at least 1").
    pub error: Option<String>,
}

impl Editor {
    pub fn new(index: usize, spec: &LayerSpec) -> Editor {
        Editor {
            index,
            original: spec.clone(),
            fields: fields_of(spec),
            field: 0,
            typed: None,
            error: None,
        }
    }

    /// Field values with the typed digits in place (an empty entry keeps the old value).
    fn values(&self) -> Vec<usize> {
        let typed = self.typed.as_deref().and_then(|t| t.parse::<usize>().ok());
        self.fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == self.field {
                    typed.unwrap_or(f.value)
                } else {
                    f.value
                }
            })
            .collect()
    }

    /// The edited layer, or why its values make no sense.
    pub fn build(&self) -> Result<LayerSpec, String> {
        let values = self.values();
        for (f, &v) in self.fields.iter().zip(&values) {
            if let FieldKind::Number { min } = f.kind {
                if v < min {
                    return Err(format!("{} must be at least {min}", f.name));
                }
                if v > MAX_VALUE {
                    return Err(format!("{} must be at most {MAX_VALUE}", f.name));
                }
            }
        }
        Ok(spec_from(&self.original, &values))
    }

    fn take_typed(&mut self) {
        if let Some(v) = self.typed.take().and_then(|t| t.parse::<usize>().ok()) {
            if let Some(f) = self.fields.get_mut(self.field) {
                f.value = v;
            }
        }
    }

    fn move_field(&mut self, forward: bool) {
        self.take_typed();
        let n = self.fields.len().max(1);
        self.field = if forward {
            (self.field + 1) % n
        } else {
            (self.field + n - 1) % n
        };
    }

    /// ↑/↓: one more or less, or the next or previous choice.
    fn step(&mut self, up: bool) {
        self.take_typed();
        let Some(f) = self.fields.get_mut(self.field) else {
            return;
        };
        match f.kind {
            FieldKind::Number { min } => {
                if up {
                    if f.value >= MAX_VALUE {
                        self.error = Some(format!("{} must be at most {MAX_VALUE}", f.name));
                    } else {
                        f.value += 1;
                    }
                } else if f.value > min {
                    f.value -= 1;
                } else {
                    self.error = Some(format!("{} must be at least {min}", f.name));
                }
            }
            FieldKind::Choice(options) => {
                let n = options.len().max(1);
                f.value = if up {
                    (f.value + n - 1) % n
                } else {
                    (f.value + 1) % n
                };
            }
        }
    }

    fn type_digit(&mut self, d: char) {
        let Some(f) = self.fields.get_mut(self.field) else {
            return;
        };
        match f.kind {
            FieldKind::Number { .. } => {
                let typed = self.typed.get_or_insert_with(String::new);
                if typed.len() < MAX_DIGITS {
                    typed.push(d);
                }
            }
            // a number picks a choice: 1 ReLU, 2 Sigmoid, 3 Tanh
            FieldKind::Choice(options) => match d.to_digit(10) {
                Some(k) if k >= 1 && (k as usize) <= options.len() => f.value = k as usize - 1,
                _ => self.error = Some(format!("{} is 1 to {}", f.name, options.len())),
            },
        }
    }

    fn backspace(&mut self) {
        let Some(f) = self.fields.get(self.field) else {
            return;
        };
        if let FieldKind::Number { .. } = f.kind {
            let value = f.value;
            let typed = self.typed.get_or_insert_with(|| value.to_string());
            typed.pop();
        }
    }

    /// The focused field's value as shown (typed digits with a cursor).
    fn shown(&self, i: usize, cursor: &str) -> String {
        let Some(f) = self.fields.get(i) else {
            return String::new();
        };
        match (f.kind, &self.typed) {
            (FieldKind::Number { .. }, Some(t)) if i == self.field => format!("{t}{cursor}"),
            (FieldKind::Number { .. }, _) => f.value.to_string(),
            (FieldKind::Choice(options), _) => {
                options.get(f.value).copied().unwrap_or("?").to_string()
            }
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
        }
    }

    /// Whether the chooser or a field editor is open (it then sees keys before the global keymap).
    pub fn is_editing(&self) -> bool {
        !matches!(self.mode, Mode::Browse)
    }

    /// Keys for this pane; true if used. Global keys (q ? s r Space + - l, and Tab/Esc
    /// while browsing) are left alone.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release
            || key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        match self.mode {
            Mode::Browse => self.browse_key(key),
            Mode::Choose { .. } => self.choose_key(key),
            Mode::Edit(_) => self.edit_key(key),
        }
    }

    fn browse_key(&mut self, key: KeyEvent) -> bool {
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        self.note = None;
        match key.code {
            KeyCode::Up if shift => self.move_selected(true),
            KeyCode::Down if shift => self.move_selected(false),
            KeyCode::Char('K') => self.move_selected(true),
            KeyCode::Char('J') => self.move_selected(false),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.specs.len().saturating_sub(1))
            }
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = self.specs.len().saturating_sub(1),
            KeyCode::Char('a') => {
                self.mode = Mode::Choose {
                    kind: 0,
                    before: false,
                }
            }
            KeyCode::Char('i') => {
                self.mode = Mode::Choose {
                    kind: 0,
                    before: true,
                }
            }
            KeyCode::Char('d') | KeyCode::Delete => self.remove(),
            KeyCode::Char('e') | KeyCode::Enter => self.open_editor(),
            KeyCode::Char('u') => self.undo(),
            _ => return false,
        }
        true
    }

    fn choose_key(&mut self, key: KeyEvent) -> bool {
        let Mode::Choose { kind, before } = self.mode else {
            return false;
        };
        let n = LayerKind::ALL.len();
        match key.code {
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => {
                self.mode = Mode::Choose {
                    kind: (kind + n - 1) % n,
                    before,
                }
            }
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => {
                self.mode = Mode::Choose {
                    kind: (kind + 1) % n,
                    before,
                }
            }
            KeyCode::Char(c @ '1'..='8') => {
                let k = c as usize - '1' as usize;
                self.insert(k, before);
            }
            KeyCode::Enter => self.insert(kind, before),
            KeyCode::Esc => self.mode = Mode::Browse,
            // swallow the rest, so a stray key cannot delete or move layers while choosing
            _ => return keymap::intent(&key, true).is_none(),
        }
        true
    }

    fn edit_key(&mut self, key: KeyEvent) -> bool {
        let Mode::Edit(ed) = &mut self.mode else {
            return false;
        };
        let single = ed.fields.len() == 1;
        let before = ed.error.take();
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Browse;
                return true;
            }
            KeyCode::Enter => return self.apply_edit(),
            KeyCode::Tab => ed.move_field(true),
            KeyCode::BackTab => ed.move_field(false),
            // with one field there is nothing to move to, so ←/→ change its value
            KeyCode::Right if single => ed.step(false),
            KeyCode::Left if single => ed.step(true),
            KeyCode::Right => ed.move_field(true),
            KeyCode::Left => ed.move_field(false),
            KeyCode::Up => ed.step(true),
            KeyCode::Down => ed.step(false),
            KeyCode::Char(d @ '0'..='9') => ed.type_digit(d),
            KeyCode::Backspace => ed.backspace(),
            _ => {
                ed.error = before;
                return keymap::intent(&key, true).is_none();
            }
        }
        true
    }

    fn apply_edit(&mut self) -> bool {
        let Mode::Edit(ed) = &mut self.mode else {
            return false;
        };
        match ed.build() {
            Ok(spec) => {
                let index = ed.index;
                self.mode = Mode::Browse;
                if self.specs.get(index) != Some(&spec) {
                    self.push_undo();
                    if let Some(slot) = self.specs.get_mut(index) {
                        *slot = spec;
                    }
                }
                self.selected = index;
            }
            Err(why) => ed.error = Some(why),
        }
        true
    }

    fn open_editor(&mut self) {
        match self.specs.get(self.selected) {
            None => self.note = Some("no layer to edit: a adds one".into()),
            Some(LayerSpec::Flatten) => self.note = Some("Flatten has nothing to set".into()),
            Some(spec) => self.mode = Mode::Edit(Editor::new(self.selected, spec)),
        }
    }

    fn push_undo(&mut self) {
        if self.undo.len() >= UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.undo.push((self.specs.clone(), self.selected));
    }

    fn undo(&mut self) {
        match self.undo.pop() {
            Some((specs, selected)) => {
                self.specs = specs;
                self.selected = selected.min(self.specs.len().saturating_sub(1));
                self.note = Some("undone".into());
            }
            None => self.note = Some("nothing to undo".into()),
        }
    }

    fn remove(&mut self) {
        if self.selected >= self.specs.len() {
            self.note = Some("no layer to delete".into());
            return;
        }
        self.push_undo();
        let gone = self.specs.remove(self.selected);
        self.note = Some(format!(
            "deleted layer {} ({}); u undoes",
            self.selected + 1,
            gone.label()
        ));
        self.selected = self.selected.min(self.specs.len().saturating_sub(1));
    }

    fn move_selected(&mut self, up: bool) {
        let i = self.selected;
        let j = if up { i.checked_sub(1) } else { Some(i + 1) };
        match j {
            Some(j) if i < self.specs.len() && j < self.specs.len() => {
                self.push_undo();
                self.specs.swap(i, j);
                self.selected = j;
            }
            _ => {
                self.note = Some(if up {
                    "already the first layer".into()
                } else {
                    "already the last layer".into()
                })
            }
        }
    }

    /// Where the chooser's layer goes.
    fn insert_at(&self, before: bool) -> usize {
        if self.specs.is_empty() {
            0
        } else if before {
            self.selected.min(self.specs.len())
        } else {
            (self.selected + 1).min(self.specs.len())
        }
    }

    fn insert(&mut self, kind: usize, before: bool) {
        let at = self.insert_at(before);
        let spec = self.new_layer(kind, at);
        self.push_undo();
        self.specs.insert(at, spec);
        self.selected = at;
        self.mode = Mode::Browse;
        self.note = Some(format!("added layer {}; e edits it", at + 1));
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
                LayerSpec::Linear {
                    in_features: features,
                    out_features: if at_end { CLASSES } else { features },
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
            Mode::Choose { kind, before } => {
                let at = self.insert_at(*before);
                let mut specs = self.specs.clone();
                specs.insert(at, self.new_layer(*kind, at));
                (specs, at)
            }
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
            [n] if *n >= CLASSES => Ok(specs.iter().map(LayerSpec::param_count).sum()),
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

/// `[N,32,28,28]`
pub fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[N,{}]", dims.join(","))
}

/// A label for narrow panes: `Conv 1→32 k3 s1 p1`, `Linear 3136→10`, `MaxPool 2 s2`.
pub fn short_label(spec: &LayerSpec, ascii: bool) -> String {
    let to = if ascii { "->" } else { "→" };
    match *spec {
        LayerSpec::Linear {
            in_features,
            out_features,
        } => format!("Linear {in_features}{to}{out_features}"),
        LayerSpec::Conv2d {
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
        } => {
            format!("Conv {in_channels}{to}{out_channels} k{kernel_size} s{stride} p{padding}")
        }
        LayerSpec::MaxPool2d {
            kernel_size,
            stride,
        } => format!("MaxPool {kernel_size} s{stride}"),
        LayerSpec::AvgPool2d {
            kernel_size,
            stride,
        } => format!("AvgPool {kernel_size} s{stride}"),
        _ => spec.label(),
    }
}

// ---------------------------------------------------------------- drawing

/// The glyphs the pane uses, with plain stand-ins for `--ascii`.
struct Glyphs {
    selected: &'static str,
    ok: &'static str,
    bad: &'static str,
    cursor: &'static str,
    more: &'static str,
    ascii: bool,
}

impl Glyphs {
    fn new(ascii: bool) -> Glyphs {
        if ascii {
            Glyphs {
                selected: ">",
                ok: "ok",
                bad: "x",
                cursor: "_",
                more: "...",
                ascii,
            }
        } else {
            Glyphs {
                selected: "▶",
                ok: "✓",
                bad: "✗",
                cursor: "▏",
                more: "…",
                ascii,
            }
        }
    }
}

fn width_of(s: &str) -> usize {
    Span::raw(s).width()
}

/// `s` cut to `w` cells, ending in `more` when cut.
fn fit(s: &str, w: usize, more: &str) -> String {
    if width_of(s) <= w {
        return s.to_string();
    }
    let keep = w.saturating_sub(width_of(more));
    let mut out = String::new();
    for ch in s.chars() {
        if width_of(&out) + width_of(ch.encode_utf8(&mut [0; 4])) > keep {
            break;
        }
        out.push(ch);
    }
    if w >= width_of(more) {
        out.push_str(more);
    }
    out
}

/// Greedy word wrap into lines of at most `w` cells (long words are cut).
fn wrap(text: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width_of(&candidate) <= w {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_string();
        while width_of(&rest) > w {
            let head: String = rest.chars().take(w).collect();
            rest = rest.chars().skip(w).collect();
            lines.push(head);
        }
        line = rest;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The first of `candidates` that fits in `w` cells (or the last, cut).
fn pick<'a>(candidates: &[&'a str], w: usize) -> &'a str {
    candidates
        .iter()
        .copied()
        .find(|c| width_of(c) <= w)
        .or(candidates.last().copied())
        .unwrap_or("")
}

/// A block of lines under the table; `keep` says which survive a short pane (higher stays).
struct Part {
    lines: Vec<Line<'static>>,
    keep: u8,
}

/// One table row, before layout.
struct Row {
    index: String,
    label: String,
    short: String,
    shape: Result<String, String>,
    params: Option<usize>,
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let pane = &app.builder;
    let input: &[usize] = match &app.lesson.task {
        Task::Classifier { input_shape, .. } => input_shape,
        _ => &pane.input_shape,
    };
    let g = Glyphs::new(app.ascii);
    let (specs, selected) = pane.preview();
    let shapes = infer_shapes(&specs, input);
    let total: usize = specs.iter().map(LayerSpec::param_count).sum();
    let ready = readiness(&specs, input);

    let title_style = if ready.is_ok() {
        Style::new().fg(Color::Green)
    } else {
        Style::new().fg(Color::Red)
    };
    let block = pane_block("Model", focused, app.ascii)
        .title_top(Line::styled(format!(" {total} params "), title_style).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < MIN_INNER_WIDTH || inner.height < MIN_INNER_HEIGHT {
        if !inner.is_empty() {
            buf.set_stringn(
                inner.x,
                inner.y,
                "too small",
                inner.width as usize,
                Style::new().fg(Color::DarkGray),
            );
        }
        return;
    }
    let w = inner.width as usize;

    // ---- the parts under the table, in the order they are drawn
    let mut parts: Vec<Part> = Vec::new();
    let status = match &ready {
        Ok(_) => {
            let long = format!(
                "{} ready to train · {} layers · {total} params",
                g.ok,
                specs.len()
            );
            let mid = format!("{} ready to train · {total} params", g.ok);
            let short = format!("{} ready to train", g.ok);
            let text = pick(&[&long, &mid, &short], w);
            vec![Line::styled(
                fit(text, w, g.more),
                Style::new().fg(Color::Green),
            )]
        }
        Err(why) => wrap(&format!("{} {why}", g.bad), w)
            .into_iter()
            .take(3)
            .map(|l| Line::styled(l, Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)))
            .collect(),
    };
    parts.push(Part {
        lines: status,
        keep: 4,
    });

    let edited = pane.specs != app.trained_specs && !app.trained_specs.is_empty();
    let run_note = match app.train_state {
        TrainState::Running | TrainState::Paused if edited => {
            Some("the run in progress keeps its own model; r then s trains this one")
        }
        TrainState::Finished | TrainState::Failed(_) if edited => {
            Some("changed since the last run; s trains it")
        }
        _ => None,
    };
    if let Some(n) = run_note {
        let lines = wrap(n, w)
            .into_iter()
            .map(|l| Line::styled(l, Style::new().fg(Color::Yellow)))
            .collect();
        parts.push(Part { lines, keep: 1 });
    }
    if let Some(n) = &pane.note {
        parts.push(Part {
            lines: vec![Line::styled(
                fit(n, w, g.more),
                Style::new().fg(Color::Cyan),
            )],
            keep: 2,
        });
    }
    let hint = match &pane.mode {
        Mode::Browse => {
            if zoomed {
                pick(
                    &[
                        "↑↓ select · a/i add after/before · d delete · J/K move · Enter/e edit · u undo",
                        "↑↓ select · a add · d delete · J/K move · Enter edit · u undo",
                        "↑↓ · a add · d del · J/K move · e edit",
                        "a add · d del · e edit",
                    ],
                    w,
                )
            } else {
                pick(
                    &[
                        "j/k select · a/i add after/before · d delete · J/K move · e edit · u undo",
                        "j/k select · a add · d delete · J/K move · e edit · u undo",
                        "j/k · a add · d del · J/K move · e edit · u undo",
                        "j/k·a add·d del·J/K move·e edit·u undo",
                        "a add · d del · e edit",
                    ],
                    w,
                )
            }
        }
        Mode::Choose { kind, before } => {
            parts.push(Part {
                lines: chooser_lines(*kind, *before, selected, w, &g),
                keep: 6,
            });
            pick(
                &[
                    "←/→ or 1-8 choose · Enter add · Esc cancel",
                    "←→/1-8 · Enter add · Esc",
                    "Enter · Esc",
                ],
                w,
            )
        }
        Mode::Edit(ed) => {
            parts.push(Part {
                lines: editor_lines(ed, w, &g),
                keep: 6,
            });
            if let Some(e) = &ed.error {
                let style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
                parts.push(Part {
                    lines: vec![Line::styled(
                        fit(&format!("{} {e}", g.bad), w, g.more),
                        style,
                    )],
                    keep: 5,
                });
            }
            pick(
                &[
                    "Tab/←→ field · ↑↓ or digits change · Enter apply · Esc cancel",
                    "Tab field · ↑↓/0-9 · Enter apply · Esc",
                    "Enter · Esc",
                ],
                w,
            )
        }
    };
    parts.push(Part {
        lines: vec![Line::styled(
            fit(hint, w, g.more),
            Style::new().fg(Color::DarkGray),
        )],
        keep: 3,
    });

    // keep the table at least a third of the pane; drop the least needed parts first
    let min_table = (inner.height as usize / 3).max(1);
    let budget = (inner.height as usize).saturating_sub(min_table);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].keep));
    let mut used = 0;
    let mut shown = vec![false; parts.len()];
    for i in order {
        let h = parts[i].lines.len();
        if used + h <= budget {
            shown[i] = true;
            used += h;
        }
    }
    let footer: Vec<Line> = parts
        .into_iter()
        .zip(shown)
        .filter(|(_, s)| *s)
        .flat_map(|(p, _)| p.lines)
        .collect();
    let footer_h = footer.len() as u16;
    let table_area = Rect {
        height: inner.height.saturating_sub(footer_h),
        ..inner
    };
    for (k, line) in footer.iter().enumerate() {
        buf.set_line(inner.x, table_area.bottom() + k as u16, line, inner.width);
    }

    // ---- the table
    let mut rows = vec![Row {
        index: String::new(),
        label: "input".into(),
        short: "input".into(),
        shape: Ok(shape_text(input)),
        params: None,
    }];
    for (i, (spec, shape)) in specs.iter().zip(&shapes).enumerate() {
        rows.push(Row {
            index: (i + 1).to_string(),
            label: spec.label(),
            short: short_label(spec, app.ascii),
            shape: shape
                .as_ref()
                .map(|s| shape_text(s))
                .map_err(|e| format!("{} {e}", g.bad)),
            params: Some(spec.param_count()),
        });
    }
    let pending = pane.is_editing();
    let highlight = (!specs.is_empty()).then_some(selected + 1);
    draw_table(
        &rows, highlight, pending, zoomed, table_area, buf, &g, total,
    );
}

/// "add after layer 3: 1 Linear 2 Conv2d …", or one short line when the pane is narrow.
fn chooser_lines(kind: usize, before: bool, at: usize, w: usize, g: &Glyphs) -> Vec<Line<'static>> {
    let place = if before { "before" } else { "after" };
    let head = format!("add layer {} ({place} the selection):", at + 1);
    let mut lines = vec![Line::styled(
        fit(&head, w, g.more),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    // options as units that do not split across lines
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut line_w = 0;
    let mut option_lines: Vec<Line<'static>> = Vec::new();
    for (i, k) in LayerKind::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, k.name());
        let tw = width_of(&text);
        if line_w + tw > w && !line.is_empty() {
            option_lines.push(Line::from(std::mem::take(&mut line)));
            line_w = 0;
        }
        let style = if i == kind {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        line.push(Span::styled(text, style));
        line_w += tw;
    }
    if !line.is_empty() {
        option_lines.push(Line::from(line));
    }
    if option_lines.len() <= 2 {
        lines.extend(option_lines);
    } else {
        // narrow: one line with the current choice
        let name = LayerKind::ALL.get(kind).map_or("?", |k| k.name());
        let (l, r) = if g.ascii { ("<", ">") } else { ("‹", "›") };
        let text = format!("{l} {} {name} {r} of {}", kind + 1, LayerKind::ALL.len());
        lines.push(Line::styled(
            fit(&text, w, g.more),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
    }
    lines
}

/// "edit layer 4, Conv2d: in channels 32 · [out channels 64▏] · kernel 3 · …", or the focused field alone.
fn editor_lines(ed: &Editor, w: usize, g: &Glyphs) -> Vec<Line<'static>> {
    let long = format!("edit layer {} ({}):", ed.index + 1, ed.original.label());
    let short = format!(
        "edit layer {} ({}):",
        ed.index + 1,
        short_label(&ed.original, g.ascii)
    );
    let head = pick(&[&long, &short], w);
    let mut lines = vec![Line::styled(
        fit(head, w, g.more),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let focus = Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (i, f) in ed.fields.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" · "));
        }
        let text = format!(" {} {} ", f.name, ed.shown(i, g.cursor));
        spans.push(Span::styled(
            text,
            if i == ed.field { focus } else { Style::new() },
        ));
    }
    let full = Line::from(spans);
    if full.width() <= w {
        lines.push(full);
    } else if let Some(f) = ed.fields.get(ed.field) {
        let text = format!(" {} = {} ", f.name, ed.shown(ed.field, g.cursor));
        let pos = format!(" ({}/{}, Tab next)", ed.field + 1, ed.fields.len());
        lines.push(Line::from(vec![
            Span::styled(fit(&text, w, g.more), focus),
            Span::raw(pos),
        ]));
    }
    lines
}

#[allow(clippy::too_many_arguments)]
fn draw_table(
    rows: &[Row],
    highlight: Option<usize>,
    pending: bool,
    zoomed: bool,
    area: Rect,
    buf: &mut Buffer,
    g: &Glyphs,
    total: usize,
) {
    if area.is_empty() {
        return;
    }
    let avail = area.width as usize;
    let h = area.height as usize;
    let show_header = h >= 4 && (zoomed || h > rows.len() + 1);
    let show_total = zoomed && h >= 3 + show_header as usize;

    // ---- columns: marker, index, label, shape, params (right-aligned)
    let idx_w = rows.iter().map(|r| r.index.len()).max().unwrap_or(1).max(1);
    let lead = 1 + idx_w + 1;
    let shape_w = rows
        .iter()
        .filter_map(|r| r.shape.as_ref().ok())
        .map(|s| width_of(s))
        .chain(show_header.then_some(6))
        .max()
        .unwrap_or(0);
    let reason_w = rows
        .iter()
        .filter_map(|r| r.shape.as_ref().err())
        .map(|s| width_of(s))
        .max()
        .unwrap_or(0);
    let params_w = rows
        .iter()
        .filter_map(|r| r.params)
        .chain(show_total.then_some(total))
        .map(|p| p.to_string().len())
        .chain(show_header.then_some(6))
        .max()
        .unwrap_or(1);
    let full_w = rows
        .iter()
        .map(|r| width_of(&r.label))
        .chain(Some(5))
        .max()
        .unwrap_or(5);
    let short_w = rows
        .iter()
        .map(|r| width_of(&r.short))
        .chain(Some(5))
        .max()
        .unwrap_or(5);
    let fits = |label: usize, gap: usize, params: bool| {
        lead + label + gap + shape_w + if params { 2 + params_w } else { 0 } <= avail
    };
    let (use_short, label_w, gap, show_params) = if fits(full_w, 2, true) {
        (false, full_w, 2, true)
    } else if fits(short_w, 1, true) {
        (true, short_w, 1, true)
    } else if fits(short_w, 1, false) {
        (true, short_w, 1, false)
    } else {
        (
            true,
            avail
                .saturating_sub(lead + 1 + shape_w)
                .max(avail.saturating_sub(lead) / 2),
            1,
            false,
        )
    };
    let x_label = lead;
    let x_shape = (x_label + label_w + gap).min(avail);
    let rest = avail.saturating_sub(x_shape);
    let params_room = if show_params { 2 + params_w } else { 0 };
    let shape_col = rest
        .saturating_sub(params_room)
        .min(shape_w.max(reason_w))
        .max(shape_w.min(rest));
    let x_params = x_shape + shape_col + 2;

    let dim = Style::new().fg(Color::DarkGray);
    let mut y = area.y;
    let bottom = area.bottom();
    let put = |buf: &mut Buffer, x: usize, y: u16, text: &str, w: usize, style: Style| {
        if x < avail && w > 0 {
            buf.set_stringn(area.x + x as u16, y, text, w.min(avail - x), style);
        }
    };

    if show_header {
        let style = dim.add_modifier(Modifier::BOLD);
        put(buf, 1, y, &format!("{:>idx_w$}", "#"), idx_w, style);
        put(buf, x_label, y, "layer", label_w, style);
        put(buf, x_shape, y, "output", shape_col, style);
        if show_params {
            put(
                buf,
                x_params,
                y,
                &format!("{:>params_w$}", "params"),
                params_w,
                style,
            );
        }
        y += 1;
    }
    let visible = (bottom.saturating_sub(y) as usize).saturating_sub(show_total as usize);
    let offset = match highlight {
        Some(sel) if rows.len() > visible => {
            sel.saturating_sub(visible / 2).min(rows.len() - visible)
        }
        _ => 0,
    };
    for (i, row) in rows.iter().enumerate().skip(offset).take(visible) {
        let is_sel = highlight == Some(i);
        let base = if is_sel {
            let s = Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD);
            if pending {
                s.fg(Color::Cyan)
            } else {
                s
            }
        } else if i == 0 {
            dim
        } else {
            Style::new()
        };
        if is_sel {
            buf.set_style(Rect::new(area.x, y, area.width, 1), base);
            put(buf, 0, y, g.selected, 1, base);
        }
        put(buf, 1, y, &format!("{:>idx_w$}", row.index), idx_w, base);
        let label = if use_short { &row.short } else { &row.label };
        put(buf, x_label, y, &fit(label, label_w, g.more), label_w, base);
        match &row.shape {
            Ok(shape) => {
                put(
                    buf,
                    x_shape,
                    y,
                    &fit(shape, shape_col, g.more),
                    shape_col,
                    base,
                );
                if let (true, Some(p)) = (show_params, row.params) {
                    put(buf, x_params, y, &format!("{p:>params_w$}"), params_w, base);
                }
            }
            Err(why) => {
                let red = base.fg(Color::Red);
                if width_of(why) <= shape_col || !show_params {
                    put(
                        buf,
                        x_shape,
                        y,
                        &fit(why, shape_col, g.more),
                        shape_col,
                        red,
                    );
                    if let (true, Some(p)) = (show_params, row.params) {
                        put(buf, x_params, y, &format!("{p:>params_w$}"), params_w, base);
                    }
                } else {
                    // the reason matters more than this row's count: let it take the params column
                    let room = avail.saturating_sub(x_shape);
                    put(buf, x_shape, y, &fit(why, room, g.more), room, red);
                }
            }
        }
        y += 1;
    }
    if show_total && y < bottom {
        let style = Style::new().add_modifier(Modifier::BOLD);
        put(buf, x_label, y, "total", label_w, style);
        if show_params {
            put(
                buf,
                x_params,
                y,
                &format!("{total:>params_w$}"),
                params_w,
                style,
            );
        }
    }
}
