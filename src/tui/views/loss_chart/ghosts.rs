//! Ghost curves: when a run is restarted (`r`, or `s` after a change of
//! learning rate or optimizer), the loss curve it leaves stays on the chart
//! as a dim series labelled with its settings ("lr 0.1 sgd"), so two
//! settings sit on one chart. The newest [`MAX_GHOSTS`] are kept.
//!
//! And the rewind cursor: the recorded epoch the other panes show (see
//! `crate::tui::rewind`), a vertical line on the chart.

use ratatui::style::{Color, Modifier, Style};

use super::LossPane;

/// How many earlier runs stay on the chart.
pub const MAX_GHOSTS: usize = 3;

/// Ghost colours, newest first (each dimmed).
const COLOURS: [Color; MAX_GHOSTS] = [Color::Magenta, Color::Cyan, Color::Blue];

/// An earlier run's curve and the settings it ran with.
#[derive(Clone, Debug, PartialEq)]
pub struct Ghost {
    pub label: String,
    /// (epoch or step, cost or smoothed loss), finite values only.
    pub points: Vec<(f64, f64)>,
}

/// "lr 0.1 sgd": what a curve is labelled with.
pub fn run_label(lr: f32, optimizer: &impl std::fmt::Display) -> String {
    format!(
        "lr {} {}",
        crate::tui::format::lr(lr),
        optimizer.to_string().to_ascii_lowercase()
    )
}

/// The style of the `i`-th ghost (0: the newest).
pub fn ghost_style(i: usize) -> Style {
    Style::new()
        .fg(COLOURS[i % MAX_GHOSTS])
        .add_modifier(Modifier::DIM)
}

impl LossPane {
    /// This run's curve as a ghost: the cost per epoch, or the smoothed
    /// loss per step (the raw one is too noisy to compare). None when the
    /// run drew nothing or has no label.
    pub fn as_ghost(&self) -> Option<Ghost> {
        let label = self.label.clone()?;
        let pts = if self.per_epoch {
            self.losses.points()
        } else {
            self.losses.smoothed()
        };
        let points: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        (!points.is_empty()).then_some(Ghost { label, points })
    }

    /// A fresh chart for a new run: the log scale and the ghosts stay, and
    /// this run's curve becomes the newest ghost.
    pub fn restart(&mut self) {
        let mut ghosts: Vec<Ghost> = self.as_ghost().into_iter().collect();
        ghosts.append(&mut self.ghosts);
        ghosts.truncate(MAX_GHOSTS);
        *self = LossPane {
            log_scale: self.log_scale,
            show_confusion: self.show_confusion,
            ghosts,
            ..LossPane::default()
        };
    }

    /// First and last x over the live curve and the ghosts, and the
    /// hand-set marks once the live curve has begun (the latest mark sits
    /// where the next cost will land).
    pub fn x_span(&self) -> Option<(f64, f64)> {
        let ghost_x = self
            .ghosts
            .iter()
            .flat_map(|g| g.points.iter().map(|p| p.0));
        let live = self.losses.x_range();
        let marks = live.iter().flat_map(|_| self.hand_set.iter().copied());
        span(
            live.into_iter()
                .flat_map(|(a, b)| [a, b])
                .chain(ghost_x)
                .chain(marks),
        )
    }

    /// Smallest and largest y over the live curve and the ghosts.
    pub fn y_span(&self) -> Option<(f64, f64)> {
        let ghost_y = self
            .ghosts
            .iter()
            .flat_map(|g| g.points.iter().map(|p| p.1));
        span(
            self.losses
                .y_range()
                .into_iter()
                .flat_map(|(a, b)| [a, b])
                .chain(ghost_y),
        )
    }

    /// Smallest y above zero over the live curve and the ghosts (log axis).
    pub fn min_positive_y(&self) -> Option<f64> {
        let ghost_y = self
            .ghosts
            .iter()
            .flat_map(|g| g.points.iter().map(|p| p.1));
        self.losses
            .min_positive()
            .into_iter()
            .chain(ghost_y.filter(|&y| y > 0.0))
            .reduce(f64::min)
    }
}

fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(label: &str, ys: &[f64]) -> LossPane {
        let mut p = LossPane {
            per_epoch: true,
            label: Some(label.into()),
            ..LossPane::default()
        };
        for (i, &y) in ys.iter().enumerate() {
            p.losses.push(i as f64, y);
        }
        p
    }

    #[test]
    fn restart_keeps_the_newest_three_runs_newest_first() {
        let mut p = pane("lr 0.1 sgd", &[3.0, 2.0]);
        p.log_scale = true;
        for (i, lr) in ["lr 0.3 sgd", "lr 1 sgd", "lr 0.01 adam"]
            .iter()
            .enumerate()
        {
            p.restart();
            p.label = Some(lr.to_string());
            p.losses.push(0.0, i as f64 + 10.0);
        }
        p.restart();
        let labels: Vec<&str> = p.ghosts.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["lr 0.01 adam", "lr 1 sgd", "lr 0.3 sgd"]);
        assert_eq!(p.ghosts[0].points, vec![(0.0, 12.0)]);
        assert!(p.log_scale && p.losses.is_empty() && p.label.is_none());
    }

    #[test]
    fn an_empty_run_leaves_no_ghost_and_the_spans_cover_the_ghosts() {
        let mut p = pane("lr 0.1 sgd", &[4.0, 1.0, f64::NAN, 0.5]);
        p.restart();
        p.restart();
        assert_eq!(p.ghosts.len(), 1);
        assert_eq!(p.ghosts[0].points.len(), 3);
        p.losses.push(0.0, 8.0);
        assert_eq!(p.x_span(), Some((0.0, 3.0)));
        assert_eq!(p.y_span(), Some((0.5, 8.0)));
        assert_eq!(p.min_positive_y(), Some(0.5));
    }
}
