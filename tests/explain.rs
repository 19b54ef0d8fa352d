//! Hand-computed cases for `dl_lab::explain`: the arithmetic behind `dl-lab conv`,
//! `dl-lab pool` and `dl-lab conv-size`.

use dl_lab::explain::{
    conv2d_steps, conv_explanation, conv_output_size, conv_size_explanation, explain_conv,
    explain_pool, format_number, parse_matrix, pool2d_steps, pool_explanation, PoolMode,
};
use ndarray::{array, Array2};

fn m(text: &str) -> Array2<f32> {
    parse_matrix(text).expect("test matrix parses")
}

fn err_text<T: std::fmt::Debug>(r: dl_lab::Result<T>) -> String {
    r.expect_err("should fail").to_string()
}

/// The last `rows + 1` lines: the `output (HxW):` header and the rows, parsed back.
fn tail_matrix(lines: &[String], rows: usize) -> (String, Vec<Vec<f32>>) {
    let tail = &lines[lines.len() - rows - 1..];
    let parsed = tail[1..]
        .iter()
        .map(|l| {
            l.split_whitespace()
                .map(|v| v.parse().expect("number"))
                .collect()
        })
        .collect();
    (tail[0].clone(), parsed)
}

// ---- parsing ----

#[test]
fn parse_accepts_whitespace_negatives_decimals() {
    assert_eq!(m(" -1.5 , 2 ; 3,4e0 "), array![[-1.5, 2.0], [3.0, 4.0]]);
    assert_eq!(m("1,2,3;4,5,6;"), array![[1., 2., 3.], [4., 5., 6.]]);
    assert_eq!(m("7"), array![[7.0]]);
}

#[test]
fn parse_errors_name_the_problem() {
    let ragged = err_text(parse_matrix("1,2;3"));
    assert!(
        ragged.contains("row 2 has 1 value but row 1 has 2"),
        "{ragged}"
    );
    let nan = err_text(parse_matrix("1,2;3,x"));
    assert!(
        nan.contains("\"x\"") && nan.contains("row 2, column 2") && nan.contains("not a number"),
        "{nan}"
    );
    for empty in ["", "   ", ";"] {
        let e = err_text(parse_matrix(empty));
        assert!(e.contains("empty"), "{e}");
    }
    let stray = err_text(parse_matrix("1,,2"));
    assert!(stray.contains("row 1, column 2 is empty"), "{stray}");
    let blank_row = err_text(parse_matrix("1;;2"));
    assert!(blank_row.contains("row 2 is empty"), "{blank_row}");
    let inf = err_text(parse_matrix("1,inf"));
    assert!(inf.contains("not a finite number"), "{inf}");
}

// ---- numbers ----

#[test]
fn format_number_is_compact() {
    assert_eq!(format_number(6.0), "6");
    assert_eq!(format_number(-14.0), "-14");
    assert_eq!(format_number(0.5), "0.5");
    assert_eq!(format_number(-1.25), "-1.25");
    assert_eq!(format_number(1.0 / 3.0), "0.3333");
    assert_eq!(format_number(2.0 / 3.0), "0.6667");
    assert_eq!(format_number(-0.0), "0");
    assert_eq!(format_number(1e-5), "1e-5");
    assert_eq!(format_number(100.0), "100");
}

// ---- output size ----

#[test]
fn conv_output_size_matches_formula() {
    assert_eq!(conv_output_size(28, 3, 1, 1).unwrap(), 28);
    assert_eq!(conv_output_size(28, 2, 2, 0).unwrap(), 14);
    assert_eq!(conv_output_size(5, 3, 2, 0).unwrap(), 2);
    // (4 - 3) / 2 = 0.5, floored: the last input column is never reached.
    assert_eq!(conv_output_size(4, 3, 2, 0).unwrap(), 1);
}

#[test]
fn conv_output_size_errors() {
    let big = err_text(conv_output_size(2, 3, 1, 0));
    assert!(big.contains("larger than the padded input"), "{big}");
    assert_eq!(
        conv_output_size(2, 3, 1, 1).unwrap(),
        2,
        "padding makes room"
    );
    let s0 = err_text(conv_output_size(28, 3, 0, 0));
    assert!(s0.contains("stride"), "{s0}");
    assert!(conv_output_size(28, 0, 1, 0).is_err());
}

#[test]
fn conv_size_explanation_fills_in_formula() {
    let lines = conv_size_explanation(28, 3, 1, 1).unwrap();
    let pos = lines
        .iter()
        .position(|l| l == "output = floor((N + 2P - K) / S) + 1")
        .expect("formula line");
    assert_eq!(lines[pos + 1], "       = floor((28 + 2*1 - 3) / 1) + 1");
    assert_eq!(lines[pos + 2], "       = floor(27 / 1) + 1 = 28");
    assert_eq!(lines.last().unwrap(), "output size: 28");
    assert!(!lines.iter().any(|l| l.contains("not exact")));
}

#[test]
fn conv_size_explanation_flags_inexact_division() {
    let lines = conv_size_explanation(4, 3, 2, 0).unwrap();
    assert!(
        lines.contains(&"       = floor(1 / 2) + 1 = floor(0.5) + 1 = 1".to_string()),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("not exact")), "{lines:#?}");
    assert_eq!(lines.last().unwrap(), "output size: 1");
    assert!(conv_size_explanation(2, 3, 1, 0).is_err());
}

// ---- convolution ----

#[test]
fn conv_2x2_identity_diagonal() {
    let walk = conv2d_steps(&m("1,2,3;4,5,6;7,8,9"), &m("1,0;0,1"), 1, 0).unwrap();
    // out[i,j] = x[i,j] + x[i+1,j+1]
    assert_eq!(walk.output, array![[6., 8.], [12., 14.]]);
    assert_eq!(walk.steps.len(), 4);
    let s = &walk.steps[3];
    assert_eq!(
        (s.out_row, s.out_col, s.window, s.sum),
        (1, 1, (1, 1), 14.0)
    );
    let pairs: Vec<(f32, f32)> = s.products.iter().map(|p| (p.input, p.weight)).collect();
    assert_eq!(pairs, vec![(5., 1.), (6., 0.), (8., 0.), (9., 1.)]);
    assert_eq!(s.products[3].input_pos, (2, 2));
    assert_eq!(s.products[3].kernel_pos, (1, 1));
}

#[test]
fn conv_with_padding_1() {
    let walk = conv2d_steps(&m("1,2,3;4,5,6;7,8,9"), &m("1,0;0,1"), 1, 1).unwrap();
    assert_eq!(walk.padded.dim(), (5, 5));
    assert_eq!(walk.padded.row(0).sum(), 0.0);
    assert_eq!(walk.padded[(2, 2)], 5.0);
    // padded p: out[i,j] = p[i,j] + p[i+1,j+1], zeros outside the 3x3 input
    let expected = array![
        [1., 2., 3., 0.],
        [4., 6., 8., 3.],
        [7., 12., 14., 6.],
        [0., 7., 8., 9.]
    ];
    assert_eq!(walk.output, expected);
}

#[test]
fn conv_with_stride_2() {
    let x = m("1,2,3;4,5,6;7,8,9");
    let k = m("1,0;0,1");
    // floor((3 - 2) / 2) + 1 = 1: only the top-left window fits.
    assert_eq!(conv2d_steps(&x, &k, 2, 0).unwrap().output, array![[6.]]);
    // padded 5x5, windows at (0,0) (0,2) (2,0) (2,2): 0+1, 0+3, 0+7, 5+9
    assert_eq!(
        conv2d_steps(&x, &k, 2, 1).unwrap().output,
        array![[1., 3.], [7., 14.]]
    );
    // 4x4 of 1..16, kernel [[1,2],[3,4]]: 1+4+15+24, 3+8+21+32, 9+20+39+56, 11+24+45+64
    let x4 = m("1,2,3,4;5,6,7,8;9,10,11,12;13,14,15,16");
    let walk = conv2d_steps(&x4, &m("1,2;3,4"), 2, 0).unwrap();
    assert_eq!(walk.output, array![[44., 64.], [124., 144.]]);
    assert_eq!(walk.steps[1].window, (0, 2));
}

#[test]
fn conv_rectangular_and_errors() {
    let walk = conv2d_steps(&m("1,2,3;4,5,6"), &m("1,-1"), 1, 0).unwrap();
    assert_eq!(walk.output, array![[-1., -1.], [-1., -1.]]);
    let lines = conv_explanation(&walk);
    assert!(
        lines.contains(&"out[0,0] = 1*1 + 2*(-1) = -1".to_string()),
        "{lines:#?}"
    );
    let e = err_text(conv2d_steps(&m("1,2;3,4"), &m("1,2,3"), 1, 0));
    assert!(
        e.contains("kernel width (3) is larger than the padded input width"),
        "{e}"
    );
    assert!(conv2d_steps(&m("1,2;3,4"), &m("1"), 0, 0).is_err());
}

#[test]
fn conv_explanation_lines() {
    let lines = explain_conv("1,2,3;4,5,6;7,8,9", "1,0;0,1", 1, 0).unwrap();
    assert!(
        lines.contains(&"out[0,0] = 1*1 + 2*0 + 4*0 + 5*1 = 6".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"out[1,1] = 5*1 + 6*0 + 8*0 + 9*1 = 14".to_string()));
    let (header, rows) = tail_matrix(&lines, 2);
    assert_eq!(header, "output (2x2):");
    assert_eq!(rows, vec![vec![6., 8.], vec![12., 14.]]);
    // columns are right-aligned
    assert_eq!(lines[lines.len() - 2..], [" 6  8", "12 14"]);
}

#[test]
fn conv_explanation_says_padded_and_parses_decimals() {
    let lines = explain_conv("1,2,3;4,5,6;7,8,9", "1,0;0,1", 1, 1).unwrap();
    assert!(
        lines[0].contains("zero-padded") && lines[0].contains("5x5"),
        "{}",
        lines[0]
    );
    let (header, rows) = tail_matrix(&lines, 4);
    assert_eq!(header, "output (4x4):");
    assert_eq!(rows[2], vec![7., 12., 14., 6.]);
    let lines = explain_conv("1,2;3,4", "0.5,0.25", 1, 0).unwrap();
    assert!(
        lines.contains(&"out[0,0] = 1*0.5 + 2*0.25 = 1".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"out[1,0] = 3*0.5 + 4*0.25 = 2.5".to_string()));
    let e = err_text(explain_conv("1,2;3,4", "1,x", 1, 0));
    assert!(e.starts_with("kernel:"), "{e}");
}

// ---- pooling ----

const POOL_IN: &str = "1,3,2,1; 4,2,0,5; 7,1,8,2; 0,6,3,9";

#[test]
fn max_pool_2() {
    let walk = pool2d_steps(&m(POOL_IN), 2, 2, PoolMode::Max).unwrap();
    assert_eq!(walk.output, array![[4., 5.], [7., 9.]]);
    let winners: Vec<_> = walk.steps.iter().map(|s| s.winner).collect();
    assert_eq!(
        winners,
        vec![Some((1, 0)), Some((1, 3)), Some((2, 0)), Some((3, 3))]
    );
    assert_eq!(walk.steps[1].values, vec![2., 1., 0., 5.]);
}

#[test]
fn avg_pool_2() {
    let walk = pool2d_steps(&m(POOL_IN), 2, 2, PoolMode::Avg).unwrap();
    // (1+3+4+2)/4, (2+1+0+5)/4, (7+1+0+6)/4, (8+2+3+9)/4
    assert_eq!(walk.output, array![[2.5, 2.], [3.5, 5.5]]);
    assert!(walk.steps.iter().all(|s| s.winner.is_none()));
    let lines = pool_explanation(&walk);
    assert!(
        lines.contains(&"out[0,0] = avg(1, 3, 4, 2) = 10 / 4 = 2.5".to_string()),
        "{lines:#?}"
    );
    let (header, rows) = tail_matrix(&lines, 2);
    assert_eq!(header, "output (2x2):");
    assert_eq!(rows, vec![vec![2.5, 2.], vec![3.5, 5.5]]);
}

#[test]
fn max_pool_tie_goes_to_first_in_row_major_order() {
    let walk = pool2d_steps(&m("5,5;5,1"), 2, 2, PoolMode::Max).unwrap();
    assert_eq!(walk.steps[0].winner, Some((0, 0)));
    let walk = pool2d_steps(&m("1,7;7,7"), 2, 2, PoolMode::Max).unwrap();
    assert_eq!(walk.steps[0].winner, Some((0, 1)));
    let lines = pool_explanation(&walk);
    assert!(
        lines.contains(&"out[0,0] = max(1, 7, 7, 7) = 7 (input[0,1], first of 3 tied)".to_string()),
        "{lines:#?}"
    );
    // second window of a stride-1 walk: tie between input[0,2] and input[1,1]
    let walk = pool2d_steps(&m("0,1,4;0,4,0"), 2, 1, PoolMode::Max).unwrap();
    assert_eq!(walk.steps[1].winner, Some((0, 2)));
}

#[test]
fn pool_explanation_lines_and_default_stride() {
    let lines = explain_pool("1,2,3;4,5,6;7,8,9", 2, Some(1), PoolMode::Max).unwrap();
    assert!(
        lines.contains(&"out[0,1] = max(2, 3, 5, 6) = 6 (input[1,2])".to_string()),
        "{lines:#?}"
    );
    let (header, rows) = tail_matrix(&lines, 2);
    assert_eq!(header, "output (2x2):");
    assert_eq!(rows, vec![vec![5., 6.], vec![8., 9.]]);
    // stride None = size: 3x3 with window 2 gives 1x1, and says the last row/col is dropped
    let lines = explain_pool("1,2,3;4,5,6;7,8,9", 2, None, PoolMode::Avg).unwrap();
    assert_eq!(lines[lines.len() - 2..], ["output (1x1):", "3"]);
    assert!(lines.iter().any(|l| l.contains("not exact")), "{lines:#?}");
}

#[test]
fn pool_errors_and_mode_parsing() {
    assert!(err_text(pool2d_steps(&m("1,2;3,4"), 3, 3, PoolMode::Max)).contains("larger"));
    assert!(pool2d_steps(&m("1,2;3,4"), 0, 1, PoolMode::Max).is_err());
    assert!(pool2d_steps(&m("1,2;3,4"), 2, 0, PoolMode::Max).is_err());
    assert_eq!("max".parse::<PoolMode>().unwrap(), PoolMode::Max);
    assert_eq!("AVG".parse::<PoolMode>().unwrap(), PoolMode::Avg);
    assert!(err_text("median".parse::<PoolMode>()).contains("median"));
}

// ---------------------------------------------------------------- bounded output

#[test]
fn a_long_input_prints_a_summary_past_the_first_windows() {
    // 1×20,000 input, 1×3 kernel: 19,998 windows
    let input = vec!["1"; 20_000].join(",");
    let lines = dl_lab::explain::explain_conv(&input, "1,2,3", 1, 0).expect("conv");
    let steps = lines.iter().filter(|l| l.starts_with("out[")).count();
    assert_eq!(steps, dl_lab::explain::MAX_STEP_LINES);
    assert!(
        lines.iter().any(|l| l.contains("… and 19898 more windows")),
        "{:?}",
        &lines[lines.len().saturating_sub(8)..]
    );
    // every matrix is cut to its corner with a note, so the text stays small
    assert!(lines.iter().any(|l| l.contains("of 20000 columns")));
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    assert!(bytes < 20_000, "{bytes} bytes of text");
    // the windows written out are still the real ones: 1·1 + 1·2 + 1·3 = 6
    assert!(
        lines.iter().any(|l| l == "out[0,0] = 1*1 + 1*2 + 1*3 = 6"),
        "{:?}",
        &lines[..12]
    );

    let two_rows = format!("{input};{input}");
    let lines = dl_lab::explain::explain_pool(&two_rows, 2, None, PoolMode::Max).expect("pool");
    assert_eq!(lines.iter().filter(|l| l.starts_with("out[")).count(), 100);
    assert!(lines.iter().any(|l| l.contains("… and 9900 more windows")));
}

#[test]
fn pool_size_zero_talks_about_the_size() {
    let e = err_text(dl_lab::explain::explain_pool(
        "1,2;3,4",
        0,
        None,
        PoolMode::Max,
    ));
    assert!(e.contains("window size (--size) must be at least 1"), "{e}");
    assert!(!e.contains("stride"), "{e}");
}

#[test]
fn divergence_hint_suggests_a_round_learning_rate() {
    for (lr, want) in [
        (0.01f32, "--lr 0.001"),
        (1.0, "--lr 0.1"),
        (0.3, "--lr 0.03"),
        (100.0, "--lr 10"),
    ] {
        let e = dl_lab::Error::diverged("epoch 3", f32::NAN, lr).to_string();
        assert!(e.contains(want), "lr {lr}: {e}");
    }
}
