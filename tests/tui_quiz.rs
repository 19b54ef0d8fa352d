//! Predict, then reveal: with the quiz on, Space asks first; the answer is
//! scored against what the step did, and each step's update and answer are
//! appended to the `--transcript` Markdown file as they happen.

mod common;

use common::tui::{app, key, press, screen, x};
use common::TempDir;
use crossterm::event::KeyCode;
use dl_lab::tui::quiz::Kind;

#[test]
fn two_questions_are_scored_and_written_to_the_transcript() {
    let dir = TempDir::new("quiz");
    let path = dir.join("notes.md");
    let mut a = app("gd-scalar").with_transcript(Some(path.clone()));
    press(&mut a, 'Q');
    assert!(a.quiz.on);
    // 1: x = 5, dy/dx = 2(5−3) = 4: positive
    press(&mut a, ' ');
    let q = a.quiz.pending.clone().expect("Space asks first");
    assert_eq!(q.kind, Kind::GradientSign);
    assert_eq!(x(&a), 5.0, "no step before the answer");
    assert!(screen(&a, 80, 24).contains("x = 5.000: what sign has dy/dx?"));
    press(&mut a, '1'); // positive: right
    assert!((x(&a) - 4.6).abs() < 1e-6, "the step ran after the answer");
    assert_eq!((a.quiz.right, a.quiz.asked), (1, 1));
    // 2: x = 4.6, dy/dx = 3.2, lr 0.1: next x = 4.28; answer a wrong choice
    press(&mut a, ' ');
    let q = a.quiz.pending.clone().expect("asked");
    assert_eq!(q.kind, Kind::NextValue);
    let right = q
        .choices
        .iter()
        .position(|c| c == "4.280")
        .expect("a choice");
    let wrong = (right + 1) % q.choices.len();
    press(&mut a, char::from(b'1' + wrong as u8));
    assert_eq!((a.quiz.right, a.quiz.asked), (1, 2));
    let msg = a.message.clone().unwrap_or_default();
    assert!(
        msg.contains("not quite: 4.280") && msg.contains("1/2"),
        "{msg}"
    );
    // Esc skips: no step, no score
    press(&mut a, ' ');
    key(&mut a, KeyCode::Esc);
    assert!(a.quiz.pending.is_none());
    assert!((x(&a) - 4.28).abs() < 1e-5);
    assert_eq!(a.quiz.asked, 2);
    let t = std::fs::read_to_string(&path).expect("the transcript is written as we go");
    assert!(t.contains("# dl-lab transcript: gd-scalar"), "{t}");
    assert!(t.contains("## epoch 0/"), "{t}");
    assert!(
        t.contains("x ← x − lr·∂cost/∂x = 5.000 − 0.1·4.000 = 4.600"),
        "{t}"
    );
    assert!(
        t.contains("x ← x − lr·∂cost/∂x = 4.600 − 0.1·3.200 = 4.280"),
        "{t}"
    );
    assert!(
        t.contains("**Your answer:** positive — right (it was: positive); score 1/1"),
        "{t}"
    );
    assert!(t.contains("— not quite (it was: 4.280); score 1/2"), "{t}");
    assert_eq!(t.matches("## epoch").count(), 2);
    // with the quiz off, Space steps at once and is still written down
    press(&mut a, 'Q');
    press(&mut a, ' ');
    let t = std::fs::read_to_string(&path).unwrap();
    assert_eq!(t.matches("## epoch").count(), 3);
    assert!(t.contains("4.280 − 0.1·2.560 = 4.024"), "{t}");
}

#[test]
fn the_cost_rise_question_is_scored_from_the_step_and_an_existing_transcript_is_kept() {
    let dir = TempDir::new("quiz-rise");
    let path = dir.write("notes.md", b"my notes\n");
    let mut a = app("gd-scalar").with_transcript(Some(path.clone()));
    for _ in 0..5 {
        press(&mut a, '+'); // lr 0.1 → 0.3 → 0.5 → 0.9 → 1 → 1.1: diverges
    }
    press(&mut a, 'Q');
    for _ in 0..2 {
        press(&mut a, ' ');
        press(&mut a, '1');
    }
    press(&mut a, ' ');
    let q = a.quiz.pending.clone().unwrap();
    assert_eq!(q.kind, Kind::CostRises);
    press(&mut a, '1'); // yes: at lr 1.1 the cost rises
    assert_eq!((a.quiz.right, a.quiz.asked), (3, 3), "{:?}", a.message);
    let t = std::fs::read_to_string(&path).unwrap();
    assert!(t.starts_with("my notes\n"));
    assert!(t.contains("yes, it rises — right"), "{t}");
}

#[test]
fn the_quiz_is_for_the_small_lessons_and_the_mnist_lessons_conv_pool_pane() {
    let mut a = app("optimizer-race");
    press(&mut a, 'Q');
    assert!(!a.quiz.on);
    assert!(a
        .message
        .clone()
        .unwrap_or_default()
        .contains("small lessons"));
    let mut a = app("cnn-mnist");
    press(&mut a, 'Q');
    assert!(a.quiz.on);
    assert!(a.message.clone().unwrap_or_default().contains("Conv/Pool"));
}
