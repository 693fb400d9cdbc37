//! The embedding contract: a [`Step`] takes a [`StepContext`] and returns a [`StepResult`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runwait_core::{NestedSummary, ObjectId, Outcome, Reason, TaskId, TaskState};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::{RunKey, StateStore};

/// What a pipeline runner embeds: one unit of work with a clear outcome.
#[async_trait]
pub trait Step: Send + Sync {
    /// Runs the step to its outcome. Never panics on remote trouble: every failure is an
    /// outcome with a message.
    async fn run(&self, ctx: StepContext) -> StepResult;
}

/// Everything a step gets from its runner.
#[derive(Clone)]
pub struct StepContext {
    /// The step's id in its workflow (`load_actuals`).
    pub step_id: String,
    /// The workflow's name, part of the state-store key.
    pub workflow: String,
    /// The run's key: a rerun with the same key reattaches instead of starting again.
    pub run_key: RunKey,
    /// Fires when the user aborts: the remote task is cancelled, then `cancelled`.
    pub cancel: CancellationToken,
    /// Fires to stop waiting without cancelling: the task keeps running and stays in
    /// the state store for a rerun; the outcome is `detached`.
    pub detach: CancellationToken,
    /// When the step times out: the remote task is cancelled, then `timed_out`.
    pub deadline: Option<Instant>,
    /// Where started tasks are remembered for reattaching.
    pub state: StateStore,
    /// Where failure dumps go (`<out_dir>/<step_id>/…`).
    pub out_dir: PathBuf,
    /// Progress for the runner's display.
    pub events: EventSink,
}

/// The outcome of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Complete and successful.
    Succeeded,
    /// Complete and successful, with warnings, rejected rows or dumps to look at.
    SucceededWithWarnings,
    /// Complete and not successful.
    Failed,
    /// Cancelled by the user (the remote task was cancelled).
    Cancelled,
    /// The deadline passed; the remote task was cancelled.
    TimedOut,
    /// Anaplan could not be reached or refused the calls (auth, permission, unknown ids).
    Error,
    /// The runner stopped waiting; the task keeps running and can be reattached.
    Detached,
}

impl StepOutcome {
    /// The name in output (`succeeded_with_warnings`, …).
    pub fn name(self) -> &'static str {
        match self {
            StepOutcome::Succeeded => "succeeded",
            StepOutcome::SucceededWithWarnings => "succeeded_with_warnings",
            StepOutcome::Failed => "failed",
            StepOutcome::Cancelled => "cancelled",
            StepOutcome::TimedOut => "timed_out",
            StepOutcome::Error => "error",
            StepOutcome::Detached => "detached",
        }
    }

    /// True for the two successes.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            StepOutcome::Succeeded | StepOutcome::SucceededWithWarnings
        )
    }

    /// The step outcome of a terminal classification.
    pub(crate) fn of(outcome: &Outcome) -> StepOutcome {
        match outcome {
            Outcome::Succeeded => StepOutcome::Succeeded,
            Outcome::SucceededWithWarnings { .. } => StepOutcome::SucceededWithWarnings,
            Outcome::Failed { .. } => StepOutcome::Failed,
            Outcome::Cancelled { .. } => StepOutcome::Cancelled,
            // A step only ends on a terminal task; a pending one here means no answer.
            Outcome::Pending { .. } => StepOutcome::Error,
        }
    }
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure dump of one action, as written to disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpFile {
    /// The action whose dump it is.
    pub object_id: ObjectId,
    /// Where it was written; `None` when the dump was gone (404).
    pub path: Option<PathBuf>,
    /// True when Anaplan no longer had the dump.
    pub gone: bool,
    /// Bytes written.
    pub bytes: u64,
    /// Rows with `_Status_` E.
    pub error_rows: u64,
    /// Rows with `_Status_` W.
    pub warning_rows: u64,
}

impl DumpFile {
    /// A dump with no file: gone from Anaplan (404), or not downloaded.
    pub fn missing(object_id: ObjectId, gone: bool) -> Self {
        DumpFile {
            object_id,
            path: None,
            gone,
            bytes: 0,
            error_rows: 0,
            warning_rows: 0,
        }
    }

    /// True when the download failed (the dump was not gone, yet no file was written).
    pub fn failed(&self) -> bool {
        self.path.is_none() && !self.gone
    }
}

/// What a step ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    /// The outcome.
    pub outcome: StepOutcome,
    /// The task, once started or reattached.
    pub task_id: Option<TaskId>,
    /// The task's last known state.
    pub task_state: Option<TaskState>,
    /// Anaplan's `successful`, when the task finished.
    pub successful: Option<bool>,
    /// True when the step waited on a task started by an earlier run.
    pub reattached: bool,
    /// One entry per action, with counts.
    pub nested: Vec<NestedSummary>,
    /// Failure reasons or warnings from the classification.
    pub reasons: Vec<Reason>,
    /// The failure dumps.
    pub dumps: Vec<DumpFile>,
    /// Status requests made.
    pub polls: u32,
    /// Time from the step's start to its outcome.
    pub elapsed: Duration,
    /// One line for a human.
    pub message: String,
}

impl StepResult {
    /// A result for a step that never got a task (bad configuration, auth failure).
    pub fn without_task(
        outcome: StepOutcome,
        message: impl Into<String>,
        elapsed: Duration,
    ) -> Self {
        StepResult {
            outcome,
            task_id: None,
            task_state: None,
            successful: None,
            reattached: false,
            nested: Vec::new(),
            reasons: Vec::new(),
            dumps: Vec::new(),
            polls: 0,
            elapsed,
            message: message.into(),
        }
    }
}

/// What a step tells its runner while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum StepEvent {
    /// A task was started (or a lost start adopted).
    Started {
        /// The task.
        task_id: TaskId,
        /// True when the start's reply was lost and the task found in the list.
        adopted: bool,
    },
    /// The step waits on a task an earlier run started.
    Reattached {
        /// The task.
        task_id: TaskId,
    },
    /// A status poll answered.
    Polled {
        /// The state seen.
        state: TaskState,
        /// The progress seen (0.0 to 1.0).
        progress: Option<f64>,
        /// Anaplan's free-text step ("Processing ...").
        current_step: Option<String>,
        /// When the next poll is due.
        next_poll_in: Duration,
    },
    /// A status poll failed for now; the wait goes on.
    PollFailed {
        /// Why.
        message: String,
    },
    /// The remote task is being cancelled (timeout or abort).
    Cancelling,
    /// A dump was written (or found gone).
    Dump(DumpFile),
}

/// Where a step sends its [`StepEvent`]s.
#[derive(Clone)]
pub struct EventSink(Arc<EventFn>);

type EventFn = dyn Fn(&str, StepEvent) + Send + Sync;

impl EventSink {
    /// Calls `f(step_id, event)` for each event.
    pub fn new(f: impl Fn(&str, StepEvent) + Send + Sync + 'static) -> Self {
        EventSink(Arc::new(f))
    }

    /// Drops every event.
    pub fn none() -> Self {
        EventSink::new(|_, _| {})
    }

    pub(crate) fn emit(&self, step_id: &str, event: StepEvent) {
        (self.0)(step_id, event)
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSink")
    }
}
