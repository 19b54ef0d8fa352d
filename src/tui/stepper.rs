//! The small lessons in the lab: gradient descent one keypress at a time
//! (Space), or running on its own (s), over the same [`SmallSession`] that
//! `dl-lab run` uses.

use crate::engine::Array;
use crate::lessons::{EpochRecord, Hyper, Lesson, SmallSession};

/// How many past points the gd-scalar chart keeps as a trail.
pub const TRAIL_LEN: usize = 50;

/// A small lesson being stepped.
pub struct Stepper {
    lesson: Lesson,
    hyper: Hyper,
    pub session: SmallSession,
    /// The parameters before the last step (to write the update out).
    pub before: Vec<(String, Array)>,
    /// The last step: cost before it, gradients, parameters after it.
    pub last: Option<EpochRecord>,
    /// Every cost so far, in epoch order.
    pub costs: Vec<f32>,
    /// (x, y) of recent gd-scalar positions, oldest first.
    pub trail: Vec<(f32, f32)>,
    /// Running by itself (s), a few epochs per tick.
    pub auto: bool,
    /// Set when the cost diverged; stepping stops until reset.
    pub diverged: Option<String>,
}

fn param_arrays(session: &SmallSession) -> Vec<(String, Array)> {
    session.params().into_iter().map(|(n, t)| (n, t.to_array())).collect()
}

impl Stepper {
    pub fn new(lesson: &Lesson, hyper: &Hyper) -> crate::Result<Stepper> {
        let session = SmallSession::new(lesson, hyper, None)?;
        let before = param_arrays(&session);
        Ok(Stepper {
            lesson: lesson.clone(),
            hyper: hyper.clone(),
            session,
            before,
            last: None,
            costs: Vec::new(),
            trail: Vec::new(),
            auto: false,
            diverged: None,
        })
    }

    pub fn lesson(&self) -> &Lesson {
        &self.lesson
    }

    pub fn lr(&self) -> f32 {
        self.session.lr()
    }

    pub fn set_lr(&mut self, lr: f32) {
        self.hyper.lr = lr;
        self.session.set_lr(lr);
    }

    /// Back to the starting parameters, keeping the learning rate.
    pub fn reset(&mut self) -> Result<(), String> {
        let lr = self.lr();
        *self = Stepper::new(&self.lesson, &self.hyper).map_err(|e| e.to_string())?;
        self.set_lr(lr);
        Ok(())
    }

    /// Take exactly one step; a diverging cost becomes the error message.
    pub fn step_once(&mut self) -> Result<(), String> {
        if let Some(msg) = &self.diverged {
            return Err(format!("{msg} (press r to reset)"));
        }
        if self.session.done() {
            self.auto = false;
            return Err(format!("all {} epochs done; press r to start again", self.session.epochs));
        }
        let before = param_arrays(&self.session);
        match self.session.step() {
            Ok(r) => {
                if let Some(x) = before.first().and_then(|(_, a)| a.iter().next().copied()) {
                    if self.lesson.name == "gd-scalar" {
                        self.trail.push((x, r.cost));
                        if self.trail.len() > TRAIL_LEN {
                            self.trail.remove(0);
                        }
                    }
                }
                self.before = before;
                self.costs.push(r.cost);
                self.last = Some(r);
                Ok(())
            }
            Err(e) => {
                self.auto = false;
                let msg = e.to_string();
                self.diverged = Some(msg.clone());
                Err(msg)
            }
        }
    }

    /// Epochs to run per tick when running by itself: the whole lesson in about 10 s.
    fn per_tick(&self) -> usize {
        (self.session.epochs / 100).max(1)
    }

    /// Advance when running by itself; returns an error message if one stopped it.
    pub fn tick(&mut self) -> Option<String> {
        if !self.auto {
            return None;
        }
        for _ in 0..self.per_tick() {
            if let Err(e) = self.step_once() {
                self.auto = false;
                return Some(e);
            }
        }
        None
    }
}
