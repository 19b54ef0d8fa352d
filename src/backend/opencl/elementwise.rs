//! Element-wise operations of [`ClStorage`]: unary maps and their
//! derivatives, broadcasting binary maps (one kernel per function and
//! pattern: equal shapes, a scalar, the bias pattern; a general strided
//! kernel otherwise), and gradient accumulation. Kernels: cl/elementwise.cl.

use super::storage::{broadcast_strides, numel, simplify, strides_of, too_many_dims, u32_of, v8};
use super::{Arg, ClStorage, Kernel};
use crate::backend::{BinaryOp, UnaryOp};
use crate::Result;

pub(super) fn unary(this: &ClStorage, op: UnaryOp) -> Result<ClStorage> {
    let out = this.uninit(&this.shape)?;
    let (code, p0, p1) = unary_code(op);
    let n = this.numel();
    this.dev().launch1(
        Kernel::Unary(code),
        &[
            Arg::Mem(&this.buf),
            Arg::Mem(&out.buf),
            Arg::U(u32_of(n)?),
            Arg::F(p0),
            Arg::F(p1),
        ],
        n,
    )?;
    Ok(out)
}

pub(super) fn unary_backward(this: &ClStorage, g: ClStorage, op: UnaryOp) -> Result<ClStorage> {
    // in place in g's buffer
    let (code, p0, p1) = unary_code(op);
    let n = g.numel();
    this.dev().launch1(
        Kernel::UnaryBackward(code),
        &[
            Arg::Mem(&this.buf),
            Arg::Mem(&g.buf),
            Arg::U(u32_of(n)?),
            Arg::F(p0),
            Arg::F(p1),
        ],
        n,
    )?;
    Ok(g)
}

pub(super) fn binary(
    this: &ClStorage,
    rhs: &ClStorage,
    op: BinaryOp,
    shape: &[usize],
) -> Result<ClStorage> {
    let dev = this.dev();
    let out = this.uninit(shape)?;
    let n = numel(shape);
    let nu = u32_of(n)?;
    let code = binary_code(op);
    let sa = broadcast_strides(shape, &this.shape);
    let sb = broadcast_strides(shape, &rhs.shape);
    let (dims, [sa, sb]) = simplify(shape, [sa, sb]);
    let (a, b, o) = (&this.buf, &rhs.buf, &out.buf);
    let contiguous = |s: &[usize]| s == strides_of(&dims).as_slice();
    let same = |k: u8| {
        dev.launch1(
            Kernel::BinarySame(k),
            &[Arg::Mem(a), Arg::Mem(b), Arg::Mem(o), Arg::U(nu)],
            n,
        )
    };
    let kcode = code as u8;
    match dims.len() {
        // a single element, or equal shapes
        0 => same(kcode)?,
        1 if sa[0] == sb[0] => same(kcode)?,
        // one operand is a single element
        1 => {
            let (full, scalar, scalar_is_lhs) = if sb[0] == 0 { (a, b, 0) } else { (b, a, 1) };
            dev.launch1(
                Kernel::BinaryScalar(kcode),
                &[
                    Arg::Mem(full),
                    Arg::Mem(scalar),
                    Arg::Mem(o),
                    Arg::U(nu),
                    Arg::I(scalar_is_lhs),
                ],
                n,
            )?
        }
        _ => {
            // the bias pattern: one operand full, the other indexed by one
            // dimension only, (outer, mid, inner) with strides (0, 1, 0)
            let mid_of = |s: &[usize]| -> Option<(usize, usize)> {
                let nz: Vec<usize> = (0..dims.len()).filter(|&d| s[d] != 0).collect();
                match nz.as_slice() {
                    [d] if s[*d] == 1 => Some((dims[*d], numel(&dims[d + 1..]))),
                    _ => None,
                }
            };
            let mid = if contiguous(&sa) {
                mid_of(&sb).map(|m| (a, b, 0, m))
            } else if contiguous(&sb) {
                mid_of(&sa).map(|m| (b, a, 1, m))
            } else {
                None
            };
            if let Some((full, part, part_is_lhs, (mid, inner))) = mid {
                let outer = n / (mid * inner);
                dev.launch_planes(
                    Kernel::BinaryMid(kcode),
                    &[
                        Arg::Mem(full),
                        Arg::Mem(part),
                        Arg::Mem(o),
                        Arg::U(u32_of(mid)?),
                        Arg::U(u32_of(inner)?),
                        Arg::I(part_is_lhs),
                    ],
                    outer,
                    mid,
                    inner,
                )?
            } else {
                if dims.len() > 8 {
                    return Err(too_many_dims("element-wise op", dims.len()));
                }
                dev.launch1(
                    Kernel::BinaryBcast,
                    &[
                        Arg::Mem(a),
                        Arg::Mem(b),
                        Arg::Mem(o),
                        Arg::U(nu),
                        Arg::I(code),
                        Arg::U(dims.len() as u32),
                        Arg::V8(v8(&dims, 1)?),
                        Arg::V8(v8(&sa, 0)?),
                        Arg::V8(v8(&sb, 0)?),
                    ],
                    n,
                )?
            }
        }
    }
    Ok(out)
}

pub(super) fn add_assign(this: &mut ClStorage, rhs: &ClStorage) -> Result<()> {
    let n = this.numel();
    this.dev().launch1(
        Kernel::AddAssign,
        &[Arg::Mem(&this.buf), Arg::Mem(&rhs.buf), Arg::U(u32_of(n)?)],
        n,
    )
}

/// The index into `kernels::UNARY_NAMES` and the two parameters.
fn unary_code(op: UnaryOp) -> (u8, f32, f32) {
    match op {
        UnaryOp::Neg => (0, 0.0, 0.0),
        UnaryOp::Exp => (1, 0.0, 0.0),
        UnaryOp::Log => (2, 0.0, 0.0),
        UnaryOp::Relu => (3, 0.0, 0.0),
        UnaryOp::Sigmoid => (4, 0.0, 0.0),
        UnaryOp::Tanh => (5, 0.0, 0.0),
        UnaryOp::Pow(p) => (6, p, 0.0),
        UnaryOp::Clamp(lo, hi) => (7, lo, hi),
    }
}

fn binary_code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Eq => 4,
        BinaryOp::BceLoss => 5,
        BinaryOp::BceGrad => 6,
    }
}
