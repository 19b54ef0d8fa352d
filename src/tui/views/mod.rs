//! Drawing: the layout (four panes + status line), the help overlay, the
//! "terminal too small" notice, and small helpers the panes share. Each
//! pane draws itself in its own module from `&App`.
//!
//! - `dataset/`, `model_builder/`, `loss_chart/`, `conv_viz/`: the four
//!   panes, each with its own state, keys and drawing
//! - `stepper_view`: the small lessons' pictures, in the Dataset and Model
//!   panes' place
//! - `shade.rs`: a matrix (digit, kernel, feature map) as shaded cells
//! - `text.rs`: display width and word wrap, shared by the panes

pub mod backprop;
pub mod canvas_view;
pub mod conv_viz;
pub mod dataset;
pub mod help;
pub mod line_edit;
pub mod loss_chart;
pub mod model_builder;
pub mod plain;
pub mod prompt;
pub mod race_view;
pub mod shade;
pub mod stepper_view;
pub mod surface;
mod text;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};
use ratatui::Frame;

use super::app::{App, PaneId};
use super::training::TrainState;

/// What a pane reads besides its own state: a small read-only view of the
/// lab, so a pane draws from `(its state, context)` rather than all of
/// `App` (the Dataset and Conv/Pool panes do; the others still take `&App`).
#[derive(Clone)]
pub struct ViewContext<'a> {
    pub lesson: &'a crate::lessons::Lesson,
    pub data: &'a crate::data::mnist::Mnist,
    pub focus: PaneId,
    /// Plain ASCII drawing (`--ascii`).
    pub ascii: bool,
    /// No colours (`NO_COLOR`).
    pub mono: bool,
    /// The classifier's training run: state, progress, trained model.
    pub run: &'a crate::tui::training::TrainingRun,
    /// The small lesson's session (None in the MNIST lessons).
    pub stepper: Option<&'a crate::tui::stepper::Stepper>,
    /// The settings the next run starts with.
    pub hyper: &'a crate::lessons::Hyper,
    /// The file the model's weights were opened from (key o), by name.
    pub weights: Option<String>,
    /// The held-out predictions per epoch: confusion matrix, mistakes.
    pub mistakes: &'a crate::tui::mistakes::Mistakes,
    /// The optimizer race (None in other lessons).
    pub race: Option<&'a crate::tui::race::RaceLab>,
}

impl App {
    /// The read-only context the panes draw with.
    pub fn view_context(&self) -> ViewContext<'_> {
        ViewContext {
            lesson: &self.lesson,
            data: &self.data,
            focus: self.focus,
            ascii: self.ascii,
            mono: self.mono,
            run: &self.training,
            stepper: self.stepper.as_ref(),
            hyper: &self.hyper,
            weights: self.files.loaded_name(),
            mistakes: &self.mistakes,
            race: self.race.as_ref(),
        }
    }
}

/// The smallest terminal the four-pane layout fits.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// The four pane rectangles (Dataset, Model, Loss, Conv/Pool) in `area`,
/// which includes the status line at the bottom.
pub fn pane_areas(area: Rect) -> [Rect; 4] {
    let [main, _status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(main);
    let [a, b] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [c, d] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    [a, b, c, d]
}

/// Borders drawn with plain ASCII, for `--ascii`.
const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// The plain ASCII border set (for boxes drawn inside a pane).
pub(crate) fn ascii_border() -> border::Set<'static> {
    ASCII_BORDER
}

/// Focused ASCII panes get '#' borders.
const ASCII_BORDER_FOCUSED: border::Set = border::Set {
    top_left: "#",
    top_right: "#",
    bottom_left: "#",
    bottom_right: "#",
    vertical_left: "#",
    vertical_right: "#",
    horizontal_top: "#",
    horizontal_bottom: "#",
};

/// A pane's frame: its title, highlighted when focused; ASCII-only with `ascii`.
pub fn pane_block(title: &str, focused: bool, ascii: bool) -> Block<'static> {
    let style = if focused {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let block = Block::new().borders(Borders::ALL).border_style(style);
    let block = match (ascii, focused) {
        (true, true) => block.border_set(ASCII_BORDER_FOCUSED),
        (true, false) => block.border_set(ASCII_BORDER),
        (false, true) => block.border_type(BorderType::Thick),
        (false, false) => block.border_type(BorderType::Plain),
    };
    let title = if ascii {
        plain::ascii_text(title)
    } else {
        title.to_string()
    };
    block.title(Span::styled(format!(" {title} "), style))
}

/// Draw the whole lab.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    render_to(app, area, frame.buffer_mut());
}

/// Draw the whole lab into a buffer (TestBackend-friendly).
pub fn render_to(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(area, buf);
        if app.ascii {
            plain::ascii_only(area, buf);
        }
        return;
    }
    let [main, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    if let Some(b) = &app.backprop {
        backprop::render(b, app.ascii, main, buf);
    } else if let Some(p) = &app.prompt {
        prompt::render(p, app.ascii, main, buf);
    } else if app.zoomed {
        render_pane(app, app.focus, main, buf, true);
    } else {
        for (pane, rect) in PaneId::ALL.iter().zip(pane_areas(area)) {
            render_pane(app, *pane, rect, buf, false);
        }
    }
    status_bar(app, status, buf);
    crate::tui::quiz::render_question(app, main, buf);
    if app.show_help {
        help::render(app, main, buf);
    }
    if let Some(selected) = app.lesson_picker {
        lesson_overlay(app, main, buf, selected);
    }
    if app.mono {
        plain::monochrome(area, buf);
    }
    if app.ascii {
        plain::ascii_only(area, buf);
    }
}

/// Draw one pane (`zoomed`: opened to fill the screen) into `area`.
/// Every pane draws from its own state and the lab's read-only
/// [`ViewContext`]; none sees the whole `App`.
pub fn render_pane(app: &App, pane: PaneId, area: Rect, buf: &mut Buffer, zoomed: bool) {
    let focused = app.focus == pane;
    if crate::tui::rewind::render_rewound(app, pane, area, buf, focused, zoomed) {
        return;
    }
    let cx = app.view_context();
    if let Some(r) = cx.race {
        return match pane {
            PaneId::Dataset => race_view::render_map(r, cx.ascii, cx.mono, area, buf, focused),
            PaneId::Model => race_view::render_table(r, cx.ascii, area, buf, focused),
            PaneId::Loss => race_view::render_losses(r, cx.ascii, area, buf, focused),
            PaneId::Conv => race_view::render_inspector(r, cx.ascii, area, buf, focused),
        };
    }
    match pane {
        PaneId::Dataset if cx.stepper.is_some() => {
            stepper_view::render_data(&cx, area, buf, focused)
        }
        PaneId::Model if cx.stepper.is_some() && app.small_model_editing => {
            model_builder::render_pane(&app.builder, &cx, area, buf, focused, zoomed)
        }
        PaneId::Model if cx.stepper.is_some() => {
            stepper_view::render_model(&cx, area, buf, focused)
        }
        PaneId::Conv if cx.stepper.is_some() => stepper_view::render_graph(&cx, area, buf, focused),
        PaneId::Dataset if app.canvas.on => {
            canvas_view::render(&app.canvas, &cx, area, buf, focused)
        }
        PaneId::Dataset => dataset::render_pane(&app.dataset, &cx, area, buf, focused, zoomed),
        PaneId::Model => model_builder::render_pane(&app.builder, &cx, area, buf, focused, zoomed),
        PaneId::Loss => loss_chart::render_pane(&app.loss, &cx, area, buf, focused, zoomed),
        PaneId::Conv => conv_viz::render_pane(&app.conv, &cx, area, buf, focused, zoomed),
    }
}

/// "terminal too small (need 80×24)", centred as far as it fits.
pub fn too_small(area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let text = format!(
        "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{})",
        area.width, area.height
    );
    let y = area.y + area.height / 2;
    let line = Rect::new(area.x, y, area.width, 1);
    Paragraph::new(text).wrap(Wrap { trim: true }).render(
        Rect {
            height: area.height - (y - area.y),
            ..line
        },
        buf,
    );
}

/// Keys the status bar lists after the state's own, as far as they fit.
const NAV_KEYS: [&str; 2] = ["Tab pane", "Enter open"];

/// The end of the status line at every width: the two keys a first-timer
/// must always find.
pub const ALWAYS_KEYS: &str = "? help  q quit";

/// The keys that matter now, or the current message, then `? help  q quit`
/// at the right end. The other hints give way first (whole hints, from the
/// last), then the message is cut with `…`.
fn status_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let state_keys: &[&str] = if let Some(b) = &app.backprop {
        b.status_keys()
    } else if let Some(p) = &app.prompt {
        p.status_keys()
    } else if app.race.is_some() {
        &[
            "Space step",
            "s run/pause",
            "f surface",
            "r reset",
            "+/- lr",
        ]
    } else if let Some(s) = &app.stepper {
        if s.hand.is_some() {
            &["type a number", "Tab/↑↓ field", "Enter set", "Esc leave"]
        } else if crate::tui::hand_weights::applies(s) {
            &[
                "Space step",
                "s run/pause",
                "e weights",
                "r reset",
                "+/- lr",
            ]
        } else {
            &["Space step", "s run/pause", "r reset", "+/- lr"]
        }
    } else {
        match app.training.state {
            TrainState::Running => &["s pause", "+/- lr", "l log"],
            TrainState::Paused | TrainState::Diverged(_) => &["s resume", "r reset", "+/- lr"],
            _ => &["s train", "r reset", "+/- lr"],
        }
    };
    let sep = if app.ascii { " | " } else { " · " };
    // the tensor prompt trains nothing: no learning rate to show
    let lr = match &app.race {
        _ if app.prompt.is_some() => String::new(),
        Some(r) => r.lr_text(),
        None => {
            // momentum and init beside the lr, when they are not plain (I, M)
            let h = app.stepper.as_ref().map_or(&app.hyper, |s| s.hyper());
            let lr = app.stepper.as_ref().map_or(app.hyper.lr, |s| s.lr());
            crate::tui::format::lr(lr) + &crate::tui::run_settings::extras(h)
        }
    };
    let bar = if app.ascii { " | " } else { " │ " };
    let always = format!(" {ALWAYS_KEYS} ");
    let always_w = (text::width_of(&always) as u16).min(area.width);
    let left = Rect {
        width: area.width - always_w,
        ..area
    };
    let mut spans = vec![
        Span::styled(
            format!(" {} ", app.lesson.name),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Span::raw(if lr.is_empty() {
            format!(" {}{bar}", device_label(app))
        } else {
            format!(" {}{bar}lr {lr}{bar}", device_label(app))
        }),
    ];
    let room = usize::from(left.width).saturating_sub(spans.iter().map(Span::width).sum());
    if let Some(typed) = &app.predict_prompt {
        let n = app.stepper.as_ref().map_or(0, |s| s.session.features());
        let what = if n == 1 { "x" } else { "x1,x2,…" };
        spans.push(Span::styled(
            cut(
                &format!("predict H(X), X ({what}) = {typed}_  Enter · Esc"),
                room,
                app.ascii,
            ),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
        Paragraph::new(Line::from(spans)).render(left, buf);
        return status_end(always, always_w, left, area, buf);
    }
    match &app.message {
        Some(m) => spans.push(Span::styled(
            cut(m, room, app.ascii),
            Style::new().fg(Color::Yellow),
        )),
        None => {
            let mut hints = String::new();
            for k in state_keys.iter().chain(&NAV_KEYS) {
                let more = if hints.is_empty() {
                    0
                } else {
                    text::width_of(sep)
                };
                if text::width_of(&hints) + more + text::width_of(k) > room {
                    break;
                }
                if !hints.is_empty() {
                    hints.push_str(sep);
                }
                hints.push_str(k);
            }
            spans.push(Span::styled(hints, Style::new().fg(Color::DarkGray)));
        }
    }
    Paragraph::new(Line::from(spans)).render(left, buf);
    status_end(always, always_w, left, area, buf);
}

/// `? help  q quit` at the status line's right end.
fn status_end(always: String, always_w: u16, left: Rect, area: Rect, buf: &mut Buffer) {
    let right = Rect {
        x: left.right(),
        width: always_w,
        ..area
    };
    Paragraph::new(Line::styled(
        always,
        Style::new().add_modifier(Modifier::BOLD),
    ))
    .render(right, buf);
}

/// `s` cut to `width` cells, ending in `…` (`...` with `ascii`) when cut.
fn cut(s: &str, width: usize, ascii: bool) -> String {
    if text::width_of(s) <= width {
        return s.to_string();
    }
    let more = if ascii { "..." } else { "…" };
    let mut out = String::new();
    for ch in s.chars() {
        let mut next = out.clone();
        next.push(ch);
        if text::width_of(&next) + text::width_of(more) > width {
            break;
        }
        out = next;
    }
    if width >= text::width_of(more) {
        out.push_str(more);
    }
    out
}

/// The device the lesson computes on: `--device` for the MNIST lessons, the
/// CPU engine for the small ones. Short (`opencl:0`), so that the status
/// line keeps its hints at 80 columns; `dl-lab devices` names the device.
fn device_label(app: &App) -> String {
    if app.stepper.is_some() || !app.lesson.is_classifier() {
        return "cpu".into();
    }
    let name = app.device.name();
    match name.split_once(" (") {
        Some((short, _)) => short.to_string(),
        None => name,
    }
}

/// A cleared box of at most `w`×`h` centred in `area`, for an overlay.
fn overlay(area: Rect, w: u16, h: u16, buf: &mut Buffer) -> Rect {
    let (w, h) = (area.width.min(w), area.height.min(h));
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    rect
}

/// The course's lessons, numbered in order, one plain line each; the first
/// is marked as the place to start and, once this lesson is finished, the
/// next one as next. Under the list: what to watch in the selected lesson.
fn lesson_overlay(app: &App, area: Rect, buf: &mut Buffer, selected: usize) {
    let lessons = crate::lessons::all();
    let ascii = app.ascii;
    let inner_w = area.width.min(100).saturating_sub(2) as usize;
    let arrow = if ascii { "<-" } else { "←" };
    let next = app
        .lesson_finished()
        .then(|| app.next_lesson())
        .flatten()
        .map(|l| l.name);
    let mut lines: Vec<Line> = lessons
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let style = if i == selected {
                Style::new().fg(Color::Black).bg(Color::Cyan)
            } else {
                Style::new()
            };
            let mark = if i == 0 {
                format!(" {arrow} start here")
            } else if Some(l.name) == next {
                format!(" {arrow} next")
            } else {
                String::new()
            };
            Line::from(vec![
                Span::styled(format!("{}. ", i + 1), style),
                Span::styled(
                    format!("{:<15}", l.name),
                    style.add_modifier(Modifier::BOLD),
                ),
                Span::styled(l.blurb, style),
                Span::styled(mark, Style::new().fg(Color::Green)),
            ])
        })
        .collect();
    let hint = Line::from(Span::styled(
        if ascii {
            "up/down choose | Enter open | Esc close"
        } else {
            "↑/↓ choose · Enter open · Esc close"
        },
        Style::new().fg(Color::DarkGray),
    ));
    // what to watch in the selected lesson, as much as the screen allows
    let room = (area.height as usize).saturating_sub(lines.len() + 4 + 1);
    if let Some(l) = lessons.get(selected) {
        let watch = text::wrap_words(
            &format!("What to watch in {}: {}", l.name, l.notes),
            inner_w,
        );
        if room >= 2 {
            lines.push(Line::raw(""));
            lines.extend(
                watch
                    .into_iter()
                    .take(room - 1)
                    .map(|w| Line::styled(w, Style::new().fg(Color::Yellow))),
            );
        }
    }
    lines.push(Line::raw(""));
    lines.push(hint);
    let rect = overlay(area, 100, lines.len() as u16 + 2, buf);
    Paragraph::new(lines)
        .block(pane_block(
            "Lessons: the course in order (start at 1)",
            true,
            ascii,
        ))
        .render(rect, buf);
}

/// Draw a one-line status in the middle of the screen (before the first
/// frame has data); only ASCII with `ascii`.
pub fn loading(frame: &mut Frame, what: &str, ascii: bool) {
    let area = frame.area();
    let y = area.height / 2;
    let what = if ascii {
        plain::ascii_text(what)
    } else {
        what.to_string()
    };
    Paragraph::new(what).render(
        Rect::new(area.x, area.y + y, area.width, 1.min(area.height)),
        frame.buffer_mut(),
    );
}

/// Learning rates `+` and `-` step through: the values a lesson wants to try.
pub const LR_LADDER: &[f32] = &[
    1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0, 1.1, 1.5,
    3.0, 10.0,
];

/// The next rung of [`LR_LADDER`] above (or below) `lr`.
pub fn lr_ladder(lr: f32, up: bool) -> f32 {
    let eps = lr * 1e-3;
    if up {
        LR_LADDER
            .iter()
            .copied()
            .find(|&v| v > lr + eps)
            .unwrap_or(lr)
    } else {
        LR_LADDER
            .iter()
            .rev()
            .copied()
            .find(|&v| v < lr - eps)
            .unwrap_or(lr)
    }
}

pub use crate::tui::training::model_from_params;
