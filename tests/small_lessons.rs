//! The small lessons' additions (issue 11): `--normalize`, mini-batches,
//! `--predict`, the lessons mlp-noisy and xor-deep, and a model without
//! ReLUs fitting a straight line. Each figure is checked against the engine
//! or against numbers worked out by hand.

use std::process::Command;

use dl_lab::lessons::headless::{check_predict, predict_one, predict_text};
use dl_lab::lessons::normalize::Standardizer;
use dl_lab::lessons::{
    find, run_headless, EpochRecord, Hyper, Lesson, RunConfig, SmallModel, SmallSession, Task,
};
use dl_lab::nn::LayerSpec;
use dl_lab::{Error, Tensor};
use ndarray::array;

fn lesson(name: &str) -> Lesson {
    find(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"))
}

fn hyper(name: &str, tweak: impl FnOnce(&mut Hyper)) -> (Lesson, Hyper) {
    let l = lesson(name);
    let mut h = l.defaults.clone();
    tweak(&mut h);
    (l, h)
}

/// Every epoch of `lesson` with `h`, or the first error.
fn train(l: &Lesson, h: &Hyper) -> (SmallSession, Result<Vec<EpochRecord>, Error>) {
    let mut s = SmallSession::new(l, h, None).expect("session");
    let mut records = Vec::new();
    while !s.done() {
        match s.step() {
            Ok(r) => records.push(r),
            Err(e) => return (s, Err(e)),
        }
    }
    (s, Ok(records))
}

fn dl_lab(args: &[&str]) -> (String, String, bool) {
    let o = Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .output()
        .expect("run dl-lab");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

// ---------------------------------------------------------------- normalisation

#[test]
fn the_standardizer_uses_the_sample_std() {
    // column 0: 1, 2, 3 → mean 2, sample variance (1 + 0 + 1) / 2 = 1
    // column 1: 5, 5, 5 → no spread, std kept at 1 (shifted only)
    let x = array![[1.0f32, 5.0], [2.0, 5.0], [3.0, 5.0]];
    let n = Standardizer::fit(&x);
    assert_eq!(n.mean, vec![2.0, 5.0]);
    assert_eq!(n.std, vec![1.0, 1.0]);
    assert_eq!(n.apply(&x), array![[-1.0f32, 0.0], [0.0, 0.0], [1.0, 0.0]]);
    // 73, 93, 89, 96, 73: mean 84.8, squared deviations 139.24 + 67.24 + 17.64 + 125.44
    // + 139.24 = 488.8, sample std sqrt(488.8 / 4) = 11.0544
    let q = array![[73.0f32], [93.0], [89.0], [96.0], [73.0]];
    let n = Standardizer::fit(&q);
    assert!((n.mean[0] - 84.8).abs() < 1e-4, "{:?}", n.mean);
    assert!(
        (n.std[0] - (488.8f32 / 4.0).sqrt()).abs() < 1e-4,
        "{:?}",
        n.std
    );
}

#[test]
fn multivariate_converges_at_lr_0_1_only_with_normalized_inputs() {
    let (l, h) = hyper("multivariate", |h| {
        h.lr = 0.1;
        h.epochs = 100;
        h.normalize = true;
    });
    let (s, records) = train(&l, &h);
    let records = records.unwrap_or_else(|e| panic!("normalised run failed: {e}"));
    let last = records.last().expect("epochs").cost;
    assert!(last < 0.2, "cost after 100 epochs: {last}");
    // the data the views plot stay raw; the model sees them standardised
    let (x, _) = s.data();
    assert_eq!(x[[0, 0]], 73.0);
    let norm = s.norm.clone().expect("standardised");
    assert!((norm.mean[0] - 84.8).abs() < 1e-4);

    let (l, h) = hyper("multivariate", |h| {
        h.lr = 0.1;
        h.epochs = 100;
    });
    let (_, raw) = train(&l, &h);
    match raw {
        Err(Error::Diverged { .. }) => {}
        Err(e) => panic!("expected a divergence, got {e}"),
        Ok(r) => panic!(
            "raw inputs at lr 0.1 should diverge; cost {}",
            r[r.len() - 1].cost
        ),
    }
}

#[test]
fn normalize_on_the_command_line_and_in_the_script() {
    let (out, err, ok) = dl_lab(&[
        "run",
        "multivariate",
        "--lr",
        "0.1",
        "--epochs",
        "100",
        "--normalize",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("inputs standardised (x - mean) / std"),
        "{out}"
    );
    let (_, err, ok) = dl_lab(&["run", "multivariate", "--lr", "0.1", "--epochs", "100"]);
    assert!(!ok);
    assert!(err.contains("diverged"), "{err}");

    let (py, _, ok) = dl_lab(&["code", "multivariate", "--lr", "0.1", "--normalize"]);
    assert!(ok);
    assert!(py.contains("x_std = x_train.std(dim=0)"), "{py}");
    assert!(py.contains("x_train = (x_train - x_mean) / x_std"), "{py}");
    assert!(py.contains("--normalize"), "the header names the flag");
}

// ---------------------------------------------------------------- mini-batches

#[test]
fn a_mini_batch_epoch_takes_ceil_n_over_b_steps_and_the_cost_falls() {
    // 1000 points, batches of 64: 15 full batches and one of 40 = 16 steps
    let (l, h) = hyper("mlp-regression", |h| {
        h.batch_size = 64;
        h.epochs = 30;
    });
    let (s, records) = train(&l, &h);
    let records = records.expect("run");
    assert_eq!(s.steps_per_epoch(), 16);
    assert_eq!(s.steps, 31 * 16, "31 epochs of 16 steps");
    for r in &records {
        assert_eq!(r.step_costs.len(), 16, "epoch {}", r.epoch);
        let mean = r.step_costs.iter().sum::<f32>() / 16.0;
        assert!(
            (r.cost - mean).abs() <= 1e-6 * mean.abs().max(1.0),
            "{} vs {mean}",
            r.cost
        );
    }
    let first = records[0].cost;
    let last = records[records.len() - 1].cost;
    assert!(last < 0.5 * first, "cost {first} → {last}");
    // each epoch's order is a permutation of the rows, and the orders differ
    let (a, b) = (s.epoch_order(0), s.epoch_order(1));
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_ne!(a, b);

    // the same seed gives the same run, another seed another one
    let (_, again) = train(&l, &h);
    let again = again.expect("run");
    assert_eq!(
        records.last().map(|r| r.params.clone()),
        again.last().map(|r| r.params.clone())
    );
    let (l2, h2) = hyper("mlp-regression", |h| {
        h.batch_size = 64;
        h.epochs = 30;
        h.seed = 2;
    });
    let (_, other) = train(&l2, &h2);
    assert_ne!(
        records.last().map(|r| r.cost),
        other.expect("run").last().map(|r| r.cost)
    );
}

#[test]
fn a_batch_of_n_or_more_is_the_full_batch() {
    let (l, full) = hyper("linear", |h| h.epochs = 50);
    let (l2, big) = hyper("linear", |h| {
        h.epochs = 50;
        h.batch_size = 3;
    });
    let (_, a) = train(&l, &full);
    let (s, b) = train(&l2, &big);
    assert_eq!(s.steps_per_epoch(), 1);
    assert_eq!(
        a.expect("run").last().map(|r| r.params.clone()),
        b.expect("run").last().map(|r| r.params.clone())
    );
}

#[test]
fn batch_size_on_the_command_line() {
    let (out, err, ok) = dl_lab(&["run", "linear", "--batch-size", "2", "--log-every", "500"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("batch 2 (rows shuffled each epoch; Cost is the mean of the epoch's steps)"),
        "{out}"
    );
    // and it still learns y = x
    let last = out
        .lines()
        .find(|l| l.starts_with("Epoch 1000/1000"))
        .expect("last epoch");
    let w: f32 = last["Epoch 1000/1000 W: ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((w - 1.0).abs() < 0.05, "{last}");
    let (py, _, _) = dl_lab(&["code", "linear", "--batch-size", "2"]);
    assert!(py.contains("batch_size = 2"), "{py}");
    // few rows: dl-lab's own orders, written out, one list per epoch
    assert!(py.contains("The orders are dl-lab's"), "{py}");
    assert!(py.contains("order = torch.tensor(ORDERS[epoch])"), "{py}");
    assert_eq!(
        py.lines()
            .skip_while(|l| *l != "ORDERS = [")
            .skip(1)
            .take_while(|l| *l != "]")
            .count(),
        1001,
        "epochs 0..=1000"
    );
    // many rows × epochs: torch.randperm, and the script says so
    let (py, _, _) = dl_lab(&["code", "mlp-regression", "--batch-size", "100"]);
    assert!(py.contains("torch.randperm"), "{py}");
    assert!(
        py.contains("cannot reproduce"),
        "the script says its order differs"
    );
}

// ---------------------------------------------------------------- predict

#[test]
fn predict_is_the_trained_models_forward() {
    // linear: H(x) = W·x + b with the trained W and b
    let (l, h) = hyper("linear", |_| {});
    let (s, r) = train(&l, &h);
    r.expect("run");
    let p = s.params();
    let (w, b) = (p[0].1.item(), p[1].1.item());
    let y = predict_one(&s, &[4.0]).expect("predict");
    assert!((y - (4.0 * w + b)).abs() < 1e-5, "{y} vs {}", 4.0 * w + b);

    // multivariate, normalised: H(x) = ((x − mean) / std)·W + b
    let (l, h) = hyper("multivariate", |h| {
        h.lr = 0.1;
        h.epochs = 100;
        h.normalize = true;
    });
    let (s, r) = train(&l, &h);
    r.expect("run");
    let n = s.norm.clone().expect("standardised");
    let w = s.params()[0].1.to_vec();
    let b = s.params()[1].1.item();
    let x = [73.0f32, 80.0, 75.0];
    let by_hand: f32 = (0..3)
        .map(|j| (x[j] - n.mean[j]) / n.std[j] * w[j])
        .sum::<f32>()
        + b;
    let y = predict_one(&s, &x).expect("predict");
    assert!((y - by_hand).abs() < 1e-3, "{y} vs {by_hand}");
    // the first row's target is 152: the fit is close
    assert!((y - 152.0).abs() < 2.0, "H(73, 80, 75) = {y}");
    assert_eq!(predict_text(&x, 152.25), "H([73, 80, 75]) = 152.2500");

    // the number of features is checked, with the lesson's count in the message
    let e = check_predict(&l, &s, &[73.0, 80.0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("takes 3 inputs") && e.contains("got 2"), "{e}");
    let (g, gh) = hyper("gd-scalar", |_| {});
    let gs = SmallSession::new(&g, &gh, None).unwrap();
    let e = check_predict(&g, &gs, &[1.0]).unwrap_err().to_string();
    assert!(e.contains("no inputs"), "{e}");
}

#[test]
fn predict_prints_after_training_in_text_and_json() {
    let (l, h) = hyper("linear", |_| {});
    let (s, _) = train(&l, &h);
    let want = predict_one(&s, &[4.0]).unwrap();
    let mut cfg = RunConfig::defaults(&l);
    cfg.predict = Some(vec![4.0]);
    let mut out = Vec::new();
    run_headless(&l, &cfg, &mut out).expect("run");
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().last(),
        Some(predict_text(&[4.0], want).as_str()),
        "{text}"
    );

    cfg.json = true;
    let mut out = Vec::new();
    run_headless(&l, &cfg, &mut out).expect("run");
    let text = String::from_utf8(out).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["predict"], serde_json::json!([4.0]));
    assert!(
        (last["output"].as_f64().unwrap() as f32 - want).abs() < 1e-6,
        "{last}"
    );

    let (out, _, ok) = dl_lab(&["run", "multivariate", "--predict", "73,80,75"]);
    assert!(ok);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("H([73, 80, 75]) = "),
        "{out}"
    );
    let (_, err, ok) = dl_lab(&["run", "multivariate", "--predict", "73,80"]);
    assert!(!ok);
    assert!(err.contains("takes 3 inputs per row, got 2"), "{err}");
}

// ---------------------------------------------------------------- the new lessons

#[test]
fn the_new_lessons_are_listed_in_course_order() {
    let (out, _, ok) = dl_lab(&["lessons"]);
    assert!(ok);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let at = |n: &str| {
        names
            .iter()
            .position(|&x| x == n)
            .unwrap_or_else(|| panic!("{n} not in {names:?}"))
    };
    assert_eq!(at("mlp-noisy"), at("mlp-regression") + 1);
    assert_eq!(at("xor-deep"), at("xor-mlp") + 1);
    assert!(at("xor-deep") < at("softmax-mnist"));
}

fn layer_sizes(l: &Lesson) -> Vec<(usize, usize)> {
    let Task::Regression {
        model: SmallModel::Layers(specs),
        ..
    } = &l.task
    else {
        panic!("{} has layers", l.name)
    };
    specs
        .iter()
        .filter_map(|s| match s {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => Some((*in_features, *out_features)),
            _ => None,
        })
        .collect()
}

#[test]
fn xor_deep_is_2_10_10_10_1_and_learns_xor() {
    let l = lesson("xor-deep");
    assert_eq!(layer_sizes(&l), [(2, 10), (10, 10), (10, 10), (10, 1)]);
    let (s, r) = train(&l, &l.defaults);
    let r = r.expect("run");
    let last = r.last().unwrap().cost;
    assert!(last < 0.01, "final BCE {last}");
    let (x, y) = s.data();
    let p = dl_lab::no_grad(|| s.predict(&Tensor::new(x)))
        .unwrap()
        .to_vec();
    for (pi, yi) in p.iter().zip(y.iter()) {
        assert_eq!(f32::from(u8::from(*pi > 0.5)), *yi, "p = {p:?}");
    }
}

#[test]
fn mlp_noisy_is_1_10_30_10_1_and_fits_down_to_the_noise() {
    let l = lesson("mlp-noisy");
    assert_eq!(layer_sizes(&l), [(1, 10), (10, 30), (30, 10), (10, 1)]);
    let (l, h) = hyper("mlp-noisy", |h| h.epochs = 1000);
    let (s, r) = train(&l, &h);
    let last = r.expect("run").last().unwrap().cost;
    // noise std 0.3: variance 0.09 is what a perfect parabola leaves; the
    // fit should be near it, not at 0
    assert!(last < 0.12 && last > 0.05, "final MSE {last}");
    // the targets scatter around x² + 3: their residuals from it have std ≈ 0.3
    let (x, y) = s.data();
    let n = x.len() as f32;
    let var = x
        .iter()
        .zip(y.iter())
        .map(|(a, b)| (b - a * a - 3.0).powi(2))
        .sum::<f32>()
        / n;
    assert!((var.sqrt() - 0.3).abs() < 0.05, "noise std {}", var.sqrt());
}

#[test]
fn mlp_regression_without_relus_fits_a_straight_line() {
    let mut l = lesson("mlp-regression");
    let Task::Regression {
        model: SmallModel::Layers(specs),
        ..
    } = &mut l.task
    else {
        panic!("layers")
    };
    specs.retain(|s| !matches!(s, LayerSpec::ReLU));
    assert_eq!(specs.len(), 4);
    let mut h = l.defaults.clone();
    h.epochs = 300;
    let (s, r) = train(&l, &h);
    let last = r.expect("run").last().unwrap().cost;
    let f = |v: f32| predict_one(&s, &[v]).unwrap();
    // affine: f(a) + f(c) = 2 f((a + c) / 2) for any a, c
    for (a, c) in [(-2.0f32, 2.0f32), (-1.5, 0.5), (0.0, 3.0)] {
        let lhs = f(a) + f(c);
        let rhs = 2.0 * f((a + c) / 2.0);
        assert!(
            (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
            "f({a}) + f({c}) = {lhs}, 2f(mid) = {rhs}"
        );
    }
    // a line cannot follow x² + 3: the cost stays near the parabola's variance around its best line (2)
    assert!(last > 1.5, "a straight line fit reached {last}");
    // with the ReLUs the same network bends: f is not affine
    let l = lesson("mlp-regression");
    let mut h = l.defaults.clone();
    h.epochs = 2000;
    let (s, r) = train(&l, &h);
    r.expect("run");
    let f = |v: f32| predict_one(&s, &[v]).unwrap();
    assert!((f(-2.0) + f(2.0) - 2.0 * f(0.0)).abs() > 1.0);
}
