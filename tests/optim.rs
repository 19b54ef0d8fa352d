//! Hand-computed steps for `dl_lab::optim`, checked against the update rules on
//! PyTorch's `torch.optim` pages (each test writes its arithmetic out), plus a
//! smoke test: every optimizer walks (x − 3)² down from x = 5 to x ≈ 3.
//!
//! Gradients are set through the engine: loss = Σ p·c has d(loss)/dp = c exactly.

use dl_lab::optim::{
    build_optimizer, check_lr, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, Optimizer,
    OptimizerConfig, OptimizerKind, Rmsprop, RmspropConfig, Sgd, SgdConfig,
};
use dl_lab::{Error, Tensor};

const TOL: f32 = 1e-6;

fn param(values: &[f32]) -> Tensor {
    let t = Tensor::from_vec(&[values.len()], values.to_vec()).expect("shape fits");
    t.requires_grad_()
}

/// Make `p.grad()` exactly `c`: forget the old gradient, backward through Σ p·c.
fn set_grad(p: &Tensor, c: &[f32]) {
    p.zero_grad();
    let c = Tensor::from_vec(&[c.len()], c.to_vec()).expect("shape fits");
    let loss = p.mul(&c).expect("same shape").sum();
    loss.backward().expect("scalar loss");
}

/// Set the gradient to `c`, take one step, return the new value.
fn step_with(opt: &mut dyn Optimizer, p: &Tensor, c: &[f32]) -> Vec<f32> {
    set_grad(p, c);
    opt.step().expect("step");
    p.to_vec()
}

#[track_caller]
fn assert_close(actual: &[f32], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (f64::from(*a) - e).abs() < f64::from(TOL),
            "got {actual:?}, expected {expected:?}"
        );
    }
}

fn config_error<T>(r: dl_lab::Result<T>) -> String {
    match r {
        Err(Error::Config(msg)) => msg,
        Err(other) => panic!("expected a Config error, got {other:?}"),
        Ok(_) => panic!("expected a Config error, got Ok"),
    }
}

fn sgd(p: &Tensor, config: SgdConfig) -> Sgd {
    Sgd::new(vec![p.clone()], config).expect("valid config")
}

// ---- SGD ----

#[test]
fn sgd_plain_steps() {
    // θ ← θ − γ·g with γ = 0.1, g = (0.5, −1):
    // (1, −2) → (0.95, −1.9) → (0.9, −1.8)
    let p = param(&[1.0, -2.0]);
    let mut opt = sgd(
        &p,
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    assert_close(&step_with(&mut opt, &p, &[0.5, -1.0]), &[0.95, -1.9]);
    assert_close(&step_with(&mut opt, &p, &[0.5, -1.0]), &[0.9, -1.8]);
}

#[test]
fn sgd_on_a_square_uses_the_engine_gradient() {
    // loss = x², g = 2x, γ = 0.1: x ← x − 0.2x = 0.8x. 3 → 2.4 → 1.92
    let x = param(&[3.0]);
    let mut opt = sgd(
        &x,
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    for expected in [2.4, 1.92] {
        opt.zero_grad();
        x.pow(2.0).sum().backward().expect("scalar loss");
        opt.step().expect("step");
        assert_close(&x.to_vec(), &[expected]);
    }
}

#[test]
fn sgd_momentum_steps() {
    // μ = 0.9, γ = 0.1, g = 1 every step, θ0 = 1
    // b1 = g = 1              θ1 = 1 − 0.1 = 0.9
    // b2 = 0.9·1 + 1 = 1.9    θ2 = 0.9 − 0.19 = 0.71
    // b3 = 0.9·1.9 + 1 = 2.71 θ3 = 0.71 − 0.271 = 0.439
    let p = param(&[1.0]);
    let mut opt = sgd(
        &p,
        SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            ..Default::default()
        },
    );
    for expected in [0.9, 0.71, 0.439] {
        assert_close(&step_with(&mut opt, &p, &[1.0]), &[expected]);
    }
}

#[test]
fn sgd_dampening_is_skipped_at_the_first_step() {
    // μ = 0.9, τ = 0.5, γ = 0.1, g = 1, θ0 = 1
    // b1 = g = 1 (no dampening yet)    θ1 = 0.9
    // b2 = 0.9·1 + 0.5·1 = 1.4         θ2 = 0.9 − 0.14 = 0.76
    // b3 = 0.9·1.4 + 0.5 = 1.76        θ3 = 0.76 − 0.176 = 0.584
    let p = param(&[1.0]);
    let config = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.5,
        ..Default::default()
    };
    let mut opt = sgd(&p, config);
    for expected in [0.9, 0.76, 0.584] {
        assert_close(&step_with(&mut opt, &p, &[1.0]), &[expected]);
    }
}

#[test]
fn sgd_nesterov_steps() {
    // μ = 0.9, γ = 0.1, g = 1, θ0 = 1; the step uses g + μ·b
    // b1 = 1,   g' = 1 + 0.9·1 = 1.9    θ1 = 1 − 0.19 = 0.81
    // b2 = 1.9, g' = 1 + 0.9·1.9 = 2.71 θ2 = 0.81 − 0.271 = 0.539
    let p = param(&[1.0]);
    let config = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        ..Default::default()
    };
    let mut opt = sgd(&p, config);
    for expected in [0.81, 0.539] {
        assert_close(&step_with(&mut opt, &p, &[1.0]), &[expected]);
    }
}

#[test]
fn sgd_weight_decay_adds_to_the_gradient() {
    // λ = 0.1, γ = 0.1, loss gradient 1, θ0 = 2
    // g = 1 + 0.1·2 = 1.2       θ1 = 2 − 0.12 = 1.88
    // g = 1 + 0.1·1.88 = 1.188  θ2 = 1.88 − 0.1188 = 1.7612
    let p = param(&[2.0]);
    let mut opt = sgd(
        &p,
        SgdConfig {
            lr: 0.1,
            weight_decay: 0.1,
            ..Default::default()
        },
    );
    assert_close(&step_with(&mut opt, &p, &[1.0]), &[1.88]);
    assert_close(&step_with(&mut opt, &p, &[1.0]), &[1.7612]);
}

#[test]
fn sgd_nesterov_needs_momentum_and_no_dampening() {
    let p = param(&[1.0]);
    let no_momentum = SgdConfig {
        nesterov: true,
        ..Default::default()
    };
    let msg = config_error(Sgd::new(vec![p.clone()], no_momentum));
    assert!(msg.contains("Nesterov"), "{msg}");
    let damped = SgdConfig {
        nesterov: true,
        momentum: 0.9,
        dampening: 0.1,
        ..Default::default()
    };
    assert!(config_error(Sgd::new(vec![p], damped)).contains("dampening"));
}

// ---- Adam / AdamW ----

#[test]
fn adam_first_step_moves_by_lr_times_sign() {
    // t = 1: m̂ = g, v̂ = g², so Δθ = γ·g/(|g| + ε) ≈ γ·sign(g), whatever |g|.
    let p = param(&[1.0, -1.0, 0.5]);
    let mut opt = Adam::new(
        vec![p.clone()],
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .expect("valid");
    assert_close(
        &step_with(&mut opt, &p, &[0.3, -20.0, 1e-3]),
        &[0.9, -0.9, 0.4],
    );
}

#[test]
fn adam_two_steps_with_bias_correction() {
    // β = (0.9, 0.999), γ = 0.1, θ0 = 1; g = 2 then g = −1
    // t=1: m = 0.2, v = 0.004, m̂ = 0.2/0.1 = 2, v̂ = 0.004/0.001 = 4
    //      θ1 = 1 − 0.1·2/√4 = 0.9
    // t=2: m = 0.9·0.2 − 0.1 = 0.08, v = 0.999·0.004 + 0.001·1 = 0.004996
    //      m̂ = 0.08/(1 − 0.81) = 0.4210526, v̂ = 0.004996/(1 − 0.998001) = 2.4992496
    //      θ2 = 0.9 − 0.1·0.4210526/1.5809015 = 0.8733663
    let p = param(&[1.0]);
    let mut opt = Adam::new(
        vec![p.clone()],
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .expect("valid");
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.9]);
    assert_close(&step_with(&mut opt, &p, &[-1.0]), &[0.8733663]);
}

#[test]
fn adamw_decay_is_decoupled_from_adam_l2() {
    // γ = 0.1, λ = 0.1, θ0 = 1, loss gradient 1 each step
    // AdamW: θ ← θ(1 − 0.01), then the Adam step on g = 1 (m̂ = 1, v̂ = 1 with a constant g)
    //   θ1 = 0.99 − 0.1 = 0.89,  θ2 = 0.89·0.99 − 0.1 = 0.7811
    // Adam + L2: g = 1 + 0.1·θ goes through m and v
    //   t=1: g = 1.1, Δ = γ·sign = 0.1 → θ1 = 0.9
    //   t=2: g = 1.09, m = 0.9·0.11 + 0.109 = 0.208, m̂ = 1.0947368,
    //        v = 0.999·0.00121 + 0.001·1.1881 = 0.00239689, v̂ = 1.1990445
    //        θ2 = 0.9 − 0.1·1.0947368/1.0950089 = 0.8000248
    let config = AdamConfig {
        lr: 0.1,
        weight_decay: 0.1,
        ..Default::default()
    };
    let (a, b) = (param(&[1.0]), param(&[1.0]));
    let mut adamw = AdamW::new(vec![a.clone()], config).expect("valid");
    let mut adam = Adam::new(vec![b.clone()], config).expect("valid");
    assert_close(&step_with(&mut adamw, &a, &[1.0]), &[0.89]);
    assert_close(&step_with(&mut adam, &b, &[1.0]), &[0.9]);
    assert_close(&step_with(&mut adamw, &a, &[1.0]), &[0.7811]);
    assert_close(&step_with(&mut adam, &b, &[1.0]), &[0.8000248]);
}

#[test]
fn adamw_with_zero_gradient_only_shrinks() {
    // g = 0: AdamW gives θ(1 − γλ) = 2·(1 − 0.01) = 1.98 and m = 0 adds nothing;
    // Adam + L2 sees g = λθ = 0.2 and moves a full γ: 2 − 0.1 = 1.9.
    let config = AdamConfig {
        lr: 0.1,
        weight_decay: 0.1,
        ..Default::default()
    };
    let (a, b) = (param(&[2.0]), param(&[2.0]));
    let mut adamw = AdamW::new(vec![a.clone()], config).expect("valid");
    let mut adam = Adam::new(vec![b.clone()], config).expect("valid");
    assert_close(&step_with(&mut adamw, &a, &[0.0]), &[1.98]);
    assert_close(&step_with(&mut adam, &b, &[0.0]), &[1.9]);
}

#[test]
fn adamw_defaults_are_pytorchs() {
    assert_eq!(AdamConfig::adamw().weight_decay, 0.01);
    assert_eq!(AdamConfig::default().weight_decay, 0.0);
    assert_eq!(AdamConfig::default().betas, (0.9, 0.999));
}

#[test]
fn adam_counts_steps_per_parameter() {
    // `b` gets its first gradient at the optimizer's second step: its own t is 1,
    // so it moves by γ·sign(g) (a shared t = 2 would give 0.1·0.1/(0.19·…) instead).
    let (a, b) = (param(&[1.0]), param(&[1.0]));
    let mut opt = Adam::new(
        vec![a.clone(), b.clone()],
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .expect("valid");
    step_with(&mut opt, &a, &[1.0]);
    assert_close(&b.to_vec(), &[1.0]);
    set_grad(&b, &[-3.0]);
    opt.step().expect("step");
    assert_close(&b.to_vec(), &[1.1]);
}

// ---- RMSprop ----

#[test]
fn rmsprop_plain_steps() {
    // α = 0.99, γ = 0.01, g = 2, θ0 = 1
    // v1 = 0.01·4 = 0.04, √v1 = 0.2               θ1 = 1 − 0.01·2/0.2 = 0.9
    // v2 = 0.99·0.04 + 0.04 = 0.0796, √ = 0.2821347 θ2 = 0.9 − 0.02/0.2821347 = 0.8291119
    let p = param(&[1.0]);
    let mut opt = Rmsprop::new(vec![p.clone()], RmspropConfig::default()).expect("valid");
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.9]);
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.8291119]);
}

#[test]
fn rmsprop_momentum_steps() {
    // as above, with μ = 0.9: b ← μb + g/√v, θ ← θ − γb
    // b1 = 2/0.2 = 10                        θ1 = 1 − 0.1 = 0.9
    // b2 = 9 + 2/0.2821347 = 16.0888113      θ2 = 0.9 − 0.1608881 = 0.7391119
    let p = param(&[1.0]);
    let config = RmspropConfig {
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = Rmsprop::new(vec![p.clone()], config).expect("valid");
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.9]);
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.7391119]);
}

#[test]
fn rmsprop_centered_step() {
    // centered: ḡ1 = 0.01·2 = 0.02, ṽ = 0.04 − 0.0004 = 0.0396, √ = 0.1989975
    // θ1 = 1 − 0.01·2/0.1989975 = 0.8994962
    let p = param(&[1.0]);
    let config = RmspropConfig {
        centered: true,
        ..Default::default()
    };
    let mut opt = Rmsprop::new(vec![p.clone()], config).expect("valid");
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.8994962]);
}

// ---- Adagrad ----

#[test]
fn adagrad_with_lr_decay() {
    // γ = 0.1, η = 0.5, g = 2, θ0 = 1; γ̃ = γ/(1 + (t−1)η)
    // t=1: γ̃ = 0.1,        sum = 4,  θ1 = 1 − 0.1·2/2 = 0.9
    // t=2: γ̃ = 0.1/1.5,    sum = 8,  θ2 = 0.9 − 0.0666667·2/2.8284271 = 0.8528595
    // t=3: γ̃ = 0.1/2,      sum = 12, θ3 = 0.8528595 − 0.05·2/3.4641016 = 0.8239920
    let p = param(&[1.0]);
    let config = AdagradConfig {
        lr: 0.1,
        lr_decay: 0.5,
        ..Default::default()
    };
    let mut opt = Adagrad::new(vec![p.clone()], config).expect("valid");
    for expected in [0.9, 0.8528595, 0.823992] {
        assert_close(&step_with(&mut opt, &p, &[2.0]), &[expected]);
    }
}

#[test]
fn adagrad_initial_accumulator() {
    // sum starts at 5: sum = 5 + 4 = 9, θ1 = 1 − 0.1·2/3 = 0.9333333
    let p = param(&[1.0]);
    let config = AdagradConfig {
        lr: 0.1,
        initial_accumulator_value: 5.0,
        ..Default::default()
    };
    let mut opt = Adagrad::new(vec![p.clone()], config).expect("valid");
    assert_close(&step_with(&mut opt, &p, &[2.0]), &[0.9333333]);
}

// ---- every optimizer ----

/// Each kind with PyTorch's defaults, weight decay (and momentum where offered) switched on.
fn all_configs() -> Vec<OptimizerConfig> {
    OptimizerKind::ALL
        .into_iter()
        .map(|kind| match kind.default_config() {
            OptimizerConfig::Sgd(c) => OptimizerConfig::Sgd(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 0.1,
                ..c
            }),
            OptimizerConfig::Adam(c) => OptimizerConfig::Adam(AdamConfig {
                weight_decay: 0.1,
                ..c
            }),
            OptimizerConfig::AdamW(c) => OptimizerConfig::AdamW(c),
            OptimizerConfig::Rmsprop(c) => OptimizerConfig::Rmsprop(RmspropConfig {
                momentum: 0.9,
                weight_decay: 0.1,
                centered: true,
                ..c
            }),
            OptimizerConfig::Adagrad(c) => OptimizerConfig::Adagrad(AdagradConfig {
                weight_decay: 0.1,
                ..c
            }),
        })
        .collect()
}

#[test]
fn params_without_grad_are_untouched() {
    for config in all_configs() {
        let (used, unused) = (param(&[1.0, 2.0]), param(&[3.0, -4.0]));
        let mut opt = config
            .build(vec![used.clone(), unused.clone()])
            .expect("valid");
        for _ in 0..3 {
            step_with(opt.as_mut(), &used, &[1.0, -1.0]);
        }
        assert_eq!(unused.to_vec(), vec![3.0, -4.0], "{}", opt.name());
        assert!(unused.grad().is_none());
        assert_ne!(used.to_vec(), vec![1.0, 2.0], "{}", opt.name());
    }
}

#[test]
fn zero_grad_clears_every_param() {
    for config in all_configs() {
        let (a, b) = (param(&[1.0]), param(&[2.0]));
        let mut opt = config.build(vec![a.clone(), b.clone()]).expect("valid");
        a.mul(&b)
            .expect("same shape")
            .sum()
            .backward()
            .expect("scalar");
        assert!(a.grad().is_some() && b.grad().is_some());
        opt.zero_grad();
        assert!(a.grad().is_none() && b.grad().is_none(), "{}", opt.name());
        assert_eq!(opt.params().len(), 2);
    }
}

#[test]
fn bad_lr_is_rejected() {
    for lr in [-1.0, 0.0, f32::NAN, f32::INFINITY] {
        for name in ["sgd", "adam", "adamw", "rmsprop", "adagrad"] {
            let msg = config_error(build_optimizer(name, vec![param(&[1.0])], lr, 0.0, 0.0));
            assert!(
                msg.contains("--lr") && msg.contains(&lr.to_string()),
                "{name}: {msg}"
            );
        }
    }
    assert_eq!(
        config_error(check_lr(-1.0)),
        "learning rate (--lr) must be a positive number, got -1"
    );
}

#[test]
fn out_of_range_settings_are_rejected() {
    let p = || vec![param(&[1.0])];
    assert!(config_error(Sgd::new(
        p(),
        SgdConfig {
            momentum: 1.5,
            ..Default::default()
        }
    ))
    .contains("momentum"));
    assert!(config_error(Sgd::new(
        p(),
        SgdConfig {
            weight_decay: -0.1,
            ..Default::default()
        }
    ))
    .contains("weight decay"));
    assert!(config_error(Adam::new(
        p(),
        AdamConfig {
            betas: (0.9, 1.0),
            ..Default::default()
        }
    ))
    .contains("beta2"));
    assert!(config_error(Adam::new(
        p(),
        AdamConfig {
            betas: (-0.1, 0.999),
            ..Default::default()
        }
    ))
    .contains("beta1"));
    assert!(config_error(Rmsprop::new(
        p(),
        RmspropConfig {
            alpha: 1.2,
            ..Default::default()
        }
    ))
    .contains("alpha"));
    assert!(config_error(Adagrad::new(
        p(),
        AdagradConfig {
            lr_decay: -1.0,
            ..Default::default()
        }
    ))
    .contains("lr_decay"));
    let twice = param(&[1.0]);
    assert!(
        config_error(Sgd::new(vec![twice.clone(), twice], SgdConfig::default())).contains("twice")
    );
}

#[test]
fn build_optimizer_by_name() {
    for kind in OptimizerKind::ALL {
        let opt = build_optimizer(kind.name(), vec![param(&[1.0])], 0.05, 0.0, 0.0).expect("valid");
        assert_eq!(opt.name(), kind.name());
        assert_eq!(opt.lr(), 0.05);
    }
    let mut opt =
        build_optimizer("SGD", vec![param(&[1.0])], 0.1, 0.9, 1e-4).expect("case-insensitive");
    opt.set_lr(0.01);
    assert_eq!(opt.lr(), 0.01);
    let msg = config_error(build_optimizer("lbfgs", vec![], 0.1, 0.0, 0.0));
    assert!(
        msg.contains("lbfgs") && msg.contains("sgd|adam|adamw|rmsprop|adagrad"),
        "{msg}"
    );
    let msg = config_error(build_optimizer("adam", vec![], 0.1, 0.9, 0.0));
    assert!(msg.contains("momentum"), "{msg}");
}

#[test]
fn every_optimizer_minimises_a_parabola() {
    // loss = (x − 3)², from x = 5
    let cases: [(&str, f32, f32); 6] = [
        ("sgd", 0.1, 0.0),
        ("sgd", 0.05, 0.9),
        ("adam", 0.1, 0.0),
        ("adamw", 0.1, 0.0),
        ("rmsprop", 0.01, 0.0),
        ("adagrad", 0.5, 0.0),
    ];
    for (name, lr, momentum) in cases {
        let x = param(&[5.0]);
        let mut opt = build_optimizer(name, vec![x.clone()], lr, momentum, 0.0).expect("valid");
        for _ in 0..500 {
            opt.zero_grad();
            x.add_scalar(-3.0)
                .pow(2.0)
                .sum()
                .backward()
                .expect("scalar loss");
            opt.step().expect("step");
        }
        let end = x.to_vec()[0];
        assert!(
            (end - 3.0).abs() < 0.02,
            "{name} (lr {lr}, momentum {momentum}) ended at {end}"
        );
    }
}
