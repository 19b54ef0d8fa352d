//! The optimizer race's panes: the surface as a heat/contour map with the
//! seven paths (Dataset's place), the table of each optimizer's x, y, loss
//! and rate (Model's), the losses over the steps on a log scale (Loss's),
//! and the Adam inspector (Conv/Pool's): m, v, m̂, v̂ and the step actually
//! taken, next to plain SGD's lr·g for the same gradient.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::pane_block;
use super::surface::{self, HeatMap, Track};
use crate::train::race::{Racer, Surface};
use crate::tui::race::RaceLab;

/// The race's keys, for the help (`?`).
pub const KEYS: &[(&str, &str)] = &[
    (
        "Space / →",
        "one step of every optimizer (→ in the opened pane)",
    ),
    ("s", "run / pause the steps"),
    (
        "f",
        "switch the surface: bowl / Rosenbrock (back to the start)",
    ),
    ("r", "back to the start"),
    (
        "+ / -",
        "one learning rate for every optimizer (else each its default)",
    ),
];

/// Each racer's letter on the map and its colour.
pub fn look(r: Racer) -> (char, Color) {
    match r {
        Racer::Sgd => ('S', Color::Red),
        Racer::Momentum => ('M', Color::Magenta),
        Racer::Nesterov => ('N', Color::LightMagenta),
        Racer::Adam => ('A', Color::Cyan),
        Racer::AdamW => ('W', Color::LightCyan),
        Racer::Rmsprop => ('R', Color::Green),
        Racer::Adagrad => ('G', Color::White),
    }
}

/// The window drawn: the surface's own, grown to hold the start.
pub fn map_window(lab: &RaceLab) -> ([f64; 2], [f64; 2]) {
    let (mut x, mut y) = match lab.race.surface {
        Surface::Bowl => ([-10.0, 10.0], [-3.0, 3.0]),
        Surface::Rosenbrock => ([-2.0, 2.0], [-1.0, 3.0]),
    };
    let [sx, sy] = lab.race.start.map(f64::from);
    if !(x[0]..=x[1]).contains(&sx) || !(y[0]..=y[1]).contains(&sy) {
        x = surface::window([x[0], x[1], sx].into_iter(), 0.05, 1.0);
        y = surface::window([y[0], y[1], sy].into_iter(), 0.05, 1.0);
    }
    (x, y)
}

/// A number in at most 9 cells: 3 decimals, or scientific when huge or tiny.
pub fn short(v: f32) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

pub fn render_map(
    lab: &RaceLab,
    ascii: bool,
    mono: bool,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
) {
    let s = lab.race.surface;
    let long = format!("Surface: {} · step {}", s.formula(), lab.race.steps);
    let title = if long.chars().count() + 4 <= usize::from(area.width) {
        long
    } else {
        format!("{} · step {}", s.name(), lab.race.steps)
    };
    let block = pane_block(&title, focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 12 || inner.height < 4 {
        return;
    }
    let f = move |x: f64, y: f64| s.value(x, y);
    let (x, y) = map_window(lab);
    let tracks = lab
        .race
        .runners
        .iter()
        .map(|r| {
            let (glyph, color) = look(r.racer);
            Track {
                points: &r.path,
                glyph,
                // without colour the trails are told apart by letter
                trail: if ascii || mono {
                    glyph.to_ascii_lowercase()
                } else {
                    '•'
                },
                color,
            }
        })
        .collect();
    let legend_row = inner.width >= 60 && inner.height >= 10;
    let map_area = if legend_row {
        let [m, l] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
        legend(ascii, mono, l, buf);
        m
    } else {
        inner
    };
    HeatMap {
        f: &f,
        x,
        y,
        log: s == Surface::Rosenbrock,
        tracks,
        minimum: Some(s.minimum().map(f64::from)),
        ascii,
        mono,
    }
    .render(map_area, buf);
}

/// "S sgd  M momentum …" in the racers' colours.
fn legend(ascii: bool, mono: bool, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for r in Racer::ALL {
        let (g, c) = look(r);
        let style = if ascii || mono {
            Style::new()
        } else {
            Style::new().fg(c)
        };
        spans.push(Span::styled(format!("{g} {} ", r.name()), style));
    }
    let min = if ascii { "+ minimum" } else { "✛ minimum" };
    spans.push(Span::styled(min, Style::new().fg(Color::DarkGray)));
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// Each optimizer's place and loss, best first marked.
pub fn render_table(lab: &RaceLab, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block(&format!("Race: step {}", lab.race.steps), focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    let wide = inner.width >= 45;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut head = format!("  {:<9}{:>8}{:>8}{:>10}", "optimizer", "x", "y", "loss");
    if wide {
        head += &format!("{:>8}", "lr");
    }
    let mut lines = vec![Line::styled(head, bold)];
    let best = lab
        .race
        .runners
        .iter()
        .map(|r| r.now().1)
        .filter(|l| l.is_finite())
        .fold(f32::INFINITY, f32::min);
    for r in &lab.race.runners {
        let (glyph, color) = look(r.racer);
        let ([x, y], loss) = r.now();
        let mut row = format!(
            "{:<9}{:>8}{:>8}{:>10}",
            r.racer.name(),
            short(x),
            short(y),
            short(loss)
        );
        if wide {
            row += &format!("{:>8}", crate::tui::format::lr(r.lr()));
        }
        let style = if loss == best { bold } else { Style::new() };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{glyph} "),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ),
            Span::styled(row, style),
        ]));
    }
    if inner.height as usize > lines.len() {
        let lr = match lab.race.lr {
            Some(lr) => format!("every optimizer at lr {}", crate::tui::format::lr(lr)),
            None => "each optimizer at its default lr".into(),
        };
        lines.push(Line::styled(lr, Style::new().fg(Color::DarkGray)));
    }
    // at 80×24 the pane holds 9 rows: the head and the seven racers first
    Paragraph::new(lines).render(inner, buf);
}

/// log10 of each racer's loss over the steps.
pub fn render_losses(lab: &RaceLab, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let series: Vec<Vec<(f64, f64)>> = lab
        .race
        .runners
        .iter()
        .map(|r| {
            r.losses
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_finite() && **l > 0.0)
                .map(|(k, &l)| (k as f64, f64::from(l).log10()))
                .collect()
        })
        .collect();
    let (lo, hi) = series
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p.1), h.max(p.1))
        });
    let (lo, hi) = if lo <= hi {
        (lo.floor(), hi.ceil().max(lo.floor() + 1.0))
    } else {
        (-1.0, 1.0)
    };
    let steps = lab.race.steps.max(1) as f64;
    let datasets = lab
        .race
        .runners
        .iter()
        .zip(&series)
        .map(|(r, s)| {
            let (_, color) = look(r.racer);
            Dataset::default()
                .data(s)
                .graph_type(GraphType::Line)
                .marker(if ascii {
                    Marker::Custom('*')
                } else {
                    Marker::Braille
                })
                .style(Style::new().fg(color))
        })
        .collect();
    let dim = Style::new().fg(Color::DarkGray);
    Chart::new(datasets)
        .block(pane_block("Loss: log10 f per optimizer", focused, ascii))
        .legend_position(None)
        .x_axis(
            Axis::default()
                .title("step")
                .style(dim)
                .bounds([0.0, steps])
                .labels(["0".to_string(), format!("{}", lab.race.steps.max(1))]),
        )
        .y_axis(
            Axis::default()
                .style(dim)
                .bounds([lo, hi])
                .labels([format!("1e{lo}"), format!("1e{hi}")]),
        )
        .render(area, buf);
}

/// Adam's last step, coordinate by coordinate, against SGD's.
pub fn render_inspector(lab: &RaceLab, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block("Adam inspector", focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(a) = lab.race.adam_inspect() else {
        let lines = vec![
            Line::raw("Adam's m, v and step show after the first step (Space)."),
            Line::raw(""),
            Line::styled(
                "m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²",
                Style::new().fg(Color::DarkGray),
            ),
            Line::styled("step = lr·m̂/(√v̂ + ε)", Style::new().fg(Color::DarkGray)),
        ];
        let lines = if ascii {
            super::plain::ascii_lines(lines)
        } else {
            lines
        };
        return Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .render(inner, buf);
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().fg(Color::DarkGray);
    // the formulas beside the numbers where they fit whole
    let room = usize::from(inner.width).saturating_sub(27);
    let row = |name: &str, v: [f32; 2], note: &str| {
        let note = if note.chars().count() <= room {
            note
        } else {
            ""
        };
        Line::from(vec![
            // m̂ is two chars in one cell: pad by width, not chars
            Span::styled(
                format!(
                    "{name}{}",
                    " ".repeat(5usize.saturating_sub(super::text::width_of(name)))
                ),
                bold,
            ),
            Span::raw(format!("{:>10}{:>10}", short(v[0]), short(v[1]))),
            Span::styled(format!("  {note}"), dim),
        ])
    };
    let sgd_lr = lab.race.runner(Racer::Sgd).map_or(0.0, |r| r.lr());
    let lr = crate::tui::format::lr(a.lr);
    let mut lines = vec![
        Line::styled(format!("step t = {} · lr {lr} · β (0.9, 0.999)", a.t), bold),
        Line::styled(format!("{:<5}{:>10}{:>10}", "", "x", "y"), bold),
        row("g", a.grad, "∂f at Adam's point"),
        row("m", a.m, "β1·m + (1−β1)·g"),
        row("v", a.v, "β2·v + (1−β2)·g²"),
        row("m̂", a.m_hat, "m/(1−β1^t)"),
        row("v̂", a.v_hat, "v/(1−β2^t)"),
        row("step", a.step, "lr·m̂/(√v̂+ε)"),
        row(
            "SGD",
            a.sgd_step,
            &format!("lr·g, lr {}", crate::tui::format::lr(sgd_lr)),
        ),
    ];
    if ascii {
        lines = super::plain::ascii_lines(lines);
    }
    Paragraph::new(lines).render(inner, buf);
}
