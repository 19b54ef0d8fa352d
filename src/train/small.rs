//! The small lessons' training loop, one epoch per call to
//! [`SmallSession::step`], in the course's order:
//! cost = loss(model(x), y); zero_grad; backward; step.
//! The lab steps it one keypress at a time; `dl-lab run` loops it.
//!
//! With `batch_size` B (0 < B < N rows) an epoch is ceil(N/B) such steps on
//! mini-batches: the rows are shuffled each epoch by a `StdRng` seeded with
//! `seed ^ epoch·0x9E3779B97F4A7C15` (as `DataLoader::order`), the last
//! batch keeps what is left, and the epoch's cost is the mean of its steps'
//! costs. With `normalize` the inputs are standardised (see
//! [`super::normalize`]); [`SmallSession::predict`] takes raw inputs.
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
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::normalize::Standardizer;
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
    /// Each optimizer step's cost, in order (one for a full-batch epoch);
    /// `cost` is their mean.
    pub step_costs: Vec<f32>,
}

/// A small lesson in progress.
pub struct SmallSession {
    net: SmallNet,
    /// Inputs (N, F), standardised with `--normalize`, and targets (N, 1);
    /// empty for gd-scalar.
    x: Tensor,
    y: Tensor,
    /// The inputs as given (what `data()` returns and the views plot).
    raw_x: Array,
    /// The mean and std the inputs were standardised with (`--normalize`).
    pub norm: Option<Standardizer>,
    /// Rows per optimizer step; 0 (or N and more) = the full batch.
    batch_size: usize,
    seed: u64,
    /// Optimizer steps taken so far (ceil(N/B) per mini-batch epoch).
    pub steps: usize,
    loss: LossKind,
    opt: Box<dyn Optimizer>,
    /// The next epoch to run (0 first).
    pub epoch: usize,
    /// The last epoch (inclusive).
    pub epochs: usize,
    /// [`params`](Self::params), named once: every epoch's record reads
    /// them, and a Sequential formats its names ("0.weight") when asked.
    named: Vec<(String, Tensor)>,
}

/// Named parameters (W and b, x, or PyTorch's "0.weight" names).
fn named_params(net: &SmallNet) -> Vec<(String, Tensor)> {
    match net {
        SmallNet::Scalar { x, .. } => vec![("x".into(), x.clone())],
        SmallNet::Affine { w, b } => vec![("W".into(), w.clone()), ("b".into(), b.clone())],
        SmallNet::Net(seq) => seq.named_parameters(),
    }
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
        SmallData::NoisyParabola { n, noise } => {
            let x = Array2::<f32>::random_using((*n, 1), StandardNormal, rng);
            let eps = Array2::<f32>::random_using((*n, 1), StandardNormal, rng);
            let y = x.mapv(|v| v * v + 3.0) + eps.mapv(|e| noise * e);
            Ok((x, y))
        }
    }
}

impl SmallSession {
    /// Set up lesson `name`'s `task` (not a classifier) with `hyper`; `csv`
    /// replaces its data.
    pub fn start(name: &str, task: &Task, hyper: &Hyper, csv: Option<&Path>) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(hyper.seed);
        let mut norm = None;
        let (net, x, y, loss) = match task {
            Task::Scalar { objective } => {
                if csv.is_some() {
                    return Err(Error::Config(format!(
                        "--data: lesson {name} takes no data"
                    )));
                }
                for (flag, given) in [
                    ("--normalize", hyper.normalize),
                    ("--batch-size", hyper.batch_size > 0),
                ] {
                    if given {
                        return Err(Error::Config(format!(
                            "{flag}: lesson {name} has no data, only the variable x"
                        )));
                    }
                }
                if hyper.init != Init::default() {
                    return Err(Error::Config(format!(
                        "lesson {name} has no layers for --init to initialise (x starts at {})",
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
                if hyper.normalize {
                    norm = Some(Standardizer::fit(&xs));
                }
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
        let named = named_params(&net);
        let opt = hyper.build_optimizer(named.iter().map(|(_, t)| t.clone()).collect())?;
        let raw_x = x.to_array();
        let x = match &norm {
            Some(n) => Tensor::new(n.apply(&to_2d(&raw_x)?).into_dyn()),
            None => x,
        };
        Ok(SmallSession {
            net,
            x,
            y,
            raw_x,
            norm,
            batch_size: hyper.batch_size,
            seed: hyper.seed,
            steps: 0,
            loss,
            opt,
            epoch: 0,
            epochs: hyper.epochs,
            named,
        })
    }

    /// The model's output for raw inputs `x` (N, F), standardised first as
    /// the training inputs were (`--normalize`); for a scalar objective, y
    /// at the current x.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        match &self.norm {
            Some(n) if !matches!(self.net, SmallNet::Scalar { .. }) => {
                let z = n.apply(&to_2d(&x.to_array())?);
                self.forward(&Tensor::new(z.into_dyn()))
            }
            _ => self.forward(x),
        }
    }

    /// The model on inputs already standardised (when the session is).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.net {
            SmallNet::Scalar { x, objective } => objective.tensor(x),
            SmallNet::Affine { w, b } => x.matmul(w)?.add(b),
            SmallNet::Net(seq) => seq.forward(x),
        }
    }

    /// The cost of the current parameters on all the data (builds the graph).
    pub fn cost(&self) -> Result<Tensor> {
        self.cost_on(&self.x, &self.y)
    }

    fn cost_on(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let pred = self.forward(x)?;
        match (&self.net, self.loss) {
            (SmallNet::Scalar { .. }, _) => Ok(pred),
            (_, LossKind::Mse) => mse_loss(&pred, y),
            (_, LossKind::Bce) => bce_loss(&pred, y),
        }
    }

    /// How many input features the model takes (0 for gd-scalar).
    pub fn features(&self) -> usize {
        match self.net {
            SmallNet::Scalar { .. } => 0,
            _ => self.raw_x.shape().get(1).copied().unwrap_or(0),
        }
    }

    /// Optimizer steps per epoch: ceil(N/B) with mini-batches, else 1.
    pub fn steps_per_epoch(&self) -> usize {
        let n = self.raw_x.shape().first().copied().unwrap_or(0);
        match self.batch_size {
            b if b > 0 && b < n && !matches!(self.net, SmallNet::Scalar { .. }) => n.div_ceil(b),
            _ => 1,
        }
    }

    /// The row order of `epoch`'s mini-batches (see the module docs).
    pub fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        let n = self.raw_x.shape().first().copied().unwrap_or(0);
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = StdRng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(SHUFFLE_MIX));
        order.shuffle(&mut rng);
        order
    }

    /// Named parameters (W and b, x, or PyTorch's "0.weight" names).
    pub fn params(&self) -> Vec<(String, Tensor)> {
        self.named.clone()
    }

    /// The training inputs (N, F) as given (not standardised) and targets (N, 1).
    pub fn data(&self) -> (Array, Array) {
        (self.raw_x.clone(), self.y.to_array())
    }

    /// The inputs (N, F) the model trains on: standardised with
    /// `--normalize`, else as given.
    pub fn model_inputs(&self) -> Array {
        self.x.to_array()
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

    /// Run one epoch: one step on the full batch, or ceil(N/B) steps on
    /// shuffled mini-batches. A cost that is NaN or infinite is an error that
    /// says at which epoch (and step) it diverged, and that step updates nothing.
    pub fn step(&mut self) -> Result<EpochRecord> {
        let per_epoch = self.steps_per_epoch();
        let mut step_costs = Vec::with_capacity(per_epoch);
        let mut grads = Vec::new();
        if per_epoch == 1 {
            let (x, y) = (self.x.clone(), self.y.clone());
            grads = self.one_step(&x, &y, None, &mut step_costs)?;
        } else {
            let order = self.epoch_order(self.epoch);
            let xs = self.x.to_array();
            let ys = self.y.to_array();
            for (k, rows) in order.chunks(self.batch_size).enumerate() {
                let bx = Tensor::new(xs.select(ndarray::Axis(0), rows));
                let by = Tensor::new(ys.select(ndarray::Axis(0), rows));
                grads = self.one_step(&bx, &by, Some((k, per_epoch)), &mut step_costs)?;
            }
        }
        let cost = step_costs.iter().sum::<f32>() / step_costs.len().max(1) as f32;
        let params = self
            .params()
            .into_iter()
            .map(|(n, t)| (n, t.to_array()))
            .collect();
        let record = EpochRecord {
            epoch: self.epoch,
            cost,
            params,
            grads,
            step_costs,
        };
        self.epoch += 1;
        Ok(record)
    }

    /// One optimizer step on (x, y); `batch` is (index, count) within a
    /// mini-batch epoch. Returns the gradients it used.
    fn one_step(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        batch: Option<(usize, usize)>,
        costs: &mut Vec<f32>,
    ) -> Result<Vec<(String, Array)>> {
        let cost = self.cost_on(x, y)?;
        let value = cost.item();
        if !value.is_finite() {
            let at = match batch {
                Some((k, n)) => format!("epoch {}, step {}/{n}", self.epoch, k + 1),
                None => format!("epoch {}", self.epoch),
            };
            return Err(Error::diverged(at, value, self.opt.lr()));
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
        self.steps += 1;
        costs.push(value);
        Ok(grads)
    }
}

impl SmallSession {
    /// Every row's prediction (no graph), for the rows trained on.
    pub fn predictions(&self) -> Result<Array> {
        Ok(crate::no_grad(|| self.forward(&self.x))?.to_array())
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

/// Mixes the epoch into the shuffle seed (the same constant as the MNIST loader's).
const SHUFFLE_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// An (N, F) view of a 2-D array.
fn to_2d(a: &Array) -> Result<Array2<f32>> {
    a.clone()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|_| {
            Error::Config(format!(
                "inputs must be (rows, features), got {:?}",
                a.shape()
            ))
        })
}
