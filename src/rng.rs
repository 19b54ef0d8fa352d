//! A small, portable random generator: SplitMix64 (Steele, Lea & Flood,
//! "Fast splittable pseudorandom number generators", 2014; Vigna's
//! reference C in `splitmix64.c`). The MNIST lessons draw their initial
//! weights and each epoch's shuffle order from it, so the PyTorch script
//! `dl-lab code` writes can repeat both bit for bit with [`PYTHON`], the same
//! generator in a dozen lines of Python.
//!
//! - a draw: state += 0x9E3779B97F4A7C15, then [`mix`] the state (64-bit
//!   wrapping arithmetic);
//! - a float in [0, 1): the draw's top 24 bits / 2²⁴ (exact in f64);
//! - U(-b, b) for an f32 bound b: `f64(b) · (2u − 1)` in f64, one rounding
//!   to f32 (round to nearest even, as numpy's `float32(x)` rounds);
//! - an index in [0, n): the high 64 bits of draw · n (Lemire's
//!   multiply-shift; exact in Python's integers);
//! - a shuffle: Fisher–Yates from the last element down, swapping i with
//!   an index in [0, i].
//!
//! Epoch `e` (0-based) of a shuffled run shuffles with a generator seeded
//! `seed ⊕ mix(e + 1)` ([`SplitMix64::for_epoch`]): any epoch's order is
//! known without replaying the earlier ones (a resumed run continues the
//! same sequence), and no epoch's stream starts where the weights' stream
//! (seeded `seed`) does.

/// SplitMix64's increment: 2⁶⁴ / φ, odd.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (a bijection of u64).
pub fn mix(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator; see the module docs for every draw's definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The generator that shuffles epoch `epoch` (0-based) of a run seeded `seed`.
    pub fn for_epoch(seed: u64, epoch: u64) -> Self {
        SplitMix64::new(seed ^ mix(epoch.wrapping_add(1)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A float in [0, 1) with 24 random bits.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 40) as f64 / (1u64 << 24) as f64
    }

    /// A draw of U(-bound, bound), computed in f64 and rounded to f32 once.
    pub fn uniform(&mut self, bound: f32) -> f32 {
        (f64::from(bound) * (2.0 * self.next_unit() - 1.0)) as f32
    }

    /// An index in [0, n) (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// 0..n in shuffled order (Python's `permutation(n)`).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.shuffle(&mut order);
        order
    }

    /// Fisher–Yates, last element first.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The same generator in Python (uses numpy as `np`), written into the
/// MNIST lessons' PyTorch scripts. `uniform(n, bound)` gives n draws as a
/// float32 array; `permutation(n)` the shuffled order of 0..n.
pub const PYTHON: &str = r#"M64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class SplitMix64:
    """dl-lab's portable generator (src/rng.rs): the same draws, bit for bit."""

    def __init__(self, seed):
        self.state = seed & M64

    @classmethod
    def for_epoch(cls, seed, epoch):
        return cls(seed ^ mix64(epoch + 1))

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        return mix64(self.state)

    def uniform(self, n, bound):
        b = float(np.float32(bound))
        return np.array([b * (2.0 * ((self.next_u64() >> 40) / 16777216.0) - 1.0)
                         for _ in range(n)], dtype=np.float64).astype(np.float32)

    def permutation(self, n):
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = (self.next_u64() * (i + 1)) >> 64
            order[i], order[j] = order[j], order[i]
        return order
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64() {
        // Vigna's splitmix64.c seeded 1234567: the first outputs
        let mut r = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            vec![
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn shuffle_is_a_permutation_and_below_stays_below() {
        let mut r = SplitMix64::new(9);
        let mut v: Vec<usize> = (0..100).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert!((0..1000).all(|_| (-0.5..0.5).contains(&r.uniform(0.5))));
    }
}
