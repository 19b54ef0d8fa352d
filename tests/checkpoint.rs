//! Checkpoints, resume, eval and PyTorch's safetensors: a resumed run
//! continues exactly; a checkpoint of another model says what differs; bad
//! files are errors naming the file; the PyTorch fixture (tests/fixtures,
//! made by make_fixture.py) loads with the values PyTorch computed; export
//! and import round-trip bit for bit.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::TempDir;
use dl_lab::backend::Device;
use dl_lab::lessons::{self, files, RunConfig, RunFiles};
use dl_lab::nn::Module;
use dl_lab::train::checkpoint::{Checkpoint, MAGIC};
use dl_lab::Tensor;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn dl_lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("start dl-lab")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8")
}

/// Run `lesson` headless on the CPU with JSON lines; returns them parsed.
fn run(
    lesson: &str,
    epochs: usize,
    edit: impl Fn(&mut lessons::Hyper),
    load: Option<&Path>,
    save: Option<&Path>,
    history: Option<&Path>,
) -> Vec<Value> {
    let lesson = lessons::find(lesson).expect("lesson");
    let files = RunFiles::open(&lesson, load, save, history).expect("files");
    let mut cfg = RunConfig::defaults(&lesson);
    cfg.hyper = files.defaults(&lesson);
    cfg.hyper.epochs = epochs;
    edit(&mut cfg.hyper);
    cfg.json = true;
    let mut out = Vec::new();
    lessons::run_headless_with(&lesson, &cfg, &Device::Cpu, &files, &mut out).expect("run");
    text(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Train 2 epochs straight, and 1 epoch + save + load + 1 epoch: the second
/// run prints only epoch 2, with the same loss and accuracy, and ends with
/// the same weights and optimizer state, byte for byte.
fn resume_matches_straight(optimizer: &str, momentum: f32) {
    let tmp = TempDir::new("resume");
    let (straight, part) = (tmp.join("straight.ckpt"), tmp.join("part.ckpt"));
    let set = |h: &mut lessons::Hyper| {
        h.optimizer = optimizer
            .parse::<dl_lab::train::OptimizerSettings>()
            .and_then(|o| o.with_momentum(momentum))
            .expect("a known optimizer");
        h.lr = if optimizer == "sgd" { 0.05 } else { 1e-3 };
    };
    let a = run("softmax-mnist", 2, set, None, Some(&straight), None);
    let first = run("softmax-mnist", 1, set, None, Some(&part), None);
    assert_eq!(first.len(), 1);
    let before = std::fs::read(&part).expect("read");
    // no flags: the checkpoint's optimizer, lr, momentum and seed
    let b = run("softmax-mnist", 2, |_| {}, Some(&part), Some(&part), None);
    assert_eq!(a.len(), 2);
    assert_eq!(b.len(), 1, "the resumed run prints only epoch 2: {b:?}");
    assert_eq!(b[0]["epoch"], 2);
    assert_eq!(a[1]["loss"], b[0]["loss"], "{optimizer}");
    assert_eq!(a[1]["test_acc"], b[0]["test_acc"]);
    let (x, y) = (
        std::fs::read(&straight).expect("read"),
        std::fs::read(&part).expect("read"),
    );
    assert_ne!(before, y, "the resumed run saved over the checkpoint");
    assert!(x == y, "{optimizer}: 2 epochs straight and 1 + 1 differ");
    let ck = Checkpoint::load(&part).expect("load");
    let run = ck.run.expect("a run");
    assert_eq!(
        (run.epoch, run.seed, run.optimizer.as_str()),
        (2, 1, optimizer)
    );
    assert!(run.data.contains("shipped MNIST sample"), "{}", run.data);
    // 40 steps of 100 images per epoch
    let steps = usize::from(optimizer != "sgd" || momentum != 0.0);
    assert_eq!(ck.optimizer_state.iter().flatten().count(), 2 * steps);
    if steps == 1 {
        assert!(ck.optimizer_state.iter().flatten().all(|s| s.step == 80));
    }
}

#[test]
fn resume_continues_exactly_with_adam() {
    resume_matches_straight("adam", 0.0);
}

#[test]
fn resume_continues_exactly_with_sgd_momentum() {
    resume_matches_straight("sgd", 0.9);
}

#[test]
fn resume_continues_exactly_with_rmsprop() {
    resume_matches_straight("rmsprop", 0.0);
}

#[test]
fn history_has_one_row_per_epoch() {
    let tmp = TempDir::new("history");
    let csv = tmp.join("h.csv");
    let lines = run("softmax-mnist", 2, |_| {}, None, None, Some(&csv));
    let body = std::fs::read_to_string(&csv).expect("read");
    let rows: Vec<&str> = body.lines().collect();
    assert_eq!(rows[0], "epoch,loss,test_acc,img_per_s,train_acc,test_loss");
    assert_eq!(rows.len(), 3, "{body}");
    for (row, line) in rows[1..].iter().zip(&lines) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f[0], line["epoch"].to_string());
        let loss: f64 = f[1].parse().expect("loss");
        let acc: f64 = f[2].parse().expect("acc");
        assert_eq!(loss as f32, line["loss"].as_f64().expect("loss") as f32);
        assert_eq!(acc as f32, line["test_acc"].as_f64().expect("acc") as f32);
        assert!(f[3].parse::<f64>().expect("img/s") > 0.0);
        let train_acc: f64 = f[4].parse().expect("train_acc");
        let test_loss: f64 = f[5].parse().expect("test_loss");
        assert_eq!(
            train_acc as f32,
            line["train_acc"].as_f64().expect("train_acc") as f32
        );
        assert_eq!(
            test_loss as f32,
            line["test_loss"].as_f64().expect("test_loss") as f32
        );
    }
    // a resumed run appends its epochs to the history
    let ckpt = tmp.join("h.ckpt");
    run("softmax-mnist", 1, |_| {}, None, Some(&ckpt), Some(&csv));
    run("softmax-mnist", 3, |_| {}, Some(&ckpt), None, Some(&csv));
    let body = std::fs::read_to_string(&csv).expect("read");
    let epochs: Vec<&str> = body
        .lines()
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(epochs, ["epoch", "1", "2", "3"], "{body}");
}

#[test]
fn resume_needs_epochs_beyond_the_checkpoint() {
    let tmp = TempDir::new("beyond");
    let ckpt = tmp.join("two.ckpt");
    run("softmax-mnist", 2, |_| {}, None, Some(&ckpt), None);
    let p = ckpt.to_str().expect("UTF-8");
    let o = dl_lab(&[
        "run",
        "softmax-mnist",
        "--load",
        p,
        "--epochs",
        "2",
        "--device",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("two.ckpt was saved after epoch 2") && err.contains("--epochs above 2"),
        "{err}"
    );
    let o = dl_lab(&[
        "run",
        "softmax-mnist",
        "--load",
        p,
        "--epochs",
        "3",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let log = text(&o.stdout);
    assert!(
        log.contains("resuming from") && log.contains("after epoch 2: epochs 3..=3"),
        "{log}"
    );
    assert!(
        log.contains("Epoch: 0003") && !log.contains("Epoch: 0002"),
        "{log}"
    );
}

#[test]
fn another_models_checkpoint_says_what_differs() {
    let tmp = TempDir::new("arch");
    let path = tmp.join("softmax.ckpt");
    run("softmax-mnist", 1, |_| {}, None, Some(&path), None);
    let cnn = lessons::find("cnn-mnist").expect("lesson");
    let err = RunFiles::open(&cnn, Some(&path), None, None)
        .expect_err("a softmax checkpoint is not the CNN")
        .to_string();
    assert!(err.contains("softmax.ckpt"), "{err}");
    assert!(
        err.contains(
            "layer 0: the lesson has Conv2d(1, 32, k=3, s=1, p=1), the checkpoint Linear(784, 10)"
        ),
        "{err}"
    );
    assert!(
        err.contains("layer 7: the lesson has Linear(3136, 10), the checkpoint nothing"),
        "{err}"
    );
    assert!(err.contains("input shape"), "{err}");
}

#[test]
fn small_lessons_refuse_checkpoints() {
    let lesson = lessons::find("xor-mlp").expect("lesson");
    let err = RunFiles::open(&lesson, None, Some(Path::new("x.ckpt")), None)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("--save") && err.contains("xor-mlp"), "{err}");
}

/// A valid checkpoint's bytes (softmax-mnist after one epoch).
fn checkpoint_bytes(tmp: &TempDir) -> Vec<u8> {
    let path = tmp.join("ok.ckpt");
    run("softmax-mnist", 1, |_| {}, None, Some(&path), None);
    std::fs::read(&path).expect("read")
}

/// Recompute the trailing CRC after editing the bytes (to reach the checks behind it).
fn fix_crc(bytes: &mut Vec<u8>) {
    bytes.truncate(bytes.len() - 4);
    let crc = crc32fast::hash(bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
}

fn load_err(tmp: &TempDir, name: &str, bytes: &[u8]) -> String {
    let path = tmp.write(name, bytes);
    let err = Checkpoint::load(&path).expect_err("a bad file").to_string();
    assert!(err.contains(name), "the error names the file: {err}");
    err
}

#[test]
fn corrupt_truncated_and_foreign_files_are_clear_errors() {
    let tmp = TempDir::new("bad");
    let good = checkpoint_bytes(&tmp);
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(load_err(&tmp, "flipped.ckpt", &flipped).contains("checksum"));
    assert!(load_err(&tmp, "cut.ckpt", &good[..good.len() - 100]).contains("checksum"));
    assert!(load_err(&tmp, "tiny.ckpt", &good[..10]).contains("truncated"));
    assert!(load_err(&tmp, "magic.ckpt", &good[..5]).contains("truncated"));
    let foreign = load_err(&tmp, "notes.txt", b"hello, this is not a model\n");
    assert!(foreign.contains("neither a dl-lab checkpoint"), "{foreign}");
    assert!(load_err(&tmp, "empty.ckpt", b"").contains("truncated"));
    let mut v2 = good.clone();
    v2[8] = 2;
    fix_crc(&mut v2);
    assert!(load_err(&tmp, "v2.ckpt", &v2).contains("version 2"));
    // a header claiming far more values than the file holds: an error, not an allocation
    let header_len = u64::from_le_bytes(good[12..20].try_into().expect("8 bytes")) as usize;
    let header = text(&good[20..20 + header_len]);
    let huge = header.replacen("[10,784]", "[1099511627776,1099511627776]", 1);
    assert_ne!(huge, header);
    let mut bytes = good[..12].to_vec();
    bytes.extend_from_slice(&(huge.len() as u64).to_le_bytes());
    bytes.extend_from_slice(huge.as_bytes());
    bytes.extend_from_slice(&good[20 + header_len..]);
    fix_crc(&mut bytes);
    let err = load_err(&tmp, "huge.ckpt", &bytes);
    assert!(err.contains("overflows") || err.contains("values"), "{err}");
    // the CLI says the same, with exit code 1 and no panic
    let o = dl_lab(&[
        "eval",
        "softmax-mnist",
        "--load",
        tmp.join("flipped.ckpt").to_str().expect("UTF-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("flipped.ckpt") && err.contains("checksum") && !err.contains("panick"),
        "{err}"
    );
}

/// A save that fails midway (its temporary file is /dev/full, or cannot be
/// created) is an error naming the checkpoint, and leaves the previous one
/// byte-identical and loadable, with no temporary file behind.
#[test]
fn a_failed_save_keeps_the_previous_checkpoint() {
    let tmp = TempDir::new("atomic");
    let good = checkpoint_bytes(&tmp);
    let path = tmp.join("ok.ckpt");
    let tmp_file = tmp.join(".ok.ckpt.tmp");
    let ck = Checkpoint::load(&path).expect("load");
    let mut ways = 0;
    #[cfg(unix)]
    if Path::new("/dev/full").exists() {
        // every write fails with "no space left on device"
        std::os::unix::fs::symlink("/dev/full", &tmp_file).expect("symlink");
        let err = ck.save(&path).expect_err("a full disk").to_string();
        assert!(err.contains("ok.ckpt:") && !err.contains(".tmp"), "{err}");
        assert!(
            std::fs::symlink_metadata(&tmp_file).is_err(),
            "the temporary file is removed"
        );
        assert_eq!(std::fs::read(&path).expect("read"), good);
        ways += 1;
    }
    // the temporary file cannot be created
    std::fs::create_dir(&tmp_file).expect("mkdir");
    let err = ck.save(&path).expect_err("no temporary file").to_string();
    assert!(err.contains("ok.ckpt:") && !err.contains(".tmp"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), good);
    Checkpoint::load(&path).expect("the previous checkpoint loads");
    ways += 1;
    std::fs::remove_dir(&tmp_file).expect("rmdir");
    // the next save works and leaves nothing behind
    ck.save(&path).expect("save");
    assert_eq!(std::fs::read(&path).expect("read"), good);
    assert!(!tmp_file.exists());
    assert!(ways >= 1);
}

/// The checkpoint `bytes` with its header JSON edited, its values replaced
/// by `values` when given, and a correct CRC.
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut Value), values: Option<&[u8]>) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")) as usize;
    let mut header: Value = serde_json::from_slice(&bytes[20..20 + len]).expect("header");
    edit(&mut header);
    let json = serde_json::to_vec(&header).expect("JSON");
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(values.unwrap_or(&bytes[20 + len..bytes.len() - 4]));
    out.extend_from_slice(&[0; 4]);
    fix_crc(&mut out);
    out
}

/// A zero-size weight with 2^40 optimizer buffers claims no bytes; it used
/// to pass the size check and abort on allocating the buffers.
#[test]
fn a_checkpoint_claiming_huge_buffer_counts_is_an_error() {
    let tmp = TempDir::new("bomb");
    let good = checkpoint_bytes(&tmp);
    let bomb = with_header(
        &good,
        |h| {
            h["weights"] = serde_json::json!([["0.weight", [0]]]);
            h["optimizer_state"] = serde_json::json!([[1, 1099511627776u64]]);
        },
        Some(&[]),
    );
    let err = load_err(&tmp, "bomb.ckpt", &bomb);
    assert!(err.contains("1099511627776 buffers"), "{err}");
    let p = tmp.join("bomb.ckpt");
    let out = tmp.join("o.st");
    let o = dl_lab(&[
        "export",
        p.to_str().expect("UTF-8"),
        out.to_str().expect("UTF-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("bomb.ckpt"), "{}", text(&o.stderr));
    assert!(!out.exists());
    // too many dimensions, even of size 0
    let dims = with_header(
        &good,
        |h| h["weights"] = serde_json::json!([["0.weight", vec![0; 1000]]]),
        Some(&[]),
    );
    assert!(load_err(&tmp, "dims.ckpt", &dims).contains("1000 dimensions"));
}

#[test]
fn a_bad_save_path_fails_before_training_naming_it() {
    let tmp = TempDir::new("savepath");
    let missing = tmp.join("no-such-dir/x.ckpt");
    let dir = tmp.join("a-dir");
    std::fs::create_dir(&dir).expect("mkdir");
    for (path, why) in [(&missing, "does not exist"), (&dir, "is a directory")] {
        let p = path.to_str().expect("UTF-8");
        let o = dl_lab(&[
            "run",
            "softmax-mnist",
            "--epochs",
            "1",
            "--save",
            p,
            "--device",
            "cpu",
        ]);
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("--save {p}: ")) && err.contains(why) && !err.contains(".tmp"),
            "{err}"
        );
        assert!(!text(&o.stdout).contains("Epoch"), "no training first");
    }
    // the library's save names the destination, not its temporary file
    let ck = Checkpoint::load(&tmp.write("ok.ckpt", &checkpoint_bytes(&tmp))).expect("load");
    let err = ck.save(&missing).expect_err("no directory").to_string();
    assert!(err.contains("x.ckpt:") && !err.contains(".tmp"), "{err}");
}

#[test]
fn export_refuses_to_overwrite_a_checkpoint() {
    let tmp = TempDir::new("export-self");
    let good = checkpoint_bytes(&tmp);
    let a = tmp.write("a.ckpt", &good);
    let b = tmp.write("b.ckpt", &good);
    let path = |p: &Path| p.to_str().expect("UTF-8").to_string();
    // the same file, also by another spelling of its path
    let same = tmp.join(".").join("a.ckpt");
    for (out, why) in [
        (&a, "is the checkpoint"),
        (&same, "is the checkpoint"),
        (&b, "is a dl-lab checkpoint"),
    ] {
        let o = dl_lab(&["export", &path(&a), &path(out)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains(why), "{}", text(&o.stderr));
    }
    assert_eq!(std::fs::read(&a).expect("read"), good);
    assert_eq!(std::fs::read(&b).expect("read"), good);
    // another file is replaced, as before
    let st = tmp.write("w.safetensors", b"old");
    let o = dl_lab(&["export", &path(&a), &path(&st)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(Checkpoint::load(&st).expect("load").weights.len(), 2);
}

#[test]
fn changing_momentum_on_resume_starts_a_fresh_optimizer() {
    let tmp = TempDir::new("momentum");
    let ckpt = tmp.join("s.ckpt");
    run("softmax-mnist", 1, |_| {}, None, Some(&ckpt), None);
    let lesson = lessons::find("softmax-mnist").expect("lesson");
    let files = RunFiles::open(&lesson, Some(&ckpt), None, None).expect("files");
    let mut cfg = RunConfig::defaults(&lesson);
    cfg.hyper = files.defaults(&lesson);
    cfg.hyper.epochs = 2;
    cfg.hyper.optimizer = cfg
        .hyper
        .optimizer
        .with_momentum(0.9)
        .expect("sgd has momentum");
    let mut out = Vec::new();
    lessons::run_headless_with(&lesson, &cfg, &Device::Cpu, &files, &mut out).expect("run");
    let log = text(&out);
    assert!(
        log.contains("was trained with momentum 0,")
            && log.contains("optimizer starts fresh")
            && log.contains("Epoch: 0002"),
        "{log}"
    );
    // a state that fits with unchanged settings but is broken is still the file's fault
    let bytes = std::fs::read(&ckpt).expect("read");
    let broken = with_header(
        &bytes,
        |h| h["optimizer_state"] = serde_json::json!([[0, 0], [0, 0]]),
        None,
    );
    let path = tmp.write("broken.ckpt", &broken);
    let files = RunFiles::open(&lesson, Some(&path), None, None).expect("files");
    cfg.hyper = files.defaults(&lesson);
    cfg.hyper.epochs = 2;
    let err = lessons::run_headless_with(&lesson, &cfg, &Device::Cpu, &files, &mut Vec::new())
        .expect_err("a state after 0 steps")
        .to_string();
    assert!(
        err.contains("broken.ckpt") && err.contains("optimizer state"),
        "{err}"
    );
}

#[test]
fn resume_drops_history_rows_past_the_checkpoint() {
    let tmp = TempDir::new("history-drop");
    let (csv, ckpt) = (tmp.join("h.csv"), tmp.join("h.ckpt"));
    run("softmax-mnist", 2, |_| {}, None, Some(&ckpt), Some(&csv));
    // an abandoned epoch 3 (and one more) from a later run
    let mut body = std::fs::read_to_string(&csv).expect("read");
    body.push_str("3,999,0.5,1.0\n4,998,0.5,1.0\n");
    std::fs::write(&csv, body).expect("write");
    let lines = run("softmax-mnist", 3, |_| {}, Some(&ckpt), None, Some(&csv));
    let body = std::fs::read_to_string(&csv).expect("read");
    let rows: Vec<&str> = body.lines().collect();
    let epochs: Vec<&str> = rows
        .iter()
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(epochs, ["epoch", "1", "2", "3"], "{body}");
    assert!(!body.contains("999") && !body.contains("998"), "{body}");
    let loss: f64 = rows[3]
        .split(',')
        .nth(1)
        .expect("loss")
        .parse()
        .expect("loss");
    assert_eq!(loss as f32, lines[0]["loss"].as_f64().expect("loss") as f32);
}

#[test]
fn resume_without_epochs_names_the_default_before_any_header() {
    let tmp = TempDir::new("default-epochs");
    let ckpt = tmp.join("one.ckpt");
    run("softmax-mnist", 1, |_| {}, None, Some(&ckpt), None);
    // as if saved after epoch 20 (softmax-mnist's default is 15)
    let bytes = std::fs::read(&ckpt).expect("read");
    let late = tmp.write(
        "late.ckpt",
        &with_header(&bytes, |h| h["run"]["epoch"] = 20.into(), None),
    );
    let o = dl_lab(&[
        "run",
        "softmax-mnist",
        "--load",
        late.to_str().expect("UTF-8"),
        "--device",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("the lesson's default of 15 epochs")
            && err.contains("late.ckpt was saved after epoch 20")
            && err.contains("--epochs above 20")
            && !err.contains("--epochs 15"),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "", "no header before the error");
}

#[test]
fn small_lessons_name_the_flag_they_refuse() {
    let o = dl_lab(&["run", "linear", "--history", "x.csv"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("--history is for the MNIST lessons") && !err.contains("checkpoint"),
        "{err}"
    );
    assert!(!Path::new("x.csv").exists());
}

fn fixture_json(lesson: &str) -> Value {
    let body = std::fs::read_to_string(fixture(&format!("{lesson}.json"))).expect("fixture json");
    serde_json::from_str(&body).expect("JSON")
}

/// The fixed input make_fixture.py feeds: pixel i = (i % 29) / 28.
fn fixed_input(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| (i % 29) as f32 / 28.0).collect();
    let mut s = vec![1];
    s.extend_from_slice(shape);
    Tensor::from_vec(&s, v).expect("input")
}

fn check_pytorch_fixture(lesson: &str, input_shape: &[usize]) {
    let want = fixture_json(lesson);
    let path = fixture(&format!("{lesson}.safetensors"));
    let ck = Checkpoint::load(&path).expect("PyTorch's file loads");
    assert!(ck.run.is_none());
    let model = files::load_model(&lessons::find(lesson).expect("lesson"), &path, &Device::Cpu)
        .expect("the lesson's model takes it");
    let weights = want["weights"].as_object().expect("weights");
    let params = model.named_parameters();
    assert_eq!(params.len(), weights.len());
    for (name, t) in params {
        let w = &weights[&name];
        let shape: Vec<usize> = w["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("dim") as usize)
            .collect();
        assert_eq!(t.shape(), shape, "{name}");
        let v = t.to_vec();
        // JSON holds the float32 values exactly (as doubles)
        assert_eq!(v[0], w["first"].as_f64().expect("first") as f32, "{name}");
        assert_eq!(
            v[v.len() - 1],
            w["last"].as_f64().expect("last") as f32,
            "{name}"
        );
    }
    let logits = model
        .forward(&fixed_input(input_shape))
        .expect("forward")
        .to_vec();
    let expect: Vec<f32> = want["logits"]
        .as_array()
        .expect("logits")
        .iter()
        .map(|v| v.as_f64().expect("logit") as f32)
        .collect();
    assert_eq!(logits.len(), 10);
    for (i, (a, b)) in logits.iter().zip(&expect).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
            "{lesson} logit {i}: {a} vs PyTorch {b}"
        );
    }
}

#[test]
fn pytorch_fixture_loads_with_its_values() {
    check_pytorch_fixture("softmax-mnist", &[784]);
    check_pytorch_fixture("cnn-mnist", &[1, 28, 28]);
}

#[test]
fn export_then_import_round_trips_bit_for_bit() {
    let tmp = TempDir::new("export");
    // PyTorch's own file, read and written again: the same bytes
    for lesson in ["softmax-mnist", "cnn-mnist"] {
        let src = fixture(&format!("{lesson}.safetensors"));
        let ck = Checkpoint::load(&src).expect("load");
        let out = tmp.join(format!("{lesson}.safetensors"));
        ck.export_safetensors(&out).expect("export");
        let back = Checkpoint::load(&out).expect("reload");
        assert_eq!(back.weights, ck.weights, "{lesson}");
        assert_eq!(
            std::fs::read(&out).expect("read"),
            std::fs::read(&src).expect("read"),
            "{lesson}: PyTorch's file and ours differ"
        );
    }
    // a trained checkpoint: export, import, the same values; eval scores both the same
    let ckpt = tmp.join("run.ckpt");
    run("softmax-mnist", 1, |_| {}, None, Some(&ckpt), None);
    let st = tmp.join("run.safetensors");
    let o = dl_lab(&[
        "export",
        ckpt.to_str().expect("UTF-8"),
        st.to_str().expect("UTF-8"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("0.weight [10, 784], 0.bias [10]"));
    let a = Checkpoint::load(&ckpt).expect("load");
    let b = Checkpoint::load(&st).expect("load");
    let sorted = |mut w: Vec<(String, dl_lab::engine::Array)>| {
        w.sort_by(|x, y| x.0.cmp(&y.0));
        w
    };
    assert_eq!(sorted(a.weights), sorted(b.weights));
    let eval = |p: &Path| {
        let o = dl_lab(&[
            "eval",
            "softmax-mnist",
            "--load",
            p.to_str().expect("UTF-8"),
            "--json",
            "--device",
            "cpu",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_str::<Value>(text(&o.stdout).trim()).expect("JSON")
    };
    let (x, y) = (eval(&ckpt), eval(&st));
    assert_eq!(x, y);
    let keys: Vec<&String> = x.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["test_acc", "loss", "n", "confusion"]);
    assert_eq!(x["n"], 1000);
    let acc = x["test_acc"].as_f64().expect("acc");
    // the confusion matrix: 10 rows of 10 counts, summing to n, its
    // diagonal to the accuracy, each row to that label's images
    let m: Vec<Vec<u64>> = serde_json::from_value(x["confusion"].clone()).expect("10x10");
    assert_eq!(m.len(), 10);
    assert!(m.iter().all(|r| r.len() == 10));
    assert_eq!(m.iter().flatten().sum::<u64>(), 1000);
    let diag: u64 = (0..10).map(|i| m[i][i]).sum();
    assert!((diag as f64 / 1000.0 - acc).abs() < 1e-6, "{diag} vs {acc}");
    let data = dl_lab::data::mnist::Mnist::shipped().expect("shipped");
    let counts = data.test.class_counts();
    for (label, row) in m.iter().enumerate() {
        assert_eq!(row.iter().sum::<u64>() as usize, counts[label]);
    }
    assert!(acc > 0.7 && acc <= 1.0, "{x}");
}

#[test]
fn safetensors_with_other_names_or_shapes_say_which() {
    let tmp = TempDir::new("names");
    let mut ck = Checkpoint::load(&fixture("softmax-mnist.safetensors")).expect("load");
    ck.weights[0].0 = "fc.bias".into();
    let out = tmp.join("renamed.safetensors");
    ck.export_safetensors(&out).expect("export");
    let err = files::load_model(
        &lessons::find("softmax-mnist").expect("lesson"),
        &out,
        &Device::Cpu,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("renamed.safetensors"), "{err}");
    assert!(
        err.contains("0.bias is missing") && err.contains("fc.bias is not a parameter"),
        "{err}"
    );
    let err = files::load_model(
        &lessons::find("cnn-mnist").expect("lesson"),
        &fixture("softmax-mnist.safetensors"),
        &Device::Cpu,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        err.contains("0.weight: the model has shape [32, 1, 3, 3], the file [10, 784]"),
        "{err}"
    );
}

#[test]
fn run_starts_from_pytorch_weights_with_a_fresh_optimizer() {
    let path = fixture("softmax-mnist.safetensors");
    let lesson = lessons::find("softmax-mnist").expect("lesson");
    let files = RunFiles::open(&lesson, Some(&path), None, None).expect("files");
    let mut cfg = RunConfig::defaults(&lesson);
    cfg.hyper = files.defaults(&lesson);
    assert_eq!(
        cfg.hyper, lesson.defaults,
        "weights alone carry no settings"
    );
    cfg.hyper.epochs = 1;
    let mut out = Vec::new();
    lessons::run_headless_with(&lesson, &cfg, &Device::Cpu, &files, &mut out).expect("run");
    let log = text(&out);
    assert!(
        log.contains("starting from the weights in") && log.contains("Epoch: 0001"),
        "{log}"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn good() -> &'static [u8] {
        static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        BYTES.get_or_init(|| {
            let tmp = TempDir::new("fuzz");
            checkpoint_bytes(&tmp)
        })
    }

    fn fixture_bytes() -> &'static [u8] {
        static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        BYTES.get_or_init(|| std::fs::read(fixture("softmax-mnist.safetensors")).expect("fixture"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_bytes_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..512), magic in any::<bool>()) {
            let mut b = bytes;
            if magic {
                b.splice(0..0, MAGIC.iter().copied());
            }
            let r = Checkpoint::from_bytes(Path::new("random.bin"), &b);
            let err = r.expect_err("random bytes are no checkpoint").to_string();
            prop_assert!(err.contains("random.bin"), "{}", err);
        }

        #[test]
        fn mutated_checkpoints_are_errors(at in any::<prop::sample::Index>(), xor in 1u8..=255, cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
            let good = good();
            let b = if truncate {
                good[..cut.index(good.len())].to_vec()
            } else {
                let mut b = good.to_vec();
                b[at.index(good.len())] ^= xor;
                b
            };
            let err = Checkpoint::from_bytes(Path::new("m.ckpt"), &b).expect_err("caught").to_string();
            prop_assert!(err.contains("m.ckpt"), "{}", err);
        }

        /// Flipped header bytes with the CRC fixed: the parser itself must
        /// answer, with a checkpoint or an error naming the file.
        #[test]
        fn header_mutations_past_the_crc_are_caught(at in any::<prop::sample::Index>(), xor in 1u8..=255) {
            let good = good();
            let len = u64::from_le_bytes(good[12..20].try_into().expect("8 bytes")) as usize;
            let mut b = good.to_vec();
            b[at.index(20 + len)] ^= xor;
            fix_crc(&mut b);
            if let Err(e) = Checkpoint::from_bytes(Path::new("h.ckpt"), &b) {
                prop_assert!(e.to_string().contains("h.ckpt"), "{}", e);
            }
        }

        /// Sizes, counts and steps in the header set to anything, the body
        /// cut or grown to match or not, the CRC fixed.
        #[test]
        fn header_sizes_past_the_crc_are_caught(
            param in 0usize..3,
            dim in 0usize..3,
            size in prop_oneof![Just(0u64), 0u64..2000, Just(u64::MAX), any::<u64>()],
            buffers in prop_oneof![Just(0u64), 0u64..8, Just(1u64 << 40), any::<u64>()],
            step in any::<u64>(),
            body in prop_oneof![Just(None), (0usize..20_000).prop_map(Some)],
        ) {
            let values = body.map(|n| vec![0u8; n]);
            let b = with_header(good(), |h| {
                if let Some(shape) = h["weights"].get_mut(param).and_then(|w| w.get_mut(1)) {
                    if let Some(d) = shape.get_mut(dim) {
                        *d = size.into();
                    } else if let Some(s) = shape.as_array_mut() {
                        s.push(size.into());
                    }
                }
                if let Some(s) = h["optimizer_state"].get_mut(param) {
                    *s = serde_json::json!([step, buffers]);
                }
            }, values.as_deref());
            match Checkpoint::from_bytes(Path::new("s.ckpt"), &b) {
                Ok(ck) => prop_assert_eq!(ck.weights.len(), 2),
                Err(e) => prop_assert!(e.to_string().contains("s.ckpt"), "{}", e),
            }
        }

        #[test]
        fn mutated_safetensors_never_panic(at in any::<prop::sample::Index>(), xor in 1u8..=255, cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
            let good = fixture_bytes();
            let b = if truncate {
                good[..cut.index(good.len())].to_vec()
            } else {
                // mostly the 8-byte length and the JSON header, where a flip changes meaning
                let mut b = good.to_vec();
                let i = at.index(200.min(good.len()));
                b[i] ^= xor;
                b
            };
            // a flipped value byte is still a valid file; anything else must be an error naming it
            match Checkpoint::from_bytes(Path::new("m.safetensors"), &b) {
                Ok(ck) => prop_assert_eq!(ck.weights.len(), 2),
                Err(e) => prop_assert!(e.to_string().contains("m.safetensors"), "{}", e),
            }
        }
    }
}

#[test]
fn a_history_from_before_train_acc_is_carried_on_under_the_new_header() {
    use dl_lab::train::{EpochCsv, EpochSummary};
    let tmp = TempDir::new("old-history");
    let csv = tmp.join("old.csv");
    std::fs::write(
        &csv,
        "epoch,loss,test_acc,img_per_s\n1,0.5,0.8,100.0\n2,0.4,0.85,100.0\n",
    )
    .expect("write");
    // resumed after epoch 1: epoch 2's row (an abandoned run) goes, epoch 1's stays
    let mut h = EpochCsv::open_after(&csv, Some(1)).expect("open");
    h.push(&EpochSummary {
        epoch: 2,
        loss: 0.375,
        test_acc: 0.875,
        img_per_s: 200.0,
        train_acc: 0.9,
        test_loss: 0.25,
        predictions: None,
    })
    .expect("push");
    drop(h);
    assert_eq!(
        std::fs::read_to_string(&csv).expect("read"),
        "epoch,loss,test_acc,img_per_s,train_acc,test_loss\n\
         1,0.5,0.8,100.0,,\n\
         2,0.375,0.875,200.0,0.9,0.25\n"
    );
}

/// `--init` goes into the checkpoint, comes back as the run's setting when
/// it is loaded, stays through a resumed run's save, and is reported; a
/// checkpoint from before the field loads as PyTorch's default, and an
/// unknown name is an error naming the file.
#[test]
fn init_round_trips_through_a_checkpoint() {
    use dl_lab::nn::init::Init;
    let tmp = TempDir::new("init");
    let path = tmp.join("x.ckpt");
    run(
        "softmax-mnist",
        1,
        |h| h.init = Init::Xavier,
        None,
        Some(&path),
        None,
    );
    let ck = Checkpoint::load(&path).expect("load");
    assert_eq!(ck.run.as_ref().expect("a run").init, "xavier");
    let lesson = lessons::find("softmax-mnist").expect("lesson");
    let files = RunFiles::open(&lesson, Some(&path), None, None).expect("files");
    assert_eq!(files.defaults(&lesson).init, Init::Xavier);
    // resumed with the lesson's default init: the saved weights were still
    // first drawn with xavier, and the next save says so
    run(
        "softmax-mnist",
        2,
        |h| h.init = Init::Uniform,
        Some(&path),
        Some(&path),
        None,
    );
    let again = Checkpoint::load(&path).expect("load");
    let r = again.run.expect("a run");
    assert_eq!((r.epoch, r.init.as_str()), (2, "xavier"));
    // the command line reports it
    let p = path.to_str().expect("UTF-8");
    let o = dl_lab(&[
        "run",
        "softmax-mnist",
        "--load",
        p,
        "--epochs",
        "3",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("started from --init xavier"),
        "{}",
        text(&o.stdout)
    );
    // an older file, without the field: PyTorch's default
    let bytes = std::fs::read(&path).expect("read");
    let old = with_header(
        &bytes,
        |h| {
            h["run"].as_object_mut().expect("run").remove("init");
        },
        None,
    );
    let old_path = tmp.write("old.ckpt", &old);
    let r = Checkpoint::load(&old_path).expect("an old checkpoint loads");
    assert_eq!(r.run.expect("a run").init, "uniform");
    let bad = with_header(&bytes, |h| h["run"]["init"] = "gaussian".into(), None);
    let err = load_err(&tmp, "badinit.ckpt", &bad);
    assert!(err.contains("gaussian") && err.contains("--init"), "{err}");
}
