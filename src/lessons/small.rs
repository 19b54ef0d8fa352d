//! The small lessons' training loop, one epoch per call to
//! [`SmallSession::step`], in the course's order:
//! cost = loss(model(x), y); zero_grad; backward; step.
//! The lab steps it one keypress at a time; `dl-lab run` loops it.

use std::path::Path;

use ndarray::{Array2, IxDyn};
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{Hyper, Lesson, LossKind, SmallData, SmallModel, Task};
use crate::engine::Array;
use crate::nn::{bce_loss, mse_loss, spec::build_model, Module, Sequential};
use crate::optim::{build_optimizer, Optimizer};
use crate::{Error, Result, Tensor};

/// The trainable part of a small lesson.
enum SmallNet {
    /// gd-scalar: the single variable x.
    Scalar {
        x: Tensor,
    },
    /// H(x) = xW + b
    Affine {
        w: Tensor,
        b: Tensor,
    },
    Net(Sequential),
}

/// What one epoch did: the cost before the update, parameters after it,
/// and the gradients the update used.
#[derive(Clone, Debug)]
pub struct EpochRecord {
    pub epoch: usize,
    pub cost: f32,
    pub params: Vec<(String, Array)>,
    pub grads: Vec<(String, Array)>,
}

/// A small lesson in progress.
pub struct SmallSession {
    net: SmallNet,
    /// Inputs (N, F) and targets (N, 1); empty for gd-scalar.
    x: Tensor,
    y: Tensor,
    loss: LossKind,
    opt: Box<dyn Optimizer>,
    /// The next epoch to run (0 first).
    pub epoch: usize,
    /// The last epoch (inclusive).
    pub epochs: usize,
}

fn table(x: &[Vec<f32>], y: &[f32]) -> Result<(Array2<f32>, Array2<f32>)> {
    let f = x.first().map_or(0, Vec::len);
    let xs = Array2::from_shape_vec((x.len(), f), x.concat())
        .map_err(|_| Error::Config("lesson table rows differ in length".into()))?;
    let ys = Array2::from_shape_vec((y.len(), 1), y.to_vec()).expect("one target per row");
    Ok((xs, ys))
}

/// The lesson's data, or the CSV given with `--data`.
fn load_data(
    data: &SmallData,
    csv: Option<&Path>,
    rng: &mut StdRng,
) -> Result<(Array2<f32>, Array2<f32>)> {
    if let Some(path) = csv {
        let (x, y, _header) = crate::data::csv::read_regression_csv(path)?;
        return Ok((x, y));
    }
    match data {
        SmallData::Table { x, y } => table(x, y),
        SmallData::Parabola { n } => {
            let x = Array2::<f32>::random_using((*n, 1), StandardNormal, rng);
            let y = x.mapv(|v| v * v + 3.0);
            Ok((x, y))
        }
    }
}

impl SmallSession {
    /// Set up `lesson` (not a classifier) with `hyper`; `csv` replaces its data.
    pub fn new(lesson: &Lesson, hyper: &Hyper, csv: Option<&Path>) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(hyper.seed);
        let (net, x, y, loss) = match &lesson.task {
            Task::Scalar { start } => {
                if csv.is_some() {
                    return Err(Error::Config(format!(
                        "--data: lesson {} takes no data",
                        lesson.name
                    )));
                }
                let x = Tensor::param(Array::from_elem(IxDyn(&[]), *start));
                (
                    SmallNet::Scalar { x },
                    Tensor::zeros(&[0]),
                    Tensor::zeros(&[0]),
                    LossKind::Mse,
                )
            }
            Task::Regression { data, model, loss } => {
                let (xs, ys) = load_data(data, csv, &mut rng)?;
                let features = xs.ncols();
                let net = match model {
                    SmallModel::Affine => SmallNet::Affine {
                        w: Tensor::param(Array::zeros(IxDyn(&[features, 1]))),
                        b: Tensor::param(Array::zeros(IxDyn(&[1]))),
                    },
                    SmallModel::Layers(specs) => {
                        let built =
                            build_model(specs, &[features], &mut rng).map_err(|e| match csv {
                                Some(p) => Error::Config(format!(
                                    "{}: {features} input columns do not fit the model: {e}",
                                    p.display()
                                )),
                                None => e,
                            })?;
                        SmallNet::Net(built)
                    }
                };
                if *loss == LossKind::Bce {
                    if let Some(bad) = ys.iter().find(|&&v| !(0.0..=1.0).contains(&v)) {
                        return Err(Error::Config(format!(
                            "lesson {} needs targets between 0 and 1 (binary classes), found {bad}",
                            lesson.name
                        )));
                    }
                }
                (
                    net,
                    Tensor::new(xs.into_dyn()),
                    Tensor::new(ys.into_dyn()),
                    *loss,
                )
            }
            Task::Classifier { .. } => {
                return Err(Error::Config(format!(
                    "lesson {} trains on images, not step by step",
                    lesson.name
                )))
            }
            Task::Race { .. } => {
                return Err(Error::Config(format!(
                "lesson {} races seven optimizers on a formula: `dl-lab run {}` or the lab runs it",
                lesson.name, lesson.name
            )))
            }
        };
        let params = match &net {
            SmallNet::Scalar { x } => vec![x.clone()],
            SmallNet::Affine { w, b } => vec![w.clone(), b.clone()],
            SmallNet::Net(seq) => seq.parameters(),
        };
        let opt = build_optimizer(
            &hyper.optimizer,
            params,
            hyper.lr,
            hyper.momentum,
            hyper.weight_decay,
        )?;
        Ok(SmallSession {
            net,
            x,
            y,
            loss,
            opt,
            epoch: 0,
            epochs: hyper.epochs,
        })
    }

    /// The model's output for inputs `x` (N, F); for gd-scalar, y at the current x.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        match &self.net {
            SmallNet::Scalar { x } => Ok(x.add_scalar(-3.0).pow(2.0).add_scalar(4.0)),
            SmallNet::Affine { w, b } => x.matmul(w)?.add(b),
            SmallNet::Net(seq) => seq.forward(x),
        }
    }

    /// The cost of the current parameters (builds the graph).
    pub fn cost(&self) -> Result<Tensor> {
        let pred = self.predict(&self.x)?;
        match (&self.net, self.loss) {
            (SmallNet::Scalar { .. }, _) => Ok(pred),
            (_, LossKind::Mse) => mse_loss(&pred, &self.y),
            (_, LossKind::Bce) => bce_loss(&pred, &self.y),
        }
    }

    /// Named parameters (W and b, x, or PyTorch's "0.weight" names).
    pub fn params(&self) -> Vec<(String, Tensor)> {
        match &self.net {
            SmallNet::Scalar { x } => vec![("x".into(), x.clone())],
            SmallNet::Affine { w, b } => vec![("W".into(), w.clone()), ("b".into(), b.clone())],
            SmallNet::Net(seq) => seq.named_parameters(),
        }
    }

    /// The training inputs (N, F) and targets (N, 1).
    pub fn data(&self) -> (Array, Array) {
        (self.x.to_array(), self.y.to_array())
    }

    pub fn lr(&self) -> f32 {
        self.opt.lr()
    }

    pub fn set_lr(&mut self, lr: f32) {
        self.opt.set_lr(lr);
    }

    /// Whether every epoch has run.
    pub fn done(&self) -> bool {
        self.epoch > self.epochs
    }

    /// Run one epoch. A cost that is NaN or infinite is an error that says
    /// at which epoch it diverged (and nothing is updated).
    pub fn step(&mut self) -> Result<EpochRecord> {
        let cost = self.cost()?;
        let value = cost.item();
        if !value.is_finite() {
            return Err(Error::diverged(
                format!("epoch {}", self.epoch),
                value,
                self.opt.lr(),
            ));
        }
        self.opt.zero_grad();
        cost.backward()?;
        let grads = self
            .params()
            .into_iter()
            .map(|(n, t)| {
                let g = t.grad().unwrap_or_else(|| Array::zeros(IxDyn(&t.shape())));
                (n, g)
            })
            .collect();
        self.opt.step()?;
        let params = self
            .params()
            .into_iter()
            .map(|(n, t)| (n, t.to_array()))
            .collect();
        let record = EpochRecord {
            epoch: self.epoch,
            cost: value,
            params,
            grads,
        };
        self.epoch += 1;
        Ok(record)
    }
}
