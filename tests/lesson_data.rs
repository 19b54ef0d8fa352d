//! Lessons as data (issue 11): each lesson's objective, checks and title
//! line come from its `Lesson` value and the run that happened. The
//! momentum lesson's two outcomes are checked against an f64 re-run of
//! PyTorch's SGD update, the findings only fire for the data that ran, the
//! title line follows `--data` and the flags, and `--init` draws weights
//! with PyTorch's bounds.

mod common;

use common::TempDir;

use dl_lab::lessons::{self, find, run_headless, Lesson, RunConfig, SmallSession};
use dl_lab::nn::init::{fans, Init};
use dl_lab::nn::{spec::build_model, LayerSpec, Module};
use dl_lab::optim::OptimizerKind;
use dl_lab::train::OptimizerSettings;
use rand::SeedableRng;

fn lesson(name: &str) -> Lesson {
    find(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"))
}

fn run_text(l: &Lesson, cfg: &RunConfig) -> String {
    let mut out = Vec::new();
    run_headless(l, cfg, &mut out).unwrap_or_else(|e| panic!("{}: {e}", l.name));
    String::from_utf8(out).expect("UTF-8")
}

/// The last x of the momentum lesson run to the end with `momentum`, and its findings.
fn momentum_run(momentum: f32) -> (f32, Vec<String>, f32) {
    let l = lesson("momentum");
    let mut h = l.defaults.clone();
    h.optimizer = h.optimizer.with_momentum(momentum).expect("sgd momentum");
    let mut s = SmallSession::new(&l, &h, None).expect("session");
    let mut cost = f32::NAN;
    while !s.done() {
        cost = s.step().expect("a step").cost;
    }
    let x = s.params()[0].1.to_vec()[0];
    let findings = l.findings(&s, cost).expect("findings");
    (x, findings, cost)
}

/// PyTorch's SGD on y = x⁴ − 4x² + x in f64: v ← μv + dy/dx (v = dy/dx at
/// the first step), x ← x − lr·v.
fn reference_x(start: f64, lr: f64, momentum: f64, steps: usize) -> f64 {
    let (mut x, mut v) = (start, None::<f64>);
    for _ in 0..steps {
        let g = 4.0 * x.powi(3) - 8.0 * x + 1.0;
        let step = match v {
            Some(b) if momentum != 0.0 => momentum * b + g,
            _ => g,
        };
        v = Some(step);
        x -= lr * step;
    }
    x
}

#[test]
fn momentum_crosses_the_bump_and_plain_sgd_stops_in_the_local_minimum() {
    let l = lesson("momentum");
    let o = l.objective().expect("a scalar objective");
    assert_eq!(o.expr(), "x^4 - 4*x^2 + x");
    assert_eq!(l.defaults.optimizer.momentum(), 0.9);
    let steps = l.defaults.epochs + 1;
    let (lr, start) = (f64::from(l.defaults.lr), f64::from(o.start));

    let (x, findings, _) = momentum_run(0.9);
    let want = reference_x(start, lr, 0.9, steps);
    assert!((f64::from(x) - want).abs() < 1e-3, "engine {x}, f64 {want}");
    // dy/dx = 4x³ − 8x + 1 = 0 at the global minimum x ≈ −1.473
    assert!((x + 1.473).abs() < 1e-2, "momentum ends at {x}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("crossed the bump"), "{findings:?}");
    assert!(findings[0].starts_with("x = -1.47"), "{findings:?}");

    let (x, findings, _) = momentum_run(0.0);
    let want = reference_x(start, lr, 0.0, steps);
    assert!((f64::from(x) - want).abs() < 1e-3, "engine {x}, f64 {want}");
    assert!((x - 1.347).abs() < 1e-2, "plain SGD ends at {x}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("local minimum"), "{findings:?}");
}

#[test]
fn the_momentum_lesson_is_listed_after_gd_scalar_and_its_notes_say_how_to_stick() {
    let names: Vec<&str> = lessons::all().iter().map(|l| l.name).collect();
    assert_eq!(&names[1..3], ["gd-scalar", "momentum"]);
    assert!(lesson("momentum").notes.contains("--momentum 0"));
}

#[test]
fn every_small_lessons_success_check_holds_with_its_defaults() {
    for l in lessons::all() {
        let Some(first) = l.checks.first() else {
            continue;
        };
        if l.is_classifier() {
            continue;
        }
        let mut s = SmallSession::new(&l, &l.defaults, None).expect("session");
        let mut cost = f32::NAN;
        while !s.done() {
            cost = s.step().expect("a step").cost;
        }
        let found = l.findings(&s, cost).expect("findings");
        assert!(
            found.iter().any(|f| f.ends_with(first.says)),
            "{}: the success check '{}' did not hold: {found:?}",
            l.name,
            first.says
        );
    }
}

#[test]
fn the_ln_2_finding_fires_only_when_the_cost_stalled_there() {
    let l = lesson("xor-perceptron");
    let out = run_text(&l, &RunConfig::defaults(&l));
    assert!(
        out.contains("≈ ln 2 = 0.693147: the model answers about 0.5"),
        "{out}"
    );
    // the title line no longer claims the stall; the finding does
    assert!(
        !out.lines().next().expect("a title").contains("ln 2"),
        "{out}"
    );
    // AND is linearly separable: the perceptron learns it, no ln 2 line
    let dir = TempDir::new("and");
    let and = dir.write("and.csv", b"a,b,y\n0,0,0\n0,1,0\n1,0,0\n1,1,1\n");
    let mut cfg = RunConfig::defaults(&l);
    cfg.data = Some(and.clone());
    let out = run_text(&l, &cfg);
    assert!(out.contains("accuracy: 4/4"), "{out}");
    assert!(
        !out.contains("ln 2"),
        "AND data must not stall at ln 2:\n{out}"
    );
    // xor-mlp says it classifies every row
    let l = lesson("xor-mlp");
    let out = run_text(&l, &RunConfig::defaults(&l));
    assert!(
        out.contains("4/4 rows right: the hidden layer's two lines separate XOR's classes"),
        "{out}"
    );
}

#[test]
fn the_title_and_settings_lines_say_what_runs() {
    let l = lesson("multivariate");
    let mut cfg = RunConfig::defaults(&l);
    let out = run_text(&l, &cfg);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(
            "Linear regression with several inputs (multivariate): 5 rows of 3 inputs and a \
             target; H(x) = xW + b, W zeros(3,1), b = 0; MSE loss"
        )
    );
    assert_eq!(
        lines.next(),
        Some("optimizer sgd, lr 0.00001, epochs 0..=20")
    );

    let l = lesson("linear");
    let dir = TempDir::new("quiz");
    let quiz = dir.write("quiz.csv", b"a,b,y\n1,2,3\n2,3,5\n3,1,4\n4,4,8\n");
    cfg = RunConfig::defaults(&l);
    cfg.data = Some(quiz.clone());
    cfg.hyper.lr = 1.0;
    cfg.hyper.epochs = 3;
    let out = run_text(&l, &cfg);
    let title = out.lines().next().expect("a title");
    assert!(
        title.ends_with(&format!(
            "{}: 4 rows of 2 inputs and a target; H(x) = xW + b, W zeros(2,1), b = 0; MSE loss",
            quiz.display()
        )),
        "{title}"
    );
    assert!(
        !title.contains("[1,2,3]") && !title.contains("x = y"),
        "{title}"
    );
    assert_eq!(
        out.lines().nth(1),
        Some("optimizer sgd, lr 1, epochs 0..=3")
    );

    let l = lesson("linear");
    let out = run_text(&l, &RunConfig::defaults(&l));
    assert!(
        out.starts_with(
            "Linear regression H(x) = Wx + b (linear): x = [1, 2, 3], y = [1, 2, 3]; H(x) = xW + b, W zeros(1,1), b = 0; MSE loss\n"
        ),
        "{out}"
    );

    let l = lesson("momentum");
    let mut cfg = RunConfig::defaults(&l);
    cfg.hyper.epochs = 2;
    let out = run_text(&l, &cfg);
    assert!(out.starts_with(
        "Momentum and local minima (momentum): minimise y = x^4 - 4*x^2 + x from x = 2.5 by autograd\n\
         optimizer sgd (momentum 0.9), lr 0.01, epochs 0..=2\n"
    ), "{out}");

    let l = lesson("xor-mlp");
    let mut cfg = RunConfig::defaults(&l);
    cfg.hyper.epochs = 1;
    cfg.hyper.optimizer = OptimizerSettings::new(OptimizerKind::AdamW);
    cfg.hyper.init = Init::Xavier;
    let out = run_text(&l, &cfg);
    assert_eq!(
        out.lines().nth(1),
        Some("optimizer adamw (weight decay 0.01), lr 1, epochs 0..=1, init xavier"),
        "{out}"
    );
}

// ---------------------------------------------------------------- --init

fn model(specs: &[LayerSpec], input: &[usize], init: Init) -> dl_lab::nn::Sequential {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let m = build_model(specs, input, &mut rng).expect("builds");
    init.apply(&m, &mut rng);
    m
}

/// Largest |w| and the standard deviation of `w`'s values.
fn spread(w: &[f32]) -> (f32, f32) {
    let n = w.len() as f32;
    let mean = w.iter().sum::<f32>() / n;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (w.iter().fold(0.0f32, |m, v| m.max(v.abs())), var.sqrt())
}

#[test]
fn init_draws_weights_within_pytorchs_bounds() {
    let specs = [
        LayerSpec::Conv2d {
            in_channels: 3,
            out_channels: 16,
            kernel_size: 3,
            stride: 1,
            padding: 1,
        },
        LayerSpec::Flatten,
        LayerSpec::Linear {
            in_features: 16 * 8 * 8,
            out_features: 40,
        },
    ];
    // conv (16, 3, 3, 3): fan_in 27, fan_out 144; linear (40, 1024)
    assert_eq!(fans(&[16, 3, 3, 3]), (27, 144));
    assert_eq!(fans(&[40, 1024]), (1024, 40));
    for (init, conv_bound, lin_bound) in [
        (Init::Uniform, 1.0 / 27f32.sqrt(), 1.0 / 1024f32.sqrt()),
        (Init::Xavier, (6.0 / 171f32).sqrt(), (6.0 / 1064f32).sqrt()),
        (Init::Kaiming, (6.0 / 27f32).sqrt(), (6.0 / 1024f32).sqrt()),
    ] {
        let m = model(&specs, &[3, 8, 8], init);
        let p = m.named_parameters();
        for (name, bound) in [("0.weight", conv_bound), ("2.weight", lin_bound)] {
            let w = p
                .iter()
                .find(|(n, _)| n == name)
                .expect("weight")
                .1
                .to_vec();
            let (max, std) = spread(&w);
            assert!(max <= bound, "{init} {name}: |w| {max} > bound {bound}");
            assert!(
                max > 0.9 * bound,
                "{init} {name}: |w| {max} fills U(±{bound})"
            );
            // U(-b, b) has standard deviation b/√3
            let want = bound / 3f32.sqrt();
            assert!(
                (std - want).abs() < 0.08 * want,
                "{init} {name}: std {std}, U(±{bound}) {want}"
            );
        }
        // xavier and kaiming keep PyTorch's default bias bound 1/√fan_in
        let b = p
            .iter()
            .find(|(n, _)| n == "2.bias")
            .expect("bias")
            .1
            .to_vec();
        let (max, _) = spread(&b);
        assert!(
            max <= 1.0 / 1024f32.sqrt() && max > 0.0,
            "{init}: bias {max}"
        );
    }
    let m = model(&specs, &[3, 8, 8], Init::Zeros);
    for (name, t) in m.named_parameters() {
        assert!(t.to_vec().iter().all(|&v| v == 0.0), "zeros: {name}");
    }
}

#[test]
fn zeros_keeps_xor_mlps_hidden_units_identical() {
    let l = lesson("xor-mlp");
    let mut h = l.defaults.clone();
    h.init = Init::Zeros;
    h.epochs = 500;
    let mut s = SmallSession::new(&l, &h, None).expect("session");
    while !s.done() {
        s.step().expect("a step");
    }
    let p: Vec<(String, Vec<f32>)> = s
        .params()
        .into_iter()
        .map(|(n, t)| (n, t.to_vec()))
        .collect();
    let get = |name: &str| p.iter().find(|(n, _)| n == name).expect("param").1.clone();
    let (w, b, out) = (get("0.weight"), get("0.bias"), get("2.weight"));
    // 0.weight (2, 2): both hidden units have the same weights, bias and outgoing weight
    assert_eq!(w[..2], w[2..], "hidden weights {w:?}");
    assert_eq!(b[0], b[1], "hidden biases {b:?}");
    assert_eq!(out[0], out[1], "output weights {out:?}");
    // and the network is stuck at a symmetric answer: it cannot learn XOR
    let cost = s.cost().expect("cost").item();
    let findings = l.findings(&s, cost).expect("findings");
    assert!(
        !findings.iter().any(|f| f.contains("rows right")),
        "{findings:?}"
    );
}

#[test]
fn init_is_refused_where_there_are_no_layers() {
    for (name, init) in [("gd-scalar", Init::Xavier), ("linear", Init::Kaiming)] {
        let l = lesson(name);
        let mut h = l.defaults.clone();
        h.init = init;
        let err = SmallSession::new(&l, &h, None).err().expect("refused");
        assert!(err.to_string().contains("--init"), "{name}: {err}");
    }
    let err = "ones".parse::<Init>().expect_err("unknown");
    assert!(
        err.to_string()
            .contains("zeros, uniform, xavier or kaiming"),
        "{err}"
    );
}
