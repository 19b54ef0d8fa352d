//! The lab's state transitions, driven through `App::update` with scripted
//! events (keys, mouse, resizes); only the help overlay and the "terminal
//! too small" notice are rendered, into a plain buffer.

use std::sync::mpsc;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons;
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::event::Event;
use dl_lab::tui::keymap::HELP;
use dl_lab::tui::views;

mod common;
use common::tui::{app, key, press, screen, x};

fn click(app: &mut App, column: u16, row: u16) {
    app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }));
}

#[test]
fn tab_and_shift_tab_cycle_through_the_four_panes() {
    let mut a = app("gd-scalar");
    assert_eq!(a.focus, PaneId::Dataset);
    let mut seen = vec![a.focus];
    for _ in 0..4 {
        key(&mut a, KeyCode::Tab);
        seen.push(a.focus);
    }
    assert_eq!(
        seen,
        [
            PaneId::Dataset,
            PaneId::Model,
            PaneId::Loss,
            PaneId::Conv,
            PaneId::Dataset
        ]
    );
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.focus, PaneId::Conv);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.focus, PaneId::Loss);
}

#[test]
fn arrows_move_focus_in_the_grid() {
    let mut a = app("gd-scalar");
    key(&mut a, KeyCode::Right);
    assert_eq!(a.focus, PaneId::Model);
    key(&mut a, KeyCode::Down);
    assert_eq!(a.focus, PaneId::Conv);
    key(&mut a, KeyCode::Left);
    assert_eq!(a.focus, PaneId::Loss);
    key(&mut a, KeyCode::Up);
    assert_eq!(a.focus, PaneId::Dataset);
}

#[test]
fn enter_zooms_and_esc_goes_back() {
    let mut a = app("gd-scalar");
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Enter);
    assert!(a.zoomed);
    assert_eq!(a.focus, PaneId::Model);
    key(&mut a, KeyCode::Esc);
    assert!(!a.zoomed);
    assert_eq!(a.focus, PaneId::Model);
}

#[test]
fn question_mark_toggles_help_listing_every_key() {
    let mut a = app("gd-scalar");
    press(&mut a, '?');
    assert!(a.show_help);
    // at 140×45 it all fits; at 80×24 it scrolls (see tests/tui_first_run.rs)
    let s = screen(&a, 140, 45);
    assert!(s.contains("Keys"), "{s}");
    for (keys, what) in HELP {
        assert!(s.contains(keys), "help lacks {keys}:\n{s}");
        let start: String = what.chars().take(20).collect();
        assert!(s.contains(&start), "help lacks '{start}':\n{s}");
    }
    press(&mut a, '?');
    assert!(!a.show_help);
    press(&mut a, '?');
    key(&mut a, KeyCode::Esc);
    assert!(!a.show_help, "Esc closes help");
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut a = app("gd-scalar");
    press(&mut a, 'q');
    assert!(a.should_quit);
    let mut a = app("gd-scalar");
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(a.should_quit);
}

#[test]
fn clicking_a_pane_focuses_it() {
    let mut a = app("gd-scalar");
    a.update(Event::Resize(120, 40));
    for (pane, r) in PaneId::ALL.iter().zip(views::pane_areas(a.area)) {
        click(&mut a, r.x + r.width / 2, r.y + r.height / 2);
        assert_eq!(a.focus, *pane, "click in {r:?}");
    }
    // the status line is no pane: focus stays
    click(&mut a, 5, 39);
    assert_eq!(a.focus, PaneId::Conv);
}

#[test]
fn space_takes_one_step() {
    let mut a = app("gd-scalar");
    assert_eq!(x(&a), 5.0);
    press(&mut a, ' ');
    assert!((x(&a) - 4.6).abs() < 1e-6, "x = {}", x(&a));
    assert_eq!(a.stepper.as_ref().map(|s| s.costs.len()), Some(1));
}

#[test]
fn plus_raises_lr_along_the_ladder_and_the_next_step_uses_it() {
    let mut a = app("gd-scalar");
    press(&mut a, '+');
    let lr = a.stepper.as_ref().map(|s| s.lr());
    assert_eq!(lr, Some(0.3));
    assert_eq!(views::lr_ladder(0.1, true), 0.3);
    press(&mut a, ' ');
    // x ← 5 − 0.3·4 = 3.8
    assert!((x(&a) - 3.8).abs() < 1e-6, "x = {}", x(&a));
    press(&mut a, '-');
    press(&mut a, '-');
    assert_eq!(a.stepper.as_ref().map(|s| s.lr()), Some(0.03));
}

#[test]
fn r_resets_x_and_keeps_lr() {
    let mut a = app("gd-scalar");
    press(&mut a, '+');
    press(&mut a, ' ');
    press(&mut a, ' ');
    assert_ne!(x(&a), 5.0);
    press(&mut a, 'r');
    assert_eq!(x(&a), 5.0);
    let s = a.stepper.as_ref().expect("stepper");
    assert!(s.costs.is_empty() && s.trail.is_empty() && s.last.is_none());
    assert_eq!(s.lr(), 0.3);
}

#[test]
fn s_runs_by_itself_on_ticks_and_pauses() {
    let mut a = app("gd-scalar");
    press(&mut a, 's');
    assert!(a.stepper.as_ref().is_some_and(|s| s.auto));
    for _ in 0..5 {
        a.update(Event::Tick);
    }
    let per_tick = a.stepper.as_ref().map_or(0, |s| s.per_tick());
    assert_eq!(
        a.stepper.as_ref().map(|s| s.costs.len()),
        Some(5 * per_tick)
    );
    press(&mut a, 's');
    a.update(Event::Tick);
    assert_eq!(
        a.stepper.as_ref().map(|s| s.costs.len()),
        Some(5 * per_tick),
        "paused"
    );
}

#[test]
fn too_small_a_terminal_says_so_and_recovers() {
    let mut a = app("gd-scalar");
    for (w, h) in [(79, 24), (80, 23), (40, 10)] {
        a.update(Event::Resize(w, h));
        let s = screen(&a, w, h);
        assert!(
            s.contains("terminal too small (need 80×24"),
            "{w}×{h}:\n{s}"
        );
    }
    a.update(Event::Resize(80, 24));
    let s = screen(&a, 80, 24);
    assert!(!s.contains("too small"), "{s}");
    assert!(s.contains("Loss"), "{s}");
    assert!(s.contains("x = 5.000"), "{s}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    let a = app("gd-scalar");
    for (w, h) in [(0, 0), (1, 1), (20, 8), (80, 24)] {
        screen(&a, w, h);
    }
}

#[test]
fn a_status_message_gives_the_keys_back_after_a_while() {
    let mut a = app("gd-scalar");
    press(&mut a, '+');
    assert_eq!(a.message.as_deref(), Some("learning rate: 0.3"));
    for _ in 0..dl_lab::tui::app::MESSAGE_TICKS {
        a.update(Event::Tick);
    }
    assert_eq!(a.message, None, "the key hints return");
    assert!(screen(&a, 100, 30).contains("Space step"));
}

#[test]
fn a_divergence_message_stays() {
    let mut a = app("gd-scalar");
    for _ in 0..10 {
        press(&mut a, '+'); // up the ladder to 10
    }
    for _ in 0..80 {
        press(&mut a, ' ');
    }
    let msg = a.message.clone().expect("divergence is reported");
    for _ in 0..2 * dl_lab::tui::app::MESSAGE_TICKS {
        a.update(Event::Tick);
    }
    assert_eq!(
        a.message.as_deref(),
        Some(msg.as_str()),
        "a failure is not cleared by time"
    );
}

#[test]
fn the_lesson_list_switches_lessons() {
    let mut a = app("cnn-mnist");
    assert!(a.stepper.is_none());
    press(&mut a, 'L');
    assert_eq!(
        a.lesson_picker,
        Some(12),
        "the list opens on the current lesson"
    );
    let shown = screen(&a, 100, 30);
    assert!(
        shown.contains("Lessons") && shown.contains("xor-perceptron"),
        "{shown}"
    );
    key(&mut a, KeyCode::Down); // overfit-mnist
    key(&mut a, KeyCode::Down); // optimizer-race
    key(&mut a, KeyCode::Down); // wraps to the first lesson, tensor-basics
    key(&mut a, KeyCode::Down); // gd-scalar
    key(&mut a, KeyCode::Down); // momentum
    key(&mut a, KeyCode::Down); // linear
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.lesson.name, "linear");
    assert!(a.lesson_picker.is_none());
    assert!(a.stepper.is_some(), "linear is stepped one epoch at a time");
    press(&mut a, ' ');
    assert_eq!(a.stepper.as_ref().map(|s| s.costs.len()), Some(1));
    // Esc closes the list without switching
    press(&mut a, 'L');
    key(&mut a, KeyCode::Up);
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.lesson.name, "linear");
}

#[test]
fn help_closes_on_any_key_and_keeps_the_editor_untouched() {
    let mut a = app("cnn-mnist");
    a.focus = PaneId::Model;
    press(&mut a, 'e'); // open the layer editor
    assert!(a.builder.is_editing());
    press(&mut a, '?');
    assert!(a.show_help);
    key(&mut a, KeyCode::Esc);
    assert!(!a.show_help, "Esc closes the help first");
    assert!(a.builder.is_editing(), "…and leaves the editor open");
}

#[test]
fn switching_lessons_while_training_drops_the_old_runs_reports() {
    let (tx, rx) = mpsc::channel();
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let mut a = App::new(
        lessons::find("softmax-mnist").expect("lesson"),
        data,
        false,
        tx,
    );
    a.hyper.epochs = 1;
    press(&mut a, 's');
    assert_eq!(a.training.state, dl_lab::tui::app::TrainState::Running);
    a.switch_lesson(lessons::find("cnn-mnist").expect("lesson"));
    // everything the stopped worker sent is already queued; feed it all
    while let Ok(ev) = rx.try_recv() {
        a.update(ev);
    }
    assert_eq!(a.lesson.name, "cnn-mnist");
    assert_eq!(
        a.training.state,
        dl_lab::tui::app::TrainState::Idle,
        "the old run's Finished is ignored"
    );
    assert!(
        a.training.trained().is_none(),
        "the old run's snapshot is ignored"
    );
}

#[test]
fn the_conv_pane_follows_the_digit_browsed_in_the_dataset_pane() {
    let mut a = app("cnn-mnist");
    assert_eq!(a.focus, PaneId::Dataset);
    key(&mut a, KeyCode::PageDown);
    key(&mut a, KeyCode::PageDown);
    assert_eq!(a.dataset.index, 2);
    assert_eq!(a.conv.digit, 2, "Conv/Pool shows the same held-out digit");
    press(&mut a, 't'); // the training set: the Conv/Pool pane keeps its digit
    key(&mut a, KeyCode::PageDown);
    assert_eq!(a.conv.digit, 2);
}

#[test]
fn a_new_run_drops_the_last_runs_model() {
    use rand::SeedableRng;
    let (tx, _rx) = mpsc::channel();
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let mut a = App::new(
        lessons::find("softmax-mnist").expect("lesson"),
        data,
        false,
        tx,
    );
    let old = dl_lab::nn::spec::build_model(
        &a.builder.specs,
        &[784],
        &mut rand::rngs::StdRng::seed_from_u64(3),
    )
    .expect("model");
    a.set_trained(Some(Arc::new(old)));
    a.hyper.epochs = 1;
    press(&mut a, 's');
    assert_eq!(a.training.state, dl_lab::tui::app::TrainState::Running);
    assert!(
        a.training.trained().is_none(),
        "the last run's model is not shown beside the new layers"
    );
    press(&mut a, 'q');
}

// ------------------------------------------------ the path through the lessons

use dl_lab::tui::remember;

#[test]
fn with_nothing_remembered_the_lab_starts_on_the_list_at_tensor_basics() {
    let (l, list) = remember::start(None, None).expect("a course");
    assert_eq!((l.name, list), ("tensor-basics", true));
    let (l, list) = remember::start(Some("linear"), lessons::find("xor-mlp").ok()).expect("ok");
    assert_eq!((l.name, list), ("linear", false), "--lesson wins");
    let (l, list) = remember::start(None, lessons::find("xor-mlp").ok()).expect("ok");
    assert_eq!(
        (l.name, list),
        ("xor-mlp", false),
        "else the remembered one"
    );
    assert!(remember::start(Some("nope"), None).is_err());
}

#[test]
fn the_last_lesson_is_remembered_and_a_bad_file_is_ignored() {
    // a fresh, empty directory under the temp dir (never the real config)
    let tmp = common::TempDir::new("remember");
    let dir = tmp.dir();
    assert!(remember::load_from(&dir).is_none(), "nothing there yet");
    assert!(
        remember::save_to(&dir.join("sub"), "xor-mlp"),
        "creates the directory"
    );
    assert_eq!(
        remember::load_from(&dir.join("sub")).map(|l| l.name),
        Some("xor-mlp")
    );
    // corrupt: an unknown name, binary junk, an empty file
    let file = dir.join(remember::LAST_LESSON_FILE);
    for junk in [&b"no-such-lesson\n"[..], &[0xff, 0xfe, 0, 1][..], b""] {
        std::fs::write(&file, junk).expect("write");
        assert!(remember::load_from(&dir).is_none());
    }
    // unwritable: the "directory" is a file; saving says no and nothing breaks
    assert!(!remember::save_to(&file, "linear"));
}

#[test]
fn the_list_is_numbered_plain_and_fits_80_columns() {
    let mut a = app("gd-scalar");
    a.open_lesson_list();
    assert_eq!(a.lesson_picker, Some(1), "the list opens on gd-scalar");
    for (w, h) in [(80, 24), (140, 45)] {
        let s = screen(&a, w, h);
        for (i, l) in lessons::all().iter().enumerate() {
            let row = format!("{}. {:<15}{}", i + 1, l.name, l.blurb);
            assert!(s.contains(&row), "{w}x{h}: {row:?} missing\n{s}");
        }
        assert!(
            s.contains("1. tensor-basics")
                && s.contains("2. gd-scalar")
                && s.contains("← start here"),
            "{s}"
        );
        assert!(s.contains("What to watch in gd-scalar"), "{s}");
        assert!(s.contains("Enter open · Esc close"), "{s}");
    }
    for l in lessons::all() {
        assert!(l.blurb.chars().count() <= 54, "{}: blurb too long", l.name);
        assert!(!l.blurb.contains("zeros("), "{}: plain words", l.name);
        assert!(!l.notes.is_empty(), "{}: what to watch", l.name);
    }
    // the selected lesson's note, MNIST ones included
    for _ in 0..11 {
        key(&mut a, KeyCode::Down);
    }
    let s = screen(&a, 80, 24);
    assert!(s.contains("What to watch in cnn-mnist"), "{s}");
    // Esc closes the list and keeps the lesson; Enter opens the selected one
    key(&mut a, KeyCode::Esc);
    assert!(a.lesson_picker.is_none());
    assert_eq!(a.lesson.name, "gd-scalar");
    a.open_lesson_list();
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.lesson.name, "momentum");
    assert!(a.lesson_picker.is_none());
}

#[test]
fn a_finished_lesson_suggests_the_next_one() {
    assert_eq!(lessons::next("gd-scalar").map(|l| l.name), Some("momentum"));
    assert_eq!(lessons::next("momentum").map(|l| l.name), Some("linear"));
    assert_eq!(lessons::next("xor-mlp").map(|l| l.name), Some("xor-deep"));
    assert_eq!(
        lessons::next("xor-deep").map(|l| l.name),
        Some("softmax-mnist")
    );
    assert_eq!(
        lessons::next("cnn-mnist").map(|l| l.name),
        Some("overfit-mnist")
    );
    assert_eq!(
        lessons::next("overfit-mnist").map(|l| l.name),
        Some("optimizer-race")
    );
    assert!(lessons::next("optimizer-race").is_none());

    let mut a = app("gd-scalar");
    assert!(!a.lesson_finished());
    for _ in 0..200 {
        if a.lesson_finished() {
            break;
        }
        press(&mut a, ' ');
    }
    assert!(a.lesson_finished());
    let msg = a.message.clone().unwrap_or_default();
    assert!(msg.contains("next lesson: momentum"), "{msg}");
    // L opens the list on the next lesson, marked as next
    press(&mut a, 'L');
    assert_eq!(a.lesson_picker, Some(2));
    let s = screen(&a, 80, 24);
    assert!(s.contains("← next"), "{s}");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.lesson.name, "momentum");

    // an MNIST run that trains to the end (not one that was stopped)
    let mut a = app("softmax-mnist");
    common::tui::train(
        &mut a,
        dl_lab::train::TrainEvent::Finished { stopped: true },
    );
    assert!(!a.lesson_finished());
    // the next run trains to its end
    a.training.stop();
    common::tui::train(
        &mut a,
        dl_lab::train::TrainEvent::Finished { stopped: false },
    );
    assert!(a.lesson_finished());
    let msg = a.message.clone().unwrap_or_default();
    assert!(msg.contains("next lesson: cnn-mnist"), "{msg}");
    let mut a = app("cnn-mnist");
    common::tui::train(
        &mut a,
        dl_lab::train::TrainEvent::Finished { stopped: false },
    );
    let msg = a.message.clone().unwrap_or_default();
    assert!(msg.contains("next lesson: overfit-mnist"), "{msg}");
}

/// Snapshots during training replace the model the Conv/Pool pane reads.
#[test]
fn snapshots_while_training_update_the_learned_filters() {
    use dl_lab::tui::views::conv_viz::Learned;
    let mut a = app("cnn-mnist");
    let Some(dl_lab::lessons::Task::Classifier { layers, .. }) = Some(a.lesson.task.clone()) else {
        panic!("a classifier")
    };
    a.training.begin(&layers, &[1, 28, 28]);
    let params = |v: f32| -> Vec<dl_lab::engine::Array> {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
        let m = dl_lab::nn::spec::build_model(&layers, &[1, 28, 28], &mut rng).expect("builds");
        use dl_lab::nn::Module;
        m.parameters()
            .iter()
            .map(|p| p.to_array().mapv(|_| v))
            .collect()
    };
    let (p1, p2) = (params(0.5), params(-0.25));
    common::tui::train(&mut a, dl_lab::train::TrainEvent::Snapshot(p1));
    let f1 = Learned::of(&a).expect("conv1").filters[0][(0, 0)];
    common::tui::train(&mut a, dl_lab::train::TrainEvent::Snapshot(p2));
    let f2 = Learned::of(&a).expect("conv1").filters[0][(0, 0)];
    assert_eq!((f1, f2), (0.5, -0.25));
}

#[test]
fn the_lab_takes_its_own_options_not_the_command_line() {
    use dl_lab::tui::{check_args, LabOptions};
    assert!(check_args(&LabOptions::default()).is_ok());
    let bad = LabOptions {
        lesson: Some("no-such-lesson".into()),
        ..LabOptions::default()
    };
    let err = check_args(&bad).expect_err("unknown lesson").to_string();
    assert!(err.contains("gd-scalar"), "names the lessons: {err}");
    let csv = LabOptions {
        data: Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")),
        ..LabOptions::default()
    };
    let err = check_args(&csv)
        .expect_err("a file is not an MNIST directory")
        .to_string();
    assert!(err.contains("MNIST-format directory"), "{err}");
    // built from the parsed command line, the lab's flags carry over
    let cli = <dl_lab::cli::Cli as clap::Parser>::parse_from([
        "dl-lab", "--lesson", "linear", "--ascii", "--device", "cpu",
    ]);
    let o = LabOptions::from(&cli);
    assert_eq!(o.lesson.as_deref(), Some("linear"));
    assert!(o.ascii);
    assert_eq!(o.device, dl_lab::backend::DeviceSpec::Cpu);
    let cli = <dl_lab::cli::Cli as clap::Parser>::parse_from([
        "dl-lab",
        "--load",
        "a.ckpt",
        "--save",
        "b.ckpt",
        "--history",
        "h.csv",
    ]);
    let o = LabOptions::from(&cli);
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    assert_eq!(path(&o.load).as_deref(), Some("a.ckpt"));
    assert_eq!(path(&o.save).as_deref(), Some("b.ckpt"));
    assert_eq!(path(&o.history).as_deref(), Some("h.csv"));
    // a --load that is not there is refused before the screen is taken
    let err = check_args(&o).expect_err("no a.ckpt").to_string();
    assert_eq!(err, "--load a.ckpt: no such file");
}

/// A run that is reset and replaced may still have reports queued: they
/// carry its run id and are dropped, so the new run's progress and loss
/// history are its own.
#[test]
fn reports_of_a_reset_run_are_dropped() {
    let (tx, rx) = mpsc::channel();
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let mut a = App::new(
        lessons::find("softmax-mnist").expect("lesson"),
        data,
        false,
        tx,
    );
    a.hyper.epochs = 1;
    press(&mut a, 's');
    let first = a.training.id();
    assert_ne!(first, 0);
    // let the first run report (it trains 40 batches in well under a second)
    std::thread::sleep(std::time::Duration::from_millis(300));
    press(&mut a, 'r');
    assert_eq!(a.training.state, dl_lab::tui::app::TrainState::Idle);
    press(&mut a, 's');
    let second = a.training.id();
    assert!(second > first, "ids increase: {first} then {second}");
    // read everything both runs send, until the second one finishes
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut old = 0;
    while a.training.state == dl_lab::tui::app::TrainState::Running {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx
            .recv_timeout(left)
            .expect("the second run reports until it ends")
        {
            Event::Train(ev) => {
                old += usize::from(ev.run == first);
                a.update(Event::Train(ev));
            }
            other => a.update(other),
        }
    }
    assert!(old > 0, "the first run's reports were still queued");
    assert_eq!(a.training.state, dl_lab::tui::app::TrainState::Finished);
    // 4000 shipped training images in batches of 100: 40 steps, each once
    assert_eq!(a.training.progress.step, 40);
    assert_eq!(a.loss.losses.pushed(), 40, "only the second run's losses");
    assert_eq!(a.loss.accuracy.len(), 1, "only the second run's epoch");
}

/// The same without a worker: a report tagged with another run changes
/// nothing; a stopped run's reports are dropped too.
#[test]
fn a_run_reads_only_its_own_reports() {
    use dl_lab::train::{RunEvent, TrainEvent};
    let mut a = app("softmax-mnist");
    let specs = a.builder.specs.clone();
    let old = a.training.begin(&specs, &[784]);
    let new = a.training.begin(&specs, &[784]);
    assert!(new > old);
    let batch = |run, step: usize| {
        Event::Train(RunEvent {
            run,
            event: TrainEvent::Batch {
                epoch: 1,
                batch: step,
                step,
                losses: vec![0.5; 1],
                img_per_s: 1000.0,
            },
        })
    };
    a.update(batch(old, 7));
    assert_eq!(
        a.training.progress.step, 0,
        "the old run's report is dropped"
    );
    assert!(a.loss.losses.is_empty());
    a.update(batch(new, 3));
    assert_eq!(a.training.progress.step, 3);
    assert_eq!(a.loss.losses.pushed(), 1);
    a.training.stop();
    a.update(batch(new, 4));
    assert_eq!(
        a.training.progress.step, 3,
        "a stopped run's report is dropped"
    );
}

/// Two quick `s` presses pause and resume: the second one, before the
/// worker has answered the first, toggles back (it used to repeat the
/// pause, which the worker ignored, and the run stayed paused).
#[test]
fn two_quick_s_presses_leave_the_run_running() {
    use dl_lab::train::TrainEvent;
    use dl_lab::tui::app::TrainState;
    let (tx, rx) = mpsc::channel();
    let data = Arc::new(Mnist::shipped().expect("shipped sample"));
    let mut a = App::new(
        lessons::find("softmax-mnist").expect("lesson"),
        data,
        false,
        tx,
    );
    a.hyper.epochs = 1000; // still training when the presses are answered
    press(&mut a, 's');
    assert_eq!(a.training.state, TrainState::Running);
    // no report is read between the two presses: the worker has not answered
    press(&mut a, 's');
    press(&mut a, 's');
    let run = a.training.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (mut paused, mut resumed, mut batches_after) = (0, 0, 0);
    while batches_after == 0 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Event::Train(ev) = rx.recv_timeout(left).expect("the run reports") else {
            continue;
        };
        assert_eq!(ev.run, run);
        match ev.event {
            TrainEvent::Paused => paused += 1,
            TrainEvent::Resumed => resumed += 1,
            TrainEvent::Batch { .. } if resumed > 0 => batches_after += 1,
            _ => {}
        }
        a.update(Event::Train(ev));
    }
    assert_eq!((paused, resumed), (1, 1));
    assert_eq!(a.training.state, TrainState::Running);
    assert!(!a.training.will_be_paused());
    // and a third press pauses again
    press(&mut a, 's');
    assert!(a.training.will_be_paused());
    a.shutdown();
}

/// Pausing, resuming and finishing replace the "training started" message
/// at once (it used to stay for MESSAGE_TICKS after the state changed).
#[test]
fn the_status_message_follows_the_training_state() {
    use dl_lab::train::TrainEvent;
    let mut a = app("softmax-mnist");
    let specs = a.builder.specs.clone();
    a.training.begin(&specs, &[784]);
    a.message = Some("training started".into());
    common::tui::train(&mut a, TrainEvent::Paused);
    assert_eq!(a.message.as_deref(), Some("training paused (s resumes)"));
    assert!(screen(&a, 100, 30).contains("training paused"));
    common::tui::train(&mut a, TrainEvent::Resumed);
    assert_eq!(a.message.as_deref(), Some("training resumed"));
    common::tui::train(&mut a, TrainEvent::Finished { stopped: true });
    assert_eq!(a.message.as_deref(), Some("training stopped"));
}
