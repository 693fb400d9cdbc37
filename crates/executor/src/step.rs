//! The embedding contract: a [`Step`] takes a [`StepContext`] and returns a [`StepResult`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use runwait_core::{NestedSummary, ObjectId, Outcome, Reason, TaskId, TaskState};
use serde::{Deserialize, Serialize};

use crate::context::StepContext;

/// What a pipeline runner embeds: one unit of work with a clear outcome.
#[async_trait]
pub trait Step: Send + Sync {
    /// Runs the step to its outcome. Never panics on remote trouble: every failure is an
    /// outcome with a message.
    async fn run(&self, ctx: StepContext) -> StepResult;
}

/// The outcome of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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

/// What became of the remote cancel of a step that timed out or was aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CancelStatus {
    /// The task ended after the cancel: `CANCELLED`, or completed when it could not
    /// roll back.
    Done,
    /// Anaplan accepted the cancel, but the task had not ended within the grace period.
    Requested,
    /// The cancel did not happen (refused, or no answer within the retries and the
    /// grace period) and the task has not ended: it may still be running.
    Failed,
}

impl CancelStatus {
    /// The name in output (`done`, `requested`, `failed`).
    pub fn name(self) -> &'static str {
        match self {
            CancelStatus::Done => "done",
            CancelStatus::Requested => "requested",
            CancelStatus::Failed => "failed",
        }
    }
}

/// A failure dump of one action, as written to disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Set when the dump stayed shorter than the task's counts after every download:
    /// what is missing (`270 of 300 error rows`). Its file is kept as
    /// `<name>.csv.incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
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
            incomplete: None,
        }
    }

    /// True when the download failed (the dump was not gone, yet no file was written).
    pub fn failed(&self) -> bool {
        self.path.is_none() && !self.gone
    }
}

/// What a step ended with. Serializes (and deserializes) with serde, so a host can store
/// or send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// What became of the remote cancel, when the step asked for one (timeout or abort).
    #[serde(default)]
    pub cancel: Option<CancelStatus>,
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
            cancel: None,
            elapsed,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runwait_core::RowCounts;

    #[test]
    fn a_result_round_trips_through_json() {
        let counts = RowCounts {
            success_row_count: Some(4),
            other: [("fileSize".to_owned(), 120)].into(),
            ..RowCounts::default()
        };
        let mut result = StepResult::without_task(
            StepOutcome::SucceededWithWarnings,
            "succeeded_with_warnings: 1 row rejected",
            Duration::from_millis(1500),
        );
        result.task_id = Some(TaskId::new("A1B2"));
        result.task_state = Some(TaskState::Complete);
        result.successful = Some(true);
        result.reattached = true;
        result.polls = 3;
        result.cancel = Some(CancelStatus::Failed);
        result.nested = vec![NestedSummary {
            object_id: Some(ObjectId::new("112000000003")),
            object_name: Some("Customers".into()),
            successful: true,
            failure_dump_available: true,
            counts,
        }];
        result.dumps = vec![
            DumpFile {
                path: Some(PathBuf::from("out/load/1-112000000003-Customers.csv")),
                bytes: 42,
                error_rows: 1,
                ..DumpFile::missing(ObjectId::new("112000000003"), false)
            },
            DumpFile::missing(ObjectId::new("112000000004"), true),
        ];
        let json = serde_json::to_string(&result).unwrap();
        let back: StepResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back, result);
        assert!(
            json.contains(r#""outcome":"succeeded_with_warnings""#),
            "{json}"
        );
        assert!(json.contains(r#""cancel":"failed""#), "{json}");
    }
}
