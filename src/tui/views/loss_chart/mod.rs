//! The Loss pane: training loss per step (raw and smoothed) with the
//! held-out loss after each epoch, training and held-out accuracy per epoch
//! (the gap between them is overfitting), and the run's counters (epoch, step, progress with
//! ETA, img/s, current loss, last accuracy). For the small lessons the same
//! pane charts the cost per epoch.
//!
//! The history is bounded ([`LossHistory`], thinned like burn's
//! `FullHistoryPlot`). The chart is ratatui's `Chart` with Braille markers;
//! `--ascii` swaps in plain-character markers and ASCII axes. The overview
//! (about 40×11 at 80×24) shows a compact chart and the key numbers; opened
//! (Enter) it adds the accuracy chart and every counter.
//!
//! - `mod.rs`: the pane's state ([`LossPane`]), the layout of the overview and
//!   the opened pane, and a failed run's message above everything
//! - `counters.rs`: the counters (state, epoch, step, speed, …), flowed into
//!   rows in the overview or listed in a column when opened; the progress bar
//! - `charts.rs`: the loss (or cost) chart and the accuracy chart
//! - `confusion.rs`: `C`, the held-out confusion matrix and per-class accuracy
//! - `format.rs`: numbers, counts and durations as the pane writes them

mod charts;
mod confusion;
mod counters;
mod format;
pub mod ghosts;

pub use format::{fmt_secs, fmt_value};

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use self::charts::{acc_chart, loss_chart};
use self::counters::{compact_lines, progress_line, render_side};
use super::pane_block;
use super::text::wrap_words;
use super::ViewContext;
use crate::train::history::Series;
use crate::train::{EpochSummary, LossHistory};
use crate::tui::app::{App, TrainState};
use crate::tui::stepper::Stepper;

/// Epochs of accuracy the chart keeps (thinned beyond that).
const ACC_CAPACITY: usize = 500;

/// Width of the counters column when the pane is opened.
const SIDE_WIDTH: u16 = 34;

/// The overview's chart area from which it also shows the accuracy chart
/// (rows; 18 at 140×45, 7 at 80×24).
const OVERVIEW_ACC_HEIGHT: u16 = 16;

/// The smallest inner area the pane draws anything but a notice in.
const MIN_INNER: (u16, u16) = (16, 2);

/// This pane's keys, for the help (`?`): (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    ("l", "loss axis: linear / log scale"),
    (
        "C",
        "MNIST: the held-out confusion matrix and per-class accuracy / the charts",
    ),
    (
        "arrows, Enter",
        "open, matrix shown: choose a cell; its digits go to the Dataset pane",
    ),
    (
        "[ / ]",
        "rewind: the pictures and filters at an earlier recorded epoch / later (open: also left / right; { } ten)",
    ),
    ("s", "start / pause / resume training"),
    (
        "+ / -",
        "raise / lower the learning rate (also while training)",
    ),
];

/// The Loss pane's own state: the loss history and the accuracy per epoch.
pub struct LossPane {
    pub log_scale: bool,
    /// Loss per step (classifiers) or cost per epoch (small lessons).
    pub losses: LossHistory,
    /// (epoch, held-out accuracy in 0..=1).
    pub accuracy: Series,
    /// (epoch, training accuracy in 0..=1: the running accuracy over its batches).
    pub train_accuracy: Series,
    /// (epoch, mean held-out cross-entropy).
    pub test_loss: Series,
    pub last_epoch: Option<EpochSummary>,
    /// Best held-out accuracy so far and its epoch.
    pub best: Option<(usize, f32)>,
    /// The x axis counts epochs (small lessons) rather than steps.
    pub per_epoch: bool,
    /// `C`: the held-out confusion matrix in place of the charts.
    pub show_confusion: bool,
    /// This run's settings ("lr 0.1 sgd"), its label once it is a ghost.
    pub label: Option<String>,
    /// Earlier runs' curves, newest first (see [`ghosts`]).
    pub ghosts: Vec<ghosts::Ghost>,
    /// The rewound epoch the other panes show: its x on the chart and
    /// "epoch k of n (rewound)" (None: live).
    pub rewound: Option<(f64, String)>,
    /// Where weights were typed in by hand (`e` in the XOR lessons): the x
    /// of the first cost they gave, drawn as a vertical line.
    pub hand_set: Vec<f64>,
}

impl Default for LossPane {
    fn default() -> Self {
        LossPane {
            log_scale: false,
            losses: LossHistory::default(),
            accuracy: Series::new(ACC_CAPACITY),
            train_accuracy: Series::new(ACC_CAPACITY),
            test_loss: Series::new(ACC_CAPACITY),
            last_epoch: None,
            best: None,
            per_epoch: false,
            show_confusion: false,
            label: None,
            ghosts: Vec::new(),
            rewound: None,
            hand_set: Vec::new(),
        }
    }
}

impl LossPane {
    /// The losses of consecutive steps, the first at `first_step`.
    pub fn push_losses(&mut self, first_step: usize, losses: &[f32]) {
        for (i, &l) in losses.iter().enumerate() {
            self.losses.push((first_step + i) as f64, l as f64);
        }
    }

    pub fn push_epoch(&mut self, s: &EpochSummary) {
        self.accuracy.push(s.epoch as f64, s.test_acc as f64);
        self.train_accuracy.push(s.epoch as f64, s.train_acc as f64);
        if s.test_loss.is_finite() {
            self.test_loss.push(s.epoch as f64, s.test_loss as f64);
        }
        if self.best.is_none_or(|(_, a)| s.test_acc > a) {
            self.best = Some((s.epoch, s.test_acc));
        }
        self.last_epoch = Some(s.clone());
    }

    /// A fresh chart for the small lesson `s`, restarted with another model
    /// or settings: the last run's curve stays as a ghost, unless the x axis
    /// changed between epochs and mini-batch steps (then no ghosts: they
    /// would be drawn against the wrong axis).
    pub fn reset_costs(&mut self, s: &Stepper) {
        let per_epoch = s.session.steps_per_epoch() == 1;
        let same_axis = per_epoch == self.per_epoch;
        self.restart();
        if !same_axis {
            self.ghosts.clear();
        }
    }

    /// Mirror a small lesson's cost history (appending only what is new).
    /// With mini-batches (`--batch-size`, several steps an epoch) it charts
    /// every step's noisy cost instead, against the step.
    pub fn sync_costs(&mut self, s: &Stepper) {
        self.per_epoch = s.session.steps_per_epoch() == 1;
        let costs = if self.per_epoch {
            &s.costs
        } else {
            &s.step_costs
        };
        if !s.costs.is_empty() {
            self.label = Some(
                ghosts::run_label(s.last_lr, &s.hyper().optimizer)
                    + &crate::tui::run_settings::extras(s.hyper()),
            );
        }
        if costs.len() < self.losses.pushed() {
            self.losses = LossHistory::default();
        }
        for (i, &c) in costs.iter().enumerate().skip(self.losses.pushed()) {
            self.losses.push(i as f64, c as f64);
        }
    }

    /// Mark where a small lesson's weights were set by hand: at the x its
    /// next cost will take (the cost of the typed weights).
    pub fn mark_hand_set(&mut self, s: &Stepper) {
        let x = if s.session.steps_per_epoch() == 1 {
            s.costs.len()
        } else {
            s.step_costs.len()
        };
        self.hand_set.push(x as f64);
    }

    pub fn handle_key(&mut self, _key: KeyEvent) -> bool {
        false
    }
}

/// What the pane draws from: its own state and the lab's read-only context.
pub(super) struct View<'a> {
    pane: &'a LossPane,
    cx: &'a ViewContext<'a>,
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    render_pane(&app.loss, &app.view_context(), area, buf, focused, zoomed);
}

/// The pane from its own state and the lab's read-only context.
pub fn render_pane(
    pane: &LossPane,
    cx: &ViewContext,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
    zoomed: bool,
) {
    let v = &View { pane, cx };
    let title = match &pane.rewound {
        Some((_, label)) => format!("Loss · {label}"),
        None => "Loss".to_string(),
    };
    let mut block = pane_block(&title, focused, v.cx.ascii);
    if !pane.ghosts.is_empty() {
        // the runs on the chart, each in its colour: this one, then the ghosts
        let dash = if v.cx.ascii { "-" } else { "─" };
        let now = pane.label.as_deref().unwrap_or("this run");
        let mut spans = vec![Span::styled(
            format!(" {dash} {now} "),
            Style::new().fg(if per_epoch(v) {
                Color::Yellow
            } else {
                Color::Gray
            }),
        )];
        for (i, g) in pane.ghosts.iter().enumerate() {
            spans.push(Span::styled(
                format!("{dash} {} ", g.label),
                ghosts::ghost_style(i),
            ));
        }
        block = block.title_bottom(Line::from(spans));
    } else if !zoomed && !per_epoch(v) && v.pane.losses.x_range().is_some() {
        // the overview's chart has no room for ratatui's legend box: name
        // its two lines in the bottom border, each in its own colour
        let dash = if v.cx.ascii { "-" } else { "─" };
        let held = v.pane.test_loss.points().first().is_some();
        let mut names = vec![
            Span::styled(
                format!(" {dash} loss{} ", if held { "" } else { " per step" }),
                Style::new().fg(Color::Gray),
            ),
            Span::styled(format!("{dash} smoothed "), Style::new().fg(Color::Yellow)),
        ];
        if held {
            names.push(Span::styled(
                format!("{dash} held-out "),
                Style::new().fg(Color::LightRed),
            ));
        }
        block = block.title_bottom(Line::from(names));
    }
    if !pane.hand_set.is_empty() && pane.losses.x_range().is_some() {
        // the vertical line where typed weights' first cost lands
        let bar = if v.cx.ascii { ":" } else { "│" };
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" {bar} set by hand "),
                Style::new().fg(Color::Magenta),
            ))
            .right_aligned(),
        );
    }
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < MIN_INNER.0 || inner.height < MIN_INNER.1 {
        notice("too small", inner, buf);
        return;
    }
    let ascii = v.cx.ascii;
    // a failure comes first and in red, above everything else
    let failure = failure_text(v);
    let mut rest = inner;
    if let Some((text, colour)) = &failure {
        let lines = wrap_words(text, inner.width as usize);
        let h = (lines.len() as u16)
            .min(inner.height.saturating_sub(1))
            .max(1);
        let style = Style::new().fg(*colour).add_modifier(Modifier::BOLD);
        let [top, below] =
            Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(inner);
        Paragraph::new(
            lines
                .into_iter()
                .map(|l| Line::styled(l, style))
                .collect::<Vec<_>>(),
        )
        .render(top, buf);
        rest = below;
    }
    if v.pane.show_confusion && v.cx.stepper.is_none() {
        confusion::render(v, rest, buf);
        if ascii {
            asciify(inner, buf);
        }
        return;
    }
    if zoomed && rest.width >= SIDE_WIDTH + 24 {
        let [charts, side] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(SIDE_WIDTH)]).areas(rest);
        render_side(v, side, buf);
        let with_acc = v.cx.stepper.is_none() && charts.height >= 14;
        if with_acc {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)])
                    .areas(charts);
            loss_chart(v, top, buf, true);
            acc_chart(v, bottom, buf);
        } else {
            loss_chart(v, charts, buf, true);
        }
    } else {
        let lines = compact_lines(v, rest.width as usize);
        let h = (lines.len() as u16).min(rest.height);
        let [text, bar, chart] = Layout::vertical([
            Constraint::Length(h),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(rest);
        Paragraph::new(lines).render(text, buf);
        progress_line(v, bar, buf, false);
        if v.cx.stepper.is_none() && chart.height >= OVERVIEW_ACC_HEIGHT {
            // a large terminal's overview has room for the accuracy chart too
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)])
                    .areas(chart);
            loss_chart(v, top, buf, false);
            acc_chart(v, bottom, buf);
        } else if chart.height >= 4 {
            loss_chart(v, chart, buf, false);
        }
    }
    if ascii {
        asciify(inner, buf);
    }
}

/// No run has reported yet (a classifier lesson before its first `Started`).
fn not_started(v: &View) -> bool {
    v.cx.stepper.is_none() && v.cx.run.progress.epochs == 0
}

/// The chart counts epochs (a small lesson) rather than steps.
fn per_epoch(v: &View) -> bool {
    v.cx.stepper
        .map_or(v.pane.per_epoch, |s| s.session.steps_per_epoch() == 1)
}

/// The message a failed run (or diverged small lesson) leaves, with what to do.
fn failure_text(v: &View) -> Option<(String, Color)> {
    if let Some(s) = &v.cx.stepper {
        // the stepper's messages already say what to press
        return match (&s.diverged, &s.running_away) {
            (Some(m), _) => Some((m.clone(), Color::Red)),
            (None, Some(m)) => Some((m.clone(), Color::Yellow)),
            _ => None,
        };
    }
    match &v.cx.run.state {
        // a diverged loss wants a smaller learning rate; other failures just a retry
        TrainState::Diverged(m) => Some((m.clone(), Color::Red)),
        TrainState::Failed(m) if m.contains("diverged") => Some((
            format!("{m} — press - to lower the learning rate, then s to train again"),
            Color::Red,
        )),
        TrainState::Failed(m) => Some((format!("{m} — press s to try again"), Color::Red)),
        _ => None,
    }
}

/// A short grey notice, centred as far as it fits.
fn notice(text: &str, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let row = Rect {
        y: area.y + area.height / 2,
        height: 1,
        ..area
    };
    Paragraph::new(text.to_string())
        .style(Style::new().fg(Color::DarkGray))
        .centered()
        .render(row, buf);
}

/// Replace the chart's box-drawing glyphs with plain characters (`--ascii`).
fn asciify(area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            let plain = match cell.symbol() {
                "│" | "┃" => "|",
                "─" | "━" => "-",
                "└" | "┌" | "┐" | "┘" => "+",
                "–" | "—" => "-",
                "·" => "-",
                _ => continue,
            };
            cell.set_symbol(plain);
        }
    }
}
