//! The lab in the terminal: ratatui + crossterm over the same engine and
//! lesson definitions as `dl-lab run`.
//!
//! - `app.rs`: state and `App::update(event)` (no terminal, testable)
//! - `canvas.rs`: draw a digit for the trained model (Dataset pane, key d)
//! - `code_file.rs`: key `c`, the lesson as a PyTorch script
//! - `event.rs`: the one event stream (input, ticks, the training worker)
//! - `files.rs`: checkpoints (`w`, `o`, `--load`, `--save`) and `--history`
//! - `format.rs`: numbers written one way (counts, rates, learning rates, costs)
//! - `keymap.rs`: keys → intents
//! - `quiz.rs`: predict, then reveal (key Q) and `--transcript FILE.md`
//! - `race.rs`: the optimizer race stepped one keypress at a time
//! - `remember.rs`: the last lesson, kept in the user's config directory
//! - `rewind.rs`: the run's history and the Loss pane's timeline over it
//! - `small_lab.rs`: the small lessons' keys N (normalise), p (predict), A, m
//! - `stepper.rs`: the small lessons stepped one keypress at a time
//! - `training.rs`: the classifier's training run (worker, state, progress, model)
//! - `views/`: one module per pane, plus layout, status bar and help

pub mod app;
pub mod canvas;
pub mod code_file;
pub mod event;
pub mod files;
pub mod format;
pub mod hand_weights;
pub mod keymap;
pub mod mistakes;
pub mod quiz;
pub mod race;
pub mod remember;
pub mod rewind;
pub mod run_settings;
mod small_lab;
pub mod stepper;
pub mod training;
pub mod views;

use std::io::stdout;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;

use crate::backend::{Device, DeviceSpec};
use crate::data::mnist::Mnist;
use crate::lessons;
use app::App;
use event::Event;

/// Shortest time between two frames that no key asked for (a bit under
/// TICK_MS, so every tick still draws: at least 10 frames a second).
pub const FRAME_MS: u64 = 90;

/// Restores the terminal when dropped: on quit, on error, and while
/// unwinding from a panic (ratatui's panic hook restores it too).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}

/// What leaving the lab writes to the terminal by hand: mouse capture off
/// (crossterm's `DisableMouseCapture`), the main screen back, the cursor shown.
const RESTORE_SEQUENCE: &[u8] =
    b"\x1b[?1006l\x1b[?1015l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b[?1049l\x1b[?25h";

/// Restore the terminal if the process aborts (SIGABRT): an allocation
/// failure, a stack overflow or `abort()` end the process without
/// unwinding, so neither [`TerminalGuard`] nor the panic hook runs. The
/// handler writes [`RESTORE_SEQUENCE`] straight to fd 1 (no lock: the
/// aborting thread may hold stdout's), puts back the terminal settings saved
/// before raw mode (`saved`, with `tcsetattr`, which is async-signal-safe;
/// crossterm's `disable_raw_mode` takes a lock another thread may hold), then
/// ends the process with SIGABRT's status, 134.
#[cfg(unix)]
fn restore_on_abort(saved: Option<libc::termios>) {
    let action = move || {
        // SAFETY: write(2) and tcsetattr(3) are async-signal-safe; the
        // buffer and the termios value are owned by this closure.
        unsafe {
            libc::write(1, RESTORE_SEQUENCE.as_ptr().cast(), RESTORE_SEQUENCE.len());
            if let Some(t) = &saved {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
            // then end with SIGABRT's status (128 + 6), an external `kill
            // -ABRT` too; _exit is async-signal-safe (re-raising from inside
            // the handler left the signal blocked and the lab running)
            libc::_exit(134);
        }
    };
    // SAFETY: the action only makes async-signal-safe calls and allocates nothing.
    let _ = unsafe { signal_hook::low_level::register(signal_hook::consts::SIGABRT, action) };
}

/// The terminal's settings before raw mode, for [`restore_on_abort`].
#[cfg(unix)]
fn terminal_settings() -> Option<libc::termios> {
    // SAFETY: tcgetattr fills the zeroed termios it is given, or fails.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(0, &mut t) == 0).then_some(t)
    }
}

#[cfg(not(unix))]
fn restore_on_abort(_saved: Option<()>) {}

#[cfg(not(unix))]
fn terminal_settings() -> Option<()> {
    None
}

/// Check the lab's arguments before touching the terminal: the lesson
/// exists and `--data` is not a file.
/// What the lab is opened with: the lab's own options, not the whole parsed
/// command line (`main` builds this from `--lesson`, `--data`, `--ascii` and
/// `--device`; tests and other front ends can build it directly).
#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// Open this lesson (else the remembered one, else the lesson list).
    pub lesson: Option<String>,
    /// An MNIST-format directory instead of the shipped sample.
    pub data: Option<std::path::PathBuf>,
    /// Plain ASCII drawing.
    pub ascii: bool,
    /// Where the MNIST lessons train.
    pub device: DeviceSpec,
    /// A checkpoint or .safetensors file to open at the start and with `o`.
    pub load: Option<std::path::PathBuf>,
    /// Where `w` writes a checkpoint.
    pub save: Option<std::path::PathBuf>,
    /// A CSV row per finished epoch.
    pub history: Option<std::path::PathBuf>,
    /// Each Space step's equations and quiz answers, appended as Markdown.
    pub transcript: Option<std::path::PathBuf>,
    /// `--init` and `--momentum`: the opened lesson starts with them.
    pub init: Option<crate::nn::init::Init>,
    pub momentum: Option<f32>,
}

impl From<&crate::cli::Cli> for LabOptions {
    fn from(cli: &crate::cli::Cli) -> Self {
        LabOptions {
            lesson: cli.lesson.clone(),
            data: cli.data.clone(),
            ascii: cli.ascii,
            device: cli.device,
            load: cli.load.clone(),
            save: cli.save.clone(),
            history: cli.history.clone(),
            transcript: cli.transcript.clone(),
            init: cli.init,
            momentum: cli.momentum,
        }
    }
}

pub fn check_args(cli: &LabOptions) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(name) = cli.lesson.as_deref() {
        let lesson = lessons::find(name)?;
        run_settings::check_lab_flags(&lesson, cli.init, cli.momentum)?;
    }
    if let Some(name) = &cli.data {
        // `--data mnist` not downloaded yet: say so before the screen is taken
        crate::data::download::resolve_data_arg(name)?;
    }
    if let Some(path) = cli.load.as_ref().filter(|p| !p.is_file()) {
        return Err(format!("--load {}: no such file", path.display()).into());
    }
    if let Some(path) = cli.data.as_ref().filter(|p| p.is_file()) {
        return Err(format!(
            "--data {}: the lab reads an MNIST-format directory (train-images-idx3-ubyte[.gz], …); to run a small lesson on a CSV file use `dl-lab run LESSON --data {}`",
            path.display(),
            path.display()
        )
        .into());
    }
    Ok(())
}

/// Why the lab cannot open in a terminal of type `term` (`$TERM`), if it
/// cannot: a `dumb` terminal has no cursor movement, so the lab's screen
/// would print as a stream of escape codes.
pub fn terminal_refusal(term: Option<&str>) -> Option<String> {
    (term == Some("dumb")).then(|| {
        "the lab needs a terminal that can move the cursor, and TERM=dumb cannot. \
         Run it in a terminal such as xterm (TERM=xterm-256color), or run a lesson \
         without the lab: `dl-lab run LESSON` (see `dl-lab lessons`)."
            .to_string()
    })
}

/// Whether `NO_COLOR` asks for no colour (set and not empty, as
/// <https://no-color.org> and crossterm read it). crossterm then drops every
/// colour, so the lab draws its pictures with shade characters instead.
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Open `--device`, saying so on screen first: building the OpenCL kernels
/// takes about half a second (PoCL), and the lab must not look frozen. A
/// device that cannot be opened ends the lab with the reason.
fn open_device(
    spec: DeviceSpec,
    ascii: bool,
    terminal: &mut ratatui::DefaultTerminal,
) -> Result<(Device, Option<String>), Box<dyn std::error::Error>> {
    let what = match spec {
        DeviceSpec::Cpu => None,
        DeviceSpec::OpenCl(_) => Some(format!("Opening OpenCL device {spec}: compiling kernels…")),
        DeviceSpec::Auto => {
            Some("Looking for an OpenCL GPU (compiling kernels if there is one)…".to_string())
        }
    };
    if let Some(what) = what {
        terminal.draw(|f| views::loading(f, &what, ascii))?;
    }
    Ok(spec.open().map_err(|e| format!("--device {spec}: {e}"))?)
}

/// Open the lab and run it until the learner quits.
pub fn run(cli: &LabOptions) -> Result<(), Box<dyn std::error::Error>> {
    // --lesson, else the last lesson opened, else the course's list
    let remembered = cli.lesson.is_none().then(remember::load).flatten();
    let (lesson, open_list) = remember::start(cli.lesson.as_deref(), remembered)?;
    let settings = terminal_settings();
    let mut terminal = ratatui::init();
    // ratatui's hook restores the terminal on a panic; a panic on the
    // training thread is reported to the UI as `Failed` instead (the worker
    // catches it), so it must not take the terminal away from a running lab.
    let restore_on_panic = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some(crate::train::worker::THREAD_NAME) {
            restore_on_panic(info);
        }
    }));
    let _guard = TerminalGuard;
    let _ = execute!(stdout(), EnableMouseCapture);

    let what = match &cli.data {
        Some(d) => format!("Loading MNIST-format data from {} …", d.display()),
        None => "Loading the shipped MNIST sample …".to_string(),
    };
    terminal.draw(|f| views::loading(f, &what, cli.ascii))?;
    let data = match &cli.data {
        Some(d) => Mnist::load_dir(crate::data::download::resolve_data_arg(d)?)?,
        None => Mnist::shipped()?,
    };

    let (device, note) = open_device(cli.device, cli.ascii, &mut terminal)?;
    // after the device: an OpenCL driver (PoCL) installs its own SIGABRT
    // handler when it loads, which replaced one set earlier and kept the lab
    // alive (and the terminal raw) on an abort
    restore_on_abort(settings);

    let (tx, rx) = mpsc::channel();
    event::spawn_input(tx.clone());
    event::spawn_ticker(tx.clone());
    let size = terminal.size()?;
    let files = files::LabFiles::new(cli.load.clone(), cli.save.clone(), cli.history.clone());
    let mut app = App::new(lesson, Arc::new(data), cli.ascii, tx)
        .with_device(device, note)
        .with_files(files)
        .with_data_dir(cli.data.clone())
        .with_transcript(cli.transcript.clone());
    // a named lesson was checked before the screen was taken; a remembered
    // one that refuses a flag opens without it, and the status line says why
    app = app.with_run_flags(cli.init, cli.momentum);
    app.mono = no_color_requested();
    if cli.load.is_some() && !open_list {
        app.open_checkpoint();
    }
    app.update(Event::Resize(size.width, size.height));
    if open_list {
        app.open_lesson_list();
    }
    // the lesson last opened is remembered (once the list is closed on one)
    let mut saved: Option<&'static str> = None;

    // Input is drawn at once; everything else (the worker's reports, ticks)
    // at most once per FRAME_MS: the worker may report hundreds of times a
    // second, and on two cores every frame (ours and the terminal's) takes
    // CPU from training. Ticks every TICK_MS keep ~10 redraws a second.
    let frame = Duration::from_millis(FRAME_MS);
    let mut last_draw: Option<Instant> = None;
    let (mut dirty, mut urgent) = (true, true);
    while !app.should_quit {
        if urgent || (dirty && last_draw.is_none_or(|t| t.elapsed() >= frame)) {
            terminal.draw(|f| views::render(&app, f))?;
            last_draw = Some(Instant::now());
            (dirty, urgent) = (false, false);
        }
        let wait = match (dirty, last_draw) {
            (true, Some(t)) => frame.saturating_sub(t.elapsed()),
            _ => Duration::from_secs(1),
        };
        match rx.recv_timeout(wait) {
            Ok(ev) => {
                urgent |= matches!(ev, Event::Key(_) | Event::Mouse(_) | Event::Resize(..));
                app.update(ev);
                dirty = true;
                if app.lesson_picker.is_none() && saved != Some(app.lesson.name) {
                    saved = Some(app.lesson.name);
                    remember::save(app.lesson.name);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    app.shutdown();
    Ok(())
}
