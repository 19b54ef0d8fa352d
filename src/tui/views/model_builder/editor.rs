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

/// The kinds a choice field switches between (the numbers carry over), with the choice's names.
fn choices(spec: &LayerSpec) -> Option<(&'static str, &'static [&'static str], Vec<LayerSpec>)> {
    const POOL: usize = 1; // placeholder: the edited numbers replace it
    let pool = |avg: bool| {
        if avg {
            LayerSpec::AvgPool2d {
                kernel_size: POOL,
                stride: POOL,
            }
        } else {
            LayerSpec::MaxPool2d {
                kernel_size: POOL,
                stride: POOL,
            }
        }
    };
    match spec {
        LayerSpec::MaxPool2d { .. } | LayerSpec::AvgPool2d { .. } => {
            Some(("type", POOLS, vec![pool(false), pool(true)]))
        }
        LayerSpec::ReLU | LayerSpec::Sigmoid | LayerSpec::Tanh => Some((
            "function",
            ACTIVATIONS,
            vec![LayerSpec::ReLU, LayerSpec::Sigmoid, LayerSpec::Tanh],
        )),
        _ => None,
    }
}

/// The fields the editor shows for `spec` (none for Flatten): a choice of
/// kind where there is one, then the layer's numbers ([`LayerSpec::params`]).
pub fn fields_of(spec: &LayerSpec) -> Vec<Field> {
    let choice = choices(spec).map(|(name, options, kinds)| Field {
        name,
        kind: FieldKind::Choice(options),
        value: kinds
            .iter()
            .position(|k| std::mem::discriminant(k) == std::mem::discriminant(spec))
            .unwrap_or(0),
    });
    choice
        .into_iter()
        .chain(spec.params().into_iter().map(|p| Field {
            name: p.name,
            kind: FieldKind::Number { min: p.min },
            value: p.value,
        }))
        .collect()
}

/// The layer `values` describe, in the family of `original` (the inverse of [`fields_of`]).
fn spec_from(original: &LayerSpec, values: &[usize]) -> LayerSpec {
    let (mut spec, numbers) = match choices(original) {
        Some((_, _, kinds)) => match values.split_first() {
            Some((&k, rest)) => (kinds[k.min(kinds.len() - 1)].clone(), rest),
            None => return original.clone(),
        },
        None => (original.clone(), values),
    };
    if numbers.len() != spec.params().len() {
        return original.clone();
    }
    for (i, &v) in numbers.iter().enumerate() {
        spec.set_param(i, v);
    }
    spec
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Vec<LayerSpec> {
        vec![
            LayerSpec::Linear {
                in_features: 784,
                out_features: 10,
            },
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 32,
                kernel_size: 3,
                stride: 1,
                padding: 1,
            },
            LayerSpec::MaxPool2d {
                kernel_size: 2,
                stride: 2,
            },
            LayerSpec::AvgPool2d {
                kernel_size: 3,
                stride: 1,
            },
            LayerSpec::ReLU,
            LayerSpec::Sigmoid,
            LayerSpec::Tanh,
            LayerSpec::Flatten,
        ]
    }

    #[test]
    fn editor_fields_are_the_spec_table_and_round_trip() {
        let names = |s: &LayerSpec| fields_of(s).iter().map(|f| f.name).collect::<Vec<_>>();
        let k = kinds();
        assert_eq!(names(&k[0]), ["in features", "out features"]);
        assert_eq!(
            names(&k[1]),
            ["in channels", "out channels", "kernel", "stride", "padding"]
        );
        assert_eq!(names(&k[2]), ["type", "size", "stride"]);
        assert_eq!(names(&k[3]), ["type", "size", "stride"]);
        for s in &k[4..7] {
            assert_eq!(names(s), ["function"]);
        }
        assert!(names(&k[7]).is_empty());
        assert_eq!(fields_of(&k[3])[0].value, 1);
        assert_eq!(fields_of(&k[5])[0].value, 1);
        assert_eq!(fields_of(&k[1])[4].kind, FieldKind::Number { min: 0 });
        for spec in &k {
            // unchanged values give the same layer back
            assert_eq!(Editor::new(0, spec).build().as_ref(), Ok(spec));
        }
        // the pool choice switches kind and keeps the numbers
        let mut ed = Editor::new(0, &k[2]);
        ed.step(false);
        assert_eq!(
            ed.build(),
            Ok(LayerSpec::AvgPool2d {
                kernel_size: 2,
                stride: 2
            })
        );
        let mut ed = Editor::new(0, &k[4]);
        ed.type_digit('3');
        assert_eq!(ed.build(), Ok(LayerSpec::Tanh));
    }

    #[test]
    fn short_labels_come_from_the_spec_table() {
        use super::super::short_label;
        let labels: Vec<String> = kinds().iter().map(|s| short_label(s, false)).collect();
        assert_eq!(
            labels,
            [
                "Linear 784→10",
                "Conv 1→32 k3 s1 p1",
                "MaxPool 2 s2",
                "AvgPool 3 s1",
                "ReLU",
                "Sigmoid",
                "Tanh",
                "Flatten"
            ]
        );
        assert_eq!(short_label(&kinds()[0], true), "Linear 784->10");
    }
}
