//! The Loss pane: training loss per step and accuracy per epoch
//! (placeholder, to be filled in).

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::train::EpochSummary;
use crate::tui::app::App;
use crate::tui::stepper::Stepper;

/// The Loss pane's own state: the loss history.
#[derive(Default)]
pub struct LossPane {
    pub log_scale: bool,
    /// (step, loss)
    pub losses: Vec<(f64, f64)>,
    pub epochs: Vec<EpochSummary>,
}

impl LossPane {
    pub fn push_losses(&mut self, first_step: usize, losses: &[f32]) {
        for (i, &l) in losses.iter().enumerate() {
            self.losses.push(((first_step + i) as f64, l as f64));
        }
    }

    pub fn push_epoch(&mut self, s: &EpochSummary) {
        self.epochs.push(s.clone());
    }

    /// Mirror a small lesson's cost history.
    pub fn sync_costs(&mut self, s: &Stepper) {
        self.losses = s.costs.iter().enumerate().map(|(i, &c)| (i as f64, c as f64)).collect();
    }

    pub fn handle_key(&mut self, _key: KeyEvent) -> bool {
        false
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, _zoomed: bool) {
    let last = app.loss.losses.last().map(|(_, l)| format!("loss {l:.4}")).unwrap_or_default();
    Paragraph::new(last).block(pane_block("Loss", focused)).render(area, buf);
}
