//! The Loss pane's charts: the loss (or a small lesson's cost) per step or
//! epoch with its smoothed line, on a linear or log axis; and the held-out
//! accuracy after each epoch in percent, placed at the step that epoch ends
//! on, so both charts count steps. No axis repeats a label. Both are ratatui `Chart`s; with too little
//! data they draw a short notice instead.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Widget};

use super::format::{fmt_count, fmt_tick};
use super::View;
use super::{notice, per_epoch};
use crate::lessons::Task;
use crate::tui::format::distinct_ticks;

/// Loss (or cost) per step with its smoothed line; `full` adds the legend.
pub(super) fn loss_chart(v: &View, area: Rect, buf: &mut Buffer, full: bool) {
    let h = &v.pane.losses;
    // the live curve and the earlier runs' ghosts share the axes
    let Some((x0, x1)) = v.pane.x_span() else {
        let what = if per_epoch(v) {
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
    let log = v.pane.log_scale;
    let floor = v.pane.min_positive_y().unwrap_or(1e-12);
    let map = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter()
            .map(|&(x, y)| (x, if log { y.max(floor).log10() } else { y }))
            .collect()
    };
    let raw = map(h.points());
    let smooth = map(h.smoothed());
    // the held-out loss after each epoch, at the step that epoch ends on
    let per = v.cx.run.progress.batches_per_epoch.max(1) as f64;
    let held: Vec<(f64, f64)> = if per_epoch(v) {
        Vec::new()
    } else {
        let pts: Vec<(f64, f64)> = v
            .pane
            .test_loss
            .points()
            .iter()
            .map(|&(e, l)| (e * per, l))
            .collect();
        map(&pts)
    };
    let ghost_pts: Vec<Vec<(f64, f64)>> = v.pane.ghosts.iter().map(|g| map(&g.points)).collect();
    // the live curve and the ghosts, and the held-out loss where it is drawn
    let (lo, hi) = v.pane.y_span().unwrap_or((0.0, 1.0));
    let (lo, hi) = v
        .pane
        .test_loss
        .y_range()
        .filter(|_| !held.is_empty())
        .map_or((lo, hi), |(a, b)| (lo.min(a), hi.max(b)));
    let (lo, hi) = if log {
        (lo.max(floor).log10(), hi.max(floor).log10())
    } else {
        (lo, hi)
    };
    let (lo, hi) = pad(lo, hi, !log);
    let y_label = |v: f64| fmt_tick(if log { 10f64.powf(v) } else { v });
    let what = if per_epoch(v) { "cost" } else { "loss" };
    let y_title = if log {
        format!("{what} (log)")
    } else {
        what.to_string()
    };
    let x_title = if per_epoch(v) { "epoch" } else { "step" };
    let x1 = held.iter().map(|p| p.0).fold(x1, f64::max).max(x0 + 1.0);
    let ascii = v.cx.ascii;
    // the ghosts first, so the live curve is drawn over them
    let mut sets: Vec<Dataset> = v
        .pane
        .ghosts
        .iter()
        .zip(&ghost_pts)
        .enumerate()
        .map(|(i, (g, pts))| {
            Dataset::default()
                .name(g.label.clone())
                .marker(if ascii {
                    Marker::Custom(',')
                } else {
                    Marker::Braille
                })
                .graph_type(GraphType::Line)
                .style(super::ghosts::ghost_style(i))
                .data(pts)
        })
        .collect();
    let live_name = match (&v.pane.label, v.pane.ghosts.is_empty()) {
        (Some(label), false) => label.clone(),
        _ if h.stride() > 1 => format!("{what} (mean of {})", h.stride()),
        _ => format!("{what} per {x_title}"),
    };
    sets.push(
        Dataset::default()
            .name(live_name)
            .marker(if ascii {
                Marker::Custom('.')
            } else {
                Marker::Braille
            })
            .graph_type(GraphType::Line)
            .style(Style::new().fg(if per_epoch(v) {
                Color::Yellow
            } else {
                Color::Gray
            }))
            .data(&raw),
    );
    if !per_epoch(v) {
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
    if !held.is_empty() {
        let (line, dot) = if ascii {
            (Marker::Custom('-'), Marker::Custom('x'))
        } else {
            (Marker::Braille, Marker::Dot)
        };
        let red = Style::new().fg(Color::LightRed);
        sets.push(
            Dataset::default()
                .name("held-out loss")
                .marker(line)
                .graph_type(GraphType::Line)
                .style(red)
                .data(&held),
        );
        sets.push(
            Dataset::default()
                .marker(dot)
                .graph_type(GraphType::Scatter)
                .style(red)
                .data(&held),
        );
    }
    // the rewound epoch: a vertical line across the chart
    let cursor: Vec<(f64, f64)> = v
        .pane
        .rewound
        .iter()
        .flat_map(|&(x, _)| [(x, lo), (x, hi)])
        .collect();
    if !cursor.is_empty() {
        sets.push(
            Dataset::default()
                .name("rewound to")
                .marker(if ascii {
                    Marker::Custom('|')
                } else {
                    Marker::Braille
                })
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::White))
                .data(&cursor),
        );
    }
    // weights typed by hand: a vertical line where their first cost lands
    let marks: Vec<[(f64, f64); 2]> = v
        .pane
        .hand_set
        .iter()
        .filter(|&&x| (x0..=x1).contains(&x))
        .map(|&x| [(x, lo), (x, hi)])
        .collect();
    for mark in &marks {
        let set = Dataset::default()
            .marker(if ascii {
                Marker::Custom(':')
            } else {
                Marker::Braille
            })
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Magenta))
            .data(mark);
        // named in the pane's bottom border, which every layout has room for
        sets.push(set);
    }
    let axis_style = Style::new().fg(Color::Gray);
    let chart = Chart::new(sets)
        .x_axis(
            Axis::default()
                .title(x_title)
                .style(axis_style)
                .bounds([x0, x1])
                .labels(distinct_ticks(vec![
                    fmt_count(x0),
                    fmt_count((x0 + x1) / 2.0),
                    fmt_count(x1),
                ])),
        )
        .y_axis(
            Axis::default()
                .title(y_title)
                .style(axis_style)
                .bounds([lo, hi])
                .labels(distinct_ticks(vec![
                    y_label(lo),
                    y_label((lo + hi) / 2.0),
                    y_label(hi),
                ])),
        )
        .legend_position(full.then_some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    chart.render(area, buf);
}

/// Held-out (green) and training (cyan) accuracy per epoch, in percent, on
/// their own axis: the gap between them is overfitting.
pub(super) fn acc_chart(v: &View, area: Rect, buf: &mut Buffer) {
    // on the loss chart's x unit: epoch e (from 1) ends at step e × batches
    let per = v.cx.run.progress.batches_per_epoch.max(1) as f64;
    let on_steps = |s: &crate::train::history::Series| -> Vec<(f64, f64)> {
        s.points()
            .iter()
            .map(|&(e, a)| (e * per, a * 100.0))
            .collect()
    };
    let pts = on_steps(&v.pane.accuracy);
    let train = on_steps(&v.pane.train_accuracy);
    if pts.is_empty() {
        notice("test accuracy: after the first epoch", area, buf);
        return;
    }
    if area.width < 12 || area.height < 4 {
        return;
    }
    let planned = match v.cx.lesson.task {
        Task::Classifier { .. } => v.cx.run.progress.epochs.max(1) as f64 * per,
        _ => per,
    };
    let x1 = pts.iter().map(|p| p.0).fold(planned, f64::max);
    let lo = pts.iter().chain(&train).map(|p| p.1).fold(100.0, f64::min);
    let lo = ((lo - 5.0) / 10.0).floor().max(0.0) * 10.0;
    let (line, dot) = if v.cx.ascii {
        (Marker::Custom('.'), Marker::Custom('o'))
    } else {
        (Marker::Braille, Marker::Dot)
    };
    let green = Style::new().fg(Color::Green);
    let cyan = Style::new().fg(Color::Cyan);
    let chart = Chart::new(vec![
        Dataset::default()
            .name("train")
            .marker(line)
            .graph_type(GraphType::Line)
            .style(cyan)
            .data(&train),
        Dataset::default()
            .name("held-out")
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
            .title("step")
            .style(Style::new().fg(Color::Gray))
            .bounds([0.0, x1])
            .labels(distinct_ticks(vec![
                "0".to_string(),
                fmt_count(x1 / 2.0),
                fmt_count(x1),
            ])),
    )
    .y_axis(
        Axis::default()
            .title("acc %")
            .style(Style::new().fg(Color::Gray))
            .bounds([lo, 100.0])
            .labels(distinct_ticks(vec![
                format!("{lo:.0} %"),
                format!("{:.0} %", (lo + 100.0) / 2.0),
                "100 %".to_string(),
            ])),
    );
    let chart = chart
        .legend_position(Some(LegendPosition::BottomRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(2, 3)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_line_gets_a_band() {
        let (lo, hi) = pad(2.0, 2.0, true);
        assert!(lo < 2.0 && hi > 2.0);
        assert_eq!(pad(0.0, 1.0, true).0, 0.0);
    }
}
