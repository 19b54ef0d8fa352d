//! linear's error surface: each cell's cost is the engine's MSE over the data
//! at that (W, b) (the lesson's data and a `--data` CSV), the path is the
//! session's parameters step by step, and the map is drawn where the keys say.

#[macro_use]
#[allow(unused_macros)]
mod common;

use common::tui::{app, key, press, screen};
use common::TempDir;
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use dl_lab::lessons::{self, SmallSession};
use dl_lab::nn::mse_loss;
use dl_lab::tui::stepper::Stepper;
use dl_lab::tui::views::stepper_view::cost_map;
use dl_lab::tui::views::surface::{self, HeatMap};
use dl_lab::Tensor;

/// The engine's MSE of H(x) = xW + b on the stepper's data.
fn engine_mse(s: &Stepper, w: f32, b: f32) -> f32 {
    let (x, y) = s.session.data();
    let w = Tensor::from_vec(&[1, 1], vec![w]).expect("W");
    let b = Tensor::from_vec(&[1], vec![b]).expect("b");
    let pred = Tensor::new(x).matmul(&w).expect("xW").add(&b).expect("+ b");
    mse_loss(&pred, &Tensor::new(y)).expect("mse").item()
}

fn check_cells(s: &Stepper) {
    let f = cost_map::cost_fn(s);
    let (x, y) = cost_map::window(s);
    let map = HeatMap {
        f: &f,
        x,
        y,
        log: true,
        tracks: vec![],
        minimum: None,
        ascii: false,
        mono: false,
    };
    let (w, h) = (30, 12);
    let grid = map.grid(w, h);
    for (c, r) in [(0, 0), (7, 3), (29, 11), (15, 6)] {
        let (wv, bv) = map.cell_center(w, h, c, r);
        let want = engine_mse(s, wv as f32, bv as f32);
        let got = grid[usize::from(r) * usize::from(w) + usize::from(c)];
        assert!(
            (got - f64::from(want)).abs() <= 1e-4 * f64::from(want).max(1.0),
            "cell ({c}, {r}) at W {wv}, b {bv}: {got} vs engine {want}"
        );
    }
    // the lowest cell is the one nearest the least-squares minimum
    let [mw, mb] = cost_map::minimum(s).expect("x varies");
    let low = grid
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("cells")
        .0;
    let (lw, lb) = map.cell_center(w, h, (low % 30) as u16, (low / 30) as u16);
    assert!((lw - mw).abs() <= (x[1] - x[0]) / 15.0 && (lb - mb).abs() <= (y[1] - y[0]) / 6.0);
}

#[test]
fn each_cell_is_the_engines_cost_at_its_w_and_b() {
    let l = lessons::find("linear").expect("linear");
    let mut s = Stepper::new(&l, &l.defaults).expect("stepper");
    assert!(cost_map::applies(&s));
    assert_eq!(
        cost_map::minimum(&s),
        Some([1.0, 0.0]),
        "the data lie on y = x"
    );
    for _ in 0..20 {
        s.step_once().expect("step");
    }
    check_cells(&s);
    // and on a CSV of one feature: y = 2x + 1 with noise
    let dir = TempDir::new("cost-map");
    let csv = dir.write("line.csv", b"x,y\n0,1.1\n1,2.9\n2,5.2\n3,6.8\n4,9.1\n");
    let s = Stepper::with_csv(&l, &l.defaults, Some(&csv)).expect("csv stepper");
    assert_eq!(s.session.data().0.len(), 5);
    check_cells(&s);
    let [w, b] = cost_map::minimum(&s).expect("x varies");
    assert!(
        (w - 1.99).abs() < 1e-3 && (b - 1.04).abs() < 1e-3,
        "{w} {b}"
    );
}

#[test]
fn the_path_is_the_sessions_parameters_step_by_step() {
    let l = lessons::find("linear").expect("linear");
    let mut s = Stepper::new(&l, &l.defaults).expect("stepper");
    let mut session = SmallSession::new(&l, &l.defaults, None).expect("session");
    let mut expected = vec![[0.0f32, 0.0]];
    for _ in 0..15 {
        s.step_once().expect("step");
        let r = session.step().expect("step");
        let v: Vec<f32> = r
            .params
            .iter()
            .flat_map(|(_, a)| a.iter().copied())
            .collect();
        expected.push([v[0], v[1]]);
    }
    assert_eq!(s.path, expected);
    // r starts the path again; the perceptron (3 numbers) has none
    s.reset().expect("reset");
    assert_eq!(s.path, vec![[0.0, 0.0]]);
    let p = lessons::find("xor-perceptron").expect("lesson");
    assert!(Stepper::new(&p, &p.defaults)
        .expect("stepper")
        .path
        .is_empty());
}

#[test]
fn e_shows_the_surface_with_the_current_point_marked() {
    let mut a = app("linear");
    for _ in 0..5 {
        press(&mut a, ' ');
    }
    let s80 = screen(&a, 80, 24);
    assert!(
        s80.contains("(e: error surface)") || s80.contains("Dataset: H(x)"),
        "{s80}"
    );
    press(&mut a, 'e');
    let s80 = screen(&a, 80, 24);
    assert!(s80.contains("Error surface (e: fit)"), "{s80}");
    assert!(s80.contains('●'), "the current (W, b): {s80}");
    // the point is in the cell of the last (W, b)
    let s = a.stepper.as_ref().expect("stepper");
    let area = Rect::new(0, 0, 60, 20);
    let mut buf = Buffer::empty(area);
    dl_lab::tui::views::stepper_view::render_data(&a.view_context(), area, &mut buf, true);
    let plot = surface::plot_area(Rect::new(1, 1, 58, 18));
    let f = cost_map::cost_fn(s);
    let (x, y) = cost_map::window(s);
    let map = HeatMap {
        f: &f,
        x,
        y,
        log: true,
        tracks: vec![],
        minimum: None,
        ascii: false,
        mono: false,
    };
    let [w, b] = *s.path.last().expect("path");
    let (c, r) = map
        .cell_of(plot.width, plot.height, f64::from(w), f64::from(b))
        .expect("in the window");
    assert_eq!(buf[(plot.x + c, plot.y + r)].symbol(), "●");
    let [mw, mb] = cost_map::minimum(s).expect("min");
    let (c, r) = map
        .cell_of(plot.width, plot.height, mw, mb)
        .expect("in the window");
    assert_eq!(buf[(plot.x + c, plot.y + r)].symbol(), "✛");
    // opened full screen at 140 columns: the fit and the surface side by side
    press(&mut a, 'e');
    key(&mut a, KeyCode::Enter);
    let big = screen(&a, 140, 45);
    assert!(
        big.contains("Dataset: H(x) = ") && big.contains("Error surface: cost(W, b), W = "),
        "{big}"
    );
    // e is not taken from other small lessons
    let mut g = app("gd-scalar");
    press(&mut g, 'e');
    assert!(!screen(&g, 80, 24).contains("Error surface"));
}
