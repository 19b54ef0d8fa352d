//! The Loss pane and live training, without a terminal: scripted
//! `TrainEvent`s fed to `App::update` and drawn into a ratatui `Buffer`
//! (counters, NaN message, log-scale label, ASCII fallback, tiny areas),
//! then a real worker on softmax-mnist driven with `s` and `q`.

mod common;

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons;
use dl_lab::train::{EpochSummary, TrainEvent};
use dl_lab::tui::app::{App, PaneId, TrainState};
use dl_lab::tui::event::Event;
use dl_lab::tui::views::{self, loss_chart};

fn data() -> Arc<Mnist> {
    static DATA: OnceLock<Arc<Mnist>> = OnceLock::new();
    DATA.get_or_init(|| Arc::new(Mnist::shipped().expect("shipped sample")))
        .clone()
}

fn lab(lesson: &str) -> (App, Receiver<Event>) {
    let (tx, rx) = mpsc::channel();
    let mut app = App::new(
        lessons::find(lesson).expect("lesson exists"),
        data(),
        false,
        tx,
    );
    app.focus = PaneId::Loss;
    (app, rx)
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn train(app: &mut App, ev: TrainEvent) {
    common::tui::train(app, ev);
}

/// The rows of `rect` in `buf`, as text.
fn rows(buf: &Buffer, rect: Rect) -> Vec<String> {
    let rect = rect.intersection(buf.area);
    (rect.top()..rect.bottom())
        .map(|y| {
            (rect.left()..rect.right())
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// Draw the whole lab at w×h; return the Loss pane's text (one row per line)
/// and the pane's rows joined with spaces (for wrapped messages).
fn draw(app: &App, w: u16, h: u16) -> (String, String) {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    views::render_to(app, area, &mut buf);
    let pane = if app.zoomed {
        Rect {
            height: h - 1,
            ..area
        }
    } else {
        views::pane_areas(area)[2]
    };
    let lines = rows(&buf, pane);
    let joined = lines
        .iter()
        .map(|l| l.trim_matches(|c: char| c == '│' || c == '┃' || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join(" ");
    (lines.join("\n"), joined)
}

/// Started, two reports in epoch 1, its summary, and one report in epoch 2.
fn scripted(app: &mut App) {
    train(
        app,
        TrainEvent::Started {
            epochs: 3,
            batches_per_epoch: 40,
            train_images: 4000,
        },
    );
    app.training.state = TrainState::Running; // as start_training sets it
    let losses: Vec<f32> = (1..=40).map(|i| 2.3 / (1.0 + 0.1 * i as f32)).collect();
    train(
        app,
        TrainEvent::Batch {
            epoch: 1,
            batch: 10,
            step: 10,
            losses: losses[..10].to_vec(),
            img_per_s: 12345.0,
        },
    );
    train(
        app,
        TrainEvent::Batch {
            epoch: 1,
            batch: 40,
            step: 40,
            losses: losses[10..].to_vec(),
            img_per_s: 23456.7,
        },
    );
    train(
        app,
        TrainEvent::Epoch(EpochSummary {
            epoch: 1,
            loss: 0.8,
            test_acc: 0.873,
            img_per_s: 23000.0,
            train_acc: 0.91,
            test_loss: 0.45,
            predictions: None,
        }),
    );
    train(
        app,
        TrainEvent::Batch {
            epoch: 2,
            batch: 5,
            step: 45,
            losses: vec![0.45, 0.44, 0.43, 0.42, 0.4123],
            img_per_s: 20000.0,
        },
    );
}

#[test]
fn overview_shows_title_counters_speed_loss_and_accuracy() {
    let (mut app, _rx) = lab("softmax-mnist");
    scripted(&mut app);
    assert_eq!(
        app.loss.losses.points().len(),
        45,
        "every step's loss is kept"
    );
    let (pane, _) = draw(&app, 80, 24);
    for want in [
        "Loss",
        "epoch 2/3",
        "step 45/120",
        "20,000 img/s",
        "loss 0.4123",
        "test acc 87.3 %",
        "ETA",
    ] {
        assert!(pane.contains(want), "missing {want:?} in\n{pane}");
    }
    // the chart: axis titles and step labels
    assert!(pane.contains("step") && pane.contains("45"), "{pane}");
    assert!(
        pane.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "Braille curve drawn:\n{pane}"
    );
}

#[test]
fn opened_pane_shows_accuracy_chart_and_every_counter() {
    let (mut app, _rx) = lab("softmax-mnist");
    scripted(&mut app);
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    assert!(app.zoomed);
    let (pane, _) = draw(&app, 120, 40);
    for want in [
        "Loss",
        "2 of 3",
        "45 of 120 (5/40)",
        "20,000 img/s",
        "0.4123",
        "loss, smoothed",
        "test accuracy",
        "87.3 %",
        "best test accuracy",
        "held-out images",
        "1,000",
        "time left (ETA)",
        "acc %",
        "smoothed (EMA)",
        "linear (l)",
        // overfitting's pair: training against held-out
        "train accuracy",
        "91.0 %",
        "held-out loss",
        "0.4500",
    ] {
        assert!(pane.contains(want), "missing {want:?} in\n{pane}");
    }
}

#[test]
fn training_and_held_out_series_are_kept_per_epoch_and_named_on_the_charts() {
    let (mut app, _rx) = lab("overfit-mnist");
    scripted(&mut app);
    assert_eq!(app.loss.train_accuracy.points(), [(1.0, 0.91f32 as f64)]);
    assert_eq!(app.loss.test_loss.points(), [(1.0, 0.45f32 as f64)]);
    assert_eq!(app.loss.accuracy.points(), [(1.0, 0.873f32 as f64)]);
    // the overview names the held-out loss line in its bottom border, at 80x24
    let (pane, _) = draw(&app, 80, 24);
    assert!(pane.contains("held-out"), "{pane}");
    // a large overview draws the accuracy chart too, with both lines named
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let (pane, _) = draw(&app, 140, 45);
    for want in ["train", "held-out", "held-out loss", "acc %"] {
        assert!(pane.contains(want), "missing {want:?} in\n{pane}");
    }
}

#[test]
fn a_nan_loss_shows_the_message_and_keeps_the_counters() {
    let (mut app, _rx) = lab("softmax-mnist");
    scripted(&mut app);
    let msg = "the loss became NaN at epoch 2, step 46: training diverged. Try a smaller learning rate (now 0.1), e.g. --lr 0.01";
    train(&mut app, TrainEvent::Failed(msg.into()));
    assert_eq!(app.training.state, TrainState::Failed(msg.into()));
    let (pane, joined) = draw(&app, 80, 24);
    assert!(
        joined.contains("the loss became NaN at epoch 2, step 46"),
        "{pane}"
    );
    assert!(joined.contains("smaller learning rate"), "{pane}");
    assert!(
        pane.contains("epoch 2/3") && pane.contains("loss 0.4123"),
        "state stays visible:\n{pane}"
    );
    // opened, the chart and counters stay too
    app.zoomed = true;
    let (pane, joined) = draw(&app, 120, 40);
    assert!(
        joined.contains("NaN at epoch 2, step 46")
            && joined.contains("press - to lower the learning rate"),
        "{pane}"
    );
    assert!(pane.contains("failed") && pane.contains("acc %"), "{pane}");
}

#[test]
fn l_switches_the_loss_axis_to_log_scale_and_back() {
    let (mut app, _rx) = lab("softmax-mnist");
    scripted(&mut app);
    let (pane, _) = draw(&app, 80, 24);
    assert!(pane.contains("loss") && !pane.contains("(log)"), "{pane}");
    app.update(key('l'));
    assert!(app.loss.log_scale);
    let (pane, _) = draw(&app, 80, 24);
    assert!(pane.contains("loss (log)"), "{pane}");
    app.update(key('l'));
    let (pane, _) = draw(&app, 80, 24);
    assert!(!pane.contains("(log)"), "{pane}");
}

#[test]
fn ascii_mode_draws_no_braille_in_the_pane() {
    let (mut app, _rx) = lab("softmax-mnist");
    app.ascii = true;
    scripted(&mut app);
    for zoomed in [false, true] {
        app.zoomed = zoomed;
        let area = if zoomed {
            Rect::new(0, 0, 120, 39)
        } else {
            Rect::new(0, 0, 40, 11)
        };
        let mut buf = Buffer::empty(area);
        loss_chart::render(&app, area, &mut buf, true, zoomed);
        let inner = Rect::new(1, 1, area.width - 2, area.height - 2);
        let text = rows(&buf, inner).join("\n");
        assert!(
            text.is_ascii(),
            "only plain characters inside the pane:\n{text}"
        );
        assert!(text.contains('*') && text.contains("img/s"), "{text}");
    }
}

#[test]
fn any_size_renders_without_panicking() {
    let (mut fresh, _rx) = lab("softmax-mnist");
    let (mut running, _rx2) = lab("softmax-mnist");
    scripted(&mut running);
    let (mut failed, _rx3) = lab("softmax-mnist");
    scripted(&mut failed);
    train(
        &mut failed,
        TrainEvent::Failed("the loss became NaN at epoch 2, step 46: training diverged.".into()),
    );
    let (mut small, _rx4) = lab("linear");
    for _ in 0..5 {
        small.update(key(' '));
    }
    let sizes = [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 1),
        (5, 3),
        (15, 4),
        (18, 5),
        (20, 6),
        (30, 8),
        (38, 9),
        (40, 11),
        (60, 8),
        (200, 60),
    ];
    for app in [&mut fresh, &mut running, &mut failed, &mut small] {
        for ascii in [false, true] {
            app.ascii = ascii;
            for log in [false, true] {
                app.loss.log_scale = log;
                for &(w, h) in &sizes {
                    for zoomed in [false, true] {
                        let area = Rect::new(0, 0, w, h);
                        let mut buf = Buffer::empty(area);
                        loss_chart::render(app, area, &mut buf, true, zoomed);
                        app.zoomed = zoomed;
                        views::render_to(app, area, &mut buf);
                    }
                }
            }
        }
    }
    // too small: a short notice, not a chart
    let area = Rect::new(0, 0, 12, 4);
    let mut buf = Buffer::empty(area);
    loss_chart::render(&running, area, &mut buf, true, false);
    assert!(rows(&buf, area).join("").contains("too small"));
}

#[test]
fn small_lessons_chart_the_cost_per_epoch() {
    let (mut app, _rx) = lab("linear");
    let (pane, _) = draw(&app, 80, 24);
    assert!(pane.contains("no cost yet"), "{pane}");
    for _ in 0..8 {
        app.update(key(' '));
    }
    assert_eq!(app.loss.losses.points().len(), 8);
    assert!(app.loss.per_epoch);
    let (pane, _) = draw(&app, 80, 24);
    for want in ["epoch 7/", "cost ", "lr ", "epoch"] {
        assert!(pane.contains(want), "missing {want:?} in\n{pane}");
    }
    app.update(key('l'));
    let (pane, _) = draw(&app, 80, 24);
    assert!(pane.contains("cost (log)"), "{pane}");
    // r starts the history again
    app.update(key('r'));
    assert!(app.loss.losses.points().is_empty());
}

/// Feed the worker's events to the app until `done` holds; false on timeout.
/// A training run that sends nothing for this long has hung (a batch of the
/// shipped sample takes milliseconds): fail instead of waiting out `limit`.
const SILENCE: Duration = Duration::from_secs(10);

/// Feed the worker's events to `app` until `done`, `limit` passes (false),
/// or the run fails or falls silent (a panic naming why: a dead training
/// thread fails the test at once instead of after minutes).
fn pump(app: &mut App, rx: &Receiver<Event>, limit: Duration, done: impl Fn(&App) -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done(app) {
        if let TrainState::Failed(why) = &app.training.state {
            panic!("the training run failed: {why}");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(SILENCE)) {
            Ok(ev @ Event::Train(_)) => app.update(ev),
            Ok(_) => {}
            Err(_) if left > SILENCE && app.training.state == TrainState::Running => {
                panic!(
                    "the training run sent nothing for {SILENCE:?} while running: it hangs or died"
                )
            }
            Err(_) if Instant::now() < deadline => {}
            Err(_) => return false,
        }
    }
    true
}

#[test]
fn s_trains_the_lesson_for_real_and_results_stay() {
    let (mut app, rx) = lab("softmax-mnist");
    app.hyper.epochs = 1;
    app.update(key('s'));
    assert_eq!(app.training.state, TrainState::Running);
    assert!(
        pump(&mut app, &rx, Duration::from_secs(120), |a| a
            .training
            .state
            == TrainState::Finished),
        "finishes"
    );
    let p = &app.training.progress;
    assert_eq!((p.epochs, p.batches_per_epoch, p.step), (1, 40, 40));
    assert_eq!(p.fraction(), 1.0);
    assert!(p.img_per_s > 0.0);
    assert!(
        p.last_acc.is_some_and(|a| a > 0.6),
        "softmax regression learns: {:?}",
        p.last_acc
    );
    assert_eq!(
        app.loss.losses.pushed(),
        40,
        "every step's loss reached the chart"
    );
    assert!(
        app.training.trained().is_some(),
        "the snapshot became a model"
    );
    let (pane, _) = draw(&app, 80, 24);
    assert!(
        pane.contains("finished") && pane.contains("step 40/40") && pane.contains("test acc"),
        "{pane}"
    );
}

#[test]
fn s_pauses_and_resumes_and_q_stops_promptly() {
    let (mut app, rx) = lab("softmax-mnist");
    app.hyper.epochs = 500; // long enough to still be running
    app.update(key('s'));
    assert_eq!(app.training.state, TrainState::Running);
    assert!(
        pump(&mut app, &rx, Duration::from_secs(60), |a| a
            .training
            .progress
            .step
            > 0),
        "batches arrive"
    );

    app.update(key('s'));
    assert!(
        pump(&mut app, &rx, Duration::from_secs(5), |a| a.training.state
            == TrainState::Paused),
        "pauses"
    );
    let step = app.training.progress.step;
    pump(&mut app, &rx, Duration::from_millis(300), |_| false);
    assert_eq!(app.training.progress.step, step, "no steps while paused");
    let (pane, _) = draw(&app, 80, 24);
    assert!(pane.contains("paused"), "{pane}");

    app.update(key('s'));
    assert!(
        pump(&mut app, &rx, Duration::from_secs(5), |a| a.training.state
            == TrainState::Running
            && a.training.progress.step > step),
        "resumes"
    );

    let t = Instant::now();
    app.update(key('q'));
    assert!(app.should_quit);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "q took {:?}",
        t.elapsed()
    );
}

#[test]
fn r_while_training_starts_clean() {
    let (mut app, rx) = lab("softmax-mnist");
    app.hyper.epochs = 500;
    app.update(key('s'));
    assert!(
        pump(&mut app, &rx, Duration::from_secs(60), |a| a
            .training
            .progress
            .step
            > 0),
        "batches arrive"
    );
    app.update(key('r'));
    assert_eq!(app.training.state, TrainState::Idle);
    // the stopped worker's last reports are still in the channel
    pump(&mut app, &rx, Duration::from_millis(300), |_| false);
    assert_eq!(
        app.training.state,
        TrainState::Idle,
        "a stopped run's late reports are dropped"
    );
    assert_eq!(app.training.progress.step, 0);
    assert!(app.loss.losses.is_empty());
    assert!(app.training.trained().is_none());
    // and the next run reports as usual
    app.hyper.epochs = 1;
    app.update(key('s'));
    assert!(pump(&mut app, &rx, Duration::from_secs(60), |a| a
        .training
        .state
        == TrainState::Finished));
    assert_eq!(app.training.progress.step, 40);
}

#[test]
fn a_diverging_small_lesson_says_so_in_the_pane() {
    let (mut app, _rx) = lab("linear");
    for _ in 0..30 {
        app.update(key('+'));
    }
    let mut warned = false;
    for _ in 0..200 {
        app.update(key(' '));
        let s = app.stepper.as_ref().expect("a small lesson");
        if s.diverged.is_some() {
            break;
        }
        if let (false, Some(m)) = (warned, &s.running_away) {
            // first the warning that the cost keeps rising, in the pane too
            let head: String = m.split_whitespace().take(5).collect::<Vec<_>>().join(" ");
            let (pane, joined) = draw(&app, 80, 24);
            assert!(
                joined.contains(&head) && pane.contains("diverging"),
                "{head:?} in\n{pane}"
            );
            warned = true;
        }
    }
    assert!(warned, "the rising cost was flagged before it overflowed");
    let msg = app
        .stepper
        .as_ref()
        .and_then(|s| s.diverged.clone())
        .expect("lr 10 diverges on `linear`");
    let (pane, joined) = draw(&app, 80, 24);
    let head: String = msg.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    assert!(joined.contains(&head), "{head:?} in\n{pane}");
    assert!(pane.contains("diverged"), "{pane}");
}

#[test]
fn a_nan_loss_pauses_and_s_resumes() {
    let (mut app, _rx) = lab("softmax-mnist");
    scripted(&mut app);
    train(
        &mut app,
        TrainEvent::Diverged {
            epoch: 2,
            step: 46,
            loss: f32::NAN,
            lr: 0.1,
        },
    );
    let TrainState::Diverged(msg) = &app.training.state else {
        panic!("a NaN loss pauses training: {:?}", app.training.state)
    };
    assert!(msg.contains("epoch 2, step 46"), "names the step: {msg}");
    assert!(
        msg.contains("lower the learning rate"),
        "suggests a smaller lr: {msg}"
    );
    let (pane, joined) = draw(&app, 80, 24);
    assert!(joined.contains("epoch 2, step 46"), "{pane}");
    assert!(pane.contains("epoch 2/3"), "the counters stay:\n{pane}");
    // the learner lowers the rate and resumes
    app.update(key('-'));
    assert_eq!(app.hyper.lr, 0.03);
    app.update(key('s'));
    train(&mut app, TrainEvent::Resumed);
    assert_eq!(app.training.state, TrainState::Running);
}

#[test]
fn overview_names_raw_and_smoothed_loss_and_both_charts_count_steps() {
    let (mut app, _rx) = lab("softmax-mnist");
    scripted(&mut app);
    for (w, h) in [(80, 24), (140, 45)] {
        let (pane, _) = draw(&app, w, h);
        // after an epoch, the held-out loss is the third line
        assert!(pane.contains("─ loss ─"), "{pane}");
        assert!(pane.contains("─ smoothed"), "{pane}");
        assert!(pane.contains("─ held-out"), "{pane}");
    }
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let (pane, _) = draw(&app, 140, 45);
    // the accuracy chart's x axis is in steps too (epoch 1 ended at step 40)
    assert!(
        !pane.contains("epoch\n") && !pane.lines().any(|l| l.trim_end().ends_with("epoch")),
        "{pane}"
    );
    assert!(pane.matches("step").count() >= 2, "{pane}");
}
