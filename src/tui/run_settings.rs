//! The lab's `--init` and `--momentum` (`dl-lab --lesson X --init xavier
//! --momentum 0.5`) and its keys for them: `I` draws the first weights with
//! the next scheme (uniform → xavier → kaiming → zeros), `M` takes the next
//! momentum of [`MOMENTA`]. A small lesson starts again with the new
//! setting (on error nothing changes); an MNIST lesson's next run takes it.
//! What differs from plain SGD with PyTorch's initialisation shows beside
//! the learning rate in the status line and in the ghost curves' labels
//! ([`extras`]); `c` writes it into the script, as `dl-lab code` does.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::app::App;
use super::training::TrainState;
use crate::lessons::{Hyper, Lesson, Task};
use crate::nn::init::Init;

/// The momenta `M` steps through, in order (then back to the first).
pub const MOMENTA: [f32; 4] = [0.0, 0.5, 0.9, 0.99];

/// The schemes `I` steps through, PyTorch's default first.
pub const INITS: [Init; 4] = [Init::Uniform, Init::Xavier, Init::Kaiming, Init::Zeros];

/// `lesson`'s settings with the command line's `--init` and `--momentum`.
pub fn lab_hyper(
    lesson: &Lesson,
    init: Option<Init>,
    momentum: Option<f32>,
) -> Result<Hyper, String> {
    let mut h = lesson.defaults.clone();
    if let Some(i) = init {
        h.init = i;
    }
    if let Some(m) = momentum {
        if !(m.is_finite() && m >= 0.0) {
            return Err(format!("--momentum {m}: a momentum is a number ≥ 0"));
        }
        h.optimizer = h.optimizer.with_momentum(m).map_err(|e| e.to_string())?;
    }
    Ok(h)
}

/// " m 0.9 xavier": a momentum other than 0 and an init other than
/// PyTorch's default, for the status line and the ghost curves' labels
/// (empty when neither is set).
pub fn extras(h: &Hyper) -> String {
    let mut s = String::new();
    let m = h.optimizer.momentum();
    if m != 0.0 {
        s += &format!(" m {m}");
    }
    if h.init != Init::default() {
        s += &format!(" {}", h.init);
    }
    s
}

/// Why `lesson` takes neither setting, if it does not.
fn refusal(lesson: &Lesson) -> Option<String> {
    match &lesson.task {
        Task::Backprop { .. } | Task::TensorCode { .. } => Some(format!(
            "{} trains no model: no --init or --momentum",
            lesson.name
        )),
        Task::Race { .. } => Some(format!(
            "{} keeps each optimizer's settings: no --init or --momentum",
            lesson.name
        )),
        _ => None,
    }
}

/// The lab's `--init` / `--momentum` for `lesson`, checked before the lab
/// takes the screen: a small lesson must start with them.
pub fn check_lab_flags(
    lesson: &Lesson,
    init: Option<Init>,
    momentum: Option<f32>,
) -> Result<(), String> {
    if init.is_none() && momentum.is_none() {
        return Ok(());
    }
    if let Some(why) = refusal(lesson) {
        return Err(why);
    }
    let h = lab_hyper(lesson, init, momentum)?;
    if !lesson.is_classifier() {
        super::stepper::Stepper::new(lesson, &h).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl App {
    /// The lab started with `--init` / `--momentum`: the lesson starts
    /// with them, or, if it cannot, without them and the status line says
    /// why.
    pub fn with_run_flags(mut self, init: Option<Init>, momentum: Option<f32>) -> App {
        if init.is_none() && momentum.is_none() {
            return self;
        }
        let taken = match refusal(&self.lesson) {
            Some(why) => Err(why),
            None => lab_hyper(&self.lesson, init, momentum).and_then(|h| self.use_hyper(h)),
        };
        if let Err(why) = taken {
            self.message = Some(format!("--init/--momentum not used: {why}"));
        }
        self
    }

    /// The settings in force: the small lesson's as stepped, else the lab's.
    fn current_hyper(&self) -> Hyper {
        match &self.stepper {
            Some(s) => s.hyper().clone(),
            None => self.hyper.clone(),
        }
    }

    /// Take `h`: a small lesson starts again with it (on error nothing
    /// changes); the MNIST lessons' next run uses it.
    fn use_hyper(&mut self, h: Hyper) -> Result<(), String> {
        if let Some(s) = self.stepper.as_mut() {
            let lesson = s.lesson().clone();
            s.restart(&lesson, &h)?;
            self.rewind.go_live();
            self.loss.rewound = None;
            self.loss.reset_costs(s);
            self.loss.sync_costs(s);
        }
        self.hyper = h;
        Ok(())
    }

    /// `I` and `M`; true if used.
    pub(super) fn run_setting_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let next = match key.code {
            KeyCode::Char('I') => Setting::Init,
            KeyCode::Char('M') => Setting::Momentum,
            _ => return false,
        };
        if let Some(why) = refusal(&self.lesson) {
            let k = if next == Setting::Init { 'I' } else { 'M' };
            self.message = Some(format!("{k}: {why}"));
            return true;
        }
        let mut h = self.current_hyper();
        let what = match next {
            Setting::Init => {
                let at = INITS.iter().position(|&i| i == h.init).unwrap_or(0);
                h.init = INITS[(at + 1) % INITS.len()];
                format!("init {}", h.init)
            }
            Setting::Momentum => {
                let now = h.optimizer.momentum();
                let m = MOMENTA
                    .iter()
                    .copied()
                    .find(|&m| m > now)
                    .unwrap_or(MOMENTA[0]);
                match h.optimizer.clone().with_momentum(m) {
                    Ok(o) => h.optimizer = o,
                    Err(e) => {
                        self.message = Some(format!("M: {e}"));
                        return true;
                    }
                }
                format!("momentum {m}")
            }
        };
        let small = self.stepper.is_some();
        self.message = Some(match self.use_hyper(h) {
            Err(e) => format!("{what} not taken: {e}"),
            Ok(()) if small => format!("{what}: lesson restarted (r keeps it)"),
            Ok(()) => match self.training.state {
                TrainState::Running | TrainState::Paused | TrainState::Diverged(_) => {
                    format!("{what}: the next run takes it (r, then s)")
                }
                _ => format!("{what}: s trains with it"),
            },
        });
        true
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Setting {
    Init,
    Momentum,
}
