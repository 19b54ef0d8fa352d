//! Rewind: the lab keeps each run's history, and a timeline in the Loss
//! pane (`[`/`]`, ←/→ when the pane is open, `{`/`}` ten at a time) moves
//! a cursor over the recorded epochs. The other panes then draw that
//! epoch: the small lessons' pictures (the parabola, the fitted line, the
//! XOR boundaries, the update and the graph) from the parameters recorded
//! after that epoch's step, and the CNN's conv1 filters from the model
//! recorded at the end of that epoch. Each is labelled "epoch k of n
//! (rewound)". Any key that trains (Space, s, r) goes back to live.
//!
//! What is kept is bounded: a [`Timeline`] holds at most its capacity of
//! snapshots, and when full keeps every other one and records half as
//! often (the way the loss history thins, see `train::history`).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::app::{App, PaneId};
use super::stepper::Stepper;
use super::views::{self, conv_viz::ConvPane};
use crate::nn::Sequential;

/// Snapshots a small lesson keeps (its parameters are a handful of numbers).
pub const SMALL_CAPACITY: usize = 1024;
/// Models a classifier run keeps, one per epoch (cnn-mnist: about 200 KB each).
pub const MODEL_CAPACITY: usize = 64;
/// Recorded epochs `{` and `}` move.
pub const BIG_STEP: isize = 10;

/// Snapshots by epoch, bounded: once `capacity` is reached every other one
/// is dropped and only every `stride`-th epoch is recorded from then on.
#[derive(Clone, Debug)]
pub struct Timeline<T> {
    items: Vec<(usize, T)>,
    stride: usize,
    capacity: usize,
}

impl<T> Timeline<T> {
    pub fn new(capacity: usize) -> Self {
        Timeline {
            items: Vec::new(),
            stride: 1,
            capacity: capacity.max(2),
        }
    }

    /// Record `item` as of `epoch` (skipped between strides).
    pub fn push(&mut self, epoch: usize, item: T) {
        if epoch % self.stride != 0 {
            return;
        }
        self.items.push((epoch, item));
        if self.items.len() >= self.capacity {
            self.stride *= 2;
            let stride = self.stride;
            self.items.retain(|(e, _)| e % stride == 0);
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `i`-th recorded (epoch, snapshot), oldest first.
    pub fn get(&self, i: usize) -> Option<&(usize, T)> {
        self.items.get(i)
    }

    /// The recorded epochs, oldest first.
    pub fn epochs(&self) -> impl Iterator<Item = usize> + '_ {
        self.items.iter().map(|(e, _)| *e)
    }

    /// Epochs between two recorded ones (1, 2, 4, …).
    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn clear(&mut self) {
        self.items.clear();
        self.stride = 1;
    }
}

/// The lab's rewind state: the classifier's models per epoch, the cursor,
/// and what the panes draw at the cursor (computed in `update`).
pub struct Rewind {
    /// The classifier run's model at the end of each epoch.
    pub models: Timeline<Arc<Sequential>>,
    /// Index into the timeline shown (None: live).
    pub cursor: Option<usize>,
    /// "epoch k of n (rewound)".
    pub label: String,
    /// The small lesson as it was at the cursor.
    pub stepper: Option<Stepper>,
    /// The Conv/Pool pane with conv1 as it was at the cursor.
    pub conv: Option<ConvPane>,
    /// An epoch just reported, whose model the next snapshot carries.
    pub pending: Option<usize>,
}

impl Default for Rewind {
    fn default() -> Self {
        Rewind {
            models: Timeline::new(MODEL_CAPACITY),
            cursor: None,
            label: String::new(),
            stepper: None,
            conv: None,
            pending: None,
        }
    }
}

impl Rewind {
    /// Back to live, forgetting the classifier's models (a new run).
    pub fn clear(&mut self) {
        *self = Rewind::default();
    }

    /// Back to live, keeping the history.
    pub fn go_live(&mut self) {
        self.cursor = None;
        self.label.clear();
        self.stepper = None;
        self.conv = None;
    }

    pub fn is_live(&self) -> bool {
        self.cursor.is_none()
    }
}

impl App {
    /// How many epochs the timeline has recorded.
    fn timeline_len(&self) -> usize {
        match &self.stepper {
            Some(s) => s.history.len(),
            None => self.rewind.models.len(),
        }
    }

    /// The Loss pane's timeline keys; true if used.
    pub fn timeline_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let by = match key.code {
            KeyCode::Char('[') => -1,
            KeyCode::Char(']') => 1,
            KeyCode::Left if self.zoomed => -1,
            KeyCode::Right if self.zoomed => 1,
            KeyCode::Char('{') => -BIG_STEP,
            KeyCode::Char('}') => BIG_STEP,
            _ => return false,
        };
        self.move_cursor(by);
        true
    }

    /// Move the timeline cursor by `by` recorded epochs. From live, back
    /// starts at the one before the last (the last is what live shows);
    /// on to the last is live again.
    pub fn move_cursor(&mut self, by: isize) {
        let n = self.timeline_len() as isize;
        if n == 0 {
            self.message = Some("nothing recorded yet: train or step first, then [ rewinds".into());
            return;
        }
        let at = match self.rewind.cursor {
            Some(i) => i as isize + by,
            None if by < 0 => n - 1 + by,
            None => return,
        };
        // the last recorded epoch is what live shows
        if at >= n - 1 && by > 0 {
            self.go_live();
            self.message = Some("live again".into());
            return;
        }
        self.rewind_to(at.max(0) as usize);
    }

    /// Show recorded epoch `i` in the panes.
    pub fn rewind_to(&mut self, i: usize) {
        let label = match &self.stepper {
            Some(s) => {
                let Some(&(epoch, _)) = s.history.get(i) else {
                    return;
                };
                match s.at(i) {
                    Ok(view) => self.rewind.stepper = Some(view),
                    Err(e) => {
                        self.message = Some(format!("cannot rewind: {e}"));
                        return;
                    }
                }
                // with mini-batches the chart counts steps: the epoch's last
                let per = s.session.steps_per_epoch();
                let x = if per > 1 {
                    (epoch + 1) * per - 1
                } else {
                    epoch
                };
                self.loss.rewound = Some((x as f64, String::new()));
                format!("epoch {epoch} of {} (rewound)", s.session.epochs)
            }
            None => {
                let Some((epoch, model)) = self.rewind.models.get(i).cloned() else {
                    return;
                };
                let mut conv = self.conv.clone();
                conv.refresh(Some(&model), &self.data);
                conv.show_filters = true;
                self.rewind.conv = Some(conv);
                let per = self.training.progress.batches_per_epoch.max(1) as f64;
                self.loss.rewound = Some((epoch as f64 * per, String::new()));
                format!(
                    "epoch {epoch} of {} (rewound)",
                    self.training.progress.epochs.max(epoch)
                )
            }
        };
        self.rewind.cursor = Some(i);
        if let Some(r) = self.loss.rewound.as_mut() {
            r.1.clone_from(&label);
        }
        self.message = Some(format!(
            "{label}: [ / ] move · ] to the last, Space, s or r: live"
        ));
        self.rewind.label = label;
    }

    /// Back to live (a key that trains was pressed).
    pub fn go_live(&mut self) {
        self.rewind.go_live();
        self.loss.rewound = None;
    }

    /// Record the classifier's model at the end of `epoch` (on its Epoch report).
    pub fn record_epoch_model(&mut self, epoch: usize) {
        if let Some(model) = self.training.trained() {
            self.rewind.models.push(epoch, model.clone());
        }
    }
}

/// Draw `pane` as it was at the rewound epoch, if the lab is rewound and
/// the pane has a rewound picture; true if it drew.
pub fn render_rewound(
    app: &App,
    pane: PaneId,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
    zoomed: bool,
) -> bool {
    if app.rewind.is_live() || pane == PaneId::Loss {
        return false;
    }
    let mut cx = app.view_context();
    match (&app.rewind.stepper, &app.rewind.conv, pane) {
        (Some(s), _, _) => {
            cx.stepper = Some(s);
            match pane {
                PaneId::Dataset => views::stepper_view::render_data(&cx, area, buf, focused),
                PaneId::Model => views::stepper_view::render_model(&cx, area, buf, focused),
                _ => views::stepper_view::render_graph(&cx, area, buf, focused),
            }
        }
        (None, Some(conv), PaneId::Conv) => {
            views::conv_viz::render_pane(conv, &cx, area, buf, focused, zoomed)
        }
        _ => return false,
    }
    label(&app.rewind.label, area, buf);
    true
}

/// "epoch k of n (rewound)" on the pane's bottom border (`--ascii`
/// drawing turns the whole screen's glyphs plain afterwards).
fn label(text: &str, area: Rect, buf: &mut Buffer) {
    if area.width < 6 || area.height < 2 {
        return;
    }
    let line = Line::styled(
        format!(" {text} "),
        Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
    );
    // right-aligned: a pane's own legend starts at the left of that border
    let width = (line.width() as u16).min(area.width - 4);
    let x = area.right() - 2 - width;
    line.render(Rect::new(x, area.bottom() - 1, width, 1), buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_timeline_keeps_every_other_epoch_and_records_half_as_often() {
        let mut t = Timeline::new(8);
        for e in 0..100 {
            t.push(e, e * 10);
        }
        assert!(t.len() < 8, "{}", t.len());
        let epochs: Vec<usize> = t.epochs().collect();
        assert_eq!(epochs[0], 0);
        let step = t.stride();
        assert!(epochs.windows(2).all(|w| w[1] - w[0] == step), "{epochs:?}");
        assert_eq!(t.get(1), Some(&(step, step * 10)));
        t.clear();
        assert!(t.is_empty() && t.stride() == 1);
    }
}
