//! Helpers shared by the `tests/tui_*.rs` files: the lab on a lesson, keys
//! through `App::update`, and a drawn `Buffer` turned into text. A file keeps
//! its own variant where it differs (a pane drawn alone, a resize first).

use std::sync::mpsc;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons;
use dl_lab::tui::app::App;
use dl_lab::tui::event::Event;
use dl_lab::tui::views;

/// The lab on `lesson` with the shipped MNIST sample, `ascii` as `--ascii`
/// gives it. The event receiver is dropped: nothing reads the worker's events.
pub fn app_with(lesson: &str, ascii: bool) -> App {
    let (tx, _rx) = mpsc::channel();
    let data = Mnist::shipped().expect("the shipped MNIST sample is embedded");
    App::new(
        lessons::find(lesson).expect("lesson exists"),
        Arc::new(data),
        ascii,
        tx,
    )
}

/// The lab on `lesson`, in colour.
pub fn app(lesson: &str) -> App {
    app_with(lesson, false)
}

/// One key press, no modifiers.
pub fn key(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

/// One character key.
pub fn press(app: &mut App, c: char) {
    key(app, KeyCode::Char(c));
}

/// Each character of `text` as a key, in order.
pub fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, c);
    }
}

/// The rows of `buf`, one string each.
pub fn lines(buf: &Buffer) -> Vec<String> {
    let area = buf.area;
    (area.top()..area.bottom())
        .map(|y| {
            (area.left()..area.right())
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// The text of `buf`, each row ending in a newline.
pub fn text(buf: &Buffer) -> String {
    lines(buf).into_iter().map(|row| row + "\n").collect()
}

/// The whole lab drawn at `w`×`h`, as [`text`].
pub fn screen(app: &App, w: u16, h: u16) -> String {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    views::render_to(app, area, &mut buf);
    text(&buf)
}

/// gd-scalar's x.
pub fn x(app: &App) -> f32 {
    let s = app.stepper.as_ref().expect("a small lesson has a stepper");
    s.params()[0]
        .1
        .iter()
        .next()
        .copied()
        .expect("x has one value")
}

/// Feed `app` a worker report as its current run's, as a scripted run: a
/// run is begun (on the builder's layers, no worker) when none is.
pub fn train(app: &mut App, event: dl_lab::train::TrainEvent) {
    let mut run = app.training.id();
    if run == 0 {
        let shape = match &app.lesson.task {
            dl_lab::lessons::Task::Classifier { input_shape, .. } => input_shape.clone(),
            _ => vec![784],
        };
        run = app.training.begin(&app.builder.specs.clone(), &shape);
    }
    app.update(dl_lab::tui::event::Event::Train(dl_lab::train::RunEvent {
        run,
        event,
    }));
}
