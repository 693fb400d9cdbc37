//! [`RunAndWait`]: the step that starts (or reattaches to) an Anaplan task, waits for it,
//! cancels it on timeout or abort, downloads its dumps, and reports its outcome.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runwait_core::target::{KnownTasks, StartOptions, TaskKind, TaskTarget};
use runwait_core::{NestedSummary, Outcome, OutcomePolicy, Task, TaskId, TaskState, classify};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use crate::api::{ApiError, ApiErrorKind, TaskApi};
use crate::budget::RateBudget;
use crate::context::StepContext;
use crate::dumps;
use crate::env::{TokioEnv, WaitEnv};
use crate::events::StepEvent;
use crate::poll::{PollPolicy, Schedule, next_poll_at};
use crate::step::{DumpFile, Step, StepOutcome, StepResult};
use crate::store::StepRecord;

/// How a wait behaves, beyond the poll schedule. Build it from the default with the
/// `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct WaitConfig {
    /// The poll schedule.
    pub poll: PollPolicy,
    /// How a finished task becomes an outcome.
    pub outcome_policy: OutcomePolicy,
    /// After a cancel request, how long to wait for `CANCELLED` (default 5 minutes).
    pub cancel_grace: Duration,
    /// How long the API may stay unreachable before the step ends as `error`
    /// (default 10 minutes); until then the wait goes on with backoff.
    pub unreachable_tolerance: Duration,
}

impl WaitConfig {
    /// With the poll schedule.
    pub fn with_poll(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// With the outcome policy.
    pub fn with_outcome_policy(mut self, policy: OutcomePolicy) -> Self {
        self.outcome_policy = policy;
        self
    }

    /// With the cancel grace period.
    pub fn with_cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// With the unreachable tolerance.
    pub fn with_unreachable_tolerance(mut self, tolerance: Duration) -> Self {
        self.unreachable_tolerance = tolerance;
        self
    }
}

impl Default for WaitConfig {
    fn default() -> Self {
        WaitConfig {
            poll: PollPolicy::default(),
            outcome_policy: OutcomePolicy::default(),
            cancel_grace: Duration::from_secs(5 * 60),
            unreachable_tolerance: Duration::from_secs(10 * 60),
        }
    }
}

/// Reads and links trace context for reattached waits. The OpenTelemetry adapter
/// implements it; the engine itself stays free of OpenTelemetry.
pub trait TraceHook: Send + Sync {
    /// The W3C traceparent of `span`, to store with a started task.
    fn traceparent(&self, span: &tracing::Span) -> Option<String>;
    /// Links `span` to the span of the run that started the task.
    fn link(&self, span: &tracing::Span, traceparent: &str);
}

/// No tracing backend: nothing stored, nothing linked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTraceHook;

impl TraceHook for NoTraceHook {
    fn traceparent(&self, _span: &tracing::Span) -> Option<String> {
        None
    }

    fn link(&self, _span: &tracing::Span, _traceparent: &str) {}
}

/// Runs an Anaplan process, import, export or action and waits for its outcome.
#[derive(Clone)]
pub struct RunAndWait {
    api: Arc<dyn TaskApi>,
    target: TaskTarget,
    object_name: Option<String>,
    options: StartOptions,
    config: WaitConfig,
    budget: Option<RateBudget>,
    env: Arc<dyn WaitEnv>,
    trace: Arc<dyn TraceHook>,
}

impl RunAndWait {
    /// A step for `target`, driven through `api`.
    pub fn new(api: Arc<dyn TaskApi>, target: TaskTarget) -> Self {
        RunAndWait {
            api,
            target,
            object_name: None,
            options: StartOptions::default(),
            config: WaitConfig::default(),
            budget: None,
            env: Arc::new(TokioEnv::new()),
            trace: Arc::new(NoTraceHook),
        }
    }

    /// The object's name, for spans, messages and dump files.
    pub fn object_name(mut self, name: impl Into<String>) -> Self {
        self.object_name = Some(name.into());
        self
    }

    /// Locale and mapping parameters of the start request.
    pub fn start_options(mut self, options: StartOptions) -> Self {
        self.options = options;
        self
    }

    /// Poll schedule, outcome policy, cancel grace, unreachable tolerance.
    pub fn config(mut self, config: WaitConfig) -> Self {
        self.config = config;
        self
    }

    /// The tenant's shared rate budget: every request of this step waits for a permit.
    pub fn budget(mut self, budget: RateBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Clock, sleep and randomness.
    pub fn env(mut self, env: Arc<dyn WaitEnv>) -> Self {
        self.env = env;
        self
    }

    /// Trace-context hook for reattached waits.
    pub fn trace_hook(mut self, trace: Arc<dyn TraceHook>) -> Self {
        self.trace = trace;
        self
    }

    /// What the step runs.
    pub fn target(&self) -> &TaskTarget {
        &self.target
    }
}

/// Declares the step span under the kind's name (span names must be literals).
macro_rules! step_span {
    ($kind:expr, $($fields:tt)*) => {
        match $kind {
            TaskKind::Process => tracing::info_span!("anaplan.process", $($fields)*),
            TaskKind::Import => tracing::info_span!("anaplan.import", $($fields)*),
            TaskKind::Export => tracing::info_span!("anaplan.export", $($fields)*),
            TaskKind::Action => tracing::info_span!("anaplan.action", $($fields)*),
        }
    };
}

#[async_trait]
impl Step for RunAndWait {
    async fn run(&self, ctx: StepContext) -> StepResult {
        let span = step_span!(
            self.target.kind,
            runwait.step.id = %ctx.step_id(),
            anaplan.kind = %self.target.kind,
            anaplan.object.id = %self.target.object,
            anaplan.object.name = self.object_name.as_deref().unwrap_or(""),
            anaplan.workspace.id = %self.target.workspace,
            anaplan.model.id = %self.target.model,
            anaplan.task.id = Empty,
            runwait.outcome = Empty,
            runwait.polls = Empty,
            runwait.dumps = Empty,
            runwait.reattached = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        let wait = Wait {
            step: self,
            ctx,
            began: self.env.now(),
            polls: 0,
            task_id: None,
            reattached: false,
            last: None,
        };
        let result = wait.run().instrument(span.clone()).await;
        record_result(&span, &result);
        result
    }
}

/// Span attributes are recorded as `i64`: tracing-opentelemetry exports unsigned
/// integers as strings, so a backend could not compare or sum them.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn record_result(span: &tracing::Span, result: &StepResult) {
    span.record("runwait.outcome", result.outcome.name());
    span.record("runwait.polls", i64::from(result.polls));
    span.record(
        "runwait.dumps",
        int(result.dumps.iter().filter(|d| !d.gone).count() as u64),
    );
    span.record("runwait.reattached", result.reattached);
    if matches!(
        result.outcome,
        StepOutcome::Failed | StepOutcome::TimedOut | StepOutcome::Error
    ) {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", result.message.as_str());
    }
    let _entered = span.enter();
    for n in &result.nested {
        tracing::event!(
            target: "runwait::nested",
            tracing::Level::INFO,
            anaplan.object.id = n.object_id.as_ref().map(|o| o.as_str()).unwrap_or(""),
            anaplan.object.name = n.object_name.as_deref().unwrap_or(""),
            anaplan.successful = n.successful,
            anaplan.failure_dump_available = n.failure_dump_available,
            anaplan.rows.success = int(n.counts.success_row_count.unwrap_or(0)),
            anaplan.rows.failed = int(n.counts.failed_count.unwrap_or(0)),
            anaplan.rows.warnings = int(n.counts.warnings_row_count.unwrap_or(0)),
            anaplan.rows.ignored = int(n.counts.ignored_count.unwrap_or(0)),
            "anaplan.nested_result"
        );
    }
    tracing::info!(
        outcome = result.outcome.name(),
        polls = i64::from(result.polls),
        "{}",
        result.message
    );
}

/// Downloads of one dump before it is reported as not downloaded. The task API retries
/// within a call; this one extra try of a whole download cut off half-way stays only
/// until the client retries a broken dump chunk itself.
const DUMP_ATTEMPTS: usize = 2;

/// Why the remote task is being cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelCause {
    Abort,
    Timeout,
}

/// One run of the step.
struct Wait<'a> {
    step: &'a RunAndWait,
    ctx: StepContext,
    began: Instant,
    polls: u32,
    task_id: Option<TaskId>,
    reattached: bool,
    last: Option<Task>,
}

impl Wait<'_> {
    fn api(&self) -> &dyn TaskApi {
        self.step.api.as_ref()
    }

    fn target(&self) -> &TaskTarget {
        &self.step.target
    }

    fn now(&self) -> Instant {
        self.step.env.now()
    }

    /// Waits for the tenant's budget (a request due at `due`).
    async fn admit(&self, due: Instant) {
        if let Some(budget) = &self.step.budget {
            budget.acquire(due).await;
        }
    }

    /// Lets the whole tenant slow down after a 429.
    fn note(&self, error: &ApiError) {
        if let (Some(budget), ApiErrorKind::RetryAfter(retry_after)) =
            (&self.step.budget, error.kind())
        {
            budget.slow_down(retry_after.unwrap_or(self.step.config.poll.min_interval));
        }
    }

    fn emit(&self, event: StepEvent) {
        self.ctx.emit(event);
    }

    async fn run(mut self) -> StepResult {
        // Held to the end of the step: no other process works on this step run meanwhile.
        let _lock = match self.ctx.state().lock(&self.ctx.key()).await {
            Ok(lock) => lock,
            Err(e) => return self.result(StepOutcome::Error, e.to_string()),
        };
        let task_id = match self.start_or_reattach().await {
            Ok(Some(task)) => task,
            Ok(None) => {
                return self.result(
                    StepOutcome::Cancelled,
                    "cancelled before the task was started".into(),
                );
            }
            Err(message) => return self.result(StepOutcome::Error, message),
        };
        tracing::Span::current().record("anaplan.task.id", task_id.as_str());
        self.task_id = Some(task_id);
        self.wait().await
    }

    fn record(&self, task_id: Option<TaskId>, known: KnownTasks) -> StepRecord {
        StepRecord::new(&self.ctx.key(), self.target().clone(), known)
            .task_id(task_id)
            .traceparent(self.step.trace.traceparent(&tracing::Span::current()))
    }

    /// The task to wait on: the one an earlier run started, the one a lost start
    /// created, or a new one. `Ok(None)` when aborted before anything was started.
    async fn start_or_reattach(&mut self) -> Result<Option<TaskId>, String> {
        let earlier = self
            .ctx
            .state()
            .load(&self.ctx.key())
            .await
            .map_err(|e| e.to_string())?
            .filter(|r| &r.target == self.target());
        if let Some(parent) = earlier.as_ref().and_then(|r| r.traceparent.as_ref()) {
            self.step.trace.link(&tracing::Span::current(), parent);
        }
        match earlier {
            Some(StepRecord {
                task_id: Some(task),
                ..
            }) => {
                self.admit(self.now()).await;
                match self.api().status(self.target(), &task).await {
                    Err(e) if e.is_not_found() => {
                        tracing::warn!(task_id = %task, "the task of an earlier run is unknown to Anaplan; starting a new one");
                        self.fresh_start().await
                    }
                    Err(e) => Err(format!(
                        "cannot check the task {task} of an earlier run: {e}"
                    )),
                    Ok(seen) => {
                        self.reattached = true;
                        self.polls += 1;
                        self.last = Some(seen);
                        self.emit(StepEvent::Reattached {
                            task_id: task.clone(),
                        });
                        Ok(Some(task))
                    }
                }
            }
            // A crash between the start and the save of its answer: adopt what it created.
            Some(StepRecord {
                task_id: None,
                known_tasks,
                ..
            }) => {
                self.admit(self.now()).await;
                match self
                    .api()
                    .adopt_new(self.target(), &known_tasks)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Some(found) => {
                        self.save(Some(found.task_id.clone()), known_tasks).await?;
                        self.reattached = true;
                        self.emit(StepEvent::Reattached {
                            task_id: found.task_id.clone(),
                        });
                        Ok(Some(found.task_id))
                    }
                    None => self.start(known_tasks).await,
                }
            }
            None => self.fresh_start().await,
        }
    }

    async fn save(&self, task_id: Option<TaskId>, known: KnownTasks) -> Result<(), String> {
        self.ctx
            .state()
            .save(&self.record(task_id, known))
            .await
            .map_err(|e| e.to_string())
    }

    async fn fresh_start(&mut self) -> Result<Option<TaskId>, String> {
        if self.ctx.cancel().is_cancelled() || self.ctx.detach().is_cancelled() {
            return Ok(None);
        }
        self.admit(self.now()).await;
        let known = self
            .api()
            .known_tasks(self.target())
            .await
            .map_err(|e| e.to_string())?;
        // Saved before the start: a crash after it can still find the task.
        self.save(None, known.clone()).await?;
        self.start(known).await
    }

    async fn start(&mut self, known: KnownTasks) -> Result<Option<TaskId>, String> {
        if self.ctx.cancel().is_cancelled() || self.ctx.detach().is_cancelled() {
            return Ok(None);
        }
        let span = tracing::info_span!(
            "anaplan.task.start",
            anaplan.task.id = Empty,
            runwait.adopted = Empty
        );
        self.admit(self.now()).await;
        // Not raced against cancellation: dropping a start in flight would leave a task
        // nobody knows about.
        let started = self
            .api()
            .start(self.target(), &self.step.options, &known)
            .instrument(span.clone())
            .await
            .map_err(|e| e.to_string())?;
        span.record("anaplan.task.id", started.task_id.as_str());
        span.record("runwait.adopted", started.adopted);
        self.save(Some(started.task_id.clone()), known).await?;
        self.emit(StepEvent::Started {
            task_id: started.task_id.clone(),
            adopted: started.adopted,
        });
        Ok(Some(started.task_id))
    }

    /// Polls until the task ends, the deadline passes, or the runner aborts or detaches.
    async fn wait(mut self) -> StepResult {
        let mut schedule = Schedule::default();
        let mut unreachable_since: Option<Instant> = None;
        let mut failed_in_a_row = 0u32;
        // A reattached task was just looked at; a new one gets its first poll after the floor.
        let mut next_at = match &self.last {
            Some(task) => {
                let outcome = classify(task, &self.step.config.outcome_policy);
                if outcome.is_terminal() {
                    return self.finish(outcome, None).await;
                }
                self.schedule_next(&mut schedule, task.progress, &tracing::Span::none())
            }
            None => next_poll_at(
                self.now(),
                self.step.config.poll.min_interval,
                self.ctx.deadline(),
            ),
        };
        loop {
            // A paused tenant budget must not hold up an abort or a detach either.
            tokio::select! {
                biased;
                _ = self.ctx.detach().cancelled() => return self.detached(),
                _ = self.ctx.cancel().cancelled() => return self.cancel_remote(CancelCause::Abort).await,
                _ = async {
                    self.step.env.sleep_until(next_at).await;
                    self.admit(next_at).await;
                } => {}
            }
            let (span, polled) = self.poll(failed_in_a_row).await;
            let past_deadline = self.ctx.deadline().is_some_and(|d| self.now() >= d);
            match polled {
                Ok(task) => {
                    unreachable_since = None;
                    failed_in_a_row = 0;
                    let outcome = classify(&task, &self.step.config.outcome_policy);
                    let (state, progress, current_step) = (
                        task.task_state.clone(),
                        task.progress,
                        task.current_step.clone(),
                    );
                    self.last = Some(task);
                    if outcome.is_terminal() {
                        return self.finish(outcome, None).await;
                    }
                    if past_deadline {
                        return self.cancel_remote(CancelCause::Timeout).await;
                    }
                    next_at = self.schedule_next(&mut schedule, progress, &span);
                    let next_poll_in = next_at - self.now();
                    self.emit(StepEvent::Polled {
                        state,
                        progress,
                        current_step,
                        next_poll_in,
                    });
                }
                Err(e) if e.is_transient() => {
                    failed_in_a_row += 1;
                    let now = self.now();
                    let since = *unreachable_since.get_or_insert(now);
                    if now - since >= self.step.config.unreachable_tolerance {
                        let message =
                            format!("Anaplan unreachable for {}s: {e}", (now - since).as_secs());
                        return self.result(StepOutcome::Error, message);
                    }
                    if past_deadline {
                        return self.cancel_remote(CancelCause::Timeout).await;
                    }
                    self.note(&e);
                    next_at = self.schedule_next(&mut schedule, None, &span);
                    self.emit(StepEvent::PollFailed {
                        message: e.to_string(),
                    });
                }
                Err(e) => {
                    return self.result(StepOutcome::Error, format!("status request refused: {e}"));
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
        let delay = schedule.next_delay(&self.step.config.poll, self.step.env.random());
        let next_at = next_poll_at(now, delay, self.ctx.deadline());
        span.record(
            "runwait.next_poll_delay_ms",
            (next_at - now).as_millis() as i64,
        );
        next_at
    }

    /// One status request, in its own span (returned, for the decision that follows).
    /// `failed_before` is how many polls in a row failed before this one. The caller keeps
    /// the status in `last`.
    async fn poll(&mut self, failed_before: u32) -> (tracing::Span, Result<Task, ApiError>) {
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
        let task_id = self.task_id.clone().unwrap_or_else(|| TaskId::new(""));
        let result = self
            .api()
            .status(self.target(), &task_id)
            .instrument(span.clone())
            .await;
        match result {
            Ok(task) => {
                span.record("anaplan.task.state", task.task_state.as_str());
                if let Some(p) = task.progress {
                    span.record("anaplan.task.progress", p);
                }
                span.record("http.response.status_code", 200);
                (span, Ok(task))
            }
            Err(e) => {
                if let Some(status) = e.http_status() {
                    span.record("http.response.status_code", i64::from(status));
                }
                span.in_scope(|| tracing::warn!(error = %e, "status poll failed"));
                (span, Err(e))
            }
        }
    }

    /// Asks Anaplan to cancel, then waits up to the grace period for `CANCELLED`.
    async fn cancel_remote(mut self, cause: CancelCause) -> StepResult {
        self.emit(StepEvent::Cancelling);
        let task_id = self.task_id.clone().unwrap_or_else(|| TaskId::new(""));
        let span = tracing::info_span!("anaplan.task.cancel", anaplan.task.id = task_id.as_str());
        self.admit(self.now()).await;
        let requested = self
            .api()
            .cancel(self.target(), &task_id)
            .instrument(span)
            .await;
        let mut note = match &requested {
            Ok(()) => String::new(),
            Err(e) => {
                // The task may have ended on its own meanwhile: look once more.
                self.admit(self.now()).await;
                if let Ok(task) = self.poll(0).await.1 {
                    self.last = Some(task);
                }
                format!("; the cancel request failed: {e}")
            }
        };
        let grace_end = self.now() + self.step.config.cancel_grace;
        while requested.is_ok() {
            let at = (self.now() + self.step.config.poll.min_interval).min(grace_end);
            tokio::select! {
                biased;
                _ = self.ctx.detach().cancelled() => return self.detached(),
                _ = self.step.env.sleep_until(at) => {}
            }
            self.admit(at).await;
            if let Ok(task) = self.poll(0).await.1 {
                let ended = task.is_terminal();
                self.last = Some(task);
                if ended {
                    break;
                }
            }
            if self.now() >= grace_end {
                note = format!(
                    "; still not cancelled after the {}s grace period",
                    self.step.config.cancel_grace.as_secs()
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
                (classify(t, &self.step.config.outcome_policy), successful)
            });
        match (cause, completed) {
            (CancelCause::Abort, Some((outcome, _))) => {
                self.finish(
                    outcome,
                    Some("cancel requested, but the task could not roll back and completed"),
                )
                .await
            }
            (CancelCause::Abort, None)
                if requested.is_err() && state != Some(TaskState::Cancelled) =>
            {
                // Not cancelled, maybe still running: say so, and keep it reattachable.
                self.result(
                    StepOutcome::Detached,
                    format!(
                        "aborted, but the task could not be cancelled and may still run (state {state_text}{note}); \
                         rerun with the same run key to reattach"
                    ),
                )
            }
            (CancelCause::Abort, None) => self.result(
                StepOutcome::Cancelled,
                format!("cancelled by the user; task state {state_text}{note}"),
            ),
            (CancelCause::Timeout, completed) => {
                let after = self
                    .ctx
                    .deadline()
                    .map(|d| d.saturating_duration_since(self.began).as_secs())
                    .unwrap_or(0);
                match completed {
                    Some((outcome, successful)) => {
                        let mut result = self.finish(outcome, None).await;
                        result.message = format!(
                            "timed out after {after}s; the task completed after the cancel request \
                             (could not roll back), successful: {successful}: {}{note}",
                            result.message
                        );
                        result.outcome = StepOutcome::TimedOut;
                        result
                    }
                    None => self.result(
                        StepOutcome::TimedOut,
                        format!("timed out after {after}s; task state {state_text}{note}"),
                    ),
                }
            }
        }
    }

    /// Downloads the dumps of the finished task in `last`, then builds its result.
    async fn finish(self, outcome: Outcome, note: Option<&str>) -> StepResult {
        let (nested, mut message) = match &self.last {
            Some(task) => (NestedSummary::of_task(task), describe(&outcome, task)),
            None => (Vec::new(), outcome.name().to_owned()),
        };
        let dumps = self.download_dumps(&nested).await;
        if let Some(note) = note {
            message = format!("{message} ({note})");
        }
        let failed: Vec<String> = dumps
            .iter()
            .filter(|d| d.failed())
            .map(|d| d.object_id.to_string())
            .collect();
        if !failed.is_empty() {
            message.push_str(&format!(
                "; dump could not be downloaded for {}",
                failed.join(", ")
            ));
        }
        let gone: Vec<String> = dumps
            .iter()
            .filter(|d| d.gone)
            .map(|d| d.object_id.to_string())
            .collect();
        if !gone.is_empty() {
            message.push_str(&format!("; dump gone (404) for {}", gone.join(", ")));
        }
        let mut result = self.result(StepOutcome::of(&outcome), message);
        result.nested = nested;
        result.reasons = outcome.reasons().to_vec();
        result.dumps = dumps;
        result
    }

    async fn download_dumps(&self, actions: &[NestedSummary]) -> Vec<DumpFile> {
        let Some(task_id) = &self.task_id else {
            return Vec::new();
        };
        let dir = self.ctx.out_dir().join(self.ctx.step_id());
        let needs_names = self.target().kind == TaskKind::Process
            && actions
                .iter()
                .any(|a| a.failure_dump_available && a.object_name.is_none());
        let names = if needs_names {
            self.admit(self.now()).await;
            self.api()
                .process_actions(self.target())
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut files = Vec::new();
        for job in dumps::jobs(self.target(), actions, &dir, &names) {
            let span = tracing::info_span!(
                "anaplan.dump.download",
                anaplan.object.id = job.object_id.as_str(),
                runwait.dump.bytes = Empty,
                runwait.dump.gone = Empty,
            );
            // A body cut off half-way is tried again from the start, while Anaplan still
            // has the dump: the next run of the import deletes it.
            let mut attempt = 1;
            let fetched = loop {
                self.admit(self.now()).await;
                let fetched = dumps::fetch(self.api(), self.target(), task_id, &job)
                    .instrument(span.clone())
                    .await;
                match &fetched {
                    Err(e) if e.is_transient() && attempt < DUMP_ATTEMPTS => {
                        span.in_scope(
                            || tracing::warn!(error = %e, "dump download failed; trying again"),
                        );
                        attempt += 1;
                    }
                    _ => break fetched,
                }
            };
            let file = fetched.unwrap_or_else(|e| {
                span.in_scope(|| tracing::error!(error = %e, "dump download failed"));
                DumpFile::missing(job.object_id.clone(), false)
            });
            span.record("runwait.dump.bytes", int(file.bytes));
            span.record("runwait.dump.gone", file.gone);
            self.emit(StepEvent::Dump(file.clone()));
            files.push(file);
        }
        files
    }

    fn detached(self) -> StepResult {
        let task = self
            .task_id
            .as_ref()
            .map_or("?".to_owned(), |t| t.to_string());
        self.result(
            StepOutcome::Detached,
            format!("detached: task {task} keeps running in Anaplan; rerun with the same run key to reattach"),
        )
    }

    fn result(&self, outcome: StepOutcome, message: String) -> StepResult {
        let mut result = StepResult::without_task(outcome, message, self.now() - self.began);
        result.task_id = self.task_id.clone();
        result.task_state = self.last.as_ref().map(|t| t.task_state.clone());
        result.successful = self
            .last
            .as_ref()
            .and_then(|t| t.result.as_ref())
            .map(|r| r.successful);
        result.reattached = self.reattached;
        result.polls = self.polls;
        result
    }
}

/// One line about a finished task: the outcome and its first reason.
fn describe(outcome: &Outcome, task: &Task) -> String {
    let reasons = outcome.reasons();
    match (outcome, reasons.first()) {
        (
            Outcome::Cancelled {
                cancelled_by: Some(by),
            },
            _,
        ) => format!("cancelled in Anaplan by {by}"),
        (Outcome::Cancelled { cancelled_by: None }, _) => "cancelled in Anaplan".to_owned(),
        (_, Some(first)) if reasons.len() > 1 => {
            format!("{}: {first} (+{} more)", outcome.name(), reasons.len() - 1)
        }
        (_, Some(first)) => format!("{}: {first}", outcome.name()),
        (_, None) => format!(
            "{}: task {} {}",
            outcome.name(),
            task.task_id,
            task.task_state
        ),
    }
}
