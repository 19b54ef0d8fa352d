//! A layer's editable fields (the numbers and choices `e` opens) and the
//! field editor: typing digits, ↑/↓ stepping, limits, and turning the values
//! back into a [`LayerSpec`].

use super::MAX_VALUE;
use crate::nn::LayerSpec;

/// Digits a field takes when typed (enough for [`MAX_VALUE`] and a bit, to say it is too big).
const MAX_DIGITS: usize = 6;

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
        }
        | LayerSpec::AvgPool2d {
            kernel_size,
            stride,
        } => {
            let avg = matches!(spec, LayerSpec::AvgPool2d { .. });
            vec![
                choice("type", POOLS, usize::from(avg)),
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

    pub(super) fn move_field(&mut self, forward: bool) {
        self.take_typed();
        let n = self.fields.len().max(1);
        self.field = if forward {
            (self.field + 1) % n
        } else {
            (self.field + n - 1) % n
        };
    }

    /// ↑/↓: one more or less, or the next or previous choice.
    pub(super) fn step(&mut self, up: bool) {
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

    pub(super) fn type_digit(&mut self, d: char) {
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

    pub(super) fn backspace(&mut self) {
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
    pub(super) fn shown(&self, i: usize, cursor: &str) -> String {
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
