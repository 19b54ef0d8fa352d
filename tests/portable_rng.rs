//! The MNIST lessons' portable generator (src/rng.rs): its known answers, the
//! Python copy `dl-lab code` writes into the scripts giving the same draws
//! (run with python3 and numpy when they are here), and the script's initial
//! weights being `dl-lab run`'s bit for bit (with PyTorch when it is here).
//! Each Python check prints why it skips when its interpreter or module is
//! missing.

use std::process::Command;

use dl_lab::data::loader::DataLoader;
use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::init::Init;
use dl_lab::nn::Module;
use dl_lab::rng::{self, SplitMix64};
use dl_lab::train::classifier::ClassifierRun;
use ndarray::Array2;

/// Run `src` with python3; None (with a note) when python3 or `module` is missing.
fn python(src: &str, module: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.py");
    std::fs::write(&path, src).unwrap();
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => {
            eprintln!("note: python3 with {module} not found, the Python check is skipped");
            return None;
        }
    }
    let o = Command::new("python3").arg(&path).output().unwrap();
    assert!(
        o.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn known_answers() {
    // Vigna's splitmix64.c seeded 1234567 (Rosetta Code lists the same)
    let mut r = SplitMix64::new(1234567);
    let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
    assert_eq!(
        got,
        [
            6457827717110365317,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821
        ]
    );
    // U(±1/√784) from seed 1: the first weights of softmax-mnist's Linear(784, 10)
    let mut r = SplitMix64::new(1);
    let b = 1.0 / 784f32.sqrt();
    let w: Vec<u32> = (0..3).map(|_| r.uniform(b).to_bits()).collect();
    assert_eq!(w, [0x3b9b_cac0, 0x3c8f_d143, 0x3d09_cd4c], "{w:x?}");
    // epoch 0 of a loader over 10 samples shuffled with seed 1
    let l = DataLoader::new(Array2::zeros((10, 1)), (0..10).collect(), 5)
        .unwrap()
        .shuffle(1);
    assert_eq!(l.order(0), [8, 1, 2, 3, 9, 4, 6, 7, 0, 5]);
    assert_eq!(l.order(0), SplitMix64::for_epoch(1, 0).permutation(10));
}

#[test]
fn the_python_generator_draws_the_same_numbers() {
    let bound = 1.0 / 784f32.sqrt();
    let src = format!(
        "import numpy as np\n{}\n\
         r = SplitMix64(42)\n\
         print(*[r.next_u64() for _ in range(5)])\n\
         b = np.float32(1) / np.sqrt(np.float32(784))\n\
         print(*[int(v) for v in r.uniform(2000, b).view(np.uint32)])\n\
         print(*SplitMix64.for_epoch(42, 3).permutation(1000))\n",
        rng::PYTHON
    );
    let Some(out) = python(&src, "numpy") else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    let mut r = SplitMix64::new(42);
    let want: Vec<String> = (0..5).map(|_| r.next_u64().to_string()).collect();
    assert_eq!(lines[0], want.join(" "));
    let want: Vec<String> = (0..2000)
        .map(|_| r.uniform(bound).to_bits().to_string())
        .collect();
    assert_eq!(lines[1], want.join(" "), "the float32 draws, bit for bit");
    let l = DataLoader::new(Array2::zeros((1000, 1)), (0..1000).collect(), 50)
        .unwrap()
        .shuffle(42);
    let want: Vec<String> = l.order(3).iter().map(|i| i.to_string()).collect();
    assert_eq!(lines[2], want.join(" "), "epoch 3's order");
}

/// (count, Σ (i+1)·bits mod 2⁶⁴) of a tensor's float32 values: equal only
/// when the values are, bit for bit and in order (barring a collision).
fn checksum(values: impl Iterator<Item = f32>) -> (usize, u64) {
    let mut n = 0;
    let mut sum = 0u64;
    for (i, v) in values.enumerate() {
        n += 1;
        sum = sum.wrapping_add((i as u64 + 1).wrapping_mul(u64::from(v.to_bits())));
    }
    (n, sum)
}

const CHECKSUM_PY: &str = r#"
for name, t in model.state_dict().items():
    bits = t.detach().numpy().astype(np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    weights = np.arange(1, len(bits) + 1, dtype=np.uint64)
    print(name, len(bits), int((bits * weights).sum(dtype=np.uint64)))
"#;

#[test]
fn the_mnist_scripts_start_from_dl_labs_initial_weights() {
    let data = Mnist::shipped().expect("the shipped sample");
    let cases = [
        ("softmax-mnist", vec![]),
        ("cnn-mnist", vec!["--init", "xavier", "--seed", "7"]),
        ("overfit-mnist", vec!["--init", "kaiming"]),
        ("overfit-mnist", vec!["--init", "zeros"]),
    ];
    let mut src = String::from("import numpy as np\n");
    let mut want = Vec::new();
    for (name, flags) in &cases {
        let lesson = lessons::find(name).unwrap();
        let Task::Classifier {
            layers,
            input_shape,
        } = &lesson.task
        else {
            panic!("{name} is a classifier")
        };
        let mut h = lesson.defaults.clone();
        for pair in flags.chunks(2) {
            match pair[0] {
                "--init" => h.init = pair[1].parse::<Init>().unwrap(),
                "--seed" => h.seed = pair[1].parse().unwrap(),
                _ => unreachable!(),
            }
        }
        let run = ClassifierRun::new(
            layers,
            input_shape,
            data.train.clone(),
            data.test.clone(),
            &h,
        )
        .unwrap();
        for (pname, t) in run.model.named_parameters() {
            let (n, sum) = checksum(t.to_array().iter().copied());
            want.push(format!("{pname} {n} {sum}"));
        }
        let mut args = vec!["code", name];
        args.extend(flags.iter());
        let o = Command::new(env!("CARGO_BIN_EXE_dl-lab"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let script = String::from_utf8(o.stdout).unwrap();
        // everything up to the optimizer: the data read, the model built and initialised
        let cut = script
            .find("\noptimizer = ")
            .expect("the script builds an optimizer");
        let code = format!("{}\n{CHECKSUM_PY}", &script[..cut]);
        // a JSON string is a Python string literal
        src.push_str(&format!("exec({}, {{}})\n", serde_json::json!(code)));
    }
    let Some(out) = python(&src, "torch") else {
        return;
    };
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got, want, "PyTorch's state_dict vs dl-lab's parameters");
}
