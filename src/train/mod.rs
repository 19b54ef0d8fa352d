//! Training loops shared by `dl-lab run` and the lab's worker thread, so
//! both train exactly the same way. Progress is reported through a callback
//! that can also ask the loop to stop.

pub mod checkpoint;
pub mod classifier;
pub mod epoch_csv;
pub mod history;
pub mod messages;
pub mod mistakes;
pub mod normalize;
pub mod race;
pub mod settings;
pub mod small;
pub mod task;
pub mod worker;

pub use checkpoint::{Checkpoint, RunState};
pub use classifier::{
    evaluate, evaluate_held_out, evaluate_loss, ClassifierRun, EpochSummary, HeldOut, Progress,
};
pub use epoch_csv::EpochCsv;
pub use history::LossHistory;
pub use messages::{RunEvent, RunId, TrainCommand, TrainEvent};
pub use mistakes::{Confusion, Predictions};
pub use settings::{Hyper, OptimizerSettings};
pub use small::{Condition, EpochRecord, SmallSession};
pub use task::{LossKind, Objective, SmallData, SmallModel, Task};
pub use worker::Worker;

/// What the progress callback answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}
