//! One node's run: its attempts, each a new step run, until one is final.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use runwait_executor::{EventSink, RunKey, StateStore, StepContext, StepOutcome, StepResult};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::event::{RunEvent, RunEventSink};
use crate::node::{Node, NodeId};
use crate::report::NodeEnd;

/// The state store the runner hands each step.
pub type Store = Arc<dyn StateStore>;

/// What every step of a run shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub workflow: String,
    pub run_key: RunKey,
    pub state: Store,
    pub out_dir: PathBuf,
    pub cancel: CancellationToken,
    pub detach: CancellationToken,
    pub events: RunEventSink,
}

impl Shared {
    pub fn interrupted(&self) -> bool {
        self.cancel.is_cancelled() || self.detach.is_cancelled()
    }
}

/// The one place a [`StepContext`] is built: attempt `attempt` of node `id`.
fn step_context(
    shared: &Shared,
    id: &NodeId,
    attempt: u32,
    timeout: Option<Duration>,
    events: EventSink,
) -> StepContext {
    let mut ctx = StepContext::builder(attempt_step_id(id, attempt), shared.run_key.clone())
        .workflow(shared.workflow.clone())
        .cancel(shared.cancel.clone())
        .detach(shared.detach.clone())
        .state(shared.state.clone())
        .out_dir(shared.out_dir.clone())
        .events(events);
    if let Some(timeout) = timeout {
        ctx = ctx.timeout(timeout);
    }
    if attempt > 1 {
        // A start that failed ambiguously may have created a task: the retry looks for
        // it before it starts another.
        ctx = ctx.previous_attempt(attempt_step_id(id, attempt - 1));
    }
    ctx.build()
}

/// The state-store id of an attempt: a retry is a new step run with its own record, so
/// it starts a new task instead of reattaching to the one that failed.
pub(crate) fn attempt_step_id(id: &NodeId, attempt: u32) -> String {
    if attempt > 1 {
        format!("{id}.retry{}", attempt - 1)
    } else {
        id.to_string()
    }
}

/// Runs `node`'s attempts and returns its id and how it ended. A panicking step is an
/// `error` result, never retried: it may have started a task.
///
/// The end is boxed: a task holds its future or its output, whichever is larger, and
/// tokio rounds a task up to 128 bytes (on x86_64), so an end inline (184 bytes) made
/// every running node's task 384 bytes rather than 256, for as long as its step waits.
///
/// A block rather than an `async fn`: an `async fn` keeps room for its arguments twice
/// (as arguments and as the locals they move into), and this future is held by every
/// running node for as long as its step waits.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
pub(crate) fn run_node(
    node: Node,
    shared: Arc<Shared>,
) -> impl Future<Output = (NodeId, Box<NodeEnd>)> {
    async move {
        let mut attempt = 1;
        loop {
            shared.events.emit(RunEvent::StepStarted {
                id: node.id.clone(),
                attempt,
            });
            let sink = shared.events.clone();
            let id = node.id.clone();
            // The step reports under its state-store id; the display knows the node id.
            let events = EventSink::new(move |_, event| {
                sink.emit(RunEvent::Step {
                    id: id.clone(),
                    attempt,
                    event,
                })
            });
            let ctx = step_context(&shared, &node.id, attempt, node.timeout, events);
            let started = Instant::now();
            let run = AssertUnwindSafe(node.step.run(ctx)).catch_unwind().await;
            let (result, crashed) = match run {
                Ok(result) => (result, false),
                Err(panic) => (crash_result(&*panic, started.elapsed()), true),
            };
            if crashed || !is_retryable(&result) || attempt > node.retries || shared.interrupted() {
                shared.events.emit(RunEvent::StepFinished {
                    id: node.id.clone(),
                    attempts: attempt,
                    result: result.clone(),
                });
                let end = NodeEnd::Ran {
                    result,
                    attempts: attempt,
                };
                return (node.id, Box::new(end));
            }
            shared.events.emit(RunEvent::StepRetrying {
                id: node.id.clone(),
                attempt,
                result,
            });
            attempt += 1;
        }
    }
}

/// The `error` result of a step that panicked.
pub(crate) fn crash_result(panic: &(dyn Any + Send), elapsed: Duration) -> StepResult {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    StepResult::without_task(
        StepOutcome::Error,
        format!("the step crashed: {why}"),
        elapsed,
    )
}

/// A retry starts a new task, so it is only safe when the last one is over: it failed,
/// it timed out and is known cancelled (or completed), or no task was ever started. An
/// `error` while a task exists leaves that task running: a rerun with the same run key
/// reattaches to it instead.
pub fn is_retryable(result: &StepResult) -> bool {
    let task_over = result.task_state.as_ref().is_some_and(|s| s.is_terminal());
    match result.outcome {
        StepOutcome::Failed => true,
        StepOutcome::TimedOut => task_over,
        StepOutcome::Error => result.task_id.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use runwait_core::{TaskId, TaskState};

    use super::*;

    fn result(outcome: StepOutcome, task: Option<TaskState>) -> StepResult {
        let mut r = StepResult::without_task(outcome, "m", Duration::ZERO);
        if let Some(state) = task {
            r.task_id = Some(TaskId::new("T1"));
            r.task_state = Some(state);
        }
        r
    }

    #[test]
    fn a_retry_waits_for_the_last_task_to_be_over() {
        assert!(is_retryable(&result(
            StepOutcome::Failed,
            Some(TaskState::Complete)
        )));
        assert!(is_retryable(&result(
            StepOutcome::TimedOut,
            Some(TaskState::Cancelled)
        )));
        assert!(!is_retryable(&result(
            StepOutcome::TimedOut,
            Some(TaskState::Cancelling)
        )));
        assert!(is_retryable(&result(StepOutcome::Error, None)));
        assert!(!is_retryable(&result(
            StepOutcome::Error,
            Some(TaskState::InProgress)
        )));
        assert!(!is_retryable(&result(StepOutcome::Cancelled, None)));
        assert!(!is_retryable(&result(StepOutcome::Succeeded, None)));
    }

    #[test]
    fn a_retry_has_its_own_state_store_id() {
        let id = NodeId::new("load");
        assert_eq!(attempt_step_id(&id, 1), "load");
        assert_eq!(attempt_step_id(&id, 2), "load.retry1");
        assert_eq!(attempt_step_id(&id, 3), "load.retry2");
    }
}
