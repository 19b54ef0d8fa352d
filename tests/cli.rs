//! The `dl-lab` binary as other tools see it: subcommands, `--json` lines, exit codes and the
//! messages on stderr for every kind of bad input (none of them may panic).

#[macro_use]
mod common;

use common::TempDir;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const LESSONS: [&str; 15] = [
    "tensor-basics",
    "gd-scalar",
    "momentum",
    "linear",
    "multivariate",
    "mlp-regression",
    "mlp-noisy",
    "xor-perceptron",
    "backprop",
    "xor-mlp",
    "xor-deep",
    "softmax-mnist",
    "cnn-mnist",
    "overfit-mnist",
    "optimizer-race",
];

/// Run `dl-lab args…` with stdout and stderr captured (stdout is then not a terminal).
fn dl_lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("start dl-lab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 stderr")
}

/// Succeeds, and returns stdout.
fn ok(args: &[&str]) -> String {
    let o = dl_lab(args);
    assert!(o.status.success(), "dl-lab {args:?} failed: {}", stderr(&o));
    stdout(&o)
}

/// Fails with a non-zero exit and no panic; returns stderr, which must contain each of `needles`.
fn fails(args: &[&str], needles: &[&str]) -> String {
    let o = dl_lab(args);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "dl-lab {args:?} should fail; stdout: {}",
        stdout(&o)
    );
    assert_ne!(
        o.status.code(),
        None,
        "dl-lab {args:?} was killed by a signal"
    );
    assert!(!err.contains("panicked"), "dl-lab {args:?} panicked: {err}");
    assert!(!err.trim().is_empty(), "dl-lab {args:?} failed silently");
    for n in needles {
        assert!(
            err.contains(n),
            "dl-lab {args:?}: stderr lacks {n:?}: {err}"
        );
    }
    err
}

fn last_line(text: &str) -> &str {
    text.lines().last().expect("some output").trim()
}

// ---------------------------------------------------------------- lessons and run

#[test]
fn lessons_lists_every_lesson_in_course_order() {
    let out = ok(&["lessons"]);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, LESSONS);
}

#[test]
fn run_linear_json_logs_requested_epochs() {
    let out = ok(&[
        "run",
        "linear",
        "--json",
        "--epochs",
        "100",
        "--log-every",
        "50",
    ]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let epochs: Vec<u64> = lines
        .iter()
        .map(|v| v["epoch"].as_u64().expect("epoch"))
        .collect();
    assert_eq!(epochs, [0, 50, 100]);
    let mut costs = Vec::new();
    for (line, v) in out.lines().zip(&lines) {
        let o = v.as_object().expect("object");
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        assert_eq!(keys, ["epoch", "cost", "params"], "{line}");
        // the order as printed, not only as parsed
        let (e, c, p) = (
            line.find("\"epoch\""),
            line.find("\"cost\""),
            line.find("\"params\""),
        );
        assert!(e < c && c < p, "{line}");
        let params = o["params"].as_object().expect("params");
        assert_eq!(
            params.keys().map(String::as_str).collect::<Vec<_>>(),
            ["W", "b"],
            "{line}"
        );
        assert!(params["W"].is_f64() && params["b"].is_f64(), "{line}");
        costs.push(o["cost"].as_f64().expect("cost"));
    }
    // epoch 0 from W = b = 0: mean(1, 4, 9) = 14/3, then W = 0.01·28/3, b = 0.01·4
    assert!((costs[0] - 14.0 / 3.0).abs() < 1e-5, "{costs:?}");
    assert!((lines[0]["params"]["W"].as_f64().expect("W") - 0.093_333).abs() < 1e-5);
    assert!((lines[0]["params"]["b"].as_f64().expect("b") - 0.04).abs() < 1e-6);
    assert!(costs[0] > costs[1] && costs[1] > costs[2], "{costs:?}");
}

#[test]
fn run_linear_human_output() {
    let out = ok(&["run", "linear"]);
    let last = out
        .lines()
        .rfind(|l| l.starts_with("Epoch"))
        .expect("epoch lines");
    assert!(last.starts_with("Epoch 1000/1000 W: "), "{out}");
    assert!(last.contains("Cost: "), "{out}");
    // W approaches 1: "W: 0.985, b: 0.033"
    let w: f32 = last["Epoch 1000/1000 W: ".len()..]
        .split(',')
        .next()
        .expect("W")
        .trim()
        .parse()
        .expect("W number");
    assert!((w - 1.0).abs() < 0.05, "{last}");
}

#[test]
fn run_softmax_mnist_one_epoch_json() {
    let out = ok(&["run", "softmax-mnist", "--epochs", "1", "--json"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let v: Value = serde_json::from_str(lines[0]).expect("JSON");
    let o = v.as_object().expect("object");
    assert_eq!(
        o.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "epoch",
            "loss",
            "test_acc",
            "img_per_s",
            "train_acc",
            "test_loss"
        ]
    );
    assert_eq!(o["epoch"], 1);
    let loss = o["loss"].as_f64().expect("loss");
    assert!(loss.is_finite() && loss > 0.0, "{loss}");
    let acc = o["test_acc"].as_f64().expect("test_acc");
    assert!((0.0..=1.0).contains(&acc), "{acc}");
    // one epoch of softmax regression already beats chance by far
    assert!(acc > 0.5, "{acc}");
    assert!(o["img_per_s"].as_f64().expect("img_per_s") > 0.0);
    let train_acc = o["train_acc"].as_f64().expect("train_acc");
    assert!(train_acc > 0.5 && train_acc <= 1.0, "{train_acc}");
    let test_loss = o["test_loss"].as_f64().expect("test_loss");
    assert!(test_loss.is_finite() && test_loss > 0.0, "{test_loss}");
}

// ---------------------------------------------------------------- errors

#[test]
fn unknown_lesson_lists_lessons() {
    let err = fails(&["run", "no-such-lesson"], &["no-such-lesson"]);
    for name in LESSONS {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn bad_learning_rates() {
    for lr in ["abc", "-1", "0", "NaN", "inf"] {
        let err = fails(&["run", "linear", "--lr", lr], &["--lr"]);
        assert!(err.contains("learning rate"), "--lr {lr}: {err}");
        assert!(err.contains(lr), "--lr {lr}: {err}");
    }
}

#[test]
fn unknown_optimizer_lists_names() {
    fails(
        &["run", "linear", "--optimizer", "nesterov"],
        &["nesterov", "--optimizer", "sgd", "adam", "rmsprop"],
    );
}

#[test]
fn missing_data_file_is_named() {
    let dir = TempDir::new("missing");
    let path = dir.join("nowhere.csv");
    fails(
        &["run", "linear", "--data", path.to_str().expect("UTF-8")],
        &["nowhere.csv"],
    );
}

#[test]
fn csv_with_bad_number_names_file_and_line() {
    let dir = TempDir::new("bad-number");
    let path = dir.write("file.csv", b"x,y\n1,1\n2,two\n3,3\n");
    fails(
        &["run", "linear", "--data", path.to_str().expect("UTF-8")],
        &["file.csv:3", "two"],
    );
}

#[test]
fn csv_with_wrong_column_count() {
    let dir = TempDir::new("columns");
    let path = dir.write("cols.csv", b"x,y\n1,1\n2,2,2\n");
    fails(
        &["run", "linear", "--data", path.to_str().expect("UTF-8")],
        &["cols.csv:3", "column"],
    );
}

/// A copy of the shipped MNIST sample in a temp dir, with `train-images-idx3-ubyte` (raw, so
/// it wins over the `.gz`) replaced by `bytes`.
fn mnist_dir_with_bad_images(name: &str, bytes: &[u8]) -> TempDir {
    let dir = TempDir::new(name);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist5k");
    for entry in std::fs::read_dir(&shipped).expect("shipped sample") {
        let entry = entry.expect("dir entry");
        let file = entry.file_name();
        // the shipped held-out pair plays the t10k-* files of a standard directory
        let name = file.to_string_lossy().replace("heldout-", "t10k-");
        if name.ends_with("-ubyte.gz") {
            std::fs::copy(entry.path(), dir.join(name)).expect("copy");
        }
    }
    dir.write("train-images-idx3-ubyte", bytes);
    dir
}

#[test]
fn corrupt_mnist_directory_names_the_file() {
    // labels magic (2049) where images (2051) belong
    let wrong_magic = mnist_dir_with_bad_images("magic", &[0, 0, 8, 1, 0, 0, 0, 1, 7]);
    fails(
        &["run", "softmax-mnist", "--data", wrong_magic.path()],
        &["train-images-idx3-ubyte", "magic"],
    );

    // a good header for 4,000 images of 28x28, cut short after 100 bytes of pixels
    let mut cut = vec![0, 0, 8, 3];
    for n in [4000u32, 28, 28] {
        cut.extend_from_slice(&n.to_be_bytes());
    }
    cut.extend_from_slice(&[0; 100]);
    let truncated = mnist_dir_with_bad_images("truncated", &cut);
    fails(
        &["run", "softmax-mnist", "--data", truncated.path()],
        &["train-images-idx3-ubyte", "truncated"],
    );
}

#[test]
fn csv_for_mnist_lesson_is_refused() {
    let dir = TempDir::new("csv-for-mnist");
    let path = dir.write("table.csv", b"x,y\n1,1\n");
    fails(
        &[
            "run",
            "softmax-mnist",
            "--data",
            path.to_str().expect("UTF-8"),
        ],
        &["table.csv", "directory"],
    );
}

#[test]
fn divergence_names_epoch_and_suggests_smaller_lr() {
    // linear with lr 10: the cost grows ~600x an epoch and overflows at epoch 10
    let err = fails(
        &["run", "linear", "--lr", "10"],
        &["diverged", "smaller learning rate", "--lr 1"],
    );
    assert!(err.contains("at epoch "), "{err}");
    // gd-scalar with lr 1.5: x - 3 doubles and flips sign, y overflows f32 at epoch 63
    fails(
        &["run", "gd-scalar", "--lr", "1.5"],
        &["epoch 63", "smaller learning rate", "--lr 0.2"],
    );
}

#[test]
fn bare_dl_lab_without_terminal_points_to_run() {
    let o = dl_lab(&[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("dl-lab run"), "{err}");
    assert!(err.contains("terminal"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

// ---------------------------------------------------------------- explain commands

#[test]
fn conv_prints_output_rows_last() {
    let out = ok(&[
        "conv",
        "--input",
        "1,2,3;4,5,6;7,8,9",
        "--kernel",
        "1,0;0,1",
    ]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(lines.len() >= 2, "{out}");
    assert_eq!(lines[lines.len() - 2], ["6", "8"], "{out}");
    assert_eq!(lines[lines.len() - 1], ["12", "14"], "{out}");
}

#[test]
fn pool_avg_ends_with_mean() {
    let out = ok(&["pool", "--input", "1,2;3,4", "--size", "2", "--mode", "avg"]);
    assert!(last_line(&out).ends_with("2.5"), "{out}");
    let out = ok(&["pool", "--input", "1,2;3,4", "--size", "2"]);
    assert!(last_line(&out).ends_with('4'), "max pool: {out}");
}

#[test]
fn conv_size_same_padding() {
    let out = ok(&[
        "conv-size",
        "--input",
        "28",
        "--kernel",
        "3",
        "--padding",
        "1",
    ]);
    assert!(last_line(&out).ends_with("28"), "{out}");
    let out = ok(&["conv-size", "--input", "28", "--kernel", "5"]);
    assert!(last_line(&out).ends_with("24"), "{out}");
}

#[test]
fn bad_matrices_are_errors() {
    fails(&["conv", "--input", "1,2;3", "--kernel", "1"], &["row"]);
    fails(&["conv", "--input", "1,x;3,4", "--kernel", "1"], &["\"x\""]);
    fails(
        &[
            "pool", "--input", "1,2;3,4", "--size", "2", "--mode", "median",
        ],
        &["median"],
    );
}

#[test]
fn out_of_range_numbers_are_clear_errors() {
    // a huge padding would need 160 GB for the walk-through: refused, naming the flag
    fails(
        &[
            "conv",
            "--input",
            "1,2;3,4",
            "--kernel",
            "1",
            "--padding",
            "100000",
        ],
        &["--padding 100000"],
    );
    // sizes that overflow are refused, not wrapped around
    let max = u64::MAX.to_string();
    fails(
        &[
            "conv-size",
            "--input",
            &max,
            "--kernel",
            "1",
            "--padding",
            &max,
        ],
        &["too large"],
    );
    // negative values reach the check that names them (not clap's "unexpected argument")
    fails(
        &["run", "linear", "--weight-decay", "-1"],
        &["--weight-decay", "-1"],
    );
    fails(
        &["run", "linear", "--momentum", "-1"],
        &["--momentum", "-1"],
    );
    fails(
        &["run", "linear", "--threads", "0"],
        &["--threads", "between 1 and"],
    );
}

#[test]
fn the_lab_refuses_a_csv_file_for_data() {
    let dir = TempDir::new("lab-csv");
    let csv = dir.write("table.csv", b"x,y\n1,2\n");
    let err = fails(
        &["--data", csv.to_str().expect("utf-8 path")],
        &["MNIST-format directory"],
    );
    assert!(err.contains("dl-lab run LESSON --data"), "{err}");
}

#[test]
fn flags_that_do_not_apply_are_refused() {
    fails(
        &["run", "gd-scalar", "--batch-size", "2"],
        &["--batch-size", "no data"],
    );
    fails(
        &["run", "gd-scalar", "--normalize"],
        &["--normalize", "no data"],
    );
    fails(
        &["run", "softmax-mnist", "--normalize"],
        &["--normalize", "small lessons"],
    );
    fails(
        &["run", "cnn-mnist", "--predict", "1"],
        &["--predict", "small lessons"],
    );
    fails(
        &["run", "multivariate", "--predict", "73,x"],
        &["--predict", "'x' is not a number"],
    );
    fails(
        &["run", "softmax-mnist", "--epochs", "0"],
        &["--epochs", "at least 1"],
    );
}

#[test]
fn matrices_may_start_with_a_minus() {
    // out[0,0] = 1*(-1) + 2*0 + 3*0 + 4*1 = 3
    let out = ok(&["conv", "--input", "1,2;3,4", "--kernel", "-1,0;0,1"]);
    assert_eq!(last_line(&out), "3", "{out}");
    assert!(
        out.contains("out[0,0] = 1*(-1) + 2*0 + 3*0 + 4*1 = 3"),
        "{out}"
    );
    let out = ok(&["pool", "--input", "-1,-2;-3,-4", "--size", "2"]);
    assert_eq!(last_line(&out), "-1", "{out}");
    let out = ok(&["conv", "--input", "-1,2;3,4", "--kernel", "1"]);
    assert!(out.contains("output (2x2):"), "{out}");
}

#[test]
fn negative_counts_get_a_plain_message() {
    for (args, flag) in [
        (&["run", "linear", "--epochs", "-1"][..], "--epochs"),
        (
            &["run", "cnn-mnist", "--batch-size", "-100"][..],
            "--batch-size",
        ),
        (
            &["conv-size", "--input", "28", "--kernel", "-3"][..],
            "--kernel",
        ),
        (
            &["pool", "--input", "1,2;3,4", "--size", "-2"][..],
            "--size",
        ),
        (&["run", "linear", "--seed", "-5"][..], "--seed"),
    ] {
        let err = fails(args, &[flag, "must be a whole number, 0 or more"]);
        assert!(!err.contains("-- -"), "{args:?}: {err}");
    }
}

#[test]
fn lab_flags_before_a_command_are_an_error_not_ignored() {
    // `dl-lab --device opencl run …` used to train on the default device
    let out = dl_lab(&["--device", "opencl", "run", "softmax-mnist"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--device before `run`") && err.contains("dl-lab run … --device …"),
        "{err}"
    );
    let out = dl_lab(&["--data", "datasets", "bench"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--data before `bench`"));
    // the lab's checkpoint flags too (`run` has its own)
    let out = dl_lab(&["--save", "x.ckpt", "run", "softmax-mnist"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--save before `run`"));
    // after the command they work
    let out = ok(&["run", "gd-scalar", "--epochs", "1", "--device", "cpu"]);
    assert!(out.contains("Epoch    1/1"), "{out}");
}

#[test]
fn the_mnist_run_header_counts_images_with_separators() {
    let out = ok(&["run", "softmax-mnist", "--epochs", "1", "--device", "cpu"]);
    let header = out.lines().nth(1).unwrap_or("");
    assert!(
        header.contains("(4,000 training, 1,000 held-out images)"),
        "{header}"
    );
    // the PyTorch script prints the same header line
    let script = ok(&["code", "softmax-mnist", "--epochs", "1"]);
    assert!(
        script.contains(&serde_json::to_string(header).unwrap()),
        "{header}"
    );
}

#[test]
fn backprop_says_what_runs_and_refuses_a_point_that_is_not_finite() {
    let out = ok(&["run", "backprop", "--expr", "x^2", "--at", "x=3"]);
    let title = out.lines().next().expect("a title line");
    assert!(title.contains("f = x^2 at x=3"), "{title}");
    assert!(!title.contains("w*x"), "{title}");
    for bad in ["w=nan,x=1,b=1", "w=inf,x=1,b=1"] {
        fails(&["run", "backprop", "--at", bad], &["--at", "finite"]);
        fails(&["code", "backprop", "--at", bad], &["--at", "finite"]);
    }
}
