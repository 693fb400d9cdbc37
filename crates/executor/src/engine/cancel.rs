//! Cancel: ask Anaplan to cancel the task (timeout or abort), then wait up to the grace
//! period for `CANCELLED`. A detach still leaves at once, and a detach that came first
//! sends no cancel at all. The whole phase, the request's retries included, ends with
//! the grace period.

use std::time::Duration;

use runwait_core::{TaskId, TaskState, classify};
use tracing::Instrument;

use super::Run;
use super::phase::{AfterCancel, CancelCause, Phase, Stop, Then, after_cancel, call_until};
use super::race::Stops;
use crate::events::StepEvent;
use crate::step::{CancelStatus, StepOutcome};

impl Run<'_> {
    /// Requests the cancel, waits for it, and decides how the step ends.
    pub(super) async fn cancel(&mut self, task: TaskId, cause: CancelCause) -> Phase {
        // A detach wins over the abort or the deadline it came with: the task keeps
        // running, so no DELETE is sent.
        if self.ctx.detach().is_cancelled() {
            return self.detached(&task);
        }
        self.emit(StepEvent::Cancelling);
        let grace = self.config().cancel_grace;
        let grace_end = self.now() + grace;
        let stops = Stops::detach_or(grace_end);
        let span = tracing::info_span!("anaplan.task.cancel", anaplan.task.id = task.as_str());
        let request = || self.api().cancel(self.target(), &task).instrument(span);
        let sent = self.request(stops, request).await;
        let requested = match sent {
            Err(Stop::Detach) => {
                return self.done(
                    StepOutcome::Detached,
                    format!(
                        "detached while the cancel request was in flight: task {task} may be \
                         cancelling or still running in Anaplan; rerun with the same run key to reattach"
                    ),
                );
            }
            Err(_) => Err(format!(
                "no answer to the cancel request within the {}s grace period",
                grace.as_secs()
            )),
            Ok(Err(e)) => Err(format!("the cancel request failed: {e}")),
            Ok(Ok(())) => Ok(()),
        };
        let mut note = match &requested {
            Ok(()) => String::new(),
            Err(why) => {
                // The task may have ended on its own meanwhile: look once more.
                let look = self.look_within(grace_end);
                let seen = match self.admit_or(self.now(), look).await {
                    Ok(()) => self.poll(&task, 0, look).await.1,
                    Err(stop) => Err(stop),
                };
                match seen {
                    Err(Stop::Detach) => return self.detached(&task),
                    Ok(Ok(seen)) => self.last = Some(seen),
                    _ => {}
                }
                format!("; {why}")
            }
        };
        while requested.is_ok() {
            let at = (self.now() + self.config().poll.min_interval).min(grace_end);
            let pause = || async {
                self.step.env.sleep_until(at).await;
                self.admit(at).await;
            };
            // At the grace end the last look is still made.
            if self.race(stops, pause).await == Err(Stop::Detach) {
                return self.detached(&task);
            }
            // The grace period can outlast a lease: it is renewed here too.
            if let Err(lost) = self.keep_lease(false, stops).await {
                return lost;
            }
            let look = self.look_within(grace_end);
            match self.poll(&task, 0, look).await.1 {
                Err(Stop::Detach) => return self.detached(&task),
                Ok(Ok(seen)) => {
                    let ended = seen.is_terminal();
                    self.last = Some(seen);
                    if ended {
                        break;
                    }
                }
                _ => {}
            }
            if self.now() >= grace_end {
                note = format!(
                    "; still not cancelled after the {}s grace period",
                    grace.as_secs()
                );
                break;
            }
        }
        let state = self.last.as_ref().map(|t| t.task_state.clone());
        let state_text = state
            .as_ref()
            .map_or("unknown".to_owned(), |s| s.to_string());
        // A task that completed during the grace could not roll back: its real outcome,
        // and its dumps, are what the data says.
        let completed = self
            .last
            .as_ref()
            .filter(|t| t.task_state == TaskState::Complete)
            .map(|t| {
                let successful = t.result.as_ref().is_some_and(|r| r.successful);
                (classify(t, &self.config().outcome_policy), successful)
            });
        let cancelled = state == Some(TaskState::Cancelled);
        self.cancel = Some(if cancelled || completed.is_some() {
            CancelStatus::Done
        } else if requested.is_ok() {
            CancelStatus::Requested
        } else {
            CancelStatus::Failed
        });
        match after_cancel(cause, completed, requested.is_err(), cancelled) {
            AfterCancel::Completed(outcome) => Phase::finish(
                task,
                outcome,
                Then::Note("cancel requested, but the task could not roll back and completed"),
            ),
            // Not cancelled, maybe still running: say so, and keep it reattachable.
            AfterCancel::Uncancelled => self.done(
                StepOutcome::Detached,
                format!(
                    "aborted, but the task could not be cancelled and may still run (state {state_text}{note}); \
                     rerun with the same run key to reattach"
                ),
            ),
            AfterCancel::Cancelled => self.done(
                StepOutcome::Cancelled,
                format!("cancelled by the user; task state {state_text}{note}"),
            ),
            AfterCancel::TimedOutCompleted {
                outcome,
                successful,
            } => Phase::finish(
                task,
                outcome,
                Then::TimedOut {
                    after: self.timed_out_after(),
                    successful,
                    note,
                },
            ),
            // The README's exit code 6: the task may still be running.
            AfterCancel::TimedOutUncancelled => self.done(
                StepOutcome::TimedOut,
                format!(
                    "timed out after {:?}, but the task could not be cancelled and may still be running \
                     in Anaplan (state {state_text}{note}); cancel it there, or rerun with the same run key to reattach",
                    self.timed_out_after()
                ),
            ),
            AfterCancel::TimedOut => self.done(
                StepOutcome::TimedOut,
                format!(
                    "timed out after {:?}; task state {state_text}{note}",
                    self.timed_out_after()
                ),
            ),
        }
    }

    /// A status look during the grace period: a detach stops it, and so does the grace
    /// end (or, for the last look at it, a little later).
    fn look_within(&self, grace_end: tokio::time::Instant) -> Stops {
        let until = call_until(self.now(), Some(grace_end)).unwrap_or(grace_end);
        Stops::detach_or(until)
    }

    /// The step's timeout as configured; for a deadline given as an instant, the time
    /// from the step's start to it in whole seconds, rounded up (the step began a moment
    /// after its deadline was set, so rounding down would name too short a time).
    fn timed_out_after(&self) -> Duration {
        self.ctx.timeout().unwrap_or_else(|| {
            let to_deadline = self
                .ctx
                .deadline()
                .map(|d| d.saturating_duration_since(self.began))
                .unwrap_or_default();
            Duration::from_secs(to_deadline.as_secs_f64().ceil() as u64)
        })
    }
}
