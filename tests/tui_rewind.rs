//! Rewind and compare: a restarted run's loss curve stays as a labelled
//! ghost on the Loss chart, and the Loss pane's timeline redraws the other
//! panes as they were at a recorded epoch, exactly as they were drawn then.

mod common;

use common::tui::{app, keys, lines, press, screen, train};
use dl_lab::engine::Array;
use dl_lab::nn::Module;
use dl_lab::train::{EpochSummary, TrainEvent};
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::views;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// The rows of `pane` drawn in the four-pane lab at `w`×`h`, without its
/// bottom border (where a rewound pane names its epoch).
fn pane_rows(a: &App, pane: PaneId, w: u16, h: u16) -> Vec<String> {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    views::render_to(a, area, &mut buf);
    let i = PaneId::ALL.iter().position(|&p| p == pane).unwrap();
    let r = views::pane_areas(area)[i];
    lines(&buf)[usize::from(r.y)..usize::from(r.bottom() - 1)]
        .iter()
        .map(|row| row.chars().skip(r.x.into()).take(r.width.into()).collect())
        .collect()
}

#[test]
fn after_r_and_a_new_lr_both_runs_sit_on_the_loss_chart_labelled() {
    let mut a = app("gd-scalar");
    keys(&mut a, "     "); // five steps at lr 0.1
    press(&mut a, 'r');
    press(&mut a, '+'); // lr 0.3
    keys(&mut a, "     ");
    let s = screen(&a, 80, 24);
    assert!(s.contains("lr 0.3 sgd"), "{s}");
    assert!(s.contains("lr 0.1 sgd"), "{s}");
    let g = &a.loss.ghosts[0];
    assert_eq!(g.label, "lr 0.1 sgd");
    // gd-scalar from x = 5: the cost before each step is (x−3)² + 4, x ← x − 0.2(x−3)
    let mut x = 5.0f64;
    for (i, &(e, c)) in g.points.iter().enumerate() {
        assert_eq!(e, i as f64);
        assert!((c - ((x - 3.0).powi(2) + 4.0)).abs() < 1e-4, "{c}");
        x -= 0.2 * (x - 3.0);
    }
    assert_eq!(g.points.len(), 5);
    // opened, the legend names them too
    a.focus = PaneId::Loss;
    a.zoomed = true;
    let s = screen(&a, 140, 45);
    assert_eq!(s.matches("lr 0.1 sgd").count(), 2, "{s}");
    // a fourth run pushes the oldest of three ghosts out
    for _ in 0..3 {
        press(&mut a, 'r');
        press(&mut a, '-');
        press(&mut a, ' ');
    }
    let labels: Vec<&str> = a.loss.ghosts.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["lr 0.03 sgd", "lr 0.1 sgd", "lr 0.3 sgd"]);
}

#[test]
fn a_rewound_small_lesson_draws_what_that_epoch_drew() {
    for lesson in ["gd-scalar", "linear", "xor-mlp", "mlp-regression"] {
        let mut a = app(lesson);
        keys(&mut a, "      "); // epochs 0…5
        a.focus = PaneId::Loss;
        keys(&mut a, "[[[["); // from live: 4, 3, 2, 1
        assert_eq!(a.rewind.cursor, Some(1), "{lesson}");
        let mut then = app(lesson);
        keys(&mut then, "  "); // epochs 0 and 1
        then.focus = PaneId::Loss;
        for pane in [PaneId::Dataset, PaneId::Model, PaneId::Conv] {
            for (w, h) in [(80, 24), (140, 45)] {
                assert_eq!(
                    pane_rows(&a, pane, w, h),
                    pane_rows(&then, pane, w, h),
                    "{lesson} {pane:?} {w}x{h}"
                );
            }
        }
        let epochs = a.stepper.as_ref().unwrap().session.epochs;
        let s = screen(&a, 80, 24);
        let label = format!("epoch 1 of {epochs} (rewound)");
        assert!(s.contains(&label), "{lesson}: {s}");
        // live is drawn differently (epoch 5)
        let mut live = app(lesson);
        keys(&mut live, "      ");
        live.focus = PaneId::Loss;
        assert_ne!(
            pane_rows(&live, PaneId::Model, 80, 24),
            pane_rows(&a, PaneId::Model, 80, 24),
            "{lesson}"
        );
        // ] on to the last is live again; so is any key that trains
        keys(&mut a, "]]]");
        assert_eq!(a.rewind.cursor, Some(4), "{lesson}");
        press(&mut a, ']');
        assert!(a.rewind.is_live(), "{lesson}");
        press(&mut a, '[');
        assert!(!a.rewind.is_live());
        press(&mut a, ' ');
        assert!(a.rewind.is_live() && a.loss.rewound.is_none());
        let n = a.stepper.as_ref().unwrap().costs.len();
        assert_eq!(n, 7, "{lesson}: {:?}", a.message);
    }
}

#[test]
fn rewinding_with_nothing_recorded_says_so_and_the_opened_pane_takes_arrows() {
    let mut a = app("gd-scalar");
    a.focus = PaneId::Loss;
    press(&mut a, '[');
    assert!(a.rewind.is_live());
    assert!(a
        .message
        .clone()
        .unwrap_or_default()
        .contains("nothing recorded"));
    keys(&mut a, "   ");
    a.zoomed = true;
    common::tui::key(&mut a, crossterm::event::KeyCode::Left);
    assert_eq!(a.rewind.cursor, Some(1));
    common::tui::key(&mut a, crossterm::event::KeyCode::Left);
    common::tui::key(&mut a, crossterm::event::KeyCode::Left);
    assert_eq!(a.rewind.cursor, Some(0), "stops at the first");
    let s = screen(&a, 80, 24);
    assert!(s.contains("Loss · epoch 0 of"), "{s}");
}

/// cnn-mnist's parameters, every one filled with `v`.
fn cnn_params(a: &App, v: f32) -> Vec<Array> {
    let dl_lab::lessons::Task::Classifier { layers, .. } = a.lesson.task.clone() else {
        panic!("a classifier")
    };
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let m = dl_lab::nn::spec::build_model(&layers, &[1, 28, 28], &mut rng).expect("builds");
    m.parameters()
        .iter()
        .enumerate()
        .map(|(i, p)| p.to_array().mapv(|_| v * (i as f32 + 1.0)))
        .collect()
}

fn epoch(e: usize) -> TrainEvent {
    TrainEvent::Epoch(EpochSummary {
        epoch: e,
        loss: 1.0 / e as f32,
        test_acc: 0.5,
        img_per_s: 1000.0,
        train_acc: 0.5,
        test_loss: 1.0,
        predictions: None,
    })
}

#[test]
fn a_rewound_cnn_shows_conv1s_filters_as_they_were_at_that_epoch() {
    let mut a = app("cnn-mnist");
    train(
        &mut a,
        TrainEvent::Started {
            epochs: 3,
            batches_per_epoch: 40,
            train_images: 4000,
        },
    );
    for (e, v) in [(1, 0.5), (2, -0.25), (3, 0.125)] {
        let p = cnn_params(&a, v);
        train(&mut a, epoch(e));
        train(&mut a, TrainEvent::Snapshot(p));
    }
    train(&mut a, TrainEvent::Finished { stopped: false });
    assert_eq!(a.rewind.models.len(), 3);
    a.focus = PaneId::Loss;
    keys(&mut a, "[[");
    assert_eq!(a.rewind.cursor, Some(0));
    // the same lab with epoch 1's weights as its model
    let mut then = app("cnn-mnist");
    let specs = then.builder.specs.clone();
    let model =
        views::model_from_params(&specs, &[1, 28, 28], &cnn_params(&then, 0.5)).expect("fits");
    then.set_trained(Some(std::sync::Arc::new(model)));
    then.conv.show_filters = true;
    then.focus = PaneId::Loss;
    for (w, h) in [(80, 24), (140, 45)] {
        assert_eq!(
            pane_rows(&a, PaneId::Conv, w, h),
            pane_rows(&then, PaneId::Conv, w, h),
            "{w}x{h}"
        );
    }
    let s = screen(&a, 80, 24);
    assert!(s.contains("epoch 1 of 3 (rewound)"), "{s}");
    let learned = a.rewind.conv.as_ref().unwrap().trained.learned().unwrap();
    assert_eq!(learned.filters[0][(0, 0)], 0.5);
    // live: the last epoch's filters
    press(&mut a, '}');
    assert!(a.rewind.is_live());
    assert_eq!(a.conv.trained.learned().unwrap().filters[0][(0, 0)], 0.125);
}
