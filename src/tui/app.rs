//! The lab's state and its one transition function, `App::update(event)`.
//! No terminal here and no drawing: tests drive `update` with scripted
//! events and assert on the state.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::event::Event;
use super::keymap::{self, Intent};
use super::stepper::Stepper;
use super::views::{
    self, conv_viz::ConvPane, dataset::DatasetPane, loss_chart::LossPane, model_builder::ModelPane,
};
use crate::backend::Device;
use crate::data::mnist::Mnist;
use crate::lessons::{Hyper, Lesson, Task};
use crate::nn::{LayerSpec, Sequential};
use crate::train::{ClassifierRun, RunEvent, TrainEvent};

pub use super::training::{Progress, TrainState, TrainingRun};

/// Ticks a status message stays before the key hints return (6 s).
pub const MESSAGE_TICKS: u32 = 60;

/// The four panes, in Tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaneId {
    Dataset,
    Model,
    Loss,
    Conv,
}

impl PaneId {
    pub const ALL: [PaneId; 4] = [PaneId::Dataset, PaneId::Model, PaneId::Loss, PaneId::Conv];

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Dataset => "Dataset",
            PaneId::Model => "Model",
            PaneId::Loss => "Loss",
            PaneId::Conv => "Conv/Pool",
        }
    }

    fn index(self) -> usize {
        PaneId::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }

    pub fn next(self) -> PaneId {
        PaneId::ALL[(self.index() + 1) % 4]
    }

    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.index() + 3) % 4]
    }

    /// The pane beside this one in the 2×2 grid (Dataset Model / Loss Conv).
    fn neighbour(self, intent: Intent) -> PaneId {
        let i = self.index();
        let (row, col) = (i / 2, i % 2);
        let (row, col) = match intent {
            Intent::FocusLeft | Intent::FocusRight => (row, 1 - col),
            Intent::FocusUp | Intent::FocusDown => (1 - row, col),
            _ => (row, col),
        };
        PaneId::ALL[row * 2 + col]
    }
}

/// Everything the lab shows.
pub struct App {
    pub lesson: Lesson,
    pub hyper: Hyper,
    pub data: Arc<Mnist>,
    /// Plain characters instead of Braille and block glyphs.
    pub ascii: bool,
    /// No colours (`NO_COLOR`): pictures drawn with shade characters ░▒▓█.
    pub mono: bool,
    pub focus: PaneId,
    /// The focused pane fills the screen ("opened" with Enter).
    pub zoomed: bool,
    pub show_help: bool,
    /// Lines the help overlay is scrolled down (↑/↓/PgUp/PgDn while it is open).
    pub help_scroll: usize,
    /// The lesson list (L) is open, with this row selected.
    pub lesson_picker: Option<usize>,
    pub should_quit: bool,
    /// A one-line message for the status bar (errors, notes).
    pub message: Option<String>,
    /// The terminal's size, for mouse hit-tests.
    pub area: Rect,
    pub dataset: DatasetPane,
    pub builder: ModelPane,
    pub loss: LossPane,
    pub conv: ConvPane,
    /// The small lessons' step-by-step state (None for MNIST lessons).
    pub stepper: Option<Stepper>,
    /// The backprop lesson's view (it takes the whole screen).
    pub backprop: Option<views::backprop::BackpropPane>,
    /// The tensor-basics lesson's prompt (it takes the whole screen).
    pub prompt: Option<views::prompt::PromptPane>,
    /// The optimizer race (None in other lessons).
    pub race: Option<super::race::RaceLab>,
    /// The classifier's training run: worker, state, progress, trained model.
    pub training: TrainingRun,
    /// The held-out predictions per epoch: confusion matrix and mistakes.
    pub mistakes: super::mistakes::Mistakes,
    /// Where the MNIST lessons train (`--device`); the status line names it.
    /// The small lessons step on the CPU engine whatever it is.
    pub device: Device,
    /// The message as of the last tick, and how many ticks it has been shown.
    message_seen: Option<String>,
    message_ticks: u32,
    /// `--load`, `--save`, `--history` and the opened checkpoint.
    pub files: super::files::LabFiles,
    /// The "next lesson" note was shown for this finish.
    finish_announced: bool,
    /// `p`'s one-line prompt for X (small lessons), as typed so far.
    pub predict_prompt: Option<String>,
    /// The Model pane edits a small lesson's layers (`m`) instead of
    /// showing its parameters and update.
    pub small_model_editing: bool,
    /// Predict, then reveal (key Q) and `--transcript`.
    pub quiz: super::quiz::Quiz,
    /// Draw a digit: the Dataset pane's canvas (key d, MNIST lessons).
    pub canvas: super::canvas::Canvas,
    /// The rewind timeline's cursor and what the panes draw at it.
    pub rewind: super::rewind::Rewind,
    /// `--data`: the MNIST-format directory the lab reads (None: the
    /// shipped sample), for the script `c` writes.
    pub data_dir: Option<std::path::PathBuf>,
    tx: Sender<Event>,
}

impl App {
    /// A lab on `lesson` and `data`; `tx` is where the worker's reports go.
    pub fn new(lesson: Lesson, data: Arc<Mnist>, ascii: bool, tx: Sender<Event>) -> App {
        let hyper = lesson.defaults.clone();
        let stepper = match lesson.task {
            Task::Classifier { .. } | Task::Backprop { .. } | Task::TensorCode { .. } => None,
            _ => Stepper::new(&lesson, &hyper).ok(),
        };
        let backprop = match &lesson.task {
            Task::Backprop { expr, at } => Some(views::backprop::BackpropPane::new(expr, at)),
            _ => None,
        };
        let prompt = match &lesson.task {
            Task::TensorCode { code } => Some(views::prompt::PromptPane::new(code)),
            _ => None,
        };
        App {
            race: super::race::RaceLab::of(&lesson),
            dataset: DatasetPane::new(&data),
            builder: ModelPane::new(&lesson),
            loss: LossPane::default(),
            conv: ConvPane::new(&data),
            stepper,
            backprop,
            prompt,
            lesson,
            hyper,
            data,
            ascii,
            mono: false,
            focus: PaneId::Dataset,
            zoomed: false,
            show_help: false,
            help_scroll: 0,
            lesson_picker: None,
            should_quit: false,
            message: None,
            area: Rect::new(0, 0, 80, 24),
            training: TrainingRun::new(),
            mistakes: Default::default(),
            device: Device::Cpu,
            message_seen: None,
            message_ticks: 0,
            finish_announced: false,
            predict_prompt: None,
            small_model_editing: false,
            files: Default::default(),
            data_dir: None,
            rewind: Default::default(),
            canvas: Default::default(),
            quiz: Default::default(),
            tx,
        }
    }

    /// The same lab training on `device`; `note` (e.g. why `auto` chose the
    /// CPU) is shown once in the status line (it ages out as messages do),
    /// and only in the lessons the device trains: the others run on the
    /// CPU whatever `--device` says, and keep their key hints.
    pub fn with_device(mut self, device: Device, note: Option<String>) -> App {
        self.device = device;
        if let Some(note) = note.filter(|_| self.lesson.is_classifier()) {
            self.message = Some(note);
        }
        self
    }

    /// The same lab with the files `--load`, `--save` and `--history` name.
    pub fn with_files(mut self, files: super::files::LabFiles) -> App {
        self.files = files;
        self
    }

    /// The same lab appending each Space step to `--transcript FILE.md`.
    pub fn with_transcript(mut self, path: Option<std::path::PathBuf>) -> App {
        self.quiz.transcript = path;
        self
    }

    /// The same lab reading `--data dir` (None: the shipped sample).
    pub fn with_data_dir(mut self, dir: Option<std::path::PathBuf>) -> App {
        self.data_dir = dir;
        self
    }

    /// Show `model` as the trained classifier (a test, a loaded model), in
    /// place of the run's.
    pub fn set_trained(&mut self, model: Option<Arc<Sequential>>) {
        self.training.set_trained(model);
        self.refresh_views();
    }

    /// What the panes show of the trained model, computed here rather than
    /// while drawing: the Dataset pane's prediction, conv1's filters and
    /// their feature maps. Each is computed again only when the model or
    /// the image it is of changed.
    fn refresh_views(&mut self) {
        let model = self.training.trained().cloned();
        let input_shape = match &self.lesson.task {
            Task::Classifier { input_shape, .. } => input_shape.clone(),
            _ => vec![self.data.test.pixels()],
        };
        self.dataset
            .refresh(&self.data, &input_shape, model.as_ref());
        self.canvas.refresh(&input_shape, model.as_ref());
        self.conv.refresh(model.as_ref(), &self.data);
    }

    /// The one state transition.
    pub fn update(&mut self, event: Event) {
        match event {
            Event::Key(key) => self.on_key(key),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => self.area = Rect::new(0, 0, w, h),
            Event::Tick => self.on_tick(),
            Event::Train(ev) => self.on_train(ev),
        }
        self.refresh_views();
    }

    fn on_key(&mut self, key: KeyEvent) {
        if self.lesson_picker.is_some() {
            return self.picker_key(key);
        }
        if self.show_help {
            return self.help_key(key);
        }
        if self.worked_key(key) {
            return;
        }
        // a quiz question waits for its answer (q still quits)
        if self.quiz_key(key) {
            return;
        }
        // N, b, p, A, m and the prompt p opens (see small_lab.rs)
        if self.small_lesson_key(key) {
            return;
        }
        // an open editor (e.g. the model builder's) sees keys first (Esc
        // cancels it); q always quits
        if self.focus == PaneId::Model && self.builder.is_editing() {
            if let Some(Intent::Quit) = keymap::intent(&key, true) {
                return self.quit();
            }
            if self.builder.handle_key(key) {
                return;
            }
        }
        // the canvas, when shown, takes its keys (Space, +/-, arrows) first
        if self.canvas_key(key)
            || self.race_key(key)
            || self.stepper_key(key)
            || self.run_setting_key(key)
        {
            return;
        }
        match keymap::intent(&key, self.zoomed) {
            Some(intent) => self.apply(intent),
            None => {
                self.pane_key(key);
            }
        }
    }

    /// A key for a worked lesson's view (backprop, the tensor prompt), which takes its keys
    /// before the lab's; while a line is typed every key is the view's but
    /// Ctrl-C. True if the view used it.
    fn worked_key(&mut self, key: KeyEvent) -> bool {
        if let Some(p) = self.prompt.as_mut() {
            if p.active && keymap::is_interrupt(&key) {
                self.quit();
                return true;
            }
            let used = p.handle_key(key);
            if used {
                self.announce_finish();
            }
            return used;
        }
        let Some(b) = self.backprop.as_mut() else {
            return false;
        };
        if b.is_editing() && keymap::is_interrupt(&key) {
            self.quit();
            return true;
        }
        let used = b.handle_key(key);
        if used {
            self.announce_finish();
        }
        used
    }

    /// The race's own keys: f switches the surface; → steps in an opened pane.
    fn race_key(&mut self, key: KeyEvent) -> bool {
        use crossterm::event::{KeyCode, KeyEventKind};
        let Some(r) = self.race.as_mut() else {
            return false;
        };
        if key.kind == KeyEventKind::Release {
            return false;
        }
        match key.code {
            KeyCode::Char('f') => self.message = Some(r.switch_surface()),
            KeyCode::Right if self.zoomed => self.message = r.step().err(),
            _ => return false,
        }
        true
    }

    /// The small lessons' e: linear's error surface on / off.
    fn stepper_key(&mut self, key: KeyEvent) -> bool {
        use crossterm::event::{KeyCode, KeyEventKind};
        let Some(s) = self.stepper.as_mut() else {
            return false;
        };
        if key.kind == KeyEventKind::Release || key.code != KeyCode::Char('e') {
            return false;
        }
        if views::stepper_view::cost_map::applies(s) {
            s.show_surface = !s.show_surface;
            return true;
        }
        false
    }

    /// Keys while the help is open: arrows and PgUp/PgDn scroll it, q quits,
    /// anything else closes it.
    fn help_key(&mut self, key: KeyEvent) {
        use crossterm::event::{KeyCode, KeyEventKind};
        if key.kind == KeyEventKind::Release {
            return;
        }
        let screen = Rect {
            height: self.area.height.saturating_sub(1),
            ..self.area
        };
        let max = views::help::max_scroll(self, screen);
        let page = views::help::page(screen);
        let s = self.help_scroll.min(max);
        self.help_scroll = match key.code {
            KeyCode::Down | KeyCode::Char('j') => (s + 1).min(max),
            KeyCode::Up | KeyCode::Char('k') => s.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => (s + page).min(max),
            KeyCode::PageUp => s.saturating_sub(page),
            KeyCode::Home => 0,
            KeyCode::End => max,
            _ => {
                if let Some(Intent::Quit) = keymap::intent(&key, self.zoomed) {
                    self.quit();
                }
                self.show_help = false;
                0
            }
        };
    }

    /// Keys while the lesson list is open: ↑/↓ (j/k) choose, Enter opens, Esc closes.
    fn picker_key(&mut self, key: KeyEvent) {
        use crossterm::event::{KeyCode, KeyEventKind};
        if key.kind == KeyEventKind::Release {
            return;
        }
        let n = crate::lessons::all().len();
        let Some(i) = self.lesson_picker else { return };
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.lesson_picker = Some((i + n - 1) % n),
            KeyCode::Down | KeyCode::Char('j') => self.lesson_picker = Some((i + 1) % n),
            KeyCode::Esc | KeyCode::Char('L') => self.lesson_picker = None,
            KeyCode::Char('q') => self.quit(),
            KeyCode::Enter => {
                if let Some(lesson) = crate::lessons::all().into_iter().nth(i) {
                    self.switch_lesson(lesson);
                }
            }
            _ => {}
        }
    }

    /// Open the lesson list on the current lesson, or on the next one in
    /// the course once this one is finished.
    pub fn open_lesson_list(&mut self) {
        let all = crate::lessons::all();
        let name = match self.next_lesson() {
            Some(next) if self.lesson_finished() => next.name,
            _ => self.lesson.name,
        };
        self.lesson_picker = Some(all.iter().position(|l| l.name == name).unwrap_or(0));
    }

    /// Whether this lesson has run to its end: every epoch of a small
    /// lesson stepped, or a classifier's training finished (not stopped).
    pub fn lesson_finished(&self) -> bool {
        if let Some(b) = &self.backprop {
            return b.done() && !b.xor_view;
        }
        if let Some(p) = &self.prompt {
            return p.done();
        }
        match &self.stepper {
            Some(s) => s.session.done(),
            None => self.training.state == TrainState::Finished && self.training.completed(),
        }
    }

    /// The lesson after this one in the course (None after the last).
    pub fn next_lesson(&self) -> Option<Lesson> {
        crate::lessons::next(self.lesson.name)
    }

    /// What to do now that the lesson is finished: open the next one
    /// (short: it shares the status line with the lesson and the lr).
    pub fn finished_note(&self) -> String {
        match self.next_lesson() {
            Some(next) => format!("next lesson: {} (L, then Enter)", next.name),
            None => "the last lesson of the course (L lists them all)".into(),
        }
    }

    /// Say once, when the lesson has just finished, which lesson comes next.
    fn announce_finish(&mut self) {
        let done = self.lesson_finished();
        if done && !self.finish_announced {
            self.message = Some(format!("lesson done · {}", self.finished_note()));
        }
        self.finish_announced = done;
    }

    /// Open `lesson` in place of the current one (stopping any training).
    pub fn switch_lesson(&mut self, lesson: Lesson) {
        // the stopped worker's last reports are still queued: they carry its
        // run id, which no later run has
        self.training.stop();
        let (area, focus, mono) = (self.area, self.focus, self.mono);
        let name = lesson.name;
        let f = &self.files;
        let files = super::files::LabFiles::new(f.load.clone(), f.save.clone(), f.history.clone());
        *self = App::new(lesson, self.data.clone(), self.ascii, self.tx.clone())
            .with_device(self.device.clone(), None)
            .with_files(files)
            .with_data_dir(self.data_dir.clone())
            .with_transcript(self.quiz.transcript.clone());
        self.area = area;
        self.focus = focus;
        self.mono = mono;
        self.message = Some(format!("opened lesson {name}"));
    }

    /// Show held-out digit `index` in the Dataset pane, and in the Conv/Pool
    /// pane's walk and feature maps.
    pub fn show_held_out(&mut self, index: usize) {
        self.dataset.show_held_out(index);
        let learned = self.conv.trained.learned().cloned();
        self.conv.set_digit(index, &self.data, learned.as_ref());
    }

    /// `m`: the next held-out digit the model gets wrong.
    pub fn next_mistake(&mut self) {
        let from = match self.dataset.split {
            views::dataset::Split::Test => self.dataset.index,
            views::dataset::Split::Train => usize::MAX % self.data.test.len().max(1),
        };
        match self.mistakes.next_wrong(from, &self.data.test.labels) {
            Some(i) => {
                self.dataset.filter = None;
                self.show_held_out(i);
            }
            None if self.mistakes.latest.is_none() => {
                self.message = Some("m shows the model's mistakes after an epoch (s trains)".into())
            }
            None => self.message = Some("the model gets every held-out digit right".into()),
        }
    }

    /// The Loss pane's confusion matrix: `C` shows it (`c` writes code), arrows (pane
    /// open) move the cursor, Enter browses that cell's digits in the
    /// Dataset pane. True if the key was used.
    fn confusion_key(&mut self, key: KeyEvent) -> bool {
        use crossterm::event::{KeyCode, KeyEventKind};
        if key.kind == KeyEventKind::Release {
            return false;
        }
        // the matrix is drawn for the MNIST lessons only
        if !self.lesson.is_classifier() {
            return false;
        }
        if key.code == KeyCode::Char('C') {
            self.loss.show_confusion = !self.loss.show_confusion;
            return true;
        }
        if !self.loss.show_confusion {
            return false;
        }
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.mistakes.move_cursor(-1, 0),
            KeyCode::Down | KeyCode::Char('j') => self.mistakes.move_cursor(1, 0),
            KeyCode::Left | KeyCode::Char('h') => self.mistakes.move_cursor(0, -1),
            KeyCode::Right => self.mistakes.move_cursor(0, 1),
            KeyCode::Enter => {
                let images = self.mistakes.cell_images(&self.data.test.labels);
                let (label, predicted) = self.mistakes.cursor;
                if images.is_empty() {
                    self.message =
                        Some(format!("no held-out {label} was predicted as {predicted}"));
                    return true;
                }
                self.message = Some(format!(
                    "Dataset pane: the {} held-out {label}s predicted as {predicted} (x: all digits)",
                    images.len()
                ));
                self.dataset.set_filter(views::dataset::CellFilter {
                    label: label as u8,
                    predicted: predicted as u8,
                    images,
                });
                let i = self.dataset.index;
                self.show_held_out(i);
            }
            _ => return false,
        }
        true
    }

    /// Give a key to the focused pane; true if it used it.
    fn pane_key(&mut self, key: KeyEvent) -> bool {
        match self.focus {
            PaneId::Dataset if key.code == crossterm::event::KeyCode::Char('m') => {
                self.next_mistake();
                true
            }
            PaneId::Dataset => {
                let used = self.dataset.handle_key(key, &self.data);
                // the Conv/Pool pane follows the held-out digit being looked at
                if used && self.dataset.split == views::dataset::Split::Test {
                    let learned = self.conv.trained.learned().cloned();
                    self.conv
                        .set_digit(self.dataset.index, &self.data, learned.as_ref());
                }
                used
            }
            PaneId::Model => {
                let used = self.builder.handle_key(key);
                if used {
                    // the edited model is the one that trains: a new model needs a fresh start
                    self.message = None;
                }
                used
            }
            PaneId::Loss => {
                self.confusion_key(key) || self.timeline_key(key) || self.loss.handle_key(key)
            }
            PaneId::Conv => {
                // with the quiz on, a key that resizes the window asks first
                if self.quiz_before_conv_key(key) {
                    return true;
                }
                let learned = self.conv.trained.learned().cloned();
                self.conv.handle_key(key, &self.data, learned.as_ref())
            }
        }
    }

    pub fn apply(&mut self, intent: Intent) {
        // a key that trains leaves a rewound view for live
        if matches!(intent, Intent::Step | Intent::StartPause | Intent::Reset) {
            self.go_live();
        }
        match intent {
            Intent::Quit => self.quit(),
            Intent::ToggleHelp => {
                self.show_help = !self.show_help;
                self.help_scroll = 0;
            }
            Intent::Lessons => self.open_lesson_list(),
            Intent::Back => {
                if self.show_help {
                    self.show_help = false;
                } else {
                    self.zoomed = false;
                }
            }
            Intent::NextPane => self.focus = self.focus.next(),
            Intent::PrevPane => self.focus = self.focus.prev(),
            Intent::FocusLeft | Intent::FocusRight | Intent::FocusUp | Intent::FocusDown => {
                self.focus = self.focus.neighbour(intent)
            }
            Intent::Open => self.zoomed = true,
            Intent::Step => self.step(),
            Intent::StartPause => self.start_pause(),
            Intent::Reset => self.reset(),
            Intent::LrUp => self.change_lr(true),
            Intent::LrDown => self.change_lr(false),
            Intent::ToggleLogScale => self.loss.log_scale = !self.loss.log_scale,
            Intent::SaveCheckpoint => self.save_checkpoint(),
            Intent::OpenCheckpoint => self.open_checkpoint(),
            Intent::WriteCode => self.write_code(),
            Intent::ToggleQuiz => self.toggle_quiz(),
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        if self.canvas_mouse(m) {
            return;
        }
        if let MouseEventKind::Down(MouseButton::Left) = m.kind {
            let at = Position::new(m.column, m.row);
            if self.zoomed {
                return;
            }
            for (pane, rect) in PaneId::ALL.iter().zip(views::pane_areas(self.area)) {
                if rect.contains(at) {
                    self.focus = *pane;
                }
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(err) = self.race.as_mut().and_then(|r| r.tick()) {
            self.message = Some(err);
        }
        if let Some(s) = self.stepper.as_mut() {
            if let Some(err) = s.tick() {
                self.message = Some(err);
            }
            self.loss.sync_costs(s);
        }
        self.announce_finish();
        self.age_message();
    }

    /// A status message gives the key hints back after MESSAGE_TICKS ticks;
    /// a failure stays (the panes show it too, but it is the thing to read).
    fn age_message(&mut self) {
        if self.message != self.message_seen {
            self.message_seen = self.message.clone();
            self.message_ticks = 0;
        }
        let failed = matches!(
            self.training.state,
            TrainState::Failed(_) | TrainState::Diverged(_)
        ) || self.stepper.as_ref().is_some_and(|s| s.diverged.is_some());
        self.message_ticks += 1;
        if self.message.is_some() && !failed && self.message_ticks >= MESSAGE_TICKS {
            self.message = None;
        }
    }

    fn quit(&mut self) {
        self.should_quit = true;
        // no wait for a long step: the worker stops on its own thread
        self.training.abandon();
    }

    /// Stop any worker without waiting for it (called on quit).
    pub fn shutdown(&mut self) {
        self.quit();
    }

    fn step(&mut self) {
        if let Some(r) = self.race.as_mut() {
            self.message = r.step().err();
            return;
        }
        if self.quiz_before_step() {
            return;
        }
        let steps = self.stepper.as_ref().map_or(0, |s| s.costs.len());
        self.step_now();
        if self.stepper.as_ref().is_some_and(|s| s.costs.len() > steps) {
            self.write_transcript(None);
        }
    }

    /// One step of the small lesson, now (the quiz has had its say).
    pub fn step_now(&mut self) {
        match self.stepper.as_mut() {
            Some(s) => {
                self.message = s.step_once().err();
                self.loss.sync_costs(s);
                self.announce_finish();
            }
            None => {
                self.message =
                    Some("Space steps the small lessons; press s to train this model".into())
            }
        }
    }

    fn reset(&mut self) {
        if let Some(r) = self.race.as_mut() {
            self.message = r.reset().err();
            return;
        }
        if let Some(s) = self.stepper.as_mut() {
            self.message = s.reset().err();
            // the run's curve stays as a ghost
            self.loss.restart();
            self.loss.sync_costs(s);
            return;
        }
        self.training.reset();
        self.mistakes.clear();
        self.dataset.filter = None;
        self.rewind.clear();
        self.loss.restart();
        self.message = None;
    }

    fn change_lr(&mut self, up: bool) {
        let lr = match &self.race {
            Some(r) => r.lr(),
            None => self.stepper.as_ref().map_or(self.hyper.lr, Stepper::lr),
        };
        let lr = views::lr_ladder(lr, up);
        if let Some(r) = self.race.as_mut() {
            r.race.set_lr(lr);
            self.message = Some(format!(
                "learning rate {} for every optimizer (r restarts with it)",
                super::format::lr(lr)
            ));
            return;
        }
        self.hyper.lr = lr;
        if let Some(s) = self.stepper.as_mut() {
            s.set_lr(lr);
        }
        self.training.set_lr(lr);
        self.message = Some(format!("learning rate: {}", super::format::lr(lr)));
    }

    fn start_pause(&mut self) {
        if let Some(r) = self.race.as_mut() {
            r.auto = !r.auto;
            return;
        }
        if let Some(s) = self.stepper.as_mut() {
            s.auto = !s.auto;
            return;
        }
        match self.training.state {
            TrainState::Running | TrainState::Paused | TrainState::Diverged(_) => {
                self.training.toggle_pause()
            }
            TrainState::Idle | TrainState::Finished | TrainState::Failed(_) => {
                self.start_training()
            }
        }
    }

    /// Build the edited model and train it on a worker thread.
    fn start_training(&mut self) {
        let Task::Classifier { input_shape, .. } = self.lesson.task.clone() else {
            return;
        };
        let input_shape = &input_shape;
        self.training.stop();
        let specs = self.builder.specs.clone();
        // checked before anything is allocated: too big a model would abort the process
        if views::model_builder::readiness(&specs, input_shape).is_err() {
            // the reason can be long: the Model pane shows all of it
            self.message = Some("cannot train this model: the Model pane says why".into());
            if self.zoomed {
                self.focus = PaneId::Model;
            }
            return;
        }
        // overfit-mnist trains on its first 500 images
        let train = crate::lessons::files::training_images(self.data.train.clone(), &self.hyper);
        let run = train.and_then(|train| {
            ClassifierRun::on_device(
                &specs,
                input_shape,
                train,
                self.data.test.clone(),
                &self.hyper,
                self.device.clone(),
            )
        });
        let mut run = match run {
            Ok(r) => r,
            Err(e) => {
                self.message = Some(format!("cannot train this model: {e}"));
                return;
            }
        };
        let note = self.prepare_run(&mut run, &specs);
        let done = run.done_epochs;
        let tx = self.tx.clone();
        match self
            .training
            .start(run, move |ev| tx.send(Event::Train(ev)).is_ok())
        {
            Ok(()) => {
                self.mistakes.clear();
                self.dataset.filter = None;
                // the last run's curve stays as a ghost, labelled with its settings
                self.loss.restart();
                self.loss.label = Some(
                    views::loss_chart::ghosts::run_label(self.hyper.lr, &self.hyper.optimizer)
                        + &super::run_settings::extras(&self.hyper),
                );
                self.rewind.clear();
                // a CNN's conv1 filters (a single Linear layer's weight
                // images) are shown learning (the worker sends snapshots)
                let pixels = self.data.test.pixels();
                if matches!(specs.first(), Some(LayerSpec::Conv2d { .. }))
                    || views::conv_viz::weights::applies(&specs, pixels)
                {
                    self.conv.show_filters = true;
                }
                self.training.progress.epochs_done = done;
                self.message = Some(note.unwrap_or_else(|| match done {
                    0 => "training started".into(),
                    k => format!("training on from epoch {k}"),
                }));
            }
            Err(e) => self.message = Some(format!("cannot start the training thread: {e}")),
        }
    }

    /// A worker's report: the run takes its state, progress and model from
    /// it (an old run's report is dropped there); the panes and the status
    /// line show the rest.
    fn on_train(&mut self, ev: RunEvent) {
        let Some(ev) = self.training.handle(ev) else {
            return;
        };
        match ev {
            TrainEvent::Batch { step, losses, .. } => {
                self.loss.push_losses(step + 1 - losses.len(), &losses);
            }
            TrainEvent::Epoch(s) => {
                self.loss.push_epoch(&s);
                if let Some(p) = &s.predictions {
                    self.mistakes
                        .record(Some(s.epoch), p.clone(), &self.data.test.labels);
                }
                // the worker sends the epoch's end model right after this
                self.rewind.pending = Some(s.epoch);
                if let Some(e) = self.files.record_epoch(&s) {
                    self.message = Some(e);
                }
            }
            TrainEvent::Saved { path, epoch, error } => self.on_saved(&path, epoch, error),
            TrainEvent::Diverged { .. } => {
                if let TrainState::Diverged(msg) = &self.training.state {
                    self.message = Some(msg.clone());
                }
            }
            TrainEvent::Finished { stopped } => {
                self.message = Some(if stopped {
                    "training stopped".into()
                } else {
                    format!("training done · {}", self.finished_note())
                });
                self.finish_announced = !stopped;
                self.on_run_ended();
            }
            TrainEvent::Failed(msg) => {
                self.message = Some(msg);
                self.on_run_ended();
            }
            // the state changed: "training started" and the like are stale
            TrainEvent::Paused => self.message = Some("training paused (s resumes)".into()),
            TrainEvent::Resumed => self.message = Some("training resumed".into()),
            TrainEvent::Snapshot(_) => {
                if let Some(epoch) = self.rewind.pending.take() {
                    self.record_epoch_model(epoch);
                }
            }
            TrainEvent::Started { .. } => {}
        }
    }
}
