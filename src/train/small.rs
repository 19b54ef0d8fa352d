//! The small lessons' training loop, one epoch per call to
//! [`SmallSession::step`], in the course's order:
//! cost = loss(model(x), y); zero_grad; backward; step.
//! The lab steps it one keypress at a time; `dl-lab run` loops it.
//!
//! [`Condition`]s are facts a run may end with (the cost stalled near
//! ln 2, every row classified, x at the minimum); a lesson pairs them with
//! its words, and [`SmallSession::holds`] decides them for the run that
//! actually happened.

use std::path::Path;

use ndarray::{Array2, IxDyn};
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::settings::Hyper;
use super::task::{LossKind, Objective, SmallData, SmallModel, Task};
use crate::engine::Array;
use crate::nn::{bce_loss, init::Init, mse_loss, spec::build_model, Module, Sequential};
use crate::optim::Optimizer;
use crate::{Error, Result, Tensor};

/// A fact a small run may end with; a lesson says what it means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Condition {
    /// The cost is within `tol` of `value`, called `name` ("ln 2").
    CostNear {
        value: f32,
        tol: f32,
        name: &'static str,
    },
    /// Every row's prediction is on its target's side of 0.5.
    ClassifiesAll,
    /// The one-valued parameter `param` is within `tol` of `value`.
    ParamNear {
        param: &'static str,
        value: f32,
        tol: f32,
    },
}

/// The trainable part of a small lesson.
enum SmallNet {
    /// A scalar objective: the single variable x.
    Scalar {
        x: Tensor,
        objective: Objective,
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
    /// Set up lesson `name`'s `task` (not a classifier) with `hyper`; `csv`
    /// replaces its data.
    pub fn start(name: &str, task: &Task, hyper: &Hyper, csv: Option<&Path>) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(hyper.seed);
        let (net, x, y, loss) = match task {
            Task::Scalar { objective } => {
                if csv.is_some() {
                    return Err(Error::Config(format!(
                        "--data: lesson {name} takes no data"
                    )));
                }
                if hyper.init != Init::default() {
                    return Err(Error::Config(format!(
                        "--init: lesson {name} has no layers to initialise (x starts at {})",
                        objective.start
                    )));
                }
                let x = Tensor::param(Array::from_elem(IxDyn(&[]), objective.start));
                (
                    SmallNet::Scalar {
                        x,
                        objective: objective.clone(),
                    },
                    Tensor::zeros(&[0]),
                    Tensor::zeros(&[0]),
                    LossKind::Mse,
                )
            }
            Task::Regression { data, model, loss } => {
                let (xs, ys) = load_data(data, csv, &mut rng)?;
                let features = xs.ncols();
                let net = match model {
                    SmallModel::Affine if !matches!(hyper.init, Init::Uniform | Init::Zeros) => {
                        return Err(Error::Config(format!(
                            "--init {}: lesson {name} starts W and b at zero, as the course does \
                             (--init is for the lessons with layers)",
                            hyper.init
                        )))
                    }
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
                        hyper.init.apply(&built, &mut rng);
                        SmallNet::Net(built)
                    }
                };
                if *loss == LossKind::Bce {
                    if let Some(bad) = ys.iter().find(|&&v| !(0.0..=1.0).contains(&v)) {
                        return Err(Error::Config(format!(
                            "lesson {name} needs targets between 0 and 1 (binary classes), found {bad}"
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
                    "lesson {name} trains on images, not step by step"
                )))
            }
            Task::Backprop { .. } | Task::TensorCode { .. } => {
                return Err(Error::Config(format!("lesson {name} trains no model")))
            }
            Task::Race { .. } => {
                return Err(Error::Config(format!(
                    "lesson {name} races seven optimizers on a formula: `dl-lab run {name}` or the lab runs it"
                )))
            }
        };
        let params = match &net {
            SmallNet::Scalar { x, .. } => vec![x.clone()],
            SmallNet::Affine { w, b } => vec![w.clone(), b.clone()],
            SmallNet::Net(seq) => seq.parameters(),
        };
        let opt = hyper.build_optimizer(params)?;
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

    /// The model's output for inputs `x` (N, F); for a scalar objective, y
    /// at the current x.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        match &self.net {
            SmallNet::Scalar { x, objective } => objective.tensor(x),
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
            SmallNet::Scalar { x, .. } => vec![("x".into(), x.clone())],
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

impl SmallSession {
    /// Every row's prediction (no graph), for the rows trained on.
    pub fn predictions(&self) -> Result<Array> {
        Ok(crate::no_grad(|| self.predict(&self.x))?.to_array())
    }

    /// Whether `c` holds for this run as it stands, `cost` being its last
    /// cost, and the numbers that say so ("cost 0.693147 ≈ ln 2 = 0.693147",
    /// "4/4 rows right", "x = 3.0000 ≈ 3.0000"); None when it does not hold.
    pub fn holds(&self, c: &Condition, cost: f32) -> Result<Option<String>> {
        Ok(match *c {
            Condition::CostNear { value, tol, name } => ((cost - value).abs() < tol)
                .then(|| format!("cost {cost:.6} ≈ {name} = {value:.6}")),
            Condition::ClassifiesAll => {
                if matches!(self.net, SmallNet::Scalar { .. }) || self.loss != LossKind::Bce {
                    return Ok(None);
                }
                let p = self.predictions()?;
                let y = self.y.to_array();
                let n = y.len();
                let right = p
                    .iter()
                    .zip(y.iter())
                    .filter(|(&pi, &yi)| (pi > 0.5) == (yi > 0.5))
                    .count();
                (n > 0 && right == n).then(|| format!("{right}/{n} rows right"))
            }
            Condition::ParamNear { param, value, tol } => {
                let v = self
                    .params()
                    .into_iter()
                    .find(|(n, t)| n == param && t.numel() == 1)
                    .map(|(_, t)| t.to_vec()[0]);
                v.filter(|v| (v - value).abs() < tol)
                    .map(|v| format!("{param} = {v:.4} ≈ {value:.4}"))
            }
        })
    }
}
