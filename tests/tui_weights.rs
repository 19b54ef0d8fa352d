//! softmax-mnist's ten weight images in the Conv/Pool pane: each drawn
//! pixel is the model's own weight on the signed scale (its colour, or its
//! sign/magnitude character without colour), they follow the worker's
//! snapshots while training, and rewind draws them as recorded.

mod common;

use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use common::tui::{app, app_with, keys, lines, press, screen, train};
use dl_lab::data::mnist::Mnist;
use dl_lab::engine::Array;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::Module;
use dl_lab::train::{EpochSummary, TrainEvent};
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::event::Event;
use dl_lab::tui::views::conv_viz::{self, weights};
use dl_lab::tui::views::shade::Scale;
use dl_lab::tui::views::{self, pane_areas};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

fn layers(a: &App) -> (Vec<dl_lab::nn::LayerSpec>, Vec<usize>) {
    match &a.lesson.task {
        Task::Classifier {
            layers,
            input_shape,
        } => (layers.clone(), input_shape.clone()),
        _ => panic!("softmax-mnist is a classifier"),
    }
}

/// softmax-mnist with seeded random weights as its trained model.
fn with_model(mut a: App, seed: u64) -> App {
    let (layers, shape) = layers(&a);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let model = dl_lab::nn::spec::build_model(&layers, &shape, &mut rng).expect("builds");
    a.set_trained(Some(Arc::new(model)));
    a.conv.show_filters = true;
    a
}

/// W (10, 784) of the lab's trained model.
fn weight(a: &App) -> ndarray::Array2<f32> {
    a.training.trained().expect("a model").parameters()[0]
        .to_array()
        .into_dimensionality::<ndarray::Ix2>()
        .expect("W is (10, 784)")
}

/// The Conv/Pool pane alone, opened, in a `w`×`h` buffer.
fn pane(a: &App, w: u16, h: u16) -> Buffer {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    conv_viz::render_pane(&a.conv, &a.view_context(), area, &mut buf, true, true);
    buf
}

/// Where image `k`'s top-left cell is when drawn at full size, 5 to a row,
/// in a pane at (0, 0): inside the border, under the two header rows.
fn origin(k: usize, chars: bool) -> (u16, u16) {
    let h = if chars { 29 } else { 15 };
    (1 + (k % 5) as u16 * 29, 1 + 2 + (k / 5) as u16 * h)
}

#[test]
fn each_shaded_cell_is_the_models_own_weight_on_the_signed_scale() {
    let a = with_model(app("softmax-mnist"), 3);
    let w = weight(&a);
    let max = weights::full_scale(w.iter().copied());
    let scale = Scale::Signed { max };
    let buf = pane(&a, 150, 36);
    let text = lines(&buf).join("\n");
    assert!(text.contains("W's 10 rows"), "{text}");
    assert!(text.contains("784 weights, 28x28 ·"), "full size: {text}");
    let (mut pos, mut neg) = (0, 0);
    for k in 0..10 {
        let (x0, y0) = origin(k, false);
        for r in 0..28 {
            for c in 0..28 {
                let v = w[[k, r * 28 + c]];
                let cell = &buf[(x0 + c as u16, y0 + (r / 2) as u16)];
                assert_eq!(cell.symbol(), "▀");
                let got = if r % 2 == 0 { cell.fg } else { cell.bg };
                assert_eq!(got, scale.color(v), "class {k} pixel ({r}, {c}) = {v}");
                // diverging: red for positive, blue for negative
                if let Color::Rgb(red, _, blue) = got {
                    if weights::bucket(v, max) >= 2 {
                        assert!(red > blue);
                        pos += 1;
                    } else if weights::bucket(v, max) <= -2 {
                        assert!(blue > red);
                        neg += 1;
                    }
                }
            }
        }
        // the label under the image
        assert_eq!(buf[(x0, y0 + 14)].symbol(), k.to_string());
    }
    assert!(pos > 100 && neg > 100, "{pos} {neg}");
}

#[test]
fn without_colour_each_pixel_is_its_sign_and_magnitude_character() {
    for mono in [false, true] {
        let mut a = with_model(app_with("softmax-mnist", !mono), 5);
        a.mono = mono;
        let w = weight(&a);
        let max = weights::full_scale(w.iter().copied());
        let buf = pane(&a, 150, 64);
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..10 {
            let (x0, y0) = origin(k, true);
            for r in 0..28 {
                for c in 0..28 {
                    let v = w[[k, r * 28 + c]];
                    let want = weights::signed_char(v, max);
                    let got = buf[(x0 + c as u16, y0 + r as u16)].symbol().to_string();
                    assert_eq!(
                        got,
                        want.to_string(),
                        "mono {mono}: class {k} ({r}, {c}) = {v}"
                    );
                    seen.insert(want);
                }
            }
            assert_eq!(buf[(x0, y0 + 28)].symbol(), k.to_string());
        }
        // both signs, at more than one strength
        for c in ['#', '+', '=', '-'] {
            assert!(seen.contains(&c), "{seen:?}");
        }
        let text = lines(&buf).join("\n");
        assert!(text.contains("#*+ pos, =-. neg, full at |w|"), "{text}");
        if !mono {
            assert!(text.is_ascii(), "--ascii writes ASCII: {text}");
        }
    }
}

#[test]
fn at_80x24_the_images_are_averaged_to_fit_and_the_pane_says_so() {
    let mut a = with_model(app("softmax-mnist"), 3);
    a.focus = PaneId::Conv;
    a.zoomed = true;
    let s = screen(&a, 80, 24);
    assert!(s.contains("shown 14x14 averaged from 28x28"), "{s}");
    // the averaged pixel is the mean of its 2×2 block of weights
    let w = weight(&a);
    let max = weights::full_scale(w.iter().copied());
    let area = Rect::new(0, 0, 80, 23);
    let buf = pane(&a, area.width, area.height);
    let mean = |k: usize, r: usize, c: usize| {
        let at = |dr: usize, dc: usize| w[[k, (2 * r + dr) * 28 + 2 * c + dc]];
        (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4.0
    };
    let scale = Scale::Signed { max };
    for (k, r, c) in [(0, 0, 0), (3, 6, 9), (7, 13, 13)] {
        let (x0, y0) = (1 + (k % 5) as u16 * 15, 3 + (k / 5) as u16 * 8);
        assert_eq!(buf[(x0, y0 + 7)].symbol(), k.to_string());
        let cell = &buf[(x0 + c as u16, y0 + (r / 2) as u16)];
        let got = if r % 2 == 0 { cell.fg } else { cell.bg };
        let Color::Rgb(..) = got else {
            panic!("{got:?}")
        };
        let want = scale.color(mean(k, r, c));
        // resampling sums in another order: allow one step of rounding
        let (Color::Rgb(a1, b1, c1), Color::Rgb(a2, b2, c2)) = (got, want) else {
            unreachable!()
        };
        for (p, q) in [(a1, a2), (b1, b2), (c1, c2)] {
            assert!(p.abs_diff(q) <= 1, "{k} ({r},{c}): {got:?} vs {want:?}");
        }
    }
    // the overview and a large terminal draw them too, without panicking
    a.zoomed = false;
    let s = screen(&a, 80, 24);
    // the one line that fits says first how far the images were averaged
    assert!(s.contains("shown 4x4 averaged from 28x28: W's 10"), "{s}");
    a.zoomed = true;
    let s = screen(&a, 140, 45);
    assert!(s.contains("shown 26x26 averaged"), "{s}");
}

#[test]
fn the_images_follow_the_workers_snapshots_while_training() {
    let (tx, rx) = channel();
    let lesson = lessons::find("softmax-mnist").expect("lesson");
    let data = Mnist::shipped().expect("shipped sample");
    let mut a = App::new(lesson, Arc::new(data), false, tx);
    a.hyper.epochs = 2;
    press(&mut a, 's');
    assert!(
        a.conv.show_filters,
        "training a single layer shows its weights"
    );
    let mut first: Option<Vec<f32>> = None;
    let mut after: Option<Vec<f32>> = None;
    let mut epochs = 0;
    while after.is_none() {
        let ev = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the worker reports");
        let epoch_done = matches!(&ev, Event::Train(r) if matches!(r.event, TrainEvent::Epoch(_)));
        let snapshot = matches!(&ev, Event::Train(r) if matches!(r.event, TrainEvent::Snapshot(_)));
        a.update(ev);
        epochs += usize::from(epoch_done);
        let now = a.conv.trained.classes().map(|c| {
            c.images
                .iter()
                .flat_map(|m| m.iter().copied())
                .collect::<Vec<f32>>()
        });
        if snapshot && first.is_none() {
            first = now;
        } else if snapshot && epochs >= 1 {
            after = now;
        }
    }
    a.shutdown();
    let (first, after) = (first.unwrap(), after.unwrap());
    assert_eq!(first.len(), 7840);
    let changed = first.iter().zip(&after).filter(|(p, q)| p != q).count();
    assert!(changed > 1000, "{changed} of 7840 weights changed");
    // what the pane holds is the trained model's W
    let w = weight(&a);
    assert_eq!(after, w.iter().copied().collect::<Vec<f32>>());
    let s = screen(&a, 140, 45);
    assert!(s.contains("W's 10 rows"), "{s}");
}

/// softmax-mnist's parameters: W filled with `v`, b with 2v.
fn params(a: &App, v: f32) -> Vec<Array> {
    let a = with_model(app(a.lesson.name), 0);
    a.training
        .trained()
        .unwrap()
        .parameters()
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

/// The Loss pane's rows in the four-pane lab at 80×24.
fn loss_rows(a: &App) -> Vec<String> {
    let area = Rect::new(0, 0, 80, 24);
    let mut buf = Buffer::empty(area);
    views::render_to(a, area, &mut buf);
    let i = PaneId::ALL.iter().position(|&p| p == PaneId::Loss).unwrap();
    let r = pane_areas(area)[i];
    lines(&buf)[usize::from(r.y + 1)..usize::from(r.bottom() - 1)]
        .iter()
        .map(|row| row.chars().skip(r.x.into()).take(r.width.into()).collect())
        .collect()
}

#[test]
fn rewind_draws_the_weight_images_as_recorded_and_the_loss_pane_names_that_epoch() {
    let mut a = app("softmax-mnist");
    train(
        &mut a,
        TrainEvent::Started {
            epochs: 3,
            batches_per_epoch: 40,
            train_images: 4000,
        },
    );
    for (e, v) in [(1, 0.5), (2, -0.25), (3, 0.125)] {
        let p = params(&a, v);
        train(&mut a, epoch(e));
        train(&mut a, TrainEvent::Snapshot(p));
    }
    train(&mut a, TrainEvent::Finished { stopped: false });
    let p = &a.training.progress;
    let live = format!("epoch {}/{}", p.epoch, p.epochs);
    assert!(loss_rows(&a)[0].contains(&live), "{:?}", loss_rows(&a));
    a.focus = PaneId::Loss;
    keys(&mut a, "[[");
    assert_eq!(a.rewind.cursor, Some(0));
    let conv = a.rewind.conv.as_ref().expect("a rewound Conv/Pool pane");
    let classes = conv.trained.classes().expect("weight images");
    assert_eq!(classes.images[0][(0, 0)], 0.5);
    assert_eq!(classes.images[9][(27, 27)], 0.5);
    let s = screen(&a, 80, 24);
    assert!(s.contains("epoch 1 of 3 (rewound)"), "{s}");
    assert!(s.contains("averaged from 28x28: W's 10"), "{s}");
    // the Loss pane's first line names the rewound epoch, not the live one
    let rows = loss_rows(&a);
    assert!(rows[0].contains("epoch 1 of 3 (rewound)"), "{rows:?}");
    assert!(!rows.iter().any(|r| r.contains(&live)), "{rows:?}");
    // live again: the last epoch's weights and the live epoch
    press(&mut a, '}');
    assert!(a.rewind.is_live());
    let now = a.conv.trained.classes().unwrap();
    assert_eq!(now.images[0][(0, 0)], 0.125);
    assert!(loss_rows(&a)[0].contains(&live));
}
