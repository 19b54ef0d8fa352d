//! The one event stream the UI reads: keys, mouse, resizes, clock ticks
//! and the training worker's reports all arrive on one channel, so
//! `App::update(event)` is the only place state changes.

use std::sync::mpsc::Sender;
use std::time::Duration;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::train::RunEvent;

/// Redraw/animation clock period.
pub const TICK_MS: u64 = 100;

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Tick,
    /// A training worker's report, tagged with its run.
    Train(RunEvent),
}

/// Read terminal input on its own thread until the UI hangs up.
pub fn spawn_input(tx: Sender<Event>) {
    let _ = std::thread::Builder::new()
        .name("dl-lab-input".into())
        .spawn(move || loop {
            let ev = match crossterm::event::read() {
                Ok(crossterm::event::Event::Key(k)) => Event::Key(k),
                Ok(crossterm::event::Event::Mouse(m)) => Event::Mouse(m),
                Ok(crossterm::event::Event::Resize(w, h)) => Event::Resize(w, h),
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(ev).is_err() {
                return;
            }
        });
}

/// Send `Tick` every `TICK_MS` until the UI hangs up.
pub fn spawn_ticker(tx: Sender<Event>) {
    let _ = std::thread::Builder::new()
        .name("dl-lab-tick".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(TICK_MS));
            if tx.send(Event::Tick).is_err() {
                return;
            }
        });
}
