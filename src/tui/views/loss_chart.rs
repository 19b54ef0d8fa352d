//! The Loss pane: training loss per step (raw and smoothed), held-out
//! accuracy per epoch, and the run's counters (epoch, step, progress with
//! ETA, img/s, current loss, last accuracy). For the small lessons the same
//! pane charts the cost per epoch.
//!
//! The history is bounded ([`LossHistory`], thinned like burn's
//! `FullHistoryPlot`). The chart is ratatui's `Chart` with Braille markers;
//! `--ascii` swaps in plain-character markers and ASCII axes. The overview
//! (about 40×11 at 80×24) shows a compact chart and the key numbers; opened
//! (Enter) it adds the accuracy chart and every counter.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph, Widget};

use super::pane_block;
use crate::lessons::Task;
use crate::train::history::Series;
use crate::train::{EpochSummary, LossHistory};
use crate::tui::app::{App, TrainState};
use crate::tui::stepper::Stepper;

/// Epochs of accuracy the chart keeps (thinned beyond that).
const ACC_CAPACITY: usize = 500;

/// Width of the counters column when the pane is opened.
const SIDE_WIDTH: u16 = 34;

/// The Loss pane's own state: the loss history and the accuracy per epoch.
pub struct LossPane {
    pub log_scale: bool,
    /// Loss per step (classifiers) or cost per epoch (small lessons).
    pub losses: LossHistory,
    /// (epoch, held-out accuracy in 0..=1).
    pub accuracy: Series,
    pub last_epoch: Option<EpochSummary>,
    /// Best held-out accuracy so far and its epoch.
    pub best: Option<(usize, f32)>,
    /// The x axis counts epochs (small lessons) rather than steps.
    pub per_epoch: bool,
}

impl Default for LossPane {
    fn default() -> Self {
        LossPane {
            log_scale: false,
            losses: LossHistory::default(),
            accuracy: Series::new(ACC_CAPACITY),
            last_epoch: None,
            best: None,
            per_epoch: false,
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
        if self.best.is_none_or(|(_, a)| s.test_acc > a) {
            self.best = Some((s.epoch, s.test_acc));
        }
        self.last_epoch = Some(s.clone());
    }

    /// Mirror a small lesson's cost history (appending only what is new).
    pub fn sync_costs(&mut self, s: &Stepper) {
        self.per_epoch = true;
        if s.costs.len() < self.losses.pushed() {
            self.losses = LossHistory::default();
        }
        for (i, &c) in s.costs.iter().enumerate().skip(self.losses.pushed()) {
            self.losses.push(i as f64, c as f64);
        }
    }

    pub fn handle_key(&mut self, _key: KeyEvent) -> bool {
        false
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    let block = pane_block("Loss", focused, app.ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 16 || inner.height < 2 {
        notice("too small", inner, buf);
        return;
    }
    let ascii = app.ascii;
    // a failure comes first and in red, above everything else
    let failure = failure_text(app);
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
    if zoomed && rest.width >= SIDE_WIDTH + 24 {
        let [charts, side] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(SIDE_WIDTH)]).areas(rest);
        render_side(app, side, buf);
        let with_acc = app.stepper.is_none() && charts.height >= 14;
        if with_acc {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)])
                    .areas(charts);
            loss_chart(app, top, buf, true);
            acc_chart(app, bottom, buf);
        } else {
            loss_chart(app, charts, buf, true);
        }
    } else {
        let lines = flow(&compact_fields(app), rest.width as usize);
        let h = (lines.len() as u16).min(rest.height);
        let [text, bar, chart] = Layout::vertical([
            Constraint::Length(h),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(rest);
        Paragraph::new(lines).render(text, buf);
        progress_line(app, bar, buf, false);
        if chart.height >= 4 {
            loss_chart(app, chart, buf, false);
        }
    }
    if ascii {
        asciify(inner, buf);
    }
}

/// No run has reported yet (a classifier lesson before its first `Started`).
fn not_started(app: &App) -> bool {
    app.stepper.is_none() && app.progress.epochs == 0
}

/// The chart counts epochs (a small lesson) rather than steps.
fn per_epoch(app: &App) -> bool {
    app.stepper.is_some() || app.loss.per_epoch
}

/// The message a failed run (or diverged small lesson) leaves, with what to do.
fn failure_text(app: &App) -> Option<(String, Color)> {
    if let Some(s) = &app.stepper {
        // the stepper's messages already say what to press
        return match (&s.diverged, &s.running_away) {
            (Some(m), _) => Some((m.clone(), Color::Red)),
            (None, Some(m)) => Some((m.clone(), Color::Yellow)),
            _ => None,
        };
    }
    match &app.train_state {
        TrainState::Failed(m) => Some((
            format!("{m} — press - to lower the learning rate, then s to train again"),
            Color::Red,
        )),
        _ => None,
    }
}

/// One counter: a short form for the overview and a (label, value) row for the opened pane.
struct Field {
    short: String,
    label: &'static str,
    value: String,
    style: Style,
}

fn field(short: String, label: &'static str, value: String) -> Field {
    Field {
        short,
        label,
        value,
        style: Style::new(),
    }
}

fn state_field(app: &App) -> Field {
    let (text, colour) = match (&app.stepper, &app.train_state) {
        (Some(s), _) if s.diverged.is_some() => ("diverged", Color::Red),
        (Some(s), _) if s.running_away.is_some() => ("diverging", Color::Yellow),
        (Some(s), _) if s.session.done() => ("done", Color::Cyan),
        (Some(s), _) if s.auto => ("running", Color::Green),
        (Some(_), _) => ("Space steps · s runs", Color::Gray),
        (None, _) if not_started(app) => ("press s to train", Color::Gray),
        (None, TrainState::Idle) => ("idle", Color::Gray),
        (None, TrainState::Running) => ("training", Color::Green),
        (None, TrainState::Paused) => ("paused (s resumes)", Color::Yellow),
        (None, TrainState::Finished) if app.progress.fraction() < 1.0 => ("stopped", Color::Cyan),
        (None, TrainState::Finished) => ("finished", Color::Cyan),
        (None, TrainState::Failed(_)) => ("failed", Color::Red),
    };
    Field {
        style: Style::new().fg(colour).add_modifier(Modifier::BOLD),
        ..field(text.into(), "state", text.into())
    }
}

/// Every counter, in reading order.
fn fields(app: &App) -> Vec<Field> {
    let mut out = vec![state_field(app)];
    if let Some(s) = &app.stepper {
        out.push(field(
            format!(
                "epoch {}/{}",
                s.costs.len().saturating_sub(1),
                s.session.epochs
            ),
            "epoch",
            format!(
                "{} of {}",
                s.costs.len().saturating_sub(1),
                s.session.epochs
            ),
        ));
        if let Some(c) = s.costs.last() {
            out.push(field(
                format!("cost {}", fmt_value(*c as f64)),
                "cost (last epoch)",
                fmt_value(*c as f64),
            ));
        }
        out.push(field(
            format!("lr {}", s.lr()),
            "learning rate",
            format!("{}", s.lr()),
        ));
        return out;
    }
    let p = &app.progress;
    let total = p.epochs * p.batches_per_epoch;
    if not_started(app) {
        let h = &app.hyper;
        out.push(field(
            format!("{} epochs", h.epochs),
            "epochs planned",
            h.epochs.to_string(),
        ));
        let batch = match h.batch_size {
            0 => "full batch".to_string(),
            b => format!("{b} images"),
        };
        out.push(field(format!("batch {batch}"), "batch size", batch));
        out.push(field(
            format!("lr {} ({})", h.lr, h.optimizer),
            "learning rate",
            format!("{} ({})", h.lr, h.optimizer),
        ));
        return out;
    }
    out.push(field(
        format!("epoch {}/{}", p.epoch, p.epochs),
        "epoch",
        format!("{} of {}", p.epoch, p.epochs),
    ));
    out.push(field(
        format!("step {}/{}", p.step, total),
        "step (batch)",
        format!(
            "{} of {} ({}/{})",
            p.step, total, p.batch, p.batches_per_epoch
        ),
    ));
    out.push(field(
        format!("{:.0} img/s", p.img_per_s),
        "speed",
        format!("{:.0} img/s", p.img_per_s),
    ));
    let loss = p.last_loss.map_or("–".into(), |l| fmt_value(l as f64));
    out.push(field(format!("loss {loss}"), "loss (last batch)", loss));
    let acc = p
        .last_acc
        .map_or("–".into(), |a| format!("{:.1} %", a * 100.0));
    out.push(field(format!("test acc {acc}"), "test accuracy", acc));
    out
}

/// The counters the overview has room for (state and ETA go on the bar).
fn compact_fields(app: &App) -> Vec<Field> {
    let mut f = fields(app);
    if !not_started(app) && app.stepper.is_none() {
        f.remove(0);
    }
    f
}

/// Lay `fields` out in rows of `width`: each goes on the first row with
/// room for it (first fit), so short counters fill the gaps long ones leave.
fn flow(fields: &[Field], width: usize) -> Vec<Line<'static>> {
    let mut rows: Vec<(Vec<Span<'static>>, usize)> = Vec::new();
    for f in fields {
        let w = f.short.chars().count();
        let span = Span::styled(f.short.clone(), f.style);
        match rows.iter_mut().find(|(_, used)| *used + 2 + w <= width) {
            Some((spans, used)) => {
                spans.push(Span::raw("  "));
                spans.push(span);
                *used += 2 + w;
            }
            None => rows.push((vec![span], w)),
        }
    }
    rows.into_iter()
        .map(|(spans, _)| Line::from(spans))
        .collect()
}

/// The counters column of the opened pane: one labelled value per row.
fn render_side(app: &App, area: Rect, buf: &mut Buffer) {
    let label = Style::new().fg(Color::DarkGray);
    let mut lines: Vec<Line> = Vec::new();
    let mut all = fields(app);
    let p = &app.progress;
    if !not_started(app) && app.stepper.is_none() {
        if let Some(s) = app.loss.losses.last_smoothed() {
            all.push(field(String::new(), "loss, smoothed", fmt_value(s)));
        }
        if let Some(e) = &app.loss.last_epoch {
            // the number `dl-lab run --json` prints as img_per_s
            all.push(field(
                String::new(),
                "speed, last epoch",
                format!("{:.0} img/s", e.img_per_s),
            ));
        }
        if let Some((e, a)) = app.loss.best {
            all.push(field(
                String::new(),
                "best test accuracy",
                format!("{:.1} % (epoch {e})", a * 100.0),
            ));
        }
        all.push(field(
            String::new(),
            "held-out images",
            app.data.test.labels.len().to_string(),
        ));
        all.push(field(String::new(), "time left (ETA)", eta_text(app)));
        all.push(field(
            String::new(),
            "time training",
            fmt_secs(busy_secs(p)),
        ));
        all.push(field(
            String::new(),
            "learning rate",
            format!("{} ({})", app.hyper.lr, app.hyper.optimizer),
        ));
    }
    let per = if per_epoch(app) { "epochs" } else { "steps" };
    let stride = app.loss.losses.stride();
    all.push(field(
        String::new(),
        "chart scale",
        if app.loss.log_scale {
            "log (l)".into()
        } else {
            "linear (l)".into()
        },
    ));
    if stride > 1 {
        all.push(field(
            String::new(),
            "chart point",
            format!("mean of {stride} {per}"),
        ));
    }
    let width = area.width.saturating_sub(1) as usize;
    for f in &all {
        let (lw, vw) = (f.label.chars().count(), f.value.chars().count());
        if lw + 2 + vw <= width {
            // label on the left, value right-aligned on the same row
            let gap = " ".repeat(width - lw - vw);
            lines.push(Line::from(vec![
                Span::styled(f.label, label),
                Span::raw(gap),
                Span::styled(f.value.clone(), f.style),
            ]));
        } else {
            lines.push(Line::from(Span::styled(f.label, label)));
            lines.push(Line::from(Span::styled(format!("  {}", f.value), f.style)));
        }
    }
    let text = Rect {
        x: area.x + 1,
        width: area.width.saturating_sub(1),
        ..area
    };
    if !not_started(app) && app.stepper.is_none() && text.height > 2 {
        // the bar on its own row; state and ETA are rows of their own below
        progress_line(app, Rect { height: 1, ..text }, buf, true);
        Paragraph::new(lines).render(
            Rect {
                y: text.y + 2,
                height: text.height - 2,
                ..text
            },
            buf,
        );
    } else {
        Paragraph::new(lines).render(text, buf);
    }
}

/// Seconds spent training (paused time left out).
fn busy_secs(p: &crate::tui::app::Progress) -> f64 {
    let Some(started) = p.started else { return 0.0 };
    let now = p.paused_at.unwrap_or_else(std::time::Instant::now);
    now.saturating_duration_since(started)
        .saturating_sub(p.paused_for)
        .as_secs_f64()
}

fn eta_text(app: &App) -> String {
    match app.train_state {
        TrainState::Finished | TrainState::Failed(_) => "–".into(),
        _ => app.progress.eta_secs().map_or("–".into(), fmt_secs),
    }
}

/// "[#####-----] 43 % · ETA 12 s" on one row.
fn progress_line(app: &App, area: Rect, buf: &mut Buffer, bare: bool) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let (fraction, label) = match &app.stepper {
        Some(s) => {
            let f = s.costs.len() as f64 / (s.session.epochs + 1).max(1) as f64;
            (f.min(1.0), format!(" {:.0} %", f.min(1.0) * 100.0))
        }
        None if not_started(app) => (0.0, " not started".to_string()),
        None => {
            let f = app.progress.fraction();
            if bare {
                return progress_bar(f, format!(" {:.0} %", f * 100.0), app.ascii, area, buf);
            }
            let state = state_field(app).short;
            (
                f,
                format!(" {:.0} % · ETA {} · {state}", f * 100.0, eta_text(app)),
            )
        }
    };
    progress_bar(fraction, label, app.ascii, area, buf);
}

/// A bar of at most 40 cells followed by `label`.
fn progress_bar(fraction: f64, label: String, ascii: bool, area: Rect, buf: &mut Buffer) {
    let label_w = label.chars().count();
    let bar_w = (area.width as usize).saturating_sub(label_w).min(40);
    let filled = ((fraction.clamp(0.0, 1.0) * bar_w as f64).round() as usize).min(bar_w);
    let (on, off) = if ascii { ("#", "-") } else { ("█", "░") };
    let line = Line::from(vec![
        Span::styled(on.repeat(filled), Style::new().fg(Color::Green)),
        Span::styled(off.repeat(bar_w - filled), Style::new().fg(Color::DarkGray)),
        Span::raw(label),
    ]);
    Paragraph::new(line).render(area, buf);
}

/// Loss (or cost) per step with its smoothed line; `full` adds the legend.
fn loss_chart(app: &App, area: Rect, buf: &mut Buffer, full: bool) {
    let h = &app.loss.losses;
    let Some((x0, x1)) = h.x_range() else {
        let what = if per_epoch(app) {
            "no cost yet: Space takes a step"
        } else {
            "no loss yet: press s to train"
        };
        notice(what, area, buf);
        return;
    };
    if area.width < 12 || area.height < 4 {
        return;
    }
    let log = app.loss.log_scale;
    let floor = h.min_positive().unwrap_or(1e-12);
    let map = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter()
            .map(|&(x, y)| (x, if log { y.max(floor).log10() } else { y }))
            .collect()
    };
    let raw = map(h.points());
    let smooth = map(h.smoothed());
    let (lo, hi) = h.y_range().unwrap_or((0.0, 1.0));
    let (lo, hi) = if log {
        (lo.max(floor).log10(), hi.max(floor).log10())
    } else {
        (lo, hi)
    };
    let (lo, hi) = pad(lo, hi, !log);
    let y_label = |v: f64| fmt_tick(if log { 10f64.powf(v) } else { v });
    let what = if per_epoch(app) { "cost" } else { "loss" };
    let y_title = if log {
        format!("{what} (log)")
    } else {
        what.to_string()
    };
    let x_title = if per_epoch(app) { "epoch" } else { "step" };
    let x1 = x1.max(x0 + 1.0);
    let ascii = app.ascii;
    let mut sets = vec![Dataset::default()
        .name(if h.stride() > 1 {
            format!("{what} (mean of {})", h.stride())
        } else {
            format!("{what} per {x_title}")
        })
        .marker(if ascii {
            Marker::Custom('.')
        } else {
            Marker::Braille
        })
        .graph_type(GraphType::Line)
        .style(Style::new().fg(if per_epoch(app) {
            Color::Yellow
        } else {
            Color::Gray
        }))
        .data(&raw)];
    if !per_epoch(app) {
        sets.push(
            Dataset::default()
                .name("smoothed (EMA)")
                .marker(if ascii {
                    Marker::Custom('*')
                } else {
                    Marker::Braille
                })
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::Yellow))
                .data(&smooth),
        );
    }
    let axis_style = Style::new().fg(Color::Gray);
    let chart = Chart::new(sets)
        .x_axis(
            Axis::default()
                .title(x_title)
                .style(axis_style)
                .bounds([x0, x1])
                .labels([fmt_count(x0), fmt_count((x0 + x1) / 2.0), fmt_count(x1)]),
        )
        .y_axis(
            Axis::default()
                .title(y_title)
                .style(axis_style)
                .bounds([lo, hi])
                .labels([y_label(lo), y_label((lo + hi) / 2.0), y_label(hi)]),
        )
        .legend_position(full.then_some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    chart.render(area, buf);
}

/// Held-out accuracy per epoch, in percent, on its own axis.
fn acc_chart(app: &App, area: Rect, buf: &mut Buffer) {
    let pts: Vec<(f64, f64)> = app
        .loss
        .accuracy
        .points()
        .iter()
        .map(|&(e, a)| (e, a * 100.0))
        .collect();
    if pts.is_empty() {
        notice("test accuracy: after the first epoch", area, buf);
        return;
    }
    if area.width < 12 || area.height < 4 {
        return;
    }
    let planned = match app.lesson.task {
        Task::Classifier { .. } => app.progress.epochs.max(1) as f64,
        _ => 1.0,
    };
    let x1 = pts.iter().map(|p| p.0).fold(planned, f64::max);
    let lo = pts.iter().map(|p| p.1).fold(100.0, f64::min);
    let lo = ((lo - 5.0) / 10.0).floor().max(0.0) * 10.0;
    let (line, dot) = if app.ascii {
        (Marker::Custom('.'), Marker::Custom('o'))
    } else {
        (Marker::Braille, Marker::Dot)
    };
    let green = Style::new().fg(Color::Green);
    let chart = Chart::new(vec![
        Dataset::default()
            .marker(line)
            .graph_type(GraphType::Line)
            .style(green)
            .data(&pts),
        // a mark per epoch, so one epoch is visible too
        Dataset::default()
            .marker(dot)
            .graph_type(GraphType::Scatter)
            .style(green)
            .data(&pts),
    ])
    .x_axis(
        Axis::default()
            .title("epoch")
            .style(Style::new().fg(Color::Gray))
            .bounds([0.0, x1])
            .labels(["0".to_string(), fmt_count(x1 / 2.0), fmt_count(x1)]),
    )
    .y_axis(
        Axis::default()
            .title("test acc %")
            .style(Style::new().fg(Color::Gray))
            .bounds([lo, 100.0])
            .labels([
                format!("{lo:.0} %"),
                format!("{:.0} %", (lo + 100.0) / 2.0),
                "100 %".to_string(),
            ]),
    );
    chart.render(area, buf);
}

/// Bounds with a little room; a flat line gets a visible band. `from_zero`
/// keeps a non-negative range from dipping below 0.
fn pad(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let span = hi - lo;
    let m = if span > 1e-12 {
        span * 0.05
    } else {
        lo.abs() * 0.1 + 1e-3
    };
    let bottom = if from_zero && lo >= 0.0 {
        (lo - m).max(0.0)
    } else {
        lo - m
    };
    (bottom, hi + m)
}

/// A value in at most about 7 characters: 0.3121, 12.5, 1.2e-5.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// An axis label: three significant digits at most (2.40, 0.082, 1.2e-5).
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a == 0.0 {
        "0".into()
    } else if !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A step or epoch count for an axis: 600, 12k.
fn fmt_count(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{:.0}", v)
    }
}

/// "42 s", "3 min 05 s", "1 h 02 min".
pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Greedy word wrap to `width` columns (long words are cut).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        let need = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if need > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fit_a_label() {
        assert_eq!(fmt_value(0.31214), "0.3121");
        assert_eq!(fmt_value(12.345), "12.35");
        assert_eq!(fmt_value(2.5e-5), "2.5e-5");
        assert_eq!(fmt_value(0.0), "0");
        assert_eq!(fmt_secs(65.0), "1 min 05 s");
        assert_eq!(fmt_secs(3725.0), "1 h 02 min");
    }

    #[test]
    fn words_wrap_and_long_words_are_cut() {
        assert_eq!(
            wrap_words("the loss became NaN", 9),
            vec!["the loss", "became", "NaN"]
        );
        assert_eq!(wrap_words("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert!(wrap_words("", 5).is_empty());
    }

    #[test]
    fn a_flat_line_gets_a_band() {
        let (lo, hi) = pad(2.0, 2.0, true);
        assert!(lo < 2.0 && hi > 2.0);
        assert_eq!(pad(0.0, 1.0, true).0, 0.0);
    }
}
