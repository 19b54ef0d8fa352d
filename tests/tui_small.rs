//! The small lessons' lab keys (issue 11): N standardises, b sets
//! mini-batches, p predicts H(X), A plots the activations against the
//! engine's own ops, m edits the layers; and the two new lessons render.

#[macro_use]
mod common;

use crossterm::event::KeyCode;
use dl_lab::tui::app::PaneId;
use dl_lab::tui::views::stepper_view::activations::{samples, Activation};
use dl_lab::Tensor;

use common::tui::{app, key, keys, press, screen};

#[test]
fn activation_samples_match_the_engines_forward_and_backward() {
    for a in Activation::ALL {
        let s = samples(a, 40);
        assert_eq!(s.len(), 41);
        let xs: Vec<f32> = s.iter().map(|p| p.0 as f32).collect();
        let x = Tensor::param(ndarray::Array::from_shape_vec(ndarray::IxDyn(&[41]), xs).unwrap());
        let y = match a {
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.relu(),
        };
        y.sum().backward().unwrap();
        let (fy, gy) = (y.to_vec(), x.grad().unwrap());
        for (i, &(xv, f, d)) in s.iter().enumerate() {
            assert!((f - f64::from(fy[i])).abs() < 1e-6, "{} f({xv})", a.name());
            assert!((d - f64::from(gy[i])).abs() < 1e-6, "{} f'({xv})", a.name());
        }
    }
    // σ(0) = 0.5, σ'(0) = 0.25; tanh'(0) = 1; ReLU'(0) = 0 (the engine's choice)
    assert_eq!(Activation::Sigmoid.eval(0.0), (0.5, 0.25));
    assert_eq!(Activation::Tanh.eval(0.0), (0.0, 1.0));
    assert_eq!(Activation::Relu.eval(0.0), (0.0, 0.0));
}

#[test]
fn a_shows_the_activation_plot_at_80x24_and_140x45() {
    let mut a = app("xor-mlp");
    press(&mut a, 'A');
    for (w, h) in [(80, 24), (140, 45)] {
        let s = screen(&a, w, h);
        assert!(s.contains("Activations"), "{s}");
        assert!(
            s.contains("sigmoid") && s.contains("tanh") && s.contains("ReLU"),
            "{s}"
        );
        assert!(s.contains("-5.0") && s.contains("5.0"), "{s}");
        // the left chart's x label and the right chart's lowest y label
        // (-0.1) have a column between them
        let row = s
            .lines()
            .find(|r| r.contains("-0.1"))
            .unwrap_or_else(|| panic!("no -0.1 label:\n{s}"));
        let at = row.find("-0.1").expect("found");
        assert!(row[..at].ends_with(' '), "{row:?}");
    }
    press(&mut a, 'A');
    assert!(screen(&a, 140, 45).contains("Graph: values & gradients"));
}

/// Under NO_COLOR (mono) and `--ascii` the curves cannot differ by colour:
/// each is drawn with its own letter, and the key line shows which.
#[test]
fn without_colour_each_activation_curve_has_its_own_letter() {
    for (mono, ascii) in [(true, false), (false, true)] {
        let mut a = common::tui::app_with("xor-mlp", ascii);
        a.mono = mono;
        press(&mut a, 'A');
        for (w, h) in [(80, 24), (140, 45)] {
            let s = screen(&a, w, h);
            let rows: Vec<&str> = s.lines().collect();
            let key_row = rows
                .iter()
                .position(|r| r.contains("sigmoid"))
                .unwrap_or_else(|| panic!("no key line:\n{s}"));
            let key_line = rows[key_row];
            for legend in ["s sigmoid", "t tanh", "r ReLU"] {
                assert!(key_line.contains(legend), "{legend} in {key_line:?}");
            }
            // the plot below the key line: the pane's right half of the
            // screen, where the four-pane layout puts the Conv/Pool place
            let half = usize::from(w) / 2;
            let plot: String = rows[key_row + 1..]
                .iter()
                .map(|r| r.chars().skip(half).collect::<String>())
                .take_while(|r| !r.contains("What to watch"))
                .collect();
            for c in ['s', 't', 'r'] {
                let n = plot.chars().filter(|&x| x == c).count();
                assert!(n >= 8, "{c}: {n} marks (mono {mono}, {w}x{h}):\n{s}");
            }
            assert!(
                !plot.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
                "no Braille, whose dots look alike in one colour:\n{s}"
            );
        }
    }
}

#[test]
fn n_standardises_the_inputs_and_restarts() {
    let mut a = app("multivariate");
    press(&mut a, ' ');
    press(&mut a, 'N');
    let s = a.stepper.as_ref().unwrap();
    assert!(s.hyper().normalize && s.session.norm.is_some());
    assert_eq!(s.session.epoch, 0, "restarted");
    assert!(a.message.as_deref().unwrap_or("").contains("standardised"));
    assert!(screen(&a, 80, 24).contains("standardised"));
    press(&mut a, 'N');
    assert!(a.stepper.as_ref().unwrap().session.norm.is_none());
}

#[test]
fn b_sets_mini_batches_and_the_loss_pane_charts_each_step() {
    let mut a = app("linear");
    press(&mut a, 'b');
    let s = a.stepper.as_ref().unwrap();
    assert_eq!(s.hyper().batch_size, 1);
    assert_eq!(s.session.steps_per_epoch(), 3);
    press(&mut a, ' ');
    press(&mut a, ' ');
    assert_eq!(a.stepper.as_ref().unwrap().step_costs.len(), 6);
    assert!(!a.loss.per_epoch);
    let s = screen(&a, 140, 45);
    assert!(s.contains("step"), "{s}");
}

#[test]
fn p_predicts_h_of_x_with_the_current_parameters() {
    let mut a = app("multivariate");
    press(&mut a, 'p');
    assert!(screen(&a, 80, 24).contains("predict H(X)"));
    keys(&mut a, "73,80,75");
    key(&mut a, KeyCode::Enter);
    let s = a.stepper.as_ref().unwrap();
    let (x, y) = s.prediction().expect("a prediction");
    assert_eq!(x, vec![73.0, 80.0, 75.0]);
    let want = dl_lab::lessons::headless::predict_one(&s.session, &x).unwrap();
    assert_eq!(y, want);
    let text = dl_lab::lessons::headless::predict_text(&x, y);
    assert!(screen(&a, 140, 45).contains(&text));
    // a wrong count is a message, not a panic
    press(&mut a, 'p');
    for _ in 0..10 {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "1,2");
    key(&mut a, KeyCode::Enter);
    assert!(
        a.message
            .as_deref()
            .unwrap_or("")
            .contains("takes 3 inputs"),
        "{:?}",
        a.message
    );
}

#[test]
fn m_edits_the_layers_and_dropping_the_relus_restarts_with_a_line() {
    let mut a = app("mlp-regression");
    a.focus = PaneId::Model;
    press(&mut a, 'm');
    assert!(a.small_model_editing);
    // layers: Linear ReLU Linear ReLU Linear ReLU Linear; delete the ReLUs
    for _ in 0..3 {
        press(&mut a, 'j');
        press(&mut a, 'd');
    }
    let s = a.stepper.as_ref().unwrap();
    let dl_lab::lessons::Task::Regression {
        model: dl_lab::lessons::SmallModel::Layers(specs),
        ..
    } = &s.lesson().task
    else {
        panic!("layers")
    };
    assert!(
        !specs
            .iter()
            .any(|l| matches!(l, dl_lab::nn::LayerSpec::ReLU)),
        "{specs:?}"
    );
    for _ in 0..20 {
        press(&mut a, ' ');
    }
    let s = a.stepper.as_ref().unwrap();
    let f = |v: f32| dl_lab::lessons::headless::predict_one(&s.session, &[v]).unwrap();
    assert!((f(-2.0) + f(2.0) - 2.0 * f(0.0)).abs() < 1e-4);
    assert!(screen(&a, 80, 24).contains("Linear(6, 1)"));
}

#[test]
fn the_new_lessons_render_their_models() {
    let a = app("xor-deep");
    let s = screen(&a, 140, 45);
    assert!(s.contains("xor-deep"), "{s}");
    assert!(s.contains("2→10→10→10→1"), "{s}");
    let a = app("mlp-noisy");
    let s = screen(&a, 140, 45);
    assert!(s.contains("1→10→30→10→1"), "{s}");
    assert!(s.contains("model's curve"), "{s}");
}
