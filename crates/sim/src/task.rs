//! A started task: its record, its phase at some time and the snapshot the control API
//! shows.

use std::time::Duration;

use runwait_core::{ModelId, ObjectId, TaskId, TaskState};
use serde::Serialize;

use crate::scenario::JobKind;

/// One started task.
#[derive(Debug, Clone)]
pub(crate) struct TaskRec {
    pub(crate) id: TaskId,
    pub(crate) model: ModelId,
    pub(crate) kind: JobKind,
    pub(crate) object: ObjectId,
    pub(crate) user: String,
    pub(crate) created: Duration,
    pub(crate) cancel_at: Option<Duration>,
}

/// Where a task is at some scenario time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    Queued,
    Running { progress: f64 },
    Cancelling { progress: f64 },
    Cancelled,
    Complete { start: Duration },
}

impl Phase {
    pub(crate) fn task_state(self) -> TaskState {
        match self {
            Phase::Queued => TaskState::NotStarted,
            Phase::Running { .. } => TaskState::InProgress,
            Phase::Cancelling { .. } => TaskState::Cancelling,
            Phase::Cancelled => TaskState::Cancelled,
            Phase::Complete { .. } => TaskState::Complete,
        }
    }
}

/// A task as the state API reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnapshot {
    /// The task id.
    pub task_id: TaskId,
    /// The model it runs on.
    pub model_id: ModelId,
    /// The import, export, action or process it runs.
    pub object_id: ObjectId,
    /// The user who started it.
    pub user: String,
    /// Its state now.
    pub task_state: TaskState,
    /// Its progress now.
    pub progress: f64,
}
