//! Key `c`: the lab writes the lesson, with the settings as changed in the
//! lab, as the PyTorch script `dl-lab code` prints for those settings; it
//! never writes over a file, and names the file in the status line.

mod common;

use common::tui::{app, press};
use common::TempDir;
use dl_lab::lessons::{self, RunConfig};
use dl_lab::tui::files::LabFiles;

/// The lab on `lesson` whose `--save` is in `dir` (so `c` writes there).
fn lab_saving_in(lesson: &str, dir: &TempDir) -> dl_lab::tui::app::App {
    let files = LabFiles::new(None, Some(dir.join("model.ckpt")), None);
    app(lesson).with_files(files)
}

#[test]
fn c_writes_the_small_lesson_with_the_lr_changed_in_the_lab() {
    let dir = TempDir::new("code-key-small");
    let mut lab = lab_saving_in("gd-scalar", &dir);
    press(&mut lab, '+'); // 0.1 → 0.3
    press(&mut lab, 'c');
    let path = dir.join("gd-scalar.py");
    let written = std::fs::read_to_string(&path).expect("c wrote gd-scalar.py next to --save");
    let lesson = lessons::find("gd-scalar").unwrap();
    let mut cfg = RunConfig::defaults(&lesson);
    cfg.hyper.lr = 0.3;
    assert_eq!(written, dl_lab::code::python_script(&lesson, &cfg).unwrap());
    assert!(written.contains("dl-lab code gd-scalar --lr 0.3"));
    let msg = lab.message.clone().unwrap_or_default();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn c_never_writes_over_a_file_it_takes_the_next_name() {
    let dir = TempDir::new("code-key-next");
    let mine = dir.write("linear.py", b"# the learner's own notes\n");
    let mut lab = lab_saving_in("linear", &dir);
    press(&mut lab, 'c');
    press(&mut lab, '-');
    press(&mut lab, 'c');
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "# the learner's own notes\n"
    );
    let lesson = lessons::find("linear").unwrap();
    let second = std::fs::read_to_string(dir.join("linear-2.py")).unwrap();
    assert_eq!(
        second,
        dl_lab::code::python_script(&lesson, &RunConfig::defaults(&lesson)).unwrap()
    );
    let third = std::fs::read_to_string(dir.join("linear-3.py")).unwrap();
    let mut cfg = RunConfig::defaults(&lesson);
    cfg.hyper.lr = dl_lab::tui::views::lr_ladder(cfg.hyper.lr, false);
    assert_eq!(third, dl_lab::code::python_script(&lesson, &cfg).unwrap());
    assert!(lab
        .message
        .clone()
        .unwrap_or_default()
        .contains("linear-3.py"));
}

/// A tiny MNIST-format directory: `n` blank images (label i % 10) per split.
fn tiny_mnist(dir: &TempDir, n: u32) -> std::path::PathBuf {
    use dl_lab::data::mnist::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
    let images = |n: u32| {
        let mut b = Vec::new();
        for v in [2051u32, n, 28, 28] {
            b.extend(v.to_be_bytes());
        }
        b.resize(b.len() + (n as usize) * 784, 0);
        b
    };
    let labels = |n: u32| {
        let mut b = Vec::new();
        for v in [2049u32, n] {
            b.extend(v.to_be_bytes());
        }
        b.extend((0..n).map(|i| (i % 10) as u8));
        b
    };
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for (name, bytes) in [
        (TRAIN_IMAGES, images(n)),
        (TRAIN_LABELS, labels(n)),
        (TEST_IMAGES, images(n)),
        (TEST_LABELS, labels(n)),
    ] {
        dir.write(&format!("data/{name}"), &bytes);
    }
    dir.join("data")
}

#[test]
fn c_writes_the_mnist_lesson_with_the_data_dir_and_lr() {
    let dir = TempDir::new("code-key-mnist");
    let shipped = tiny_mnist(&dir, 20);
    let mut lab = lab_saving_in("softmax-mnist", &dir).with_data_dir(Some(shipped.clone()));
    press(&mut lab, '-');
    press(&mut lab, 'c');
    let written = std::fs::read_to_string(dir.join("softmax-mnist.py"))
        .unwrap_or_else(|e| panic!("{e}; status: {:?}", lab.message));
    let lesson = lessons::find("softmax-mnist").unwrap();
    let mut cfg = RunConfig::defaults(&lesson);
    cfg.hyper.lr = dl_lab::tui::views::lr_ladder(cfg.hyper.lr, false);
    cfg.data = Some(shipped.clone());
    assert_eq!(written, dl_lab::code::python_script(&lesson, &cfg).unwrap());
    assert!(written.contains(&format!("--data {}", shipped.display())));
}

#[test]
fn c_writes_the_model_as_edited_in_the_model_pane() {
    let dir = TempDir::new("code-key-edited");
    let mut lab = lab_saving_in("cnn-mnist", &dir);
    // drop the last layer (Linear(3136, 10)) in the Model pane
    lab.focus = dl_lab::tui::app::PaneId::Model;
    lab.builder.selected = lab.builder.specs.len() - 1;
    press(&mut lab, 'd');
    assert!(!lab
        .builder
        .specs
        .iter()
        .any(|l| matches!(l, dl_lab::nn::LayerSpec::Linear { .. })));
    press(&mut lab, 'c');
    let written = std::fs::read_to_string(dir.join("cnn-mnist.py")).unwrap();
    assert!(!written.contains("nn.Linear(3136, 10)"), "{written}");
    assert!(written.contains("nn.Conv2d(1, 32"));
}

#[test]
fn c_says_why_when_the_directory_cannot_be_written() {
    let dir = TempDir::new("code-key-missing");
    let files = LabFiles::new(None, Some(dir.join("no/such/dir/model.ckpt")), None);
    let mut lab = app("gd-scalar").with_files(files);
    press(&mut lab, 'c');
    let msg = lab.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("cannot write the PyTorch script:") && msg.contains("gd-scalar.py"),
        "{msg}"
    );
}
