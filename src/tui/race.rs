//! The optimizer race in the lab: a [`Race`] stepped one keypress at a time
//! (Space, or → in the opened pane) or running by itself (s), switched
//! between the surfaces with f, reset with r, and every optimizer's rate set
//! at once with +/- (until then each has its own default).

use crate::lessons::{Lesson, Task};
use crate::train::race::{Race, Surface};

/// Steps kept at most; running stops there (the paths' memory stays bounded).
pub const MAX_STEPS: usize = 5000;

/// The race and how it is being driven.
pub struct RaceLab {
    pub race: Race,
    /// Running by itself (s), [`RaceLab::per_tick`] steps per tick.
    pub auto: bool,
    /// The lesson's surface and start (r and f go back to them).
    lesson_surface: Surface,
    lesson_start: [f32; 2],
}

impl RaceLab {
    /// The race of `lesson` (None for other lessons).
    pub fn of(lesson: &Lesson) -> Option<RaceLab> {
        let Task::Race { surface, start } = lesson.task else {
            return None;
        };
        let race = Race::new(surface, start, None).ok()?;
        Some(RaceLab {
            race,
            auto: false,
            lesson_surface: surface,
            lesson_start: start,
        })
    }

    /// The start on `surface`: the lesson's on its own surface, else that surface's default.
    fn start_on(&self, surface: Surface) -> [f32; 2] {
        if surface == self.lesson_surface {
            self.lesson_start
        } else {
            surface.default_start()
        }
    }

    /// Back to step 0 on `surface`, keeping a rate set with +/-.
    fn restart(&mut self, surface: Surface) -> Result<(), String> {
        let start = self.start_on(surface);
        self.race = Race::new(surface, start, self.race.lr).map_err(|e| e.to_string())?;
        self.auto = false;
        Ok(())
    }

    pub fn reset(&mut self) -> Result<(), String> {
        self.restart(self.race.surface)
    }

    /// f: the other surface, from its start. Returns the status line's note.
    pub fn switch_surface(&mut self) -> String {
        let next = self.race.surface.other();
        match self.restart(next) {
            Ok(()) => format!("surface {}: {}", next, next.formula()),
            Err(e) => e,
        }
    }

    /// One step of every optimizer.
    pub fn step(&mut self) -> Result<(), String> {
        if self.race.steps >= MAX_STEPS {
            self.auto = false;
            return Err(format!("{MAX_STEPS} steps: press r to start again"));
        }
        self.race.step().map_err(|e| e.to_string())
    }

    /// Steps per tick when running: Rosenbrock's small rates need more.
    pub fn per_tick(&self) -> usize {
        match self.race.surface {
            Surface::Bowl => 1,
            Surface::Rosenbrock => 10,
        }
    }

    /// Advance when running by itself; an error message if one stopped it.
    pub fn tick(&mut self) -> Option<String> {
        if !self.auto {
            return None;
        }
        for _ in 0..self.per_tick() {
            if let Err(e) = self.step() {
                self.auto = false;
                return Some(e);
            }
        }
        None
    }

    /// The rate for the status line: the one +/- set, else "defaults".
    pub fn lr_text(&self) -> String {
        self.race
            .lr
            .map_or("defaults".into(), crate::tui::format::lr)
    }

    /// The rate +/- starts from: the one set, else SGD's default.
    pub fn lr(&self) -> f32 {
        self.race.lr.unwrap_or(self.race.surface.sgd_lr())
    }
}
