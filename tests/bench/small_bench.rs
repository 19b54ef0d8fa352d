//! Time the small lessons' loops as `dl-lab bench` does (gd-scalar's
//! 100,000 autograd steps, mlp-regression's 10,000 full-batch epochs, on the
//! CPU, set-up not timed), without the rest of the bench: for comparing
//! engine changes and for profiling (`valgrind --tool=callgrind` with a
//! smaller count).
//!
//! `cargo run --release --example small_bench [-- GD_STEPS MLP_EPOCHS [ROUNDS]]`
//! (the file lives in tests/bench/; defaults 100000 10000 1). Prints seconds
//! per round and the last cost, which must not change with a speed-up.

use dl_lab::bench::small_lesson_secs as run;
use dl_lab::Result;

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("counts are whole numbers"))
        .collect();
    let gd = args.first().copied().unwrap_or(100_000);
    let mlp = args.get(1).copied().unwrap_or(10_000);
    let rounds = args.get(2).copied().unwrap_or(1);
    for _ in 0..rounds {
        if gd > 0 {
            let (s, c) = run("gd-scalar", gd)?;
            println!("gd-scalar {gd} steps: {s:.4} s, last cost {c}");
        }
        if mlp > 0 {
            let (s, c) = run("mlp-regression", mlp)?;
            println!("mlp {mlp} epochs: {s:.4} s, last cost {c}");
        }
    }
    Ok(())
}
