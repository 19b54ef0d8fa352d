//! f32 matrix-multiply GFLOP/s on the CPU, n × n by n × n, for the sizes
//! given (default 512 1024 2048): the median of 7 runs after a warm-up.
//!
//! `cargo run --release --example matmul_bench [-- N...]` (the file lives in tests/bench/)
//!
//! `DL_LAB_GEMM=matrixmultiply` runs the portable product instead of the
//! AVX-512 kernel, so the two can be compared in turn on the same machine;
//! `RAYON_NUM_THREADS` sets the threads. GFLOP per CPU-second divides by the
//! CPU time of all threads (so 2 threads at full speed show half the wall figure's).

use std::time::Instant;

#[path = "cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_seconds;

use dl_lab::backend::cpu::{gemm, matmul::matmul};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![512, 1024, 2048]
    } else {
        sizes
    };
    let kernel = if gemm::available() {
        "avx512"
    } else {
        "matrixmultiply"
    };
    let mut rng = StdRng::seed_from_u64(1);
    for n in sizes {
        let mut random = || Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0f32..1.0));
        let (a, b) = (random(), random());
        std::hint::black_box(matmul(a.view(), b.view()));
        let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..7)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_seconds());
                std::hint::black_box(matmul(a.view(), b.view()));
                (t.elapsed().as_secs_f64(), cpu_seconds() - c)
            })
            .unzip();
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        let flop = 2.0 * (n as f64).powi(3) / 1e9;
        println!(
            "{kernel:<15} {n:>5} {:>8.1} GFLOP/s {:>8.1} GFLOP per CPU-second",
            flop / wall[3],
            flop / cpu[3]
        );
    }
}
