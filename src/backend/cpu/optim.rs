//! The optimizers' updates on the CPU, one parameter at a time, as the
//! `torch.optim` pages write them (the formulas are in `optim/*.rs`).

use ndarray::Zip;

use crate::backend::UpdateRule;
use crate::engine::Array;

/// g + λ·θ: L2 weight decay folded into the gradient (SGD, Adam, RMSprop, Adagrad).
fn decayed(grad: &Array, theta: &Array, weight_decay: f32) -> Array {
    let mut g = grad.clone();
    if weight_decay != 0.0 {
        g.zip_mut_with(theta, |g, &t| *g += weight_decay * t);
    }
    g
}

pub(crate) fn update(theta: &mut Array, grad: &Array, state: &mut [Array], rule: &UpdateRule) {
    match *rule {
        // plain SGD (the small lessons' default): θ ← θ - lr·g, no copy of g
        UpdateRule::Sgd {
            lr,
            momentum,
            weight_decay,
            ..
        } if momentum == 0.0 && weight_decay == 0.0 => {
            Zip::from(theta).and(grad).for_each(|t, &g| *t -= lr * g)
        }
        UpdateRule::Sgd {
            lr,
            momentum: mu,
            dampening,
            weight_decay,
            nesterov,
            first,
        } => {
            let mut g = decayed(grad, theta, weight_decay);
            if mu != 0.0 {
                let b = &mut state[0];
                if first {
                    b.assign(&g);
                } else {
                    b.zip_mut_with(&g, |b, &g| *b = mu * *b + (1.0 - dampening) * g);
                }
                if nesterov {
                    g.zip_mut_with(b, |g, &b| *g += mu * b);
                } else {
                    g.assign(b);
                }
            }
            Zip::from(theta).and(&g).for_each(|t, &g| *t -= lr * g);
        }
        UpdateRule::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            step_size,
            bias_correction2_sqrt,
        } => {
            let g = if decoupled {
                if weight_decay != 0.0 {
                    theta.mapv_inplace(|t| t * (1.0 - lr * weight_decay));
                }
                grad.clone()
            } else {
                decayed(grad, theta, weight_decay)
            };
            let (m, v) = state.split_at_mut(1);
            let (m, v) = (&mut m[0], &mut v[0]);
            Zip::from(&mut *m)
                .and(&mut *v)
                .and(&g)
                .for_each(|m, v, &g| {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                });
            Zip::from(theta).and(&*m).and(&*v).for_each(|t, &m, &v| {
                *t -= step_size * m / (v.sqrt() / bias_correction2_sqrt + eps);
            });
        }
        UpdateRule::Rmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum: mu,
            centered,
        } => {
            let g = decayed(grad, theta, weight_decay);
            let [square_avg, grad_avg, buf] = state else {
                panic!("RMSprop keeps three state buffers");
            };
            square_avg.zip_mut_with(&g, |v, &g| *v = alpha * *v + (1.0 - alpha) * g * g);
            // denom = √ṽ + ε
            let mut denom = square_avg.clone();
            if centered {
                grad_avg.zip_mut_with(&g, |a, &g| *a = alpha * *a + (1.0 - alpha) * g);
                denom.zip_mut_with(grad_avg, |v, &a| *v -= a * a);
            }
            denom.mapv_inplace(|v| v.max(0.0).sqrt() + eps);
            if mu > 0.0 {
                Zip::from(&mut *buf)
                    .and(&g)
                    .and(&denom)
                    .for_each(|b, &g, &d| *b = mu * *b + g / d);
                Zip::from(theta).and(&*buf).for_each(|t, &b| *t -= lr * b);
            } else {
                Zip::from(theta)
                    .and(&g)
                    .and(&denom)
                    .for_each(|t, &g, &d| *t -= lr * g / d);
            }
        }
        UpdateRule::Adagrad {
            clr,
            eps,
            weight_decay,
        } => {
            let g = decayed(grad, theta, weight_decay);
            let sum = &mut state[0];
            sum.zip_mut_with(&g, |s, &g| *s += g * g);
            Zip::from(theta)
                .and(&g)
                .and(&*sum)
                .for_each(|t, &g, &s| *t -= clr * g / (s.sqrt() + eps));
        }
    }
}
