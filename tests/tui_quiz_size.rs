//! The quiz in the Conv/Pool walk-through: with `Q` on, a key that changes
//! the window (stride, padding, pool size, mode, kernel) first asks for the
//! output height×width; the answer is scored with floor((n + 2p − k)/s) + 1
//! and the equation is appended to the `--transcript`.

mod common;

use common::tui::{app, key, press, screen};
use common::TempDir;
use crossterm::event::KeyCode;
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::quiz::{size_equation, Kind};
use dl_lab::tui::views::conv_viz::Mode;

/// Answer the waiting question with the choice reading `text`, or (when
/// `right` is false) with another one; returns the choice pressed.
fn answer(a: &mut App, text: &str, right: bool) -> String {
    let q = a.quiz.pending.clone().expect("a question waits");
    assert_eq!(q.kind, Kind::OutputSize);
    let i = q.choices.iter().position(|c| c == text).expect("a choice");
    let i = if right { i } else { (i + 1) % q.choices.len() };
    press(a, char::from(b'1' + i as u8));
    q.choices[i].clone()
}

#[test]
fn the_output_size_question_is_scored_and_written_to_the_transcript() {
    let dir = TempDir::new("quiz-size");
    let path = dir.join("conv.md");
    let mut a = app("cnn-mnist").with_transcript(Some(path.clone()));
    a.focus = PaneId::Conv;
    press(&mut a, 'Q');
    assert!(a.quiz.on);
    assert_eq!((a.conv.stride, a.conv.padding), (1, 1));
    // t: stride 1 → 2 with a 3×3 kernel, padding 1: floor((28 + 2 − 3)/2) + 1 = 14
    press(&mut a, 't');
    let q = a.quiz.pending.clone().expect("t asks first");
    assert_eq!(a.conv.stride, 1, "the window waits for the answer");
    assert_eq!(
        q.text,
        "convolution on 28x28, window 3x3, stride 2, padding 1: output size?"
    );
    assert!(q.choices.len() >= 2 && q.choices.contains(&"14x14".to_string()));
    let unique: std::collections::BTreeSet<_> = q.choices.iter().collect();
    assert_eq!(unique.len(), q.choices.len(), "{:?}", q.choices);
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("window 3x3, stride 2, padding 1: output size?"),
        "{s}"
    );
    answer(&mut a, "14x14", true);
    assert_eq!(a.conv.stride, 2, "the key ran after the answer");
    assert_eq!((a.quiz.right, a.quiz.asked), (1, 1));
    let msg = a.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("right: 14x14 = floor((28+2*1-3)/2)+1"),
        "{msg}"
    );
    // p: padding 2: floor((28 + 4 − 3)/2) + 1 = 15; a wrong answer
    press(&mut a, 'p');
    let wrong = answer(&mut a, "15x15", false);
    assert_ne!(wrong, "15x15");
    assert_eq!(a.conv.padding, 2);
    assert_eq!((a.quiz.right, a.quiz.asked), (1, 2));
    let msg = a.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("not quite: 15x15") && msg.ends_with("1/2"),
        "{msg}"
    );
    // m: max pool, 2×2 window, stride 2, no padding: 14
    press(&mut a, 'm');
    assert!(a
        .quiz
        .pending
        .as_ref()
        .unwrap()
        .text
        .starts_with("max pool on 28x28, window 2x2, stride 2: "));
    answer(&mut a, "14x14", true);
    assert_eq!(a.conv.mode, Mode::MaxPool);
    // keys that do not resize the window do not ask
    press(&mut a, 'n');
    assert!(a.quiz.pending.is_none());
    // Esc skips: the key does not run, nothing is scored
    press(&mut a, 'z');
    key(&mut a, KeyCode::Esc);
    assert!(a.quiz.pending.is_none());
    assert_eq!(a.conv.pool_size, 2);
    assert_eq!(a.quiz.asked, 3);
    let t = std::fs::read_to_string(&path).expect("written as it goes");
    assert!(t.contains("# dl-lab transcript: cnn-mnist"), "{t}");
    assert!(
        t.contains("## Conv/Pool: convolution, input 28x28, window 3x3, stride 2, padding 1"),
        "{t}"
    );
    assert!(
        t.contains("    output = floor((N + 2P - K) / S) + 1\n"),
        "{t}"
    );
    assert!(
        t.contains("    height = floor((28 + 2*1 - 3) / 2) + 1 = floor(27 / 2) + 1 = 14\n"),
        "{t}"
    );
    assert!(
        t.contains("    width  = floor((28 + 2*2 - 3) / 2) + 1 = floor(29 / 2) + 1 = 15\n"),
        "{t}"
    );
    assert!(
        t.contains("**Your answer:** 14x14 — right (it was: 14x14); score 1/1"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "**Your answer:** {wrong} — not quite (it was: 15x15); score 1/2"
        )),
        "{t}"
    );
    assert!(t.contains("## Conv/Pool: max pool, input 28x28, window 2x2, stride 2, padding 0"));
    assert_eq!(t.matches("## Conv/Pool").count(), 3);
    // with the quiz off the keys act at once
    press(&mut a, 'Q');
    press(&mut a, 'z');
    assert_eq!(a.conv.pool_size, 3);
}

#[test]
fn the_equation_is_the_formula_with_its_numbers() {
    assert_eq!(
        size_equation(28, 3, 1, 1).unwrap(),
        "floor((28 + 2*1 - 3) / 1) + 1 = floor(27 / 1) + 1 = 28"
    );
    assert_eq!(
        size_equation(7, 2, 2, 0).unwrap(),
        "floor((7 + 2*0 - 2) / 2) + 1 = floor(5 / 2) + 1 = 3"
    );
    // a window larger than the padded input has no size
    assert!(size_equation(2, 5, 1, 0).is_none());
}
