//! The lessons that work something out, in the lab: backprop's view (the
//! graph's boxes, one product per key, typed expressions and values, the
//! XOR MLP's gradients) and tensor-basics' prompt. Drawn into a buffer
//! (TestBackend-sized) and read back as text; numbers checked against the
//! engine.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ndarray::{ArrayD, IxDyn};

use common::tui::{app, app_with, key, keys, press, screen};
use dl_lab::tui::event::Event;
use dl_lab::Tensor;

fn ctrl(a: &mut dl_lab::tui::app::App, c: char) {
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
}

/// Type `text` into the backprop view's editor opened with `open` (e or a).
fn type_in(a: &mut dl_lab::tui::app::App, open: char, text: &str) {
    press(a, open);
    ctrl(a, 'u');
    keys(a, text);
    key(a, KeyCode::Enter);
}

#[test]
fn backprop_opens_on_the_course_example_and_steps_one_product_per_key() {
    let mut a = app("backprop");
    let s = screen(&a, 80, 24);
    assert!(s.contains("Backprop: f = w*x + b"), "{s}");
    assert!(
        s.contains("f = w*x + b at w = -2, x = 5, b = 3: f = -7"),
        "{s}"
    );
    // the boxes: w*x's value, not yet its gradient; f's gradient is 1
    assert!(s.contains("-10 ∂ ?"), "{s}");
    assert!(s.contains("-7 ∂ 1"), "{s}");
    assert!(s.contains("takes 4 products"), "{s}");
    key(&mut a, KeyCode::Right);
    press(&mut a, ' ');
    press(&mut a, 'n');
    let s = screen(&a, 80, 24);
    assert!(s.contains("Backward step 3 of 4: from (w*x) into w"), "{s}");
    assert!(s.contains("local     ∂(w*x)/∂w = 5"), "{s}");
    assert!(s.contains("rule: ∂(a*b)/∂a = b = 5"), "{s}");
    assert!(s.contains("upstream  ∂f/∂(w*x) = 1"), "{s}");
    assert!(s.contains("product   5 × 1 = 5"), "{s}");
    assert!(s.contains("grad w = 5"), "{s}");
    assert!(s.contains("-2 ∂ 5"), "w's box: {s}");
    key(&mut a, KeyCode::Left);
    assert!(screen(&a, 80, 24).contains("Backward step 2 of 4: from f into b"));
    key(&mut a, KeyCode::End);
    let s = screen(&a, 140, 45);
    assert!(s.contains("Done: ∂f/∂w = 5, ∂f/∂x = -2, ∂f/∂b = 1"), "{s}");
    assert!(a.lesson_finished());
    press(&mut a, 'r');
    assert!(screen(&a, 80, 24).contains("Forward pass done"));
}

#[test]
fn a_value_used_twice_shows_its_gradients_adding_up_as_the_engine_does() {
    let mut a = app("backprop");
    type_in(&mut a, 'e', "x*x + x");
    type_in(&mut a, 'a', "x=3");
    for _ in 0..4 {
        key(&mut a, KeyCode::Right);
    }
    let s = screen(&a, 80, 24);
    assert!(s.contains("f = x*x + x at x = 3: f = 12"), "{s}");
    assert!(s.contains("grad x = 4 + 3 = 7"), "{s}");
    assert!(
        s.contains("(x is used more than once: the gradients add up)"),
        "{s}"
    );
    // the engine's backward() on the same expression
    let x = Tensor::param(ArrayD::from_elem(IxDyn(&[]), 3.0));
    let f = x.mul(&x).unwrap().add(&x).unwrap();
    f.backward().unwrap();
    let g = x.grad().unwrap().iter().next().copied().unwrap();
    assert_eq!(g, 7.0);
    assert!(s.contains(&format!("∂f/∂x = {g}")), "{s}");
}

#[test]
fn sigmoid_writes_its_derivative_with_numbers() {
    let mut a = app("backprop");
    type_in(&mut a, 'e', "sigmoid(w*x + b)");
    type_in(&mut a, 'a', "w=0.5,x=2,b=-1");
    key(&mut a, KeyCode::Right);
    let s = screen(&a, 140, 45);
    assert!(s.contains("σ′(z) = σ(z)(1−σ(z)) = 0.5·(1−0.5)"), "{s}");
    assert!(s.contains("product   0.25 × 1 = 0.25"), "{s}");
}

#[test]
fn a_new_variable_gets_1_and_bad_input_is_shown_not_panicked_on() {
    let mut a = app("backprop");
    type_in(&mut a, 'e', "w*x + y");
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("y had no value: set to 1 (press a to change it)"),
        "{s}"
    );
    assert!(s.contains("at w = -2, x = 5, y = 1: f = -9"), "{s}");
    // an expression that does not parse: the reason, the editor stays open
    type_in(&mut a, 'e', "w*");
    let s = screen(&a, 80, 24);
    assert!(s.contains("expected a number, a variable or '('"), "{s}");
    assert!(s.contains("expression: w*"), "{s}");
    // q is typed, not quit
    press(&mut a, 'q');
    assert!(!a.should_quit);
    key(&mut a, KeyCode::Esc);
    type_in(&mut a, 'a', "w=two");
    assert!(screen(&a, 80, 24).contains("'two' is not a number"));
    key(&mut a, KeyCode::Esc);
    assert!(screen(&a, 80, 24).contains("Backprop: f = w*x + y"));
    press(&mut a, 'q');
    assert!(a.should_quit);
}

#[test]
fn the_xor_view_writes_each_parameters_gradient_as_the_engine_computes_it() {
    let mut a = app("backprop");
    press(&mut a, 'v');
    press(&mut a, '2'); // x = (0, 1), y = 1
    key(&mut a, KeyCode::End);
    let s = screen(&a, 140, 45);
    assert!(s.contains("the XOR MLP, one product at a time"), "{s}");
    assert!(s.contains("x = (0, 1), y = 1"), "{s}");
    // the engine: BCE of the xor-mlp lesson's starting model on row 2
    let lesson = dl_lab::lessons::find("xor-mlp").unwrap();
    let session = dl_lab::lessons::SmallSession::new(&lesson, &lesson.defaults, None).unwrap();
    let x = Tensor::new(ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![0.0, 1.0]).unwrap());
    let y = Tensor::new(ArrayD::from_elem(IxDyn(&[1, 1]), 1.0));
    let loss = dl_lab::nn::loss::bce_loss(&session.predict(&x).unwrap(), &y).unwrap();
    loss.backward().unwrap();
    let params = session.params();
    let grad = |name: &str, i: usize| {
        let t = &params.iter().find(|(n, _)| n == name).unwrap().1;
        t.grad().unwrap().iter().copied().nth(i).unwrap()
    };
    for (of, name, i) in [
        ("b2", "2.bias", 0),
        ("W2[1]", "2.weight", 1),
        ("W1[0,1]", "0.weight", 1),
        ("b1[1]", "0.bias", 1),
    ] {
        let want = format!("{:.4}", grad(name, i));
        let line = s
            .lines()
            .find(|l| l.contains(&format!("∂L/∂{of} = ")))
            .unwrap_or_else(|| panic!("no line for {of}: {s}"));
        assert!(
            line.contains(&format!("= {want}")),
            "{of}: engine {want}, {line}"
        );
    }
    press(&mut a, 'v');
    assert!(screen(&a, 80, 24).contains("Backprop: f = w*x + b"));
}

#[test]
fn the_backprop_view_draws_in_tiny_areas_and_in_ascii() {
    let a = app_with("backprop", true);
    for (w, h) in [(0u16, 0u16), (1, 1), (10, 3), (80, 24)] {
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        dl_lab::tui::views::backprop::render(a.backprop.as_ref().unwrap(), true, area, &mut buf);
    }
    let s = screen(&a, 80, 24);
    assert!(s.is_ascii(), "{s}");
    assert!(s.contains("-10 d ?"), "{s}");
}

#[test]
fn the_tensor_prompt_runs_typed_code_and_keeps_q_for_typing() {
    let mut a = app("tensor-basics");
    let s = screen(&a, 80, 24);
    assert!(
        s.contains(">>> t = torch.FloatTensor([0., 1., 2., 3., 4., 5., 6.])"),
        "{s}"
    );
    // Enter runs the course's line; typing replaces the next one
    key(&mut a, KeyCode::Enter);
    keys(&mut a, "a = torch.FloatTensor([[1,2],[3,4]])");
    key(&mut a, KeyCode::Enter);
    keys(&mut a, "a.sum(dim=0)");
    key(&mut a, KeyCode::Enter);
    let s = screen(&a, 80, 24);
    assert!(s.contains(">>> a.sum(dim=0)"), "{s}");
    assert!(s.contains("tensor([4., 6.])"), "{s}");
    // errors show in the pane; q is typed
    keys(&mut a, "q + 1");
    key(&mut a, KeyCode::Enter);
    assert!(!a.should_quit);
    let s = screen(&a, 80, 24);
    assert!(s.contains("NameError: name 'q' is not defined"), "{s}");
    // history
    key(&mut a, KeyCode::Up);
    key(&mut a, KeyCode::Up);
    assert_eq!(a.prompt.as_ref().unwrap().input.text, "a.sum(dim=0)");
    key(&mut a, KeyCode::Down);
    assert_eq!(a.prompt.as_ref().unwrap().input.text, "q + 1");
    // Esc leaves the prompt: q quits then
    key(&mut a, KeyCode::Esc);
    assert!(screen(&a, 80, 24).contains("Enter or i goes back to it"));
    press(&mut a, 'i');
    assert!(a.prompt.as_ref().unwrap().active);
    key(&mut a, KeyCode::Esc);
    press(&mut a, 'q');
    assert!(a.should_quit);
}

#[test]
fn the_tensor_prompt_steps_through_the_course_lines_to_the_end() {
    let mut a = app("tensor-basics");
    let n = a.prompt.as_ref().unwrap().queued.len();
    for _ in 0..n {
        key(&mut a, KeyCode::Enter);
    }
    assert!(a.lesson_finished());
    let s = screen(&a, 140, 45);
    assert!(
        s.contains(">>> print(t.view(-1))\n"[..].trim_end())
            && s.contains("tensor([1., 2., 3., 4.])"),
        "{s}"
    );
    assert!(s.contains("next lesson: gd-scalar"), "{s}");
    let s = screen(&app_with("tensor-basics", true), 80, 24);
    assert!(s.is_ascii(), "{s}");
}

#[test]
fn the_help_lists_the_views_keys() {
    for (lesson, want) in [
        ("backprop", "Backprop view"),
        ("tensor-basics", "Tensor prompt"),
    ] {
        let mut a = app(lesson);
        if lesson == "tensor-basics" {
            key(&mut a, KeyCode::Esc);
        }
        press(&mut a, '?');
        let s = screen(&a, 140, 45);
        assert!(s.contains(want), "{lesson}: {s}");
    }
}

/// At 80x24 the prompt's hint and the introduction wrap, whole, instead of
/// being cut at the pane's edge.
#[test]
fn the_tensor_prompt_hints_fit_80_columns() {
    let mut a = app("tensor-basics");
    let joined = |s: &str| {
        // the pane's inside, rows joined with spaces (a wrapped line reads whole)
        s.lines()
            .map(|r| r.trim_matches(|c| c == '┃' || c == '|').trim())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let s = joined(&screen(&a, 80, 24));
    for whole in [
        "the course's next line: Enter runs it, typing replaces it · ↑/↓ history · Esc leaves the prompt",
        "(torch and np are ready).",
    ] {
        assert!(s.contains(whole), "{whole:?} in {s}");
    }
    key(&mut a, KeyCode::Backspace);
    let s = joined(&screen(&a, 80, 24));
    assert!(
        s.contains(
            "Enter runs · ↑/↓ history · PgUp/PgDn scroll · Esc leaves the prompt (then q quits)"
        ),
        "{s}"
    );
    key(&mut a, KeyCode::Esc);
    let s = joined(&screen(&a, 80, 24));
    assert!(
        s.contains("the prompt is left: Enter or i goes back to it · q quits · L lessons"),
        "{s}"
    );
}

/// The prompt trains nothing, so its status line names no learning rate;
/// a lesson that trains does.
#[test]
fn the_tensor_prompt_status_line_shows_no_learning_rate() {
    let status = |a: &dl_lab::tui::app::App| {
        screen(a, 80, 24)
            .lines()
            .last()
            .expect("a status row")
            .to_string()
    };
    let a = app("tensor-basics");
    let line = status(&a);
    assert!(
        line.contains("tensor-basics") && line.contains("cpu"),
        "{line}"
    );
    assert!(!line.contains("lr"), "{line}");
    let line = status(&app("gd-scalar"));
    assert!(line.contains("lr 0.1"), "{line}");
}

#[test]
fn a_tensor_wider_than_the_pane_breaks_between_columns_not_inside_a_number() {
    let mut a = app("tensor-basics");
    key(&mut a, KeyCode::Backspace);
    for _ in 0..80 {
        key(&mut a, KeyCode::Backspace);
    }
    keys(
        &mut a,
        "t = torch.FloatTensor([[1,2,3,4,5,6,7,8,9,10,11,12],[13,14,15,16,17,18,19,20,21,22,23,24]])",
    );
    key(&mut a, KeyCode::Enter);
    keys(&mut a, "t*1000.5");
    key(&mut a, KeyCode::Enter);
    let s = screen(&a, 80, 24);
    // every value of the product appears whole on some row
    for v in 1..=24 {
        let want = format!("{:.4}", v as f64 * 1000.5);
        assert!(s.contains(&want), "{want} whole in\n{s}");
    }
}
