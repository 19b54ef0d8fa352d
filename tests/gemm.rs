//! The CPU matrix product (the AVX-512 kernel where the CPU has it,
//! matrixmultiply or the small-product kernel otherwise), and the AVX-512
//! kernel called directly, against a plain
//! triple loop in f64, on shapes that are not multiples of any block or
//! tile, every transpose combination, with and without a bias, on one
//! thread, split across rayon's threads, and inside a rayon task.
//!
//! Tolerance: a recursive f32 sum of k products is within k·ε·Σ|aᵢₚ·bₚⱼ| of
//! the exact sum (ε = 2⁻²³); the kernels sum in different orders (k blocks of
//! different lengths), so that bound, not bit equality, is what they share.
//! A wrong element (a dropped k block, a misplaced edge) is off by a whole
//! product or more, far outside it.

use dl_lab::backend::cpu::gemm;
use dl_lab::backend::cpu::matmul::{matmul, matmul_bias, matmul_into};
use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(rng: &mut StdRng, r: usize, c: usize) -> Array2<f32> {
    Array2::from_shape_fn((r, c), |_| rng.random_range(-1.0f32..1.0))
}

/// Every element of `got` within k·ε·(Σ|products| + |bias|) of the f64
/// product (plus bias).
fn check(
    got: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    bias: Option<&[f32]>,
    what: &str,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    assert_eq!(got.dim(), (m, n), "{what}: shape");
    let eps = f32::EPSILON as f64;
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut abs) = (0.0f64, 0.0f64);
            for p in 0..k {
                let prod = a[[i, p]] as f64 * b[[p, j]] as f64;
                sum += prod;
                abs += prod.abs();
            }
            if let Some(bias) = bias {
                sum += bias[j] as f64;
                abs += (bias[j] as f64).abs();
            }
            let tol = (k + 1) as f64 * eps * abs + f64::MIN_POSITIVE;
            let v = got[[i, j]] as f64;
            assert!(
                (v - sum).abs() <= tol,
                "{what}: C[{i},{j}] = {v}, exact {sum}, off by {:e} > {tol:e}",
                (v - sum).abs()
            );
        }
    }
}

/// (m, k, n): tiles of 12 × 32, k blocks up to 384, column blocks up to
/// 640, row blocks up to 960, and the threads' split, each with edges.
const SHAPES: [(usize, usize, usize); 14] = [
    (1, 1, 1),
    (1, 300, 1),
    (2, 5, 33),
    (12, 1, 32),
    (13, 17, 31),
    (17, 33, 65),
    (24, 385, 64),
    (40, 64, 700),
    (255, 257, 31),
    (100, 769, 45),
    (600, 64, 40),
    (130, 20, 1300),
    (1000, 6, 10),
    (1001, 40, 17),
];

/// A (m, k) and B (k, n), each stored transposed or not.
fn operands(
    rng: &mut StdRng,
    (m, k, n): (usize, usize, usize),
    ta: bool,
    tb: bool,
) -> (Array2<f32>, Array2<f32>) {
    let a = if ta {
        random(rng, k, m).reversed_axes()
    } else {
        random(rng, m, k)
    };
    let b = if tb {
        random(rng, n, k).reversed_axes()
    } else {
        random(rng, k, n)
    };
    (a, b)
}

#[test]
fn products_match_f64_on_every_shape_and_transpose() {
    let mut rng = StdRng::seed_from_u64(11);
    for shape in SHAPES {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (a, b) = operands(&mut rng, shape, ta, tb);
            let bias: Vec<f32> = (0..shape.2)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let what = format!("{shape:?} ta={ta} tb={tb}");
            check(
                matmul(a.view(), b.view()).view(),
                a.view(),
                b.view(),
                None,
                &what,
            );
            let with = format!("{what} with bias");
            check(
                matmul_bias(a.view(), b.view(), &bias).view(),
                a.view(),
                b.view(),
                Some(&bias),
                &with,
            );
        }
    }
}

/// C = A·B (+ bias) by the AVX-512 kernel itself (`matmul` hands it only
/// products of 2²³ multiply-adds or more).
fn direct(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, bias: Option<&[f32]>) -> Array2<f32> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let operand = |v: &ArrayView2<'_, f32>| gemm::Operand {
        ptr: v.as_ptr(),
        rs: v.strides()[0],
        cs: v.strides()[1],
    };
    let mut c = Array2::from_elem((m, n), f32::NAN);
    let start = bias.map_or(gemm::Start::Zero, gemm::Start::Bias);
    // SAFETY: the kernel is available (checked by the caller); a and b are
    // live views with their strides; c is (m, n), row-major, row stride n.
    unsafe { gemm::sgemm(m, k, n, operand(&a), operand(&b), c.as_mut_ptr(), n, start) };
    c
}

#[test]
fn the_avx512_kernel_matches_f64_on_every_shape_and_transpose() {
    if !gemm::available() {
        eprintln!("skipped: this CPU has no AVX-512F (or DL_LAB_GEMM=matrixmultiply)");
        return;
    }
    let mut rng = StdRng::seed_from_u64(14);
    for shape in SHAPES {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (a, b) = operands(&mut rng, shape, ta, tb);
            let bias: Vec<f32> = (0..shape.2)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let what = format!("kernel {shape:?} ta={ta} tb={tb}");
            check(
                direct(a.view(), b.view(), None).view(),
                a.view(),
                b.view(),
                None,
                &what,
            );
            let with = format!("{what} with bias");
            check(
                direct(a.view(), b.view(), Some(&bias)).view(),
                a.view(),
                b.view(),
                Some(&bias),
                &with,
            );
        }
    }
}

/// `values` as a view whose strides follow `layout` (over a fresh backing
/// array, returned with it): 0 row-major, 1 column-major, 2 rows stored
/// last to first, 3 columns last to first, 4 column-major with the rows
/// last to first, 5 column-major with the columns last to first, 6 every
/// second row and third column of a larger array.
fn laid_out(values: &Array2<f32>, layout: usize) -> (Array2<f32>, [isize; 2]) {
    use ndarray::s;
    let (r, c) = values.dim();
    // the backing array, and how to slice or transpose it back to `values`
    // (in row-major order: `to_owned` would keep a reversed view's strides)
    let standard = |v: ArrayView2<'_, f32>| v.as_standard_layout().into_owned();
    let backing = match layout {
        0 => values.clone(),
        1 => standard(values.t()),
        2 => standard(values.slice(s![..;-1, ..])),
        3 => standard(values.slice(s![.., ..;-1])),
        4 => standard(values.t().slice(s![.., ..;-1])),
        5 => standard(values.t().slice(s![..;-1, ..])),
        _ => {
            let mut big = Array2::zeros((2 * r, 3 * c));
            big.slice_mut(s![..;2, ..;3]).assign(values);
            big
        }
    };
    let strides = {
        let view = view_of(&backing, layout);
        assert_eq!(view, values.view(), "layout {layout}");
        [view.strides()[0], view.strides()[1]]
    };
    (backing, strides)
}

fn view_of(backing: &Array2<f32>, layout: usize) -> ArrayView2<'_, f32> {
    use ndarray::s;
    match layout {
        0 => backing.view(),
        1 => backing.t(),
        2 => backing.slice(s![..;-1, ..]),
        3 => backing.slice(s![.., ..;-1]),
        4 => backing.slice(s![.., ..;-1]).reversed_axes(),
        5 => backing.slice(s![..;-1, ..]).reversed_axes(),
        _ => backing.slice(s![..;2, ..;3]),
    }
}

#[test]
fn the_avx512_kernel_packs_every_layout_of_its_operands() {
    // the packing has a path per layout: lanes contiguous (a row-major B, a
    // column-major A), k contiguous (a row-major A, a column-major B: four
    // lanes by eight steps transposed in registers, the lanes and steps
    // left over one at a time), and neither (a view that skips elements or
    // runs backwards along the contiguous axis); each with positive and
    // negative strides. A takes each of the 7 layouts against B in each.
    if !gemm::available() {
        eprintln!("skipped: this CPU has no AVX-512F (or DL_LAB_GEMM=matrixmultiply)");
        return;
    }
    let mut rng = StdRng::seed_from_u64(16);
    let mut seen = std::collections::BTreeSet::new();
    for (m, k, n) in [(13, 17, 31), (7, 5, 33), (30, 45, 70), (25, 390, 3)] {
        let (a, b) = (random(&mut rng, m, k), random(&mut rng, k, n));
        for la in 0..7 {
            for lb in 0..7 {
                let (back_a, sa) = laid_out(&a, la);
                let (back_b, sb) = laid_out(&b, lb);
                let (av, bv) = (view_of(&back_a, la), view_of(&back_b, lb));
                // (lane stride, k stride) as packing sees them
                let class = |ls: isize, ks: isize| match (ls, ks) {
                    (1, ks) => format!("across, ks {}", ks.signum()),
                    (ls, 1) => format!("transposing, ls {}", ls.signum()),
                    _ => "one at a time".to_string(),
                };
                seen.insert(format!("A {}", class(sa[0], sa[1])));
                seen.insert(format!("B {}", class(sb[1], sb[0])));
                let what = format!("{m}x{k}x{n} A layout {la} {sa:?}, B layout {lb} {sb:?}");
                check(direct(av, bv, None).view(), av, bv, None, &what);
            }
        }
    }
    for side in ["A", "B"] {
        for path in [
            "across, ks 1",
            "across, ks -1",
            "transposing, ls 1",
            "transposing, ls -1",
            "one at a time",
        ] {
            assert!(
                seen.contains(&format!("{side} {path}")),
                "{side} {path}: {seen:?}"
            );
        }
    }
}

#[test]
fn large_products_split_across_threads_match_f64() {
    // past 2²³ multiply-adds: the AVX-512 kernel where there is one, split
    // by rows (m ≥ n) or by columns
    let mut rng = StdRng::seed_from_u64(15);
    for shape in [(310, 200, 150), (90, 300, 333)] {
        for (ta, tb) in [(false, false), (true, true)] {
            let (a, b) = operands(&mut rng, shape, ta, tb);
            let bias: Vec<f32> = (0..shape.2)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let what = format!("{shape:?} ta={ta} tb={tb}");
            check(
                matmul(a.view(), b.view()).view(),
                a.view(),
                b.view(),
                None,
                &what,
            );
            check(
                matmul_bias(a.view(), b.view(), &bias).view(),
                a.view(),
                b.view(),
                Some(&bias),
                &what,
            );
        }
    }
}

#[test]
fn products_inside_a_rayon_task_match_f64() {
    // the conv's per-image products: one thread each, in parallel
    let mut rng = StdRng::seed_from_u64(12);
    let cases: Vec<_> = SHAPES
        .iter()
        .map(|&s| operands(&mut rng, s, false, true))
        .collect();
    let results: Vec<Array2<f32>> = {
        use rayon::prelude::*;
        cases
            .par_iter()
            .map(|(a, b)| matmul(a.view(), b.view()))
            .collect()
    };
    for ((a, b), c) in cases.iter().zip(&results) {
        check(
            c.view(),
            a.view(),
            b.view(),
            None,
            &format!("{:?} in a task", a.dim()),
        );
    }
}

#[test]
fn matmul_into_overwrites_c_and_keeps_its_neighbours() {
    let mut rng = StdRng::seed_from_u64(13);
    for (m, k, n) in [(64, 32, 180), (13, 1, 70), (5, 9, 3)] {
        let (a, b) = operands(&mut rng, (m, k, n), false, false);
        // C is the first n columns of a wider buffer full of NaN: every
        // element of C is written, nothing past it
        let mut buf = Array2::from_elem((m, n + 7), f32::NAN);
        matmul_into(a.view(), b.view(), buf.slice_mut(ndarray::s![.., ..n]));
        check(
            buf.slice(ndarray::s![.., ..n]),
            a.view(),
            b.view(),
            None,
            &format!("into {m}x{k}x{n}"),
        );
        assert!(
            buf.slice(ndarray::s![.., n..]).iter().all(|v| v.is_nan()),
            "columns past C untouched"
        );
    }
}

#[test]
fn the_avx512_kernel_is_what_runs_where_the_cpu_has_it() {
    #[cfg(target_arch = "x86_64")]
    {
        let want = std::env::var("DL_LAB_GEMM").map_or(true, |v| v != "matrixmultiply");
        assert_eq!(
            gemm::available(),
            want && std::arch::is_x86_feature_detected!("avx512f")
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert!(!gemm::available());
}

#[test]
fn empty_products_give_zeros_or_the_bias() {
    let a = Array2::<f32>::zeros((3, 0));
    let b = Array2::<f32>::zeros((0, 40));
    let bias: Vec<f32> = (0..40).map(|j| j as f32).collect();
    assert_eq!(matmul(a.view(), b.view()), Array2::<f32>::zeros((3, 40)));
    let c = matmul_bias(a.view(), b.view(), &bias);
    assert!(c.rows().into_iter().all(|r| r.to_vec() == bias));
    let mut c = Array2::from_elem((3, 40), 5.0f32);
    matmul_into(a.view(), b.view(), c.view_mut());
    assert!(c.iter().all(|&v| v == 0.0), "k = 0 overwrites C with zeros");
}
