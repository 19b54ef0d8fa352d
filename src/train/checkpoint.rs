//! Checkpoints (`dl-lab run --save/--load`, `dl-lab eval`) and weights in
//! PyTorch's safetensors format (`dl-lab export`, `--load model.safetensors`).
//!
//! A checkpoint file, version 1 (all integers little-endian):
//!
//! ```text
//! "DLLABCKP"            8 bytes, the magic
//! version               u32 (1)
//! header length         u64
//! header                JSON: lesson, layers (LayerSpec list), input shape, epoch, seed,
//!                       data set, optimizer settings, init (`--init`; absent in older
//!                       files: "uniform"), and the tensors' names and shapes
//! values                f32: every weight in header order, then each parameter's
//!                       optimizer buffers in parameter order
//! CRC-32                u32 of every byte before it
//! ```
//!
//! The CRC is checked before anything else is believed, and every size in
//! the header is checked against the bytes actually there before anything is
//! allocated, so a corrupt, truncated or foreign file is an error naming the
//! file, never a panic or a huge allocation. A save writes `.NAME.tmp`
//! beside the file, syncs it and renames it over the old one: an interrupted
//! save leaves the previous checkpoint whole.
//!
//! Weights are named as PyTorch's `state_dict()` of the same model written as
//! a `torch.nn.Sequential` ("0.weight", "3.bias", …), with PyTorch's layouts
//! (Linear `[out, in]`, Conv2d `[out, in, kh, kw]`), which are the engine's
//! own; so export and import copy the values as they are.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::IxDyn;
use serde::{Deserialize, Serialize};

use crate::engine::Array;
use crate::nn::{LayerSpec, Module, Sequential};
use crate::optim::{Optimizer, SavedState};
use crate::{Error, Result};

/// The first bytes of every dl-lab checkpoint.
pub const MAGIC: &[u8; 8] = b"DLLABCKP";
/// The checkpoint format this build writes and reads.
pub const VERSION: u32 = 1;
/// magic + version + header length
const PREFIX: usize = 8 + 4 + 8;
const CRC_LEN: usize = 4;
/// A header longer than this is not one of ours.
const MAX_HEADER: u64 = 16 << 20;
/// An optimizer keeps at most this many buffers per parameter (Adam: 2).
pub const MAX_BUFFERS: usize = 4;
/// A weight has at most this many dimensions (Conv2d's are 4).
const MAX_DIMS: usize = 8;

/// What a checkpoint records besides the values: enough to rebuild the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub lesson: String,
    pub layers: Vec<LayerSpec>,
    pub input_shape: Vec<usize>,
    /// The epochs trained so far (the next run starts at `epoch + 1`).
    pub epoch: usize,
    pub seed: u64,
    /// The data set trained on, as `Mnist::source` words it.
    pub data: String,
    pub optimizer: String,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub batch_size: usize,
    /// How the first weights were drawn (`--init`); a checkpoint from before
    /// this field was recorded started from PyTorch's default, "uniform".
    #[serde(default = "default_init")]
    pub init: String,
}

fn default_init() -> String {
    crate::nn::init::Init::default().name().to_string()
}

impl RunState {
    /// The run's settings (optimizer, lr, momentum, weight decay, batch
    /// size, seed, init) in place of `h`'s, as a resumed run takes them.
    pub fn settings_into(&self, h: &mut super::Hyper) {
        // the name was checked when the file was read
        if let Ok(o) = self.optimizer.parse::<super::OptimizerSettings>() {
            let o = o.with_weight_decay(self.weight_decay);
            h.optimizer = o.with_momentum(self.momentum).unwrap_or(o);
        }
        h.lr = self.lr;
        h.batch_size = self.batch_size;
        h.seed = self.seed;
        // checked when the file was read, like the optimizer's name
        if let Ok(init) = self.init.parse() {
            h.init = init;
        }
    }
}

/// The header as stored: the run and the tensors' names and shapes.
#[derive(Serialize, Deserialize)]
struct Header {
    run: RunState,
    /// (name, shape) of each weight, in the model's order
    weights: Vec<(String, Vec<usize>)>,
    /// per parameter: None (not stepped yet) or (step, number of buffers)
    optimizer_state: Vec<Option<(u64, usize)>>,
}

/// A loaded or captured checkpoint, or the weights of a `.safetensors` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The file it came from (for messages); empty for a captured one.
    pub path: PathBuf,
    /// Weights with PyTorch's `state_dict` names, in the model's order.
    pub weights: Vec<(String, Array)>,
    /// The run it belongs to; `None` for a `.safetensors` file (weights only).
    pub run: Option<RunState>,
    /// Each parameter's optimizer state (empty for a `.safetensors` file).
    pub optimizer_state: Vec<Option<SavedState>>,
}

fn bad(path: &Path, why: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// The number of values of `shape`, if an array of it can exist (ndarray
/// also wants the product of the non-zero dimensions to fit an `isize`).
fn shape_numel(shape: &[usize]) -> Option<usize> {
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |a, &d| a.checked_mul(d))?;
    if nonzero > isize::MAX as usize {
        return None;
    }
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

impl Checkpoint {
    /// The model's weights and the optimizer's state, after `run.epoch` epochs.
    pub fn capture(run: RunState, model: &Sequential, opt: &dyn Optimizer) -> Result<Checkpoint> {
        let weights = model
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (n, t.to_array()))
            .collect();
        Ok(Checkpoint {
            path: PathBuf::new(),
            weights,
            run: Some(run),
            optimizer_state: opt.state()?,
        })
    }

    /// The checkpoint's bytes in format version 1.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let run = self.run.clone().ok_or_else(|| {
            Error::Config(
                "a checkpoint needs its run (lesson, epoch, …); weights alone go to safetensors"
                    .into(),
            )
        })?;
        let header = Header {
            run,
            weights: self
                .weights
                .iter()
                .map(|(n, a)| (n.clone(), a.shape().to_vec()))
                .collect(),
            optimizer_state: self
                .optimizer_state
                .iter()
                .map(|s| s.as_ref().map(|s| (s.step, s.buffers.len())))
                .collect(),
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| Error::Config(format!("checkpoint header: {e}")))?;
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        let arrays = self.weights.iter().map(|(_, a)| a).chain(
            self.optimizer_state
                .iter()
                .flatten()
                .flat_map(|s| s.buffers.iter()),
        );
        for a in arrays {
            for v in a.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Write the checkpoint to `path` atomically (temporary file, sync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Read a dl-lab checkpoint or a `.safetensors` file (told apart by
    /// their first bytes), or say clearly why `path` is neither.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// As [`load`](Self::load), from bytes already read (`path` names them in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
        if bytes.starts_with(MAGIC) {
            return parse_checkpoint(path, bytes);
        }
        if MAGIC.starts_with(&bytes[..bytes.len().min(MAGIC.len())]) {
            return Err(bad(
                path,
                format!("truncated dl-lab checkpoint ({} bytes)", bytes.len()),
            ));
        }
        parse_safetensors(path, bytes).map_err(|why| {
            bad(
                path,
                format!(
                    "neither a dl-lab checkpoint (no \"DLLABCKP\" at the start) nor a safetensors file ({why})"
                ),
            )
        })
    }

    /// Copy the weights into `model`, after checking that every parameter has
    /// a weight of its shape and every weight a parameter (nothing is changed
    /// if one does not fit).
    pub fn apply(&self, model: &Sequential) -> Result<()> {
        let params = model.named_parameters();
        let have: HashMap<&str, &Array> =
            self.weights.iter().map(|(n, a)| (n.as_str(), a)).collect();
        let mut problems = Vec::new();
        for (name, t) in &params {
            match have.get(name.as_str()) {
                None => problems.push(format!("{name} is missing")),
                Some(a) if a.shape() != t.shape().as_slice() => problems.push(format!(
                    "{name}: the model has shape {:?}, the file {:?}",
                    t.shape(),
                    a.shape()
                )),
                Some(_) => {}
            }
        }
        let known: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        for (name, _) in &self.weights {
            if !known.contains(&name.as_str()) {
                problems.push(format!("{name} is not a parameter of the model"));
            }
        }
        if !problems.is_empty() {
            return Err(bad(
                &self.path,
                format!(
                    "the weights do not fit the lesson's model (expected {}): {}",
                    known.join(", "),
                    problems.join("; ")
                ),
            ));
        }
        for (name, t) in &params {
            if let Some(a) = have.get(name.as_str()) {
                t.set_data((*a).clone());
            }
        }
        Ok(())
    }

    /// Check a checkpoint's architecture against the lesson's model, saying
    /// what differs. A `.safetensors` file has none to check ([`apply`](Self::apply)
    /// checks its names and shapes).
    pub fn check_architecture(&self, layers: &[LayerSpec], input_shape: &[usize]) -> Result<()> {
        let Some(run) = &self.run else { return Ok(()) };
        let mut diffs = Vec::new();
        if run.input_shape != input_shape {
            diffs.push(format!(
                "input shape: the lesson takes {input_shape:?}, the checkpoint {:?}",
                run.input_shape
            ));
        }
        for i in 0..layers.len().max(run.layers.len()) {
            let label = |l: Option<&LayerSpec>| l.map_or("nothing".to_string(), LayerSpec::label);
            let (want, found) = (layers.get(i), run.layers.get(i));
            if want != found {
                diffs.push(format!(
                    "layer {i}: the lesson has {}, the checkpoint {}",
                    label(want),
                    label(found)
                ));
            }
        }
        if diffs.is_empty() {
            return Ok(());
        }
        Err(bad(
            &self.path,
            format!(
                "the checkpoint's model (lesson {}) is not this lesson's: {}",
                run.lesson,
                diffs.join("; ")
            ),
        ))
    }

    /// The weights as a safetensors file (F32, PyTorch's names and shapes),
    /// written atomically to `out`.
    pub fn export_safetensors(&self, out: &Path) -> Result<()> {
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .weights
            .iter()
            .map(|(n, a)| {
                let b: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
                (n.clone(), b, a.shape().to_vec())
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(n, b, s)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .map(|v| (n.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(out, format!("safetensors: {e}")))?;
        // what PyTorch's safetensors.torch.save_file writes
        let mut meta = HashMap::from([("format".to_string(), "pt".to_string())]);
        if let Some(run) = &self.run {
            meta.insert("dl-lab.lesson".into(), run.lesson.clone());
            meta.insert("dl-lab.epoch".into(), run.epoch.to_string());
        }
        let data = safetensors::serialize(views, Some(meta))
            .map_err(|e| bad(out, format!("safetensors: {e}")))?;
        write_atomic(out, &data)
    }
}

fn parse_checkpoint(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
    if bytes.len() < PREFIX + CRC_LEN {
        return Err(bad(
            path,
            format!("truncated dl-lab checkpoint ({} bytes)", bytes.len()),
        ));
    }
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let version = u32_at(8);
    if version != VERSION {
        return Err(bad(
            path,
            format!("dl-lab checkpoint version {version}; this dl-lab reads version {VERSION}"),
        ));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[12..20]);
    let header_len = u64::from_le_bytes(len8);
    let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err(bad(
            path,
            "the checkpoint is corrupt or truncated (its checksum does not match)",
        ));
    }
    if header_len > MAX_HEADER || header_len as usize > body.len() - PREFIX {
        return Err(bad(
            path,
            format!("header length {header_len} does not fit the file"),
        ));
    }
    let values_at = PREFIX + header_len as usize;
    let header: Header = serde_json::from_slice(&body[PREFIX..values_at])
        .map_err(|e| bad(path, format!("checkpoint header: {e}")))?;
    // every size, checked against the bytes there before anything is allocated
    let mut needed = 0usize;
    let mut sizes = Vec::new();
    for (name, shape) in &header.weights {
        if shape.len() > MAX_DIMS {
            return Err(bad(
                path,
                format!("{name}: {} dimensions (at most {MAX_DIMS})", shape.len()),
            ));
        }
        let n = shape_numel(shape)
            .ok_or_else(|| bad(path, format!("{name}: shape {shape:?} overflows")))?;
        sizes.push(n);
        needed = needed.saturating_add(n);
    }
    if let Err(e) = header.run.optimizer.parse::<crate::optim::OptimizerKind>() {
        return Err(bad(path, e.to_string()));
    }
    if let Err(e) = header.run.init.parse::<crate::nn::init::Init>() {
        return Err(bad(path, e.to_string()));
    }
    if header.optimizer_state.len() != header.weights.len() && !header.optimizer_state.is_empty() {
        return Err(bad(
            path,
            format!(
                "optimizer state for {} parameters but {} weights",
                header.optimizer_state.len(),
                header.weights.len()
            ),
        ));
    }
    for (i, s) in header.optimizer_state.iter().enumerate() {
        if let Some((_, buffers)) = s {
            // a zero-size weight's buffers take no bytes: only this bounds their count
            if *buffers > MAX_BUFFERS {
                return Err(bad(
                    path,
                    format!(
                        "optimizer state of parameter {i}: {buffers} buffers (an optimizer keeps at most {MAX_BUFFERS})"
                    ),
                ));
            }
            needed = needed.saturating_add(sizes[i].saturating_mul(*buffers));
        }
    }
    let values = &body[values_at..];
    if needed.checked_mul(4) != Some(values.len()) {
        return Err(bad(
            path,
            format!(
                "the header describes {needed} values but the file holds {} bytes of them",
                values.len()
            ),
        ));
    }
    let mut floats = values
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let mut take = |shape: &[usize], n: usize| {
        let v: Vec<f32> = floats.by_ref().take(n).collect();
        Array::from_shape_vec(IxDyn(shape), v).expect("sizes checked above")
    };
    let weights: Vec<(String, Array)> = header
        .weights
        .iter()
        .zip(&sizes)
        .map(|((name, shape), &n)| (name.clone(), take(shape, n)))
        .collect();
    let optimizer_state = header
        .optimizer_state
        .iter()
        .zip(&header.weights)
        .zip(&sizes)
        .map(|((s, (_, shape)), &n)| {
            s.map(|(step, buffers)| SavedState {
                step,
                buffers: (0..buffers).map(|_| take(shape, n)).collect(),
            })
        })
        .collect();
    Ok(Checkpoint {
        path: path.to_path_buf(),
        weights,
        run: Some(header.run),
        optimizer_state,
    })
}

/// The F32 tensors of a safetensors file, in name order ("0.bias" < "0.weight"
/// < "3.bias"…; [`Checkpoint::apply`] matches by name). The reason is for the caller's message.
fn parse_safetensors(path: &Path, bytes: &[u8]) -> std::result::Result<Checkpoint, String> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut weights = Vec::new();
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in tensors {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(format!(
                "{name} is {:?}; dl-lab reads F32 tensors (in PyTorch: model.float() before saving)",
                view.dtype()
            ));
        }
        let v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let a =
            Array::from_shape_vec(IxDyn(view.shape()), v).map_err(|e| format!("{name}: {e}"))?;
        weights.push((name, a));
    }
    Ok(Checkpoint {
        path: path.to_path_buf(),
        weights,
        run: None,
        optimizer_state: Vec::new(),
    })
}

/// Write `bytes` to `.NAME.tmp` beside `path`, sync it, and rename it over
/// `path`: readers see the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| bad(path, "not a file name"))?
        .to_string_lossy();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        // the user's path, not the temporary file's name
        return Err(Error::io(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })?;
    // the rename itself reaches the disk when the directory is synced (best effort)
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
