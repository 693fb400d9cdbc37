//! [`StepContext`]: everything a step gets from its runner, built with
//! [`StepContext::builder`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::events::{EventSink, StepEvent};
use crate::store::{FileStore, RunKey, StateStore, StepKey};

/// Everything a step gets from its runner. Cheap to clone (the store and the sink are
/// shared).
#[derive(Clone, Debug)]
pub struct StepContext {
    step_id: String,
    workflow: String,
    run_key: RunKey,
    previous_attempt: Option<String>,
    cancel: CancellationToken,
    detach: CancellationToken,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    state: Arc<dyn StateStore>,
    out_dir: PathBuf,
    events: EventSink,
}

impl StepContext {
    /// The workflow name when none is given.
    pub const DEFAULT_WORKFLOW: &'static str = "default";
    /// The dump directory when none is given (the CLI's default).
    pub const DEFAULT_OUT_DIR: &'static str = ".runwait/out";

    /// A context for step `step_id` of the run `run_key`. Defaults: workflow
    /// [`"default"`](Self::DEFAULT_WORKFLOW), tokens that never fire, no deadline, a
    /// [`FileStore`] in [`.runwait/state`](FileStore::DEFAULT_DIR), dumps under
    /// [`.runwait/out`](Self::DEFAULT_OUT_DIR), events dropped.
    pub fn builder(step_id: impl Into<String>, run_key: impl Into<RunKey>) -> StepContextBuilder {
        StepContextBuilder(StepContext {
            step_id: step_id.into(),
            workflow: Self::DEFAULT_WORKFLOW.to_owned(),
            run_key: run_key.into(),
            previous_attempt: None,
            cancel: CancellationToken::new(),
            detach: CancellationToken::new(),
            deadline: None,
            timeout: None,
            state: Arc::new(FileStore::default()),
            out_dir: PathBuf::from(Self::DEFAULT_OUT_DIR),
            events: EventSink::none(),
        })
    }

    /// The step's id in its workflow (`load_actuals`).
    pub fn step_id(&self) -> &str {
        &self.step_id
    }

    /// The workflow's name, part of the state-store key.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }

    /// The run's key: a rerun with the same key reattaches instead of starting again.
    pub fn run_key(&self) -> &RunKey {
        &self.run_key
    }

    /// The state-store key of this step run.
    pub fn key(&self) -> StepKey {
        StepKey::new(&self.workflow, &self.step_id, self.run_key.clone())
    }

    /// The state-store key of the attempt this one retries, if it is a retry: when that
    /// attempt started nothing it can be sure of (an ambiguous start failure), this one
    /// first looks for the task it may have created.
    pub fn previous_attempt_key(&self) -> Option<StepKey> {
        self.previous_attempt
            .as_ref()
            .map(|step| StepKey::new(&self.workflow, step, self.run_key.clone()))
    }

    /// Fires when the user aborts: the remote task is cancelled, then `cancelled`.
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Fires to stop waiting without cancelling: the task keeps running and stays in the
    /// state store for a rerun; the outcome is `detached`.
    pub fn detach(&self) -> &CancellationToken {
        &self.detach
    }

    /// When the step times out: the remote task is cancelled, then `timed_out`.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The step's timeout as configured, when the deadline came from one: what a
    /// timed-out step's message names.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Where started tasks are remembered for reattaching.
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.state
    }

    /// Where failure dumps go (`<out_dir>/<step_id>/…`).
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Progress for the runner's display.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// The same context for another step id (a retry is a new step run, with its own
    /// record).
    pub fn with_step_id(mut self, step_id: impl Into<String>) -> Self {
        self.step_id = step_id.into();
        self
    }

    /// The same context for a retry of the attempt whose step id was `step_id`.
    pub fn with_previous_attempt(mut self, step_id: impl Into<String>) -> Self {
        self.previous_attempt = Some(step_id.into());
        self
    }

    /// The same context with another deadline (`None`: none), not from a timeout.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self.timeout = None;
        self
    }

    pub(crate) fn emit(&self, event: StepEvent) {
        self.events.emit(&self.step_id, event);
    }
}

/// Builds a [`StepContext`]; see [`StepContext::builder`] for the defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct StepContextBuilder(StepContext);

impl StepContextBuilder {
    /// The workflow's name, part of the state-store key.
    pub fn workflow(mut self, workflow: impl Into<String>) -> Self {
        self.0.workflow = workflow.into();
        self
    }

    /// This step run retries the attempt whose step id was `step_id` (see
    /// [`StepContext::previous_attempt_key`]).
    pub fn previous_attempt(mut self, step_id: impl Into<String>) -> Self {
        self.0.previous_attempt = Some(step_id.into());
        self
    }

    /// The abort token.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.0.cancel = token;
        self
    }

    /// The detach token.
    pub fn detach(mut self, token: CancellationToken) -> Self {
        self.0.detach = token;
        self
    }

    /// The step's deadline.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.0.deadline = Some(deadline);
        self.0.timeout = None;
        self
    }

    /// The step's timeout: its deadline is `timeout` from now (none when that is beyond
    /// any clock), and a timed-out step names `timeout` as configured.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.deadline = Instant::now().checked_add(timeout);
        self.0.timeout = Some(timeout);
        self
    }

    /// The state store.
    pub fn state(mut self, state: Arc<dyn StateStore>) -> Self {
        self.0.state = state;
        self
    }

    /// The dump directory.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.0.out_dir = dir.into();
        self
    }

    /// The event sink.
    pub fn events(mut self, events: EventSink) -> Self {
        self.0.events = events;
        self
    }

    /// The context.
    pub fn build(self) -> StepContext {
        self.0
    }
}
