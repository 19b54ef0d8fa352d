//! `e` in the XOR lessons (issue 11, "hand-set weights"): the course's
//! hand-picked weights typed through key events classify XOR, the cost the
//! lab shows is the engine's BCE on them, training goes on from them, a
//! field that is not a number changes nothing, and xor-deep is refused.

#[macro_use]
mod common;

use crossterm::event::KeyCode;
use dl_lab::nn::bce_loss;
use dl_lab::tui::app::App;
use dl_lab::Tensor;

use common::tui::{app, app_with, key, keys, press, screen};

/// The course's XOR by hand: h1 = σ(5·x1 + 5·x2 − 2.5) (OR), h2 =
/// σ(−5·x1 − 5·x2 + 7.5) (NAND), p = σ(5·h1 + 5·h2 − 7.5) (AND).
const W1: [f32; 4] = [5.0, 5.0, -5.0, -5.0];
const B1: [f32; 2] = [-2.5, 7.5];
const W2: [f32; 2] = [5.0, 5.0];
const B2: f32 = -7.5;

/// Type every field in order, Tab between them, and Enter.
fn type_weights(a: &mut App, values: &[&str]) {
    press(a, 'e');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            key(a, KeyCode::Tab);
        }
        keys(a, v);
    }
    key(a, KeyCode::Enter);
}

fn course_fields() -> Vec<String> {
    W1.iter()
        .chain(&B1)
        .chain(&W2)
        .chain(std::iter::once(&B2))
        .map(|v| v.to_string())
        .collect()
}

/// The engine's forward pass and BCE on the hand-picked weights:
/// (the four p, the cost).
fn engine_cost() -> (Vec<f32>, f32) {
    let t = |shape: &[usize], v: &[f32]| Tensor::from_vec(shape, v.to_vec()).expect("shape");
    let x = t(&[4, 2], &[0., 0., 0., 1., 1., 0., 1., 1.]);
    let y = t(&[4, 1], &[0., 1., 1., 0.]);
    // Linear's weight is (out, in): x·Wᵀ
    let w1t = t(&[2, 2], &[W1[0], W1[2], W1[1], W1[3]]);
    let h = x
        .matmul(&w1t)
        .and_then(|z| z.add(&t(&[2], &B1)))
        .expect("layer 1")
        .sigmoid();
    let p = h
        .matmul(&t(&[2, 1], &W2))
        .and_then(|z| z.add(&t(&[1], &[B2])))
        .expect("layer 2")
        .sigmoid();
    let cost = bce_loss(&p, &y).expect("bce").item();
    (p.to_vec(), cost)
}

#[test]
fn the_courses_hand_picked_weights_classify_xor_at_the_engines_cost() {
    let mut a = app("xor-mlp");
    let fields = course_fields();
    let typed: Vec<&str> = fields.iter().map(String::as_str).collect();
    type_weights(&mut a, &typed);
    let s = a.stepper.as_ref().expect("a small lesson");
    assert!(s.hand.is_none(), "Enter closed the form");
    let values: Vec<f32> = s
        .params()
        .iter()
        .flat_map(|(_, v)| v.iter().copied().collect::<Vec<_>>())
        .collect();
    assert_eq!(values, [&W1[..], &B1, &W2, &[B2]].concat());
    let (p, cost) = engine_cost();
    let shown = s.now.as_ref().expect("a cost").cost;
    assert!((shown - cost).abs() < 1e-6, "lab {shown} vs engine {cost}");
    // by hand: p = 0.107, 0.851, 0.851, 0.107, cost 0.137
    assert!((cost - 0.137_242).abs() < 1e-4, "{cost}");
    for (w, h) in [(80, 24), (140, 45)] {
        let scr = screen(&a, w, h);
        assert!(scr.contains("right 4/4"), "{w}x{h}:\n{scr}");
        // each row of the four: its p to 3 decimals, class and ✓
        for ((x1, x2, y), p) in [(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)].iter().zip(&p) {
            let row = format!("{x1:>2}{x2:>3}{y:>2} {:>5} {y} ✓", format!("{p:.3}"));
            assert!(scr.contains(&row), "{row:?} at {w}x{h}:\n{scr}");
        }
        assert!(
            scr.contains(&format!("cost now {cost:.3}")),
            "{w}x{h}:\n{scr}"
        );
    }
    // training goes on from them: the next step starts at the typed cost
    press(&mut a, ' ');
    let s = a.stepper.as_ref().expect("a small lesson");
    let last = s.last.as_ref().expect("one step");
    assert!((last.cost - cost).abs() < 1e-6);
    assert!(
        s.now.as_ref().expect("cost").cost < cost,
        "a step lowers it"
    );
    // r: back to the lesson's own start
    press(&mut a, 'r');
    let fresh = app("xor-mlp");
    assert_eq!(
        a.stepper.as_ref().unwrap().params()[0].1,
        fresh.stepper.as_ref().unwrap().params()[0].1
    );
}

#[test]
fn the_form_shows_the_tensors_and_the_field_being_typed() {
    let mut a = app("xor-mlp");
    press(&mut a, 'e');
    key(&mut a, KeyCode::Tab);
    keys(&mut a, "-3.5");
    for (w, h) in [(80, 24), (140, 45)] {
        let s = screen(&a, w, h);
        for want in [
            "W1 = [",
            "b1 = [",
            "W2 = [",
            "b2 = [",
            "W1[0,1] = -3.5_",
            "Enter",
        ] {
            assert!(s.contains(want), "{want:?} at {w}x{h}:\n{s}");
        }
    }
    // the perceptron: W 1×2 and b
    let mut p = app("xor-perceptron");
    press(&mut p, 'e');
    let s = screen(&p, 80, 24);
    assert!(
        s.contains("W = [") && s.contains("b = [") && !s.contains("W1"),
        "{s}"
    );
    key(&mut p, KeyCode::Tab);
    key(&mut p, KeyCode::Tab);
    assert!(screen(&p, 80, 24).contains("b = "), "the third field is b");
    // ASCII: nothing but ASCII
    let mut q = app_with("xor-mlp", true);
    press(&mut q, 'e');
    let s = screen(&q, 80, 24);
    assert!(s.is_ascii(), "{s}");
}

#[test]
fn a_field_that_is_not_a_number_is_named_and_changes_nothing() {
    let mut a = app("xor-mlp");
    let before = a.stepper.as_ref().unwrap().params();
    let cost = a.stepper.as_ref().unwrap().now.as_ref().unwrap().cost;
    let mut fields = course_fields();
    fields[5] = "7.5x".into();
    let typed: Vec<&str> = fields.iter().map(String::as_str).collect();
    type_weights(&mut a, &typed);
    let s = a.stepper.as_ref().unwrap();
    let form = s.hand.as_ref().expect("the form stays open");
    let err = form.error.clone().expect("a message");
    assert!(
        err.contains("b1[1]") && err.contains("7.5x") && err.contains("not a number"),
        "{err}"
    );
    assert_eq!(s.params(), before, "nothing changed");
    assert_eq!(s.now.as_ref().unwrap().cost, cost);
    let scr = screen(&a, 80, 24);
    assert!(scr.contains("not a number"), "{scr}");
    // Esc leaves the form; the weights are as they were
    key(&mut a, KeyCode::Esc);
    let s = a.stepper.as_ref().unwrap();
    assert!(s.hand.is_none());
    assert_eq!(s.params(), before);
    // q quits again once the form is closed (it was typed before)
    press(&mut a, 'q');
    assert!(a.should_quit);
}

#[test]
fn xor_deep_is_too_big_to_type_and_says_so() {
    let mut a = app("xor-deep");
    press(&mut a, 'e');
    assert!(a.stepper.as_ref().unwrap().hand.is_none());
    let msg = a.message.clone().unwrap_or_default();
    assert!(msg.contains("261") && msg.contains("at most 16"), "{msg}");
    // linear keeps e for its error surface
    let mut l = app("linear");
    press(&mut l, 'e');
    let s = l.stepper.as_ref().unwrap();
    assert!(s.hand.is_none() && s.show_surface);
}

/// The form shows 3 decimals, but a field left alone keeps its number
/// exactly: Enter at once changes nothing.
#[test]
fn fields_left_alone_keep_their_exact_values() {
    let mut a = app("xor-mlp");
    let before = a.stepper.as_ref().unwrap().params();
    press(&mut a, 'e');
    let form = a.stepper.as_ref().unwrap().hand.clone().expect("the form");
    let w = before[0].1.iter().next().copied().unwrap();
    assert_eq!(form.texts[0], format!("{w:.3}").trim_end_matches('0'));
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Enter);
    let s = a.stepper.as_ref().unwrap();
    assert!(s.hand.is_none());
    assert_eq!(s.params(), before);
}

#[test]
fn a_tiny_probability_keeps_the_predictions_table_in_its_columns() {
    // W = [5, 5], b = -7.5: p(0,0) = σ(−7.5) ≈ 5.5e-4, which once printed as
    // "5.528e-4" and pushed the row's class onto the next line
    let mut p = app("xor-perceptron");
    type_weights(&mut p, &["5", "5", "-7.5"]);
    let s = screen(&p, 80, 24);
    let row = s
        .lines()
        .find(|l| l.contains(" 0  0 0 "))
        .unwrap_or_else(|| panic!("the (0,0) row:\n{s}"));
    assert!(row.contains(" 0  0 0 0.001 0 ✓"), "{row}");
    assert!(!s.contains("e-4"), "{s}");
    // the status line's message fits 80 columns whole
    let status = s.lines().last().unwrap_or_default();
    assert!(
        status.contains("set by hand: cost 1.934 (r resets)"),
        "{status}"
    );
    let mut d = app("xor-deep");
    press(&mut d, 'e');
    let s = screen(&d, 80, 24);
    let status = s.lines().last().unwrap_or_default();
    assert!(
        status.contains("261 weights: e types at most 16"),
        "{status}"
    );
}

/// Typed weights leave a mark on the Loss chart where their first cost
/// lands, named in its legend ("set by hand"), in colour and in ASCII; `r`
/// (a fresh start) clears it.
#[test]
fn typed_weights_leave_a_mark_on_the_loss_chart() {
    for ascii in [false, true] {
        let mut a = app_with("xor-perceptron", ascii);
        for _ in 0..3 {
            press(&mut a, ' ');
        }
        type_weights(&mut a, &["5", "5", "-7.5"]);
        assert_eq!(a.loss.hand_set, [3.0], "the x of the next cost");
        press(&mut a, ' ');
        for (w, h) in [(140, 45), (80, 24)] {
            let s = screen(&a, w, h);
            // named in the Loss pane's bottom border (the status line's
            // message is gone after the step) ...
            let rows: Vec<&str> = s.lines().collect();
            let bar = if ascii { ":" } else { "│" };
            let named = rows[..rows.len() - 1]
                .iter()
                .any(|r| r.contains(&format!("{bar} set by hand")));
            assert!(named, "ascii {ascii} {w}x{h}:\n{s}");
            // ... and drawn: one column of the Loss chart holds the mark in
            // at least 3 rows (ASCII ':'; Braille's vertical ⢸ in colour)
            let mark = if ascii { ':' } else { '⢸' };
            let in_loss = |r: &&str| {
                r.chars()
                    .take(usize::from(w) / 2)
                    .filter(|&c| c == mark)
                    .count()
            };
            let marked = rows.iter().filter(|r| in_loss(r) > 0).count();
            assert!(marked >= 3, "ascii {ascii} {w}x{h}: {marked} rows\n{s}");
        }
        press(&mut a, 'r');
        assert!(a.loss.hand_set.is_empty());
    }
}
