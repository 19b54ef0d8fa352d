//! The Conv/Pool pane drawn into a TestBackend-style buffer: the kernel
//! walk's texts (preset name, output-size formula, multiply-add, pool winner)
//! checked against numbers worked out here from the digit's own pixels, the
//! keys that move and reconfigure the window, the learned-filter grid after
//! training, and tiny areas that must not panic.

use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

use crossterm::event::KeyCode;
use dl_lab::data::mnist::Mnist;
use dl_lab::explain::{conv2d_steps, format_number};
use dl_lab::lessons::{self, Task};
use dl_lab::nn::spec::build_model;
use dl_lab::tui::app::{App, PaneId};
use dl_lab::tui::event::Event;
use dl_lab::tui::views::conv_viz::{self, Mode, PRESETS};
use dl_lab::tui::views::render_to;
use dl_lab::Tensor;
use ndarray::{Array2, IxDyn};
use rand::SeedableRng;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

mod common;
use common::tui::{key, keys, screen};

/// The lab on cnn-mnist with the Conv/Pool pane opened; keep the receiver alive.
fn app() -> (App, Receiver<Event>) {
    let (tx, rx) = channel();
    let lesson = lessons::find("cnn-mnist").expect("cnn-mnist lesson");
    let data = Mnist::shipped().expect("shipped MNIST sample");
    let mut app = App::new(lesson, Arc::new(data), false, tx);
    app.focus = PaneId::Conv;
    app.zoomed = true;
    (app, rx)
}

/// Wide enough that the multiply-add line never wraps.
fn wide(app: &App) -> String {
    screen(app, 200, 44)
}

/// Rounded to 3 decimals, as the pane writes numbers.
fn n3(x: f32) -> String {
    format_number((x * 1000.0).round() / 1000.0)
}

fn factor(x: f32) -> String {
    let s = n3(x);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

fn digit(app: &App, i: usize) -> Array2<f32> {
    app.data.test.image(i).expect("digit exists").to_owned()
}

fn cnn_specs(app: &App) -> Vec<dl_lab::nn::LayerSpec> {
    match &app.lesson.task {
        Task::Classifier { layers, .. } => layers.clone(),
        _ => panic!("cnn-mnist is a classifier lesson"),
    }
}

/// A trained-looking model: the cnn-mnist layers with seeded random weights.
fn with_model(app: &mut App) -> dl_lab::nn::Sequential {
    let specs = cnn_specs(app);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let model = build_model(&specs, &[1, 28, 28], &mut rng).expect("cnn-mnist builds");
    let copy = build_model(
        &specs,
        &[1, 28, 28],
        &mut rand::rngs::StdRng::seed_from_u64(7),
    )
    .expect("builds");
    app.set_trained(Some(Arc::new(model)));
    assert_eq!(app.training.specs(), specs, "the model keeps its layers");
    copy
}

#[test]
fn title_and_kernel_presets() {
    let (mut app, _rx) = app();
    let s = wide(&app);
    assert!(s.contains("Conv/Pool"), "{s}");
    assert!(s.contains("vertical edge"), "{s}");
    keys(&mut app, "k");
    assert!(wide(&app).contains("convolution with blur (3x3)"));
    keys(&mut app, "k");
    assert!(wide(&app).contains("convolution with sharpen (3x3)"));
    keys(&mut app, "k"); // wraps: no learned filters before training
    assert!(wide(&app).contains("convolution with identity (3x3)"));
    keys(&mut app, "K");
    assert!(wide(&app).contains("sharpen"));
    assert!(wide(&app).contains("f filters (after training: s)"));
}

#[test]
fn output_size_formula_follows_padding_and_stride() {
    let (mut app, _rx) = app();
    // starts with padding 1, stride 1
    assert!(wide(&app).contains("floor((28 + 2*1 - 3) / 1) + 1 = 28"));
    keys(&mut app, "P");
    assert_eq!(app.conv.padding, 0);
    let s = wide(&app);
    assert!(
        s.contains(
            "output size = floor((N + 2P - K) / S) + 1 = floor((28 + 2*0 - 3) / 1) + 1 = 26"
        ),
        "{s}"
    );
    assert!(s.contains("output 26x26"), "{s}");
    keys(&mut app, "t");
    let s = wide(&app);
    assert!(
        s.contains("floor((28 + 2*0 - 3) / 2) + 1 = floor(12.5) + 1 = 13"),
        "{s}"
    );
    assert!(s.contains("output 13x13"), "{s}");
    // explain's note on the remainder comes along
    assert!(s.contains("25 / 2 is not exact"), "{s}");
    keys(&mut app, "p");
    assert!(wide(&app).contains("floor((28 + 2*1 - 3) / 2) + 1 = floor(13.5) + 1 = 14"));
}

#[test]
fn multiply_add_matches_the_pixels() {
    let (mut app, _rx) = app();
    app.conv.pos = (12, 9);
    let s = wide(&app);
    // worked out here: vertical edge, padding 1, stride 1 → the window's top-left
    // in the padded input is (12, 9), i.e. pixel (11 + i, 8 + j) of the digit
    let img = digit(&app, 0);
    let w = PRESETS[2].1;
    let (mut terms, mut sum) = (Vec::new(), 0.0f32);
    for i in 0..3 {
        for j in 0..3 {
            let x = img[(11 + i, 8 + j)];
            sum += x * w[i * 3 + j];
            terms.push(format!("{}*{}", factor(x), factor(w[i * 3 + j])));
        }
    }
    assert!(
        img.slice(ndarray::s![11..14, 8..11])
            .iter()
            .any(|&v| v > 0.0),
        "pick a window with ink"
    );
    let expected = format!("out[12,9] = {} = {}", terms.join(" + "), n3(sum));
    assert!(s.contains(&expected), "expected {expected}\n{s}");
    // and the explain module agrees with the sum
    let kernel = Array2::from_shape_fn((3, 3), |(r, c)| w[r * 3 + c]);
    let walk = conv2d_steps(&img, &kernel, 1, 1).expect("walk");
    assert!((walk.steps[12 * 28 + 9].sum - sum).abs() < 1e-5);
    assert!(s.contains(&format!("sum = {}", n3(sum))));
    assert!(
        s.contains("window rows 12-14, cols 9-11 of the input 30x30 · position 346 of 784"),
        "{s}"
    );
}

#[test]
fn n_moves_the_window() {
    let (mut app, _rx) = app();
    app.conv.pos = (0, 0);
    let s = wide(&app);
    assert!(
        s.contains("out[0,0] = ") && s.contains("position 1 of 784"),
        "{s}"
    );
    keys(&mut app, "n");
    let s = wide(&app);
    assert!(
        s.contains("out[0,1] = ") && s.contains("position 2 of 784"),
        "{s}"
    );
    key(&mut app, KeyCode::Right);
    assert!(wide(&app).contains("out[0,2] = "));
    key(&mut app, KeyCode::Down);
    assert!(wide(&app).contains("out[1,2] = "));
    keys(&mut app, "NNNN");
    assert!(wide(&app).contains("out[0,26] = "));
    app.conv.pos = (0, 0);
    key(&mut app, KeyCode::Left); // wraps to the last position
    assert!(wide(&app).contains("out[27,27] = "));
    // Enter jumps to the next window that covers ink
    app.conv.pos = (0, 0);
    key(&mut app, KeyCode::Enter);
    let (r, c) = app.conv.pos;
    let img = digit(&app, 0);
    let ink = |r: usize, c: usize| {
        (0..3).any(|i| {
            (0..3).any(|j| {
                let (y, x) = ((r + i) as isize - 1, (c + j) as isize - 1);
                y >= 0 && x >= 0 && y < 28 && x < 28 && img[(y as usize, x as usize)] > 0.0
            })
        })
    };
    assert!(ink(r, c));
    assert!((0..r * 28 + c).all(|k| k == 0 || !ink(k / 28, k % 28)));
}

#[test]
fn the_window_shows_in_the_buffer() {
    let (app, _rx) = app();
    let area = Rect::new(0, 0, 110, 34);
    let mut buf = Buffer::empty(area);
    render_to(&app, area, &mut buf);
    // marked window cells are re-shaded yellow-ish (red ≥ green > blue)
    let yellow = buf.content.iter().filter(|c| matches!(c.fg, ratatui::style::Color::Rgb(r, g, b) if r >= 90 && g >= 70 && b < g && r > b + 60)).count();
    assert!(yellow > 0);
}

#[test]
fn max_pool_shows_the_winner_and_avg_the_mean() {
    let (mut app, _rx) = app();
    keys(&mut app, "m");
    assert_eq!(app.conv.mode, Mode::MaxPool);
    app.conv.pos = (6, 5); // window rows 12-13, cols 10-11 (window 2, stride 2)
    let s = wide(&app);
    assert!(s.contains("max pooling, window 2x2, stride 2"), "{s}");
    assert!(s.contains("floor((28 + 2*0 - 2) / 2) + 1 = 14"), "{s}");
    let img = digit(&app, 0);
    let vals: Vec<f32> = [(12, 10), (12, 11), (13, 10), (13, 11)]
        .iter()
        .map(|&p| img[p])
        .collect();
    let mut best = 0;
    for (i, &v) in vals.iter().enumerate() {
        if v > vals[best] {
            best = i;
        }
    }
    let (wr, wc) = (12 + best / 2, 10 + best % 2);
    let listed: Vec<String> = vals.iter().map(|&v| n3(v)).collect();
    let expected = format!(
        "out[6,5] = max({}) = {}: the winner is input[{wr},{wc}]",
        listed.join(", "),
        n3(vals[best])
    );
    assert!(s.contains(&expected), "expected {expected}\n{s}");
    keys(&mut app, "m");
    let s = wide(&app);
    let mean = vals.iter().sum::<f32>() / 4.0;
    assert!(
        s.contains(&format!("= {} / 4 = {}", n3(vals.iter().sum()), n3(mean))),
        "{s}"
    );
    assert!(s.contains(&format!("mean = {}", n3(mean))));
    // window size 3 with the stride following it
    keys(&mut app, "z");
    assert_eq!((app.conv.pool_size, app.conv.pool_stride), (3, 3));
    assert!(wide(&app).contains("floor((28 + 2*0 - 3) / 3) + 1 = floor(8.3333) + 1 = 9"));
}

#[test]
fn learned_filters_after_training() {
    let (mut app, _rx) = app();
    keys(&mut app, "f");
    assert!(wide(&app).contains("appear here after training: press s"));
    keys(&mut app, "f");
    let model = with_model(&mut app);
    keys(&mut app, "f");
    let s = wide(&app);
    assert!(s.contains("conv1: 32 learned 3x3 filters"), "{s}");
    assert!(s.contains("32"), "{s}");
    // the pane's feature maps are the model's own first layer
    let learned = conv_viz::Learned::of(&app).expect("conv1");
    let img = digit(&app, 0);
    let maps = conv_viz::feature_maps(&learned, &img).expect("maps");
    let x = Tensor::new(
        img.clone()
            .into_shape_with_order(IxDyn(&[1, 1, 28, 28]))
            .expect("shape"),
    );
    let want = dl_lab::no_grad(|| model.layers[0].forward(&x))
        .expect("conv1")
        .to_array();
    assert_eq!(maps.len(), 32);
    for (o, m) in maps.iter().enumerate() {
        for ((r, c), &v) in m.indexed_iter() {
            assert!((v - want[[0, o, r, c]]).abs() < 1e-4);
        }
    }
    // the overview has room for the filters alone
    app.zoomed = false;
    let s = screen(&app, 80, 24);
    assert!(s.contains("learned conv1 filters: red + blue −"), "{s}");
    app.zoomed = true;
    // k reaches the learned filters; the walk uses their weights
    keys(&mut app, "f");
    keys(&mut app, "kkk"); // vertical edge → blur → sharpen → conv1 filter 1
    let s = wide(&app);
    assert!(s.contains("conv1 filter 1/32"), "{s}");
    app.conv.pos = (12, 9);
    let walk = conv2d_steps(&img, &learned.filters[0], 1, 1).expect("walk");
    assert!(wide(&app).contains(&format!("sum = {}", n3(walk.steps[12 * 28 + 9].sum))));
    // a reset takes the model away: the pane falls back without panicking
    app.set_trained(None);
    assert!(wide(&app).contains("identity (train to see conv1's filters)"));
}

#[test]
fn overview_is_compact() {
    let (mut app, _rx) = app();
    app.zoomed = false;
    app.conv.pos = (0, 0);
    let s = screen(&app, 80, 24);
    assert!(s.contains("Conv/Pool"), "{s}");
    assert!(s.contains("size floor((28+2*1-3)/1)+1 = 28"), "{s}");
    assert!(s.contains("out[0,0]="), "{s}");
    keys(&mut app, "n"); // the focused pane gets its keys in the overview too
    assert!(screen(&app, 80, 24).contains("out[0,1]="));
}

#[test]
fn ascii_mode_uses_the_ramp() {
    let (mut app, _rx) = app();
    app.ascii = true;
    app.conv.pos = (12, 9);
    let s = screen(&app, 110, 34);
    assert!(!s.contains('▀'), "{s}");
    assert!(s.contains('@') || s.contains('%'), "{s}");
    assert!(s.contains("out[12,9] = "));
}

#[test]
fn tiny_areas_do_not_panic() {
    let (mut app, _rx) = app();
    let sizes = [
        (0, 0),
        (1, 1),
        (20, 8),
        (2, 30),
        (40, 11),
        (17, 5),
        (30, 6),
        (60, 14),
        (200, 60),
    ];
    let check = |app: &App| {
        for &(w, h) in &sizes {
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            render_to(app, area, &mut buf);
            for zoomed in [false, true] {
                let mut buf = Buffer::empty(area);
                conv_viz::render(app, area, &mut buf, true, zoomed);
            }
            // an area that pokes out of the buffer is clipped, not a panic
            let mut buf = Buffer::empty(Rect::new(0, 0, w / 2, h / 2));
            conv_viz::render(app, area, &mut buf, true, true);
        }
    };
    check(&app);
    app.ascii = true;
    check(&app);
    keys(&mut app, "m");
    check(&app);
    keys(&mut app, "mf");
    check(&app);
    with_model(&mut app);
    check(&app);
    app.ascii = false;
    check(&app);
    keys(&mut app, "f");
    keys(&mut app, "ppppttttt");
    check(&app);
}

/// The walk starts on the first window that touches ink, not on padding.
#[test]
fn the_walk_starts_on_ink() {
    let (app, _rx) = app();
    let (r, c) = app.conv.pos;
    let img = digit(&app, 0);
    // vertical edge, 3x3, stride 1, padding 1: window (r, c) covers image rows r-1..=r+1
    let ink = |r: usize, c: usize| {
        (0..3).any(|i| {
            (0..3).any(|j| {
                let (y, x) = ((r + i) as isize - 1, (c + j) as isize - 1);
                y >= 0 && x >= 0 && y < 28 && x < 28 && img[(y as usize, x as usize)] > 0.0
            })
        })
    };
    assert!(ink(r, c), "starts at {r},{c}, which sees only padding");
    assert!(
        (0..r * 28 + c).all(|k| !ink(k / 28, k % 28)),
        "the first inked window"
    );
}

/// The overview labels its three pictures, writes the kernel's numbers
/// (they fit), and says what red and blue mean; at 80x24 and 140x45.
#[test]
fn overview_labels_input_kernel_output_and_the_colours() {
    let (mut app, _rx) = app();
    app.zoomed = false;
    for (w, h) in [(80, 24), (140, 45)] {
        let s = screen(&app, w, h);
        for want in [
            "input",
            "kernel",
            "output",
            "red",
            "= positive",
            "blue",
            "= negative",
        ] {
            assert!(s.contains(want), "{w}x{h}: {want:?} missing\n{s}");
        }
        // vertical edge's numbers: -1 0 1 / -2 0 2 / -1 0 1
        assert!(s.contains("-2  0  2"), "{w}x{h}: kernel numbers\n{s}");
    }
    assert!(screen(&app, 140, 45).contains("input 30x30"));
    assert!(screen(&app, 140, 45).contains("output 28x28"));
    // opened, the legend is there too
    app.zoomed = true;
    assert!(wide(&app).contains("= negative"));
    // ASCII has no colours: the legend describes the characters
    app.zoomed = false;
    app.ascii = true;
    assert!(screen(&app, 80, 24).contains("denser character = larger value"));
}

/// While a CNN trains, the Conv/Pool pane shows conv1's filters from each
/// snapshot, saying they are live.
#[test]
fn conv1_filters_show_live_while_training() {
    let (mut app, _rx) = app();
    app.zoomed = false;
    with_model(&mut app);
    app.conv.show_filters = true;
    app.training.state = dl_lab::tui::app::TrainState::Running;
    let s = screen(&app, 80, 24);
    assert!(s.contains("conv1 filters, live"), "{s}");
    let s = screen(&app, 140, 45);
    assert!(s.contains("learning live"), "{s}");
}

/// Columns and rows of the cells whose background is a kernel shade, in the
/// middle of the screen (the kernel is the only signed-shaded picture there
/// before the window and products tables), as (width, height).
fn kernel_extent(app: &App, w: u16, h: u16, top: u16, bottom: u16) -> (u16, u16) {
    use ratatui::style::Color;
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    render_to(app, area, &mut buf);
    // the kernel's numbers: "-1", "-2" sit on its shaded cells; take the
    // span of cells with an RGB background between the pictures
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for y in top..bottom {
        for x in 0..w {
            let c = buf.cell((x, y)).unwrap();
            if matches!(c.bg, Color::Rgb(..)) && c.symbol() != "▀" {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    let span = |v: &[u16]| {
        v.iter()
            .max()
            .map_or(0, |m| m + 1 - v.iter().min().unwrap())
    };
    (span(&xs), span(&ys))
}

#[test]
fn the_open_kernel_grows_with_the_terminal_and_stays_put_at_80x24() {
    let (mut app, _rx) = app();
    app.conv.mode = Mode::Conv;
    // vertical edge: numbers -1 0 1 / -2 0 2 / -1 0 1
    while app.conv.kernel != 2 {
        keys(&mut app, "k");
    }
    // 80x24: the plain number table, 3 rows of "-1  0  1" (9 columns, the last blank)
    let (w, h) = kernel_extent(&app, 80, 24, 2, 6);
    assert_eq!((w, h), (8, 3), "80x24 kernel");
    let s = screen(&app, 80, 24);
    assert!(s.contains("-1  0  1 "), "{s}");
    // 140x45: a shaded picture of blocks, numbers in their middles
    let (w, h) = kernel_extent(&app, 140, 45, 2, 20);
    assert!(w > 9 && h > 3, "140x45 kernel is {w}x{h}");
    let s = screen(&app, 140, 45);
    assert!(s.contains("-2         0         2"), "{s}");
}

#[test]
fn the_overview_kernel_keeps_its_80x24_size_and_grows_where_there_is_room() {
    let (mut app, _rx) = app();
    app.zoomed = false;
    while app.conv.kernel != 2 {
        keys(&mut app, "k");
    }
    assert!(
        screen(&app, 80, 24).contains("-1  0  1 ▀"),
        "{}",
        screen(&app, 80, 24)
    );
    // wide and tall: room beside the full-size pictures for a larger kernel
    let s = screen(&app, 240, 70);
    assert!(!s.contains("-1  0  1 ▀"), "{s}");
    assert!(s.contains("-2"), "{s}");
}

#[test]
fn no_color_keeps_the_window_marked_in_reverse_video() {
    use ratatui::style::Modifier;
    let (mut app, _rx) = app();
    app.mono = true;
    for (w, h) in [(80u16, 24u16), (140, 45)] {
        for zoomed in [true, false] {
            app.zoomed = zoomed;
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            render_to(&app, area, &mut buf);
            let reversed = buf
                .content
                .iter()
                .filter(|c| c.modifier.contains(Modifier::REVERSED))
                .count();
            // the 3x3 window (fewer cells where the picture is shrunk) and the output cell
            assert!(
                reversed >= 2,
                "{w}x{h} zoomed={zoomed}: {reversed} reversed cells"
            );
        }
    }
    // without NO_COLOR the window is marked by colour alone, as before
    app.mono = false;
    app.zoomed = true;
    let area = Rect::new(0, 0, 140, 45);
    let mut buf = Buffer::empty(area);
    render_to(&app, area, &mut buf);
    assert!(buf
        .content
        .iter()
        .all(|c| !c.modifier.contains(Modifier::REVERSED) || c.symbol() != "▀"));
}

/// Whether the conv window at the pane's position (3x3, stride and padding
/// as set) covers a pixel with ink on the pane's digit.
fn window_has_ink(app: &App, pane: &conv_viz::ConvPane) -> bool {
    let img = digit(app, pane.digit);
    let (r, c) = pane.pos;
    let (s, p) = (pane.stride as isize, pane.padding as isize);
    (0..3).any(|i| {
        (0..3).any(|j| {
            let (y, x) = (r as isize * s + i - p, c as isize * s + j - p);
            y >= 0 && x >= 0 && img.get((y as usize, x as usize)).is_some_and(|&v| v > 0.0)
        })
    })
}

#[test]
fn a_new_digit_keeps_the_window_on_ink() {
    let (mut app, _rx) = app();
    app.focus = PaneId::Conv;
    assert_eq!(app.conv.mode, Mode::Conv);
    assert!(
        window_has_ink(&app, &app.conv),
        "the first digit starts on ink"
    );
    let mut moved = 0;
    for _ in 0..25 {
        let before = app.conv.pos;
        // the same window on the next digit, before the pane moves it
        let mut next = app.conv.clone();
        next.digit = (app.conv.digit + 1) % app.data.test.len();
        let had_ink = window_has_ink(&app, &next);
        key(&mut app, KeyCode::Char('d'));
        assert!(
            window_has_ink(&app, &app.conv),
            "digit {}: the window at {:?} sees only background",
            app.conv.digit,
            app.conv.pos
        );
        if had_ink {
            assert_eq!(app.conv.pos, before, "a window on ink stays put");
        } else {
            moved += 1;
        }
    }
    // D goes back, and re-seeks the same way
    key(&mut app, KeyCode::Char('D'));
    assert!(window_has_ink(&app, &app.conv));
    assert!(moved > 0, "some digits needed the window moved");
}

/// The opened filters view keeps its colour legend at every usual size (at
/// 120×40 it was cut after "; red" when it ended a two-row header).
#[test]
fn the_filters_legend_is_always_visible() {
    let (mut app, _rx) = app();
    with_model(&mut app);
    keys(&mut app, "f");
    for (w, h) in [(80, 24), (120, 40), (140, 45), (200, 44)] {
        let s = screen(&app, w, h);
        for words in ["red +, blue - (before ReLU", "own scale", "f back"] {
            assert!(s.contains(words), "{w}×{h}: {words:?} in\n{s}");
        }
        assert!(s.contains("conv1: 32 learned 3x3 filters"), "{w}×{h}:\n{s}");
    }
}
