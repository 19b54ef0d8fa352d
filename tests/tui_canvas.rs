//! Draw a digit: the canvas is prepared as MNIST's digits were (ink's
//! bounding box scaled to fit 20×20, centre of mass at the centre of the
//! 28×28 field), drawn with keys or the mouse, and the trained model's
//! prediction for it matches the dataset path's for a real digit.

mod common;

use common::tui::{app, key, keys, press, screen};
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::canvas::{bounding_box, prepare, Canvas, SIDE};
use dl_lab::tui::event::Event;

/// Centre of mass (row, col) of a 28×28 image in pixel indices.
fn centre_of_mass(img: &[f32]) -> (f32, f32) {
    let mass: f32 = img.iter().sum();
    let (mut r, mut c) = (0.0, 0.0);
    for (i, &v) in img.iter().enumerate() {
        r += v * (i / SIDE) as f32;
        c += v * (i % SIDE) as f32;
    }
    (r / mass, c / mass)
}

fn extent(img: &[f32]) -> (usize, usize) {
    let (t, b, l, r) = bounding_box(img).expect("ink");
    (b - t + 1, r - l + 1)
}

#[test]
fn a_drawn_shape_is_scaled_to_20_and_centred_by_its_mass() {
    // a tall stroke in the top-left corner with a hook: 11 rows × 5 columns
    let mut c = Canvas::default();
    c.brush = 1;
    for r in 2..13 {
        c.paint(r, 4, false);
        c.paint(r, 5, false);
    }
    for col in 3..8 {
        c.paint(2, col, false);
    }
    let img = prepare(&c.ink).expect("something is drawn");
    let (h, w) = extent(&img);
    assert_eq!(h, 20, "the longer side fills the 20-pixel box");
    assert_eq!(w, 9, "5 × 20/11 rounds to 9: the aspect ratio is kept");
    let (r, col) = centre_of_mass(&img);
    assert!(
        (r - 14.0).abs() <= 0.5 && (col - 14.0).abs() <= 0.5,
        "{r} {col}"
    );
    assert!(img.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // ink is conserved up to the scale: area × (20/11)²
    let before: f32 = c.ink.iter().sum();
    let after: f32 = img.iter().sum();
    let k = (20.0f32 / 11.0).powi(2);
    assert!((after / before - k).abs() < 0.15 * k, "{before} {after}");

    // a wide shape: its width becomes 20
    let mut c = Canvas::default();
    for col in 10..26 {
        c.paint(20, col, false);
    }
    let img = prepare(&c.ink).unwrap();
    assert_eq!(extent(&img).1, 20);
    let (r, col) = centre_of_mass(&img);
    assert!(
        (r - 14.0).abs() <= 0.5 && (col - 14.0).abs() <= 0.5,
        "{r} {col}"
    );
    assert_eq!(prepare(&Canvas::default().ink), None, "nothing drawn");
}

/// The lab on softmax-mnist with a model trained on the shipped sample
/// (3 epochs: about 85 % of the held-out digits right).
fn trained() -> App {
    use dl_lab::lessons::Task;
    let mut a = app("softmax-mnist");
    let Task::Classifier {
        layers,
        input_shape,
    } = a.lesson.task.clone()
    else {
        panic!("a classifier")
    };
    let mut hyper = a.hyper.clone();
    hyper.epochs = 3;
    let mut run = dl_lab::train::ClassifierRun::new(
        &layers,
        &input_shape,
        a.data.train.clone(),
        a.data.test.clone(),
        &hyper,
    )
    .expect("builds");
    let summaries = run
        .train(|_, _, _| dl_lab::train::Control::Continue)
        .expect("trains");
    assert!(summaries.last().unwrap().test_acc > 0.8, "{summaries:?}");
    a.set_trained(Some(std::sync::Arc::new(run.model)));
    a
}

#[test]
fn a_real_digit_drawn_on_the_canvas_gets_the_dataset_paths_prediction() {
    let mut a = trained();
    press(&mut a, 'd');
    assert!(a.canvas.on);
    for i in 0..30 {
        let pixels = a.data.test.image_values(i).unwrap();
        let model = a.training.trained().unwrap().clone();
        let want = dl_lab::tui::views::dataset::predict(&model, &[784], &pixels).unwrap();
        a.canvas.ink = pixels.clone();
        a.update(Event::Tick);
        let Some(Ok(got)) = &a.canvas.probs else {
            panic!("digit {i}: {:?}", a.canvas.probs)
        };
        let top = |p: &[f32]| dl_lab::tui::views::dataset::top_k(p, 1)[0].0;
        assert_eq!(top(got), top(&want), "digit {i}");
        // MNIST's digits already fill 20 pixels and sit on their centre of
        // mass: they come back unchanged, and so do their probabilities
        assert_eq!(a.canvas.input, pixels, "digit {i}");
        assert_eq!(got, &want, "digit {i}");
    }
}

#[test]
fn keys_draw_on_the_canvas_and_the_prediction_follows() {
    let mut a = trained();
    press(&mut a, 'd');
    key(&mut a, KeyCode::Enter); // open the pane: arrows move the cursor
    assert!(a.zoomed && a.canvas.on);
    assert_eq!(a.canvas.probs, None, "nothing drawn yet");
    press(&mut a, ' '); // pen down at the centre
    assert!(a.canvas.pen && a.canvas.has_ink());
    for _ in 0..8 {
        key(&mut a, KeyCode::Down);
    }
    press(&mut a, ' '); // pen up
    key(&mut a, KeyCode::Right);
    key(&mut a, KeyCode::Right);
    let (r, c) = a.canvas.cursor;
    assert_eq!((r, c), (22, 16));
    assert_eq!(
        a.canvas.ink[r * SIDE + c],
        0.0,
        "a lifted pen does not paint"
    );
    assert!(a.canvas.ink[21 * SIDE + 14] > 0.0);
    // the stroke, prepared, is what the model was asked about
    let Some(Ok(probs)) = &a.canvas.probs else {
        panic!("{:?}", a.canvas.probs)
    };
    let model = a.training.trained().unwrap().clone();
    let input = prepare(&a.canvas.ink).unwrap();
    assert_eq!(
        probs,
        &dl_lab::tui::views::dataset::predict(&model, &[784], &input).unwrap()
    );
    let top = dl_lab::tui::views::dataset::top_k(probs, 1)[0].0;
    let s = screen(&a, 80, 24);
    assert!(s.contains(&format!("prediction: {top}")), "{s}");
    assert!(s.contains("top 3:"), "{s}");
    // the brush, the learning rate untouched
    let lr = a.hyper.lr;
    keys(&mut a, "+++++++");
    assert_eq!(a.canvas.brush, dl_lab::tui::canvas::MAX_BRUSH);
    keys(&mut a, "---------");
    assert_eq!(a.canvas.brush, dl_lab::tui::canvas::MIN_BRUSH);
    assert_eq!(a.hyper.lr, lr);
    press(&mut a, 'x');
    assert!(!a.canvas.has_ink());
    assert_eq!(a.canvas.probs, None);
    press(&mut a, 'd');
    assert!(!a.canvas.on);
    assert!(screen(&a, 80, 24).contains("Dataset"));
}

fn mouse(a: &mut App, kind: MouseEventKind, column: u16, row: u16) {
    a.update(Event::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }));
}

#[test]
fn the_mouse_paints_and_erases_where_it_points() {
    let mut a = app("softmax-mnist");
    a.update(Event::Resize(140, 45));
    press(&mut a, 'd');
    // 140×45 overview: the Dataset pane's canvas is at (2, 3), inside its
    // frame, half-blocks
    let s = screen(&a, 140, 45);
    assert!(s.contains("no trained model yet"), "{s}");
    mouse(
        &mut a,
        MouseEventKind::Down(MouseButton::Left),
        2 + 10,
        3 + 3,
    );
    // cell row 3 holds pixel rows 6 and 7; the 2-pixel brush paints both
    assert!(a.canvas.ink[6 * SIDE + 10] > 0.0 && a.canvas.ink[7 * SIDE + 10] > 0.0);
    mouse(
        &mut a,
        MouseEventKind::Drag(MouseButton::Left),
        2 + 20,
        3 + 3,
    );
    assert!(a.canvas.ink[7 * SIDE + 20] > 0.0);
    mouse(
        &mut a,
        MouseEventKind::Down(MouseButton::Right),
        2 + 20,
        3 + 3,
    );
    assert_eq!(a.canvas.ink[7 * SIDE + 20], 0.0);
    assert!(a.canvas.ink[7 * SIDE + 10] > 0.0);
    // opened full screen at 140×45: two cells a pixel
    key(&mut a, KeyCode::Enter);
    mouse(
        &mut a,
        MouseEventKind::Down(MouseButton::Left),
        2 + 2 * 25 + 1,
        3 + 25,
    );
    assert_eq!(a.canvas.cursor, (25, 25));
    assert!(a.canvas.ink[25 * SIDE + 25] > 0.0);
    // a click elsewhere is not a stroke
    let before = a.canvas.ink.clone();
    mouse(&mut a, MouseEventKind::Down(MouseButton::Left), 120, 40);
    assert_eq!(a.canvas.ink, before);
    assert_eq!(a.focus, PaneId::Dataset);
}

#[test]
fn the_canvas_draws_at_every_size_without_panicking_and_says_what_to_do() {
    let mut a = trained();
    press(&mut a, 'd');
    a.canvas.ink[14 * SIDE + 14] = 1.0;
    a.update(Event::Tick);
    for (w, h) in [(80, 24), (140, 45), (100, 30)] {
        let s = screen(&a, w, h);
        assert!(s.contains("draw a digit"), "{w}x{h}: {s}");
        assert!(s.contains("prediction:"), "{w}x{h}: {s}");
    }
    assert!(screen(&a, 80, 24).contains("Enter: open to draw"));
    let mut ascii = common::tui::app_with("cnn-mnist", true);
    press(&mut ascii, 'd');
    let s = screen(&ascii, 140, 45);
    assert!(s.is_ascii(), "{s}");
}

/// The lab drawn at `w`×`h` into a buffer.
fn drawn(a: &App, w: u16, h: u16) -> ratatui::buffer::Buffer {
    let area = ratatui::layout::Rect::new(0, 0, w, h);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    dl_lab::tui::views::render_to(a, area, &mut buf);
    buf
}

#[test]
fn a_frame_surrounds_the_canvas_at_every_size_with_the_brush_and_keys_above() {
    use dl_lab::tui::views::canvas_view::{frame, geometry, Size};
    use ratatui::layout::Rect;
    for ascii in [false, true] {
        let mut a = common::tui::app_with("softmax-mnist", ascii);
        press(&mut a, 'd');
        press(&mut a, '+');
        for (w, h, zoomed, size) in [
            (80, 24, false, Size::Preview),
            (80, 24, true, Size::Half),
            (140, 45, false, Size::Half),
            (140, 45, true, Size::Big),
        ] {
            a.zoomed = zoomed;
            let buf = drawn(&a, w, h);
            let pane = if zoomed {
                Rect::new(0, 0, w, h - 1)
            } else {
                dl_lab::tui::views::pane_areas(Rect::new(0, 0, w, h))[0]
            };
            let inner = Rect::new(pane.x + 1, pane.y + 1, pane.width - 2, pane.height - 2);
            let (got, rect) = geometry(inner).expect("the canvas fits");
            assert_eq!(got, size, "{w}x{h} zoomed {zoomed}");
            let f = frame(rect);
            // the frame lies inside the pane, the canvas just inside the frame
            assert!(inner.contains(f.as_position()) && f.right() <= inner.right());
            assert!(f.bottom() <= inner.bottom(), "{w}x{h}: {f:?} in {inner:?}");
            assert_eq!((f.x + 1, f.y + 1), (rect.x, rect.y));
            let at = |x: u16, y: u16| buf[(x, y)].symbol().to_string();
            let (l, r, t, b) = (f.x, f.right() - 1, f.y, f.bottom() - 1);
            let (tl, tr, bl, br, hz, vt) = if ascii {
                ("+", "+", "+", "+", "-", "|")
            } else {
                ("╭", "╮", "╰", "╯", "─", "│")
            };
            let what = format!("{w}x{h} zoomed {zoomed} ascii {ascii}");
            assert_eq!(
                [at(l, t), at(r, t), at(l, b), at(r, b)],
                [tl, tr, bl, br],
                "{what}"
            );
            for x in l + 1..r {
                assert_eq!((at(x, t), at(x, b)), (hz.into(), hz.into()), "{what} x {x}");
            }
            for y in t + 1..b {
                assert_eq!((at(l, y), at(r, y)), (vt.into(), vt.into()), "{what} y {y}");
            }
            // the brush and its keys on the row above the frame
            let header: String = (inner.x..inner.right()).map(|x| at(x, inner.y)).collect();
            assert!(
                header.contains("brush 3") && header.contains("+/-") && header.contains("x clear"),
                "{what}: {header}"
            );
        }
    }
}
