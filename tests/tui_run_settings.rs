//! The lab's `--init` / `--momentum` and its keys I and M (issue 11,
//! initialisation and momentum): a key press changes the setting and the
//! next run uses it (the momentum lesson ends in the global minimum with
//! 0.9 and in the local one with 0), the status line and the ghost curve's
//! label name it, and `c`'s script carries it.

#[macro_use]
mod common;

use dl_lab::nn::init::Init;
use dl_lab::tui::app::App;
use dl_lab::tui::run_settings::check_lab_flags;

use common::tui::{app, press, screen};

/// x after every epoch of the momentum lesson, stepped with Space.
fn run_to_the_end(a: &mut App) -> f32 {
    let epochs = a.stepper.as_ref().expect("small").session.epochs;
    for _ in 0..=epochs {
        press(a, ' ');
    }
    common::tui::x(a)
}

#[test]
fn m_sets_the_momentum_and_the_next_run_uses_it() {
    let mut a = app("momentum");
    assert!(
        screen(&a, 80, 24).contains("m 0.9"),
        "the lesson's own momentum shows"
    );
    let x = run_to_the_end(&mut a);
    assert!(
        (x + 1.473).abs() < 1e-2,
        "momentum 0.9 crosses the bump: {x}"
    );
    // 0.9 → 0.99 → 0 (the ladder wraps)
    press(&mut a, 'M');
    assert_eq!(
        a.stepper.as_ref().unwrap().hyper().optimizer.momentum(),
        0.99
    );
    press(&mut a, 'M');
    let s = a.stepper.as_ref().unwrap();
    assert_eq!(s.hyper().optimizer.momentum(), 0.0);
    assert!(s.costs.is_empty(), "the lesson restarted");
    assert!(a.message.as_deref().unwrap_or("").contains("momentum 0"));
    let x = run_to_the_end(&mut a);
    assert!(
        (x - 1.347).abs() < 1e-2,
        "plain SGD stops in the local minimum: {x}"
    );
    // the 0.9 run's curve is a ghost labelled with its momentum
    press(&mut a, 'M');
    let labels: Vec<String> = a.loss.ghosts.iter().map(|g| g.label.clone()).collect();
    for want in ["lr 0.01 sgd m 0.9", "lr 0.01 sgd"] {
        assert!(labels.iter().any(|l| l == want), "{want}: {labels:?}");
    }
    // the script c writes has the momentum in force
    let (_, cfg) = a.code_settings();
    assert_eq!(cfg.hyper.optimizer.momentum(), 0.5);
    let script = dl_lab::code::python_script(&a.lesson, &cfg).expect("a script");
    assert!(script.contains("momentum=0.5"), "{script}");
}

#[test]
fn i_cycles_the_init_and_the_lesson_restarts_with_it() {
    let mut a = app("xor-mlp");
    let uniform = a.stepper.as_ref().unwrap().params();
    press(&mut a, 'I');
    let s = a.stepper.as_ref().unwrap();
    assert_eq!(s.hyper().init, Init::Xavier);
    // xavier's bound for W1 (2, 2) is √(6/4) = 1.22; the same seed's draw as
    // a session built with --init xavier
    let mut h = a.lesson.defaults.clone();
    h.init = Init::Xavier;
    let want = dl_lab::lessons::SmallSession::new(&a.lesson, &h, None).expect("session");
    let got = s.params();
    for ((n, v), (_, w)) in got.iter().zip(want.params()) {
        assert_eq!(v, &w.to_array(), "{n}");
    }
    assert_ne!(got, uniform);
    let scr = screen(&a, 80, 24);
    assert!(scr.contains("xavier"), "{scr}");
    let (_, cfg) = a.code_settings();
    let script = dl_lab::code::python_script(&a.lesson, &cfg).expect("a script");
    assert!(script.contains("xavier_uniform_"), "{script}");
    for want in [Init::Kaiming, Init::Zeros, Init::Uniform] {
        press(&mut a, 'I');
        assert_eq!(a.stepper.as_ref().unwrap().hyper().init, want);
    }
    // a lesson that refuses an init keeps its own, and says why
    let mut g = app("gd-scalar");
    press(&mut g, 'I');
    assert_eq!(g.stepper.as_ref().unwrap().hyper().init, Init::Uniform);
    let msg = g.message.as_deref().unwrap_or("");
    assert!(msg.contains("not taken"), "{msg}");
    // the flag is named once, not "init xavier not taken: --init: …"
    assert!(!msg.contains("--init:"), "{msg}");
}

#[test]
fn the_command_lines_init_and_momentum_start_the_lesson() {
    let a = app("xor-mlp").with_run_flags(Some(Init::Xavier), Some(0.5));
    let s = a.stepper.as_ref().unwrap();
    assert_eq!(s.hyper().init, Init::Xavier);
    assert_eq!(s.hyper().optimizer.momentum(), 0.5);
    let scr = screen(&a, 80, 24);
    assert!(scr.contains("m 0.5 xavier"), "{scr}");
    // an MNIST lesson keeps them for its run; Adam has no momentum
    let c = app("cnn-mnist").with_run_flags(Some(Init::Kaiming), None);
    assert_eq!(c.hyper.init, Init::Kaiming);
    let cnn = dl_lab::lessons::find("cnn-mnist").unwrap();
    let err = check_lab_flags(&cnn, None, Some(0.9)).expect_err("adam has no momentum");
    assert!(err.contains("adam") && err.contains("momentum"), "{err}");
    let bp = dl_lab::lessons::find("backprop").unwrap();
    assert!(check_lab_flags(&bp, Some(Init::Xavier), None).is_err());
    let gd = dl_lab::lessons::find("gd-scalar").unwrap();
    assert!(check_lab_flags(&gd, Some(Init::Xavier), None).is_err());
    assert!(check_lab_flags(&gd, None, Some(0.9)).is_ok());
}
