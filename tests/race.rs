//! The optimizer race: each racer's trajectory re-derived by hand from the
//! update rules on PyTorch's `torch.optim` pages (in f64, from the surface's
//! gradient written out), and `dl-lab run optimizer-race`'s output.

use std::process::Command;

use dl_lab::lessons;
use dl_lab::train::race::{Race, Racer, Surface};
use serde_json::Value;

/// ∇f, written out: bowl (x/10, 2y); Rosenbrock (−2(1 − x) − 400x(y − x²), 200(y − x²)).
fn grad(s: Surface, p: [f64; 2]) -> [f64; 2] {
    let [x, y] = p;
    match s {
        Surface::Bowl => [x / 10.0, 2.0 * y],
        Surface::Rosenbrock => [
            -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
            200.0 * (y - x * x),
        ],
    }
}

/// The path of `racer` by its rule, `steps` steps from `start`.
fn by_hand(racer: Racer, s: Surface, start: [f64; 2], lr: f64, steps: usize) -> Vec<[f64; 2]> {
    let mut p = start;
    let mut path = vec![p];
    let (mut a, mut b) = ([0.0f64; 2], [0.0f64; 2]); // momentum buffer / m, v / sums
    for t in 1..=steps {
        let g = grad(s, p);
        for i in 0..2 {
            match racer {
                Racer::Sgd => p[i] -= lr * g[i],
                Racer::Momentum | Racer::Nesterov => {
                    // b ← g at the first step, then μ·b + g; nesterov steps along g + μ·b
                    a[i] = if t == 1 { g[i] } else { 0.9 * a[i] + g[i] };
                    let d = if racer == Racer::Nesterov {
                        g[i] + 0.9 * a[i]
                    } else {
                        a[i]
                    };
                    p[i] -= lr * d;
                }
                Racer::Adam | Racer::AdamW => {
                    if racer == Racer::AdamW {
                        p[i] *= 1.0 - lr * 0.01; // decoupled decay, before the update
                    }
                    a[i] = 0.9 * a[i] + 0.1 * g[i];
                    b[i] = 0.999 * b[i] + 0.001 * g[i] * g[i];
                    let m_hat = a[i] / (1.0 - 0.9f64.powi(t as i32));
                    let v_hat = b[i] / (1.0 - 0.999f64.powi(t as i32));
                    p[i] -= lr * m_hat / (v_hat.sqrt() + 1e-8);
                }
                Racer::Rmsprop => {
                    b[i] = 0.99 * b[i] + 0.01 * g[i] * g[i];
                    p[i] -= lr * g[i] / (b[i].sqrt() + 1e-8);
                }
                Racer::Adagrad => {
                    b[i] += g[i] * g[i];
                    p[i] -= lr * g[i] / (b[i].sqrt() + 1e-10);
                }
            }
        }
        path.push(p);
    }
    path
}

/// Each racer's default rate (PyTorch's, SGD's from the surface).
fn default_lr(racer: Racer, s: Surface) -> f64 {
    match racer {
        Racer::Sgd | Racer::Momentum | Racer::Nesterov => f64::from(s.sgd_lr()),
        Racer::Adam | Racer::AdamW => 1e-3,
        Racer::Rmsprop | Racer::Adagrad => 1e-2,
    }
}

#[track_caller]
fn assert_path(race: &Race, racer: Racer, expected: &[[f64; 2]], rtol: f64) {
    let got = &race.runner(racer).expect("racer").path;
    assert_eq!(got.len(), expected.len());
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        for i in 0..2 {
            let (g, e) = (f64::from(g[i]), e[i]);
            assert!(
                (g - e).abs() <= rtol * e.abs().max(1.0),
                "{} step {k} coordinate {i}: got {g}, by hand {e}",
                racer.name()
            );
        }
    }
}

#[test]
fn every_trajectory_follows_its_update_rule_on_both_surfaces() {
    for (surface, start, steps) in [
        (Surface::Bowl, [-8.0f32, 2.0], 30),
        (Surface::Rosenbrock, [-1.2, 1.0], 30),
    ] {
        let mut race = Race::new(surface, start, None).expect("race");
        for _ in 0..steps {
            race.step().expect("step");
        }
        let s64 = [f64::from(start[0]), f64::from(start[1])];
        for racer in Racer::ALL {
            let hand = by_hand(racer, surface, s64, default_lr(racer, surface), steps);
            assert_path(&race, racer, &hand, 1e-4);
            // the loss recorded is f at each point
            let r = race.runner(racer).expect("racer");
            for (p, l) in r.path.iter().zip(&r.losses) {
                let f = surface.value(f64::from(p[0]), f64::from(p[1]));
                assert!((f64::from(*l) - f).abs() <= 1e-4 * f.max(1.0), "{l} vs {f}");
            }
        }
    }
}

#[test]
fn lr_sets_every_optimizer_and_steps_by_hand() {
    // bowl from (2, 1) with lr 0.1: g = (0.2, 2)
    // sgd:      (2 − 0.02, 1 − 0.2)  = (1.98, 0.8)
    // adam t=1: m̂ = g, v̂ = g², step = 0.1·g/(|g| + 1e-8) ≈ 0.1 each: (1.9, 0.9)
    // adagrad:  sum = g², step = 0.1·g/|g| = 0.1: (1.9, 0.9)
    let mut race = Race::new(Surface::Bowl, [2.0, 1.0], Some(0.1)).expect("race");
    race.step().expect("step");
    let at = |r: Racer| race.runner(r).expect("racer").path[1];
    let close = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5;
    assert!(close(at(Racer::Sgd), [1.98, 0.8]), "{:?}", at(Racer::Sgd));
    assert!(close(at(Racer::Adam), [1.9, 0.9]), "{:?}", at(Racer::Adam));
    assert!(
        close(at(Racer::Adagrad), [1.9, 0.9]),
        "{:?}",
        at(Racer::Adagrad)
    );
    // AdamW first shrinks θ by 1 − 0.1·0.01 = 0.999: (1.998 − 0.1, 0.999 − 0.1)
    assert!(
        close(at(Racer::AdamW), [1.898, 0.899]),
        "{:?}",
        at(Racer::AdamW)
    );
    // RMSprop: v = 0.01·g², step = 0.1·g/(0.1·|g|) = 1 per coordinate
    assert!(
        close(at(Racer::Rmsprop), [1.0, 0.0]),
        "{:?}",
        at(Racer::Rmsprop)
    );
    for r in &race.runners {
        assert_eq!(r.lr(), 0.1, "{}", r.racer.name());
    }
}

#[test]
fn the_adam_inspector_takes_the_step_apart() {
    let mut race = Race::new(Surface::Bowl, [-8.0, 2.0], None).expect("race");
    assert!(
        race.adam_inspect().is_none(),
        "nothing before the first step"
    );
    race.step().expect("step");
    race.step().expect("step");
    let a = race.adam_inspect().expect("after a step");
    assert_eq!(a.t, 2);
    // m, v by hand for two steps; the gradient at step 2 is at Adam's point after step 1
    let p1 = by_hand(Racer::Adam, Surface::Bowl, [-8.0, 2.0], 1e-3, 1)[1];
    let (g1, g2) = (grad(Surface::Bowl, [-8.0, 2.0]), grad(Surface::Bowl, p1));
    for i in 0..2 {
        let m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
        let v = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
        let (mh, vh) = (m / (1.0 - 0.81), v / (1.0 - 0.999f64.powi(2)));
        let step = 1e-3 * mh / (vh.sqrt() + 1e-8);
        let near =
            |got: f32, want: f64| (f64::from(got) - want).abs() <= 1e-4 * want.abs().max(1e-6);
        assert!(near(a.grad[i], g2[i]), "g {:?} vs {g2:?}", a.grad);
        assert!(near(a.m[i], m) && near(a.v[i], v), "{a:?}");
        assert!(near(a.m_hat[i], mh) && near(a.v_hat[i], vh), "{a:?}");
        assert!(near(a.step[i], step), "{a:?} step {step}");
        // the step taken is the difference of Adam's last two points
        let path = &race.runner(Racer::Adam).expect("adam").path;
        assert!((path[1][i] - path[2][i] - a.step[i]).abs() < 1e-5);
        // plain SGD with the same gradient: lr·g
        assert!(near(a.sgd_step[i], 0.1 * g2[i]), "{a:?}");
    }
}

#[test]
fn divergence_is_numbers_not_a_panic() {
    let mut race = Race::new(Surface::Rosenbrock, [-1.2, 1.0], Some(0.1)).expect("race");
    for _ in 0..20 {
        race.step().expect("no error on overflow");
    }
    let sgd = race.runner(Racer::Sgd).expect("sgd");
    assert!(!sgd.losses.last().expect("loss").is_finite());
}

fn dl_lab(args: &[&str]) -> (String, String, bool) {
    let o = Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .output()
        .expect("run dl-lab");
    (
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
        o.status.success(),
    )
}

#[test]
fn run_json_prints_one_line_per_optimizer_per_step() {
    let (out, err, ok) = dl_lab(&[
        "run",
        "optimizer-race",
        "--surface",
        "rosenbrock",
        "--start",
        "-1.5,2",
        "--steps",
        "4",
        "--json",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 7 * 5);
    let names = [
        "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad",
    ];
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["optimizer"], names[i % 7]);
        assert_eq!(v["step"], (i / 7) as u64);
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 5, "{v}");
    }
    // step 0 is the start, with f(−1.5, 2) = 6.25 + 100·0.0625 = 12.5
    assert_eq!(lines[0]["x"], -1.5);
    assert_eq!(lines[0]["y"], 2.0);
    assert!((lines[0]["loss"].as_f64().expect("number") - 12.5).abs() < 1e-5);
    // and the rest is the engine's race
    let mut race = Race::new(Surface::Rosenbrock, [-1.5, 2.0], None).expect("race");
    for _ in 0..4 {
        race.step().expect("step");
    }
    for (k, r) in [(4, Racer::Nesterov), (3, Racer::Adagrad)] {
        let v = &lines[k * 7 + Racer::ALL.iter().position(|&q| q == r).expect("listed")];
        let p = race.runner(r).expect("racer").path[k];
        assert!(
            (v["x"].as_f64().expect("x") - f64::from(p[0])).abs() < 1e-6,
            "{v}"
        );
        assert!(
            (v["y"].as_f64().expect("y") - f64::from(p[1])).abs() < 1e-6,
            "{v}"
        );
    }
}

#[test]
fn a_diverging_run_prints_null_losses_and_succeeds() {
    let (out, err, ok) = dl_lab(&[
        "run",
        "optimizer-race",
        "--surface",
        "rosenbrock",
        "--lr",
        "0.1",
        "--steps",
        "30",
        "--json",
    ]);
    assert!(ok, "{err}");
    let last_sgd: Value =
        serde_json::from_str(out.lines().rev().nth(6).expect("sgd's last line")).expect("JSON");
    assert_eq!(last_sgd["optimizer"], "sgd");
    assert!(last_sgd["loss"].is_null(), "{last_sgd}");
    // text mode says inf / NaN in its table
    let (text, _, ok) = dl_lab(&[
        "run",
        "optimizer-race",
        "--surface",
        "rosenbrock",
        "--lr",
        "0.1",
        "--steps",
        "30",
    ]);
    assert!(ok);
    assert!(text.contains("NaN") || text.contains("inf"), "{text}");
}

#[test]
fn run_text_is_a_table_and_bad_flags_are_refused() {
    let (out, err, ok) = dl_lab(&["run", "optimizer-race", "--steps", "10"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("surface bowl: f(x, y) = x²/20 + y², start (-8, 2), 10 steps"),
        "{out}"
    );
    assert!(out.contains("sgd 0.1, momentum 0.1, nesterov 0.1, adam 0.001, adamw 0.001, rmsprop 0.01, adagrad 0.01"), "{out}");
    assert!(out.contains(" step  optimizer"), "{out}");
    assert!(out.contains("   10  adagrad"), "{out}");
    for (args, says) in [
        (
            vec!["run", "linear", "--surface", "bowl"],
            "--surface: lesson linear is not the optimizer race",
        ),
        (
            vec!["run", "gd-scalar", "--steps", "3"],
            "--steps: lesson gd-scalar",
        ),
        (
            vec!["run", "optimizer-race", "--start", "1"],
            "--start takes two numbers X,Y",
        ),
        (
            vec!["run", "optimizer-race", "--start", "1,nan"],
            "--start takes two numbers X,Y",
        ),
        (
            vec!["run", "optimizer-race", "--surface", "saddle"],
            "bowl or rosenbrock",
        ),
        (
            vec!["run", "optimizer-race", "--optimizer", "adam"],
            "--optimizer: lesson optimizer-race",
        ),
        (vec!["run", "optimizer-race", "--lr", "-1"], "positive"),
    ] {
        let (_, err, ok) = dl_lab(&args);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn the_race_is_listed_last_in_the_course() {
    let all = lessons::all();
    assert_eq!(all.last().map(|l| l.name), Some("optimizer-race"));
    let (out, _, ok) = dl_lab(&["lessons"]);
    assert!(
        ok && out
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("optimizer-race")),
        "{out}"
    );
}

/// The case: rosenbrock at lr 1 overflows the SGD family within two
/// steps. Every JSON line still parses (null where a number is not finite)
/// and the text table ends by naming who diverged at which step.
#[test]
fn lr_1_on_rosenbrock_is_valid_json_and_the_text_names_who_diverged() {
    let args = [
        "run",
        "optimizer-race",
        "--surface",
        "rosenbrock",
        "--lr",
        "1",
        "--steps",
        "100",
    ];
    let (out, err, ok) = dl_lab(&[&args[..], &["--json"]].concat());
    assert!(ok, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 7 * 101);
    // sgd's first step that is not a finite number: its x, y or loss is null
    let first_null = lines
        .iter()
        .filter(|v| v["optimizer"] == "sgd")
        .find(|v| v["x"].is_null() || v["y"].is_null() || v["loss"].is_null())
        .expect("sgd diverges");
    let k = first_null["step"].as_u64().expect("step");
    // the same race by the engine: the first step where sgd is not finite
    let mut race = Race::new(Surface::Rosenbrock, [-1.2, 1.0], Some(1.0)).expect("race");
    let mut engine_k = None;
    for step in 1..=100 {
        race.step().expect("step");
        let ([x, y], loss) = race.runner(Racer::Sgd).expect("sgd").now();
        if engine_k.is_none() && !(x.is_finite() && y.is_finite() && loss.is_finite()) {
            engine_k = Some(step as u64);
        }
    }
    assert_eq!(Some(k), engine_k);
    let (text, err, ok) = dl_lab(&args);
    assert!(ok, "{err}");
    assert!(
        text.contains(&format!(
            "sgd diverged at step {k}: x, y or the loss is no longer a finite number"
        )),
        "{text}"
    );
    // adam stays finite here, so it is not named
    assert!(!text.contains("adam diverged"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(" diverged at step "))
            .count(),
        lines
            .iter()
            .filter(|v| v["step"] == 100 && v["loss"].is_null())
            .count(),
        "{text}"
    );
}
