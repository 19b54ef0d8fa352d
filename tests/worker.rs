//! The training worker on a few hundred shipped MNIST images with a test
//! receiver: the event sequence, Pause/Resume, Stop within a bounded time,
//! a dropped receiver ending the thread, SetLr reaching the optimizer, and
//! a diverging run pausing with the step named (and `Failed` if stopped then).
//!
//! No test waits on the training thread without a bound: every wait on its
//! channel uses `recv_timeout`, fails at once (with the worker's own
//! `Failed` message) when the thread dies or ends early, fails within
//! `SILENT` when a running worker goes quiet, and stopping or dropping a
//! worker gives its thread `PROMPT` to end (see `Guarded`).

use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::LayerSpec;
use dl_lab::train::{ClassifierRun, RunEvent, RunId, TrainCommand, TrainEvent, Worker};

/// Generous bound for anything the worker must do "promptly" on a loaded
/// 2-core machine; a softmax batch of 50 images takes well under 1 ms.
const PROMPT: Duration = Duration::from_secs(3);

/// A training worker reports every `REPORT_MS` (50 ms) while it runs; this
/// long without any event means it hangs.
const SILENT: Duration = Duration::from_secs(5);

/// The first batch of a fresh worker, or a whole short run (2 epochs of
/// 300 images, a divergence within 2 epochs): milliseconds of work.
const RUN: Duration = Duration::from_secs(20);

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

/// Stop `worker` and wait for its thread, at most `limit`: `Worker::stop`
/// joins the thread, which would block for ever on a hung worker, so it
/// runs on a helper thread (left behind if the worker never ends).
fn stop_within(worker: Worker, limit: Duration) -> Result<Option<ClassifierRun>, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(worker.stop());
    });
    match rx.recv_timeout(limit) {
        Ok(run) => Ok(run),
        Err(RecvTimeoutError::Timeout) => Err(format!(
            "the training thread did not end within {limit:?} of Stop: it hangs"
        )),
        Err(RecvTimeoutError::Disconnected) => Err("Worker::stop panicked".into()),
    }
}

/// A worker that is never waited on without a bound: `stop` and drop (also
/// while a failing test unwinds) give the thread `PROMPT` to end.
struct Guarded(Option<Worker>);

impl Guarded {
    /// Ask the worker to stop; the run unless the thread panicked. Fails
    /// the test if the thread does not end within `PROMPT`.
    fn stop(mut self) -> Option<ClassifierRun> {
        let worker = self.0.take().expect("a worker is stopped once");
        stop_within(worker, PROMPT).unwrap_or_else(|why| panic!("{why}"))
    }
}

impl Deref for Guarded {
    type Target = Worker;
    fn deref(&self) -> &Worker {
        self.0.as_ref().expect("not stopped yet")
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(worker) = self.0.take() {
            if let Err(why) = stop_within(worker, PROMPT) {
                if std::thread::panicking() {
                    eprintln!("{why}");
                } else {
                    panic!("{why}");
                }
            }
        }
    }
}

/// The run id the tests' workers tag their reports with.
const RUN_ID: RunId = 7;

/// The report, or a `Failed` naming the wrong tag (the waits then fail).
fn untag(ev: RunEvent) -> TrainEvent {
    if ev.run == RUN_ID {
        ev.event
    } else {
        TrainEvent::Failed(format!("a report tagged run {}, not {RUN_ID}", ev.run))
    }
}

fn spawn(run: ClassifierRun) -> (Guarded, Receiver<TrainEvent>) {
    let (tx, rx) = mpsc::channel();
    let worker =
        Worker::spawn(RUN_ID, run, move |ev| tx.send(untag(ev)).is_ok()).expect("thread starts");
    (Guarded(Some(worker)), rx)
}

/// The next event before `deadline`; panics, naming what it waited for,
/// when the worker is silent for `silent`, when the deadline passes, or
/// when the thread has ended (its sender dropped: it died or finished).
fn next_event(
    rx: &Receiver<TrainEvent>,
    deadline: Instant,
    silent: Duration,
    what: &str,
    seen: &[&'static str],
) -> TrainEvent {
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left.min(silent)) {
        Ok(ev) => ev,
        Err(RecvTimeoutError::Timeout) if left > silent => panic!(
            "waiting for {what}: no event from the worker for {silent:?} (it hangs); \
             events so far: {seen:?}"
        ),
        Err(RecvTimeoutError::Timeout) => {
            panic!("waiting for {what}: not there in time; events so far: {seen:?}")
        }
        Err(RecvTimeoutError::Disconnected) => panic!(
            "waiting for {what}: the training thread ended (it died) without it; \
             events so far: {seen:?}"
        ),
    }
}

/// Events until `Finished`/`Failed` (inclusive); panics after `limit`, when
/// the worker is silent for `SILENT`, or when the thread ends without either.
fn collect_to_end(rx: &Receiver<TrainEvent>, limit: Duration) -> Vec<TrainEvent> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    loop {
        let ev = next_event(rx, deadline, SILENT, "Finished or Failed", &seen);
        let end = matches!(ev, TrainEvent::Finished { .. } | TrainEvent::Failed(_));
        seen.push(name(&ev));
        out.push(ev);
        if end {
            return out;
        }
    }
}

/// Wait for the first event `pred` accepts; panics after `limit`, when the
/// worker is silent for `SILENT`, or at once when the run ends without it
/// (a `Failed` event's message is in the panic) or the thread dies.
fn wait_for(
    rx: &Receiver<TrainEvent>,
    limit: Duration,
    pred: impl Fn(&TrainEvent) -> bool,
) -> TrainEvent {
    wait_for_within(rx, limit, SILENT, pred)
}

fn wait_for_within(
    rx: &Receiver<TrainEvent>,
    limit: Duration,
    silent: Duration,
    pred: impl Fn(&TrainEvent) -> bool,
) -> TrainEvent {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let ev = next_event(rx, deadline, silent, "an awaited event", &seen);
        if pred(&ev) {
            return ev;
        }
        seen.push(name(&ev));
        match ev {
            TrainEvent::Failed(msg) => {
                panic!("the worker failed before the awaited event: {msg}; events: {seen:?}")
            }
            TrainEvent::Finished { .. } => {
                panic!("the worker finished before the awaited event; events: {seen:?}")
            }
            _ => {}
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
        TrainEvent::Saved { .. } => "Saved",
    }
}

#[test]
fn a_run_reports_started_batches_epochs_snapshots_and_finished() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 2));
    let events = collect_to_end(&rx, RUN);
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

    // the starting parameters; every epoch: at least one Batch (with a
    // snapshot among them at most every SNAPSHOT_MS), then Epoch, then Snapshot
    assert_eq!(names[1], "Snapshot", "{names:?}");
    let epoch_at: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == "Epoch")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(epoch_at.len(), 2, "{names:?}");
    assert!(
        names[2..epoch_at[0]]
            .iter()
            .all(|n| *n == "Batch" || *n == "Snapshot")
            && names[2..epoch_at[0]].contains(&"Batch"),
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
    wait_for(&rx, RUN, |e| matches!(e, TrainEvent::Batch { .. }));
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
    wait_for(&rx, RUN, |e| matches!(e, TrainEvent::Batch { .. }));
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
    wait_for(&rx, RUN, |e| matches!(e, TrainEvent::Batch { .. }));
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
    let ev = next_event(&rx, Instant::now() + PROMPT, PROMPT, "Resumed", &[]);
    assert!(
        matches!(ev, TrainEvent::Resumed),
        "expected Resumed, got {ev:?}"
    );
    wait_for(&rx, PROMPT, |e| matches!(e, TrainEvent::Batch { .. }));
    assert!(worker.stop().is_some());
}

#[test]
fn a_dropped_receiver_ends_the_thread() {
    let (worker, rx) = spawn(softmax_run(300, |h| h.epochs = 100_000));
    wait_for(&rx, RUN, |e| matches!(e, TrainEvent::Batch { .. }));
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
    wait_for(&rx, RUN, |e| matches!(e, TrainEvent::Batch { .. }));
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
    hyper.optimizer = "sgd".parse().expect("sgd is an optimizer");
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
    let diverged = wait_for(rx, RUN, |e| matches!(e, TrainEvent::Diverged { .. }));
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
    let ev = next_event(&rx, Instant::now() + PROMPT, PROMPT, "Resumed", &[]);
    assert!(
        matches!(ev, TrainEvent::Resumed),
        "expected Resumed, got {ev:?}"
    );
    // training goes on past the skipped step (the weights may already be
    // NaN, in which case the next batch reports a divergence again)
    wait_for(&rx, PROMPT, |e| {
        matches!(e, TrainEvent::Batch { .. } | TrainEvent::Diverged { .. })
    });
    assert!(worker.stop().is_some());
}

/// A layer with a bug: it panics on call number `.0` (0 = the first).
struct PanicsOnCall(usize, AtomicUsize);

impl dl_lab::nn::Module for PanicsOnCall {
    fn forward(&self, x: &dl_lab::Tensor) -> dl_lab::Result<dl_lab::Tensor> {
        if self.1.fetch_add(1, Ordering::SeqCst) == self.0 {
            panic!("a bug in a layer");
        }
        Ok(x.clone())
    }
    fn describe(&self) -> String {
        "PanicsOnCall".into()
    }
}

fn with_layer(layer: impl dl_lab::nn::Module + 'static) -> ClassifierRun {
    let mut run = softmax_run(200, |h| h.epochs = 1);
    run.model.layers.push(Box::new(layer));
    run
}

#[test]
fn a_panic_in_training_ends_the_stream_with_failed() {
    let (worker, rx) = spawn(with_layer(PanicsOnCall(1, AtomicUsize::new(0))));
    let events = collect_to_end(&rx, PROMPT);
    match events.last() {
        Some(TrainEvent::Failed(msg)) => {
            assert!(msg.contains("a bug in a layer"), "{msg}")
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(
        worker.stop().is_some(),
        "the panic was caught in the thread"
    );
}

// ---------------------------------------------------------------- the waits themselves

/// Run `wait` (which should panic) and return its panic message and how long it took.
fn panics_with(wait: impl FnOnce()) -> (String, Duration) {
    let t = Instant::now();
    let payload = panic::catch_unwind(AssertUnwindSafe(wait))
        .expect_err("the wait should have failed the test");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    (msg, t.elapsed())
}

#[test]
fn waiting_on_a_worker_that_fails_ends_at_once_with_its_message() {
    // The first forward pass panics: the worker reports Failed and ends.
    // A wait for a batch with a 10-minute limit must fail within seconds,
    // saying why.
    let (worker, rx) = spawn(with_layer(PanicsOnCall(0, AtomicUsize::new(0))));
    let (msg, took) = panics_with(|| {
        wait_for(&rx, Duration::from_secs(600), |e| {
            matches!(e, TrainEvent::Batch { .. })
        });
    });
    assert!(took < PROMPT, "the wait took {took:?}");
    assert!(
        msg.contains("failed") && msg.contains("a bug in a layer"),
        "{msg}"
    );
    assert!(worker.stop().is_some());
}

#[test]
fn waiting_on_a_dead_training_thread_ends_at_once() {
    // The thread itself dies: the event sink panics from the third event on,
    // so even the worker's Failed report panics and unwinds out of the
    // thread. Its sender is dropped with it: waits end at once.
    let (tx, rx) = mpsc::channel();
    let sent = AtomicUsize::new(0);
    let worker = Worker::spawn(
        RUN_ID,
        softmax_run(300, |h| h.epochs = 100_000),
        move |ev| {
            if sent.fetch_add(1, Ordering::SeqCst) >= 2 {
                panic!("the event sink broke");
            }
            tx.send(untag(ev)).is_ok()
        },
    )
    .expect("thread starts");
    let worker = Guarded(Some(worker));
    let (msg, took) = panics_with(|| {
        collect_to_end(&rx, Duration::from_secs(600));
    });
    assert!(took < PROMPT, "the wait took {took:?}");
    assert!(msg.contains("ended (it died)"), "{msg}");
    let (msg, _) = panics_with(|| {
        wait_for(&rx, Duration::from_secs(600), |_| true);
    });
    assert!(msg.contains("ended (it died)"), "{msg}");
    // the sender goes while the thread unwinds; the thread ends right after
    let t = Instant::now();
    while !worker.is_finished() {
        assert!(t.elapsed() < PROMPT, "the dead thread did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(worker.stop().is_none(), "the thread panicked");
}

/// A layer that blocks in its forward pass until the test drops the sender.
struct BlocksUntilReleased(Mutex<Receiver<()>>);

impl dl_lab::nn::Module for BlocksUntilReleased {
    fn forward(&self, _x: &dl_lab::Tensor) -> dl_lab::Result<dl_lab::Tensor> {
        let _ = self.0.lock().expect("one caller").recv();
        Err(dl_lab::Error::Config("released by the test".into()))
    }
    fn describe(&self) -> String {
        "BlocksUntilReleased".into()
    }
}

#[test]
fn waiting_on_a_hung_worker_fails_within_the_silence_bound() {
    let (release, blocked) = mpsc::channel::<()>();
    let (mut worker, rx) = spawn(with_layer(BlocksUntilReleased(Mutex::new(blocked))));
    wait_for(&rx, RUN, |e| matches!(e, TrainEvent::Started { .. }));
    // the first batch never comes: a silent worker fails the wait after
    // `silent`, not after the 10-minute limit
    let silent = Duration::from_millis(300);
    let (msg, took) = panics_with(|| {
        wait_for_within(&rx, Duration::from_secs(600), silent, |e| {
            matches!(e, TrainEvent::Batch { .. })
        });
    });
    assert!(took >= silent && took < PROMPT, "the wait took {took:?}");
    assert!(msg.contains("hangs"), "{msg}");
    // and stopping a hung worker fails within its bound instead of joining for ever
    let hung = worker.0.take().expect("running");
    let t = Instant::now();
    let Err(why) = stop_within(hung, silent) else {
        panic!("a hung worker cannot stop")
    };
    assert!(t.elapsed() < PROMPT && why.contains("hangs"), "{why}");
    // released, the forward pass fails and the thread ends (the helper
    // thread's join then returns)
    drop(release);
    let events = collect_to_end(&rx, PROMPT);
    assert!(
        matches!(
            events.last(),
            Some(TrainEvent::Failed(_) | TrainEvent::Finished { stopped: true })
        ),
        "{:?}",
        events.iter().map(name).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------- run ids and the paused clock

#[test]
fn every_report_carries_the_runs_id() {
    let (tx, rx) = mpsc::channel();
    let worker = Worker::spawn(42, softmax_run(300, |h| h.epochs = 1), move |ev| {
        tx.send(ev).is_ok()
    })
    .expect("thread starts");
    let worker = Guarded(Some(worker));
    let mut tags = Vec::new();
    let deadline = Instant::now() + RUN;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = rx
            .recv_timeout(left)
            .expect("the run reports until it ends");
        tags.push(ev.run);
        if matches!(
            ev.event,
            TrainEvent::Finished { .. } | TrainEvent::Failed(_)
        ) {
            break;
        }
    }
    // Started, snapshots, batches, the epoch, Finished: all tagged 42
    assert!(tags.len() >= 5, "{tags:?}");
    assert!(tags.iter().all(|&t| t == 42), "{tags:?}");
    assert!(worker.stop().is_some());
}

/// The rate a run reports counts training time only: a run paused for a
/// second in its first epoch reports the epoch's images over the time it
/// trained, not over the time it waited. The worker trained for at most
/// the test's wall time less the time it surely waited (from `Paused`
/// received to `Resume` sent), so its rate is at least the images over
/// that (with a factor 2 to spare); counting the pause would give a rate
/// several times lower.
#[test]
fn the_reported_rate_leaves_out_the_time_paused() {
    // On a loaded machine this thread can be descheduled long enough for a
    // short epoch to end before the pause reaches it (the send then fails):
    // try again with a longer epoch rather than fail on the scheduler.
    for n in [300, 1500, 4000] {
        let started = Instant::now();
        let (worker, rx) = spawn(softmax_run(n, |h| h.epochs = 1));
        // taken at a batch boundary, mid-epoch (n / 50 batches)
        if worker.commands.send(TrainCommand::Pause).is_err() {
            eprintln!("the {n}-image epoch ended before the pause; trying a longer one");
            continue;
        }
        if !paused_or_ended(&rx) {
            eprintln!("the {n}-image epoch ended before the pause; trying a longer one");
            let _ = worker.stop();
            continue;
        }
        let paused_at = Instant::now();
        std::thread::sleep(Duration::from_millis(1000));
        let resumed_at = Instant::now();
        worker
            .commands
            .send(TrainCommand::Resume)
            .expect("a paused worker is alive");
        let events = collect_to_end(&rx, RUN);
        let wall = started.elapsed();
        let surely_paused = resumed_at - paused_at;
        let busy_at_most = (wall - surely_paused).as_secs_f32();
        let floor = 0.5 * n as f32 / busy_at_most;

        let Some(summary) = events.iter().find_map(|e| match e {
            TrainEvent::Epoch(s) => Some(s),
            _ => None,
        }) else {
            panic!(
                "an epoch summary: {:?}",
                events.iter().map(name).collect::<Vec<_>>()
            )
        };
        assert!(
            summary.img_per_s >= floor,
            "the epoch reported {} img/s; {n} images in at most {busy_at_most} s of training is at least {}",
            summary.img_per_s,
            2.0 * floor
        );
        // the epoch's last batch report (always sent) says the same
        let last = n / 50;
        let last_batch = events.iter().rev().find_map(|e| match e {
            TrainEvent::Batch {
                batch, img_per_s, ..
            } if *batch == last => Some(*img_per_s),
            _ => None,
        });
        let rate = last_batch.expect("the last batch is reported");
        assert!(
            rate >= floor,
            "{rate} img/s at the last batch, floor {floor}"
        );
        assert!(worker.stop().is_some());
        return;
    }
    panic!("even a 4,000-image epoch ended before a pause sent at its start reached it");
}

/// Wait for `Paused`; false when the run ended first.
fn paused_or_ended(rx: &Receiver<TrainEvent>) -> bool {
    loop {
        match rx.recv_timeout(RUN) {
            Ok(TrainEvent::Paused) => return true,
            Ok(TrainEvent::Failed(e)) => panic!("the run failed: {e}"),
            Ok(TrainEvent::Finished { .. }) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}
