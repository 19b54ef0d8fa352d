//! The optimizers' fused parameter updates on [`ClStorage`], one kernel per
//! [`UpdateRule`]. Kernels: cl/optim.cl.

use super::storage::u32_of;
use super::{Arg, ClStorage, Kernel};
use crate::backend::UpdateRule;
use crate::{Error, Result};

pub(super) fn update(
    this: &mut ClStorage,
    grad: &ClStorage,
    state: &mut [ClStorage],
    rule: &UpdateRule,
) -> Result<()> {
    let n = this.numel();
    let nu = u32_of(n)?;
    let bad_state = |want: &str| Error::BadArgument {
        op: "optimizer step",
        why: format!("expected state {want}, got {} buffers", state.len()),
    };
    let (p, g) = (&this.buf, &grad.buf);
    let dev = &this.device;
    match *rule {
        UpdateRule::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            first,
        } => {
            let b = match (momentum != 0.0, &*state) {
                (false, _) => None,
                (true, [b, ..]) => Some(&b.buf),
                (true, []) => return Err(bad_state("[momentum_buffer]")),
            };
            dev.launch1(
                Kernel::Sgd,
                &[
                    Arg::Mem(p),
                    Arg::Mem(g),
                    Arg::Mem(b.unwrap_or(g)),
                    Arg::U(nu),
                    Arg::F(lr),
                    Arg::F(momentum),
                    Arg::F(dampening),
                    Arg::F(weight_decay),
                    Arg::I(nesterov as i32),
                    Arg::I(first as i32),
                    Arg::I(b.is_some() as i32),
                ],
                n,
            )
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
            let [m, v, ..] = &*state else {
                return Err(bad_state("[exp_avg, exp_avg_sq]"));
            };
            dev.launch1(
                Kernel::Adam,
                &[
                    Arg::Mem(p),
                    Arg::Mem(g),
                    Arg::Mem(&m.buf),
                    Arg::Mem(&v.buf),
                    Arg::U(nu),
                    Arg::F(lr),
                    Arg::F(beta1),
                    Arg::F(beta2),
                    Arg::F(eps),
                    Arg::F(weight_decay),
                    Arg::I(decoupled as i32),
                    Arg::F(step_size),
                    Arg::F(bias_correction2_sqrt),
                ],
                n,
            )
        }
        UpdateRule::Rmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
        } => {
            let [sq, ga, b, ..] = &*state else {
                return Err(bad_state("[square_avg, grad_avg, momentum_buffer]"));
            };
            dev.launch1(
                Kernel::Rmsprop,
                &[
                    Arg::Mem(p),
                    Arg::Mem(g),
                    Arg::Mem(&sq.buf),
                    Arg::Mem(&ga.buf),
                    Arg::Mem(&b.buf),
                    Arg::U(nu),
                    Arg::F(lr),
                    Arg::F(alpha),
                    Arg::F(eps),
                    Arg::F(weight_decay),
                    Arg::F(momentum),
                    Arg::I(centered as i32),
                ],
                n,
            )
        }
        UpdateRule::Adagrad {
            clr,
            eps,
            weight_decay,
        } => {
            let [sum, ..] = &*state else {
                return Err(bad_state("[state_sum]"));
            };
            dev.launch1(
                Kernel::Adagrad,
                &[
                    Arg::Mem(p),
                    Arg::Mem(g),
                    Arg::Mem(&sum.buf),
                    Arg::U(nu),
                    Arg::F(clr),
                    Arg::F(eps),
                    Arg::F(weight_decay),
                ],
                n,
            )
        }
    }
}
