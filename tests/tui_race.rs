//! The optimizer race in the lab (TestBackend-style buffers): the map with
//! each racer's letter where the race put it, the table's numbers, the Adam
//! inspector's m, v, m̂, v̂ and step, and the keys (Space, →, s, f, r, +/-).

#[macro_use]
#[allow(unused_macros)]
mod common;

use common::tui::{app, app_with, key, lines, press, screen};
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use dl_lab::train::race::{Racer, Surface};
use dl_lab::tui::event::Event;
use dl_lab::tui::views::race_view::{self, look, short};
use dl_lab::tui::views::surface::{self, HeatMap};

#[test]
fn space_steps_every_optimizer_and_the_table_shows_where_they_are() {
    let mut a = app("optimizer-race");
    for _ in 0..3 {
        press(&mut a, ' ');
    }
    let r = a.race.as_ref().expect("the race lesson has a race");
    assert_eq!(r.race.steps, 3);
    for (w, h) in [(80u16, 24u16), (140, 45)] {
        let s = screen(&a, w, h);
        assert!(s.contains("Race: step 3"), "{w}x{h}\n{s}");
        for runner in &r.race.runners {
            let ([x, y], loss) = runner.now();
            let row = format!(
                "{:<9}{:>8}{:>8}{:>10}",
                runner.racer.name(),
                short(x),
                short(y),
                short(loss)
            );
            assert!(s.contains(&row), "{w}x{h}: {row:?} missing\n{s}");
        }
        assert!(s.contains("Adam inspector"), "{s}");
        assert!(s.contains("f surface") || w == 80, "{s}");
    }
    // the 140-wide table has each rate: defaults on the bowl
    let s = screen(&a, 140, 45);
    assert!(s.contains("each optimizer at its default lr"), "{s}");
    assert!(s.contains("lr defaults"), "status line: {s}");
}

#[test]
fn each_racer_is_drawn_where_it_is_on_the_map() {
    let mut a = app("optimizer-race");
    for _ in 0..8 {
        press(&mut a, ' ');
    }
    let r = a.race.as_ref().expect("race");
    let area = Rect::new(0, 0, 70, 22);
    let mut buf = Buffer::empty(area);
    race_view::render_map(r, false, false, area, &mut buf, true);
    // inside the border, less the legend's row at the bottom
    let inner = Rect::new(1, 1, 68, 19);
    let plot = surface::plot_area(inner);
    let s = r.race.surface;
    let f = move |x: f64, y: f64| s.value(x, y);
    let (x, y) = race_view::map_window(r);
    let map = HeatMap {
        f: &f,
        x,
        y,
        log: false,
        tracks: vec![],
        minimum: None,
        ascii: false,
        mono: false,
    };
    // a racer whose cell no later racer shares shows its letter there
    let mut seen = 0;
    for (i, runner) in r.race.runners.iter().enumerate() {
        let ([px, py], _) = runner.now();
        let (c, row) = map
            .cell_of(plot.width, plot.height, f64::from(px), f64::from(py))
            .expect("on the map");
        let later = r.race.runners[i + 1..].iter().any(|o| {
            let ([ox, oy], _) = o.now();
            map.cell_of(plot.width, plot.height, f64::from(ox), f64::from(oy)) == Some((c, row))
        });
        if !later {
            assert_eq!(
                buf[(plot.x + c, plot.y + row)].symbol(),
                look(runner.racer).0.to_string(),
                "{}",
                runner.racer.name()
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "at least a few racers apart after 8 steps");
    // the minimum's mark and the axes' numbers
    let text = lines(&buf).join("\n");
    assert!(
        text.contains('✛') && text.contains("-10") && text.contains("10"),
        "{text}"
    );
    assert!(text.contains("x²/20 + y²"), "{text}");
    // the legend names every racer at this width
    for racer in Racer::ALL {
        assert!(
            text.contains(&format!("{} {}", look(racer).0, racer.name())),
            "{text}"
        );
    }
}

#[test]
fn the_inspector_shows_adams_numbers() {
    let mut a = app("optimizer-race");
    let s = screen(&a, 140, 45);
    assert!(s.contains("after the first step"), "{s}");
    press(&mut a, ' ');
    press(&mut a, ' ');
    let i = a
        .race
        .as_ref()
        .expect("race")
        .race
        .adam_inspect()
        .expect("stepped");
    let s = screen(&a, 140, 45);
    assert!(s.contains("step t = 2 · lr 0.001"), "{s}");
    for (name, v) in [
        ("m", i.m),
        ("v", i.v),
        ("step", i.step),
        ("SGD", i.sgd_step),
        ("g", i.grad),
    ] {
        let row = format!("{name:<5}{:>10}{:>10}", short(v[0]), short(v[1]));
        assert!(s.contains(&row), "{row:?} missing\n{s}");
    }
    assert!(s.contains("lr·m̂/(√v̂+ε)"), "{s}");
    // Adam's first steps are about lr in each coordinate; SGD's are lr·g
    assert!(
        (i.step[0].abs() - 1e-3).abs() < 1e-4 && (i.step[1].abs() - 1e-3).abs() < 1e-4,
        "{i:?}"
    );
}

#[test]
fn keys_switch_run_reset_and_set_the_rate() {
    let mut a = app("optimizer-race");
    press(&mut a, 'f');
    let r = a.race.as_ref().expect("race");
    assert_eq!(r.race.surface, Surface::Rosenbrock);
    assert_eq!(r.race.start, Surface::Rosenbrock.default_start());
    assert!(screen(&a, 140, 45).contains("(1 − x)² + 100(y − x²)²"));
    // s runs: ticks step by themselves until s again
    press(&mut a, 's');
    for _ in 0..3 {
        a.update(Event::Tick);
    }
    press(&mut a, 's');
    let steps = a.race.as_ref().expect("race").race.steps;
    assert_eq!(steps, 30, "10 steps a tick on Rosenbrock");
    a.update(Event::Tick);
    assert_eq!(a.race.as_ref().expect("race").race.steps, steps, "paused");
    // → steps in the opened pane (in the overview it moves focus)
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Right);
    assert_eq!(a.race.as_ref().expect("race").race.steps, steps + 1);
    key(&mut a, KeyCode::Esc);
    // + sets one rate for all, from SGD's 1e-3 up the ladder
    press(&mut a, '+');
    let r = a.race.as_ref().expect("race");
    let lr = r.race.lr.expect("set");
    assert!(lr > 1e-3);
    assert!(r.race.runners.iter().all(|q| q.lr() == lr));
    // r: back to step 0, keeping the rate
    press(&mut a, 'r');
    let r = a.race.as_ref().expect("race");
    assert_eq!((r.race.steps, r.race.lr), (0, Some(lr)));
    assert!(r.race.runners.iter().all(|q| q.path.len() == 1));
    // f again: the bowl from the lesson's start
    press(&mut a, 'f');
    assert_eq!(a.race.as_ref().expect("race").race.start, [-8.0, 2.0]);
}

#[test]
fn the_race_draws_in_ascii_and_in_tiny_areas() {
    let mut a = app_with("optimizer-race", true);
    for _ in 0..4 {
        press(&mut a, ' ');
    }
    for (w, h) in [(80u16, 24u16), (140, 45)] {
        let s = screen(&a, w, h);
        assert!(s.is_ascii(), "{s}");
        assert!(s.contains("adagrad") && s.contains("Adam inspector"), "{s}");
    }
    let r = a.race.as_ref().expect("race");
    for (w, h) in [(0u16, 0u16), (1, 1), (5, 3)] {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        race_view::render_map(r, false, false, area, &mut buf, true);
        race_view::render_table(r, false, area, &mut buf, true);
        race_view::render_losses(r, false, area, &mut buf, true);
        race_view::render_inspector(r, false, area, &mut buf, true);
    }
    // the help lists the race's keys
    let mut a = app("optimizer-race");
    press(&mut a, '?');
    let s = screen(&a, 100, 40);
    assert!(s.contains("switch the surface"), "{s}");
}
