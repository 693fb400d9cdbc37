//! [`StepHistory`]: what the store keeps of each finished step (object, times, outcome,
//! polls), for `runwait tasks --history` and for a poll schedule that learns how long an
//! object's tasks take.

use std::time::{Duration, SystemTime};

use runwait_core::TaskId;
use runwait_core::target::TaskTarget;
use serde::{Deserialize, Serialize};

use super::{RunKey, StepKey};
use crate::step::StepOutcome;

/// One finished step run: which object it ran, when, how long, how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepHistory {
    /// The workflow's name.
    pub workflow: String,
    /// The step's id.
    pub step_id: String,
    /// The run's key.
    pub run_key: RunKey,
    /// What the step ran.
    pub target: TaskTarget,
    /// The task it started or reattached to.
    pub task_id: Option<TaskId>,
    /// When the step began (wall clock).
    #[serde(with = "humantime_serde")]
    pub started_at: SystemTime,
    /// When it ended (wall clock).
    #[serde(with = "humantime_serde")]
    pub ended_at: SystemTime,
    /// How long it took, on the engine's clock.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Status requests made.
    pub polls: u32,
    /// How long the task ran, from leaving the queue to its end, as the polls saw it
    /// (what the poll schedule learns from); absent for a reattached wait and in entries
    /// written before runwait kept it.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub running: Option<Duration>,
}

impl StepHistory {
    /// The history entry of step run `key` on `target`, ended now after `duration`.
    pub fn ended_now(
        key: &StepKey,
        target: TaskTarget,
        outcome: StepOutcome,
        duration: Duration,
    ) -> Self {
        let ended_at = SystemTime::now();
        StepHistory {
            workflow: key.workflow.clone(),
            step_id: key.step_id.clone(),
            run_key: key.run_key.clone(),
            target,
            task_id: None,
            started_at: ended_at.checked_sub(duration).unwrap_or(ended_at),
            ended_at,
            duration,
            outcome,
            polls: 0,
            running: None,
        }
    }

    /// With the task.
    pub fn task_id(mut self, task_id: Option<TaskId>) -> Self {
        self.task_id = task_id;
        self
    }

    /// With the number of status requests.
    pub fn polls(mut self, polls: u32) -> Self {
        self.polls = polls;
        self
    }

    /// With the task's running time as the polls saw it.
    pub fn running(mut self, running: Option<Duration>) -> Self {
        self.running = running;
        self
    }

    /// With explicit wall-clock times (a store reading its rows back).
    pub fn times(mut self, started_at: SystemTime, ended_at: SystemTime) -> Self {
        self.started_at = started_at;
        self.ended_at = ended_at;
        self
    }

    /// The step run it belongs to.
    pub fn key(&self) -> StepKey {
        StepKey::new(&self.workflow, &self.step_id, self.run_key.clone())
    }
}

/// Which history entries to read: all, or one object's, newest first, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryQuery {
    /// Only the entries of this object (workspace, model, kind and object id).
    pub target: Option<TaskTarget>,
    /// Only the entries of this workflow.
    pub workflow: Option<String>,
    /// At most this many, the newest.
    pub limit: usize,
}

impl HistoryQuery {
    /// The newest `limit` entries of every object.
    pub fn newest(limit: usize) -> Self {
        HistoryQuery {
            target: None,
            workflow: None,
            limit,
        }
    }

    /// Only `target`'s entries.
    pub fn target(mut self, target: TaskTarget) -> Self {
        self.target = Some(target);
        self
    }

    /// Only `workflow`'s entries.
    pub fn workflow(mut self, workflow: impl Into<String>) -> Self {
        self.workflow = Some(workflow.into());
        self
    }

    /// Whether `entry` is one asked for (the limit aside).
    pub fn matches(&self, entry: &StepHistory) -> bool {
        self.target.as_ref().is_none_or(|t| t == &entry.target)
            && self.workflow.as_ref().is_none_or(|w| w == &entry.workflow)
    }

    /// The newest `limit` of `entries` (oldest first in, newest first out) that match.
    pub fn select(
        &self,
        entries: impl DoubleEndedIterator<Item = StepHistory>,
    ) -> Vec<StepHistory> {
        entries
            .rev()
            .filter(|e| self.matches(e))
            .take(self.limit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use runwait_core::target::TaskKind;

    use super::*;

    #[test]
    fn the_running_time_is_kept_and_entries_without_it_still_read() {
        let entry = StepHistory::ended_now(
            &StepKey::new("w", "s", "r1"),
            TaskTarget::new("w", "M", TaskKind::Process, "118000000001"),
            StepOutcome::Succeeded,
            Duration::from_secs(95),
        );
        // An entry of an earlier version: no `running`.
        let old = serde_json::to_string(&entry).unwrap();
        assert!(!old.contains("running"), "{old}");
        assert_eq!(serde_json::from_str::<StepHistory>(&old).unwrap(), entry);
        let timed = entry.running(Some(Duration::from_secs(90)));
        let line = serde_json::to_string(&timed).unwrap();
        assert!(line.contains(r#""running":"1m 30s""#), "{line}");
        assert_eq!(serde_json::from_str::<StepHistory>(&line).unwrap(), timed);
    }
}
