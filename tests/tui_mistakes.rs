//! "Study the mistakes" in the lab: the held-out predictions an epoch
//! reports become a confusion matrix and per-class accuracy (counted here
//! again, directly), `m` jumps to a misclassified digit, Enter on a matrix
//! cell browses its digits in the Dataset pane (and the Conv/Pool pane
//! follows), and a digit's prediction is kept per epoch. Rendered into
//! TestBackend buffers at 80×24 and 140×45.

#[macro_use]
mod common;

use std::sync::Arc;

use crossterm::event::KeyCode;

use common::tui::{app, key, press, screen, train};
use dl_lab::train::{Confusion, EpochSummary, Predictions, TrainEvent};
use dl_lab::tui::app::{App, PaneId};

/// Held-out predictions: every label right, except that every 7th image is
/// taken for (label + 1) % 10 and every 11th for (label + 3) % 10; the
/// probabilities differ per epoch so the history can be told apart.
fn predictions(labels: &[u8], epoch: usize) -> Predictions {
    let class = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| match () {
            _ if i % 7 == 0 => (l + 1) % 10,
            _ if i % 11 == 0 && epoch > 1 => (l + 3) % 10,
            _ => l,
        })
        .collect();
    let prob = (0..labels.len())
        .map(|i| 0.5 + 0.1 * epoch as f32 + (i % 3) as f32 * 0.01)
        .collect();
    Predictions { class, prob }
}

fn epoch(app: &mut App, e: usize) {
    let labels = app.data.test.labels.clone();
    train(
        app,
        TrainEvent::Epoch(EpochSummary {
            epoch: e,
            loss: 0.5,
            test_acc: 0.8,
            img_per_s: 1000.0,
            train_acc: 0.9,
            test_loss: 0.6,
            predictions: Some(Arc::new(predictions(&labels, e))),
        }),
    );
}

#[test]
fn confusion_counts_equal_a_direct_count_and_per_class_accuracy_is_the_diagonal_share() {
    let labels: Vec<u8> = (0..500).map(|i| ((i * 7 + i / 13) % 10) as u8).collect();
    let p = predictions(&labels, 2);
    let c = Confusion::new(&labels, &p.class);
    for l in 0..10u8 {
        for q in 0..10u8 {
            let direct = labels
                .iter()
                .zip(&p.class)
                .filter(|(&a, &b)| a == l && b == q)
                .count();
            assert_eq!(
                c.counts[l as usize][q as usize] as usize, direct,
                "{l}->{q}"
            );
        }
    }
    assert_eq!(c.total(), 500);
    let per = c.per_class();
    for l in 0..10u8 {
        let of: Vec<usize> = (0..500).filter(|&i| labels[i] == l).collect();
        let right = of.iter().filter(|&&i| p.class[i] == l).count();
        let want = right as f32 / of.len() as f32;
        assert_eq!(per[l as usize], Some(want), "class {l}");
    }
    let right = labels.iter().zip(&p.class).filter(|(a, b)| a == b).count();
    assert_eq!(c.accuracy(), right as f32 / 500.0);
    // a class with no images has no accuracy
    assert_eq!(Confusion::new(&[1, 1], &[1, 2]).per_class()[0], None);
    assert_eq!(Confusion::new(&[1, 1], &[1, 2]).per_class()[1], Some(0.5));
}

#[test]
fn an_epoch_builds_the_matrix_and_m_jumps_to_misclassified_digits() {
    let mut a = app("softmax-mnist");
    press(&mut a, 'm');
    assert!(
        a.message
            .as_deref()
            .unwrap_or("")
            .contains("after an epoch"),
        "{:?}",
        a.message
    );
    epoch(&mut a, 1);
    let labels = a.data.test.labels.clone();
    let p = predictions(&labels, 1);
    assert_eq!(a.mistakes.confusion, Confusion::new(&labels, &p.class));
    // m (Dataset pane) walks the mistakes in order: each a digit predicted wrongly
    assert_eq!(a.focus, PaneId::Dataset);
    let mut seen = Vec::new();
    for _ in 0..4 {
        press(&mut a, 'm');
        let i = a.dataset.index;
        assert_ne!(p.class[i], labels[i], "image {i} is a mistake");
        seen.push(i);
    }
    assert_eq!(seen, [7, 14, 21, 28], "the next mistakes after image 0");
    // the Conv/Pool pane's walk and feature maps follow the chosen digit
    assert_eq!(a.conv.digit, 28);
}

#[test]
fn enter_on_a_matrix_cell_browses_its_digits_in_the_dataset_pane() {
    let mut a = app("softmax-mnist");
    epoch(&mut a, 1);
    epoch(&mut a, 2);
    let labels = a.data.test.labels.clone();
    let p = predictions(&labels, 2);
    a.focus = PaneId::Loss;
    press(&mut a, 'C');
    assert!(a.loss.show_confusion);
    key(&mut a, KeyCode::Enter); // open the pane
    assert!(a.zoomed);
    // to the cell (3, 4): 3s taken for 4s
    a.mistakes.cursor = (0, 0);
    for _ in 0..3 {
        key(&mut a, KeyCode::Down);
    }
    for _ in 0..4 {
        key(&mut a, KeyCode::Right);
    }
    assert_eq!(a.mistakes.cursor, (3, 4));
    key(&mut a, KeyCode::Enter);
    let want: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i] == 3 && p.class[i] == 4)
        .collect();
    assert!(want.len() >= 2, "{want:?}");
    let f = a.dataset.filter.clone().expect("a cell chosen");
    assert_eq!(f.images, want);
    assert_eq!(a.dataset.index, want[0]);
    assert_eq!(a.conv.digit, want[0]);
    // browsing stays in the cell, wrapping
    a.focus = PaneId::Dataset;
    key(&mut a, KeyCode::PageDown);
    assert_eq!(a.dataset.index, want[1]);
    key(&mut a, KeyCode::PageUp);
    key(&mut a, KeyCode::PageUp);
    assert_eq!(a.dataset.index, *want.last().expect("some"));
    let s = screen(&a, 80, 24);
    assert!(
        s.contains(&format!("cell 3→4: {} of {}", want.len(), want.len())),
        "{s}"
    );
    // x browses every digit again
    press(&mut a, 'x');
    assert!(a.dataset.filter.is_none());
}

#[test]
fn the_matrix_renders_with_per_class_accuracy_at_140x45_and_in_words_at_80x24() {
    let mut a = app("softmax-mnist");
    epoch(&mut a, 1);
    a.focus = PaneId::Loss;
    press(&mut a, 'C');
    let labels = a.data.test.labels.clone();
    let c = Confusion::new(&labels, &predictions(&labels, 1).class);
    let small = screen(&a, 80, 24);
    assert!(
        small.contains(&format!(
            "held-out after epoch 1: {:.1} % right",
            c.accuracy() * 100.0
        )),
        "{small}"
    );
    let (l, q, n) = c.worst().expect("mistakes");
    assert!(
        small.contains(&format!("most confused: {l} taken for {q} ({n}x)")),
        "{small}"
    );
    let big = screen(&a, 140, 45);
    assert!(big.contains("rows true label"), "{big}");
    assert!(big.contains("acc"), "{big}");
    // each class's row ends in its accuracy
    for (k, acc) in c.per_class().iter().enumerate() {
        let acc = acc.expect("every class has images");
        let row = big
            .lines()
            .find(|r| r.contains(&format!("│ {k} ")) || r.contains(&format!("┃ {k} ")))
            .unwrap_or_else(|| panic!("row {k} in\n{big}"));
        assert!(
            row.contains(&format!("{:.1}%", acc * 100.0)),
            "{row}\n{big}"
        );
    }
    // opened at 80x24 the matrix fits too
    key(&mut a, KeyCode::Enter);
    let open = screen(&a, 80, 24);
    assert!(open.contains("rows true label"), "{open}");
    assert!(open.contains("Enter browses them"), "{open}");
}

#[test]
fn a_digits_prediction_is_kept_per_epoch() {
    let mut a = app("softmax-mnist");
    epoch(&mut a, 1);
    epoch(&mut a, 2);
    epoch(&mut a, 3);
    // image 11 is right at epoch 1, then taken for (label + 3) % 10
    let l = a.data.test.labels[11];
    let h = a.mistakes.digit_history(11);
    assert_eq!(
        h.iter().map(|(e, c, _)| (*e, *c)).collect::<Vec<_>>(),
        [(1, l), (2, (l + 3) % 10), (3, (l + 3) % 10)]
    );
    assert!((h[0].2 - 0.62).abs() < 1e-6);
    a.show_held_out(11);
    let s = screen(&a, 140, 45);
    assert!(
        s.contains(&format!("1: {l} 62% → 2: {} 72%", (l + 3) % 10)),
        "{s}"
    );
    // a new run forgets them
    press(&mut a, 'r');
    assert!(a.mistakes.latest.is_none() && a.mistakes.history.is_empty());
}
