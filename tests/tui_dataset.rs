//! The Dataset pane drawn into ratatui's `Buffer`: title, label, digit
//! (colour and ASCII), browsing keys, class counts, predictions with top-3,
//! Fashion-MNIST names, and areas from 0×0 up without panics.

use std::sync::mpsc::channel;
use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::{spec::build_model, Sequential};
use dl_lab::tui::app::App;
use dl_lab::tui::views::dataset::{self, FASHION_CLASSES};
use dl_lab::tui::views::render_to;
use rand::SeedableRng;

mod common;
use common::tui::{key, text};

fn app_on(lesson: &str, data: Mnist, ascii: bool) -> App {
    let lesson = lessons::find(lesson).expect("lesson exists");
    let (tx, _rx) = channel();
    App::new(lesson, Arc::new(data), ascii, tx)
}

fn app(ascii: bool) -> App {
    app_on(
        "cnn-mnist",
        Mnist::shipped().expect("shipped sample loads"),
        ascii,
    )
}

/// The whole screen, w×h.
fn screen(app: &App, w: u16, h: u16) -> Buffer {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    render_to(app, area, &mut buf);
    buf
}

/// Only the Dataset pane, drawn into an area of its own.
fn pane(app: &App, w: u16, h: u16, zoomed: bool) -> Buffer {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    dataset::render(app, area, &mut buf, true, zoomed);
    buf
}

fn model_for(app: &App, seed: u64) -> Arc<Sequential> {
    let Task::Classifier {
        layers,
        input_shape,
    } = &app.lesson.task
    else {
        panic!("a classifier lesson")
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    Arc::new(build_model(layers, input_shape, &mut rng).expect("lesson model builds"))
}

fn input_shape(app: &App) -> Vec<usize> {
    match &app.lesson.task {
        Task::Classifier { input_shape, .. } => input_shape.clone(),
        _ => panic!("a classifier lesson"),
    }
}

fn argmax(p: &[f32]) -> usize {
    (0..p.len())
        .max_by(|&a, &b| p[a].total_cmp(&p[b]))
        .expect("non-empty")
}

#[test]
fn overview_shows_title_label_split_and_counts() {
    let app = app(false);
    let s = text(&screen(&app, 80, 24));
    let label0 = app.data.test.labels[0];
    assert!(s.contains("Dataset"), "{s}");
    assert!(s.contains(&format!("label: {label0}")), "{s}");
    assert!(s.contains("held-out 1/1,000"), "{s}");
    assert!(s.contains("shipped MNIST sample"), "{s}");
    assert!(s.contains("held-out per class: 100 each"), "{s}");
    assert!(s.contains("PgDn/PgUp: ±1 image"), "{s}");
    assert!(s.contains("train a model (s)"), "{s}");
}

#[test]
fn zoomed_shows_everything_with_units() {
    let mut app = app(false);
    key(&mut app, KeyCode::Enter);
    assert!(app.zoomed);
    let s = text(&screen(&app, 100, 30));
    let label0 = app.data.test.labels[0];
    assert!(s.contains("held-out set · image 1 of 1,000"), "{s}");
    assert!(s.contains(&format!("label: {label0}")), "{s}");
    assert!(s.contains("train a model (s) to see predictions"), "{s}");
    let held_out: String = (0..10).map(|c| format!("{c}:100 ")).collect();
    let training: String = (0..10).map(|c| format!("{c}:400 ")).collect();
    assert!(
        s.contains(&format!(
            "images per class, held-out set: {}",
            held_out.trim_end()
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "images per class, training set: {}",
            training.trim_end()
        )),
        "{s}"
    );
    assert!(s.contains("←/→ ±1 image"), "{s}");
}

#[test]
fn digit_is_drawn_in_half_blocks_with_grey_shades() {
    let app = app(false);
    for (w, h, zoomed) in [(40, 11, false), (100, 29, true), (140, 40, true)] {
        let buf = pane(&app, w, h, zoomed);
        let lit = buf
            .content
            .iter()
            .filter(|c| {
                c.symbol() == "▀"
                    && matches!(c.fg, Color::Rgb(r, g, b) if r > 128 && r == g && g == b)
            })
            .count();
        assert!(
            lit >= 10,
            "{w}×{h}: only {lit} bright '▀' cells\n{}",
            text(&buf)
        );
    }
}

#[test]
fn ascii_mode_draws_the_ramp_and_no_blocks() {
    let app = app(true);
    for (w, h, zoomed) in [(40, 11, false), (100, 29, true)] {
        let buf = pane(&app, w, h, zoomed);
        let s = text(&buf);
        assert!(!s.contains('▀'), "{s}");
        // the digit sits at the left, below the "data:" line
        let (dw, dh) = if zoomed { (28, 14) } else { (14, 7) };
        let digit: String = (2..2 + dh)
            .flat_map(|y| (1..1 + dw).map(move |x| (x, y)))
            .map(|p| buf[p].symbol())
            .collect();
        let inked = digit.chars().filter(|c| "-=+*#%@".contains(*c)).count();
        assert!(
            inked >= 15 && digit.contains('@'),
            "{w}×{h}: only {inked} inked ramp characters\n{s}"
        );
        assert!(
            s.contains(&format!("label: {}", app.data.test.labels[0])),
            "{s}"
        );
    }
}

#[test]
fn page_down_moves_to_the_next_image_and_its_label() {
    let mut app = app(false);
    let labels = app.data.test.labels.clone();
    let j = labels
        .iter()
        .position(|&l| l != labels[0])
        .expect("two classes");
    for _ in 0..j {
        key(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.dataset.index, j);
    let s = text(&screen(&app, 80, 24));
    assert!(s.contains(&format!("held-out {}/1,000", j + 1)), "{s}");
    assert!(s.contains(&format!("label: {}", labels[j])), "{s}");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.dataset.index, j - 1);
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::PageUp);
    assert_eq!(
        app.dataset.index, 999,
        "PgUp on the first image wraps to the last"
    );
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.dataset.index, 0);
    key(&mut app, KeyCode::End);
    assert_eq!(app.dataset.index, 999);
}

#[test]
fn arrows_browse_only_when_zoomed() {
    let mut app = app(false);
    key(&mut app, KeyCode::Right);
    assert_eq!(app.dataset.index, 0, "in the overview arrows move focus");
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Enter);
    assert!(app.zoomed);
    key(&mut app, KeyCode::Right);
    assert_eq!(app.dataset.index, 1);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.dataset.index, 11);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Left);
    assert_eq!(app.dataset.index, 0);
    key(&mut app, KeyCode::Down);
    let s = text(&screen(&app, 100, 30));
    assert!(s.contains("image 11 of 1,000"), "{s}");
    assert!(
        s.contains(&format!("label: {}", app.data.test.labels[10])),
        "{s}"
    );
}

#[test]
fn t_switches_to_the_training_set_and_back() {
    let mut app = app(false);
    key(&mut app, KeyCode::PageDown);
    key(&mut app, KeyCode::Char('t'));
    let s = text(&screen(&app, 80, 24));
    assert!(s.contains("training 1/4,000"), "{s}");
    assert!(
        s.contains(&format!("label: {}", app.data.train.labels[0])),
        "{s}"
    );
    assert!(s.contains("training per class: 400 each"), "{s}");
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(app.dataset.index, 1, "the held-out position is kept");
}

#[test]
fn digit_keys_jump_to_the_next_image_of_that_class() {
    let mut app = app(false);
    for class in [3u8, 3, 9, 0] {
        let before = app.dataset.index;
        key(&mut app, KeyCode::Char((b'0' + class) as char));
        assert_eq!(app.data.test.labels[app.dataset.index], class);
        assert_ne!(app.dataset.index, before);
    }
}

#[test]
fn a_trained_model_shows_its_prediction_and_top3() {
    for lesson in ["cnn-mnist", "softmax-mnist"] {
        let mut app = app_on(lesson, Mnist::shipped().expect("shipped"), false);
        app.set_trained(Some(model_for(&app, 7)));
        key(&mut app, KeyCode::PageDown);
        let pixels: Vec<f32> = app.data.test.image_values(1).expect("image 1");
        let probs = dataset::predict(
            app.training.trained().expect("set"),
            &input_shape(&app),
            &pixels,
        )
        .expect("predicts");
        assert_eq!(probs.len(), 10);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        let best = argmax(&probs);

        let s = text(&screen(&app, 80, 24));
        assert!(s.contains(&format!("predicted: {best}")), "{lesson}\n{s}");
        assert!(
            s.contains(&format!("top-3 {best}:{:.0}%", probs[best] * 100.0)),
            "{lesson}\n{s}"
        );
        assert!(!s.contains("train a model"), "{s}");

        key(&mut app, KeyCode::Enter);
        let s = text(&screen(&app, 100, 30));
        assert!(s.contains("top-3 probabilities:"), "{s}");
        let top = dataset::top_k(&probs, 3);
        for (c, p) in top {
            assert!(
                s.contains(&format!("  {c} {:>6.1}% ", p * 100.0)),
                "class {c} at {p}\n{s}"
            );
        }
    }
}

#[test]
fn a_new_model_replaces_the_cached_prediction() {
    let mut app = app(false);
    let pixels: Vec<f32> = app.data.test.image_values(0).expect("image 0");
    for seed in 0..6 {
        app.set_trained(Some(model_for(&app, seed)));
        let probs = dataset::predict(
            app.training.trained().expect("set"),
            &input_shape(&app),
            &pixels,
        )
        .expect("predicts");
        let s = text(&pane(&app, 100, 29, true));
        let line = format!(
            "  {} {:>6.1}% ",
            argmax(&probs),
            probs[argmax(&probs)] * 100.0
        );
        assert!(s.contains(&line), "seed {seed}: {line:?}\n{s}");
    }
}

#[test]
fn fashion_mnist_labels_get_class_names() {
    let mut data = Mnist::shipped().expect("shipped");
    data.source = "IDX files in /usr/share/datasets/Fashion-MNIST".into();
    let label0 = usize::from(data.test.labels[0]);
    let mut app = app_on("cnn-mnist", data, false);
    key(&mut app, KeyCode::Enter);
    let s = text(&screen(&app, 100, 30));
    assert!(
        s.contains(&format!("label: {label0} {}", FASHION_CLASSES[label0])),
        "{s}"
    );
    assert!(s.contains("9 Ankle boot"), "{s}");
    assert!(dataset::is_fashion("fashion-mnist"));
    assert!(!dataset::is_fashion("shipped MNIST sample"));
}

#[test]
fn an_empty_split_says_so() {
    let mut data = Mnist::shipped().expect("shipped");
    data.test = data.test.subset(0..0).expect("empty subset");
    let mut app = app_on("cnn-mnist", data, false);
    key(&mut app, KeyCode::PageDown);
    key(&mut app, KeyCode::Char('5'));
    key(&mut app, KeyCode::End);
    assert_eq!(app.dataset.index, 0);
    let s = text(&pane(&app, 60, 10, false));
    assert!(s.contains("no images in the held-out set"), "{s}");
}

#[test]
fn tiny_areas_do_not_panic() {
    for ascii in [false, true] {
        let mut app = app(ascii);
        app.set_trained(Some(model_for(&app, 1)));
        for (w, h) in [(0, 0), (1, 1), (20, 8), (2, 30), (200, 2)] {
            let _ = pane(&app, w, h, false);
            let _ = pane(&app, w, h, true);
            let _ = screen(&app, w, h);
        }
        let s = text(&pane(&app, 20, 8, false));
        assert!(s.contains("Dataset"), "{s}");
        assert!(
            s.contains(&format!("label: {}", app.data.test.labels[0])),
            "{s}"
        );
        // every size up to a large screen, as a resize would pass through
        for w in (0..=120).step_by(7) {
            for h in 0..=45 {
                let _ = pane(&app, w, h, w % 2 == 0);
            }
        }
    }
}

#[test]
fn an_area_outside_the_buffer_is_clipped() {
    let app = app(false);
    let mut buf = Buffer::empty(Rect::new(0, 0, 30, 10));
    dataset::render(&app, Rect::new(20, 5, 40, 20), &mut buf, false, false);
    dataset::render(&app, Rect::new(100, 100, 40, 20), &mut buf, false, false);
}

/// A layer that counts its forward passes.
struct Counted(dl_lab::nn::Linear, Arc<std::sync::atomic::AtomicUsize>);

impl dl_lab::nn::Module for Counted {
    fn forward(&self, x: &dl_lab::Tensor) -> dl_lab::Result<dl_lab::Tensor> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.forward(x)
    }
    fn describe(&self) -> String {
        "Counted".into()
    }
}

/// The prediction is computed in `update` when the model or the image
/// changes; drawing only reads it.
#[test]
fn drawing_does_not_run_the_model() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut app = app_on("softmax-mnist", Mnist::shipped().expect("shipped"), false);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let layer = Counted(dl_lab::nn::Linear::new(784, 10, &mut rng), calls.clone());
    app.set_trained(Some(Arc::new(Sequential::new(vec![Box::new(layer)]))));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "predicted once, for image 1"
    );
    for (w, h) in [(80, 24), (140, 45), (100, 30)] {
        let s = text(&screen(&app, w, h));
        assert!(s.contains("predicted: "), "{s}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "drawing ran the model");
    // ticks change nothing the prediction depends on
    app.update(dl_lab::tui::event::Event::Tick);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a new image, a new prediction"
    );
    let _ = screen(&app, 80, 24);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    app.set_trained(None);
    let s = text(&screen(&app, 80, 24));
    assert!(s.contains("train a model"), "{s}");
}

/// Offline, `D` used to show only "download mnist failed:" at 80×24 (the
/// reason was wrapped out of the one header row). What is drawn now says
/// why, and where the details are, at every size.
#[test]
fn a_failed_download_says_why_on_screen() {
    use dl_lab::tui::views::dataset::fetch::Fetch;
    let offline =
        "cannot resolve example.org (failed to lookup address information): are you offline? \
                   (check the network, or name a reachable mirror with --mirror URL)";
    let why = dl_lab::Error::Download {
        failures: vec![
            ("train-images-idx3-ubyte.gz".into(), offline.into()),
            (
                "train-labels-idx1-ubyte.gz".into(),
                "not tried (see above)".into(),
            ),
        ],
    }
    .to_string();
    for ascii in [false, true] {
        let mut a = app(ascii);
        a.dataset.fetch = Some(Fetch::failed("mnist", why.clone()));
        for (w, h, zoomed) in [
            (80, 24, false),
            (80, 24, true),
            (120, 40, false),
            (140, 45, false),
        ] {
            a.zoomed = zoomed;
            let s = text(&screen(&a, w, h));
            for word in [
                "download mnist failed:",
                "offline?",
                "mirror)",
                "details:",
                "dl-lab",
            ] {
                assert!(
                    s.contains(word),
                    "{w}×{h} zoomed {zoomed} ascii {ascii}: {word:?} in\n{s}"
                );
            }
        }
    }
}

/// The failure may take the digit's rows in a small pane: browsing on
/// puts the digit back.
#[test]
fn browsing_after_a_failed_download_brings_the_digit_back() {
    use dl_lab::tui::views::dataset::fetch::Fetch;
    let mut a = app(false);
    a.dataset.fetch = Some(Fetch::failed("mnist", "\nno network".into()));
    assert!(text(&screen(&a, 80, 24)).contains("no network"));
    key(&mut a, KeyCode::PageDown);
    assert!(a.dataset.fetch.is_none());
    assert_eq!(a.dataset.index, 1);
    let s = text(&screen(&a, 80, 24));
    assert!(!s.contains("no network"), "{s}");
    assert!(s.contains('▀'), "the digit is drawn again:\n{s}");
}

/// Any other failure shows its first file's reason, not the header line.
#[test]
fn a_failed_download_shows_the_first_reason() {
    use dl_lab::tui::views::dataset::fetch::Fetch;
    let why = dl_lab::Error::Download {
        failures: vec![("t10k-labels-idx1-ubyte.gz".into(), "md5 mismatch".into())],
    }
    .to_string();
    let mut a = app(false);
    a.dataset.fetch = Some(Fetch::failed("mnist", why));
    let s = text(&pane(&a, 60, 20, false));
    assert!(s.contains("md5") && s.contains("mismatch"), "{s}");
    assert!(!s.contains("any verified file was kept"), "{s}");
}
