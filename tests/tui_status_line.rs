//! The status line keeps room for the key hints: `--device auto`'s note
//! (no OpenCL GPU) is not shown in the lessons the device does not train,
//! and is short enough to read whole at 80 columns where it is.

mod common;

use common::tui::{app, lines};
use dl_lab::backend::Device;
use dl_lab::tui::app::App;
use dl_lab::tui::views;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

const NOTE: &str = "device auto: no OpenCL GPU found, using the CPU engine";

/// The status line (the last row) at 80×24.
fn status(a: &App) -> String {
    let area = Rect::new(0, 0, 80, 24);
    let mut buf = Buffer::empty(area);
    views::render_to(a, area, &mut buf);
    lines(&buf).pop().unwrap()
}

#[test]
fn the_device_note_leaves_the_small_lessons_key_hints_and_fits_where_it_shows() {
    for lesson in ["gd-scalar", "xor-mlp"] {
        let a = app(lesson).with_device(Device::Cpu, Some(NOTE.into()));
        let s = status(&a);
        assert!(
            s.contains("Space step") && s.contains("r reset"),
            "{lesson}: {s}"
        );
        assert!(s.contains(" cpu "), "{s}");
        assert!(a.message.is_none());
    }
    let mut a = app("softmax-mnist").with_device(Device::Cpu, Some(NOTE.into()));
    let s = status(&a);
    assert!(s.contains("no OpenCL GPU: the CPU trains"), "whole: {s}");
    assert!(s.contains("? help") && s.contains("q quit"), "{s}");
    // shown once: after a while the line has its hints back
    for _ in 0..dl_lab::tui::app::MESSAGE_TICKS {
        a.update(dl_lab::tui::event::Event::Tick);
    }
    let s = status(&a);
    assert!(!s.contains("OpenCL") && s.contains("s train"), "{s}");
    // a note that says why (a driver error) is kept as it is
    let a = app("cnn-mnist").with_device(
        Device::Cpu,
        Some("device auto: using the CPU engine (x)".into()),
    );
    assert_eq!(
        a.message.as_deref(),
        Some("device auto: using the CPU engine (x)")
    );
}
