//! The Loss pane's counters: the run's state, epoch, step, speed, loss and
//! accuracy (or, before a run, what it will do; for a small lesson, its
//! epoch, cost and learning rate). The overview flows their short forms into
//! rows; the opened pane lists every one, labelled, in a column. Also the
//! progress bar with its percentage and ETA.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::format::{fmt_secs, fmt_value};
use super::View;
use super::{not_started, per_epoch};
use crate::tui::app::TrainState;
use crate::tui::format as fmt;
use crate::tui::views::stepper_view;

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

fn state_field(v: &View) -> Field {
    let (text, colour) = match (&v.cx.stepper, &v.cx.run.state) {
        (Some(s), _) if s.diverged.is_some() => ("diverged", Color::Red),
        (Some(s), _) if s.running_away.is_some() => ("diverging", Color::Yellow),
        (Some(s), _) if s.session.done() => ("done", Color::Cyan),
        (Some(s), _) if s.auto => ("running", Color::Green),
        (Some(_), _) => ("Space steps · s runs", Color::Gray),
        (None, _) if not_started(v) => ("press s to train", Color::Gray),
        (None, TrainState::Idle) => ("idle", Color::Gray),
        (None, TrainState::Running) => ("training", Color::Green),
        (None, TrainState::Paused) => ("paused (s resumes)", Color::Yellow),
        (None, TrainState::Diverged(_)) => ("diverged: paused (- then s)", Color::Red),
        (None, TrainState::Finished) if v.cx.run.progress.fraction() < 1.0 => {
            ("stopped", Color::Cyan)
        }
        (None, TrainState::Finished) => ("finished", Color::Cyan),
        (None, TrainState::Failed(_)) => ("failed", Color::Red),
    };
    Field {
        style: Style::new().fg(colour).add_modifier(Modifier::BOLD),
        ..field(text.into(), "state", text.into())
    }
}

/// The epoch counter while the timeline is rewound: the epoch the other
/// panes show, "epoch k of n (rewound)", in place of the live one.
fn rewound_field(v: &View) -> Option<Field> {
    let (_, label) = v.pane.rewound.as_ref().filter(|(_, l)| !l.is_empty())?;
    let value = label.strip_prefix("epoch ").unwrap_or(label).to_string();
    Some(Field {
        style: Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
        ..field(label.clone(), "epoch shown", value)
    })
}

/// Every counter, in reading order.
fn fields(v: &View) -> Vec<Field> {
    let mut out = vec![state_field(v)];
    if let Some(s) = &v.cx.stepper {
        // the same epoch and costs, worded the same, as the Model pane
        let epoch = stepper_view::epoch_text(s);
        out.push(rewound_field(v).unwrap_or_else(|| field(epoch.clone(), "epoch", epoch)));
        // the overview gets both on one row: "cost before 5.638 · after 5.049"
        let both = stepper_view::cost_text(s, 0).unwrap_or_default();
        match stepper_view::costs(s) {
            (Some(b), after) => {
                out.push(field(both, "cost before this step", fmt::cost(b)));
                if let Some(a) = after {
                    out.push(field(String::new(), "cost after it", fmt::cost(a)));
                }
            }
            (None, Some(a)) => out.push(field(both, "cost now", fmt::cost(a))),
            (None, None) => {}
        }
        out.push(field(
            format!("lr {}", fmt::lr(s.lr())),
            "learning rate",
            fmt::lr(s.lr()),
        ));
        return out;
    }
    let p = &v.cx.run.progress;
    let total = p.epochs * p.batches_per_epoch;
    if not_started(v) {
        let h = &v.cx.hyper;
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
            format!("lr {} ({})", fmt::lr(h.lr), h.optimizer),
            "learning rate",
            format!("{} ({})", fmt::lr(h.lr), h.optimizer),
        ));
        return out;
    }
    out.push(rewound_field(v).unwrap_or_else(|| {
        field(
            format!("epoch {}/{}", p.epoch, p.epochs),
            "epoch",
            format!("{} of {}", p.epoch, p.epochs),
        )
    }));
    out.push(field(
        format!("step {}/{}", fmt::count(p.step), fmt::count(total)),
        "step (batch)",
        format!(
            "{} of {} ({}/{})",
            fmt::count(p.step),
            fmt::count(total),
            fmt::count(p.batch),
            fmt::count(p.batches_per_epoch)
        ),
    ));
    out.push(field(
        format!("{} img/s", fmt::rate(p.img_per_s)),
        "speed",
        format!("{} img/s", fmt::rate(p.img_per_s)),
    ));
    let loss = p.last_loss.map_or("–".into(), |l| fmt_value(l as f64));
    out.push(field(format!("loss {loss}"), "loss (last batch)", loss));
    let acc = p
        .last_acc
        .map_or("–".into(), |a| format!("{:.1} %", a * 100.0));
    out.push(field(format!("test acc {acc}"), "test accuracy", acc));
    out
}

/// The overview's counters, flowed into rows of `width`.
pub(super) fn compact_lines(v: &View, width: usize) -> Vec<Line<'static>> {
    flow(&compact_fields(v), width)
}

/// The counters the overview has room for (state and ETA go on the bar).
fn compact_fields(v: &View) -> Vec<Field> {
    let mut f = fields(v);
    if !not_started(v) && v.cx.stepper.is_none() {
        f.remove(0);
    }
    // fields only the opened pane lists have no short form
    f.retain(|f| !f.short.is_empty());
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

/// Every counter the opened pane lists: [`fields`], then the run's extras
/// (smoothed loss, last epoch's speed, best accuracy, …) and the chart's scale.
fn side_fields(v: &View) -> Vec<Field> {
    let mut all = fields(v);
    let p = &v.cx.run.progress;
    if !not_started(v) && v.cx.stepper.is_none() {
        if let Some(s) = v.pane.losses.last_smoothed() {
            all.push(field(String::new(), "loss, smoothed", fmt_value(s)));
        }
        if let Some(e) = &v.pane.last_epoch {
            // the number `dl-lab run --json` prints as img_per_s
            all.push(field(
                String::new(),
                "speed, last epoch",
                format!("{} img/s", fmt::rate(e.img_per_s)),
            ));
            // the pair to compare: a training accuracy far above the
            // held-out one is overfitting
            all.push(field(
                String::new(),
                "train accuracy",
                format!("{:.1} %", e.train_acc * 100.0),
            ));
            all.push(field(
                String::new(),
                "held-out loss",
                fmt_value(e.test_loss as f64),
            ));
        }
        if let Some((e, a)) = v.pane.best {
            all.push(field(
                String::new(),
                "best test accuracy",
                format!("{:.1} % (epoch {e})", a * 100.0),
            ));
        }
        all.push(field(
            String::new(),
            "held-out images",
            fmt::count(v.cx.data.test.labels.len()),
        ));
        all.push(field(String::new(), "time left (ETA)", eta_text(v)));
        all.push(field(
            String::new(),
            "time training",
            fmt_secs(busy_secs(p)),
        ));
        all.push(field(
            String::new(),
            "learning rate",
            format!("{} ({})", fmt::lr(v.cx.hyper.lr), v.cx.hyper.optimizer),
        ));
    }
    let per = if per_epoch(v) { "epochs" } else { "steps" };
    let stride = v.pane.losses.stride();
    all.push(field(
        String::new(),
        "chart scale",
        if v.pane.log_scale {
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
    all
}

/// The counters column of the opened pane: one labelled value per row.
pub(super) fn render_side(v: &View, area: Rect, buf: &mut Buffer) {
    let label = Style::new().fg(Color::DarkGray);
    let mut lines: Vec<Line> = Vec::new();
    let width = area.width.saturating_sub(1) as usize;
    for f in &side_fields(v) {
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
    if !not_started(v) && v.cx.stepper.is_none() && text.height > 2 {
        // the bar on its own row; state and ETA are rows of their own below
        progress_line(v, Rect { height: 1, ..text }, buf, true);
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

fn eta_text(v: &View) -> String {
    match v.cx.run.state {
        TrainState::Finished | TrainState::Failed(_) => "–".into(),
        _ => v.cx.run.progress.eta_secs().map_or("–".into(), fmt_secs),
    }
}

/// "[#####-----] 43 % · ETA 12 s" on one row.
pub(super) fn progress_line(v: &View, area: Rect, buf: &mut Buffer, bare: bool) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let (fraction, label) = match &v.cx.stepper {
        Some(s) => {
            let f = s.costs.len() as f64 / (s.session.epochs + 1).max(1) as f64;
            (f.min(1.0), format!(" {:.0} %", f.min(1.0) * 100.0))
        }
        None if not_started(v) => (0.0, " not started".to_string()),
        None => {
            let f = v.cx.run.progress.fraction();
            if bare {
                return progress_bar(f, format!(" {:.0} %", f * 100.0), v.cx.ascii, area, buf);
            }
            let state = state_field(v).short;
            (
                f,
                format!(" {:.0} % · ETA {} · {state}", f * 100.0, eta_text(v)),
            )
        }
    };
    progress_bar(fraction, label, v.cx.ascii, area, buf);
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
