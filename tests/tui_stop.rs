//! Stopping training never waits on the UI thread: `r` and `q` ask the
//! worker to stop and return while it is still inside a step; the worker
//! then ends on its own thread and its run is collected without blocking.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::train::{ClassifierRun, RunEvent};
use dl_lab::tui::training::TrainingRun;

fn softmax_run() -> ClassifierRun {
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
    let train = data.train.subset(0..300).expect("subset");
    let test = data.test.subset(0..100).expect("subset");
    ClassifierRun::new(layers, input_shape, train, test, &hyper).expect("run builds")
}

/// A worker held inside its first report (as if mid-step) until `release`
/// is dropped; `entered` says it got there.
fn held_run(training: &mut TrainingRun) -> (mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (release, gate) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(Some(gate)));
    training
        .start(softmax_run(), move |_ev: RunEvent| {
            // the first report blocks until the test lets go
            if let Some(g) = gate.lock().expect("gate").take() {
                let _ = entered_tx.send(());
                let _ = g.recv();
            }
            true
        })
        .expect("thread starts");
    (release, entered)
}

/// Poll `ended_run` (it never blocks) until the stopped worker has ended.
fn wait_ended(training: &mut TrainingRun) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if training.ended_run().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn stop_returns_while_the_worker_is_mid_step() {
    let mut training = TrainingRun::new();
    let (release, entered) = held_run(&mut training);
    entered
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker reached its first report");
    // the worker cannot move until released: a stop that joined would hang here
    training.stop();
    assert!(!training.working(), "no run is read any more");
    assert!(training.stopping(), "the worker is still inside its step");
    assert!(training.ended_run().is_none(), "nothing ended yet");
    drop(release);
    assert!(wait_ended(&mut training), "the worker ended after its step");
    assert!(!training.stopping());
}

#[test]
fn quitting_abandons_the_worker_without_waiting() {
    let mut training = TrainingRun::new();
    let (release, entered) = held_run(&mut training);
    entered
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker reached its first report");
    training.abandon();
    // abandon returned although the worker is still held; nothing is kept
    assert!(!training.working() && !training.stopping());
    assert!(training.ended_run().is_none());
    drop(release);
}

#[test]
fn a_new_run_supersedes_one_still_stopping() {
    let mut training = TrainingRun::new();
    let (release, entered) = held_run(&mut training);
    entered
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker reached its first report");
    training.stop();
    assert!(training.stopping());
    // `r` then `s`: the next run starts at once, and the old run's model
    // never shows up as the new one's ended run
    let (tx, rx) = mpsc::channel();
    training
        .start(softmax_run(), move |ev| tx.send(ev).is_ok())
        .expect("thread starts");
    assert!(!training.stopping());
    drop(release);
    assert!(
        rx.recv_timeout(Duration::from_secs(20)).is_ok(),
        "the new run reports"
    );
    training.stop();
    assert!(wait_ended(&mut training));
}
