//! Backprop written out: every step's product, and the gradients equal the
//! engine's backward() on the same expression.

use dl_lab::explain::backprop::{json_lines, parse_at, Graph, NodeOp, DEFAULT_AT, DEFAULT_EXPR};
use dl_lab::Tensor;
use ndarray::{ArrayD, IxDyn};

fn graph(expr: &str, at: &str) -> Graph {
    Graph::build(expr, &parse_at(at).unwrap()).unwrap()
}

/// The same expression on the engine: (f, ∂f/∂ each variable).
fn engine(g: &Graph) -> (f32, Vec<(String, f32)>) {
    let mut t: Vec<Tensor> = Vec::new();
    for n in &g.nodes {
        let x = |i: usize| t[n.inputs[i]].clone();
        let v = match &n.op {
            NodeOp::Var(_) => Tensor::param(ArrayD::from_elem(IxDyn(&[]), n.value as f32)),
            NodeOp::Const(c) => Tensor::scalar(*c as f32),
            NodeOp::Add => x(0).add(&x(1)).unwrap(),
            NodeOp::Sub => x(0).sub(&x(1)).unwrap(),
            NodeOp::Mul => x(0).mul(&x(1)).unwrap(),
            NodeOp::Div => x(0).div(&x(1)).unwrap(),
            NodeOp::Pow(e) => x(0).pow(*e as f32),
            NodeOp::Neg => x(0).neg(),
            NodeOp::Sigmoid => x(0).sigmoid(),
            NodeOp::Tanh => x(0).tanh(),
            NodeOp::Relu => x(0).relu(),
            NodeOp::Exp => x(0).exp(),
            NodeOp::Log => x(0).log(),
        };
        t.push(v);
    }
    let f = t.last().unwrap();
    f.backward().unwrap();
    let grads = g
        .variables()
        .iter()
        .map(|(i, name)| {
            let gr = t[*i]
                .grad()
                .map(|a| a.iter().next().copied().unwrap())
                .unwrap_or(0.0);
            (name.to_string(), gr)
        })
        .collect();
    (f.item(), grads)
}

#[test]
fn the_course_example_step_by_step() {
    let g = graph(DEFAULT_EXPR, DEFAULT_AT);
    assert_eq!(g.output().value, -7.0);
    let (steps, _) = g.backward();
    let edges: Vec<(String, &str, f64, f64, f64)> = steps
        .iter()
        .map(|s| (s.node.clone(), s.op, s.local, s.upstream, s.grad))
        .collect();
    assert_eq!(
        edges,
        vec![
            ("w*x".to_string(), "add", 1.0, 1.0, 1.0),
            ("b".to_string(), "add", 1.0, 1.0, 1.0),
            ("w".to_string(), "mul", 5.0, 1.0, 5.0),
            ("x".to_string(), "mul", -2.0, 1.0, -2.0),
        ]
    );
    let lines = json_lines(&g);
    assert_eq!(
        lines[2],
        r#"{"node":"w","op":"mul","value":-2.0,"local":5.0,"upstream":1.0,"grad":5.0}"#
    );
    assert_eq!(
        lines.last().unwrap(),
        r#"{"value":-7.0,"grads":{"w":5.0,"x":-2.0,"b":1.0}}"#
    );
}

#[test]
fn a_value_used_twice_sums_its_gradients() {
    // f = x*x + x: ∂f/∂x = 2x + 1 = 7 at x = 3, reached as 3 + 3 + 1
    let g = graph("x*x + x", "x=3");
    let (steps, grads) = g.backward();
    let into_x: Vec<f64> = steps
        .iter()
        .filter(|s| s.node == "x")
        .map(|s| s.local * s.upstream)
        .collect();
    assert_eq!(into_x, vec![1.0, 3.0, 3.0]);
    assert_eq!(
        steps.iter().filter(|s| s.node == "x").last().unwrap().grad,
        7.0
    );
    assert_eq!(grads[g.variables()[0].0], 7.0);
}

#[test]
fn sigmoid_writes_out_its_derivative() {
    let g = graph("sigmoid(w*x + b)", "w=0.5,x=2,b=-1");
    let (steps, _) = g.backward();
    let s = &steps[0];
    assert_eq!(s.op, "sigmoid");
    assert_eq!(s.local, 0.25); // σ(0) = 0.5, σ′ = 0.5·0.5
    assert!(
        s.rule.starts_with("σ′(z) = σ(z)(1−σ(z)) = 0.5·(1−0.5)"),
        "{}",
        s.rule
    );
}

#[test]
fn gradients_equal_the_engine_backward() {
    let cases = [
        ("w*x + b", "w=-2,x=5,b=3"),
        ("sigmoid(w*x + b)", "w=0.7,x=-1.5,b=0.2"),
        ("(x - 3)^2 + 4", "x=5"),
        (
            "tanh(a*b) / (c + 2) - exp(a) * log(c)",
            "a=0.3,b=-1.2,c=1.7",
        ),
        ("relu(x - y) * relu(y - x) + x^-1 + -y", "x=2,y=0.5"),
        ("-(w*x)^3 + w*w*w", "w=1.1,x=0.4"),
        ("log(sigmoid(z)) + 2*z", "z=-0.8"),
    ];
    for (expr, at) in cases {
        let g = graph(expr, at);
        let (_, grads) = g.backward();
        let (f, eg) = engine(&g);
        assert!(
            (g.output().value - f as f64).abs() < 1e-5 * (1.0 + f.abs() as f64),
            "{expr}: {} vs {f}",
            g.output().value
        );
        for ((i, name), (ename, e)) in g.variables().iter().zip(eg) {
            assert_eq!(*name, ename);
            let ours = grads[*i];
            assert!(
                (ours - e as f64).abs() < 1e-4 * (1.0 + ours.abs()),
                "{expr}: ∂f/∂{name} {ours} vs engine {e}"
            );
        }
    }
}

#[test]
fn bad_expressions_say_what_is_wrong() {
    let err = |e: &str, at: &str| {
        Graph::build(e, &parse_at(at).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(err("w*x + b", "w=1,x=2").contains("b has no value; give it one with --at"));
    assert!(err("x^y", "x=1,y=2").contains("the exponent after ^ must be a number"));
    assert!(err("(x + 1", "x=1").contains("expected ')'"));
    assert!(err("sin(x)", "x=1")
        .contains("unknown function sin(…); the functions are sigmoid, tanh, relu, exp, log"));
    assert!(parse_at("w=two")
        .unwrap_err()
        .to_string()
        .contains("'two' is not a number"));
}

/// `dl-lab ARGS…`: (stdout, stderr, success).
fn dl_lab(args: &[&str]) -> (String, String, bool) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(args)
        .output()
        .expect("start dl-lab");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

#[test]
fn run_backprop_json_prints_each_step_then_the_engines_gradients() {
    let (expr, at) = ("sigmoid(w*x + b) * w", "w=0.7,x=-1.5,b=0.2");
    let (out, err, ok) = dl_lab(&["run", "backprop", "--expr", expr, "--at", at, "--json"]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let g = graph(expr, at);
    let (steps, _) = g.backward();
    assert_eq!(lines.len(), steps.len() + 1);
    for (line, s) in lines.iter().zip(&steps) {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["node", "op", "value", "local", "upstream", "grad"]);
        assert_eq!(line["node"], s.node.as_str());
        // serde_json reads the last digit back within an ulp
        assert!((line["grad"].as_f64().unwrap() - s.grad).abs() < 1e-12);
        assert!(
            (line["local"].as_f64().unwrap() * line["upstream"].as_f64().unwrap()
                - s.local * s.upstream)
                .abs()
                < 1e-12
        );
    }
    let last = lines.last().unwrap();
    let (f, eg) = engine(&g);
    assert!((last["value"].as_f64().unwrap() - f as f64).abs() < 1e-5);
    for (name, e) in eg {
        let ours = last["grads"][name.as_str()].as_f64().unwrap();
        assert!((ours - e as f64).abs() < 1e-4, "∂f/∂{name}: {ours} vs {e}");
    }
}

#[test]
fn run_backprop_text_writes_the_course_example_and_refuses_bad_input() {
    let (out, err, ok) = dl_lab(&["run", "backprop"]);
    assert!(ok, "{err}");
    assert!(out.contains("∂f/∂(w) += 5 × 1 = 5"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("f = -7;  ∂f/∂w = 5, ∂f/∂x = -2, ∂f/∂b = 1"),
        "{out}"
    );
    let (_, err, ok) = dl_lab(&["run", "backprop", "--expr", "x*y", "--at", "x=1"]);
    assert!(!ok && err.contains("y has no value"), "{err}");
    let (_, err, ok) = dl_lab(&["run", "linear", "--expr", "x"]);
    assert!(
        !ok && err.contains("--expr is for the backprop lesson"),
        "{err}"
    );
    let (_, err, ok) = dl_lab(&["run", "backprop", "--epochs", "3"]);
    assert!(
        !ok && err.contains("lesson backprop trains nothing"),
        "{err}"
    );
}

/// `dl-lab code backprop` run by Python prints exactly what `dl-lab run`
/// prints, step by step (text and --json, with --expr/--at too), and
/// PyTorch's autograd finds the same gradients (it would say so on stderr).
/// Skipped with a note where python3 with torch is missing.
#[test]
fn the_backprop_script_prints_runs_lines_and_torch_agrees() {
    let has_torch = std::process::Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!("note: python3 with torch not found; the PyTorch run of `dl-lab code backprop` is skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let expr = [
        "--expr",
        "-(w*x)^3 / (2 - sigmoid(x)) + relu(w) - w^-2 + tanh(x)*log(w) + exp(x)/x",
        "--at",
        "w=1.1,x=0.4",
    ];
    for args in [
        vec![],
        vec!["--json"],
        expr.to_vec(),
        [&expr[..], &["--json"]].concat(),
        // 1/x at 0: inf and NaN, null in JSON
        vec!["--expr", "x*x + 1/x", "--at", "x=0", "--json"],
        // tiny values: JSON exponents as Rust writes them (8.3e-7, not e-07)
        vec![
            "--expr",
            "sigmoid(w*x+b)^2 / (x - w)",
            "--at",
            "w=-2,x=5,b=3",
            "--json",
        ],
    ] {
        let (script, err, ok) = dl_lab(&[&["code", "backprop"], &args[..]].concat());
        assert!(ok, "{err}");
        let path = dir.path().join("backprop.py");
        std::fs::write(&path, &script).unwrap();
        let o = std::process::Command::new("python3")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(!stderr.contains("autograd differs"), "{args:?}: {stderr}");
        let (run, _, _) = dl_lab(&[&["run", "backprop"], &args[..]].concat());
        assert_eq!(String::from_utf8_lossy(&o.stdout), run, "{args:?}");
        assert!(run.lines().count() >= 5, "{run}");
    }
}

#[test]
fn the_xor_mlp_gradients_written_out_equal_the_engine_backward() {
    use dl_lab::explain::backprop_mlp::{backward, forward, lesson_params, XOR_ROWS};
    let lesson = dl_lab::lessons::find("xor-mlp").unwrap();
    let session = dl_lab::lessons::SmallSession::new(&lesson, &lesson.defaults, None).unwrap();
    let m = lesson_params().unwrap();
    for (x, y) in XOR_ROWS {
        let f = forward(&m, x, y);
        let steps = backward(&m, &f);
        let params = session.params();
        params.iter().for_each(|(_, t)| t.zero_grad());
        let input = Tensor::new(
            ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![x[0] as f32, x[1] as f32]).unwrap(),
        );
        let target = Tensor::new(ArrayD::from_elem(IxDyn(&[1, 1]), y as f32));
        let p = session.predict(&input).unwrap();
        let loss = dl_lab::nn::loss::bce_loss(&p, &target).unwrap();
        assert!((loss.item() as f64 - f.loss).abs() < 1e-5, "{x:?}: loss");
        assert!((p.item() as f64 - f.p).abs() < 1e-6);
        loss.backward().unwrap();
        let mut checked = 0;
        for s in steps.iter() {
            let Some((name, i)) = s.param else { continue };
            let t = &params.iter().find(|(n, _)| n == name).unwrap().1;
            let g = t.grad().unwrap().iter().copied().nth(i).unwrap() as f64;
            assert!(
                (g - s.value).abs() < 1e-5,
                "row {x:?}: ∂L/∂{} = {} written out vs engine {g}",
                s.of,
                s.value
            );
            // each line is its two factors' product
            assert_eq!(s.value, s.a * s.b);
            checked += 1;
        }
        assert_eq!(checked, 9, "W1 (4), b1 (2), W2 (2), b2 (1)");
    }
}
