//! The Model pane (STYLE.md §8, "TUI state" and "TUI rendering"): scripted keys through
//! `App::update` with assertions on the layer list, then drawing into a plain `Buffer`
//! (what `TestBackend` wraps) and asserting on the text of the rows.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dl_lab::nn::spec::{infer_shapes, memory_estimate};
use dl_lab::nn::LayerSpec;
use dl_lab::tui::app::{App, PaneId, TrainState};
use dl_lab::tui::event::Event;
use dl_lab::tui::views::model_builder::{self, readiness, Mode};
use dl_lab::tui::views::render_to;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

mod common;
use common::tui::{app as lab, key, keys, lines};

// ---------------------------------------------------------------- helpers

/// The cnn-mnist lab with the Model pane focused and opened.
fn cnn_lab() -> App {
    let mut app = lab("cnn-mnist");
    app.focus = PaneId::Model;
    app.zoomed = true;
    app
}

fn shift(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::SHIFT)));
}

/// The whole lab drawn at `w`×`h`, one string per row.
fn screen(app: &App, w: u16, h: u16) -> Vec<String> {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    render_to(app, area, &mut buf);
    lines(&buf)
}

/// Just the Model pane drawn into `w`×`h`.
fn pane(app: &App, w: u16, h: u16, zoomed: bool) -> Vec<String> {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    model_builder::render(app, area, &mut buf, true, zoomed);
    lines(&buf)
}

/// The first row containing all of `parts`.
fn row_with<'a>(rows: &'a [String], parts: &[&str]) -> Option<&'a String> {
    rows.iter().find(|r| parts.iter().all(|p| r.contains(p)))
}

fn assert_row(rows: &[String], parts: &[&str]) {
    assert!(
        row_with(rows, parts).is_some(),
        "no row has all of {parts:?}:\n{}",
        rows.join("\n")
    );
}

fn conv(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Conv2d {
        in_channels: i,
        out_channels: o,
        kernel_size: 3,
        stride: 1,
        padding: 1,
    }
}

// ---------------------------------------------------------------- the course's CNN

#[test]
fn course_cnn_rows_show_shapes_params_and_total() {
    let app = cnn_lab();
    let rows = screen(&app, 100, 30);
    assert_row(&rows, &["input", "[N,1,28,28]"]);
    assert_row(
        &rows,
        &["1", "Conv2d(1, 32, k=3, s=1, p=1)", "[N,32,28,28]", "320"],
    );
    assert_row(&rows, &["2", "ReLU", "[N,32,28,28]"]);
    assert_row(&rows, &["3", "MaxPool2d(2, s=2)", "[N,32,14,14]"]);
    assert_row(
        &rows,
        &[
            "4",
            "Conv2d(32, 64, k=3, s=1, p=1)",
            "[N,64,14,14]",
            "18,496",
        ],
    );
    assert_row(&rows, &["6", "MaxPool2d(2, s=2)", "[N,64,7,7]"]);
    assert_row(&rows, &["7", "Flatten", "[N,3136]"]);
    assert_row(&rows, &["8", "Linear(3136, 10)", "[N,10]", "31,370"]);
    assert_row(&rows, &["total", "50,186"]);
    assert_row(&rows, &["ready to train"]);
    assert_row(&rows, &[" 50,186 params "]); // in the border
}

#[test]
fn softmax_lesson_input_is_flat() {
    let mut app = lab("softmax-mnist");
    app.focus = PaneId::Model;
    app.zoomed = true;
    let rows = screen(&app, 100, 30);
    assert_row(&rows, &["input", "[N,784]"]);
    assert_row(&rows, &["1", "Linear(784, 10)", "[N,10]", "7,850"]);
    assert_row(&rows, &["ready to train"]);
}

#[test]
fn readiness_names_the_first_broken_layer() {
    let input = [1, 28, 28];
    let mut specs = vec![
        conv(1, 32),
        LayerSpec::Flatten,
        LayerSpec::Linear {
            in_features: 10,
            out_features: 10,
        },
    ];
    assert_eq!(
        readiness(&specs, &input),
        Err("fix layer 3: Linear expects 10 inputs, gets 25088".into())
    );
    specs[2] = LayerSpec::Linear {
        in_features: 25088,
        out_features: 5,
    };
    assert!(readiness(&specs, &input)
        .unwrap_err()
        .contains("ends with 5 scores"));
    assert!(readiness(&specs[..1], &input)
        .unwrap_err()
        .contains("Flatten"));
    assert!(readiness(&[], &input).unwrap_err().contains("no layers"));
    specs[2] = LayerSpec::Linear {
        in_features: 25088,
        out_features: 10,
    };
    assert_eq!(readiness(&specs, &input), Ok(320 + 250890));
}

// ---------------------------------------------------------------- editing fields

#[test]
fn narrowing_the_second_conv_breaks_the_linear_layer() {
    let mut app = cnn_lab();
    keys(&mut app, "jjj"); // layer 4, the second conv
    assert_eq!(app.builder.selected, 3);
    key(&mut app, KeyCode::Enter);
    assert!(app.builder.is_editing());
    key(&mut app, KeyCode::Tab); // in channels → out channels
    keys(&mut app, "32");
    // the table previews the typed value before Enter
    let preview = screen(&app, 100, 30);
    assert_row(&preview, &["Conv2d(32, 32, k=3, s=1, p=1)", "[N,32,14,14]"]);
    assert_eq!(app.builder.specs[3], conv(32, 64), "not applied yet");
    key(&mut app, KeyCode::Enter);
    assert!(!app.builder.is_editing());
    assert!(
        app.zoomed && app.focus == PaneId::Model,
        "Enter and Tab stayed with the editor"
    );
    assert_eq!(app.builder.specs[3], conv(32, 32));

    let rows = screen(&app, 100, 30);
    assert_row(
        &rows,
        &[
            "8",
            "Linear(3136, 10)",
            "Linear expects 3136 inputs, gets 1568",
        ],
    );
    assert_row(
        &rows,
        &["fix layer 8: Linear expects 3136 inputs, gets 1568"],
    );
    assert_row(&rows, &["total", "40,938"]); // 320 + 9248 + 31370

    // the trainer refuses it; the status line points to the pane, which says why in full
    keys(&mut app, "s");
    assert_eq!(app.training.state, TrainState::Idle);
    assert!(app
        .message
        .as_deref()
        .unwrap_or("")
        .contains("the Model pane says why"));
    assert_row(
        &screen(&app, 100, 30),
        &["fix layer 8: Linear expects 3136 inputs, gets 1568"],
    );
}

#[test]
fn a_bigger_pool_breaks_the_linear_layer_too() {
    let mut app = cnn_lab();
    keys(&mut app, "G"); // last layer
    assert_eq!(app.builder.selected, 7);
    keys(&mut app, "kk"); // the second pool
    keys(&mut app, "e");
    key(&mut app, KeyCode::Tab); // type → size
    key(&mut app, KeyCode::Up); // 2 → 3
    key(&mut app, KeyCode::Tab); // size → stride
    keys(&mut app, "3");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.builder.specs[5],
        LayerSpec::MaxPool2d {
            kernel_size: 3,
            stride: 3
        }
    );
    let rows = screen(&app, 100, 30);
    assert_row(&rows, &["6", "MaxPool2d(3, s=3)", "[N,64,4,4]"]);
    assert_row(&rows, &["Linear expects 3136 inputs, gets 1024"]);
}

#[test]
fn pools_and_activations_switch_kind() {
    let mut app = cnn_lab();
    keys(&mut app, "j"); // ReLU
    keys(&mut app, "e");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.builder.specs[1], LayerSpec::Sigmoid);
    keys(&mut app, "e3");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.builder.specs[1], LayerSpec::Tanh);
    keys(&mut app, "e");
    key(&mut app, KeyCode::Right); // one field: ←/→ change it
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.builder.specs[1], LayerSpec::ReLU);

    keys(&mut app, "j"); // MaxPool2d
    keys(&mut app, "e");
    key(&mut app, KeyCode::Down); // max → avg
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.builder.specs[2],
        LayerSpec::AvgPool2d {
            kernel_size: 2,
            stride: 2
        }
    );
    let rows = screen(&app, 100, 30);
    assert_row(&rows, &["3", "AvgPool2d(2, s=2)", "[N,32,14,14]"]);
    assert_row(&rows, &["ready to train"]);
}

#[test]
fn nonsense_values_are_refused_with_a_message() {
    let mut app = cnn_lab();
    keys(&mut app, "e"); // Conv2d(1, 32, …)
    key(&mut app, KeyCode::Tab);
    keys(&mut app, "0"); // out channels 0
    key(&mut app, KeyCode::Enter);
    assert!(app.builder.is_editing(), "the editor stays open");
    assert_eq!(app.builder.specs[0], conv(1, 32));
    let Mode::Edit(ed) = &app.builder.mode else {
        panic!("editing")
    };
    assert_eq!(ed.error.as_deref(), Some("out channels must be at least 1"));
    assert_row(&screen(&app, 100, 30), &["out channels must be at least 1"]);

    // Backspace, then a sane value
    key(&mut app, KeyCode::Backspace);
    keys(&mut app, "16");
    key(&mut app, KeyCode::Tab); // kernel
    key(&mut app, KeyCode::Tab); // stride
    key(&mut app, KeyCode::Down); // 1 → refused, stays 1
    let Mode::Edit(ed) = &app.builder.mode else {
        panic!("editing")
    };
    assert_eq!(ed.error.as_deref(), Some("stride must be at least 1"));
    assert_eq!(ed.fields[3].value, 1);
    keys(&mut app, "0");
    key(&mut app, KeyCode::Enter);
    assert!(app.builder.is_editing());
    key(&mut app, KeyCode::Backspace);
    keys(&mut app, "999999");
    key(&mut app, KeyCode::Enter);
    let Mode::Edit(ed) = &app.builder.mode else {
        panic!("editing")
    };
    assert!(ed.error.as_deref().unwrap_or("").contains("at most"));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace); // empty keeps the old value
    key(&mut app, KeyCode::Enter);
    assert!(!app.builder.is_editing());
    assert_eq!(app.builder.specs[0], conv(1, 16));
}

#[test]
fn esc_cancels_an_edit_and_flatten_has_nothing_to_edit() {
    let mut app = cnn_lab();
    keys(&mut app, "e");
    keys(&mut app, "7");
    key(&mut app, KeyCode::Esc);
    assert!(!app.builder.is_editing());
    assert!(app.zoomed, "Esc closed the editor, not the pane");
    assert_eq!(app.builder.specs[0], conv(1, 32));
    key(&mut app, KeyCode::Esc);
    assert!(!app.zoomed, "a second Esc goes back to the overview");

    app.zoomed = true;
    keys(&mut app, "G");
    keys(&mut app, "k"); // Flatten
    keys(&mut app, "e");
    assert!(!app.builder.is_editing());
    assert!(app
        .builder
        .note
        .as_deref()
        .unwrap_or("")
        .contains("Flatten"));
}

// ---------------------------------------------------------------- add, remove, move, undo

#[test]
fn add_after_the_selection_with_the_chooser() {
    let mut app = cnn_lab();
    let before = app.builder.specs.clone();
    keys(&mut app, "a");
    assert!(app.builder.is_editing());
    // the chooser asks first: nothing is in the list yet
    assert_eq!(app.builder.specs, before);
    assert_row(
        &screen(&app, 100, 30),
        &["1 Linear", "2 Conv2d", "8 Flatten"],
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.builder.specs, before, "Esc adds nothing");
    assert!(app.zoomed);

    keys(&mut app, "a");
    key(&mut app, KeyCode::Right); // Conv2d
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.builder.specs.len(), 9);
    assert_eq!(app.builder.selected, 1);
    // sized to fit between layer 1 and the rest: the model stays valid
    assert_eq!(app.builder.specs[1], conv(32, 32));
    assert!(readiness(&app.builder.specs, &[1, 28, 28]).is_ok());
    let rows = screen(&app, 100, 30);
    assert_row(
        &rows,
        &[
            "2",
            "Conv2d(32, 32, k=3, s=1, p=1)",
            "[N,32,28,28]",
            "9,248",
        ],
    );
    assert_row(&rows, &["total", "59,434"]);

    keys(&mut app, "a5"); // a ReLU straight from its number
    assert_eq!(app.builder.specs[2], LayerSpec::ReLU);
    assert_eq!(app.builder.selected, 2);

    // a Linear at the end gives the ten digit scores
    keys(&mut app, "G");
    keys(&mut app, "a1");
    assert_eq!(
        app.builder.specs.last(),
        Some(&LayerSpec::Linear {
            in_features: 10,
            out_features: 10
        })
    );
    // and `i` adds before the selection
    keys(&mut app, "g");
    keys(&mut app, "i");
    key(&mut app, KeyCode::Left); // wraps to Flatten
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.builder.specs[0], LayerSpec::Flatten);
    assert_eq!(app.builder.selected, 0);
}

#[test]
fn remove_move_and_undo() {
    let mut app = cnn_lab();
    let course = app.builder.specs.clone();
    keys(&mut app, "j");
    key(&mut app, KeyCode::Delete); // the first ReLU
    assert_eq!(app.builder.specs.len(), 7);
    assert_eq!(
        app.builder.specs[1],
        LayerSpec::MaxPool2d {
            kernel_size: 2,
            stride: 2
        }
    );
    keys(&mut app, "d"); // the first pool
    assert_eq!(app.builder.specs[1], conv(32, 64));
    let rows = screen(&app, 100, 30);
    assert_row(
        &rows,
        &["2", "Conv2d(32, 64, k=3, s=1, p=1)", "[N,64,28,28]"],
    );
    assert_row(&rows, &["Linear expects 3136 inputs, gets 12544"]);

    keys(&mut app, "uu");
    assert_eq!(app.builder.specs, course);

    // K / J and Shift+↑/↓ move the selected layer
    keys(&mut app, "G");
    keys(&mut app, "K");
    assert_eq!(app.builder.selected, 6);
    assert_eq!(
        app.builder.specs[6],
        LayerSpec::Linear {
            in_features: 3136,
            out_features: 10
        }
    );
    assert_eq!(app.builder.specs[7], LayerSpec::Flatten);
    assert_row(
        &screen(&app, 100, 30),
        &["7", "Linear(3136, 10)", "add a Flatten"],
    );
    shift(&mut app, KeyCode::Down);
    assert_eq!(app.builder.specs, course);
    assert_eq!(app.builder.selected, 7);
    keys(&mut app, "J"); // already last
    assert_eq!(app.builder.specs, course);
    shift(&mut app, KeyCode::Up);
    keys(&mut app, "u");
    assert_eq!(app.builder.specs, course);

    // delete everything: the pane says what to do, and there is nothing left to delete
    for _ in 0..9 {
        keys(&mut app, "d");
    }
    assert!(app.builder.specs.is_empty());
    assert_row(&screen(&app, 100, 30), &["no layers yet"]);
    keys(&mut app, "a2");
    assert_eq!(app.builder.specs, vec![conv(1, 1)]);
}

#[test]
fn overview_keys_work_without_opening_the_pane() {
    let mut app = lab("cnn-mnist");
    app.focus = PaneId::Model;
    assert!(!app.zoomed);
    keys(&mut app, "jjj");
    assert_eq!(app.builder.selected, 3);
    keys(&mut app, "e");
    assert!(app.builder.is_editing());
    // Tab, arrows and Esc belong to the open editor, not to pane focus
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.focus, PaneId::Model);
    key(&mut app, KeyCode::Enter);
    assert!(
        !app.zoomed,
        "Enter applied the edit instead of opening the pane"
    );
    assert_eq!(app.builder.specs[3], conv(32, 65));
    keys(&mut app, "a");
    key(&mut app, KeyCode::Esc);
    assert!(!app.builder.is_editing());
    assert_eq!(app.focus, PaneId::Model);
    // browsing: Tab still moves to the next pane
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, PaneId::Loss);
}

#[test]
fn q_quits_even_while_editing() {
    let mut app = cnn_lab();
    keys(&mut app, "e");
    keys(&mut app, "q");
    assert!(app.should_quit);
}

#[test]
fn global_keys_pass_through_while_editing() {
    let mut app = cnn_lab();
    keys(&mut app, "e");
    keys(&mut app, "l");
    assert!(app.loss.log_scale, "l still toggles the loss chart's scale");
    keys(&mut app, "x"); // not a global key: swallowed by the editor
    assert!(app.builder.is_editing());
}

// ---------------------------------------------------------------- sizes

#[test]
fn overview_pane_at_80x24_shows_the_layers_compactly() {
    let mut app = lab("cnn-mnist");
    app.focus = PaneId::Model;
    let rows = screen(&app, 80, 24);
    // the Model pane is the top-right quarter
    let right: Vec<String> = rows.iter().map(|r| r.chars().skip(40).collect()).collect();
    assert_row(&right, &["Conv 1→32 k3 s1 p1", "[N,32,28,28]"]);
    assert_row(&right, &["ready to train"]);
    assert_row(&right, &["50,186 params"]);
    // moving to the last layer scrolls it into view
    keys(&mut app, "G");
    let right: Vec<String> = screen(&app, 80, 24)
        .iter()
        .map(|r| r.chars().skip(40).collect())
        .collect();
    assert_row(&right, &["Linear 3136→10", "[N,10]"]);
}

#[test]
fn compact_pane_shows_the_error_in_full() {
    let mut app = cnn_lab();
    keys(&mut app, "G");
    keys(&mut app, "kkkke"); // layer 4, the second conv
    key(&mut app, KeyCode::Tab);
    keys(&mut app, "32");
    key(&mut app, KeyCode::Enter);
    let rows = pane(&app, 40, 11, false);
    // the inside of the pane, without its borders, as one run of words
    let inside: Vec<String> = rows
        .iter()
        .map(|r| r.chars().skip(1).take(38).collect())
        .collect();
    let text = inside
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Linear expects 3136 inputs, gets 1568"),
        "{}",
        rows.join("\n")
    );
}

#[test]
fn tiny_and_odd_areas_do_not_panic() {
    let mut app = cnn_lab();
    for (w, h) in [(0, 0), (1, 1), (0, 5), (5, 0), (2, 2), (3, 3)] {
        pane(&app, w, h, true);
        screen(&app, w, h);
    }
    for mode in ["", "a", "e", "jjje"] {
        app.builder.mode = Mode::Browse;
        keys(&mut app, mode);
        for w in (0..60).step_by(3) {
            for h in 0..16 {
                pane(&app, w, h, true);
                pane(&app, w, h, false);
            }
        }
    }
    let rows = pane(&app, 12, 4, false);
    assert_row(&rows, &["too small"]);
    // an area that is not at the buffer's origin, and one that pokes out of it
    let mut buf = Buffer::empty(Rect::new(0, 0, 50, 12));
    model_builder::render(&app, Rect::new(10, 2, 40, 10), &mut buf, true, false);
    model_builder::render(&app, Rect::new(30, 5, 40, 10), &mut buf, true, false);
    app.ascii = true;
    let rows = screen(&app, 120, 40);
    assert!(rows.iter().all(|r| !r.contains('✓') && !r.contains('▶')));
}

#[test]
fn shapes_in_the_pane_match_infer_shapes() {
    let app = cnn_lab();
    let input = [1usize, 28, 28];
    let shapes = infer_shapes(&app.builder.specs, &input);
    let rows = screen(&app, 120, 40);
    for (i, s) in shapes.iter().enumerate() {
        let s = s.as_ref().expect("the course model is valid");
        assert_row(
            &rows,
            &[&app.builder.specs[i].label(), &model_builder::shape_text(s)],
        );
    }
}

#[test]
fn editing_during_a_run_says_the_run_keeps_its_model() {
    let mut app = cnn_lab();
    // as if `s` had started a run on the course's model
    app.training.begin(&app.builder.specs.clone(), &[1, 28, 28]);
    assert_eq!(app.training.state, TrainState::Running);
    assert!(row_with(&screen(&app, 100, 30), &["keeps its own model"]).is_none());
    assert_row(&screen(&app, 100, 30), &["Model · training"]);
    assert_row(&screen(&app, 100, 30), &["edits apply to the next run"]);
    keys(&mut app, "jd");
    assert_eq!(
        app.training.specs().len(),
        8,
        "the running model is untouched"
    );
    assert_row(
        &screen(&app, 100, 30),
        &["the run in progress keeps its own model"],
    );
    assert_row(&screen(&app, 100, 30), &["edited: applies to the next run"]);
    app.training.state = TrainState::Finished;
    assert_row(
        &screen(&app, 100, 30),
        &["changed since the last run; s trains it"],
    );
}

// ---------------------------------------------------------------- safe and coherent

#[test]
fn a_asks_which_layer_before_inserting_anything() {
    for (w, h) in [(80, 24), (140, 45)] {
        let mut app = lab("cnn-mnist");
        app.focus = PaneId::Model;
        let before = app.builder.specs.clone();
        keys(&mut app, "a");
        assert_eq!(
            app.builder.specs, before,
            "nothing is inserted while choosing"
        );
        let rows = screen(&app, w, h);
        assert_row(&rows, &["layer 2"]);
        assert_row(&rows, &["50,186 params"]);
        // what Enter would add, never features x features after a conv
        assert_row(&rows, &["adds", "25088", "128"]);
        assert!(row_with(&rows, &["629"]).is_none(), "{}", rows.join("\n"));
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.builder.specs, before);
    }
}

#[test]
fn a_linear_in_the_middle_takes_a_small_width() {
    let mut app = cnn_lab();
    keys(&mut app, "G"); // Linear(3136, 10)
    keys(&mut app, "i1"); // a Linear before it: in 3136, out what layer 8 takes
    assert_eq!(
        app.builder.specs[7],
        LayerSpec::Linear {
            in_features: 3136,
            out_features: 3136
        }
    );
    keys(&mut app, "u");
    keys(&mut app, "gj"); // after layer 2 (ReLU), before the pool
    keys(&mut app, "a1");
    assert_eq!(
        app.builder.specs[2],
        LayerSpec::Linear {
            in_features: 25088,
            out_features: model_builder::HIDDEN_DEFAULT
        }
    );
}

#[test]
fn narrowing_a_conv_offers_to_fix_the_next_layers_input() {
    for (w, h) in [(80, 24), (140, 45)] {
        let mut app = lab("cnn-mnist");
        app.focus = PaneId::Model;
        // layer 1: 32 -> 16 output channels; layer 4 still expects 32
        key(&mut app, KeyCode::Char('e'));
        key(&mut app, KeyCode::Tab);
        keys(&mut app, "16");
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.builder.specs[0], conv(1, 16));
        assert_eq!(
            model_builder::offered_fix(&app.builder.specs, &[1, 28, 28]),
            Some((
                3,
                LayerSpec::Conv2d {
                    in_channels: 16,
                    out_channels: 64,
                    kernel_size: 3,
                    stride: 1,
                    padding: 1
                }
            ))
        );
        assert_row(&screen(&app, w, h), &["f sets layer 4's in channels to 16"]);
        keys(&mut app, "f");
        assert_eq!(app.builder.specs[3], conv(16, 64));
        assert!(readiness(&app.builder.specs, &[1, 28, 28]).is_ok());
        assert_eq!(app.builder.selected, 3);
        let rows = screen(&app, w, h);
        assert_row(&rows, &["ready to train"]);
        assert!(row_with(&rows, &["f sets"]).is_none());
        // and u takes the fix back
        keys(&mut app, "u");
        assert_eq!(app.builder.specs[3], conv(32, 64));
    }
}

#[test]
fn a_fix_for_a_linear_layer_sets_its_in_features() {
    let mut app = cnn_lab();
    keys(&mut app, "jjj"); // layer 4, Conv2d(32, 64)
    key(&mut app, KeyCode::Char('e'));
    key(&mut app, KeyCode::Tab);
    keys(&mut app, "32");
    key(&mut app, KeyCode::Enter);
    assert_row(
        &screen(&app, 140, 45),
        &["f sets layer 8's in features to 1,568"],
    );
    keys(&mut app, "f");
    assert_eq!(
        app.builder.specs[7],
        LayerSpec::Linear {
            in_features: 1568,
            out_features: 10
        }
    );
    assert!(readiness(&app.builder.specs, &[1, 28, 28]).is_ok());
    // nothing left to fix
    keys(&mut app, "f");
    assert_row(&screen(&app, 140, 45), &["nothing to fix"]);
}

#[test]
fn memory_estimate_of_the_course_cnn_by_hand() {
    let app = cnn_lab();
    // outputs per image: input 784; conv1 32*28*28 = 25088; ReLU 25088;
    // pool 32*14*14 = 6272; conv2 64*14*14 = 12544; ReLU 12544; pool 64*7*7
    // = 3136; Flatten 3136; Linear 10: 88,602 values, x 100 images
    let est = memory_estimate(&app.builder.specs, &[1, 28, 28], 100);
    assert_eq!(est.params, 50_186);
    assert_eq!(est.activations, 8_860_200);
    // parameters, gradients, Adam m and v: 50,186 x 4 values x 4 bytes
    assert_eq!(est.param_bytes(), 802_976);
    // activations and their gradients: 8,860,200 x 2 x 4 bytes
    assert_eq!(est.activation_bytes(), 70_881_600);
    assert_eq!(est.total_bytes(), 71_684_576);
    assert_eq!(dl_lab::tui::format::bytes(est.total_bytes()), "68.4 MiB");
    let rows = screen(&app, 140, 45);
    assert_row(
        &rows,
        &["ready to train", "8 layers", "50,186 params", "68.4 MiB"],
    );
    assert_row(
        &rows,
        &["memory to train (batch 100, f32)", "784.2 KiB", "67.6 MiB"],
    );
    assert_row(&rows, &["budget"]);
}

#[test]
fn a_model_over_the_budget_is_refused_with_its_size() {
    for (w, h) in [(80, 24), (140, 45)] {
        let mut app = lab("cnn-mnist");
        app.focus = PaneId::Model;
        keys(&mut app, "G");
        key(&mut app, KeyCode::Char('e'));
        key(&mut app, KeyCode::Tab);
        keys(&mut app, "65536");
        key(&mut app, KeyCode::Enter);
        let big = LayerSpec::Linear {
            in_features: 3136,
            out_features: 65536,
        };
        assert_eq!(app.builder.specs[7], big);
        // 205,605,248 params x 16 bytes alone are 3.06 GiB, over 2 GiB
        let est = memory_estimate(&app.builder.specs, &[1, 28, 28], 100);
        assert!(est.total_bytes() > model_builder::TRAIN_MEMORY_BUDGET);
        let why = readiness(&app.builder.specs, &[1, 28, 28]).expect_err("refused");
        assert!(why.contains("too big to train"), "{why}");
        assert!(why.contains("2.0 GiB"), "{why}");
        assert!(why.contains("layer 8"), "{why}");
        // s refuses without allocating: no run, and the pane says why in full
        keys(&mut app, "s");
        assert_eq!(app.training.state, TrainState::Idle);
        assert!(app.message.as_deref().unwrap_or("").contains("Model pane"));
        let text = screen(&app, w, h).join(" ");
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let flat = flat.replace(" ┃ ┃ ", " ").replace("┃ ┃", " ");
        for word in [
            "too", "big", "train:", "3.2", "GiB", "budget:", "make", "layer", "8", "smaller",
        ] {
            assert!(
                flat.contains(word),
                "{word} missing at {w}x{h}:\n{}",
                screen(&app, w, h).join("\n")
            );
        }
    }
}

#[test]
fn a_running_model_is_not_called_ready_to_train() {
    let mut app = lab("softmax-mnist");
    app.focus = PaneId::Model;
    app.zoomed = true;
    let specs = app.builder.specs.clone();
    app.training.begin(&specs, &[784]);
    let rows = screen(&app, 100, 30);
    assert!(
        !rows.iter().any(|r| r.contains("ready to train")),
        "{rows:#?}"
    );
    assert_row(&rows, &["valid model", "7,850"]);
    app.training.stop();
}
