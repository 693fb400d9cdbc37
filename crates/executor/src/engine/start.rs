//! Recover or start: the task to wait on is the one an earlier run started (reattach), the
//! one a lost start created (adopt), or a new one. What a start needs to be found again is
//! saved before and after it, so a crash never leads to a second start.

use runwait_core::TaskId;
use runwait_core::target::KnownTasks;
use tracing::Instrument;
use tracing::field::Empty;

use super::Run;
use super::admission::Admitted;
use super::phase::{Next, Phase, Recovery, Stop, after_stop, recovery, stopped_before_task};
use super::race::Stops;
use crate::events::StepEvent;
use crate::step::StepOutcome;
use crate::store::StepRecord;

impl Run<'_> {
    /// Recover: what the record of an earlier run of this step run says.
    pub(super) async fn recover(&mut self, admitted: Admitted) -> Phase {
        let earlier = match self.load(&self.ctx.key()).await {
            Ok(record) => record,
            Err(ended) => return ended,
        };
        // A retry looks at the attempt before it only when it has no record of its own.
        let previous = match self.ctx.previous_attempt_key() {
            Some(key) if earlier.is_none() => match self.load(&key).await {
                Ok(record) => record,
                Err(ended) => return ended,
            },
            _ => None,
        };
        // Its place goes before any call to Anaplan.
        drop(admitted);
        if let Some(parent) = earlier.as_ref().and_then(|r| r.traceparent.as_ref()) {
            self.step.trace.link(&tracing::Span::current(), parent);
        }
        // Boxed: only a rerun after a crash takes them, and inline they would size the
        // phase that 10,000 steps starting at once each hold while they queue.
        match recovery(earlier, previous) {
            Recovery::Reattach(task) => Box::pin(self.reattach(task)).await,
            Recovery::Adopt(known) => Box::pin(self.adopt(known)).await,
            Recovery::Fresh => Phase::List,
        }
    }

    /// Waits on the task an earlier run started, if Anaplan still knows it.
    async fn reattach(&mut self, task: TaskId) -> Phase {
        let status = || self.api().status(self.target(), &task);
        let checked = self.request(self.any_stop(), status).await;
        match checked {
            Err(stop) => self.stopped_on(task, stop),
            Ok(Err(e)) if e.is_not_found() => {
                tracing::warn!(task_id = %task, "the task of an earlier run is unknown to Anaplan; starting a new one");
                Phase::List
            }
            Ok(Err(e)) => self.done(
                StepOutcome::Error,
                format!("cannot check the task {task} of an earlier run: {e}"),
            ),
            Ok(Ok(seen)) => {
                self.reattached = true;
                self.polls += 1;
                self.last = Some(seen);
                self.emit(StepEvent::Reattached {
                    task_id: task.clone(),
                });
                self.waiting_on(task)
            }
        }
    }

    /// A stop while the step knows its task but has not polled it yet: a detach leaves
    /// it running, an abort or the deadline cancels it.
    fn stopped_on(&mut self, task: TaskId, stop: Stop) -> Phase {
        self.task_id = Some(task.clone());
        match after_stop::<()>(stop) {
            Next::Cancel(cause) => Phase::Cancel { task, cause },
            _ => self.detached(&task),
        }
    }

    /// A stop before the step has a task: it ends without starting one. `doing` says
    /// what it was doing, `after` what a rerun does.
    pub(super) fn stopped_early(&self, stop: Stop, doing: &str, after: &str) -> Phase {
        let why = match stop {
            Stop::Detach => "detached",
            Stop::Abort => "cancelled",
            Stop::Deadline => "timed out",
        };
        self.done(
            stopped_before_task(stop),
            format!("{why} while {doing}; no task was started{after}"),
        )
    }

    /// A crash between the start and the save of its answer: adopt what it created, or
    /// start now if it created nothing.
    async fn adopt(&mut self, known: KnownTasks) -> Phase {
        let adopted = || self.api().adopt_new(self.target(), &known);
        let found = self.request(self.any_stop(), adopted).await;
        match found {
            Err(stop) => self.stopped_early(
                stop,
                "looking for the task an earlier run may have started",
                " by this run; rerun with the same run key to find that task",
            ),
            Ok(Err(e)) => self.done(StepOutcome::Error, e.to_string()),
            Ok(Ok(None)) => Phase::Start {
                known: Box::new(known),
            },
            Ok(Ok(Some(found))) => {
                if let Err(message) = self.save(Some(found.task_id.clone()), known).await {
                    return self.done(StepOutcome::Error, message);
                }
                self.reattached = true;
                self.emit(StepEvent::Reattached {
                    task_id: found.task_id.clone(),
                });
                self.waiting_on(found.task_id)
            }
        }
    }

    /// Lists the object's tasks and saves them before the start: a crash after it can
    /// still find the task.
    pub(super) async fn list(&mut self) -> Phase {
        if let Some(before) = self.cancelled_before_start() {
            return before;
        }
        let listing = || self.api().known_tasks(self.target());
        let listed = self.request(self.any_stop(), listing).await;
        let known = match listed {
            Err(stop) => return self.stopped_early(stop, "listing the object's tasks", ""),
            Ok(Err(e)) => return self.done(StepOutcome::Error, e.to_string()),
            Ok(Ok(known)) => known,
        };
        // Raced, unlike the saves after a start: no task exists yet whose id must reach
        // the record, and the save may wait behind the file store's queue or a database.
        match self
            .race(self.any_stop(), || self.save(None, known.clone()))
            .await
        {
            Ok(Ok(())) => Phase::Start {
                known: Box::new(known),
            },
            Ok(Err(message)) => self.done(StepOutcome::Error, message),
            Err(stop) => self.stopped_early(stop, "saving the step run's record", ""),
        }
    }

    /// Starts the task (the API adopts the task of a start whose answer was lost) and
    /// saves its id.
    pub(super) async fn start(&mut self, known: KnownTasks) -> Phase {
        if let Some(before) = self.cancelled_before_start() {
            return before;
        }
        let span = tracing::info_span!(
            "anaplan.task.start",
            anaplan.task.id = Empty,
            runwait.adopted = Empty
        );
        // An abort while the tenant's budget holds the start back: nothing is sent.
        if let Err(stop) = self.admit_or(self.now(), self.any_stop()).await {
            return self.stopped_early(stop, "waiting for the tenant's rate budget", "");
        }
        // Checked after the budget's wait, right before the start: a run whose lease lapsed
        // may have been replaced by one that starts the task.
        if let Err(lost) = self.keep_lease(true, self.any_stop()).await {
            return lost;
        }
        // Only a detach cuts the start short: after an abort or the deadline the task it
        // creates must be known, to be cancelled. A detach leaves `known` saved, so a
        // rerun adopts what the start created.
        let sent = || {
            self.api()
                .start(self.target(), self.start_options(), &known)
                .instrument(span.clone())
        };
        let started = match self.race(Stops::DETACH, sent).await {
            Err(_) => {
                return self.done(
                    StepOutcome::Detached,
                    "detached while the start request was in flight: it may have created a task; \
                     rerun with the same run key to adopt it"
                        .into(),
                );
            }
            Ok(Err(e)) => return self.done(StepOutcome::Error, e.to_string()),
            Ok(Ok(started)) => started,
        };
        span.record("anaplan.task.id", started.task_id.as_str());
        span.record("runwait.adopted", started.adopted);
        if let Err(message) = self.save(Some(started.task_id.clone()), known).await {
            return self.done(StepOutcome::Error, message);
        }
        self.emit(StepEvent::Started {
            task_id: started.task_id.clone(),
            adopted: started.adopted,
        });
        self.waiting_on(started.task_id)
    }

    /// `cancelled` when the runner aborted or detached before anything was started.
    fn cancelled_before_start(&self) -> Option<Phase> {
        (self.ctx.cancel().is_cancelled() || self.ctx.detach().is_cancelled()).then(|| {
            self.done(
                StepOutcome::Cancelled,
                "cancelled before the task was started".into(),
            )
        })
    }

    /// The record under `key`, if it is of this step's target; the phase that ends the
    /// step when the store fails or a stop comes first (the read may wait behind the
    /// file store's queue or a database).
    async fn load(&self, key: &crate::store::StepKey) -> Result<Option<StepRecord>, Phase> {
        match self
            .race(self.any_stop(), || self.ctx.state().load(key))
            .await
        {
            Ok(Ok(record)) => Ok(record.filter(|r| &r.target == self.target())),
            Ok(Err(e)) => Err(self.done(StepOutcome::Error, e.to_string())),
            Err(stop) => {
                Err(self.stopped_early(stop, "reading the step run's record", " by this run"))
            }
        }
    }

    async fn save(&self, task_id: Option<TaskId>, known: KnownTasks) -> Result<(), String> {
        let record = StepRecord::new(&self.ctx.key(), self.target().clone(), known)
            .task_id(task_id)
            .traceparent(self.step.trace.traceparent(&tracing::Span::current()));
        self.ctx
            .state()
            .save(&record)
            .await
            .map_err(|e| e.to_string())
    }
}
