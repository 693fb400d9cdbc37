//! The DAG runner of runwait: runs a list of [`Node`]s, each a
//! [`Step`](runwait_executor::Step) with its needs, condition and retry options, and
//! reports how each one ended.
//!
//! What it does, for every node:
//! - **needs**: starts it once every node it needs is settled (ran or skipped), in the
//!   order given, at most [`RunnerBuilder::max_parallel`] at a time;
//! - **if**: skips it, with a reason, when its [`Condition`] is false (`success`: every
//!   need succeeded or has `continue_on_error`; `failure`: some need ran and did not
//!   succeed; `always`), or when the run was interrupted;
//! - **retries**: runs it again while the result [`is_retryable`] (the last task is
//!   over, so a new one may start) and retries are left. A retry is a new step run: its
//!   state-store id is `<id>.retryN`, so it starts its own task;
//! - **timeout**: gives each attempt a deadline in its step context;
//! - **cancel and detach**: passes the runner's own tokens to each step, not child
//!   tokens (two allocations a running step), so a step that fires its context's token
//!   fires the run's; once one fires nothing new starts and nothing is retried;
//! - **crashes**: a step that panics ends as an `error` result, never retried;
//! - **events**: reports each attempt's start, the step's own events, retries, the end
//!   and skips as [`RunEvent`]s keyed by node id (never `<id>.retryN`), to a channel or
//!   a callback ([`RunEventSink`]).
//!
//! It returns a [`RunReport`]: per node the last [`StepResult`](runwait_executor::StepResult),
//! the attempts or the skip reason, and the run's outcome.
//!
//! # The embedding contract
//!
//! The host reads its own workflow format and builds the nodes; the runner knows no
//! YAML, no command line and no terminal. The host owns the signals: it fires the cancel
//! token (cancel the remote tasks and wait for them) or the detach token (leave them
//! running, recorded for a rerun with the same run key). Call [`Runner::run`] inside a
//! tokio runtime; each node runs in its own task within the caller's current span. The
//! event callback is called from those tasks and must return quickly.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use runwait_executor::{RunKey, Step, StepContext, StepOutcome, StepResult};
//! use runwait_runner::{Condition, Node, RunEvent, RunEventSink, Runner};
//!
//! /// A step that succeeds at once, without a task.
//! struct Hello;
//!
//! #[async_trait]
//! impl Step for Hello {
//!     async fn run(&self, ctx: StepContext) -> StepResult {
//!         let message = format!("hello from {}", ctx.step_id());
//!         StepResult::without_task(StepOutcome::Succeeded, message, Default::default())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dir = tempfile::tempdir().unwrap();
//! let (events, mut rx) = RunEventSink::channel();
//! let runner = Runner::builder("nightly", RunKey::new("run-1"))
//!     .state(std::sync::Arc::new(runwait_executor::FileStore::new(dir.path().join("state"))))
//!     .out_dir(dir.path().join("out"))
//!     .max_parallel(2)
//!     .events(events)
//!     .build();
//! let nodes = vec![
//!     Node::builder("load", Arc::new(Hello)).build(),
//!     Node::builder("report", Arc::new(Hello))
//!         .needs(["load"])
//!         .condition(Condition::Always)
//!         .build(),
//! ];
//! let report = runner.run(nodes).await.unwrap();
//! assert_eq!(report.outcome(), StepOutcome::Succeeded);
//! assert_eq!(report.get("report").unwrap().attempts(), 1);
//! drop(runner);
//! while let Some(event) = rx.recv().await {
//!     if let RunEvent::StepFinished { id, result, .. } = event {
//!         println!("{id}: {}", result.message);
//!     }
//! }
//! # }
//! ```

mod attempt;
mod event;
mod node;
mod plan;
mod report;
mod runner;

pub use attempt::{Store, is_retryable};
pub use event::{RunEvent, RunEventSink};
pub use node::{Condition, Node, NodeBuilder, NodeId};
pub use plan::PlanError;
pub use report::{NodeEnd, NodeReport, RunReport};
pub use runner::{Runner, RunnerBuilder};
