//! Devices from the outside: `--device` on `run`, `bench` and the lab,
//! `dl-lab devices`, `dl-lab bench --json`, and `Module::to`. The binary is
//! run with `OCL_ICD_VENDORS` pointing at an empty directory to play a
//! machine without any OpenCL driver (ocl-icd then finds no platform).

#[macro_use]
mod common;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Arc;

use common::TempDir;
use serde_json::Value;

use dl_lab::backend::opencl::DeviceInfo;
use dl_lab::backend::{Device, DeviceSpec};
use dl_lab::nn::{Linear, Module, Sequential};

/// Run `dl-lab args…`, with `OCL_ICD_VENDORS` set to `vendors` if given.
fn dl_lab_env(args: &[&str], vendors: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dl-lab"));
    cmd.args(args).stdin(Stdio::null());
    if let Some(v) = vendors {
        cmd.env("OCL_ICD_VENDORS", v);
    }
    cmd.output().expect("start dl-lab")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// A machine without OpenCL: an ICD vendors directory with nothing in it.
fn no_driver() -> TempDir {
    TempDir::new("no-opencl-vendors")
}

fn assert_clean_failure(o: &Output, what: &str) -> String {
    let err = text(&o.stderr);
    assert!(
        !o.status.success(),
        "{what} should fail: {}",
        text(&o.stdout)
    );
    assert_eq!(o.status.code(), Some(1), "{what}: exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    err
}

// ---------------------------------------------------------------- dl-lab devices

#[test]
fn devices_lists_a_device_or_says_how_to_get_one() {
    let o = dl_lab_env(&["devices"], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    if out.starts_with("No OpenCL device found.") {
        assert!(out.contains("apt-get install pocl-opencl-icd"), "{out}");
        assert!(out.contains("--device cpu"), "{out}");
    } else {
        assert!(out.starts_with("OpenCL platform: "), "{out}");
        assert!(out.contains("  opencl:0 "), "{out}");
        assert!(out.contains("compute units"), "{out}");
        assert!(out.contains("--device opencl:N"), "{out}");
    }
}

#[test]
fn devices_without_a_driver_says_so_and_exits_zero() {
    let vendors = no_driver();
    let o = dl_lab_env(&["devices"], Some(vendors.path()));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "No OpenCL device found.", "{out}");
    assert!(lines[1].starts_with("  why: "), "{out}");
    assert!(
        out.contains("Debian/Ubuntu: apt-get install pocl-opencl-icd"),
        "{out}"
    );
}

fn info(index: usize, platform: &str, name: &str, kind: &str) -> DeviceInfo {
    DeviceInfo {
        index,
        platform: platform.into(),
        name: name.into(),
        kind: kind.into(),
        compute_units: 16,
        memory_bytes: 8 << 30,
        version: "OpenCL 3.0".into(),
    }
}

#[test]
fn devices_report_groups_by_platform_and_names_auto_choice() {
    let lines = dl_lab::devices::report_from(Ok(vec![
        info(0, "Portable Computing Language", "cpu-haswell", "CPU"),
        info(1, "NVIDIA CUDA", "GeForce RTX 3080", "GPU"),
    ]));
    assert_eq!(lines[0], "OpenCL platform: Portable Computing Language");
    assert_eq!(
        lines[1],
        "  opencl:0   cpu-haswell  [CPU, 16 compute units, 8.0 GiB, OpenCL 3.0]"
    );
    assert_eq!(lines[2], "OpenCL platform: NVIDIA CUDA");
    assert!(lines[3].starts_with("  opencl:1   GeForce RTX 3080  [GPU, "));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("--device auto (the default) uses the first GPU, opencl:1.")
    );

    let cpu_only = dl_lab::devices::report_from(Ok(vec![info(0, "PoCL", "cpu", "CPU")]));
    assert!(cpu_only
        .last()
        .expect("lines")
        .contains("uses the CPU engine here"));

    let empty = dl_lab::devices::report_from(Ok(vec![]));
    assert_eq!(empty[0], "No OpenCL device found.");
    assert!(empty.iter().any(|l| l.contains("pocl-opencl-icd")));
}

#[test]
fn memory_is_shown_in_gib_or_mib() {
    assert_eq!(dl_lab::devices::format_memory(8 << 30), "8.0 GiB");
    assert_eq!(dl_lab::devices::format_memory(3 << 29), "1.5 GiB");
    assert_eq!(dl_lab::devices::format_memory(512 << 20), "512 MiB");
}

// ---------------------------------------------------------------- --device

#[test]
fn device_opencl_without_a_driver_is_a_clear_error() {
    let vendors = no_driver();
    for args in [
        &[
            "run",
            "softmax-mnist",
            "--epochs",
            "1",
            "--device",
            "opencl",
        ][..],
        &["run", "cnn-mnist", "--epochs", "1", "--device", "opencl:0"],
        &["bench", "--device", "opencl", "--quick"],
    ] {
        let o = dl_lab_env(args, Some(vendors.path()));
        let err = assert_clean_failure(&o, &format!("{args:?}"));
        let spec = args
            .last()
            .copied()
            .filter(|a| a.starts_with("opencl"))
            .unwrap_or("opencl");
        assert!(
            err.starts_with(&format!("error: --device {spec}: OpenCL ")),
            "{args:?}: {err}"
        );
        assert!(text(&o.stdout).is_empty(), "{args:?} trained anyway");
    }
}

#[test]
fn device_auto_without_a_driver_trains_on_the_cpu_and_says_so_once() {
    let vendors = no_driver();
    let o = dl_lab_env(
        &["run", "softmax-mnist", "--epochs", "1", "--device", "auto"],
        Some(vendors.path()),
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let notes: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(notes.len(), 1, "one note, once: {err}");
    assert!(notes[0].starts_with("device auto: "), "{err}");
    assert!(notes[0].contains("using the CPU engine"), "{err}");
    let out = text(&o.stdout);
    assert!(
        out.lines()
            .nth(1)
            .expect("header")
            .ends_with(", device cpu"),
        "{out}"
    );
    let last = out.lines().last().expect("an epoch line");
    assert!(last.starts_with("Epoch: 0001 loss = "), "{out}");
    let acc: f64 = last
        .split("test_acc = ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("test_acc");
    assert!(acc > 0.5, "{out}");
}

#[test]
fn device_cpu_prints_no_note() {
    let o = dl_lab_env(
        &[
            "run",
            "softmax-mnist",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    let v: Value = serde_json::from_str(text(&o.stdout).trim()).expect("JSON line");
    assert_eq!(v["epoch"], 1);
}

#[test]
fn small_lessons_stay_on_the_cpu_whatever_the_device() {
    let vendors = no_driver();
    let o = dl_lab_env(
        &["run", "linear", "--epochs", "1", "--device", "opencl"],
        Some(vendors.path()),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("lesson linear runs on the CPU engine"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("Epoch    1/1 W: "));
}

#[test]
fn device_bogus_is_a_clear_error_everywhere() {
    for args in [
        &["run", "softmax-mnist", "--device", "bogus"][..],
        &["bench", "--device", "bogus"],
        &["--device", "bogus"],
        &["run", "softmax-mnist", "--device", "opencl:x"],
    ] {
        let o = dl_lab_env(args, None);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("unknown device"), "{args:?}: {err}");
        assert!(
            err.contains("--device takes cpu, opencl, opencl:N or auto"),
            "{err}"
        );
    }
}

#[test]
fn device_spec_parses_what_the_help_says() {
    assert_eq!("cpu".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Cpu));
    assert_eq!("auto".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Auto));
    assert_eq!(
        "opencl".parse::<DeviceSpec>().ok(),
        Some(DeviceSpec::OpenCl(None))
    );
    assert_eq!(
        "OpenCL:2".parse::<DeviceSpec>().ok(),
        Some(DeviceSpec::OpenCl(Some(2)))
    );
    assert!("gpu".parse::<DeviceSpec>().is_err());
}

// ---------------------------------------------------------------- dl-lab bench

#[test]
fn bench_json_has_every_figure_with_the_agreed_fields() {
    let o = dl_lab_env(&["bench", "--json", "--device", "cpu", "--quick"], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let keys =
        |v: &Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
    let positive = |v: &Value, k: &str| {
        let x = v[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} is not a number: {v}"));
        assert!(x.is_finite() && x > 0.0, "{k} = {x} in {v}");
    };
    assert_eq!(lines.len(), 3 + 4 + 2 + 3, "{out}");
    for v in &lines {
        assert_eq!(v["device"], "cpu", "{v}");
    }
    for (v, n) in lines[..3].iter().zip([256, 1024, 2048]) {
        assert_eq!(keys(v), ["bench", "device", "n", "gflops"]);
        assert_eq!(v["bench"], "matmul");
        assert_eq!(v["n"], n);
        positive(v, "gflops");
    }
    let convs: Vec<(String, String)> = lines[3..7]
        .iter()
        .map(|v| {
            assert_eq!(keys(v), ["bench", "device", "layer", "pass", "ms"]);
            assert_eq!(v["bench"], "conv");
            positive(v, "ms");
            (
                v["layer"].as_str().expect("layer").into(),
                v["pass"].as_str().expect("pass").into(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = convs
        .iter()
        .map(|(l, p)| (l.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("conv1", "forward"),
            ("conv1", "backward"),
            ("conv2", "forward"),
            ("conv2", "backward")
        ]
    );
    let (train, infer) = (&lines[7], &lines[8]);
    assert_eq!(keys(train), ["bench", "device", "batch", "img_per_s"]);
    assert_eq!(train["bench"], "cnn-train");
    assert_eq!(train["batch"], 100);
    positive(train, "img_per_s");
    assert_eq!(keys(infer), ["bench", "device", "batch", "img_per_s"]);
    assert_eq!(infer["bench"], "cnn-infer");
    assert_eq!(infer["batch"], 1000);
    positive(infer, "img_per_s");
    // the figures PyTorch's side (torch_same_work.py) reports too, under its key names
    let (test, gd, mlp) = (&lines[9], &lines[10], &lines[11]);
    assert_eq!(keys(test), ["bench", "device", "images", "cnn_test_acc"]);
    assert_eq!(test["bench"], "cnn-test");
    assert_eq!(test["images"], 1000, "the shipped held-out images");
    let acc = test["cnn_test_acc"].as_f64().expect("accuracy");
    assert!((0.0..=1.0).contains(&acc), "{test}");
    assert_eq!(keys(gd), ["bench", "device", "steps", "gd_scalar_100k_s"]);
    assert_eq!(gd["bench"], "gd-scalar");
    assert_eq!(gd["steps"], 1000, "--quick times 1% of the steps");
    positive(gd, "gd_scalar_100k_s");
    assert_eq!(
        keys(mlp),
        ["bench", "device", "epochs", "mlp_10k_s", "mlp_final_loss"]
    );
    assert_eq!(mlp["bench"], "mlp");
    assert_eq!(mlp["epochs"], 100);
    positive(mlp, "mlp_10k_s");
    // the lesson's cost after 100 epochs, as `dl-lab run mlp-regression` logs it
    let run = dl_lab_env(
        &[
            "run",
            "mlp-regression",
            "--epochs",
            "99",
            "--json",
            "--log-every",
            "1000",
        ],
        None,
    );
    let last: Value =
        serde_json::from_str(text(&run.stdout).lines().last().expect("a line")).expect("JSON");
    assert_eq!(mlp["mlp_final_loss"], last["cost"], "{mlp} vs {last}");
}

#[test]
fn bench_only_measures_the_groups_it_names() {
    // each line's "bench", from a quick CPU run of the groups asked
    let benches = |only: &str| -> Vec<String> {
        let o = dl_lab_env(
            &[
                "bench", "--json", "--device", "cpu", "--quick", "--only", only,
            ],
            None,
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("JSON");
                v["bench"].as_str().expect("a name").to_string()
            })
            .collect()
    };
    // in the usual order, whatever the order asked
    assert_eq!(benches("mlp,matmul"), ["matmul", "matmul", "matmul", "mlp"]);
    assert_eq!(
        benches("cnn,gd-scalar"),
        ["cnn-train", "cnn-infer", "cnn-test", "gd-scalar"]
    );
    let o = dl_lab_env(&["bench", "--only", "matmul,gpu"], None);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("invalid value 'gpu' for '--only <FIGURES>'")
            && err.contains("[possible values: matmul, conv, cnn, gd-scalar, mlp]"),
        "{err}"
    );
}

#[test]
fn bench_table_names_the_device() {
    let o = dl_lab_env(
        &["bench", "--device", "cpu", "--threads", "1", "--quick"],
        None,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "dl-lab bench on cpu (1 threads)", "{out}");
    assert_eq!(lines.len(), 2 + 12, "{out}");
    assert!(lines[2].starts_with("matmul     256x256 ") && lines[2].ends_with(" GFLOP/s"));
    assert!(lines[5].starts_with("conv1      forward 1->32 on 28x28") && lines[5].ends_with(" ms"));
    assert!(lines[9].starts_with("cnn-train  batch 100, Adam") && lines[9].ends_with(" images)"));
    assert!(lines[10].starts_with("cnn-infer  batch 1000, no_grad"));
    assert!(
        lines[11].starts_with("cnn-test   1000 held-out images")
            && lines[11].ends_with(" accuracy")
    );
    assert!(
        lines[12].starts_with("gd-scalar  100000 steps, on cpu")
            && lines[12].ends_with(" s (scaled from 1000)")
    );
    assert!(
        lines[13].starts_with("mlp        10000 epochs, on cpu"),
        "{}",
        lines[13]
    );
}

#[test]
fn bench_json_figures_format() {
    use dl_lab::bench::{Figure, Pass};
    let d = Device::Cpu;
    let conv = Figure::Conv {
        layer: "conv2",
        pass: Pass::Backward,
        ms: 12.345678,
    };
    assert_eq!(
        conv.json(&d).to_string(),
        r#"{"bench":"conv","device":"cpu","layer":"conv2","pass":"backward","ms":12.3457}"#
    );
    let m = Figure::Matmul {
        n: 1024,
        gflops: 87.654321,
    };
    assert_eq!(
        m.json(&d).to_string(),
        r#"{"bench":"matmul","device":"cpu","n":1024,"gflops":87.654}"#
    );
    let mlp = Figure::Mlp {
        epochs: 10_000,
        secs: 0.812345,
        final_loss: 0.00269,
    };
    assert_eq!(
        mlp.json(&d).to_string(),
        r#"{"bench":"mlp","device":"cpu","epochs":10000,"mlp_10k_s":0.8123,"mlp_final_loss":0.00269}"#
    );
    let test = Figure::CnnTest {
        images: 2000,
        acc: 0.93456,
    };
    assert_eq!(
        test.json(&d).to_string(),
        r#"{"bench":"cnn-test","device":"cpu","images":2000,"cnn_test_acc":0.9346}"#
    );
}

// ---------------------------------------------------------------- Module::to and the lab

fn tiny_model() -> Sequential {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    Sequential::new(vec![Box::new(Linear::new(3, 2, &mut rng))])
}

#[test]
fn module_to_keeps_parameter_identity_and_values() {
    let model = tiny_model();
    let before: Vec<(usize, Vec<f32>)> = model
        .parameters()
        .iter()
        .map(|p| (p.id(), p.to_vec()))
        .collect();
    model.to(&Device::Cpu).expect("to cpu");
    let after: Vec<(usize, Vec<f32>)> = model
        .parameters()
        .iter()
        .map(|p| (p.id(), p.to_vec()))
        .collect();
    assert_eq!(before, after);

    // on a real OpenCL device (PoCL on CI) the same parameters move there and back
    let Some(device) = common::opencl_device() else {
        return;
    };
    model.to(&device).expect("to opencl");
    for (p, (id, values)) in model.parameters().iter().zip(&before) {
        assert_eq!(p.id(), *id);
        assert_eq!(p.device(), device);
        assert_eq!(p.to_vec(), *values);
    }
    model.to(&Device::Cpu).expect("back to cpu");
    assert!(model.parameters().iter().all(|p| p.device().is_cpu()));
}

#[test]
fn lab_status_line_names_the_device_and_shows_autos_note() {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    let (tx, _rx) = mpsc::channel();
    let data = dl_lab::data::mnist::Mnist::shipped().expect("shipped sample");
    let lesson = dl_lab::lessons::find("cnn-mnist").expect("lesson");
    let note = "device auto: no OpenCL GPU found, using the CPU engine".to_string();
    let app = dl_lab::tui::app::App::new(lesson, Arc::new(data), false, tx)
        .with_device(Device::Cpu, Some(note.clone()));
    assert_eq!(app.message.as_deref(), Some(note.as_str()));
    let area = Rect::new(0, 0, 160, 30);
    let mut buf = Buffer::empty(area);
    dl_lab::tui::views::render_to(&app, area, &mut buf);
    let status: String = (0..area.width).map(|x| buf[(x, 29)].symbol()).collect();
    assert!(
        status.starts_with(" cnn-mnist  cpu │ lr 0.001 │ device auto: no OpenCL GPU found"),
        "{status}"
    );
}

#[test]
fn softmax_mnist_trains_on_opencl_as_on_the_cpu() {
    if common::opencl_device().is_none() {
        return;
    }
    let epoch = |device: &str| -> Value {
        let args = [
            "run",
            "softmax-mnist",
            "--epochs",
            "1",
            "--json",
            "--device",
            device,
        ];
        let o = dl_lab_env(&args, None);
        assert!(o.status.success(), "{device}: {}", text(&o.stderr));
        serde_json::from_str(text(&o.stdout).trim()).expect("one JSON line")
    };
    let (cpu, cl) = (epoch("cpu"), epoch("opencl"));
    let num = |v: &Value, k: &str| v[k].as_f64().expect("number");
    assert!(
        (num(&cpu, "loss") - num(&cl, "loss")).abs() < 1e-3,
        "{cpu} vs {cl}"
    );
    assert!(
        (num(&cpu, "test_acc") - num(&cl, "test_acc")).abs() <= 0.002,
        "{cpu} vs {cl}"
    );
}

#[test]
fn an_op_on_two_devices_is_an_error_naming_both() {
    let Some(device) = common::opencl_device() else {
        return;
    };
    let a = dl_lab::Tensor::ones(&[2, 3]);
    let b = dl_lab::Tensor::ones(&[2, 3])
        .to(&device)
        .expect("to device");
    for err in [
        a.add(&b).expect_err("cpu + opencl"),
        b.mul(&a).expect_err("opencl * cpu"),
        a.matmul(&b.t().expect("t")).expect_err("matmul"),
    ] {
        let msg = err.to_string();
        assert!(
            msg.contains("different devices") && msg.contains("cpu") && msg.contains("opencl:0"),
            "{msg}"
        );
    }
    // a 0-d CPU constant follows the other operand, as in PyTorch
    let y = b.mul_scalar(2.0).add_scalar(1.0);
    assert_eq!(y.device(), device);
    assert_eq!(y.to_vec(), vec![3.0; 6]);
    // and back: the value moves, the device changes
    let back = y.to(&dl_lab::backend::Device::Cpu).expect("to cpu");
    assert!(back.device().is_cpu());
    assert_eq!(back.to_vec(), vec![3.0; 6]);
}

#[test]
fn training_on_opencl_keeps_the_buffer_pool_flat() {
    // A fresh input batch every step: its buffer must be reused, not parked
    // in the pool step after step (that grew a 40-epoch run to 754 MB).
    if common::opencl_device().is_none() {
        return;
    }
    // a device of its own: the shared one's pool also serves the tests
    // running beside this one in the same binary
    let cl = dl_lab::backend::opencl::ClDevice::open(None).expect("open the device");
    let device = Device::OpenCl(cl.clone());
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
    let model = Sequential::new(vec![Box::new(Linear::new(784, 10, &mut rng))]);
    model.to(&device).expect("model to device");
    let mut opt =
        dl_lab::optim::build_optimizer("adam", model.parameters(), 1e-3, 0.0, 0.0).expect("adam");
    let mut held = Vec::new();
    for step in 0..30 {
        let x: Vec<f32> = (0..100 * 784)
            .map(|i| ((i + step) % 255) as f32 / 255.0)
            .collect();
        let x = dl_lab::Tensor::from_vec(&[100, 784], x)
            .expect("batch")
            .to(&device)
            .expect("to device");
        let labels: Vec<usize> = (0..100).map(|i| (i + step) % 10).collect();
        let loss =
            dl_lab::nn::cross_entropy(&model.forward(&x).expect("forward"), &labels).expect("loss");
        assert!(loss.item().is_finite());
        opt.zero_grad();
        loss.backward().expect("backward");
        opt.step().expect("step");
        drop((x, loss));
        held.push(cl.pooled_bytes());
    }
    assert_eq!(held[5], held[29], "pooled bytes per step: {held:?}");
}

#[test]
fn zero_size_reductions_on_opencl_match_the_cpu() {
    let Some(device) = common::opencl_device() else {
        return;
    };
    for (shape, axis) in [
        ([0usize, 1000], 1usize),
        ([0, 1000], 0),
        ([3, 0], 1),
        ([3, 0], 0),
    ] {
        let cpu = dl_lab::Tensor::zeros(&shape);
        let ocl = cpu.to(&device).expect("to device");
        let (a, b) = (
            cpu.sum_dim(axis, false).expect("cpu sum"),
            ocl.sum_dim(axis, false).expect("opencl sum"),
        );
        assert_eq!(a.shape(), b.shape(), "{shape:?} axis {axis}");
        assert_eq!(a.to_vec(), b.to_vec(), "{shape:?} axis {axis}");
        assert_eq!(cpu.sum().item(), ocl.sum().item());
    }
}

#[test]
fn model_to_after_an_optimizer_step_moves_the_state_too() {
    // Adam has m and v for each parameter after one step on the CPU; moving
    // the model then must not break the next step (the state follows), and
    // the step must equal the one the CPU would take.
    let Some(device) = common::opencl_device() else {
        return;
    };
    let make = || {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
        Sequential::new(vec![Box::new(Linear::new(3, 2, &mut rng))])
    };
    let x =
        dl_lab::Tensor::from_vec(&[4, 3], (0..12).map(|v| v as f32 / 10.0).collect()).expect("x");
    let step = |model: &Sequential, opt: &mut Box<dyn dl_lab::optim::Optimizer>, dev: &Device| {
        let loss = model
            .forward(&x.to(dev).expect("x to device"))
            .expect("forward")
            .try_mean()
            .expect("mean");
        opt.zero_grad();
        loss.backward().expect("backward");
        opt.step().expect("step");
    };
    let (a, b) = (make(), make());
    let mut opt_a =
        dl_lab::optim::build_optimizer("adam", a.parameters(), 0.1, 0.0, 0.0).expect("adam");
    let mut opt_b =
        dl_lab::optim::build_optimizer("adam", b.parameters(), 0.1, 0.0, 0.0).expect("adam");
    step(&a, &mut opt_a, &Device::Cpu);
    step(&b, &mut opt_b, &Device::Cpu);
    b.to(&device).expect("model to device");
    step(&a, &mut opt_a, &Device::Cpu);
    step(&b, &mut opt_b, &device);
    for (pa, pb) in a.parameters().iter().zip(b.parameters()) {
        assert_eq!(pb.device(), device);
        for (va, vb) in pa.to_vec().iter().zip(pb.to_vec()) {
            assert!((va - vb).abs() < 1e-5, "{va} vs {vb}");
        }
    }
}

#[test]
fn relu_keeps_nan_on_opencl_too() {
    let Some(device) = common::opencl_device() else {
        return;
    };
    let x = dl_lab::Tensor::from_vec(&[4], vec![1.0, f32::NAN, -2.0, 0.5])
        .expect("x")
        .to(&device)
        .expect("to device");
    let y = x.relu().to_vec();
    assert_eq!((y[0], y[2], y[3]), (1.0, 0.0, 0.5));
    assert!(y[1].is_nan(), "{y:?}");
}
