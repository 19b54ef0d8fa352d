//! The small lessons in the lab: gradient descent one keypress at a time
//! (Space), or running on its own (s), over the same [`SmallSession`] that
//! `dl-lab run` uses.
//!
//! Besides the session the stepper keeps what the views need to write an
//! update out with its numbers: the parameters before the last step, the
//! last [`EpochRecord`], and the [`Slope`] at the current parameters (the
//! cost and gradients the *next* Space will use, so the lab can show
//! "5.000 − 0.1·4.000 = 4.600" before the first step).

use std::time::{Duration, Instant};

use ndarray::IxDyn;

use crate::engine::Array;
use crate::lessons::{EpochRecord, Hyper, Lesson, SmallSession, Task};
use crate::Error;

/// How many past points the gd-scalar chart keeps as a trail.
pub const TRAIL_LEN: usize = 50;

/// How many rises in a row (each step's cost above the one before) count as
/// running away, once the cost is also more than [`RUNAWAY_FACTOR`] × its lowest.
pub const RUNAWAY_RISES: usize = 3;
pub const RUNAWAY_FACTOR: f32 = 2.0;

/// Most time one tick may spend stepping when running by itself, so the UI
/// still redraws (and reads keys) every tick of `event::TICK_MS` = 100 ms.
pub const TICK_BUDGET_MS: u64 = 60;

/// What the lab records of one step, to draw it again when rewound
/// (see `tui::rewind`): the parameters before it, the step's record
/// (cost, gradients, parameters after) and the learning rate it used.
#[derive(Clone, Debug)]
pub struct Snap {
    pub before: Vec<(String, Array)>,
    pub record: EpochRecord,
    pub lr: f32,
}

/// The cost and the gradients at the current parameters: what the next step uses.
#[derive(Clone, Debug)]
pub struct Slope {
    pub cost: f32,
    /// One gradient per parameter, named and shaped like `SmallSession::params`.
    pub grads: Vec<(String, Array)>,
}

/// A small lesson being stepped.
pub struct Stepper {
    lesson: Lesson,
    hyper: Hyper,
    pub session: SmallSession,
    /// The parameters before the last step (to write the update out).
    pub before: Vec<(String, Array)>,
    /// The last step: cost before it, gradients, parameters after it.
    pub last: Option<EpochRecord>,
    /// The learning rate the last step used (`+`/`-` may have changed it since).
    pub last_lr: f32,
    /// Cost and gradients at the current parameters (None if the cost cannot
    /// be computed).
    pub now: Option<Slope>,
    /// Every cost so far, in epoch order.
    pub costs: Vec<f32>,
    /// Every optimizer step's cost so far (with mini-batches, several per
    /// epoch: the Loss pane charts these).
    pub step_costs: Vec<f32>,
    /// The inputs `p` asked H(X) for (raw, as typed); the views compute H(X)
    /// with the current parameters.
    pub predict_x: Option<Vec<f32>>,
    /// The Conv/Pool pane's place shows sigmoid, tanh and ReLU (`A`) instead
    /// of the cost's graph.
    pub show_activations: bool,
    /// (x, y) of recent gd-scalar positions, oldest first.
    pub trail: Vec<(f32, f32)>,
    /// Running by itself (s), a few epochs per tick.
    pub auto: bool,
    /// Set when the cost became NaN or infinite; stepping stops until reset.
    pub diverged: Option<String>,
    /// Set while the cost keeps rising (the learning rate is too large);
    /// stepping goes on, running by itself stops.
    pub running_away: Option<String>,
    /// Each step, by epoch, for the Loss pane's rewind timeline.
    pub history: super::rewind::Timeline<Snap>,
    /// The lesson's findings that hold now ([`Lesson::findings`]).
    pub findings: Vec<String>,
    /// A model of exactly two numbers (linear's W and b): their value at the
    /// start and after every step, for the error surface (at most
    /// [`PATH_LEN`] points; empty for bigger models).
    pub path: Vec<[f32; 2]>,
    /// The Dataset pane shows the error surface instead of the fit (key e).
    pub show_surface: bool,
    /// The CSV the session's data came from (`--data`), kept for reset.
    csv: Option<std::path::PathBuf>,
    /// The weights being typed by hand (XOR's `e`; see `hand_weights`).
    pub hand: Option<super::hand_weights::HandEdit>,
}

/// Most points [`Stepper::path`] keeps.
pub const PATH_LEN: usize = 20_000;

/// The parameters as one point, when there are exactly two numbers.
pub fn two_params(session: &SmallSession) -> Option<[f32; 2]> {
    let v: Vec<f32> = session
        .params()
        .iter()
        .flat_map(|(_, t)| t.to_vec())
        .collect();
    match v.as_slice() {
        [a, b] => Some([*a, *b]),
        _ => None,
    }
}

/// The current value of every parameter.
pub fn param_arrays(session: &SmallSession) -> Vec<(String, Array)> {
    session
        .params()
        .into_iter()
        .map(|(n, t)| (n, t.to_array()))
        .collect()
}

/// Cost and gradients at the session's current parameters, leaving no
/// gradient behind (the next `step` computes its own).
pub fn slope(session: &SmallSession) -> Option<Slope> {
    let params = session.params();
    params.iter().for_each(|(_, t)| t.zero_grad());
    let cost = session.cost().ok()?;
    let value = cost.item();
    // an overflowed (infinite) cost still has a slope worth showing, e.g.
    // dy/dx = 2(x-3) for a huge x; only a NaN cost has none
    let grads = if !value.is_nan() && cost.backward().is_ok() {
        params
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    t.grad().unwrap_or_else(|| Array::zeros(IxDyn(&t.shape()))),
                )
            })
            .collect()
    } else {
        params
            .iter()
            .map(|(n, t)| (n.clone(), Array::from_elem(IxDyn(&t.shape()), f32::NAN)))
            .collect()
    };
    params.iter().for_each(|(_, t)| t.zero_grad());
    Some(Slope { cost: value, grads })
}

/// The session's error in the lab's words (keys instead of command-line flags).
fn lab_message(e: &Error) -> String {
    match e {
        Error::Diverged { at, value, lr, .. } => format!(
            "diverged: the cost became {value} at {at} with lr {}. Press r to reset, then - to lower the learning rate",
            super::format::lr(*lr)
        ),
        other => other.to_string(),
    }
}

impl Stepper {
    pub fn new(lesson: &Lesson, hyper: &Hyper) -> crate::Result<Stepper> {
        Stepper::with_csv(lesson, hyper, None)
    }

    /// As [`Stepper::new`], on the data of a CSV file (`--data`).
    pub fn with_csv(
        lesson: &Lesson,
        hyper: &Hyper,
        csv: Option<&std::path::Path>,
    ) -> crate::Result<Stepper> {
        let session = SmallSession::new(lesson, hyper, csv)?;
        let before = param_arrays(&session);
        let now = slope(&session);
        let mut stepper = Stepper {
            lesson: lesson.clone(),
            hyper: hyper.clone(),
            before,
            last: None,
            last_lr: hyper.lr,
            now,
            costs: Vec::new(),
            step_costs: Vec::new(),
            predict_x: None,
            show_activations: false,
            trail: Vec::new(),
            auto: false,
            diverged: None,
            running_away: None,
            history: super::rewind::Timeline::new(super::rewind::SMALL_CAPACITY),
            findings: Vec::new(),
            path: two_params(&session).into_iter().collect(),
            show_surface: false,
            csv: csv.map(|p| p.to_path_buf()),
            hand: None,
            session,
        };
        stepper.update_findings();
        Ok(stepper)
    }

    /// Decide the lesson's checks for the parameters and cost now.
    pub(super) fn update_findings(&mut self) {
        self.findings = match &self.now {
            Some(now) => self
                .lesson
                .findings(&self.session, now.cost)
                .unwrap_or_default(),
            None => Vec::new(),
        };
    }

    /// The lesson as it was after the `i`-th recorded step (see
    /// [`Stepper::history`]): its parameters, that step's record, the costs
    /// up to it and (gd-scalar) the trail, so the views draw it as they
    /// drew it then. The result is for drawing; stepping it would start
    /// from a fresh optimizer.
    pub fn at(&self, i: usize) -> Result<Stepper, String> {
        let (epoch, snap) = self
            .history
            .get(i)
            .ok_or_else(|| format!("no recorded step {i}"))?;
        let mut s = Stepper::with_csv(&self.lesson, &self.hyper, self.csv.as_deref())
            .map_err(|e| lab_message(&e))?;
        s.set_lr(snap.lr);
        for ((_, t), (_, v)) in s.session.params().iter().zip(&snap.record.params) {
            t.set_data(v.clone());
        }
        s.session.epoch = epoch + 1;
        s.before = snap.before.clone();
        s.last = Some(snap.record.clone());
        s.last_lr = snap.lr;
        s.costs = self.costs[..(epoch + 1).min(self.costs.len())].to_vec();
        let steps = (epoch + 1) * s.session.steps_per_epoch();
        s.step_costs = self.step_costs[..steps.min(self.step_costs.len())].to_vec();
        s.session.steps = steps;
        s.predict_x = self.predict_x.clone();
        s.show_activations = self.show_activations;
        if matches!(self.lesson.task, Task::Scalar { .. }) {
            let past: Vec<(f32, f32)> = (0..=i)
                .filter_map(|k| {
                    let (_, p) = self.history.get(k)?;
                    let x = p.before.first()?.1.iter().next().copied()?;
                    Some((x, p.record.cost))
                })
                .collect();
            s.trail = past[past.len().saturating_sub(TRAIL_LEN)..].to_vec();
        }
        s.now = slope(&s.session);
        s.update_findings();
        Ok(s)
    }

    pub fn lesson(&self) -> &Lesson {
        &self.lesson
    }

    pub fn hyper(&self) -> &Hyper {
        &self.hyper
    }

    /// Whether each update is exactly p ← p − lr·∂cost/∂p (SGD without
    /// momentum or weight decay), so the views may write it out that way.
    pub fn plain_sgd(&self) -> bool {
        self.hyper.optimizer
            == crate::train::OptimizerSettings::new(crate::optim::OptimizerKind::Sgd)
    }

    pub fn lr(&self) -> f32 {
        self.session.lr()
    }

    pub fn set_lr(&mut self, lr: f32) {
        self.hyper.lr = lr;
        self.session.set_lr(lr);
    }

    /// The current value of every parameter.
    pub fn params(&self) -> Vec<(String, Array)> {
        param_arrays(&self.session)
    }

    /// Back to the starting parameters, keeping the learning rate (and
    /// what the views were asked to show).
    pub fn reset(&mut self) -> Result<(), String> {
        let (lr, show) = (self.lr(), self.show_surface);
        let (predict_x, acts) = (self.predict_x.clone(), self.show_activations);
        *self = Stepper::with_csv(&self.lesson, &self.hyper, self.csv.as_deref())
            .map_err(|e| lab_message(&e))?;
        self.set_lr(lr);
        self.show_surface = show;
        self.predict_x = predict_x;
        self.show_activations = acts;
        Ok(())
    }

    /// Start again with another lesson value (an edited model) or other
    /// settings (`N`); on error nothing changes.
    pub fn restart(&mut self, lesson: &Lesson, hyper: &Hyper) -> Result<(), String> {
        let mut next =
            Stepper::with_csv(lesson, hyper, self.csv.as_deref()).map_err(|e| lab_message(&e))?;
        next.predict_x = self.predict_x.clone();
        next.show_activations = self.show_activations;
        next.show_surface = self.show_surface;
        *self = next;
        Ok(())
    }

    /// H(X) with the current parameters for the inputs `p` asked for.
    pub fn prediction(&self) -> Option<(Vec<f32>, f32)> {
        let x = self.predict_x.clone()?;
        let y = crate::lessons::headless::predict_one(&self.session, &x).ok()?;
        Some((x, y))
    }

    /// Take exactly one step. `Err` is a message for the learner: either no
    /// step was taken (diverged to NaN/∞, all epochs done), or it was taken
    /// and the cost keeps rising (see [`Stepper::running_away`]).
    pub fn step_once(&mut self) -> Result<(), String> {
        self.advance()?;
        self.now = slope(&self.session);
        self.update_findings();
        self.check_runaway()
    }

    /// One step without the slope and run-away bookkeeping.
    fn advance(&mut self) -> Result<(), String> {
        if let Some(msg) = &self.diverged {
            return Err(format!("{msg} (press r to reset)"));
        }
        if self.session.done() {
            self.auto = false;
            return Err(format!(
                "all {} epochs done; press r to start again",
                self.session.epochs
            ));
        }
        let before = param_arrays(&self.session);
        let lr = self.lr();
        match self.session.step() {
            Ok(r) => {
                if let (Task::Scalar { .. }, Some(x)) = (
                    &self.lesson.task,
                    before.first().and_then(|(_, a)| a.iter().next().copied()),
                ) {
                    self.trail.push((x, r.cost));
                    if self.trail.len() > TRAIL_LEN {
                        self.trail.remove(0);
                    }
                }
                self.history.push(
                    r.epoch,
                    Snap {
                        before: before.clone(),
                        record: r.clone(),
                        lr,
                    },
                );
                self.before = before;
                if let (Some(p), false) = (two_params(&self.session), self.path.is_empty()) {
                    if self.path.len() < PATH_LEN {
                        self.path.push(p);
                    }
                }
                self.costs.push(r.cost);
                self.step_costs.extend_from_slice(&r.step_costs);
                self.last = Some(r);
                self.last_lr = lr;
                Ok(())
            }
            Err(e) => {
                self.auto = false;
                let msg = lab_message(&e);
                self.diverged = Some(msg.clone());
                self.now = slope(&self.session);
                Err(msg)
            }
        }
    }

    /// Costs so far, with the current one (after the last step) at the end.
    fn cost_path(&self) -> Vec<f32> {
        let mut c = self.costs.clone();
        if let Some(s) = &self.now {
            c.push(s.cost);
        }
        c
    }

    /// Notice a cost that keeps climbing: stop running by itself and say so.
    fn check_runaway(&mut self) -> Result<(), String> {
        let path = self.cost_path();
        let n = path.len();
        let rising = n > RUNAWAY_RISES
            && path[n - RUNAWAY_RISES - 1..]
                .windows(2)
                .all(|w| w[1] > w[0]);
        let lowest = path.iter().copied().fold(f32::INFINITY, f32::min);
        let last = path.last().copied().unwrap_or(0.0);
        // a cost that can go below 0 (the momentum lesson's valleys) has no
        // "twice its lowest": there, climbing above where it started is
        let limit = if lowest > 0.0 {
            RUNAWAY_FACTOR * lowest
        } else {
            path.first().copied().unwrap_or(0.0).max(f32::MIN_POSITIVE)
        };
        if rising && last > limit {
            let from = path[n - RUNAWAY_RISES - 1];
            let msg = format!(
                "diverging: the cost rose {RUNAWAY_RISES} steps in a row ({} → {}); lr {} is too large. \
                 Press - to lower it, r to reset",
                super::format::cost(from),
                super::format::cost(last),
                super::format::lr(self.lr())
            );
            self.auto = false;
            self.running_away = Some(msg.clone());
            Err(msg)
        } else {
            self.running_away = None;
            Ok(())
        }
    }

    /// Epochs to run per tick when running by itself: the whole lesson in about 10 s.
    pub fn per_tick(&self) -> usize {
        (self.session.epochs / 100).max(1)
    }

    /// Advance when running by itself; returns an error message if one stopped it.
    pub fn tick(&mut self) -> Option<String> {
        if !self.auto {
            return None;
        }
        let start = Instant::now();
        let budget = Duration::from_millis(TICK_BUDGET_MS);
        let mut stopped = None;
        for _ in 0..self.per_tick() {
            if let Err(e) = self.advance() {
                stopped = Some(e);
                break;
            }
            if start.elapsed() > budget {
                break;
            }
        }
        self.now = slope(&self.session);
        self.update_findings();
        if stopped.is_some() {
            self.auto = false;
            return stopped;
        }
        self.check_runaway().err()
    }
}
