//! Headless tests of the course's lessons (STYLE.md §6, §8): each lesson is built from the
//! registry, run for a set number of epochs on its own, the shipped or a tiny data set, and
//! its success check asserted on the numbers it reaches.

#[macro_use]
mod common;

use common::TempDir;

use common::shared_dir;

use dl_lab::data::idx::{self, IdxImages};
use dl_lab::data::mnist::{ImageSet, Mnist};
use dl_lab::lessons::{
    all, find, run_headless, EpochRecord, Lesson, RunConfig, SmallSession, Task,
};
use dl_lab::train::{evaluate, evaluate_loss, ClassifierRun, Control, EpochSummary};
use dl_lab::{Error, Tensor};
use serde_json::Value;

// ---------------------------------------------------------------- helpers

fn lesson(name: &str) -> Lesson {
    find(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"))
}

/// Every epoch of a small lesson with its defaults changed by `tweak`.
fn run_small(name: &str, tweak: impl FnOnce(&mut dl_lab::lessons::Hyper)) -> Vec<EpochRecord> {
    let l = lesson(name);
    let mut h = l.defaults.clone();
    tweak(&mut h);
    let mut s = SmallSession::new(&l, &h, None).expect("session");
    let mut records = Vec::new();
    while !s.done() {
        records.push(
            s.step()
                .unwrap_or_else(|e| panic!("{name}, epoch {}: {e}", s.epoch)),
        );
    }
    assert_eq!(
        records.len(),
        h.epochs + 1,
        "{name} runs epochs 0..={}",
        h.epochs
    );
    records
}

/// The single value of parameter `name` after an epoch.
fn scalar(r: &EpochRecord, name: &str) -> f32 {
    let (_, a) = r
        .params
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    assert_eq!(a.len(), 1, "{name} holds one value");
    a.iter().copied().next().expect("one value")
}

fn costs(records: &[EpochRecord]) -> Vec<f32> {
    records.iter().map(|r| r.cost).collect()
}

fn assert_decreasing(name: &str, c: &[f32]) {
    for (i, w) in c.windows(2).enumerate() {
        assert!(
            w[1] < w[0],
            "{name}: cost rose from {} (epoch {i}) to {} (epoch {})",
            w[0],
            w[1],
            i + 1
        );
    }
}

fn classifier_parts(name: &str) -> (Lesson, Vec<dl_lab::nn::LayerSpec>, Vec<usize>) {
    let l = lesson(name);
    let Task::Classifier {
        layers,
        input_shape,
    } = l.task.clone()
    else {
        panic!("{name} is not a classifier");
    };
    (l, layers, input_shape)
}

fn train_classifier(
    name: &str,
    train: ImageSet,
    test: ImageSet,
    epochs: usize,
) -> Vec<EpochSummary> {
    let (l, layers, input_shape) = classifier_parts(name);
    let mut h = l.defaults.clone();
    h.epochs = epochs;
    let mut run = ClassifierRun::new(&layers, &input_shape, train, test, &h).expect("classifier");
    let summaries = run.train(|_, _, _| Control::Continue).expect("training");
    assert_eq!(summaries.len(), epochs);
    summaries
}

/// Write `set` as raw IDX files named `images` and `labels` in `dir` (pixels back to 0..=255).
fn write_set(dir: &TempDir, set: &ImageSet, images: &str, labels: &str) {
    let pixels = set.images.iter().copied().collect();
    let idx_images = IdxImages {
        count: set.len(),
        rows: set.rows,
        cols: set.cols,
        pixels,
    };
    dir.write(images, &idx::write_idx_images(&idx_images));
    dir.write(labels, &idx::write_idx_labels(&set.labels));
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).expect("UTF-8 output");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

// ---------------------------------------------------------------- small lessons

#[test]
fn gd_scalar_first_step_and_convergence() {
    let r = run_small("gd-scalar", |_| {});
    // y = (x-3)² + 4, dy/dx = 2(x-3) = 4 at x = 5, so x ← 5 - 0.1·4 = 4.6; y(5) = 8.
    assert_eq!(r[0].cost, 8.0);
    assert!(
        (scalar(&r[0], "x") - 4.6).abs() < 1e-6,
        "x after one step: {}",
        scalar(&r[0], "x")
    );
    // x - 3 shrinks by 0.8 a step: 2·0.8^101 ≈ 3e-10.
    let last = r.last().expect("epochs");
    assert!(
        (scalar(last, "x") - 3.0).abs() < 1e-4,
        "x = {}",
        scalar(last, "x")
    );
    assert!(
        (last.cost - 4.0).abs() < 1e-4,
        "min y = 4, got {}",
        last.cost
    );
    assert_decreasing("gd-scalar", &costs(&r[..20]));
}

#[test]
fn gd_scalar_lr_one_oscillates() {
    // x ← x - 1·2(x-3) = 6 - x: 5 → 1 → 5 → 1; the cost stays at 8.
    let r = run_small("gd-scalar", |h| {
        h.lr = 1.0;
        h.epochs = 5;
    });
    let xs: Vec<f32> = r.iter().map(|r| scalar(r, "x")).collect();
    assert_eq!(xs, [1.0, 5.0, 1.0, 5.0, 1.0, 5.0]);
    assert!(r.iter().all(|r| r.cost == 8.0), "{:?}", costs(&r));
}

#[test]
fn gd_scalar_lr_too_large_is_diverged_error() {
    let l = lesson("gd-scalar");
    let mut h = l.defaults.clone();
    h.lr = 1.5;
    let mut s = SmallSession::new(&l, &h, None).expect("session");
    let err = loop {
        assert!(
            !s.done(),
            "lr 1.5 should diverge within {} epochs",
            h.epochs
        );
        if let Err(e) = s.step() {
            break e;
        }
    };
    // x - 3 = 2·(-2)^k, so the cost 4·4^k + 4 overflows f32 at k = 63 ((2^64)² = 2^128).
    match &err {
        Error::Diverged {
            at, lr, suggest, ..
        } => {
            assert_eq!(at, "epoch 63");
            assert_eq!(*lr, 1.5);
            assert!(*suggest < 1.5 && *suggest > 0.0, "suggests {suggest}");
        }
        other => panic!("expected Error::Diverged, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("epoch 63") && msg.contains("smaller learning rate"),
        "{msg}"
    );
}

#[test]
fn linear_converges_to_y_equals_x() {
    let r = run_small("linear", |_| {});
    // epoch 0 from W = b = 0: cost = mean(1,4,9) = 14/3; dW = -2·mean(x·y) = -28/3, db = -4.
    assert!((r[0].cost - 14.0 / 3.0).abs() < 1e-5, "{}", r[0].cost);
    assert!((scalar(&r[0], "W") - 0.093_333).abs() < 1e-5);
    assert!((scalar(&r[0], "b") - 0.04).abs() < 1e-6);
    let last = r.last().expect("epochs");
    let (w, b) = (scalar(last, "W"), scalar(last, "b"));
    assert!((w - 1.0).abs() < 0.05, "W = {w}");
    assert!(b.abs() < 0.1, "b = {b}");
    assert!(last.cost < 1e-3, "cost = {}", last.cost);
    assert_decreasing("linear", &costs(&r));
}

#[test]
fn multivariate_first_cost_is_mean_of_squares() {
    let r = run_small("multivariate", |_| {});
    // W = b = 0 before the first update, so cost = mean(y²) =
    // (152² + 185² + 180² + 196² + 142²) / 5 = 148309 / 5 = 29661.8.
    assert!((r[0].cost - 29661.8).abs() < 0.05, "{}", r[0].cost);
    assert_decreasing("multivariate", &costs(&r));
    assert!(r.last().expect("epochs").cost < 10.0, "{:?}", costs(&r));
}

#[test]
fn xor_perceptron_stalls_at_ln2() {
    let r = run_small("xor-perceptron", |_| {});
    let last = r.last().expect("epochs").cost;
    assert!(
        (last - std::f32::consts::LN_2).abs() < 1e-3,
        "cost {last}, ln 2 = {}",
        std::f32::consts::LN_2
    );
}

#[test]
fn xor_mlp_learns_xor() {
    let l = lesson("xor-mlp");
    let mut s = SmallSession::new(&l, &l.defaults, None).expect("session");
    let mut last = f32::NAN;
    while !s.done() {
        last = s.step().expect("step").cost;
    }
    assert!(last < 0.01, "cost {last}");
    let (x, y) = s.data();
    let p = dl_lab::no_grad(|| s.predict(&Tensor::new(x.clone())))
        .expect("predict")
        .to_array();
    assert_eq!(p.len(), 4);
    for (i, (&pi, &yi)) in p.iter().zip(y.iter()).enumerate() {
        assert_eq!(pi > 0.5, yi == 1.0, "point {i}: p = {pi}, target {yi}");
    }
}

#[test]
fn mlp_regression_fits_parabola() {
    let r = run_small("mlp-regression", |h| h.epochs = 2000);
    let (first, last) = (r[0].cost, r.last().expect("epochs").cost);
    // From ~17 it reaches ~0.0125 after 2000 epochs (seed 1).
    assert!(first > 5.0, "first cost {first}");
    assert!(last < 0.05, "cost {last} after 2000 epochs");
}

#[test]
fn bad_csv_names_file_and_line() {
    let dir = TempDir::new("bad-csv");
    let path = dir.write("scores.csv", b"x,y\n1,2\n2,abc\n3,4\n");
    let l = lesson("linear");
    let err = SmallSession::new(&l, &l.defaults, Some(&path))
        .err()
        .expect("a bad number is an error");
    match &err {
        Error::BadCsv { path: p, line, .. } => {
            assert_eq!(p, &path);
            assert_eq!(*line, 3);
        }
        other => panic!("expected BadCsv, got {other:?}"),
    }
    assert!(err.to_string().contains("scores.csv:3"), "{err}");

    // the same through run_headless, as `dl-lab run linear --data` does
    let mut cfg = RunConfig::defaults(&l);
    cfg.data = Some(path);
    let err = run_headless(&l, &cfg, &mut Vec::new()).expect_err("bad CSV");
    assert!(err.to_string().contains("scores.csv:3"), "{err}");
}

#[test]
fn good_csv_replaces_lesson_data() {
    let dir = TempDir::new("good-csv");
    // y = 2x: the first step from W = b = 0 gives W = lr·2·mean(x·y) = 0.01·2·(2+8+18)/3.
    let path = dir.write("double.csv", b"x,y\n1,2\n2,4\n3,6\n");
    let l = lesson("linear");
    let mut s = SmallSession::new(&l, &l.defaults, Some(&path)).expect("session");
    let r = s.step().expect("step");
    assert!((r.cost - 56.0 / 3.0).abs() < 1e-4, "{}", r.cost);
    assert!(
        (scalar(&r, "W") - 0.186_667).abs() < 1e-5,
        "{}",
        scalar(&r, "W")
    );
}

// ---------------------------------------------------------------- classifiers

#[test]
fn softmax_mnist_shipped_reaches_85_percent() {
    let data = Mnist::shipped().expect("shipped MNIST");
    let s = train_classifier("softmax-mnist", data.train, data.test, 15);
    let last = s.last().expect("epochs");
    assert!(last.test_acc > 0.85, "held-out accuracy {}", last.test_acc);
    assert!(last.loss < s[0].loss, "loss {} -> {}", s[0].loss, last.loss);
}

#[test]
fn epoch_reports_train_accuracy_and_held_out_loss_as_the_engine_computes_them() {
    let data = Mnist::shipped().expect("shipped MNIST");
    let (train, test) = (
        data.train.subset(0..400).expect("subset"),
        data.test.subset(0..300).expect("subset"),
    );
    let (l, layers, input_shape) = classifier_parts("softmax-mnist");
    let mut h = l.defaults.clone();
    h.epochs = 1;
    // lr 0: the model never moves, so the running accuracy over the epoch's
    // batches (400 images, batch 100, none dropped) is the model's accuracy
    // on the training set, which the engine's evaluation computes directly
    let mut run =
        ClassifierRun::new(&layers, &input_shape, train.clone(), test.clone(), &h).expect("run");
    run.opt.set_lr(0.0);
    let s = run.train(|_, _, _| Control::Continue).expect("training");
    let e = &s[0];
    let cpu = &dl_lab::backend::Device::Cpu;
    let train_acc = evaluate(&run.model, &train, &input_shape, 100, cpu).expect("evaluate");
    assert_eq!(e.train_acc, train_acc);
    let (acc, loss) = evaluate_loss(&run.model, &test, &input_shape, 100, cpu).expect("evaluate");
    assert_eq!(e.test_acc, acc);
    assert!(
        (e.test_loss - loss).abs() < 1e-6,
        "{} vs {loss}",
        e.test_loss
    );
    // the predictions: one per held-out image, agreeing with the accuracy
    let preds = e.predictions.as_ref().expect("predictions");
    assert_eq!(preds.len(), test.len());
    let right = preds
        .class
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| p == l)
        .count();
    assert_eq!(right as f32 / test.len() as f32, acc);
    assert!(preds.prob.iter().all(|&p| (0.1..=1.0).contains(&p)));

    // with learning, the training accuracy climbs from epoch to epoch
    h.epochs = 3;
    let mut run = ClassifierRun::new(&layers, &input_shape, train, test, &h).expect("run");
    let s = run.train(|_, _, _| Control::Continue).expect("training");
    assert!(s[2].train_acc > s[0].train_acc, "{s:?}");
    assert!(s.iter().all(|e| (0.0..=1.0).contains(&e.train_acc)));
}

#[test]
fn overfit_mnist_opens_a_gap_between_training_and_held_out() {
    let l = lesson("overfit-mnist");
    assert_eq!(l.defaults.train_subset, 500);
    let mut cfg = RunConfig::defaults(&l);
    cfg.json = true;
    let mut out = Vec::new();
    run_headless(&l, &cfg, &mut out).expect("overfit-mnist runs");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), l.defaults.epochs);
    let f = |o: &Value, k: &str| o[k].as_f64().unwrap_or_else(|| panic!("{k}"));
    let last = lines.last().expect("epochs");
    let (train_acc, test_acc) = (f(last, "train_acc"), f(last, "test_acc"));
    // memorised: every training image right, the held-out ones far from it
    assert!(train_acc >= 0.99, "train_acc {train_acc}");
    assert!(train_acc - test_acc > 0.08, "gap {train_acc} - {test_acc}");
    // the held-out loss went down, then up again
    let losses: Vec<f64> = lines.iter().map(|o| f(o, "test_loss")).collect();
    let (best_epoch, best) =
        losses
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |a, (i, v)| if v < a.1 { (i, v) } else { a },
            );
    assert!(
        best_epoch + 5 < losses.len(),
        "lowest at epoch {}",
        best_epoch + 1
    );
    assert!(best < losses[0], "{losses:?}");
    let end = *losses.last().expect("last");
    assert!(
        end > best * 1.08,
        "held-out loss {best} at its lowest, {end} at the end"
    );
    // the training loss kept falling all the while
    assert!(f(last, "loss") < 0.05);
}

#[test]
fn cnn_mnist_shared_t10k_reaches_85_percent() {
    let Some(dir) = shared_dir("datasets/mnist") else {
        return;
    };
    let t10k = Mnist::load_test_files(&dir).expect("t10k files");
    let train = t10k.subset(0..2000).expect("first 2,000");
    let test = t10k.subset(2000..3000).expect("next 1,000");
    let s = train_classifier("cnn-mnist", train, test, 3);
    let acc: Vec<f32> = s.iter().map(|e| e.test_acc).collect();
    eprintln!("cnn-mnist, t10k 0..2000 -> 2000..3000, accuracy per epoch: {acc:?}");
    let last = s.last().expect("epochs");
    assert!(
        last.test_acc > 0.85,
        "accuracy on images 2000..3000: {}",
        last.test_acc
    );
}

#[test]
fn cnn_mnist_on_opencl_matches_the_cpu_engine() {
    // The parity check: 3 epochs on the first 2,000 official test
    // digits, scored on the next 1,000, from the same seed on both devices.
    let Some(dir) = shared_dir("datasets/mnist") else {
        return;
    };
    let Some(device) = common::opencl_device() else {
        return;
    };
    let t10k = Mnist::load_test_files(&dir).expect("t10k files");
    let (l, layers, input_shape) = classifier_parts("cnn-mnist");
    let mut h = l.defaults.clone();
    h.epochs = 3;
    let run = |device: dl_lab::backend::Device| {
        let train = t10k.subset(0..2000).expect("first 2,000");
        let test = t10k.subset(2000..3000).expect("next 1,000");
        let mut run = ClassifierRun::on_device(&layers, &input_shape, train, test, &h, device)
            .expect("classifier");
        run.train(|_, _, _| Control::Continue).expect("training")
    };
    let cpu = run(dl_lab::backend::Device::Cpu);
    let ocl = run(device.clone());
    let acc = |s: &[EpochSummary]| s.iter().map(|e| e.test_acc).collect::<Vec<_>>();
    eprintln!(
        "cnn-mnist accuracy per epoch: cpu {:?}, {device} {:?}",
        acc(&cpu),
        acc(&ocl)
    );
    let (c, o) = (cpu.last().expect("epochs"), ocl.last().expect("epochs"));
    assert!(o.test_acc > 0.85, "{device}: accuracy {}", o.test_acc);
    assert!(
        (o.test_acc - c.test_acc).abs() <= 0.02,
        "{device} {} vs cpu {}",
        o.test_acc,
        c.test_acc
    );
    assert!(
        (o.loss - c.loss).abs() <= 0.05 * c.loss,
        "training loss {device} {} vs cpu {}",
        o.loss,
        c.loss
    );
}

// ---------------------------------------------------------------- every lesson headless

#[test]
fn every_lesson_runs_headless_with_json() {
    let shipped = Mnist::shipped().expect("shipped MNIST");
    // a tiny MNIST directory (300 train, 100 held out) so the CNN's epoch is short
    let tiny = TempDir::new("tiny-mnist");
    write_set(
        &tiny,
        &shipped.train.subset(0..300).expect("subset"),
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
    );
    write_set(
        &tiny,
        &shipped.test.subset(0..100).expect("subset"),
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    );

    let lessons = all();
    assert_eq!(lessons.len(), 15);
    for l in &lessons {
        // the lessons that train nothing print their own lines (tests/backprop.rs,
        // tests/tensor_script.rs, tests/race.rs)
        if l.is_worked() || matches!(l.task, Task::Race { .. }) {
            continue;
        }
        let mut cfg = RunConfig::defaults(l);
        cfg.json = true;
        cfg.hyper.epochs = 1;
        if l.is_classifier() {
            cfg.data = Some(tiny.dir().to_path_buf());
        }
        let mut out = Vec::new();
        run_headless(l, &cfg, &mut out).unwrap_or_else(|e| panic!("{}: {e}", l.name));
        let lines = json_lines(&out);
        if let dl_lab::lessons::Task::Race { .. } = l.task {
            // steps 0..=1, one line per optimizer each (tests/race.rs has the rest)
            assert_eq!(lines.len(), 14, "{}", l.name);
            assert_eq!(lines[13]["optimizer"], "adagrad");
            assert_eq!(lines[13]["step"], 1);
            continue;
        }
        if l.is_classifier() {
            // epochs 1..=1
            assert_eq!(lines.len(), 1, "{}", l.name);
            let o = lines[0].as_object().expect("object");
            let keys: Vec<&str> = o.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "epoch",
                    "loss",
                    "test_acc",
                    "img_per_s",
                    "train_acc",
                    "test_loss"
                ],
                "{}",
                l.name
            );
            assert_eq!(o["epoch"], 1);
            let acc = o["test_acc"].as_f64().expect("number");
            assert!((0.0..=1.0).contains(&acc), "{}: test_acc {acc}", l.name);
            assert!(o["loss"].as_f64().expect("number").is_finite());
            assert!(o["img_per_s"].as_f64().expect("number") > 0.0);
        } else {
            // epochs 0..=1, both logged
            assert_eq!(lines.len(), 2, "{}", l.name);
            for (i, line) in lines.iter().enumerate() {
                let o = line.as_object().expect("object");
                let keys: Vec<&str> = o.keys().map(String::as_str).collect();
                assert_eq!(keys, ["epoch", "cost", "params"], "{}", l.name);
                assert_eq!(o["epoch"], i);
                assert!(
                    o["cost"].as_f64().expect("number").is_finite(),
                    "{}",
                    l.name
                );
                assert!(!o["params"].as_object().expect("params object").is_empty());
            }
        }
    }
}

#[test]
fn run_headless_text_matches_course_format() {
    let l = lesson("gd-scalar");
    let mut cfg = RunConfig::defaults(&l);
    cfg.hyper.epochs = 10;
    let mut out = Vec::new();
    run_headless(&l, &cfg, &mut out).expect("run");
    let text = String::from_utf8(out).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Epoch    0/10 x: 4.600 Cost: 8.000000")),
        "{text}"
    );
    assert!(
        lines
            .last()
            .expect("lines")
            .starts_with("Epoch   10/10 x: "),
        "{text}"
    );
}

#[test]
fn unknown_lesson_lists_the_lessons() {
    let msg = find("nope").expect_err("unknown").to_string();
    for l in all() {
        assert!(msg.contains(l.name), "{msg}");
    }
}

#[test]
fn shared_dir_skips_or_panics_when_missing() {
    let required = std::env::var("DL_LAB_REQUIRE_SHARED").is_ok_and(|v| v == "1");
    let got = std::panic::catch_unwind(|| shared_dir("no-such-directory-for-dl-lab-tests"));
    match got {
        Ok(found) => {
            assert!(
                !required,
                "DL_LAB_REQUIRE_SHARED=1 must make a missing directory panic"
            );
            assert_eq!(found, None);
        }
        Err(_) => assert!(
            required,
            "a missing directory only panics under DL_LAB_REQUIRE_SHARED=1"
        ),
    }
    // and a directory that is there is found
    if let Some(dir) = shared_dir("datasets") {
        assert!(dir.ends_with("shared/datasets") && dir.is_dir());
    }
}
