//! Wait: poll the task on the schedule, through the budget, until it ends, the deadline
//! passes, or the runner aborts or detaches. Every sleep, every wait for the budget and
//! every status request races the abort, the detach and the deadline.

use std::time::Duration;

use runwait_core::{Task, TaskId, classify};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use super::Run;
use super::phase::{LAST_LOOK, Next, Observation, Phase, Stop, Then, call_until, decide};
use super::race::Stops;
use crate::api::ApiError;
use crate::events::StepEvent;
use crate::poll::{Expected, Schedule, Seen, next_poll_at, on_wake_grid};
use crate::step::StepOutcome;

/// What woke the wait.
enum Wake {
    /// The runner aborted or detached, or the deadline's last look passed.
    Stopped(Stop),
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
        // A reattached task was just looked at; a new one gets its first poll after the floor.
        let mut next_at = match &self.last {
            Some(seen) => {
                let outcome = classify(seen, &self.config().outcome_policy);
                if outcome.is_terminal() {
                    return Phase::finish(task, outcome, Then::AsIs);
                }
                self.schedule_next(&mut schedule, seen.into(), &tracing::Span::none())
            }
            None => self.poll_at(self.now(), self.config().poll.min_interval),
        };
        if let Some(expected) = Box::pin(self.expected(next_at)).await {
            schedule.expect(expected);
        }
        loop {
            // A paused tenant budget must not hold up an abort or a detach either.
            // The next poll is due by the deadline at the latest; a tenant budget paused
            // past it holds the last look up no longer than the last look may take.
            let stops = Stops {
                abort: true,
                until: self.ctx.deadline().map(|d| d + LAST_LOOK),
            };
            // A sleeping wait holds one timer (besides its deadline's): the lease's renewal
            // when it comes first (a tie too), else the poll's. The lease's heartbeat keeps
            // its own clock while the budget holds a due poll; its timer is made only if
            // the budget does not admit at once.
            let renew_first = self.renew_due().filter(|&at| at <= next_at);
            let sleep_and_admit = || async {
                if let Some(at) = renew_first {
                    self.step.env.sleep_until(at).await;
                    return Wake::Renew;
                }
                self.step.env.sleep_until(next_at).await;
                // Boxed: made once the poll is due, so a sleeping wait keeps no room for it.
                Box::pin(async {
                    tokio::select! {
                        biased;
                        () = self.admit(next_at) => Wake::Poll,
                        () = self.lease_due() => Wake::Renew,
                    }
                })
                .await
            };
            let woken = self
                .race(stops, sleep_and_admit)
                .await
                .unwrap_or_else(Wake::Stopped);
            let (span, seen) = match woken {
                // Boxed, as the poll: the sleeping wait's future keeps no room for them.
                Wake::Renew => match Box::pin(self.keep_lease(false, stops)).await {
                    Ok(()) => continue,
                    Err(lost) => return lost,
                },
                Wake::Stopped(stop) => (tracing::Span::none(), Observation::Stopped(stop)),
                Wake::Poll => {
                    let stops = Stops {
                        abort: true,
                        until: call_until(self.now(), self.ctx.deadline()),
                    };
                    match Box::pin(self.poll(&task, failed_in_a_row, stops)).await {
                        (span, Ok(polled)) => (span, self.observe(polled, &mut unreachable_since)),
                        (span, Err(stop)) => (span, Observation::Stopped(stop)),
                    }
                }
            };
            let past_deadline = self.ctx.deadline().is_some_and(|d| self.now() >= d);
            match decide(seen, past_deadline, self.config().unreachable_tolerance) {
                Next::Detach => return self.detached(&task),
                Next::Cancel(cause) => return Phase::Cancel { task, cause },
                Next::Finish(outcome) => {
                    if !self.reattached {
                        self.ran_for = schedule.ran_for(self.now(), &self.config().poll);
                    }
                    return Phase::finish(task, outcome, Then::AsIs);
                }
                Next::PollAgain { failed: None } => {
                    failed_in_a_row = 0;
                    let progress = self.last.as_ref().and_then(|t| t.progress);
                    let seen = self.last.as_ref().map_or(Seen::Nothing, Seen::from);
                    next_at = self.schedule_next(&mut schedule, seen, &span);
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
                    next_at = self.schedule_next(&mut schedule, Seen::Nothing, &span);
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

    /// What the object's past runs say, for a task this run started (a reattached one
    /// began before this process knew it). Read once, before the first poll and no
    /// later than it is due (`first_poll`): a slow or failed read (logged at debug)
    /// leaves the schedule without history, and never fails the step.
    async fn expected(&self, first_poll: Instant) -> Option<Expected> {
        if self.reattached || !self.config().poll.history {
            return None;
        }
        let stops = Stops {
            abort: true,
            until: Some(first_poll),
        };
        let query = Expected::query(self.target().clone());
        match self.race(stops, || self.ctx.state().history(&query)).await {
            Ok(Ok(entries)) => {
                let expected = Expected::from_history(&entries);
                tracing::debug!(?expected, runs = entries.len(), "past runs read");
                expected
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "past runs unreadable: polling without them");
                None
            }
            Err(stop) => {
                tracing::debug!(?stop, "past runs not read before the first poll");
                None
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
            Ok(mut seen) => {
                *unreachable_since = None;
                let outcome = classify(&seen, &self.config().outcome_policy);
                // The status kept for hours shares the run's copy of the id rather than
                // keeping the one just read (an allocation a waiting step).
                if let Some(id) = self.task_id.as_ref().filter(|id| **id == seen.task_id) {
                    seen.task_id = id.clone();
                }
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
    fn schedule_next(&self, schedule: &mut Schedule, seen: Seen, span: &tracing::Span) -> Instant {
        let now = self.now();
        schedule.observe(now, seen);
        let delay = schedule.next_delay(&self.config().poll, self.step.env.random());
        let next_at = self.poll_at(now, delay);
        span.record(
            "runwait.next_poll_delay_ms",
            (next_at - now).as_millis() as i64,
        );
        next_at
    }

    /// When to poll `delay` from `now`: on the wake grid, but not past the deadline.
    fn poll_at(&self, now: Instant, delay: Duration) -> Instant {
        let on_grid = on_wake_grid(now + delay, self.config().poll.wake_grid_in_use());
        next_poll_at(now, on_grid - now, self.ctx.deadline())
    }

    /// One status request, in its own span (returned, for the decision that follows),
    /// unless one of `stops` comes first. `failed_before` is how many polls in a row
    /// failed before this one.
    pub(super) async fn poll(
        &mut self,
        task: &TaskId,
        failed_before: u32,
        stops: Stops,
    ) -> (tracing::Span, Result<Result<Task, ApiError>, Stop>) {
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
        let raced = self
            .race(stops, || {
                self.api()
                    .status(self.target(), task)
                    .instrument(span.clone())
            })
            .await;
        let result = match raced {
            Ok(result) => result,
            Err(stop) => {
                span.in_scope(|| tracing::info!(?stop, "status poll left unanswered"));
                return (span, Err(stop));
            }
        };
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
        (span, Ok(result))
    }
}
