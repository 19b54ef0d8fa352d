//! Keys → intents, in one table. Keys not listed here go to the focused
//! pane (see each pane's `handle_key`).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks the lab to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Quit,
    ToggleHelp,
    NextPane,
    PrevPane,
    /// Arrow keys in the overview move focus in the 2×2 grid.
    FocusLeft,
    FocusRight,
    FocusUp,
    FocusDown,
    /// Enter in the overview: open (zoom) the focused pane.
    Open,
    /// Esc: close help, leave an editor, or go back to the overview.
    Back,
    /// Space: one step of gradient descent (small lessons).
    Step,
    /// s: start / pause / resume training.
    StartPause,
    /// r: reset the lesson (parameters back to their start).
    Reset,
    LrUp,
    LrDown,
    /// l: log scale on the loss chart.
    ToggleLogScale,
    /// L: the list of lessons, to switch to another.
    Lessons,
    /// w: write a checkpoint (MNIST lessons).
    SaveCheckpoint,
    /// o: open a checkpoint or .safetensors file (MNIST lessons).
    OpenCheckpoint,
    /// c: write the lesson and its settings as a PyTorch script.
    WriteCode,
    /// Q: predict, then reveal (small lessons).
    ToggleQuiz,
}

/// Every key the status bar and help overlay list: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous pane"),
    (
        "arrows",
        "move between panes (inside an opened pane: browse)",
    ),
    ("Enter", "open the focused pane full screen / edit"),
    (
        "Esc",
        "back: close help, leave the editor, back to the four panes",
    ),
    ("mouse click", "focus a pane"),
    ("Space", "one step of gradient descent (small lessons)"),
    (
        "s",
        "start / pause / resume training (small lessons: run / pause)",
    ),
    ("r", "reset the lesson"),
    ("+ / -", "raise / lower the learning rate"),
    (
        "I",
        "the first weights' init: uniform, xavier, kaiming, zeros (as --init; a small lesson restarts)",
    ),
    (
        "M",
        "momentum: 0, 0.5, 0.9, 0.99 (as --momentum, sgd and rmsprop; a small lesson restarts)",
    ),
    ("l", "loss chart: linear / log scale"),
    ("L", "choose another lesson"),
    (
        "w",
        "write a checkpoint (MNIST lessons): --save PATH, else dl-lab-LESSON.ckpt",
    ),
    (
        "o",
        "open a checkpoint or .safetensors file: --load PATH, else the one w writes",
    ),
    (
        "c",
        "write the lesson with these settings as PyTorch code: LESSON.py (next to --save)",
    ),
    (
        "Q",
        "quiz: predict before each Space step (small lessons) or the output size before t p z m k in Conv/Pool (MNIST), 1-3 answer (--transcript FILE.md)",
    ),
    ("?", "this help"),
    ("q", "quit (also while training)"),
];

/// The global meaning of `key`; `zoomed` says whether a pane is open (then
/// arrows and Enter belong to the pane).
pub fn intent(key: &KeyEvent, zoomed: bool) -> Option<Intent> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, KeyCode::Char('c')).then_some(Intent::Quit);
    }
    Some(match key.code {
        KeyCode::Char('q') => Intent::Quit,
        KeyCode::Char('?') => Intent::ToggleHelp,
        KeyCode::Tab => Intent::NextPane,
        KeyCode::BackTab => Intent::PrevPane,
        KeyCode::Esc => Intent::Back,
        KeyCode::Char(' ') => Intent::Step,
        KeyCode::Char('s') => Intent::StartPause,
        KeyCode::Char('r') => Intent::Reset,
        KeyCode::Char('+') | KeyCode::Char('=') => Intent::LrUp,
        KeyCode::Char('-') => Intent::LrDown,
        KeyCode::Char('l') => Intent::ToggleLogScale,
        KeyCode::Char('L') => Intent::Lessons,
        KeyCode::Char('w') => Intent::SaveCheckpoint,
        KeyCode::Char('o') => Intent::OpenCheckpoint,
        KeyCode::Char('c') => Intent::WriteCode,
        KeyCode::Char('Q') => Intent::ToggleQuiz,
        KeyCode::Enter if !zoomed => Intent::Open,
        KeyCode::Left if !zoomed => Intent::FocusLeft,
        KeyCode::Right if !zoomed => Intent::FocusRight,
        KeyCode::Up if !zoomed => Intent::FocusUp,
        KeyCode::Down if !zoomed => Intent::FocusDown,
        _ => return None,
    })
}

/// Ctrl-C: quits even while a line is being typed.
pub fn is_interrupt(key: &KeyEvent) -> bool {
    key.kind != KeyEventKind::Release
        && key.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(key.code, KeyCode::Char('c'))
}
