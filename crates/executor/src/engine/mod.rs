//! [`RunAndWait`]: the step that starts (or reattaches to) an Anaplan task, waits for it,
//! cancels it on timeout or abort, downloads its dumps, and reports its outcome.
//!
//! A step's life is a sequence of [`Phase`]s (`phase.rs`), each the job of one file:
//! lock and recover or start (`start.rs`), wait (`wait.rs`), cancel (`cancel.rs`),
//! finish with dumps (`finish.rs`); `lease.rs` keeps the lock of the step run (renewed
//! when due, the history written and the lock released at the end); `spans.rs` holds
//! what the spans record.
//!
//! Memory: a host may keep 10,000 steps waiting at once, so what a sleeping wait holds
//! is kept small (a step's future is 1,168 bytes). Every phase but the wait, each poll,
//! each lease renewal and each wait for the budget is boxed, so the waiting future keeps
//! no room for them; a request's future is made only once the budget admits it. Steps
//! that start together take their locks a few at a time (`admission.rs`).

mod admission;
mod cancel;
mod config;
mod finish;
mod lease;
mod phase;
mod race;
mod spans;
mod start;
mod wait;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use race::Stops;
use runwait_core::target::{StartOptions, TaskTarget};
use runwait_core::{Task, TaskId};
use tokio::time::Instant;
use tracing::Instrument;

use crate::api::{ApiError, ApiErrorKind, TaskApi};
use crate::budget::RateBudget;
use crate::context::StepContext;
use crate::env::{TokioEnv, WaitEnv};
use crate::events::StepEvent;
use crate::step::{CancelStatus, Step, StepOutcome, StepResult};
use crate::store::StepLock;

pub use config::WaitConfig;
use phase::{Ending, Phase};
pub use spans::{NoTraceHook, TraceHook};

/// The default clock, trace hook and wait config, one for the process: a host may build
/// 10,000 steps, and a clock and a hook of each step's own were about 80 bytes a step
/// (a config, 144). One generator for the jitter of all of them is as random as one
/// each.
fn shared_defaults() -> &'static (Arc<dyn WaitEnv>, Arc<dyn TraceHook>, Arc<WaitConfig>) {
    type Defaults = (Arc<dyn WaitEnv>, Arc<dyn TraceHook>, Arc<WaitConfig>);
    static DEFAULTS: OnceLock<Defaults> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        (
            Arc::new(TokioEnv::new()),
            Arc::new(NoTraceHook),
            Arc::new(WaitConfig::default()),
        )
    })
}

/// Runs an Anaplan process, import, export or action and waits for its outcome.
#[derive(Clone)]
pub struct RunAndWait {
    api: Arc<dyn TaskApi>,
    target: TaskTarget,
    object_name: Option<String>,
    /// The start's options when they are not the defaults: a host holds its step for the
    /// whole wait, and most steps keep the defaults (whose locale is a `String`).
    options: Option<Box<StartOptions>>,
    /// Shared: a host holds its step for the whole wait, and thousands of steps often
    /// have one config (144 bytes each inline).
    config: Arc<WaitConfig>,
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
            options: None,
            config: shared_defaults().2.clone(),
            budget: None,
            env: shared_defaults().0.clone(),
            trace: shared_defaults().1.clone(),
        }
    }

    /// The object's name, for spans, messages and dump files.
    pub fn object_name(mut self, name: impl Into<String>) -> Self {
        self.object_name = Some(name.into());
        self
    }

    /// Locale and mapping parameters of the start request.
    pub fn start_options(mut self, options: StartOptions) -> Self {
        self.options = (options != StartOptions::default()).then(|| Box::new(options));
        self
    }

    /// Poll schedule, outcome policy, cancel grace, unreachable tolerance. Steps given
    /// clones of one `Arc<WaitConfig>` share it, as do steps given the default; another
    /// `WaitConfig` is one step's own.
    pub fn config(mut self, config: impl Into<Arc<WaitConfig>>) -> Self {
        let config = config.into();
        let default = &shared_defaults().2;
        self.config = if *config == **default {
            default.clone()
        } else {
            config
        };
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

    /// How it waits: the poll schedule, outcome policy, cancel grace, tolerance.
    pub fn wait_config(&self) -> &WaitConfig {
        &self.config
    }
}

impl Step for RunAndWait {
    // Written out rather than through `async_trait`: an `async` body would keep room for
    // the context besides the `Run` it moves it into (a moved-from local keeps its room
    // in a future), for as long as every step waits. The `Run` is built here; the boxed
    // block owns it and its life borrows it.
    fn run<'life0, 'async_trait>(
        &'life0 self,
        ctx: StepContext,
    ) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let began = self.env.now();
        let mut run = Run {
            step: self,
            ctx,
            began,
            lock: None,
            renewed_at: began,
            lease_lost: false,
            polls: 0,
            task_id: None,
            reattached: false,
            last: None,
            cancel: None,
            ran_for: None,
        };
        // `run` is the block's own, borrowed in place: an `async fn` taking it by value
        // would keep room for it twice (its argument and the moved-into local).
        Box::pin(async move { run.traced().await })
    }
}

/// One run of the step: what it has learnt so far.
struct Run<'a> {
    step: &'a RunAndWait,
    ctx: StepContext,
    began: Instant,
    /// The step run, held from the first phase to the end: no other run works on it.
    lock: Option<Box<dyn StepLock>>,
    /// When the lock was taken or last renewed.
    renewed_at: Instant,
    /// The lock was found lost: another run may own the step run now.
    lease_lost: bool,
    /// Status requests made.
    polls: u32,
    /// The task, once started or reattached (for the result).
    task_id: Option<TaskId>,
    reattached: bool,
    /// The last status seen.
    last: Option<Task>,
    /// What became of the remote cancel, once asked for.
    cancel: Option<CancelStatus>,
    /// How long the task ran as the polls saw it, for the history.
    ran_for: Option<std::time::Duration>,
}

impl Run<'_> {
    /// The life of the step in its span, created at the first poll (a child of the span
    /// the host polls the step in).
    async fn traced(&mut self) -> StepResult {
        let step = self.step;
        let span = spans::step_span(
            step.target.kind,
            self.ctx.step_id(),
            &step.target,
            step.object_name.as_deref(),
        );
        self.began = self.now();
        self.renewed_at = self.began;
        // The span is kept once, in the instrumented life: a clone beside it is room
        // every waiting step would hold.
        let mut life = std::pin::pin!(self.life().instrument(span));
        let result = life.as_mut().await;
        spans::record_result(life.span(), &result);
        result
    }

    /// The life of the step, phase by phase.
    async fn life(&mut self) -> StepResult {
        let mut phase = Phase::Lock;
        loop {
            // A lease is renewed between phases too (dumps and a cancel take a while).
            if !matches!(phase, Phase::Lock | Phase::Done(_))
                && let Err(lost) = Box::pin(self.keep_lease(false, Stops::DETACH)).await
            {
                phase = lost;
            }
            phase = match phase {
                // Raced: a lock may wait for a place among the steps in their first
                // phases, behind the file store's queue or a database.
                Phase::Lock => match self
                    .race(self.any_stop(), || async {
                        let admitted = admission::admitted().await;
                        (admitted, self.ctx.state().lock(&self.ctx.key()).await)
                    })
                    .await
                {
                    Ok((admitted, Ok(lock))) => {
                        self.lock = Some(lock);
                        self.renewed_at = self.now();
                        Phase::Recover { admitted }
                    }
                    Ok((_, Err(e))) => self.done(StepOutcome::Error, e.to_string()),
                    Err(stop) => {
                        self.stopped_early(stop, "taking the step run's lock", " by this run")
                    }
                },
                // The phases but the wait are boxed: each runs once and briefly, and
                // inline their futures would size the whole step's future, held by
                // every step for as long as it waits.
                Phase::Recover { admitted } => Box::pin(self.recover(admitted)).await,
                Phase::List => Box::pin(self.list()).await,
                Phase::Start { known } => Box::pin(self.start(*known)).await,
                Phase::Wait { task } => self.wait(task).await,
                Phase::Cancel { task, cause } => Box::pin(self.cancel(task, cause)).await,
                Phase::Finish(end) => {
                    let Ending {
                        task,
                        outcome,
                        then,
                    } = *end;
                    Phase::Done(Box::new(Box::pin(self.finish(&task, outcome, then)).await))
                }
                Phase::Done(result) => return Box::pin(self.end(*result)).await,
            }
        }
    }

    fn api(&self) -> &dyn TaskApi {
        self.step.api.as_ref()
    }

    fn target(&self) -> &TaskTarget {
        &self.step.target
    }

    fn config(&self) -> &WaitConfig {
        &self.step.config
    }

    /// The start's options: the step's, else the defaults.
    fn start_options(&self) -> &StartOptions {
        static DEFAULT: OnceLock<StartOptions> = OnceLock::new();
        match &self.step.options {
            Some(options) => options,
            None => DEFAULT.get_or_init(StartOptions::default),
        }
    }

    fn now(&self) -> Instant {
        self.step.env.now()
    }

    /// Waits for the tenant's budget (a request due at `due`).
    async fn admit(&self, due: Instant) {
        if let Some(budget) = &self.step.budget {
            // Boxed: live only while a request waits its turn, so no sleeping wait
            // carries room for it.
            Box::pin(budget.acquire(due)).await;
        }
    }

    /// Lets the whole tenant slow down after a 429.
    fn note(&self, error: &ApiError) {
        if let (Some(budget), ApiErrorKind::RetryAfter(retry_after)) =
            (&self.step.budget, error.kind())
        {
            budget.slow_down(retry_after.unwrap_or(self.config().poll.min_interval));
        }
    }

    fn emit(&self, event: StepEvent) {
        self.ctx.emit(event);
    }

    /// The task to wait on from now: on the span, in the result.
    fn waiting_on(&mut self, task: TaskId) -> Phase {
        tracing::Span::current().record("anaplan.task.id", task.as_str());
        self.task_id = Some(task.clone());
        Phase::Wait { task }
    }

    /// The step ends here with `outcome`.
    fn done(&self, outcome: StepOutcome, message: String) -> Phase {
        Phase::Done(Box::new(self.result(outcome, message)))
    }

    /// The step stops waiting; `task` keeps running.
    fn detached(&self, task: &TaskId) -> Phase {
        self.done(
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
        result.cancel = self.cancel;
        result
    }
}
