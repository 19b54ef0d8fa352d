//! The lessons that work something out instead of training a model:
//! `backprop` (an expression's backward pass, one product at a time, see
//! [`crate::explain::backprop`]) and `tensor-basics` (the course's tensor
//! code, run by [`crate::script`]). `dl-lab run` prints them and
//! `dl-lab code` writes them as PyTorch.

use std::fmt::Write as _;
use std::io::Write;

use super::{Lesson, RunConfig, Task};
use crate::explain::backprop::{self, num, Graph, NodeOp};
use crate::script;
use crate::{Error, Result};

fn io(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// The expression and point a backprop run uses: `--expr` and `--at`, else
/// the lesson's (`--at` defaults to the lesson's point for any `--expr`).
pub fn backprop_graph(lesson: &Lesson, cfg: &RunConfig) -> Result<Graph> {
    let Task::Backprop { expr, at } = &lesson.task else {
        return Err(Error::Config(format!(
            "lesson {} has no expression",
            lesson.name
        )));
    };
    let expr = cfg.expr.as_deref().unwrap_or(expr);
    let at = cfg.at.as_deref().unwrap_or(at);
    Graph::build(expr, &backprop::parse_at(at)?)
}

/// `dl-lab run` for a worked lesson: the backward pass's steps (text, or
/// one JSON object per step and a last `{"value", "grads"}`), or the
/// tensor code's session (`>>> line` and what it prints; `--json`: one
/// `{"code", "output"}` per line).
pub fn run(lesson: &Lesson, cfg: &RunConfig, out: &mut dyn Write) -> Result<()> {
    match &lesson.task {
        Task::Backprop { .. } => {
            let g = backprop_graph(lesson, cfg)?;
            let lines = if cfg.json {
                backprop::json_lines(&g)
            } else {
                let mut l = vec![super::headless::title_line(lesson, cfg, None)];
                l.extend(backprop::text_lines(&g));
                l
            };
            for l in lines {
                writeln!(out, "{l}").map_err(io)?;
            }
            Ok(())
        }
        Task::TensorCode { code } => {
            let mut scope = script::Scope::new();
            if !cfg.json {
                writeln!(out, "{}", super::headless::title_line(lesson, cfg, None)).map_err(io)?;
            }
            for line in code.lines().filter(|l| !l.trim().is_empty()) {
                let printed = run_line(line, &mut scope);
                if cfg.json {
                    let j = serde_json::json!({"code": line, "output": printed});
                    writeln!(out, "{j}").map_err(io)?;
                } else {
                    writeln!(out, ">>> {line}").map_err(io)?;
                    write!(out, "{printed}").map_err(io)?;
                }
            }
            Ok(())
        }
        _ => Err(Error::Config(format!(
            "lesson {} trains a model",
            lesson.name
        ))),
    }
}

/// One line at the prompt: what it prints (warnings and errors too, as the
/// prompt shows them).
pub fn run_line(line: &str, scope: &mut script::Scope) -> String {
    let (mut out, mut warn) = (Vec::new(), Vec::new());
    let result = script::run_line(line, scope, &mut out, &mut warn);
    out.extend_from_slice(&warn);
    if let Err(e) = result {
        out.extend_from_slice(e.message.as_bytes());
        out.push(b'\n');
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `dl-lab code` for a worked lesson: the same thing in PyTorch.
pub fn python_code(lesson: &Lesson, cfg: &RunConfig) -> Result<String> {
    let mut s = String::new();
    let file = lesson.name.replace('-', "_");
    match &lesson.task {
        Task::TensorCode { code } => {
            let _ = writeln!(
                s,
                "# {}: the dl-lab lesson `{}` in PyTorch (its prompt's lines, in order).\n\
                 # Run it with: python3 {file}.py   (needs PyTorch and numpy)\n\
                 import numpy as np\nimport torch\n\n{}",
                lesson.title,
                lesson.name,
                code.trim_end()
            );
        }
        Task::Backprop { .. } => {
            let g = backprop_graph(lesson, cfg)?;
            backprop_script(&mut s, lesson, cfg, &g, &file);
        }
        _ => {
            return Err(Error::Config(format!(
                "lesson {} trains a model",
                lesson.name
            )))
        }
    }
    Ok(s)
}

/// f written with PyTorch's autograd: the variables as float64 leaves with
/// requires_grad, f.backward(), and the last line `dl-lab run` prints.
fn backprop_script(s: &mut String, lesson: &Lesson, cfg: &RunConfig, g: &Graph, file: &str) {
    let mut flags = String::new();
    if let Some(e) = &cfg.expr {
        let _ = write!(flags, " --expr \"{e}\"");
    }
    if let Some(a) = &cfg.at {
        let _ = write!(flags, " --at \"{a}\"");
    }
    if cfg.json {
        flags.push_str(" --json");
    }
    let vars = g.variables();
    let f = if vars.iter().any(|(_, n)| *n == "f") {
        "f_out"
    } else {
        "f"
    };
    let _ = writeln!(
        s,
        "# {title}: the dl-lab lesson `{name}` in PyTorch.\n\
         # Written by `dl-lab code {name}{flags}`; autograd computes the gradients dl-lab writes out\n\
         # step by step, and it prints the last line of `dl-lab run {name}{flags}`.\n\
         # Run it with: python3 {file}.py   (needs PyTorch)\n\
         import json\n\nimport torch\n\n\n\
         def num(v):\n    \"\"\"A number written short, as dl-lab writes it.\"\"\"\n    \
         return str(int(v)) if v == int(v) else f\"{{v:.6f}}\".rstrip(\"0\").rstrip(\".\")\n",
        title = lesson.title,
        name = lesson.name,
    );
    for (i, name) in &vars {
        let _ = writeln!(
            s,
            "{name} = torch.tensor({:?}, dtype=torch.float64, requires_grad=True)",
            g.nodes[*i].value
        );
    }
    let _ = writeln!(s, "{f} = {}", python_expr(g, g.nodes.len() - 1).0);
    let _ = writeln!(s, "{f}.backward()");
    let names: Vec<&str> = vars.iter().map(|(_, n)| *n).collect();
    let list = names.join(", ");
    if cfg.json {
        let _ = writeln!(
            s,
            "grads = {{name: t.grad.item() for name, t in zip({:?}, [{list}])}}\n\
             print(json.dumps({{\"value\": {f}.item(), \"grads\": grads}}, separators=(\",\", \":\")))",
            names
        );
    } else {
        let _ = writeln!(
            s,
            "grads = \", \".join(f\"∂f/∂{{name}} = {{num(t.grad.item())}}\" for name, t in zip({:?}, [{list}]))\n\
             print(f\"f = {{num({f}.item())}};  {{grads}}\")",
            names
        );
    }
}

/// Node `i` as a Python expression, with the brackets precedence needs,
/// and its precedence (1 `+ -`, 2 `* /`, 3 unary minus, 4 `**`, 5 atom).
fn python_expr(g: &Graph, i: usize) -> (String, u8) {
    let n = &g.nodes[i];
    let sub = |k: usize| python_expr(g, n.inputs[k]);
    let wrap = |(e, p): (String, u8), min: u8| {
        if p < min {
            format!("({e})")
        } else {
            e
        }
    };
    match &n.op {
        NodeOp::Var(name) => (name.clone(), 5),
        NodeOp::Const(c) if *c < 0.0 => (num(*c), 3),
        NodeOp::Const(c) => (num(*c), 5),
        NodeOp::Add | NodeOp::Sub => {
            let sym = if n.op == NodeOp::Add { "+" } else { "-" };
            (format!("{} {sym} {}", wrap(sub(0), 1), wrap(sub(1), 2)), 1)
        }
        NodeOp::Mul | NodeOp::Div => {
            let sym = if n.op == NodeOp::Mul { "*" } else { "/" };
            (format!("{} {sym} {}", wrap(sub(0), 2), wrap(sub(1), 3)), 2)
        }
        NodeOp::Neg => (format!("-{}", wrap(sub(0), 4)), 3),
        NodeOp::Pow(e) => (format!("{} ** {}", wrap(sub(0), 5), pow_exponent(*e)), 4),
        op => (
            format!("torch.{}({})", op.name(), sub(0).0),
            5, // sigmoid tanh relu exp log
        ),
    }
}

/// An exponent after `**`: a negative one in brackets reads clearly.
fn pow_exponent(e: f64) -> String {
    if e < 0.0 {
        format!("({})", num(e))
    } else {
        num(e)
    }
}
