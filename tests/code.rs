//! `dl-lab code LESSON`: the lesson as a PyTorch script. Running it needs
//! PyTorch (see tests/bench/compare_code.sh); these tests check its text:
//! it parses as Python, names the same layers, settings, data and initial
//! weights, and prints the same header lines as `dl-lab run`.

use std::process::Command;

fn dl_lab(args: &[&str]) -> (String, String, bool) {
    let o = Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

/// Whether python3 accepts `src` as Python (None when there is no python3).
fn parses_as_python(src: &str) -> Option<bool> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lesson.py");
    std::fs::write(&path, src).unwrap();
    let o = Command::new("python3")
        .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())"])
        .arg(&path)
        .output()
        .ok()?;
    if !o.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&o.stderr));
    }
    Some(o.status.success())
}

#[test]
fn every_lesson_is_a_python_script_with_its_settings() {
    let (list, _, _) = dl_lab(&["lessons"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"cnn-mnist") && names.contains(&"gd-scalar"));
    for name in names {
        let (script, err, ok) = dl_lab(&["code", name]);
        assert!(ok, "{name}: {err}");
        assert!(
            script.contains(&format!("the dl-lab lesson `{name}` in PyTorch")),
            "{name}"
        );
        match parses_as_python(&script) {
            Some(ok) => assert!(ok, "{name}: the script is not valid Python"),
            None => eprintln!("note: python3 not found, the Python syntax check of `dl-lab code {name}` is skipped"),
        }
    }
}

#[test]
fn the_cnn_script_names_the_same_layers_and_settings() {
    let (s, _, ok) = dl_lab(&["code", "cnn-mnist", "--epochs", "2", "--lr", "0.0005"]);
    assert!(ok);
    for line in [
        "nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1),",
        "nn.ReLU(),",
        "nn.MaxPool2d(kernel_size=2, stride=2),",
        "nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1),",
        "nn.Flatten(),",
        "nn.Linear(3136, 10),",
        "optimizer = torch.optim.Adam(model.parameters(), lr=0.0005, weight_decay=0)",
        "batch_size = 100",
        "nb_epochs = 2",
        "return x.reshape(-1, 1, 28, 28)",
        "x_test = images(\"heldout-images-idx3-ubyte\")",
    ] {
        assert!(s.contains(line), "missing {line:?}");
    }
    assert!(s.contains("Written by `dl-lab code cnn-mnist --epochs 2 --lr 0.0005`"));
}

#[test]
fn the_small_scripts_carry_dl_labs_data_weights_and_header() {
    // the same header lines as `dl-lab run`
    let (run, _, ok) = dl_lab(&["run", "xor-mlp", "--epochs", "5", "--lr", "0.5"]);
    assert!(ok);
    let (s, _, _) = dl_lab(&["code", "xor-mlp", "--epochs", "5", "--lr", "0.5"]);
    for header in run.lines().take(2) {
        let literal = serde_json::to_string(header).unwrap();
        assert!(
            s.contains(&format!("print({literal})")),
            "header {header:?} missing"
        );
    }
    assert!(s.contains("x_train = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float32)"));
    assert!(s.contains(
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0, weight_decay=0)"
    ));
    assert!(s.contains("F.binary_cross_entropy(model(x_train), y_train)"));
    // the initial weights are dl-lab's: the first logged epoch's JSON starts from them
    let lesson = dl_lab::lessons::find("xor-mlp").unwrap();
    let cfg = dl_lab::lessons::RunConfig::defaults(&lesson);
    let session = dl_lab::lessons::SmallSession::new(&lesson, &cfg.hyper, None).unwrap();
    let w0: Vec<String> = session.params()[0]
        .1
        .to_vec()
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert!(
        s.contains(&format!(
            "\"0.weight\": torch.tensor([[{}, {}], [{}, {}]]),",
            w0[0], w0[1], w0[2], w0[3]
        )),
        "{s}"
    );
    // gd-scalar's start is a float literal (a Python int cannot require grad)
    let (g, _, _) = dl_lab(&["code", "gd-scalar"]);
    assert!(g.contains("x = torch.tensor(5.0, requires_grad=True)"));
}

#[test]
fn json_mode_prints_the_same_fields() {
    let (s, _, _) = dl_lab(&["code", "linear", "--json"]);
    assert!(s.contains(r#"{"epoch": epoch, "cost": f32(cost.item()), "params": {n: param_json(p) for n, p in named}}"#));
    assert!(
        !s.contains("print(\"Linear regression"),
        "--json prints no header"
    );
    let (c, _, _) = dl_lab(&["code", "softmax-mnist", "--json"]);
    assert!(
        c.contains(r#"summary = {"epoch": epoch, "loss": "#)
            && c.contains(r#""test_acc": "#)
            && c.contains(r#""img_per_s": "#)
            && c.contains(r#""train_acc": f32(train_acc)"#)
            && c.contains(r#""test_loss": f32(test_loss)"#)
    );
    // overfit-mnist trains on its first 500 images in the script too
    let (o, _, _) = dl_lab(&["code", "overfit-mnist"]);
    assert!(
        o.contains(r#"x_train = images("train-images-idx3-ubyte")[:500]"#),
        "{o}"
    );
    assert!(o.contains("(500 training, 1,000 held-out images)"), "{o}");
}

#[test]
fn init_writes_the_matching_torch_nn_init_call() {
    let (s, err, ok) = dl_lab(&["code", "cnn-mnist", "--init", "xavier"]);
    assert!(ok, "{err}");
    assert!(
        s.contains("Written by `dl-lab code cnn-mnist --init xavier`"),
        "{s}"
    );
    // the MNIST scripts redraw the weights from dl-lab's generator with
    // xavier_uniform_'s bound (tests/portable_rng.rs checks the values)
    assert!(
        s.contains(
            "    # --init xavier: the weights drawn again, layer by layer\n    for layer in layers:\n        \
             fan_in, fan_out = fans(layer.weight)\n        \
             draw(layer.weight, np.sqrt(np.float32(6) / np.float32(fan_in + fan_out)))\n"
        ),
        "{s}"
    );
    assert!(s.contains("rng = SplitMix64(seed)") && !s.contains("torch.randperm"));
    let (s, _, _) = dl_lab(&["code", "xor-mlp", "--init", "kaiming"]);
    assert!(
        s.contains("torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity=\"relu\")"),
        "{s}"
    );
    let (s, _, _) = dl_lab(&["code", "xor-mlp", "--init", "zeros"]);
    assert!(
        s.contains("torch.nn.init.zeros_(layer.weight)")
            && s.contains("torch.nn.init.zeros_(layer.bias)"),
        "{s}"
    );
    // PyTorch's default: no call
    let (s, _, _) = dl_lab(&["code", "xor-mlp"]);
    assert!(!s.contains("torch.nn.init"), "{s}");
    match parses_as_python(&dl_lab(&["code", "cnn-mnist", "--init", "kaiming"]).0) {
        Some(ok) => assert!(ok, "the --init script is not valid Python"),
        None => eprintln!("note: python3 not found, the syntax check is skipped"),
    }
}

#[test]
fn the_scalar_scripts_minimise_the_lessons_own_objective() {
    let (s, _, ok) = dl_lab(&["code", "momentum"]);
    assert!(ok);
    assert!(
        s.contains("# minimise y = x^4 - 4*x^2 + x from x = 2.5"),
        "{s}"
    );
    assert!(s.contains("cost = x ** 4 - 4 * x ** 2 + x"), "{s}");
    assert!(
        s.contains("torch.optim.SGD([x], lr=0.01, momentum=0.9, weight_decay=0)"),
        "{s}"
    );
    // the findings, printed when they hold, with dl-lab run's numbers
    assert!(s.contains("abs(_p.item() - -1.4729975) < 0.01"), "{s}");
    let (s, _, _) = dl_lab(&["code", "momentum", "--momentum", "0"]);
    assert!(
        s.contains("Written by `dl-lab code momentum --momentum 0`"),
        "{s}"
    );
    assert!(s.contains("momentum=0,"), "{s}");
    let (s, _, _) = dl_lab(&["code", "gd-scalar"]);
    assert!(s.contains("cost = (x - 3) ** 2 + 4"), "{s}");
    let (s, _, _) = dl_lab(&["code", "xor-perceptron"]);
    assert!(
        s.contains("if abs(cost.item() - 0.6931472) < 0.001:"),
        "{s}"
    );
}

/// The worked lessons' and the race's scripts print `dl-lab run`'s lines:
/// the backprop walk's steps (its graph written into the script), the
/// tensor code's `>>>` echo, the race's table header. Running them needs
/// PyTorch (tests/bench/code_parity.py does).
#[test]
fn the_worked_and_race_scripts_print_runs_lines() {
    let check = |script: &str, what: &str| match parses_as_python(script) {
        Some(ok) => assert!(ok, "{what}: the script is not valid Python"),
        None => eprintln!("note: python3 not found, the syntax check of {what} is skipped"),
    };
    // backprop: every node of w*x + b in dl-lab's order, and the JSON fields
    let (s, err, ok) = dl_lab(&["code", "backprop", "--json"]);
    assert!(ok, "{err}");
    for node in [
        "(\"w\", (\"input\", -2.0), []),",
        "(\"x\", (\"input\", 5.0), []),",
        "(\"w*x\", (\"mul\",), [0, 1]),",
        "(\"b\", (\"input\", 3.0), []),",
        "(\"w*x + b\", (\"add\",), [2, 3]),",
    ] {
        assert!(s.contains(node), "{node}\n{s}");
    }
    assert!(s.contains("(\"node\", \"op\", \"value\", \"local\", \"upstream\", \"grad\")"));
    assert!(s.contains("{\"value\": value[-1], \"grads\":"));
    assert!(s.contains("f = w * x + b\nf.backward()"), "{s}");
    check(&s, "code backprop --json");
    // --expr and --at: the pow's exponent as dl-lab writes it, names Python
    // keeps for itself renamed
    let (s, err, ok) = dl_lab(&[
        "code",
        "backprop",
        "--expr",
        "lambda^-2 * sigmoid(x)",
        "--at",
        "lambda=2,x=0.5",
    ]);
    assert!(ok, "{err}");
    assert!(s.contains("(\"pow\", -2.0, \"-2\")"), "{s}");
    assert!(
        s.contains("lambda_ = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)"),
        "{s}"
    );
    assert!(s.contains("print(\"Backprop"), "the title line: {s}");
    check(&s, "code backprop --expr");
    // tensor-basics: the echo before each line, the line itself after
    let (s, _, ok) = dl_lab(&["code", "tensor-basics"]);
    assert!(ok);
    assert!(
        s.contains("print(\">>> print(t.dim(), t.shape)\")\nprint(t.dim(), t.shape)"),
        "{s}"
    );
    check(&s, "code tensor-basics");
    let (s, _, ok) = dl_lab(&["code", "tensor-basics", "--json"]);
    assert!(ok);
    assert!(s.contains("    \"print(t.max(dim=0))\","), "{s}");
    check(&s, "code tensor-basics --json");
    // the race: run's title, surface and column lines, and the divergence note
    let (s, _, ok) = dl_lab(&["code", "optimizer-race", "--steps", "7", "--lr", "0.5"]);
    assert!(ok);
    let (run, _, _) = dl_lab(&["run", "optimizer-race", "--steps", "7", "--lr", "0.5"]);
    for line in run.lines().take(3) {
        let printed = format!("print({})", serde_json::to_string(line).unwrap());
        assert!(s.contains(&printed), "{printed}\n{s}");
    }
    assert!(s.contains("diverged at step"), "{s}");
    check(&s, "code optimizer-race");
}
