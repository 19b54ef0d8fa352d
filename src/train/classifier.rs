//! Mini-batch training of an image classifier (softmax regression, the CNN):
//! for each batch: logits = model(x); loss = cross_entropy; zero_grad;
//! backward; step. After each epoch: accuracy and mean loss on the held-out
//! images, and every held-out image's predicted class (for the lab's
//! confusion matrix). The training accuracy is the running accuracy over the
//! epoch's batches, read from the logits the training step computed anyway
//! (as PyTorch notebooks report it): the model changes while the epoch runs,
//! so it trails a no-grad pass after the epoch a little.
//!
//! Devices: the model is moved to the run's device once, when the run is
//! built (before the optimizer sees its parameters). Each batch is cut on the
//! host and copied to the device with `.to(&device)`; labels stay a host
//! `Vec<usize>`. Only the loss (`item()`), the predicted classes and the
//! parameter snapshots the lab draws come back to the host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::{Array2, IxDyn};

use super::mistakes::Predictions;
use super::Control;
use crate::backend::Device;
use crate::data::loader::DataLoader;
use crate::data::mnist::ImageSet;
use crate::engine::{no_grad, Array};
use crate::nn::{cross_entropy, spec::build_model, LayerSpec, Module, Sequential};
use crate::optim::Optimizer;
use crate::{Error, Result, Tensor};

/// One epoch's results, as `--json` prints them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpochSummary {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f32,
    /// Accuracy on the held-out images after the epoch.
    pub test_acc: f32,
    /// Training images per second: training only, not evaluation nor the
    /// time the progress callback took (a lab paused, a report sent).
    pub img_per_s: f32,
    /// Running accuracy over the epoch's training batches (each batch
    /// scored by the logits its own step computed, before its update).
    pub train_acc: f32,
    /// Mean cross-entropy on the held-out images after the epoch.
    pub test_loss: f32,
    /// Every held-out image's predicted class and its probability after the
    /// epoch (not in the JSON line; the lab's confusion matrix uses it).
    #[serde(skip)]
    pub predictions: Option<Arc<Predictions>>,
}

/// What the loop reports as it goes.
#[derive(Clone, Debug)]
pub enum Progress {
    /// After each batch. `step` counts batches from 1 across epochs.
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
        step: usize,
        loss: f32,
        img_per_s: f32,
    },
    /// After each epoch's evaluation.
    Epoch(EpochSummary),
    /// A batch's loss came out NaN or infinite (its update is not applied).
    /// Answering `Continue` skips that batch and goes on (e.g. after the
    /// learner lowered the learning rate); `Stop` ends the run with
    /// [`Error::Diverged`].
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
        lr: f32,
    },
}

/// Images per batch when evaluating after each epoch. Small enough that the
/// CNN's evaluation needs no more memory than its training step (at 500 its
/// im2col buffer alone was 113 MB), large enough to keep the matmuls busy.
pub const EVAL_BATCH: usize = 100;

/// A classifier, its optimizer and its data, ready to train.
pub struct ClassifierRun {
    /// The model, which keeps its layer specs (`model.specs()`).
    pub model: Sequential,
    pub opt: Box<dyn Optimizer>,
    pub train: ImageSet,
    pub test: ImageSet,
    /// Shape of one image as the first layer wants it: [784] or [1, 28, 28].
    pub input_shape: Vec<usize>,
    pub epochs: usize,
    /// Epochs already trained (a resumed run starts at `done_epochs + 1`).
    pub done_epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Where the model lives and the batches are computed.
    pub device: Device,
}

/// A batch (B, rows·cols) reshaped to (B, …input_shape), on the host.
fn batch_tensor(images: Array2<f32>, input_shape: &[usize]) -> Result<Tensor> {
    let b = images.nrows();
    let mut shape = vec![b];
    shape.extend_from_slice(input_shape);
    let flat = images.into_raw_vec_and_offset().0;
    Array::from_shape_vec(IxDyn(&shape), flat)
        .map(Tensor::new)
        .map_err(|_| Error::ShapeMismatch {
            op: "input",
            lhs: vec![b],
            rhs: shape.clone(),
            why: "the images do not have the size the model's input expects".into(),
        })
}

/// A batch (B, rows·cols) as the model's input on `device`.
pub fn batch_input(images: Array2<f32>, input_shape: &[usize], device: &Device) -> Result<Tensor> {
    batch_tensor(images, input_shape)?.to(device)
}

/// Fraction of `set` the model classifies correctly, computed on `device`
/// (where the model must live) in batches, with no graph recorded. Only the
/// predicted classes come back to the host.
pub fn evaluate(
    model: &Sequential,
    set: &ImageSet,
    input_shape: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<f32> {
    if set.labels.is_empty() {
        return Ok(0.0);
    }
    let loader = DataLoader::from_set(set, batch_size.max(1))?;
    let mut correct = 0usize;
    no_grad(|| -> Result<()> {
        for (images, labels) in loader.epoch(0) {
            let logits = model.forward(&batch_input(images, input_shape, device)?)?;
            let pred = logits.argmax(1)?;
            correct += pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
        }
        Ok(())
    })?;
    Ok(correct as f32 / set.labels.len() as f32)
}

/// Accuracy and mean cross-entropy of the model on `set` (as
/// [`evaluate`], also summing the loss), for `dl-lab eval`.
pub fn evaluate_loss(
    model: &Sequential,
    set: &ImageSet,
    input_shape: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<(f32, f32)> {
    if set.labels.is_empty() {
        return Ok((0.0, 0.0));
    }
    let loader = DataLoader::from_set(set, batch_size.max(1))?;
    let (mut correct, mut loss_sum) = (0usize, 0.0f64);
    no_grad(|| -> Result<()> {
        for (images, labels) in loader.epoch(0) {
            let logits = model.forward(&batch_input(images, input_shape, device)?)?;
            loss_sum +=
                f64::from(cross_entropy(&logits, &labels)?.try_item()?) * labels.len() as f64;
            let pred = logits.argmax(1)?;
            correct += pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
        }
        Ok(())
    })?;
    let n = set.labels.len();
    Ok((correct as f32 / n as f32, (loss_sum / n as f64) as f32))
}

/// The model on `set` after an epoch: accuracy, mean cross-entropy, and
/// each image's predicted class with its probability.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldOut {
    pub acc: f32,
    pub loss: f32,
    pub predictions: Predictions,
}

/// As [`evaluate_loss`], also bringing each batch's softmax to the host (10
/// numbers an image) for the predictions. Classes are the argmax of the
/// probabilities, which is the argmax of the logits.
pub fn evaluate_held_out(
    model: &Sequential,
    set: &ImageSet,
    input_shape: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<HeldOut> {
    let mut out = HeldOut {
        acc: 0.0,
        loss: 0.0,
        predictions: Predictions::default(),
    };
    if set.labels.is_empty() {
        return Ok(out);
    }
    let loader = DataLoader::from_set(set, batch_size.max(1))?;
    let (mut correct, mut loss_sum) = (0usize, 0.0f64);
    no_grad(|| -> Result<()> {
        for (images, labels) in loader.epoch(0) {
            let logits = model.forward(&batch_input(images, input_shape, device)?)?;
            loss_sum +=
                f64::from(cross_entropy(&logits, &labels)?.try_item()?) * labels.len() as f64;
            let classes = logits.shape().get(1).copied().unwrap_or(1);
            let probs = logits.softmax(1)?.storage().to_host()?;
            let probs: Vec<f32> = probs.iter().copied().collect();
            let batch = Predictions::from_probs(&probs, classes);
            correct += batch
                .class
                .iter()
                .zip(&labels)
                .filter(|(&p, &l)| usize::from(p) == l)
                .count();
            out.predictions.class.extend(batch.class);
            out.predictions.prob.extend(batch.prob);
        }
        Ok(())
    })?;
    let n = set.labels.len();
    out.acc = correct as f32 / n as f32;
    out.loss = (loss_sum / n as f64) as f32;
    Ok(out)
}

impl ClassifierRun {
    /// Build the model from `specs` and the optimizer by name, on the CPU. The
    /// weights are drawn from [`SplitMix64`](crate::rng::SplitMix64) seeded
    /// with `hyper.seed`: each Linear and Conv2d in order, weight then bias
    /// (PyTorch's default U(±1/√fan_in)), then `--init`'s redraw of the weights.
    pub fn new(
        specs: &[LayerSpec],
        input_shape: &[usize],
        train: ImageSet,
        test: ImageSet,
        hyper: &super::Hyper,
    ) -> Result<Self> {
        Self::on_device(specs, input_shape, train, test, hyper, Device::Cpu)
    }

    /// As [`new`](Self::new), training on `device`: the model is built on the
    /// host (the same seeded values on every device), then moved there once.
    pub fn on_device(
        specs: &[LayerSpec],
        input_shape: &[usize],
        train: ImageSet,
        test: ImageSet,
        hyper: &super::Hyper,
        device: Device,
    ) -> Result<Self> {
        if train.is_empty() || test.is_empty() {
            return Err(Error::Config(format!(
                "the data set has {} training and {} held-out images: training needs at least one \
                 of each",
                train.len(),
                test.len()
            )));
        }
        if train.rows * train.cols != input_shape.iter().product::<usize>() {
            return Err(Error::Config(format!(
                "the images are {}x{}, but the model takes {:?}",
                train.rows, train.cols, input_shape
            )));
        }
        // the portable generator, so `dl-lab code`'s script starts from the same weights
        let mut rng = crate::rng::SplitMix64::new(hyper.seed);
        let model = build_model(specs, input_shape, &mut rng)?;
        hyper.init.apply(&model, &mut rng);
        model.to(&device)?;
        let opt = hyper.build_optimizer(model.parameters())?;
        let batch_size = if hyper.batch_size == 0 {
            train.labels.len().max(1)
        } else {
            hyper.batch_size
        };
        Ok(ClassifierRun {
            model,
            opt,
            train,
            test,
            input_shape: input_shape.to_vec(),
            epochs: hyper.epochs,
            done_epochs: 0,
            batch_size,
            seed: hyper.seed,
            device,
        })
    }

    /// A batch of host images as the model's input on the run's device.
    pub fn input(&self, images: Array2<f32>) -> Result<Tensor> {
        batch_input(images, &self.input_shape, &self.device)
    }

    /// One optimizer step from a batch's loss: zero_grad; backward; step.
    pub fn step(&mut self, loss: &Tensor) -> Result<()> {
        self.opt.zero_grad();
        loss.backward()?;
        self.opt.step()
    }

    /// Train every epoch, reporting to `on`, which also sees the optimizer
    /// (to change its learning rate) and the model (to snapshot it). The
    /// time `on` takes (a paused lab waits in it) is left out of the
    /// reported images per second. Returns
    /// the epochs' summaries (fewer if `on` answered `Stop`). A NaN or
    /// infinite batch loss stops with [`Error::Diverged`], naming the epoch
    /// and step.
    pub fn train(
        &mut self,
        mut on: impl FnMut(&Progress, &mut dyn Optimizer, &Sequential) -> Control,
    ) -> Result<Vec<EpochSummary>> {
        // the epoch's clock stops while `on` runs
        let outside = std::cell::Cell::new(Duration::ZERO);
        let mut on = |p: &Progress, opt: &mut dyn Optimizer, model: &Sequential| {
            let t = Instant::now();
            let c = on(p, opt, model);
            outside.set(outside.get() + t.elapsed());
            c
        };
        // drop_last as the course's DataLoader: every batch has batch_size images
        let loader = DataLoader::from_set(&self.train, self.batch_size)?
            .shuffle(self.seed)
            .drop_last(self.train.labels.len() >= self.batch_size);
        let batches = loader.len();
        let mut summaries = Vec::new();
        let mut step = self.done_epochs * batches;
        for epoch in self.done_epochs + 1..=self.epochs {
            let start = Instant::now();
            outside.set(Duration::ZERO);
            let busy = || start.elapsed().saturating_sub(outside.get()).as_secs_f32();
            let (mut loss_sum, mut seen, mut right) = (0.0f64, 0usize, 0usize);
            for (b, (images, labels)) in loader.epoch(epoch as u64 - 1).enumerate() {
                step += 1;
                let n = labels.len();
                let x = self.input(images)?;
                let logits = self.model.forward(&x)?;
                let loss = cross_entropy(&logits, &labels)?;
                let value = loss.try_item()?;
                if !value.is_finite() {
                    let lr = self.opt.lr();
                    let p = Progress::Diverged {
                        epoch,
                        step,
                        loss: value,
                        lr,
                    };
                    match on(&p, self.opt.as_mut(), &self.model) {
                        Control::Continue => continue,
                        Control::Stop => {
                            return Err(Error::diverged(
                                format!("epoch {epoch}, step {step}"),
                                value,
                                lr,
                            ))
                        }
                    }
                }
                // scored before the update, from the logits this step computed
                right += logits
                    .argmax(1)?
                    .iter()
                    .zip(&labels)
                    .filter(|(p, l)| p == l)
                    .count();
                self.step(&loss)?;
                loss_sum += value as f64 * n as f64;
                seen += n;
                let rate = seen as f32 / busy().max(1e-9);
                let p = Progress::Batch {
                    epoch,
                    batch: b + 1,
                    batches,
                    step,
                    loss: value,
                    img_per_s: rate,
                };
                if on(&p, self.opt.as_mut(), &self.model) == Control::Stop {
                    return Ok(summaries);
                }
            }
            let train_secs = busy().max(1e-9);
            let held_out = evaluate_held_out(
                &self.model,
                &self.test,
                &self.input_shape,
                EVAL_BATCH,
                &self.device,
            )?;
            let summary = EpochSummary {
                epoch,
                loss: (loss_sum / seen.max(1) as f64) as f32,
                test_acc: held_out.acc,
                img_per_s: seen as f32 / train_secs,
                train_acc: right as f32 / seen.max(1) as f32,
                test_loss: held_out.loss,
                predictions: Some(Arc::new(held_out.predictions)),
            };
            summaries.push(summary.clone());
            if on(&Progress::Epoch(summary), self.opt.as_mut(), &self.model) == Control::Stop {
                break;
            }
        }
        Ok(summaries)
    }
}
