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
        Task::TensorCode { code } => tensor_script(&mut s, lesson, cfg, code, &file),
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

/// The course's tensor lines as a script that prints what `dl-lab run`
/// prints: the title, then `>>> line` and its output; with `--json` one
/// `{"code", "output"}` per line, the output caught from stdout.
fn tensor_script(s: &mut String, lesson: &Lesson, cfg: &RunConfig, code: &str, file: &str) {
    let flags = if cfg.json { " --json" } else { "" };
    let _ = writeln!(
        s,
        "# {title}: the dl-lab lesson `{name}` in PyTorch (its prompt's lines, in order).\n\
         # Written by `dl-lab code {name}{flags}`; it prints the same lines as `dl-lab run {name}{flags}`.\n\
         # Run it with: python3 {file}.py   (needs PyTorch and numpy)",
        title = lesson.title,
        name = lesson.name,
    );
    let lines: Vec<&str> = code.lines().filter(|l| !l.trim().is_empty()).collect();
    let imports = if cfg.json {
        "import contextlib\nimport io\nimport json\n\nimport numpy as np\nimport torch\n\n"
    } else {
        "import numpy as np\nimport torch\n\n"
    };
    s.push_str(imports);
    s.push_str(PRINT_AS_THE_COURSE);
    if cfg.json {
        s.push_str(
            "# each line as the prompt runs it: {\"code\": the line, \"output\": what it prints}\n\
             LINES = [\n",
        );
        for l in &lines {
            let _ = writeln!(s, "    {},", py_str(l));
        }
        s.push_str(
            "]\nscope = {\"np\": np, \"torch\": torch, \"print\": print}\nfor line in LINES:\n    \
             out = io.StringIO()\n    with contextlib.redirect_stdout(out):\n        exec(line, scope)\n    \
             print(json.dumps({\"code\": line, \"output\": out.getvalue()}, ensure_ascii=False, separators=(\",\", \":\")))\n",
        );
    } else {
        let title = super::headless::title_line(lesson, cfg, None);
        let _ = writeln!(s, "print({})", py_str(&title));
        for l in &lines {
            // the prompt's echo, then the line itself
            let _ = writeln!(s, "\nprint({})\n{l}", py_str(&format!(">>> {l}")));
        }
    }
}

/// PyTorch 2 prints `t.max(dim=0)` as `torch.return_types.max(values=…,
/// indices=…)`; the course and dl-lab show the pair `(values, indices)`.
const PRINT_AS_THE_COURSE: &str = r#"_print = print


def print(*args, **kwargs):
    """print, with max(dim=…)'s and min(dim=…)'s result shown as the course shows it: (values, indices)."""
    _print(*(tuple(a) if type(a).__module__ == "torch.return_types" else a for a in args), **kwargs)


"#;

/// The backward pass written out as dl-lab does it (the forward values,
/// each local derivative times the gradient from above, in f64 with the
/// same formulas, so the lines are `dl-lab run`'s to the last digit), then
/// PyTorch's autograd on the same expression checks the gradients.
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
    let _ = writeln!(
        s,
        "# {title}: the dl-lab lesson `{name}` in PyTorch.\n\
         # Written by `dl-lab code {name}{flags}`; it prints the same lines as `dl-lab run {name}{flags}`:\n\
         # the forward pass, then every local derivative times the gradient from above, in float64\n\
         # with dl-lab's formulas. PyTorch's autograd (f.backward()) then checks the gradients.\n\
         # Run it with: python3 {file}.py   (needs PyTorch)\n\
         import json\nimport math\nimport re\nimport sys\n\nimport torch\n\n{BACKPROP_HELPERS}",
        title = lesson.title,
        name = lesson.name,
    );
    let _ = writeln!(s, "EXPR = {}", py_str(&g.expr));
    s.push_str(
        "# The graph as dl-lab builds it, one node a row: (label, op, inputs); the last node is f.\n\
         # A variable used twice is one node, so its gradient is a sum.\nNODES = [\n",
    );
    for n in &g.nodes {
        let op = match &n.op {
            NodeOp::Var(_) | NodeOp::Const(_) => {
                format!("(\"{}\", {})", n.op.name(), py_f64(n.value))
            }
            // the exponent as a number, and as dl-lab writes it in the rule
            NodeOp::Pow(e) => format!("(\"pow\", {}, {})", py_f64(*e), py_str(&e.to_string())),
            op => format!("(\"{}\",)", op.name()),
        };
        let _ = writeln!(s, "    ({}, {op}, {:?}),", py_str(&n.label), n.inputs);
    }
    s.push_str("]\nVARIABLES = [");
    let vars = g.variables();
    let list: Vec<String> = vars
        .iter()
        .map(|(i, n)| format!("({}, {i})", py_str(n)))
        .collect();
    let _ = writeln!(s, "{}]\n", list.join(", "));
    s.push_str(BACKPROP_WALK);
    let title = super::headless::title_line(lesson, cfg, None);
    if cfg.json {
        s.push_str(
            "for st in steps:\n    print(dumps({k: st[k] for k in (\"node\", \"op\", \"value\", \"local\", \"upstream\", \"grad\")}))\n\
             print(dumps({\"value\": value[-1], \"grads\": {name: grad[i] for name, i in VARIABLES}}))\n",
        );
    } else {
        let _ = writeln!(
            s,
            "print({})\n\
             print(f\"f = {{EXPR}} at \" + \", \".join(f\"{{name}} = {{num(value[i])}}\" for name, i in VARIABLES))\n\
             print(\"Forward pass, one node at a time:\")\n\
             for (label, op, _), v in zip(NODES, value):\n    \
             if op[0] not in (\"input\", \"const\"):\n        print(f\"  {{label:<24}} = {{num(v)}}\")\n\
             print(\"Backward pass: ∂f/∂f = 1, then each input gets local derivative × the gradient from above:\")\n\
             for st in steps:\n    \
             print(f\"  ∂f/∂({{st['node']}}) += {{num(st['local'])}} × {{num(st['upstream'])}} = {{num(st['local'] * st['upstream'])}}\"\n          \
             f\"   [{{st['parent']}} → {{st['node']}}: {{st['rule']}}]   so far {{num(st['grad'])}}\")\n\
             print(f\"f = {{num(value[-1])}};  \" + \", \".join(f\"∂f/∂{{name}} = {{num(grad[i])}}\" for name, i in VARIABLES))",
            py_str(&title)
        );
    }
    // autograd on the same expression, the variables as float64 leaves
    let used: Vec<String> = vars.iter().map(|(_, n)| py_name(n)).collect();
    s.push_str("\n# PyTorch's autograd on the same expression must find the same gradients.\n");
    for ((i, _), name) in vars.iter().zip(&used) {
        let _ = writeln!(
            s,
            "{name} = torch.tensor({}, dtype=torch.float64, requires_grad=True)",
            py_f64(g.nodes[*i].value)
        );
    }
    let _ = writeln!(s, "f = {}", python_expr(g, g.nodes.len() - 1).0);
    let _ = writeln!(
        s,
        "f.backward()\n\
         for (name, i), t in zip(VARIABLES, [{}]):\n    \
         if not math.isclose(t.grad.item(), grad[i], rel_tol=1e-9, abs_tol=1e-12) and not (math.isnan(grad[i]) and math.isnan(t.grad.item())):\n        \
         print(f\"autograd differs: ∂f/∂{{name}} = {{t.grad.item()}}\", file=sys.stderr)",
        used.join(", ")
    );
}

/// The backprop script's helpers: dl-lab's number format, and f64
/// arithmetic as IEEE does it (Python raises on 1/0, exp(1000), log(0)).
const BACKPROP_HELPERS: &str = r#"def num(v):
    """A number written short, as dl-lab writes it: integers without a dot, others with up to 6 decimals."""
    if math.isnan(v):
        return "NaN"
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return f"{v:.0f}"
    return f"{v:.6f}".rstrip("0").rstrip(".")


def dumps(obj):
    """One JSON line as dl-lab prints it (null for a non-finite number)."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        return None if isinstance(x, float) and not math.isfinite(x) else x
    text = json.dumps(clean(obj), ensure_ascii=False, separators=(",", ":"))
    # exponents as Rust writes them: 8.3e-7, 1e20 (Python: 8.3e-07, 1e+20)
    return re.sub(r"(?<=[0-9])e([+-])0*([0-9])", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), text)


def div(a, b):
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def power(a, e):
    try:
        return math.pow(a, e)
    except ValueError:  # 0 to a negative power, or a negative base to a fractional one
        return math.inf if a == 0 else math.nan
    except OverflowError:
        return -math.inf if a < 0 and e == int(e) and int(e) % 2 else math.inf


def exp(z):
    try:
        return math.exp(z)
    except OverflowError:
        return math.inf


def log(z):
    return math.log(z) if z > 0 else (-math.inf if z == 0 else math.nan)


def forward(op, a):
    """A node's value from its inputs' values a."""
    kind = op[0]
    if kind in ("input", "const"):
        return op[1]
    return {
        "add": lambda: a[0] + a[1],
        "sub": lambda: a[0] - a[1],
        "mul": lambda: a[0] * a[1],
        "div": lambda: div(a[0], a[1]),
        "pow": lambda: power(a[0], op[1]),
        "neg": lambda: -a[0],
        "sigmoid": lambda: div(1.0, 1.0 + exp(-a[0])),
        "tanh": lambda: math.tanh(a[0]),
        "relu": lambda: max(a[0], 0.0) if not math.isnan(a[0]) else 0.0,
        "exp": lambda: exp(a[0]),
        "log": lambda: log(a[0]),
    }[kind]()


def local(op, k, a, out):
    """∂node/∂(its k-th input) at the values (a: the inputs', out: the node's), and the rule in words."""
    kind = op[0]
    if kind == "add":
        return 1.0, "∂(a+b)/∂a = ∂(a+b)/∂b = 1"
    if kind == "sub":
        return (1.0, "∂(a-b)/∂a = 1") if k == 0 else (-1.0, "∂(a-b)/∂b = -1")
    if kind == "mul":
        return (a[1], f"∂(a*b)/∂a = b = {num(a[1])}") if k == 0 else (a[0], f"∂(a*b)/∂b = a = {num(a[0])}")
    if kind == "div":
        if k == 0:
            return div(1.0, a[1]), f"∂(a/b)/∂a = 1/b = 1/{num(a[1])}"
        return div(-a[0], a[1] * a[1]), f"∂(a/b)/∂b = -a/b² = -({num(a[0])})/{num(a[1])}²"
    if kind == "pow":
        e, shown = op[1], op[2]
        return e * power(a[0], e - 1.0), f"∂(a^{shown})/∂a = {shown}·a^{num(e - 1.0)} = {shown}·{num(a[0])}^{num(e - 1.0)}"
    if kind == "neg":
        return -1.0, "∂(-a)/∂a = -1"
    if kind == "sigmoid":
        return out * (1.0 - out), f"σ′(z) = σ(z)(1−σ(z)) = {num(out)}·(1−{num(out)})"
    if kind == "tanh":
        return 1.0 - out * out, f"tanh′(z) = 1 − tanh²(z) = 1 − {num(out)}²"
    if kind == "relu":
        return (1.0 if a[0] > 0 else 0.0), f"relu′(z) = 1 if z > 0 else 0 (z = {num(a[0])})"
    if kind == "exp":
        return out, f"exp′(z) = exp(z) = {num(out)}"
    return div(1.0, a[0]), f"log′(z) = 1/z = 1/{num(a[0])}"


"#;

/// The walk itself: forward values, then the backward pass from f down,
/// nodes in reverse order of creation (a reverse topological order).
const BACKPROP_WALK: &str = r#"value = []
for label, op, inputs in NODES:
    value.append(forward(op, [value[i] for i in inputs]))
grad = [0.0] * len(NODES)
grad[-1] = 1.0
steps = []
for p in reversed(range(len(NODES))):
    parent, op, inputs = NODES[p]
    for k, c in enumerate(inputs):
        d, rule = local(op, k, [value[i] for i in inputs], value[p])
        grad[c] += d * grad[p]
        steps.append({"node": NODES[c][0], "op": op[0], "parent": parent, "value": value[c],
                      "local": d, "upstream": grad[p], "grad": grad[c], "rule": rule})
"#;

/// An f64 as a Python float literal.
fn py_f64(v: f64) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else if v.is_nan() {
        "math.nan".into()
    } else if v > 0.0 {
        "math.inf".into()
    } else {
        "-math.inf".into()
    }
}

/// A Python string literal.
fn py_str(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// A variable's name in the script: the expression's own, unless it is
/// Python's or the script's (then with a `_`).
fn py_name(name: &str) -> String {
    const TAKEN: &[&str] = &[
        "False",
        "None",
        "True",
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "yield",
        "json",
        "math",
        "sys",
        "torch",
        "num",
        "dumps",
        "div",
        "power",
        "exp",
        "log",
        "forward",
        "local",
        "value",
        "grad",
        "steps",
        "f",
        "t",
        "name",
        "i",
        "zip",
        "print",
        "EXPR",
        "NODES",
        "VARIABLES",
        "abs",
        "max",
        "int",
        "float",
    ];
    if TAKEN.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
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
        NodeOp::Var(name) => (py_name(name), 5),
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
