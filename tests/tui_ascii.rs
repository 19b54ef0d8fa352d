//! `--ascii`: the lab writes only ASCII, in every pane of every lesson, at
//! the smallest screen and a large one, opened or not, before and after
//! training or stepping, with the help and the lesson list open, and on the
//! "terminal too small" and loading screens. Each pane is also checked as
//! it draws itself, before the final pass that gives whatever a view still
//! wrote (a chart's axis lines, say) a one-cell look-alike: every such
//! symbol must have one (no '?').

use std::sync::mpsc::channel;
use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::spec::build_model;
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::event::Event;
use dl_lab::tui::views::{self, plain, render_to};
use rand::SeedableRng;

mod common;
use common::tui::press;

/// Symbols in `buf` that are not ASCII and have no ASCII look-alike (the
/// final pass would write '?' for them).
fn unmapped(buf: &Buffer) -> Vec<(u16, u16, String)> {
    non_ascii(buf)
        .into_iter()
        .filter(|(_, _, s)| {
            s.chars()
                .any(|c| !c.is_ascii() && plain::ascii_char(c) == '?')
        })
        .collect()
}

/// Every non-ASCII symbol in `buf`, with where it is.
fn non_ascii(buf: &Buffer) -> Vec<(u16, u16, String)> {
    let a = buf.area;
    let mut out = Vec::new();
    for y in a.top()..a.bottom() {
        for x in a.left()..a.right() {
            let sym = buf[(x, y)].symbol();
            if !sym.is_ascii() {
                out.push((x, y, sym.to_string()));
            }
        }
    }
    out
}

/// The rows of `buf` as text (for failure messages).
fn rows(buf: &Buffer) -> String {
    common::tui::text(buf)
}

/// Each pane alone (overview and opened), then the whole screen, at 80x24
/// and 140x45: all ASCII. `what` names the state in failures.
fn check(app: &mut App, what: &str, bad: &mut Vec<String>) {
    for (w, h) in [(80u16, 24u16), (140, 45)] {
        app.update(Event::Resize(w, h));
        let area = Rect::new(0, 0, w, h);
        let panes = views::pane_areas(area);
        for (pane, rect) in PaneId::ALL.iter().zip(panes) {
            for (zoomed, r) in [(false, rect), (true, Rect::new(0, 0, w, h - 1))] {
                let mut buf = Buffer::empty(area);
                app.focus = *pane;
                views::render_pane(app, *pane, r, &mut buf, zoomed);
                let found = unmapped(&buf);
                if !found.is_empty() {
                    bad.push(format!(
                        "{} {what}, {:?} pane{} at {w}x{h}: {:?}\n{}",
                        app.lesson.name,
                        pane,
                        if zoomed { " opened" } else { "" },
                        &found[..found.len().min(8)],
                        rows(&buf)
                    ));
                }
            }
        }
        let mut buf = Buffer::empty(area);
        render_to(app, area, &mut buf);
        let found = non_ascii(&buf);
        if !found.is_empty() {
            bad.push(format!(
                "{} {what}, the screen at {w}x{h}: {found:?}",
                app.lesson.name
            ));
        }
    }
}

#[test]
fn ascii_mode_writes_only_ascii_everywhere() {
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let mut bad = Vec::new();
    for lesson in lessons::all() {
        let (tx, _rx) = channel();
        let mut app = App::new(lesson.clone(), data.clone(), true, tx);
        check(&mut app, "at the start", &mut bad);
        match &lesson.task {
            Task::Classifier {
                layers,
                input_shape,
            } => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(1);
                let model = build_model(layers, input_shape, &mut rng).expect("builds");
                app.set_trained(Some(Arc::new(model)));
                check(&mut app, "with a trained model", &mut bad);
                app.conv.show_filters = !app.conv.show_filters;
                check(&mut app, "with the filters toggled", &mut bad);
            }
            _ => {
                for _ in 0..5 {
                    press(&mut app, ' ');
                }
                check(&mut app, "after 5 steps", &mut bad);
            }
        }
        app.focus = PaneId::Dataset;
        press(&mut app, '?');
        check(&mut app, "with the help open", &mut bad);
        press(&mut app, '?');
        press(&mut app, 'L');
        check(&mut app, "with the lesson list open", &mut bad);
    }
    assert!(bad.is_empty(), "{} cases:\n{}", bad.len(), bad.join("\n\n"));
}

#[test]
fn titles_write_their_maths_in_ascii() {
    let (tx, _rx) = channel();
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let app = App::new(lessons::find("gd-scalar").expect("lesson"), data, true, tx);
    let area = Rect::new(0, 0, 80, 24);
    let mut buf = Buffer::empty(area);
    render_to(&app, area, &mut buf);
    let s = rows(&buf);
    // not "(x-3)2": the square reads as one
    assert!(s.contains("y = (x - 3)^2 + 4"), "{s}");
}

#[test]
fn too_small_and_loading_screens_are_ascii() {
    let (tx, _rx) = channel();
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let app = App::new(lessons::all()[0].clone(), data, true, tx);
    let area = Rect::new(0, 0, 60, 20);
    let mut buf = Buffer::empty(area);
    render_to(&app, area, &mut buf);
    let s = rows(&buf);
    assert!(s.contains("terminal too small (need 80x24"), "{s}");
    assert!(non_ascii(&buf).is_empty(), "{s}");

    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    term.draw(|f| views::loading(f, "Loading the shipped MNIST sample …", true))
        .expect("draws");
    let buf = term.backend().buffer().clone();
    assert!(rows(&buf).contains("Loading the shipped MNIST sample ..."));
    assert!(non_ascii(&buf).is_empty(), "{}", rows(&buf));
}
