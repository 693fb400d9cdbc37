//! The life of a step as an explicit [`Phase`], and the pure decisions between phases:
//! what an earlier run's record means ([`recovery`]), what to do after each wake of the
//! wait ([`decide`]), and how a cancel ended ([`after_cancel`]). No I/O here, so every
//! branch is tested without HTTP.

use std::time::Duration;

use runwait_core::target::KnownTasks;
use runwait_core::{Outcome, TaskId};
use tokio::time::Instant;

use super::admission::Admitted;
use crate::step::{StepOutcome, StepResult};
use crate::store::StepRecord;

/// What a poll that begins at or after the deadline (the last look, which may find the
/// task complete) may take before the deadline stops it.
pub(crate) const LAST_LOOK: Duration = Duration::from_secs(5);

/// What stopped a wait before its call answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The runner detached.
    Detach,
    /// The runner aborted.
    Abort,
    /// The deadline passed (or, in a cancel, the grace period ended).
    Deadline,
}

/// Until when a call begun at `now` may run: the deadline, or for the last look at or
/// after it, [`LAST_LOOK`] more. `None` without a deadline.
pub(crate) fn call_until(now: Instant, deadline: Option<Instant>) -> Option<Instant> {
    deadline.map(|d| if now >= d { now + LAST_LOOK } else { d })
}

/// How a step ends when a stop comes before it has a task: an abort or a detach is
/// `cancelled` (nothing was started), the deadline `timed_out`.
pub(crate) fn stopped_before_task(stop: Stop) -> StepOutcome {
    match stop {
        Stop::Detach | Stop::Abort => StepOutcome::Cancelled,
        Stop::Deadline => StepOutcome::TimedOut,
    }
}

/// Why the remote task is being cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelCause {
    /// The runner aborted.
    Abort,
    /// The deadline passed.
    Timeout,
}

/// What a finished task's result says beyond its outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Then {
    /// Nothing more.
    AsIs,
    /// A note in brackets after the message.
    Note(&'static str),
    /// The step timed out, but the task completed after the cancel request.
    TimedOut {
        /// The step's timeout.
        after: Duration,
        /// Anaplan's `successful`.
        successful: bool,
        /// What happened to the cancel request, if anything.
        note: String,
    },
}

/// Where a step is in its life. Each phase's work returns the next phase.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Take the step run in the state store (held to the end).
    Lock,
    /// Look for a task an earlier run started (reattach) or a lost start created (adopt).
    Recover {
        /// The step's place among those in their first phases, freed once the records
        /// are read.
        admitted: Admitted,
    },
    /// List the object's tasks and save them, then start.
    List,
    /// Start a task; `known` is saved already.
    Start {
        /// The object's tasks before the start (boxed, as `Finish`'s).
        known: Box<KnownTasks>,
    },
    /// Poll the task until it ends or the wait is left.
    Wait {
        /// The task.
        task: TaskId,
    },
    /// Cancel the remote task and wait the grace period for `CANCELLED`.
    Cancel {
        /// The task.
        task: TaskId,
        /// Why.
        cause: CancelCause,
    },
    /// Download the dumps of the finished task and build the result. Boxed: a waiting
    /// step keeps room for its next phase, and this one is the largest.
    Finish(Box<Ending>),
    /// The step's result.
    Done(Box<StepResult>),
}

/// How a task ended, for [`Phase::Finish`].
#[derive(Debug)]
pub(crate) struct Ending {
    /// The task.
    pub(crate) task: TaskId,
    /// Its classification.
    pub(crate) outcome: Outcome,
    /// What the message adds.
    pub(crate) then: Then,
}

impl Phase {
    /// [`Phase::Finish`] of `task`.
    pub(crate) fn finish(task: TaskId, outcome: Outcome, then: Then) -> Phase {
        Phase::Finish(Box::new(Ending {
            task,
            outcome,
            then,
        }))
    }
}

/// What the record of an earlier run of this step run means.
#[derive(Debug, PartialEq)]
pub(crate) enum Recovery {
    /// It started a task: wait on it.
    Reattach(TaskId),
    /// It crashed between the start and the save of its answer: adopt what it created.
    Adopt(KnownTasks),
    /// Nothing was started.
    Fresh,
}

/// What the record of an earlier run of this step run (of the same target) means, and,
/// for a retry without one, the record of the attempt it retries: an attempt that saved
/// its known tasks but no task (its start failed, perhaps ambiguously) may still have
/// created one, which the retry adopts rather than start another.
pub(crate) fn recovery(earlier: Option<StepRecord>, previous: Option<StepRecord>) -> Recovery {
    match (earlier, previous) {
        (
            Some(StepRecord {
                task_id: Some(task),
                ..
            }),
            _,
        ) => Recovery::Reattach(task),
        (Some(record), _) => Recovery::Adopt(record.known_tasks),
        (None, Some(record)) if record.task_id.is_none() => Recovery::Adopt(record.known_tasks),
        (None, _) => Recovery::Fresh,
    }
}

/// What woke the wait.
#[derive(Debug)]
pub(crate) enum Observation<E> {
    /// A detach, an abort or the deadline, before a poll answered.
    Stopped(Stop),
    /// A poll answered, classified.
    Status(Outcome),
    /// A poll failed.
    Failed {
        /// Why.
        error: E,
        /// Whether a later poll may do better.
        transient: bool,
        /// How long polls have been failing in a row.
        unreachable_for: Duration,
    },
}

/// What the wait does next.
#[derive(Debug, PartialEq)]
pub(crate) enum Next<E> {
    /// Stop waiting; the task keeps running.
    Detach,
    /// Cancel the remote task.
    Cancel(CancelCause),
    /// The task ended: finish with this outcome.
    Finish(Outcome),
    /// Poll again on the schedule; `failed` when this poll failed.
    PollAgain {
        /// The failure of this poll, if it failed.
        failed: Option<E>,
    },
    /// The API stayed unreachable longer than the tolerance: the step is an error.
    Unreachable {
        /// The last failure.
        error: E,
        /// For how long.
        unreachable_for: Duration,
    },
    /// The status request was refused for good: the step is an error.
    Refused(E),
}

/// The decision after each wake of the wait. `past_deadline` is whether the deadline has
/// passed; `tolerance` how long the API may stay unreachable.
pub(crate) fn decide<E>(seen: Observation<E>, past_deadline: bool, tolerance: Duration) -> Next<E> {
    match seen {
        Observation::Stopped(stop) => after_stop(stop),
        Observation::Status(outcome) if outcome.is_terminal() => Next::Finish(outcome),
        Observation::Status(_) if past_deadline => Next::Cancel(CancelCause::Timeout),
        Observation::Status(_) => Next::PollAgain { failed: None },
        Observation::Failed {
            error,
            transient: false,
            ..
        } => Next::Refused(error),
        Observation::Failed {
            error,
            unreachable_for,
            ..
        } if unreachable_for >= tolerance => Next::Unreachable {
            error,
            unreachable_for,
        },
        Observation::Failed { .. } if past_deadline => Next::Cancel(CancelCause::Timeout),
        Observation::Failed { error, .. } => Next::PollAgain {
            failed: Some(error),
        },
    }
}

/// What a stop means once there is a task: a detach leaves it running, an abort or the
/// deadline cancels it.
pub(crate) fn after_stop<E>(stop: Stop) -> Next<E> {
    match stop {
        Stop::Detach => Next::Detach,
        Stop::Abort => Next::Cancel(CancelCause::Abort),
        Stop::Deadline => Next::Cancel(CancelCause::Timeout),
    }
}

/// How a cancel ended.
#[derive(Debug, PartialEq)]
pub(crate) enum AfterCancel {
    /// Aborted, but the task completed (it could not roll back): its real outcome.
    Completed(Outcome),
    /// Aborted, the cancel request failed and the task is not cancelled: it may still
    /// run, so the step is detached (reattachable).
    Uncancelled,
    /// Aborted and cancelled (or gone quiet within the grace).
    Cancelled,
    /// Timed out, and the task completed after the cancel request.
    TimedOutCompleted {
        /// Its classification.
        outcome: Outcome,
        /// Anaplan's `successful`.
        successful: bool,
    },
    /// Timed out, and the task cancelled (or cancelling within the grace).
    TimedOut,
    /// Timed out, but the cancel request did not happen and the task is not cancelled:
    /// it may still be running.
    TimedOutUncancelled,
}

/// The end of a cancel: its cause, the task's classification and `successful` if it
/// completed, whether the cancel request failed, and whether the task is `CANCELLED`.
pub(crate) fn after_cancel(
    cause: CancelCause,
    completed: Option<(Outcome, bool)>,
    request_failed: bool,
    cancelled: bool,
) -> AfterCancel {
    match (cause, completed) {
        (CancelCause::Abort, Some((outcome, _))) => AfterCancel::Completed(outcome),
        (CancelCause::Abort, None) if request_failed && !cancelled => AfterCancel::Uncancelled,
        (CancelCause::Abort, None) => AfterCancel::Cancelled,
        (CancelCause::Timeout, Some((outcome, successful))) => AfterCancel::TimedOutCompleted {
            outcome,
            successful,
        },
        (CancelCause::Timeout, None) if request_failed && !cancelled => {
            AfterCancel::TimedOutUncancelled
        }
        (CancelCause::Timeout, None) => AfterCancel::TimedOut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runwait_core::TaskState;
    use runwait_core::target::{TaskKind, TaskTarget};

    use crate::store::StepKey;

    const TOLERANCE: Duration = Duration::from_secs(600);

    fn pending() -> Outcome {
        Outcome::Pending {
            state: TaskState::InProgress,
        }
    }

    fn failed(transient: bool, secs: u64) -> Observation<&'static str> {
        Observation::Failed {
            error: "boom",
            transient,
            unreachable_for: Duration::from_secs(secs),
        }
    }

    #[test]
    fn the_record_of_an_earlier_run_decides_reattach_adopt_or_fresh() {
        let key = StepKey::new("w", "s", "r1");
        let target = TaskTarget::new("w", "M", TaskKind::Action, "117000000001");
        let known: KnownTasks = [TaskId::new("OLD")].into_iter().collect();
        let record = StepRecord::new(&key, target, known.clone());
        let started = record.clone().task_id(Some(TaskId::new("T")));
        assert_eq!(recovery(None, None), Recovery::Fresh);
        assert_eq!(
            recovery(Some(record.clone()), None),
            Recovery::Adopt(known.clone())
        );
        assert_eq!(
            recovery(Some(started.clone()), None),
            Recovery::Reattach(TaskId::new("T"))
        );
        // A retry: the attempt before it started nothing sure, so its task is looked
        // for; a task it did start (and that ended) is not this retry's.
        assert_eq!(
            recovery(None, Some(record.clone())),
            Recovery::Adopt(known.clone())
        );
        assert_eq!(recovery(None, Some(started.clone())), Recovery::Fresh);
        assert_eq!(
            recovery(Some(started), Some(record)),
            Recovery::Reattach(TaskId::new("T"))
        );
    }

    #[test]
    fn detach_abort_and_deadline_leave_the_wait_whatever_else() {
        for past in [false, true] {
            assert_eq!(
                decide::<&str>(Observation::Stopped(Stop::Detach), past, TOLERANCE),
                Next::Detach
            );
            assert_eq!(
                decide::<&str>(Observation::Stopped(Stop::Abort), past, TOLERANCE),
                Next::Cancel(CancelCause::Abort)
            );
            assert_eq!(
                decide::<&str>(Observation::Stopped(Stop::Deadline), past, TOLERANCE),
                Next::Cancel(CancelCause::Timeout)
            );
        }
    }

    #[test]
    fn a_stop_before_the_task_ends_the_step_without_a_start() {
        assert_eq!(stopped_before_task(Stop::Detach), StepOutcome::Cancelled);
        assert_eq!(stopped_before_task(Stop::Abort), StepOutcome::Cancelled);
        assert_eq!(stopped_before_task(Stop::Deadline), StepOutcome::TimedOut);
    }

    #[test]
    fn a_call_runs_to_the_deadline_and_the_last_look_a_little_past_it() {
        let now = Instant::now();
        let later = now + Duration::from_secs(8);
        assert_eq!(call_until(now, None), None);
        assert_eq!(call_until(now, Some(later)), Some(later));
        assert_eq!(call_until(later, Some(later)), Some(later + LAST_LOOK));
        assert_eq!(call_until(later, Some(now)), Some(later + LAST_LOOK));
    }

    #[test]
    fn a_terminal_status_finishes_even_past_the_deadline() {
        for past in [false, true] {
            assert_eq!(
                decide::<&str>(Observation::Status(Outcome::Succeeded), past, TOLERANCE),
                Next::Finish(Outcome::Succeeded)
            );
        }
    }

    #[test]
    fn a_running_task_is_polled_again_until_the_deadline_then_cancelled() {
        assert_eq!(
            decide::<&str>(Observation::Status(pending()), false, TOLERANCE),
            Next::PollAgain { failed: None }
        );
        assert_eq!(
            decide::<&str>(Observation::Status(pending()), true, TOLERANCE),
            Next::Cancel(CancelCause::Timeout)
        );
    }

    #[test]
    fn a_transient_failure_waits_on_until_the_tolerance_or_the_deadline() {
        assert_eq!(
            decide(failed(true, 10), false, TOLERANCE),
            Next::PollAgain {
                failed: Some("boom")
            }
        );
        assert_eq!(
            decide(failed(true, 10), true, TOLERANCE),
            Next::Cancel(CancelCause::Timeout)
        );
        // The tolerance is checked first: an API gone for good is an error, not a cancel.
        for past in [false, true] {
            assert_eq!(
                decide(failed(true, 600), past, TOLERANCE),
                Next::Unreachable {
                    error: "boom",
                    unreachable_for: Duration::from_secs(600)
                }
            );
        }
    }

    #[test]
    fn a_refused_poll_is_an_error_at_once() {
        for past in [false, true] {
            assert_eq!(
                decide(failed(false, 0), past, TOLERANCE),
                Next::Refused("boom")
            );
        }
    }

    #[test]
    fn a_cancel_ends_by_its_cause_and_what_the_task_did() {
        use CancelCause::{Abort, Timeout};
        let done = || Some((Outcome::Succeeded, true));
        assert_eq!(
            after_cancel(Abort, done(), false, false),
            AfterCancel::Completed(Outcome::Succeeded)
        );
        assert_eq!(
            after_cancel(Abort, None, true, false),
            AfterCancel::Uncancelled
        );
        assert_eq!(
            after_cancel(Abort, None, true, true),
            AfterCancel::Cancelled
        );
        assert_eq!(
            after_cancel(Abort, None, false, false),
            AfterCancel::Cancelled
        );
        assert_eq!(
            after_cancel(Timeout, done(), true, false),
            AfterCancel::TimedOutCompleted {
                outcome: Outcome::Succeeded,
                successful: true
            }
        );
        assert_eq!(
            after_cancel(Timeout, None, true, false),
            AfterCancel::TimedOutUncancelled
        );
        assert_eq!(
            after_cancel(Timeout, None, true, true),
            AfterCancel::TimedOut
        );
        assert_eq!(
            after_cancel(Timeout, None, false, false),
            AfterCancel::TimedOut
        );
    }
}
