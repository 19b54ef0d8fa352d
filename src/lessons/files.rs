//! The files around a run: `--load` (a checkpoint to resume, or PyTorch
//! weights to start from), `--save` (a checkpoint after every epoch) and
//! `--history` (a CSV row per epoch); and `dl-lab eval` / `dl-lab export`.
//!
//! Checkpoints belong to the MNIST lessons (softmax-mnist, cnn-mnist and any
//! classifier lesson): the small lessons train in well under a second and
//! have nothing worth resuming, so these flags are refused there.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Hyper, Lesson, Task};
use crate::backend::Device;
use crate::data::mnist::Mnist;
use crate::nn::{spec::build_model, LayerSpec, Module, Sequential};
use crate::train::{classifier::EVAL_BATCH, evaluate_held_out, Checkpoint, Confusion};
use crate::{Error, Result};

/// `dl-lab run`'s files. `load` is already read and checked against the lesson.
#[derive(Clone, Debug, Default)]
pub struct RunFiles {
    pub load: Option<Checkpoint>,
    pub save: Option<PathBuf>,
    pub history: Option<PathBuf>,
}

/// The lesson's model: its layers and input shape, or an error for the
/// small lessons (`what` names the flag or command).
pub fn classifier_model<'a>(
    lesson: &'a Lesson,
    what: &str,
) -> Result<(&'a [LayerSpec], &'a [usize])> {
    match &lesson.task {
        Task::Classifier {
            layers,
            input_shape,
        } => Ok((layers, input_shape)),
        _ => Err(Error::Config(format!(
            "{what} is for the MNIST lessons (softmax-mnist, cnn-mnist); \
             lesson {} trains in a moment and has nothing to save or resume",
            lesson.name
        ))),
    }
}

impl RunFiles {
    /// Read `load` (a dl-lab checkpoint or a `.safetensors` file) and check its
    /// model against the lesson's; refuse the flags for the small lessons.
    pub fn open(
        lesson: &Lesson,
        load: Option<&Path>,
        save: Option<&Path>,
        history: Option<&Path>,
    ) -> Result<RunFiles> {
        let flags = [("--load", load), ("--save", save), ("--history", history)];
        let given: Vec<&str> = flags
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|(f, _)| *f)
            .collect();
        if !given.is_empty() {
            let what = match given.len() {
                1 => given[0].to_string(),
                _ => format!("{} (each)", given.join(", ")),
            };
            classifier_model(lesson, &what)?;
        }
        if let Some(path) = save {
            check_writable(path, "--save")?;
        }
        let load = match load {
            None => None,
            Some(path) => {
                let ck = Checkpoint::load(path)?;
                let (layers, input_shape) = classifier_model(lesson, "--load")?;
                ck.check_architecture(layers, input_shape)?;
                // names and shapes, before any training starts
                ck.apply(&build_model(layers, input_shape, &mut seeded(0))?)?;
                Some(ck)
            }
        };
        Ok(RunFiles {
            load,
            save: save.map(Path::to_path_buf),
            history: history.map(Path::to_path_buf),
        })
    }

    /// What a run starts from: a checkpoint's optimizer, learning rate,
    /// momentum, weight decay, batch size and seed replace the lesson's
    /// defaults (flags given on the command line still override them).
    pub fn defaults(&self, lesson: &Lesson) -> Hyper {
        let mut h = lesson.defaults.clone();
        if let Some(run) = self.load.as_ref().and_then(|c| c.run.as_ref()) {
            run.settings_into(&mut h);
        }
        h
    }
}

/// Check up front that `path` can be written (not a directory, its directory
/// exists and takes a new file), so a bad `--save` fails before any training,
/// with an error naming `path`.
pub fn check_writable(path: &Path, flag: &str) -> Result<()> {
    let refuse = |why: String| Error::Config(format!("{flag} {}: {why}", path.display()));
    if path.is_dir() {
        return Err(refuse("is a directory; give a file name".into()));
    }
    let name = path
        .file_name()
        .ok_or_else(|| refuse("not a file name".into()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(refuse(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    // the save writes a temporary file beside `path`: try exactly that
    let probe = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| refuse(format!("cannot write in {}: {e}", dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn seeded(seed: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// The MNIST data for a classifier lesson: `--data DIR` or the shipped sample.
pub fn load_mnist(lesson: &Lesson, data: Option<&Path>) -> Result<Mnist> {
    // `--data mnist` / `--data fashion-mnist`: the download cache
    let data = data
        .map(crate::data::download::resolve_data_arg)
        .transpose()?;
    match data.as_deref() {
        Some(dir) if dir.is_dir() => Mnist::load_dir(dir),
        Some(path) => Err(Error::Config(format!(
            "--data {}: lesson {} needs a directory holding the four MNIST files \
             (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-…)",
            path.display(),
            lesson.name
        ))),
        None => Mnist::shipped(),
    }
}

/// The training images a run uses: the first `h.train_subset` of `train`
/// (all of them when it is 0 or at least their number).
pub fn training_images(
    train: crate::data::mnist::ImageSet,
    h: &Hyper,
) -> Result<crate::data::mnist::ImageSet> {
    match h.train_subset {
        0 => Ok(train),
        n if n >= train.len() => Ok(train),
        n => train.subset(0..n),
    }
}

/// The lesson's model with the weights of `path` (a checkpoint or a
/// `.safetensors` file), on `device`.
pub fn load_model(lesson: &Lesson, path: &Path, device: &Device) -> Result<Sequential> {
    let (layers, input_shape) = classifier_model(lesson, "--load")?;
    let ck = Checkpoint::load(path)?;
    ck.check_architecture(layers, input_shape)?;
    let model = build_model(layers, input_shape, &mut seeded(0))?;
    ck.apply(&model)?;
    model.to(device)?;
    Ok(model)
}

/// What `dl-lab eval` measures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EvalResult {
    pub test_acc: f32,
    /// Mean cross-entropy over the held-out images.
    pub loss: f32,
    /// How many held-out images were scored.
    pub n: usize,
    /// `confusion[label][predicted]`: how many held-out images of each
    /// label got each prediction.
    pub confusion: Confusion,
}

/// `dl-lab eval LESSON --load PATH`: score the weights on the held-out set.
pub fn eval(
    lesson: &Lesson,
    path: &Path,
    data: Option<&Path>,
    device: &Device,
) -> Result<EvalResult> {
    let model = load_model(lesson, path, device)?;
    let mnist = load_mnist(lesson, data)?;
    let (_, input_shape) = classifier_model(lesson, "eval")?;
    let held_out = evaluate_held_out(&model, &mnist.test, input_shape, EVAL_BATCH, device)?;
    Ok(EvalResult {
        test_acc: held_out.acc,
        loss: held_out.loss,
        n: mnist.test.labels.len(),
        confusion: Confusion::new(&mnist.test.labels, &held_out.predictions.class),
    })
}

/// `dl-lab eval`'s output: `{"test_acc":A,"loss":L,"n":N,"confusion":[[…]…]}`
/// (rows: true label 0…9, columns: predicted class) or a line of text.
pub fn write_eval(r: &EvalResult, json: bool, out: &mut dyn Write) -> Result<()> {
    let line = if json {
        use super::headless::f32_json;
        serde_json::json!({
            "test_acc": f32_json(r.test_acc),
            "loss": f32_json(r.loss),
            "n": r.n,
            "confusion": r.confusion.rows(),
        })
        .to_string()
    } else {
        format!(
            "test_acc = {:.4} loss = {:.6} on {} held-out images",
            r.test_acc, r.loss, r.n
        )
    };
    writeln!(out, "{line}").map_err(|e| Error::io("<stdout>", e))
}

/// `dl-lab export CHECKPOINT OUT.safetensors`; returns what was written, for people.
pub fn export(checkpoint: &Path, out: &Path) -> Result<String> {
    let ck = Checkpoint::load(checkpoint)?;
    let refuse = |why: &str| Err(Error::Config(format!("export: {}: {why}", out.display())));
    let same = match (
        std::fs::canonicalize(checkpoint),
        std::fs::canonicalize(out),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return refuse(&format!(
            "is the checkpoint {} itself; give another file for the safetensors",
            checkpoint.display()
        ));
    }
    let mut head = [0u8; 8];
    let is_checkpoint = std::fs::File::open(out)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == crate::train::checkpoint::MAGIC;
    if is_checkpoint {
        return refuse("is a dl-lab checkpoint; export will not overwrite it (give another file)");
    }
    ck.export_safetensors(out)?;
    let names: Vec<String> = ck
        .weights
        .iter()
        .map(|(n, a)| format!("{n} {:?}", a.shape()))
        .collect();
    Ok(format!("{}: {}", out.display(), names.join(", ")))
}
