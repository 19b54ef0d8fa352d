//! `dl-lab code LESSON [run flags]`: the lesson as a runnable PyTorch
//! script, so what a learner did here carries over to the course's
//! notebook. Same data (the small lessons' inline, the MNIST lessons read
//! the same directory), the same initial weights (written into the script
//! for the small lessons; for the MNIST lessons drawn by the script from
//! dl-lab's portable generator, [`crate::rng`], as is each epoch's shuffle
//! order), the same hyper-parameters, and the same log lines as `dl-lab run
//! LESSON` with the same flags (`--json` too).

use std::fmt::Write as _;

use crate::data::mnist::{self, Mnist};
use crate::engine::Array;
use crate::lessons::{headless, Condition, Lesson, LossKind, RunConfig, SmallSession, Task};
use crate::nn::init::Init;
use crate::nn::LayerSpec;
use crate::train::OptimizerSettings;
use crate::{Error, Result};

/// The Python script for `lesson` run with `cfg`.
pub fn python_script(lesson: &Lesson, cfg: &RunConfig) -> Result<String> {
    if lesson.is_worked() {
        return crate::lessons::worked::python_code(lesson, cfg);
    }
    if let Task::Race { .. } = lesson.task {
        return crate::train::race::python_code(lesson, cfg);
    }
    let mut s = String::new();
    let mut flags = String::new();
    let h = &cfg.hyper;
    let d = RunConfig::defaults(lesson).hyper;
    if h.epochs != d.epochs {
        let _ = write!(flags, " --epochs {}", h.epochs);
    }
    if h.lr != d.lr {
        let _ = write!(flags, " --lr {}", h.lr);
    }
    if h.optimizer.kind() != d.optimizer.kind() {
        let _ = write!(flags, " --optimizer {}", h.optimizer);
    }
    let d_opt = OptimizerSettings::new(h.optimizer.kind());
    let base = if h.optimizer.kind() == d.optimizer.kind() {
        d.optimizer
    } else {
        d_opt
    };
    if h.optimizer.momentum() != base.momentum() {
        let _ = write!(flags, " --momentum {}", h.optimizer.momentum());
    }
    if h.optimizer.weight_decay() != base.weight_decay() {
        let _ = write!(flags, " --weight-decay {}", h.optimizer.weight_decay());
    }
    if h.init != d.init {
        let _ = write!(flags, " --init {}", h.init);
    }
    if h.seed != d.seed {
        let _ = write!(flags, " --seed {}", h.seed);
    }
    if h.batch_size != d.batch_size {
        let _ = write!(flags, " --batch-size {}", h.batch_size);
    }
    if h.normalize {
        flags.push_str(" --normalize");
    }
    if let Some(p) = &cfg.data {
        let _ = write!(flags, " --data {}", p.display());
    }
    if let Some(x) = &cfg.predict {
        let xs: Vec<String> = x.iter().map(|v| v.to_string()).collect();
        let _ = write!(flags, " --predict {}", xs.join(","));
    }
    if cfg.json {
        flags.push_str(" --json");
    }
    let _ = writeln!(
        s,
        "# {title}: the dl-lab lesson `{name}` in PyTorch.\n\
         # Written by `dl-lab code {name}{flags}`; it prints the same log as `dl-lab run {name}{flags}`.\n\
         # Run it with: python3 {file}.py   (needs PyTorch and numpy: pip install torch numpy)",
        title = lesson.title,
        name = lesson.name,
        file = lesson.name.replace('-', "_"),
    );
    s.push_str(
        "import json\nimport math\nimport sys\n\nimport numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n",
    );
    s.push_str(PY_HELPERS);
    match &lesson.task {
        Task::Classifier {
            layers,
            input_shape,
        } => classifier(&mut s, lesson, cfg, layers, input_shape)?,
        _ => small(&mut s, lesson, cfg)?,
    }
    Ok(s)
}

const PY_HELPERS: &str = r#"def f32(v):
    """A float32 as the shortest decimal that reads back as the same float32 (dl-lab's --json)."""
    v = float(v)
    return float(str(np.float32(v))) if math.isfinite(v) else None


def param_json(t):
    """One number for a single value, else nested lists shaped like the tensor."""
    t = t.detach()
    if t.numel() == 1:
        return f32(t.flatten()[0])
    def nest(x):
        return [nest(r) for r in x] if isinstance(x, list) else f32(x)
    return nest(t.tolist())


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


"#;

/// A tensor literal: shortest f32 decimals, nested like the array.
fn py_array(a: &Array) -> String {
    fn nest(values: &[f32], shape: &[usize], out: &mut String) {
        match shape.split_first() {
            None => {
                // a float literal: 5 would be a Python int
                let v = values[0];
                let text = if v.is_finite() {
                    let t = v.to_string();
                    if t.contains('.') {
                        t
                    } else {
                        format!("{t}.0")
                    }
                } else if v.is_nan() {
                    "float('nan')".to_string()
                } else if v > 0.0 {
                    "float('inf')".to_string()
                } else {
                    "float('-inf')".to_string()
                };
                out.push_str(&text);
            }
            Some((&n, rest)) => {
                let step = rest.iter().product::<usize>();
                out.push('[');
                for i in 0..n {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    nest(&values[i * step..(i + 1) * step], rest, out);
                }
                out.push(']');
            }
        }
    }
    let flat: Vec<f32> = a.iter().copied().collect();
    let mut out = String::new();
    nest(&flat, a.shape(), &mut out);
    out
}

/// A Python string literal.
fn py_str(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `torch.optim.X(params, …)` with the run's settings.
fn optimizer(cfg: &RunConfig, params: &str) -> Result<String> {
    let h = &cfg.hyper;
    let lr = h.lr;
    let wd = h.optimizer.weight_decay();
    let m = h.optimizer.momentum();
    Ok(match h.optimizer {
        OptimizerSettings::Sgd { nesterov, .. } => {
            let nesterov = if nesterov { ", nesterov=True" } else { "" };
            format!("torch.optim.SGD({params}, lr={lr}, momentum={m}, weight_decay={wd}{nesterov})")
        }
        OptimizerSettings::Adam { .. } => {
            format!("torch.optim.Adam({params}, lr={lr}, weight_decay={wd})")
        }
        OptimizerSettings::AdamW { .. } => {
            format!("torch.optim.AdamW({params}, lr={lr}, weight_decay={wd})")
        }
        OptimizerSettings::Rmsprop { .. } => {
            format!("torch.optim.RMSprop({params}, lr={lr}, momentum={m}, weight_decay={wd})")
        }
        OptimizerSettings::Adagrad { .. } => {
            format!("torch.optim.Adagrad({params}, lr={lr}, weight_decay={wd})")
        }
    })
}

/// `--init`'s `torch.nn.init` calls on every Linear and Conv2d of `model`
/// (nothing for PyTorch's default).
fn init_lines(init: Init) -> String {
    match init.torch_calls("layer") {
        None => String::new(),
        Some(calls) => {
            let body: Vec<String> = calls.lines().map(|l| format!("        {l}")).collect();
            format!(
                "# --init {init}\nfor layer in model:\n    if isinstance(layer, (nn.Linear, nn.Conv2d)):\n{}\n",
                body.join("\n")
            )
        }
    }
}

/// The lesson's findings ([`Lesson::findings`]) in Python: each printed
/// when its condition holds, with the numbers `dl-lab run` prints. `named`
/// is the Python list of (name, parameter); `bce` whether `p` and `correct`
/// (the per-row predictions) exist.
fn findings_py(lesson: &Lesson, named: &str, bce: bool) -> String {
    let mut s = String::new();
    for c in &lesson.checks {
        let says = py_str(&format!(": {}", c.says));
        match c.when {
            Condition::CostNear { value, tol, name } => {
                let _ = writeln!(
                    s,
                    "if abs(cost.item() - {value}) < {tol}:\n    \
                     print(f\"cost {{cost.item():.6f}} ≈ {name} = {{{value}:.6f}}\" + {says})"
                );
            }
            Condition::ClassifiesAll if bce => {
                let _ = writeln!(
                    s,
                    "if correct == len(p):\n    print(f\"{{correct}}/{{len(p)}} rows right\" + {says})"
                );
            }
            Condition::ClassifiesAll => {}
            Condition::ParamNear { param, value, tol } => {
                let _ = writeln!(
                    s,
                    "_p = dict({named}).get({name})\n\
                     if _p is not None and _p.numel() == 1 and abs(_p.item() - {value}) < {tol}:\n    \
                     print(f\"{param} = {{_p.item():.4f}} ≈ {{{value}:.4f}}\" + {says})",
                    name = py_str(param)
                );
            }
        }
    }
    s
}

/// A layer as PyTorch writes it.
fn torch_layer(spec: &LayerSpec) -> String {
    match spec {
        LayerSpec::Linear {
            in_features,
            out_features,
        } => format!("nn.Linear({in_features}, {out_features})"),
        LayerSpec::Conv2d {
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
        } => format!(
            "nn.Conv2d({in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}, padding={padding})"
        ),
        LayerSpec::MaxPool2d {
            kernel_size,
            stride,
        } => format!("nn.MaxPool2d(kernel_size={kernel_size}, stride={stride})"),
        LayerSpec::AvgPool2d {
            kernel_size,
            stride,
        } => format!("nn.AvgPool2d(kernel_size={kernel_size}, stride={stride})"),
        LayerSpec::ReLU => "nn.ReLU()".into(),
        LayerSpec::Sigmoid => "nn.Sigmoid()".into(),
        LayerSpec::Tanh => "nn.Tanh()".into(),
        LayerSpec::Flatten => "nn.Flatten()".into(),
    }
}

fn small(s: &mut String, lesson: &Lesson, cfg: &RunConfig) -> Result<()> {
    let h = &cfg.hyper;
    let session = SmallSession::new(lesson, h, cfg.data.as_deref())?;
    let params = session.params();
    let _ = writeln!(
        s,
        "nb_epochs = {}\nlog_every = {}",
        h.epochs,
        h.log_every.max(1)
    );
    let objective = lesson.objective();
    let scalar = objective.is_some();
    let loss = match &lesson.task {
        Task::Regression { loss, .. } => *loss,
        _ => LossKind::Mse,
    };
    let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    if let Some(o) = objective {
        let x0 = params[0].1.to_array();
        let _ = writeln!(
            s,
            "\n# minimise y = {} from x = {}\nx = torch.tensor({}, requires_grad=True)\n\
             optimizer = {}\n",
            o.expr(),
            py_array(&x0),
            py_array(&x0),
            optimizer(cfg, "[x]")?
        );
    } else {
        let (x, y) = session.data();
        let _ = writeln!(
            s,
            "\n# the training data ({} rows; the same rows dl-lab trains on)\n\
             x_train = torch.tensor({}, dtype=torch.float32)\n\
             y_train = torch.tensor({}, dtype=torch.float32)\n",
            x.shape()[0],
            py_array(&x),
            py_array(&y)
        );
        if h.normalize {
            s.push_str(NORMALIZE_PY);
        }
        let affine = matches!(
            lesson.task,
            Task::Regression {
                model: crate::lessons::SmallModel::Affine,
                ..
            }
        );
        if affine {
            let w = params[0].1.to_array();
            let _ = writeln!(
                s,
                "# H(x) = xW + b, W and b from zero as in the course\n\
                 W = torch.zeros({:?}, requires_grad=True)\nb = torch.zeros(1, requires_grad=True)\n\
                 optimizer = {}\n\n\ndef model(x):\n    return x.matmul(W) + b\n",
                (w.shape()[0], w.shape()[1]),
                optimizer(cfg, "[W, b]")?
            );
        } else {
            let Task::Regression {
                model: crate::lessons::SmallModel::Layers(specs),
                ..
            } = &lesson.task
            else {
                return Err(Error::Config(format!(
                    "lesson {} has no model",
                    lesson.name
                )));
            };
            let layers: Vec<String> = specs
                .iter()
                .map(|l| format!("    {},", torch_layer(l)))
                .collect();
            let _ = writeln!(s, "model = nn.Sequential(\n{}\n)", layers.join("\n"));
            s.push_str(&init_lines(h.init));
            let _ = writeln!(
                s,
                "# dl-lab's initial weights (seed {}), so both runs start from the same point",
                h.seed
            );
            s.push_str("model.load_state_dict({\n");
            for (name, t) in &params {
                let _ = writeln!(
                    s,
                    "    {}: torch.tensor({}),",
                    py_str(name),
                    py_array(&t.to_array())
                );
            }
            s.push_str("})\n");
            let _ = writeln!(s, "optimizer = {}\n", optimizer(cfg, "model.parameters()")?);
        }
    }
    let named = if scalar {
        "[(\"x\", x)]".to_string()
    } else if names.first().map(String::as_str) == Some("W") {
        "[(\"W\", W), (\"b\", b)]".to_string()
    } else {
        "list(model.named_parameters())".to_string()
    };
    let cost = match objective {
        Some(o) => o.python(),
        None if loss == LossKind::Bce => "F.binary_cross_entropy(model(x_train), y_train)".into(),
        None => "torch.mean((model(x_train) - y_train) ** 2)".into(),
    };
    let batched = !scalar && session.steps_per_epoch() > 1;
    let rows = session.data().0.shape()[0];
    // dl-lab's own row orders, written out while they stay small
    let exact = batched && rows * (h.epochs + 1) <= MAX_WRITTEN_ORDERS;
    if exact {
        let _ = writeln!(
            s,
            "# --batch-size {b}: each epoch takes the rows in a new shuffled order, {b} at a time\n\
             # (ceil(N/{b}) steps; the logged cost is the mean of the epoch's step costs, in float32).\n\
             # The orders are dl-lab's (its StdRng seeded with {seed} and the epoch), written out.\n\
             batch_size = {b}",
            b = h.batch_size,
            seed = h.seed
        );
        s.push_str("ORDERS = [\n");
        for epoch in 0..=h.epochs {
            let order: Vec<String> = session
                .epoch_order(epoch)
                .iter()
                .map(|i| i.to_string())
                .collect();
            let _ = writeln!(s, "    [{}],", order.join(", "));
        }
        s.push_str("]\n\n");
    } else if batched {
        let _ = writeln!(
            s,
            "# --batch-size {b}: each epoch takes the rows in a new shuffled order, {b} at a time\n\
             # (ceil(N/{b}) steps; the logged cost is the mean of the epoch's step costs). dl-lab\n\
             # shuffles with its own random generator (Rust's StdRng seeded with the seed and the\n\
             # epoch), which torch.randperm cannot reproduce: the order differs, so the log's\n\
             # figures are close to dl-lab's, not equal.\n\
             batch_size = {b}\nshuffle = torch.Generator().manual_seed({seed})\n",
            b = h.batch_size,
            seed = h.seed
        );
    }
    // the header lines `dl-lab run` prints
    let shape = (!scalar).then(|| {
        let (x, _) = session.data();
        (x.shape()[0], x.shape()[1])
    });
    let title = headless::title_line(lesson, cfg, shape);
    let settings = headless::small_settings_line(h);
    if !cfg.json {
        let _ = writeln!(s, "print({})\nprint({})", py_str(&title), py_str(&settings));
    }
    let total: usize = params.iter().map(|(_, t)| t.numel()).sum();
    let _ = writeln!(
        s,
        r#"
def params_text(named):
    if sum(p.numel() for _, p in named) > 12:
        return ""
    parts = []
    for name, p in named:
        v = p.detach().flatten().tolist()
        parts.append(f"{{name}}: {{v[0]:.3f}}" if len(v) == 1 else f"{{name}}: [" + ", ".join(f"{{a:.3f}}" for a in v) + "]")
    return ", ".join(parts)


for epoch in range(nb_epochs + 1):
{body}
    if epoch == 0 or epoch % log_every == 0 or epoch == nb_epochs:
        named = {named}
        if {json}:
            print(dumps({{"epoch": epoch, "cost": f32(cost.item()), "params": {{n: param_json(p) for n, p in named}}}}))
        else:
            p = params_text(named)
            print(f"Epoch {{epoch:4d}}/{{nb_epochs}} {{p}}{{' ' if p else ''}}Cost: {{cost.item():.6f}}")"#,
        json = if cfg.json { "True" } else { "False" },
        body = if batched {
            batched_body(&cost, exact)
        } else {
            format!(
                "    cost = {cost}\n    if not math.isfinite(cost.item()):\n        sys.exit(f\"error: the cost \
                 became {{cost.item()}} at epoch {{epoch}}; lower the learning rate\")\n    optimizer.zero_grad()\n    \
                 cost.backward()\n    optimizer.step()"
            )
        },
    );
    let _ = total;
    let bce = !scalar && loss == LossKind::Bce;
    if bce && !cfg.json {
        s.push_str(
            r#"
# what the run showed: each row's prediction
x_rows = x_raw if "x_raw" in globals() else x_train
with torch.no_grad():
    p = model(x_train).flatten().tolist()
correct = 0
for row, pi, yi in zip(x_rows.tolist(), p, y_train.flatten().tolist()):
    cls = 1 if pi > 0.5 else 0
    correct += cls == yi
    xs = ", ".join(f"{v:g}" for v in row)
    print(f"x = [{xs}] -> p = {pi:.4f} -> {cls} (target {yi:g})")
print(f"accuracy: {correct}/{len(p)}")
"#,
        );
    }
    let findings = findings_py(lesson, &named, bce);
    if !cfg.json && !findings.is_empty() {
        let _ = write!(
            s,
            "\n# what the lesson says when it holds for this run\n{findings}"
        );
    }
    predict_py(s, cfg, !scalar);
    Ok(())
}

/// `--normalize`'s lines, after the data (dl-lab's mean and std are computed in f64).
const NORMALIZE_PY: &str =
    "# --normalize: standardise each input column with the training data's mean and\n\
# sample standard deviation (N - 1, torch.std's default); a column without spread keeps std 1\n\
x_raw = x_train\n\
x_mean = x_train.mean(dim=0)\n\
x_std = x_train.std(dim=0)\n\
x_std[~(x_std > 0)] = 1.0\n\
x_train = (x_train - x_mean) / x_std\n\n";

/// Above this many row indices (rows × epochs) the batched script shuffles
/// with torch.randperm instead of writing out dl-lab's orders.
const MAX_WRITTEN_ORDERS: usize = 50_000;

/// One epoch of shuffled mini-batches; `cost` is the full-batch cost
/// expression; `exact`: the orders are dl-lab's `ORDERS`.
fn batched_body(cost: &str, exact: bool) -> String {
    let cost = cost.replace("x_train", "xb").replace("y_train", "yb");
    let order = if exact {
        "torch.tensor(ORDERS[epoch])"
    } else {
        "torch.randperm(len(x_train), generator=shuffle)"
    };
    format!(
        "    costs = []\n    order = {order}\n    \
         for k, start in enumerate(range(0, len(x_train), batch_size)):\n        \
         rows = order[start:start + batch_size]\n        xb, yb = x_train[rows], y_train[rows]\n        \
         step_cost = {cost}\n        if not math.isfinite(step_cost.item()):\n            \
         sys.exit(f\"error: the cost became {{step_cost.item()}} at epoch {{epoch}}, step {{k + 1}}; lower the learning rate\")\n        \
         optimizer.zero_grad()\n        step_cost.backward()\n        optimizer.step()\n        \
         costs.append(np.float32(step_cost.item()))\n    \
         # the mean of the step costs, summed in order in float32 as dl-lab does\n    \
         total = np.float32(0.0)\n    for c in costs:\n        total = np.float32(total + c)\n    \
         cost = torch.tensor(total / np.float32(len(costs)))"
    )
}

/// The `--predict` lines: H(X) of the trained model, as `dl-lab run` prints it.
fn predict_py(s: &mut String, cfg: &RunConfig, affine_or_net: bool) {
    let Some(x) = &cfg.predict else { return };
    if !affine_or_net {
        return;
    }
    let row = py_array(
        &ndarray::Array::from_shape_vec(ndarray::IxDyn(&[1, x.len()]), x.clone())
            .expect("one row of inputs"),
    );
    let text = headless::predict_text(x, 0.0);
    let prefix = text.split(" = ").next().unwrap_or("H");
    let xs: Vec<String> = x.iter().map(|v| format!("f32({v})")).collect();
    let _ = writeln!(
        s,
        "\n# --predict: H(X) of the trained model\nx_pred = torch.tensor({row})\n\
         if \"x_mean\" in globals():\n    x_pred = (x_pred - x_mean) / x_std\n\
         with torch.no_grad():\n    output = model(x_pred).item()\n\
         if {json}:\n    print(dumps({{\"predict\": [{xs}], \"output\": f32(output)}}))\n\
         else:\n    print(f\"{prefix} = {{output:.4f}}\")",
        json = if cfg.json { "True" } else { "False" },
        xs = xs.join(", "),
    );
}

/// `--init`'s redraw of every Linear and Conv2d weight after the default
/// draws, from the same generator, as [`Init::apply`] does (nothing for the
/// default); the bounds in float32 as [`Init::bound`] computes them.
fn portable_init_py(init: Init) -> String {
    let body = match init {
        Init::Uniform => return String::new(),
        Init::Zeros => "        layer.weight.zero_()\n        layer.bias.zero_()",
        Init::Xavier => {
            "        fan_in, fan_out = fans(layer.weight)\n        \
             draw(layer.weight, np.sqrt(np.float32(6) / np.float32(fan_in + fan_out)))"
        }
        Init::Kaiming => {
            "        draw(layer.weight, np.sqrt(np.float32(2)) * \
             np.sqrt(np.float32(3) / np.float32(fans(layer.weight)[0])))"
        }
    };
    format!("    # --init {init}: the weights drawn again, layer by layer\n    for layer in layers:\n{body}\n")
}

fn classifier(
    s: &mut String,
    lesson: &Lesson,
    cfg: &RunConfig,
    layers: &[LayerSpec],
    input_shape: &[usize],
) -> Result<()> {
    let h = &cfg.hyper;
    // `--data mnist` reads the download cache, as `dl-lab run` does
    let resolved = cfg
        .data
        .as_deref()
        .map(crate::data::download::resolve_data_arg)
        .transpose()?;
    let mut data = crate::lessons::files::load_mnist(lesson, resolved.as_deref())?;
    data.train = crate::lessons::files::training_images(data.train, h)?;
    let dir = resolved.unwrap_or_else(Mnist::shipped_dir);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let (test_images, test_labels) = if cfg.data.is_some() {
        (mnist::TEST_IMAGES, mnist::TEST_LABELS)
    } else {
        (mnist::SHIPPED_HELDOUT_IMAGES, mnist::SHIPPED_HELDOUT_LABELS)
    };
    let shape: Vec<String> = input_shape.iter().map(|d| d.to_string()).collect();
    let layer_lines: Vec<String> = layers
        .iter()
        .map(|l| format!("    {},", torch_layer(l)))
        .collect();
    let header = headless::classifier_settings_line(&data, h, "cpu");
    let title = headless::title_line(lesson, cfg, None);
    let _ = writeln!(
        s,
        r#"import gzip
import os
import struct
import time

DATA = {dir}


def read_idx(name):
    """An MNIST IDX file (raw or .gz) as a numpy array."""
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(name):
    # pixels 0..255 scaled to [0, 1], as dl-lab does
    x = torch.tensor(read_idx(name), dtype=torch.float32) / 255.0
    return x.reshape(-1, {shape})


x_train = images("train-images-idx3-ubyte"){subset}
y_train = torch.tensor(read_idx("train-labels-idx1-ubyte"), dtype=torch.long){subset}
x_test = images({test_images})
y_test = torch.tensor(read_idx({test_labels}), dtype=torch.long)

seed = {seed}
model = nn.Sequential(
{layers}
)

# dl-lab's random generator (SplitMix64), so this script starts from dl-lab's
# initial weights and takes the training images in dl-lab's order, bit for bit.
{generator}


# The initial weights: each Linear and Conv2d in order draws its weight, then its
# bias, from U(-b, b) with b = 1/sqrt(fan_in) (PyTorch's default formula, float32),
# one generator seeded with the seed.
rng = SplitMix64(seed)
layers = [m for m in model if isinstance(m, (nn.Linear, nn.Conv2d))]


def fans(w):
    return w[0].numel(), w.shape[0] * w[0][0].numel()


def draw(p, bound):
    p.copy_(torch.from_numpy(rng.uniform(p.numel(), bound)).reshape(p.shape))


with torch.no_grad():
    for layer in layers:
        b = np.float32(1) / np.sqrt(np.float32(fans(layer.weight)[0]))
        draw(layer.weight, b)
        draw(layer.bias, b)
{init}
optimizer = {opt}
batch_size = {batch}
nb_epochs = {epochs}
"#,
        dir = py_str(&dir.display().to_string()),
        // the lesson's first N training images (overfit-mnist)
        subset = match h.train_subset {
            0 => String::new(),
            n => format!("[:{n}]"),
        },
        shape = shape.join(", "),
        test_images = py_str(test_images),
        test_labels = py_str(test_labels),
        seed = h.seed,
        layers = layer_lines.join("\n"),
        generator = crate::rng::PYTHON.trim_end(),
        init = portable_init_py(h.init),
        opt = optimizer(cfg, "model.parameters()")?,
        batch = match h.batch_size {
            0 => "len(x_train)".to_string(),
            b => b.to_string(),
        },
        epochs = h.epochs,
    );
    if !cfg.json {
        let _ = writeln!(s, "print({})\nprint({})", py_str(&title), py_str(&header));
    }
    let _ = writeln!(
        s,
        r#"
# drop_last, as the course's DataLoader: every batch has batch_size images
drop_last = len(x_train) >= batch_size
for epoch in range(1, nb_epochs + 1):
    model.train()
    # dl-lab's shuffle: a Fisher-Yates shuffle from the epoch's own generator
    order = torch.tensor(SplitMix64.for_epoch(seed, epoch - 1).permutation(len(x_train)))
    start = time.perf_counter()
    loss_sum, seen, right = 0.0, 0, 0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        if drop_last and len(idx) < batch_size:
            break
        logits = model(x_train[idx])
        loss = F.cross_entropy(logits, y_train[idx])
        # the running training accuracy, from this step's logits (before its update)
        right += (logits.argmax(dim=1) == y_train[idx]).sum().item()
        if not math.isfinite(loss.item()):
            sys.exit(f"error: the loss became {{loss.item()}} in epoch {{epoch}}; lower the learning rate")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(idx)
        seen += len(idx)
    train_secs = max(time.perf_counter() - start, 1e-9)
    model.eval()
    test_loss_sum, test_right = 0.0, 0
    with torch.no_grad():
        # in batches of {eval_batch}, as dl-lab evaluates
        for i in range(0, len(x_test), {eval_batch}):
            test_logits = model(x_test[i:i + {eval_batch}])
            test_loss_sum += F.cross_entropy(test_logits, y_test[i:i + {eval_batch}]).item() * len(test_logits)
            test_right += (test_logits.argmax(dim=1) == y_test[i:i + {eval_batch}]).sum().item()
    # each figure a float32 computed as dl-lab computes it, so both print the same digits
    loss = float(np.float32(loss_sum / max(seen, 1)))
    train_acc = float(np.float32(right) / np.float32(max(seen, 1)))
    test_loss = float(np.float32(test_loss_sum / len(x_test)))
    test_acc = float(np.float32(test_right) / np.float32(len(x_test)))
    img_per_s = float(np.float32(seen) / np.float32(train_secs))
    summary = {{"epoch": epoch, "loss": f32(loss), "test_acc": f32(test_acc),
               "img_per_s": f32(img_per_s), "train_acc": f32(train_acc),
               "test_loss": f32(test_loss)}}
    if {json}:
        print(dumps(summary), flush=True)
    else:
        print(f"Epoch: {{epoch:04d}} loss = {{loss:.6f}} train_acc = {{train_acc:.4f}} "
              f"test_loss = {{test_loss:.6f}} test_acc = {{test_acc:.4f}} "
              f"({{img_per_s:.0f}} img/s)", flush=True)"#,
        json = if cfg.json { "True" } else { "False" },
        eval_batch = crate::train::classifier::EVAL_BATCH,
    );
    Ok(())
}
