//! The small lessons in the lab, rendered: gd-scalar's update written out
//! before and after Space, lr 1.0 bouncing 5 ↔ 1, lr 1.5 diverging into a
//! message, linear's numbers matching the session's, XOR against ln 2, and
//! every view at sizes from 0×0 up without a panic.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::event::Event;
use dl_lab::tui::stepper::Stepper;
use dl_lab::tui::views::stepper_view;

mod common;
use common::tui::{app, app_with, press, screen, text, x};

const SMALL_LESSONS: [&str; 9] = [
    "gd-scalar",
    "momentum",
    "linear",
    "multivariate",
    "mlp-regression",
    "mlp-noisy",
    "xor-perceptron",
    "xor-mlp",
    "xor-deep",
];

fn stepper(app: &App) -> &Stepper {
    app.stepper.as_ref().expect("a small lesson has a stepper")
}

/// The Model pane's place alone, `w`×`h`.
fn model_pane(app: &App, w: u16, h: u16) -> String {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    stepper_view::render_model(&app.view_context(), area, &mut buf, true);
    text(&buf)
}

fn data_pane(app: &App, w: u16, h: u16) -> Buffer {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    stepper_view::render_data(&app.view_context(), area, &mut buf, true);
    buf
}

fn raise_lr_to(app: &mut App, lr: f32) {
    for _ in 0..20 {
        if stepper(app).lr() >= lr {
            break;
        }
        press(app, '+');
    }
    assert_eq!(stepper(app).lr(), lr, "the ladder has {lr}");
}

#[test]
fn gd_scalar_writes_the_first_update_out_before_and_after_space() {
    let mut a = app("gd-scalar");
    let s = screen(&a, 80, 24);
    for want in [
        "x = 5.000",
        "y = (x - 3)^2 + 4 = 8.000",
        "dy/dx = 4.000 (by backward())",
        "5.000 − 0.1·4.000 = 4.600",
    ] {
        assert!(s.contains(want), "before Space, no '{want}':\n{s}");
    }
    press(&mut a, ' ');
    assert!((x(&a) - 4.6).abs() < 1e-6);
    let s = screen(&a, 80, 24);
    for want in [
        "x = 4.600",
        "5.000 − 0.1·4.000 = 4.600",
        "4.600 − 0.1·3.200 = 4.280",
        "epoch 0/100",
    ] {
        assert!(s.contains(want), "after Space, no '{want}':\n{s}");
    }
}

#[test]
fn gd_scalar_lr_1_bounces_between_5_and_1() {
    let mut a = app("gd-scalar");
    raise_lr_to(&mut a, 1.0);
    let mut xs = vec![x(&a)];
    for _ in 0..4 {
        press(&mut a, ' ');
        xs.push(x(&a));
    }
    assert_eq!(xs, [5.0, 1.0, 5.0, 1.0, 5.0]);
    assert!(
        a.message.is_none(),
        "bouncing is no divergence: {:?}",
        a.message
    );
    let s = model_pane(&a, 60, 14);
    assert!(s.contains("bounces for ever"), "{s}");
    assert!(s.contains("1.000 − 1·(−4.000) = 5.000"), "{s}");
}

#[test]
fn gd_scalar_lr_1_5_diverges_into_a_message() {
    let mut a = app("gd-scalar");
    raise_lr_to(&mut a, 1.5);
    let mut warned = None;
    for i in 0..120 {
        press(&mut a, ' ');
        // the point stays on the chart (the window grows with it)
        let buf = data_pane(&a, 40, 11);
        assert!(
            text(&buf).contains('█'),
            "step {i}: the point left the chart\n{}",
            text(&buf)
        );
        screen(&a, 80, 24);
        if warned.is_none() && a.message.as_deref().is_some_and(|m| m.contains("diverg")) {
            warned = Some(i);
        }
    }
    assert!(
        warned.is_some_and(|i| i < 5),
        "warned at step {warned:?}: {:?}",
        a.message
    );
    let s = stepper(&a);
    assert!(s.diverged.is_some(), "at last the cost overflows");
    let msg = a.message.clone().unwrap_or_default();
    assert!(msg.contains("diverged") && msg.contains("press r"), "{msg}");
    press(&mut a, 'r');
    assert_eq!(x(&a), 5.0);
    assert!(stepper(&a).diverged.is_none() && a.message.is_none());
}

#[test]
fn gd_scalar_runaway_stops_running_by_itself() {
    let mut a = app("gd-scalar");
    raise_lr_to(&mut a, 1.5);
    press(&mut a, 's');
    for _ in 0..10 {
        a.update(Event::Tick);
    }
    assert!(
        !stepper(&a).auto,
        "running by itself stops when the cost runs away"
    );
    assert!(
        a.message
            .as_deref()
            .is_some_and(|m| m.contains("diverging")),
        "{:?}",
        a.message
    );
}

#[test]
fn gd_scalar_trail_keeps_past_points() {
    let mut a = app("gd-scalar");
    for _ in 0..3 {
        press(&mut a, ' ');
    }
    let t: Vec<f32> = stepper(&a).trail.iter().map(|p| p.0).collect();
    assert_eq!(t.len(), 3);
    assert!(
        (t[0] - 5.0).abs() < 1e-6 && (t[1] - 4.6).abs() < 1e-6 && (t[2] - 4.28).abs() < 1e-5,
        "{t:?}"
    );
    let chart = text(&data_pane(&a, 60, 20));
    assert!(chart.contains('•') && chart.contains('█'), "{chart}");
}

#[test]
fn linear_shows_the_sessions_numbers() {
    let mut a = app("linear");
    let s = model_pane(&a, 100, 20);
    assert!(
        s.contains("W ← W − lr·∂cost/∂W = 0.000 − 0.01·(−9.333) = 0.093"),
        "{s}"
    );
    assert!(
        s.contains("b ← b − lr·∂cost/∂b = 0.000 − 0.01·(−4.000) = 0.040"),
        "{s}"
    );
    for _ in 0..3 {
        press(&mut a, ' ');
    }
    let st = stepper(&a);
    let now = st
        .now
        .as_ref()
        .expect("cost and gradients at the current parameters");
    let s = model_pane(&a, 100, 20);
    for ((name, p), (gname, g)) in st.params().iter().zip(&now.grads) {
        assert_eq!(name, gname);
        let (p, g) = (
            p.iter().next().copied().unwrap_or(f32::NAN),
            g.iter().next().copied().unwrap_or(f32::NAN),
        );
        let want = format!(
            "{name} = {}   ∂cost/∂{name} = {}",
            stepper_view::num(p),
            stepper_view::num(g)
        );
        assert!(s.contains(&want), "no '{want}':\n{s}");
        let upd = stepper_view::update_numbers(p, st.lr(), g);
        assert!(s.contains(&upd), "no '{upd}':\n{s}");
    }
    assert!(
        s.contains(&format!("after {}", stepper_view::num(now.cost))),
        "{s}"
    );
    assert!(s.contains("epoch 2/1000"), "{s}");
    // the chart names the line with the same numbers
    let w = stepper_view::num(st.params()[0].1.iter().next().copied().unwrap_or(f32::NAN));
    let chart = text(&data_pane(&a, 80, 20));
    assert!(chart.contains(&format!("H(x) = {w}·x")), "{chart}");
}

#[test]
fn multivariate_lists_samples_and_writes_each_weight_out() {
    let mut a = app("multivariate");
    press(&mut a, ' ');
    let table = text(&data_pane(&a, 60, 14));
    for want in [
        "x1",
        "x2",
        "x3",
        "H(x)",
        "73",
        "152",
        "cost = mean((H(x) − y)²)",
    ] {
        assert!(table.contains(want), "no '{want}':\n{table}");
    }
    let s = model_pane(&a, 100, 24);
    for want in [
        "W1 ← W1 − lr·∂cost/∂W1 = 0.294 − 1e-5·",
        "W2 =",
        "W3 =",
        "b ← b",
    ] {
        assert!(s.contains(want), "no '{want}':\n{s}");
    }
}

#[test]
fn xor_perceptron_gets_stuck_at_ln_2() {
    let mut a = app("xor-perceptron");
    let s = screen(&a, 80, 24);
    assert!(s.contains("ln 2"), "{s}");
    if let Some(st) = a.stepper.as_mut() {
        for _ in 0..2000 {
            st.step_once()
                .expect("the perceptron steps without trouble");
        }
    }
    let st = stepper(&a);
    assert!((st.now.as_ref().map_or(0.0, |n| n.cost) - std::f32::consts::LN_2).abs() < 1e-3);
    let s = screen(&a, 80, 24);
    assert!(s.contains("ln 2 = 0.693"), "{s}");
    assert!(
        s.contains("✓ right 2/4") && s.contains("✗ wrong 2/4"),
        "{s}"
    );
    let s = model_pane(&a, 80, 20);
    assert!(
        s.contains("the weights shrank to 0: p = 0.5 everywhere, cost = ln 2 = 0.693"),
        "{s}"
    );
}

#[test]
fn xor_mlp_learns_and_shows_its_hidden_units() {
    let mut a = app("xor-mlp");
    if let Some(st) = a.stepper.as_mut() {
        for _ in 0..3000 {
            st.step_once().expect("the MLP steps without trouble");
        }
    }
    let plane = text(&data_pane(&a, 80, 24));
    assert!(plane.contains("✓ right 4/4"), "{plane}");
    assert!(plane.contains("h1") && plane.contains("h2"), "{plane}");
    let s = model_pane(&a, 80, 20);
    assert!(s.contains("< ln 2 = 0.693"), "{s}");
    assert!(s.contains("h1 = σ(") && s.contains("p = σ("), "{s}");
}

#[test]
fn mlp_regression_draws_data_and_curve() {
    let mut a = app("mlp-regression");
    press(&mut a, ' ');
    let chart = text(&data_pane(&a, 80, 24));
    assert!(chart.contains("model's curve"), "{chart}");
    let s = model_pane(&a, 80, 24);
    assert!(s.contains("layers 1→6→10→6→1"), "{s}");
    assert!(s.contains("‖∂cost/∂‖"), "{s}");
}

#[test]
fn ascii_mode_draws_no_braille() {
    for lesson in SMALL_LESSONS {
        let mut a = app_with(lesson, true);
        press(&mut a, ' ');
        let t = text(&data_pane(&a, 60, 20));
        assert!(
            !t.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c)),
            "{lesson}:\n{t}"
        );
    }
}

#[test]
fn every_view_renders_at_every_size_without_panic() {
    let sizes = [
        (0, 0),
        (1, 1),
        (2, 2),
        (5, 3),
        (20, 8),
        (40, 11),
        (80, 24),
        (200, 60),
    ];
    for lesson in SMALL_LESSONS {
        for ascii in [false, true] {
            let mut a = app_with(lesson, ascii);
            for step in 0..2 {
                for &(w, h) in &sizes {
                    data_pane(&a, w, h);
                    model_pane(&a, w, h);
                    screen(&a, w, h);
                }
                for pane in [PaneId::Dataset, PaneId::Model] {
                    a.focus = pane;
                    a.zoomed = true;
                    screen(&a, 120, 40);
                    a.zoomed = false;
                }
                if step == 0 {
                    press(&mut a, ' ');
                }
            }
        }
    }
}

#[test]
fn the_update_format_reads_like_the_course() {
    assert_eq!(
        stepper_view::update_numbers(5.0, 0.1, 4.0),
        "5.000 − 0.1·4.000 = 4.600"
    );
    assert_eq!(
        stepper_view::update_numbers(0.0, 0.01, -9.333_333),
        "0.000 − 0.01·(−9.333) = 0.093"
    );
    assert_eq!(stepper_view::num(-0.0001), "−1.000e-4");
    assert_eq!(stepper_view::num(-0.0), "0.000");
    assert_eq!(stepper_view::num(f32::INFINITY), "inf");
}

#[test]
fn gd_scalar_slope_stays_a_number_when_the_cost_overflows() {
    let mut a = app("gd-scalar");
    raise_lr_to(&mut a, 1.5);
    while stepper(&a).diverged.is_none() {
        press(&mut a, ' ');
    }
    let s = stepper(&a);
    let now = s.now.as_ref().expect("the slope at the current x");
    assert!(now.cost.is_infinite(), "y overflowed: {}", now.cost);
    // dy/dx = 2(x - 3) is still an ordinary (huge) number
    let dydx = now.grads[0].1.iter().next().copied().expect("one value");
    let expected = 2.0 * (x(&a) - 3.0);
    assert!(dydx.is_finite(), "dy/dx = {dydx}");
    assert!(
        (dydx - expected).abs() <= expected.abs() * 1e-6,
        "{dydx} vs {expected}"
    );
}

/// The small lessons' fourth pane is the cost's graph, with values and the
/// gradients the next step uses, and it follows the steps; no MNIST filter.
#[test]
fn the_fourth_pane_is_the_graph_with_values_and_gradients() {
    let mut a = app("gd-scalar");
    for (w, h) in [(80, 24), (140, 45)] {
        let s = screen(&a, w, h);
        for want in [
            "Graph: values & gradients",
            "1 x = 5.000",
            "∂cost/∂x = 4.000", // dy/dx = 2(x - 3) at x = 5
            "pow(#2",
            "= 8.000  ← cost", // (5 - 3)² + 4
        ] {
            assert!(s.contains(want), "{w}x{h}: {want:?} missing\n{s}");
        }
        assert!(!s.contains("vertical edge"), "{s}");
    }
    press(&mut a, ' ');
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("1 x = 4.600") && s.contains("∂cost/∂x = 3.200"),
        "{s}"
    );

    for lesson in [
        "linear",
        "multivariate",
        "mlp-regression",
        "xor-perceptron",
        "xor-mlp",
    ] {
        let a = app(lesson);
        let s = screen(&a, 140, 45);
        assert!(s.contains("Graph: values & gradients"), "{lesson}:\n{s}");
        // a Linear layer is one op (linear, linear_relu); H(x) = xW + b a matmul
        assert!(
            (s.contains("matmul(") || s.contains("linear(") || s.contains("linear_relu("))
                && s.contains("← cost"),
            "{lesson}:\n{s}"
        );
        assert!(s.contains("∂cost/∂"), "{lesson}:\n{s}");
        assert!(screen(&a, 80, 24).contains("← cost"), "{lesson} at 80x24");
    }
    // linear: W = b = 0 on x = y = [1,2,3]; ∂cost/∂W = mean(2(Wx+b-y)x) = -28/3
    let lin = screen(&app("linear"), 140, 45);
    assert!(lin.contains("∂cost/∂W = −9.333"), "{lin}");
}

/// After eleven presses of Space, gd-scalar's Model and Loss panes name the
/// same epoch as `dl-lab run` logs (`Epoch   10/100 x: 3.172 Cost: 4.046117`,
/// the cost before that epoch's step) and write both costs the same way.
#[test]
fn gd_scalar_panes_agree_on_the_cost_and_the_epoch_with_the_headless_log() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(["run", "gd-scalar"])
        .output()
        .expect("dl-lab run gd-scalar runs");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("Epoch   10/100 x: 3.172 Cost: 4.046117"),
        "{log}"
    );
    let mut a = app("gd-scalar");
    for _ in 0..11 {
        press(&mut a, ' ');
    }
    for (w, h) in [(80, 24), (140, 45)] {
        let s = screen(&a, w, h);
        // Model pane and Loss pane: the same words and the same decimals
        assert!(s.matches("epoch 10/100").count() >= 2, "{s}");
        assert!(s.matches("cost before").count() >= 2, "{s}");
        assert!(s.matches("4.046").count() >= 2, "{s}");
        assert!(s.matches("after 4.030").count() >= 2, "{s}");
        assert!(!s.contains("4.0461"), "{s}");
        assert!(s.contains("x = 3.172"), "{s}");
        // the chart's marks and the tangent have a legend
        for want in ["█ x now", "• past x", "tangent (dy/dx)"] {
            assert!(s.contains(want), "no {want:?} in\n{s}");
        }
    }
}

#[test]
fn one_learning_rate_notation_on_one_screen() {
    let mut a = app("gd-scalar");
    for _ in 0..5 {
        press(&mut a, '-'); // 0.1 → 3e-4
    }
    let s = screen(&a, 140, 45);
    assert!(s.contains("lr 3e-4"), "{s}");
    assert!(!s.contains("0.0003"), "{s}");
}

#[test]
fn momentum_draws_its_objective_and_crosses_into_the_deeper_valley() {
    let mut a = app("momentum");
    let chart = text(&data_pane(&a, 80, 24));
    // the curve, the axes and the minimum come from the lesson: window [-2.2, 2.7]
    for want in ["Dataset: y = x^4 - 4*x^2 + x", "◆ minimum", "-2.2", "2.7"] {
        assert!(chart.contains(want), "no '{want}':\n{chart}");
    }
    assert!(!chart.contains("(x−3)"), "{chart}");
    let s = model_pane(&a, 80, 20);
    for want in [
        "x = 2.500",
        "next (Space): one sgd (momentum 0.9) step",
        "v ← 0.9·v + dy/dx, x ← x − lr·v",
    ] {
        assert!(s.contains(want), "no '{want}':\n{s}");
    }
    // dy/dx = 4x³ − 8x + 1 = 43.5 at x = 2.5, by backward()
    assert!(s.contains("dy/dx = 43.500"), "{s}");
    if let Some(st) = a.stepper.as_mut() {
        for _ in 0..=200 {
            st.step_once().expect("momentum steps without trouble");
        }
    }
    assert!((x(&a) + 1.473).abs() < 1e-2, "x = {}", x(&a));
    let s = model_pane(&a, 140, 30);
    assert!(s.contains("crossed the bump into the deeper valley"), "{s}");
    let s = screen(&a, 80, 24);
    assert!(s.contains("done"), "{s}");
}

#[test]
fn gd_scalar_says_when_x_reaches_the_minimum() {
    let mut a = app("gd-scalar");
    let chart = text(&data_pane(&a, 80, 24));
    assert!(chart.contains("Dataset: y = (x - 3)^2 + 4"), "{chart}");
    assert!(chart.contains("◆ minimum"), "{chart}");
    let s = model_pane(&a, 80, 20);
    assert!(
        s.contains("x−3 ← (1−2·lr)(x−3): (x−3) × 0.800 per step: converges to 3"),
        "{s}"
    );
    assert!(!s.contains("reached the minimum"), "{s}");
    if let Some(st) = a.stepper.as_mut() {
        for _ in 0..60 {
            st.step_once().expect("gd-scalar steps");
        }
    }
    let s = model_pane(&a, 100, 20);
    assert!(
        s.contains("x reached the minimum, where dy/dx = 0 and y = 4"),
        "{s}"
    );
}
