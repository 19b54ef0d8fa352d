//! The training worker on a few hundred shipped MNIST images with a test
//! receiver: the event sequence, Pause/Resume, Stop within a bounded time,
//! a dropped receiver ending the thread, SetLr reaching the optimizer, and
//! a diverging run pausing with the step named (and `Failed` if stopped then).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::LayerSpec;
use dl_lab::train::{ClassifierRun, TrainCommand, TrainEvent, Worker};

/// Generous bound for anything the worker must do "promptly" on a loaded
/// 2-core machine; a softmax batch of 50 images takes well under 1 ms.
const PROMPT: Duration = Duration::from_secs(3);

/// softmax-mnist on the first `n_train` shipped training images, with
/// `edit` applied to the lesson's hyper-parameters.
fn softmax_run(n_train: usize, edit: impl FnOnce(&mut lessons::Hyper)) -> ClassifierRun {
    let lesson = lessons::find("softmax-mnist").expect("lesson exists");
    let Task::Classifier {
        layers,
        input_shape,
    } = &lesson.task
    else {
        panic!("a classifier lesson")
    };
    let data = Mnist::shipped().expect("shipped sample");
    let mut hyper = lesson.defaults.clone();
    hyper.batch_size = 50;
    edit(&mut hyper);
    let train = data.train.subset(0..n_train).expect("subset");
    let test = data.test.subset(0..100).expect("subset");
    ClassifierRun::new(layers, input_shape, train, test, &hyper).expect("run builds")
}

fn spawn(run: ClassifierRun) -> (Worker, Receiver<TrainEvent>) {
    let (tx, rx) = mpsc::channel();
    let worker = Worker::spawn(run, move |ev| tx.send(ev).is_ok()).expect("thread starts");
    (worker, rx)
}

/// Events until `Finished`/`Failed` (inclusive) or until `limit` passes.
fn collect_to_end(rx: &Receiver<TrainEvent>, limit: Duration) -> Vec<TrainEvent> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) => {
                let end = matches!(ev, TrainEvent::Finished { .. } | TrainEvent::Failed(_));
                out.push(ev);
                if end {
                    return out;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no end after {limit:?}; got {} events", out.len())
            }
            Err(RecvTimeoutError::Disconnected) => return out,
        }
    }
}

/// Wait for the first event `pred` accepts; panics after `limit`.
fn wait_for(
    rx: &Receiver<TrainEvent>,
    limit: Duration,
    pred: impl Fn(&TrainEvent) -> bool,
) -> TrainEvent {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(e) => panic!("waited {limit:?} for an event: {e:?}"),
        }
    }
}

fn name(ev: &TrainEvent) -> &'static str {
    match ev {
        TrainEvent::Started { .. } => "Started",
        TrainEvent::Batch { .. } => "Batch",
        TrainEvent::Epoch(_) => "Epoch",
        TrainEvent::Snapshot(_) => "Snapshot",
        TrainEvent::Paused => "Paused",
        TrainEvent::Resumed => "Resumed",
        TrainEvent::Finished { .. } => "Finished",
        TrainEvent::Failed(_) => "Failed",
        TrainEvent::Diverged { .. } => "Diverged",
    }
}

#[test]
fn a_run_reports_started_batches_epochs_snapshots_and_finished() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 2));
    let events = collect_to_end(&rx, Duration::from_secs(60));
    let names: Vec<&str> = events.iter().map(name).collect();

    let TrainEvent::Started {
        epochs,
        batches_per_epoch,
        train_images,
    } = events[0]
    else {
        panic!("first event should be Started: {names:?}")
    };
    assert_eq!((epochs, batches_per_epoch, train_images), (2, 6, 300));
    assert!(
        matches!(events.last(), Some(TrainEvent::Finished { stopped: false })),
        "{names:?}"
    );

    // every epoch: at least one Batch, then Epoch, then Snapshot
    let epoch_at: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == "Epoch")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(epoch_at.len(), 2, "{names:?}");
    assert!(
        names[1..epoch_at[0]].iter().all(|n| *n == "Batch") && epoch_at[0] > 1,
        "{names:?}"
    );
    for &i in &epoch_at {
        assert_eq!(names[i + 1], "Snapshot", "{names:?}");
    }

    // throttled reports still carry every step's loss, in order
    let mut next_step = 1;
    for ev in &events {
        if let TrainEvent::Batch {
            step,
            losses,
            epoch,
            batch,
            img_per_s,
        } = ev
        {
            assert_eq!(
                step + 1 - losses.len(),
                next_step,
                "no step lost or repeated"
            );
            assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0));
            assert!(*epoch >= 1 && *batch >= 1 && *batch <= 6 && *img_per_s > 0.0);
            next_step = step + 1;
        }
    }
    assert_eq!(next_step - 1, 12, "2 epochs × 6 batches");

    let summaries: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let TrainEvent::Epoch(s) = e {
                Some(s)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        summaries.iter().map(|s| s.epoch).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(summaries
        .iter()
        .all(|s| (0.0..=1.0).contains(&s.test_acc) && s.loss.is_finite()));
    // softmax regression on 300 images already beats chance (10 %) clearly
    assert!(
        summaries[1].test_acc > 0.4,
        "test accuracy {}",
        summaries[1].test_acc
    );

    // snapshots are the model's parameters: W (10×784 or 784×10) and b (10)
    let Some(TrainEvent::Snapshot(params)) = events
        .iter()
        .rev()
        .find(|e| matches!(e, TrainEvent::Snapshot(_)))
    else {
        panic!("a snapshot")
    };
    let sizes: Vec<usize> = params.iter().map(|p| p.len()).collect();
    assert_eq!(sizes, vec![7840, 10]);

    let run = worker.stop().expect("the thread ended without panicking");
    assert_eq!(run.epochs, 2);
}

#[test]
fn stop_is_honoured_promptly() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 100_000));
    wait_for(&rx, Duration::from_secs(30), |e| {
        matches!(e, TrainEvent::Batch { .. })
    });
    let t = Instant::now();
    let run = worker.stop();
    let took = t.elapsed();
    assert!(run.is_some(), "the run comes back");
    assert!(took < PROMPT, "stop took {took:?}");
    let rest = collect_to_end(&rx, PROMPT);
    assert!(
        matches!(rest.last(), Some(TrainEvent::Finished { stopped: true })),
        "{:?}",
        rest.iter().map(name).collect::<Vec<_>>()
    );
}

#[test]
fn stop_while_paused_is_honoured() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 100_000));
    wait_for(&rx, Duration::from_secs(30), |e| {
        matches!(e, TrainEvent::Batch { .. })
    });
    worker
        .commands
        .send(TrainCommand::Pause)
        .expect("worker alive");
    wait_for(&rx, PROMPT, |e| matches!(e, TrainEvent::Paused));
    let t = Instant::now();
    assert!(worker.stop().is_some());
    assert!(
        t.elapsed() < PROMPT,
        "stop while paused took {:?}",
        t.elapsed()
    );
}

#[test]
fn pause_holds_training_and_resume_continues() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 100_000));
    wait_for(&rx, Duration::from_secs(30), |e| {
        matches!(e, TrainEvent::Batch { .. })
    });
    worker
        .commands
        .send(TrainCommand::Pause)
        .expect("worker alive");
    wait_for(&rx, PROMPT, |e| matches!(e, TrainEvent::Paused));
    // paused: nothing arrives
    match rx.recv_timeout(Duration::from_millis(300)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("a paused worker sent {other:?}"),
    }
    worker
        .commands
        .send(TrainCommand::Resume)
        .expect("worker alive");
    assert!(matches!(rx.recv_timeout(PROMPT), Ok(TrainEvent::Resumed)));
    wait_for(&rx, PROMPT, |e| matches!(e, TrainEvent::Batch { .. }));
    assert!(worker.stop().is_some());
}

#[test]
fn a_dropped_receiver_ends_the_thread() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 100_000));
    wait_for(&rx, Duration::from_secs(30), |e| {
        matches!(e, TrainEvent::Batch { .. })
    });
    drop(rx);
    let t = Instant::now();
    while !worker.is_finished() {
        assert!(
            t.elapsed() < PROMPT,
            "the worker kept running without a receiver"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(worker.stop().is_some(), "ended quietly, without a panic");
}

#[test]
fn set_lr_reaches_the_optimizer() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 100_000));
    wait_for(&rx, Duration::from_secs(30), |e| {
        matches!(e, TrainEvent::Batch { .. })
    });
    worker
        .commands
        .send(TrainCommand::SetLr(0.0123))
        .expect("worker alive");
    // commands are applied in order before the next batch: SetLr, then Stop
    let run = worker.stop().expect("run comes back");
    assert_eq!(run.opt.lr(), 0.0123);
}

/// Two stacked Linear layers with SGD at lr 1000: each step multiplies the
/// weights' scale, so the loss overflows within a few steps (NaN at epoch 2,
/// step 7 with this seed). Softmax regression alone does not do this: its
/// gradient is bounded, the weights grow linearly and the loss stays finite
/// (checked up to lr 1e36), so lr 1e6 on the plain lesson never fails.
fn diverging_run() -> ClassifierRun {
    let lesson = lessons::find("softmax-mnist").expect("lesson exists");
    let data = Mnist::shipped().expect("shipped sample");
    let mut hyper = lesson.defaults.clone();
    hyper.lr = 1e3;
    hyper.optimizer = "sgd".into();
    hyper.batch_size = 50;
    hyper.epochs = 50;
    let specs = [
        LayerSpec::Linear {
            in_features: 784,
            out_features: 32,
        },
        LayerSpec::Linear {
            in_features: 32,
            out_features: 10,
        },
    ];
    ClassifierRun::new(
        &specs,
        &[784],
        data.train.subset(0..300).expect("subset"),
        data.test.subset(0..100).expect("subset"),
        &hyper,
    )
    .expect("run builds")
}

/// Wait for the worker's Diverged report and check what it says.
fn wait_for_divergence(rx: &Receiver<TrainEvent>) {
    let diverged = wait_for(rx, Duration::from_secs(60), |e| {
        matches!(e, TrainEvent::Diverged { .. })
    });
    let TrainEvent::Diverged {
        epoch,
        step,
        loss,
        lr,
    } = diverged
    else {
        unreachable!("wait_for returns what it waited for")
    };
    assert!(
        epoch >= 1 && step >= 1,
        "names where: epoch {epoch}, step {step}"
    );
    assert!(!loss.is_finite(), "the loss was {loss}");
    assert_eq!(lr, 1e3);
    // paused: nothing arrives until the learner answers
    match rx.recv_timeout(Duration::from_millis(300)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("a diverged worker sent {other:?}"),
    }
}

#[test]
fn a_diverging_run_pauses_then_stop_fails_naming_the_step() {
    let (worker, rx) = spawn(diverging_run());
    wait_for_divergence(&rx);
    worker
        .commands
        .send(TrainCommand::Stop)
        .expect("worker alive");
    let events = collect_to_end(&rx, PROMPT);
    let Some(TrainEvent::Failed(msg)) = events.last() else {
        panic!(
            "expected Failed, got {:?}",
            events.iter().map(name).collect::<Vec<_>>()
        )
    };
    assert!(
        msg.contains("step ") && msg.contains("epoch "),
        "names where: {msg}"
    );
    assert!(
        msg.contains("smaller learning rate"),
        "suggests a smaller lr: {msg}"
    );
    assert!(
        msg.contains("NaN") || msg.contains("inf"),
        "says what the loss became: {msg}"
    );
    assert!(worker.stop().is_some());
}

#[test]
fn a_diverged_run_resumes_with_a_lower_learning_rate() {
    let (worker, rx) = spawn(diverging_run());
    wait_for_divergence(&rx);
    worker
        .commands
        .send(TrainCommand::SetLr(1e-3))
        .expect("worker alive");
    worker
        .commands
        .send(TrainCommand::Resume)
        .expect("worker alive");
    assert!(matches!(rx.recv_timeout(PROMPT), Ok(TrainEvent::Resumed)));
    // training goes on past the skipped step (the weights may already be
    // NaN, in which case the next batch reports a divergence again)
    wait_for(&rx, PROMPT, |e| {
        matches!(e, TrainEvent::Batch { .. } | TrainEvent::Diverged { .. })
    });
    assert!(worker.stop().is_some());
}

/// A layer with a bug: it panics on its second call.
struct PanicsOnSecondCall(std::sync::atomic::AtomicUsize);

impl dl_lab::nn::Module for PanicsOnSecondCall {
    fn forward(&self, x: &dl_lab::Tensor) -> dl_lab::Result<dl_lab::Tensor> {
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            panic!("a bug in a layer");
        }
        Ok(x.clone())
    }
    fn describe(&self) -> String {
        "PanicsOnSecondCall".into()
    }
}

#[test]
fn a_panic_in_training_ends_the_stream_with_failed() {
    let mut run = softmax_run(200, |h| h.epochs = 1);
    run.model.layers.push(Box::new(PanicsOnSecondCall(
        std::sync::atomic::AtomicUsize::new(0),
    )));
    let (_worker, rx) = spawn(run);
    let events = collect_to_end(&rx, PROMPT);
    match events.last() {
        Some(TrainEvent::Failed(msg)) => {
            assert!(msg.contains("a bug in a layer"), "{msg}")
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}
