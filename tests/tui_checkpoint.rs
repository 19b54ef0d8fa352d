//! The lab's checkpoint keys (issue 10): `w` writes a checkpoint, `o` opens
//! one or a `.safetensors` file, the Model pane names what is open, a bad
//! file is a message that keeps the model, training goes on from an opened
//! checkpoint, and `--history` gets a row per finished epoch.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tui::{press, screen};
use common::TempDir;
use dl_lab::backend::Device;
use dl_lab::data::mnist::Mnist;
use dl_lab::engine::Array;
use dl_lab::lessons;
use dl_lab::nn::{Module, Sequential};
use dl_lab::train::Checkpoint;
use dl_lab::tui::app::{App, TrainState};
use dl_lab::tui::event::Event;
use dl_lab::tui::files::LabFiles;
use dl_lab::tui::views::conv_viz::Learned;
use dl_lab::tui::views::dataset::predict;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The lab on `lesson` (shipped sample) with `files`, and its event receiver.
fn lab(lesson: &str, files: LabFiles) -> (App, Receiver<Event>) {
    let (tx, rx) = mpsc::channel();
    let data = Mnist::shipped().expect("the shipped MNIST sample is embedded");
    let app = App::new(
        lessons::find(lesson).expect("lesson exists"),
        Arc::new(data),
        false,
        tx,
    )
    .with_files(files);
    (app, rx)
}

fn files(load: Option<PathBuf>, save: Option<PathBuf>, history: Option<PathBuf>) -> LabFiles {
    LabFiles::new(load, save, history)
}

/// Every parameter of `model`, by name, on the host.
fn weights(model: &Sequential) -> Vec<(String, Array)> {
    model
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (n, t.to_array()))
        .collect()
}

fn trained(app: &App) -> Arc<Sequential> {
    app.training.trained().expect("a model is shown").clone()
}

fn message(app: &App) -> String {
    app.message.clone().unwrap_or_default()
}

/// Feed the worker's reports to `app` until `done` holds (panics after 120 s
/// or when the run fails).
fn pump(app: &mut App, rx: &Receiver<Event>, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(app) {
        if let TrainState::Failed(why) = &app.training.state {
            panic!("the training run failed: {why}");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; message {:?}", app.message);
        if let Ok(ev @ Event::Train(_)) = rx.recv_timeout(left) {
            app.update(ev);
        }
    }
}

#[test]
fn a_safetensors_file_opens_and_the_prediction_and_filters_are_its_models() {
    let path = fixture("cnn-mnist.safetensors");
    let (mut app, _rx) = lab("cnn-mnist", files(Some(path.clone()), None, None));
    assert!(app.dataset.prediction().is_none(), "no model before");
    press(&mut app, 'o');
    assert!(
        message(&app).contains("cnn-mnist.safetensors"),
        "{:?}",
        app.message
    );

    // the model shown is PyTorch's: its logits for the fixture's input are torch's
    let model = trained(&app);
    let input: Vec<f32> = (0..784).map(|i| (i % 29) as f32 / 28.0).collect();
    let logits = dl_lab::no_grad(|| {
        let x = dl_lab::engine::Tensor::from_vec(&[1, 1, 28, 28], input.clone())?;
        Ok::<_, dl_lab::Error>(model.forward(&x)?.to_vec())
    })
    .expect("forward");
    // torch's logits, as tests/fixtures/make_fixture.py wrote them
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cnn-mnist.json")).unwrap()).unwrap();
    let torch: Vec<f32> = json["logits"]
        .as_array()
        .expect("logits")
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(torch.len(), 10);
    for (got, want) in logits.iter().zip(&torch) {
        assert!(
            (got - want).abs() < 1e-4,
            "logits {logits:?} vs torch {torch:?}"
        );
    }

    // the Dataset pane's prediction is the fixture model's for the shown digit
    let lesson = lessons::find("cnn-mnist").unwrap();
    let reference = dl_lab::lessons::files::load_model(&lesson, &path, &Device::Cpu).unwrap();
    let image = app
        .dataset
        .set(&app.data)
        .images
        .row(app.dataset.index)
        .to_owned();
    let pixels: Vec<f32> = image
        .iter()
        .map(|&p| dl_lab::data::mnist::scale(p))
        .collect();
    let want = predict(&reference, &[1, 28, 28], &pixels).unwrap();
    let got = app
        .dataset
        .prediction()
        .expect("a prediction")
        .clone()
        .unwrap();
    assert_eq!(got.len(), 10);
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() < 1e-5,
            "prediction {got:?} vs the fixture's {want:?}"
        );
    }

    // conv1's filters are the file's (0.weight starts at -0.0024956069)
    let learned = Learned::of(&app).expect("conv1 filters shown");
    assert!((learned.filters[0][[0, 0]] - -0.002_495_607).abs() < 1e-6);
    assert!(app.conv.show_filters);

    // the Model pane names the file
    let s = screen(&app, 160, 40);
    assert!(s.contains("weights: cnn-mnist.safetensors"), "{s}");
}

#[test]
fn w_then_o_round_trips_the_weights_and_the_status_line_names_the_file() {
    let dir = TempDir::new("lab-ckpt");
    let save = dir.join("lab.ckpt");
    let (mut app, _rx) = lab(
        "cnn-mnist",
        files(
            Some(fixture("cnn-mnist.safetensors")),
            Some(save.clone()),
            None,
        ),
    );
    press(&mut app, 'w');
    assert!(
        message(&app).contains("nothing to save"),
        "{:?}",
        app.message
    );
    assert!(!save.exists());

    press(&mut app, 'o');
    let before = weights(&trained(&app));
    press(&mut app, 'w');
    assert_eq!(
        message(&app),
        format!("saved to {} (epoch 0)", save.display())
    );
    let s = screen(&app, 200, 30);
    assert!(s.contains("saved to") && s.contains("lab.ckpt"), "{s}");

    // forget the model, then open what was written (--load now names it)
    press(&mut app, 'r');
    assert!(app.training.trained().is_none());
    app.files.load = Some(save.clone());
    press(&mut app, 'o');
    assert!(
        message(&app).contains("lab.ckpt (epoch 0)"),
        "{:?}",
        app.message
    );
    assert_eq!(weights(&trained(&app)), before, "the same arrays back");
    let ck = Checkpoint::load(&save).unwrap();
    assert_eq!(ck.run.as_ref().unwrap().lesson, "cnn-mnist");
    assert!(screen(&app, 160, 40).contains("weights: lab.ckpt"));
}

#[test]
fn a_corrupt_or_foreign_file_is_a_message_and_the_model_stays() {
    let dir = TempDir::new("lab-bad");
    let (mut app, _rx) = lab(
        "cnn-mnist",
        files(Some(fixture("cnn-mnist.safetensors")), None, None),
    );
    press(&mut app, 'o');
    let model = trained(&app);
    let before = weights(&model);

    // garbage
    let bad = dir.write("bad.ckpt", b"DLLABCKP\x01\x00\x00\x00garbage");
    app.files.load = Some(bad.clone());
    press(&mut app, 'o');
    let m = message(&app);
    assert!(
        m.starts_with("cannot open") && m.contains("bad.ckpt"),
        "{m}"
    );
    assert!(Arc::ptr_eq(&trained(&app), &model), "the model stays");
    assert_eq!(weights(&trained(&app)), before);
    assert!(screen(&app, 160, 40).contains("weights: cnn-mnist.safetensors"));

    // a truncated copy of a real checkpoint
    let good = dir.join("good.ckpt");
    app.files.save = Some(good.clone());
    press(&mut app, 'w');
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.write("cut.ckpt", &bytes[..bytes.len() / 2]);
    app.files.load = Some(cut);
    press(&mut app, 'o');
    assert!(message(&app).contains("cut.ckpt"), "{:?}", app.message);
    assert!(Arc::ptr_eq(&trained(&app), &model));

    // another lesson's weights: the architecture differs
    app.files.load = Some(fixture("softmax-mnist.safetensors"));
    press(&mut app, 'o');
    let m = message(&app);
    assert!(
        m.contains("softmax-mnist.safetensors") && m.contains("0.weight"),
        "{m}"
    );
    assert!(Arc::ptr_eq(&trained(&app), &model));

    // a missing file
    app.files.load = Some(dir.join("missing.ckpt"));
    press(&mut app, 'o');
    assert!(message(&app).contains("missing.ckpt"), "{:?}", app.message);
    assert!(Arc::ptr_eq(&trained(&app), &model));
}

#[test]
fn the_small_lessons_have_no_checkpoints() {
    let (mut app, _rx) = lab("linear", LabFiles::default());
    press(&mut app, 'w');
    assert!(message(&app).contains("MNIST lessons"), "{:?}", app.message);
    press(&mut app, 'o');
    assert!(message(&app).contains("MNIST lessons"), "{:?}", app.message);
}

/// The history's rows after its header.
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("history written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("epoch,loss,test_acc,img_per_s,train_acc,test_loss")
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn training_saves_from_the_worker_writes_history_and_goes_on_from_a_checkpoint() {
    let dir = TempDir::new("lab-train");
    let (save, history) = (dir.join("run.ckpt"), dir.join("history.csv"));
    let (mut app, rx) = lab(
        "softmax-mnist",
        files(None, Some(save.clone()), Some(history.clone())),
    );
    app.hyper.epochs = 1;
    press(&mut app, 's');
    assert_eq!(app.training.state, TrainState::Running);

    // paused mid-epoch: the worker writes the checkpoint (epoch 0 finished)
    press(&mut app, 's');
    pump(&mut app, &rx, |a| a.training.state == TrainState::Paused);
    press(&mut app, 'w');
    pump(&mut app, &rx, |a| {
        a.message
            .as_deref()
            .is_some_and(|m| !m.starts_with("saving"))
    });
    assert_eq!(
        message(&app),
        format!("saved to {} (epoch 0)", save.display())
    );
    assert_eq!(Checkpoint::load(&save).unwrap().run.unwrap().epoch, 0);

    press(&mut app, 's');
    pump(&mut app, &rx, |a| a.training.state == TrainState::Finished);
    let first = rows(&history);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0][0], "1");
    let acc: f32 = first[0][2].parse().unwrap();
    assert_eq!(Some(acc), app.training.progress.last_acc);
    assert!(first[0][3].parse::<f32>().unwrap() > 0.0);

    // the ended run saves its model and optimizer, after epoch 1
    pump(&mut app, &rx, |a| a.training.trained().is_some());
    press(&mut app, 'w');
    assert_eq!(
        message(&app),
        format!("saved to {} (epoch 1)", save.display())
    );
    let ck = Checkpoint::load(&save).unwrap();
    assert_eq!(ck.run.as_ref().unwrap().epoch, 1);
    assert_eq!(ck.weights, weights(&trained(&app)));
    assert!(ck.optimizer_state.iter().all(Option::is_some));

    // open it and train on: epoch 2 follows, appended to the history
    press(&mut app, 'o');
    assert_eq!(
        app.training.trained().map(|m| weights(m)),
        Some(ck.weights.clone())
    );
    press(&mut app, 's');
    assert_eq!(message(&app), "training on from epoch 1");
    pump(&mut app, &rx, |a| a.training.state == TrainState::Finished);
    assert_eq!(app.training.progress.epochs, 2);
    let all = rows(&history);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[0][0].as_str(), all[1][0].as_str()), ("1", "2"));
    assert_eq!(all[0], first[0], "the first run's row stays");
}

/// Issue 11: `S` in the Dataset pane writes softmax and cross-entropy out
/// for the digit on screen, each number the engine's own op.
#[test]
fn softmax_and_cross_entropy_are_written_out_for_the_digit_on_screen() {
    let path = fixture("softmax-mnist.safetensors");
    let (mut app, _rx) = lab("softmax-mnist", files(Some(path), None, None));
    press(&mut app, 'o');
    press(&mut app, 'S');
    assert!(app.dataset.written, "S turns the written-out view on");
    let w = app
        .dataset
        .written_out()
        .expect("computed for the shown digit")
        .clone()
        .expect("no error");
    // independently: the model's logits for the shown image, then the engine's ops
    let data = Mnist::shipped().expect("shipped");
    let set = &data.test;
    let (index, label) = (
        app.dataset.index,
        usize::from(set.labels[app.dataset.index]),
    );
    let pixels: Vec<f32> = set
        .images
        .row(index)
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let model = trained(&app);
    let (logits, loss, probs) = dl_lab::no_grad(|| {
        let x = dl_lab::engine::Tensor::from_vec(&[1, 784], pixels.clone())?;
        let z = model.forward(&x)?;
        let loss = dl_lab::nn::cross_entropy(&z, &[label])?.item();
        Ok::<_, dl_lab::Error>((z.to_vec(), loss, z.softmax(1)?.to_vec()))
    })
    .expect("forward");
    assert_eq!(w.label, label);
    assert_eq!(w.logits, logits);
    assert_eq!(w.softmax, probs);
    assert!((w.loss - loss).abs() <= 1e-6, "{} vs {loss}", w.loss);
    assert!(
        (w.loss + w.log_softmax[label]).abs() <= 1e-5,
        "loss = -log p[label]"
    );
    let sum: f32 = w.softmax.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5);
    for (e, z) in w.exp.iter().zip(&w.logits) {
        assert!((e - z.exp()).abs() <= 1e-5 * e.abs().max(1.0));
    }
    let s = screen(&app, 140, 45);
    let want = format!("loss = −log p[{label}] = {:.4}", w.loss);
    assert!(s.contains(&want), "{want:?} missing\n{s}");
    assert!(s.contains("← label") && s.contains("softmax p"), "{s}");
    // S again: back to the top-3
    press(&mut app, 'S');
    let s = screen(&app, 140, 45);
    assert!(!s.contains("softmax p") && s.contains("top-3"), "{s}");
}
