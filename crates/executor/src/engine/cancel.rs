//! Cancel: ask Anaplan to cancel the task (timeout or abort), then wait up to the grace
//! period for `CANCELLED`. A detach still leaves at once.

use std::time::Duration;

use runwait_core::{TaskId, TaskState, classify};
use tracing::Instrument;

use super::Run;
use super::phase::{AfterCancel, CancelCause, Phase, Then, after_cancel};
use crate::events::StepEvent;
use crate::step::StepOutcome;

impl Run<'_> {
    /// Requests the cancel, waits for it, and decides how the step ends.
    pub(super) async fn cancel(&mut self, task: TaskId, cause: CancelCause) -> Phase {
        self.emit(StepEvent::Cancelling);
        let span = tracing::info_span!("anaplan.task.cancel", anaplan.task.id = task.as_str());
        self.admit(self.now()).await;
        let requested = self
            .api()
            .cancel(self.target(), &task)
            .instrument(span)
            .await;
        let mut note = match &requested {
            Ok(()) => String::new(),
            Err(e) => {
                // The task may have ended on its own meanwhile: look once more.
                self.admit(self.now()).await;
                if let Ok(seen) = self.poll(&task, 0).await.1 {
                    self.last = Some(seen);
                }
                format!("; the cancel request failed: {e}")
            }
        };
        let grace = self.config().cancel_grace;
        let grace_end = self.now() + grace;
        while requested.is_ok() {
            let at = (self.now() + self.config().poll.min_interval).min(grace_end);
            tokio::select! {
                biased;
                _ = self.ctx.detach().cancelled() => return self.detached(&task),
                _ = self.step.env.sleep_until(at) => {}
            }
            self.admit(at).await;
            if let Ok(seen) = self.poll(&task, 0).await.1 {
                let ended = seen.is_terminal();
                self.last = Some(seen);
                if ended {
                    break;
                }
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
        match after_cancel(cause, completed, requested.is_err(), cancelled) {
            AfterCancel::Completed(outcome) => Phase::Finish {
                task,
                outcome,
                then: Then::Note("cancel requested, but the task could not roll back and completed"),
            },
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
            } => Phase::Finish {
                task,
                outcome,
                then: Then::TimedOut {
                    after: self.timed_out_after(),
                    successful,
                    note,
                },
            },
            AfterCancel::TimedOut => self.done(
                StepOutcome::TimedOut,
                format!(
                    "timed out after {:?}; task state {state_text}{note}",
                    self.timed_out_after()
                ),
            ),
        }
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
