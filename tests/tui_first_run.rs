//! The lab as a first-timer meets it, at 80×24 and at 140×45: the status
//! line always ends with `? help  q quit`, a pane that cannot show
//! everything says so, `?` lists the focused pane's keys first without
//! cutting a line, the small lessons keep "What to watch" in view, and
//! `--ascii` / `NO_COLOR` frames keep their pictures in plain characters.

use crossterm::event::KeyCode;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::event::Event;
use dl_lab::tui::views;

mod common;
use common::tui::{app_with, key};

/// The lab on `lesson`, told its terminal is 80×24.
fn app(lesson: &str, ascii: bool) -> App {
    let mut a = app_with(lesson, ascii);
    a.update(Event::Resize(80, 24));
    a
}

/// The screen as rows of text, drawn through a TestBackend of `w`×`h`.
fn rows(app: &mut App, w: u16, h: u16) -> Vec<String> {
    app.update(Event::Resize(w, h));
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| views::render(app, f)).expect("draw");
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

#[test]
fn the_status_line_ends_with_help_and_quit_at_every_width() {
    for lesson in ["cnn-mnist", "gd-scalar", "multivariate"] {
        for w in [80u16, 81, 97, 100, 140, 200] {
            let mut a = app(lesson, false);
            let screen = rows(&mut a, w, 24);
            let status = screen.last().expect("a status line");
            assert!(
                status.trim_end().ends_with("? help  q quit"),
                "{lesson} at width {w}: {status:?}"
            );
            // a long message is cut before them, not them
            a.message = Some("device auto: no OpenCL GPU found, using the CPU engine ".repeat(3));
            let screen = rows(&mut a, w, 24);
            let status = screen.last().expect("a status line");
            assert!(status.trim_end().ends_with("? help  q quit"), "{status:?}");
            assert!(
                status.contains('…'),
                "the message says it was cut: {status:?}"
            );
        }
    }
}

#[test]
fn at_80x24_the_model_pane_says_how_many_layers_are_hidden() {
    let mut a = app("cnn-mnist", false);
    let screen = rows(&mut a, 80, 24);
    let model: Vec<String> = screen[1..11]
        .iter()
        .map(|r| r.chars().skip(40).collect())
        .collect();
    let text = model.join("\n");
    assert!(text.contains("layer"), "column names shown:\n{text}");
    assert!(text.contains("output"), "column names shown:\n{text}");
    assert!(!text.contains("Linear"), "the last layer is below:\n{text}");
    assert!(text.contains("▼ 3 more"), "hidden rows counted:\n{text}");

    // moving the selection to the end brings Linear into view and the
    // indicator counts what went above
    a.focus = PaneId::Model;
    key(&mut a, KeyCode::End);
    let screen = rows(&mut a, 80, 24);
    let text = screen[1..11].join("\n");
    assert!(text.contains("Linear"), "{text}");
    assert!(text.contains("▲ 3 above"), "{text}");

    // with room for everything (140×45) there is no indicator
    let mut a = app("cnn-mnist", false);
    let text = rows(&mut a, 140, 45).join("\n");
    assert!(text.contains("Linear"), "{text}");
    assert!(
        !text.contains(" more") && !text.contains(" above"),
        "{text}"
    );
}

#[test]
fn help_lists_the_focused_panes_keys_first_and_cuts_no_line() {
    let mut a = app("cnn-mnist", false);
    a.focus = PaneId::Model;
    key(&mut a, KeyCode::Char('?'));
    assert!(a.show_help);
    let screen = rows(&mut a, 80, 24);
    let help: Vec<&String> = screen[..23].iter().collect();
    assert!(help[1].contains("Model pane"), "{:?}", help[1]);
    assert!(
        help[2].contains("select the next / previous layer"),
        "{:?}",
        help[2]
    );
    // the model pane's keys come before the global ones
    let model_at = screen
        .iter()
        .position(|r| r.contains("undo the last change"));
    let global_at = screen.iter().position(|r| r.contains("Everywhere"));
    assert!(model_at.is_some(), "{}", screen.join("\n"));
    if let (Some(m), Some(g)) = (model_at, global_at) {
        assert!(m < g);
    }
    // every description is whole: the longest wraps onto a second row
    let text = screen.join("\n");
    assert!(text.contains("Enter"), "{text}");
    assert!(
        text.contains("applies, Esc cancels"),
        "wrapped, not cut:\n{text}"
    );
    // the list is longer than the screen: it says so and scrolls
    assert!(text.contains("▼"), "{text}");
    for _ in 0..40 {
        key(&mut a, KeyCode::Down);
    }
    assert!(a.show_help, "arrows scroll the help, they do not close it");
    let text = rows(&mut a, 80, 24).join("\n");
    assert!(text.contains("q  quit (also while training)"), "{text}");
    assert!(text.contains("▲"), "{text}");
    assert!(!text.contains("▼"), "at the end nothing is below:\n{text}");
    key(&mut a, KeyCode::PageUp);
    key(&mut a, KeyCode::Esc);
    assert!(!a.show_help);
}

#[test]
fn help_follows_the_focus_and_names_an_open_pane() {
    let mut a = app("cnn-mnist", false);
    a.focus = PaneId::Conv;
    key(&mut a, KeyCode::Enter);
    assert!(a.zoomed);
    key(&mut a, KeyCode::Char('?'));
    let text = rows(&mut a, 140, 45).join("\n");
    assert!(
        text.contains("Conv/Pool pane (open, full screen)"),
        "{text}"
    );
    assert!(
        text.contains("convolution / max pool / average pool"),
        "{text}"
    );
    // at 140×45 everything fits: no scroll line
    assert!(!text.contains("▼"), "{text}");
    assert!(text.contains("What to watch in cnn-mnist"), "{text}");
}

#[test]
fn what_to_watch_stays_after_steps_at_every_size() {
    for lesson in [
        "gd-scalar",
        "linear",
        "multivariate",
        "xor-mlp",
        "mlp-regression",
    ] {
        for (w, h) in [(80u16, 24u16), (100, 30), (140, 45)] {
            let mut a = app(lesson, false);
            for _ in 0..3 {
                key(&mut a, KeyCode::Char(' '));
            }
            let text = rows(&mut a, w, h).join("\n");
            assert!(
                text.contains("What to watch"),
                "{lesson} at {w}×{h}:\n{text}"
            );
        }
    }
}

#[test]
fn ascii_frames_hold_only_ascii_and_keep_the_digit() {
    for lesson in ["cnn-mnist", "gd-scalar", "multivariate", "xor-mlp"] {
        for (w, h) in [(80u16, 24u16), (140, 45)] {
            let mut a = app(lesson, true);
            key(&mut a, KeyCode::Char(' '));
            for screen in [rows(&mut a, w, h), {
                key(&mut a, KeyCode::Char('?'));
                rows(&mut a, w, h)
            }] {
                for (y, row) in screen.iter().enumerate() {
                    assert!(row.is_ascii(), "{lesson} {w}×{h} row {y}: {row:?}");
                }
            }
        }
    }
    // the update is written out readably, not as '?'
    let mut a = app("linear", true);
    key(&mut a, KeyCode::Char(' '));
    let text = rows(&mut a, 140, 45).join("\n");
    assert!(text.contains("<-"), "{text}");
    let upper: String = text.lines().take(40).collect();
    assert!(!upper.contains('?'), "no character left unmapped:\n{text}");
    // the digit is drawn with the ASCII ramp: many distinct shades
    let mut a = app("cnn-mnist", true);
    let screen = rows(&mut a, 80, 24);
    let digit: String = screen[2..9].iter().map(|r| &r[1..16]).collect();
    let shades: std::collections::BTreeSet<char> =
        digit.chars().filter(|c| "@%#*+=-:.".contains(*c)).collect();
    assert!(shades.len() >= 4, "{digit:?}");
}

#[test]
fn no_color_draws_pictures_with_shade_characters() {
    let mut a = app("cnn-mnist", false);
    a.mono = true;
    let screen = rows(&mut a, 80, 24);
    let text = screen.join("\n");
    assert!(!text.contains('▀'), "no half blocks left:\n{text}");
    let digit: String = screen[2..9]
        .iter()
        .flat_map(|r| r.chars().skip(1).take(14))
        .collect();
    let shades = ['░', '▒', '▓', '█']
        .iter()
        .filter(|c| digit.contains(**c))
        .count();
    assert!(
        shades >= 3 && digit.contains(' '),
        "grey levels kept: {digit:?}"
    );
    // nothing keeps a colour (crossterm would drop it)
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    t.draw(|f| views::render(&a, f)).expect("draw");
    let buf = t.backend().buffer();
    assert!(buf
        .content()
        .iter()
        .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset));
}

#[test]
fn a_dumb_terminal_gets_a_clear_message() {
    let why = dl_lab::tui::terminal_refusal(Some("dumb")).expect("refused");
    assert!(
        why.contains("TERM=dumb") && why.contains("dl-lab run"),
        "{why}"
    );
    assert!(dl_lab::tui::terminal_refusal(Some("xterm-256color")).is_none());
    assert!(dl_lab::tui::terminal_refusal(None).is_none());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("start dl-lab");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TERM=dumb"), "{err}");
}

#[test]
fn a_large_overview_shows_the_accuracy_chart_beside_the_loss() {
    use dl_lab::train::{EpochSummary, TrainEvent};
    let mut a = app("softmax-mnist", false);
    common::tui::train(
        &mut a,
        TrainEvent::Started {
            epochs: 3,
            batches_per_epoch: 40,
            train_images: 4000,
        },
    );
    let losses: Vec<f32> = (1..=40).map(|i| 2.3 / (1.0 + 0.1 * i as f32)).collect();
    common::tui::train(
        &mut a,
        TrainEvent::Batch {
            epoch: 1,
            batch: 40,
            step: 40,
            losses,
            img_per_s: 20000.0,
        },
    );
    common::tui::train(
        &mut a,
        TrainEvent::Epoch(EpochSummary {
            epoch: 1,
            loss: 0.8,
            test_acc: 0.873,
            img_per_s: 20000.0,
            train_acc: 0.91,
            test_loss: 0.45,
            predictions: None,
        }),
    );
    let loss_pane = |screen: &[String], w: u16, h: u16| -> String {
        let r = views::pane_areas(ratatui::layout::Rect::new(0, 0, w, h))[2];
        screen[r.y as usize..r.bottom() as usize]
            .iter()
            .map(|row| {
                row.chars()
                    .skip(r.x as usize)
                    .take(r.width as usize)
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let big = loss_pane(&rows(&mut a, 140, 45), 140, 45);
    assert!(big.contains("acc %"), "accuracy chart at 140×45:\n{big}");
    let small = loss_pane(&rows(&mut a, 80, 24), 80, 24);
    assert!(!small.contains("acc %"), "no room at 80×24:\n{small}");
}
