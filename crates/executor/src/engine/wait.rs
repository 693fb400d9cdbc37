//! Wait: poll the task on the schedule, through the budget, until it ends, the deadline
//! passes, or the runner aborts or detaches. Every sleep and every wait for the budget
//! races the abort and the detach.

use runwait_core::{Task, TaskId, classify};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use super::Run;
use super::phase::{Next, Observation, Phase, Then, decide};
use crate::api::ApiError;
use crate::events::StepEvent;
use crate::poll::{Schedule, next_poll_at};
use crate::step::StepOutcome;

/// What woke the wait.
enum Wake {
    /// The runner aborted or detached.
    Seen(Observation<ApiError>),
    /// The lock of the step run is due for renewal.
    Renew,
    /// The next poll is due and the budget admits it.
    Poll,
}

impl Run<'_> {
    /// Polls until the task ends or the wait is left.
    pub(super) async fn wait(&mut self, task: TaskId) -> Phase {
        let mut schedule = Schedule::default();
        let mut unreachable_since: Option<Instant> = None;
        let mut failed_in_a_row = 0u32;
        let tolerance = self.config().unreachable_tolerance;
        // A reattached task was just looked at; a new one gets its first poll after the floor.
        let mut next_at = match &self.last {
            Some(seen) => {
                let outcome = classify(seen, &self.config().outcome_policy);
                if outcome.is_terminal() {
                    return Phase::Finish {
                        task,
                        outcome,
                        then: Then::AsIs,
                    };
                }
                self.schedule_next(&mut schedule, seen.progress, &tracing::Span::none())
            }
            None => next_poll_at(
                self.now(),
                self.config().poll.min_interval,
                self.ctx.deadline(),
            ),
        };
        loop {
            // A paused tenant budget must not hold up an abort, a detach or the lease's
            // heartbeat either.
            let woken = tokio::select! {
                biased;
                _ = self.ctx.detach().cancelled() => Wake::Seen(Observation::Detached),
                _ = self.ctx.cancel().cancelled() => Wake::Seen(Observation::Aborted),
                () = self.lease_due() => Wake::Renew,
                _ = async {
                    self.step.env.sleep_until(next_at).await;
                    self.admit(next_at).await;
                } => Wake::Poll,
            };
            let (span, seen) = match woken {
                Wake::Renew => match self.keep_lease(false).await {
                    Ok(()) => continue,
                    Err(lost) => return lost,
                },
                Wake::Seen(observation) => (tracing::Span::none(), observation),
                Wake::Poll => {
                    let (span, polled) = self.poll(&task, failed_in_a_row).await;
                    (span, self.observe(polled, &mut unreachable_since))
                }
            };
            let past_deadline = self.ctx.deadline().is_some_and(|d| self.now() >= d);
            match decide(seen, past_deadline, tolerance) {
                Next::Detach => return self.detached(&task),
                Next::Cancel(cause) => return Phase::Cancel { task, cause },
                Next::Finish(outcome) => {
                    return Phase::Finish {
                        task,
                        outcome,
                        then: Then::AsIs,
                    };
                }
                Next::PollAgain { failed: None } => {
                    failed_in_a_row = 0;
                    let progress = self.last.as_ref().and_then(|t| t.progress);
                    next_at = self.schedule_next(&mut schedule, progress, &span);
                    let next_poll_in = next_at - self.now();
                    if let Some(seen) = &self.last {
                        self.emit(StepEvent::Polled {
                            state: seen.task_state.clone(),
                            progress,
                            current_step: seen.current_step.clone(),
                            next_poll_in,
                        });
                    }
                }
                Next::PollAgain { failed: Some(e) } => {
                    failed_in_a_row += 1;
                    self.note(&e);
                    next_at = self.schedule_next(&mut schedule, None, &span);
                    self.emit(StepEvent::PollFailed {
                        message: e.to_string(),
                    });
                }
                Next::Unreachable {
                    error,
                    unreachable_for,
                } => {
                    return self.done(
                        StepOutcome::Error,
                        format!(
                            "Anaplan unreachable for {}s: {error}",
                            unreachable_for.as_secs()
                        ),
                    );
                }
                Next::Refused(e) => {
                    return self.done(StepOutcome::Error, format!("status request refused: {e}"));
                }
            }
        }
    }

    /// What a poll says, for [`decide`]: a status is kept in `last` and classified; a
    /// failure counts towards the unreachable time.
    fn observe(
        &mut self,
        polled: Result<Task, ApiError>,
        unreachable_since: &mut Option<Instant>,
    ) -> Observation<ApiError> {
        match polled {
            Ok(seen) => {
                *unreachable_since = None;
                let outcome = classify(&seen, &self.config().outcome_policy);
                self.last = Some(seen);
                Observation::Status(outcome)
            }
            Err(error) => {
                let now = self.now();
                let since = *unreachable_since.get_or_insert(now);
                Observation::Failed {
                    transient: error.is_transient(),
                    unreachable_for: now - since,
                    error,
                }
            }
        }
    }

    /// Learns from a poll's progress and decides the next poll, recording the delay on
    /// the poll's span.
    fn schedule_next(
        &self,
        schedule: &mut Schedule,
        progress: Option<f64>,
        span: &tracing::Span,
    ) -> Instant {
        let now = self.now();
        schedule.observe(now, progress);
        let delay = schedule.next_delay(&self.config().poll, self.step.env.random());
        let next_at = next_poll_at(now, delay, self.ctx.deadline());
        span.record(
            "runwait.next_poll_delay_ms",
            (next_at - now).as_millis() as i64,
        );
        next_at
    }

    /// One status request, in its own span (returned, for the decision that follows).
    /// `failed_before` is how many polls in a row failed before this one.
    pub(super) async fn poll(
        &mut self,
        task: &TaskId,
        failed_before: u32,
    ) -> (tracing::Span, Result<Task, ApiError>) {
        self.polls += 1;
        let span = tracing::info_span!(
            "anaplan.task.poll",
            runwait.poll.attempt = i64::from(self.polls),
            anaplan.task.state = Empty,
            anaplan.task.progress = Empty,
            http.response.status_code = Empty,
            runwait.retries = i64::from(failed_before),
            runwait.next_poll_delay_ms = Empty,
        );
        let result = self
            .api()
            .status(self.target(), task)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(seen) => {
                span.record("anaplan.task.state", seen.task_state.as_str());
                if let Some(p) = seen.progress {
                    span.record("anaplan.task.progress", p);
                }
                span.record("http.response.status_code", 200);
            }
            Err(e) => {
                if let Some(status) = e.http_status() {
                    span.record("http.response.status_code", i64::from(status));
                }
                span.in_scope(|| tracing::warn!(error = %e, "status poll failed"));
            }
        }
        (span, result)
    }
}
