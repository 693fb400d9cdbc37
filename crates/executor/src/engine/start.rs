//! Recover or start: the task to wait on is the one an earlier run started (reattach), the
//! one a lost start created (adopt), or a new one. What a start needs to be found again is
//! saved before and after it, so a crash never leads to a second start.

use runwait_core::TaskId;
use runwait_core::target::KnownTasks;
use tracing::Instrument;
use tracing::field::Empty;

use super::Run;
use super::phase::{Phase, Recovery, recovery};
use crate::events::StepEvent;
use crate::step::StepOutcome;
use crate::store::StepRecord;

impl Run<'_> {
    /// Recover: what the record of an earlier run of this step run says.
    pub(super) async fn recover(&mut self) -> Phase {
        let earlier = match self.ctx.state().load(&self.ctx.key()).await {
            Ok(record) => record.filter(|r| &r.target == self.target()),
            Err(e) => return self.done(StepOutcome::Error, e.to_string()),
        };
        if let Some(parent) = earlier.as_ref().and_then(|r| r.traceparent.as_ref()) {
            self.step.trace.link(&tracing::Span::current(), parent);
        }
        match recovery(earlier) {
            Recovery::Reattach(task) => self.reattach(task).await,
            Recovery::Adopt(known) => self.adopt(known).await,
            Recovery::Fresh => Phase::List,
        }
    }

    /// Waits on the task an earlier run started, if Anaplan still knows it.
    async fn reattach(&mut self, task: TaskId) -> Phase {
        self.admit(self.now()).await;
        match self.api().status(self.target(), &task).await {
            Err(e) if e.is_not_found() => {
                tracing::warn!(task_id = %task, "the task of an earlier run is unknown to Anaplan; starting a new one");
                Phase::List
            }
            Err(e) => self.done(
                StepOutcome::Error,
                format!("cannot check the task {task} of an earlier run: {e}"),
            ),
            Ok(seen) => {
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

    /// A crash between the start and the save of its answer: adopt what it created, or
    /// start now if it created nothing.
    async fn adopt(&mut self, known: KnownTasks) -> Phase {
        self.admit(self.now()).await;
        match self.api().adopt_new(self.target(), &known).await {
            Err(e) => self.done(StepOutcome::Error, e.to_string()),
            Ok(None) => Phase::Start { known },
            Ok(Some(found)) => {
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
        self.admit(self.now()).await;
        let known = match self.api().known_tasks(self.target()).await {
            Ok(known) => known,
            Err(e) => return self.done(StepOutcome::Error, e.to_string()),
        };
        if let Err(message) = self.save(None, known.clone()).await {
            return self.done(StepOutcome::Error, message);
        }
        Phase::Start { known }
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
        self.admit(self.now()).await;
        // Checked after the budget's wait, right before the start: a run whose lease lapsed
        // may have been replaced by one that starts the task.
        if let Err(lost) = self.keep_lease(true).await {
            return lost;
        }
        // Not raced against cancellation: dropping a start in flight would leave a task
        // nobody knows about.
        let started = match self
            .api()
            .start(self.target(), &self.step.options, &known)
            .instrument(span.clone())
            .await
        {
            Ok(started) => started,
            Err(e) => return self.done(StepOutcome::Error, e.to_string()),
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
