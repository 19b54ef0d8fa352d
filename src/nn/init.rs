//! PyTorch's default initialisation for Linear and Conv2d:
//! `kaiming_uniform_(a=√5)` for the weight, which works out to
//! U(-1/√fan_in, 1/√fan_in), and the same bound for the bias.

use ndarray::IxDyn;
use ndarray_rand::rand_distr::Uniform;
use ndarray_rand::RandomExt;
use rand::Rng;

use crate::engine::Array;

/// U(-1/√fan_in, 1/√fan_in) of the given shape.
pub fn uniform_fan_in(shape: &[usize], fan_in: usize, rng: &mut impl Rng) -> Array {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    let dist = Uniform::new(-bound, bound).expect("bound is positive and finite");
    Array::random_using(IxDyn(shape), dist, rng)
}
