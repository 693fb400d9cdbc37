//! The heart of runwait: the [`Step`] trait a pipeline runner embeds, and
//! [`RunAndWait`], the engine that implements it for Anaplan tasks.
//!
//! A `RunAndWait` step
//! 1. locks its step run in the [`StateStore`], looks there for a task an earlier run
//!    started (and reattaches), or starts one, saving what it needs to find it again
//!    before and after the start, so a crash never leads to a second start;
//! 2. polls it on the schedule of [`PollPolicy`] (5 s floor, jittered growth,
//!    progress-aware, dense only around the end the object's past runs predict
//!    ([`Expected`]), a last poll at the deadline; the others on a wake grid the
//!    process's waits share) within the tenant's [`RateBudget`];
//! 3. on timeout or abort cancels the remote task and waits a grace period for
//!    `CANCELLED` (the result's [`CancelStatus`] says whether the cancel happened); on
//!    detach leaves it running, and sends no cancel;
//! 4. downloads every failure dump to disk before it returns;
//! 5. returns a [`StepResult`] with the outcome, counts, dumps, polls and a message.
//!
//! # Embedding contract
//!
//! What the host gives:
//! - a [`TaskApi`]: `runwait_anaplan::Client` implements it (the default `anaplan`
//!   feature); a host with its own client turns the feature off
//!   (`default-features = false`: no reqwest, no rustls) and implements the trait. An
//!   implementation does its own retries within each call (transient failures, rate
//!   limits, a dump chunk cut off) and never sends a start twice blindly; it reports
//!   failures as an [`ApiError`] whose [`ApiErrorKind`] is all the engine looks at, and
//!   whose message is shown to users (so it holds no secret);
//! - a [`StepContext`] per step run, from [`StepContext::builder`]: the step id and the
//!   run key are required; the workflow name (default `"default"`), the abort and detach
//!   tokens, the deadline, the [`StateStore`] (default a [`FileStore`] in
//!   `.runwait/state`; [`MemoryStore`] for tests), the dump directory (default
//!   `.runwait/out`) and the [`EventSink`] (a callback, or [`EventSink::channel`]) are
//!   optional;
//! - optionally a shared [`RateBudget`] per tenant (its slots shared across processes by
//!   a [`SlotSource`], e.g. `runwait-postgres`'s), a [`WaitEnv`] (clock, sleep and
//!   randomness: every wait of the engine and the budget sleeps through it), and a
//!   [`TraceHook`].
//!
//! A store whose lock is a lease ([`StepLock::renew_every`]) has it renewed by the engine
//! while the step runs and confirmed right before a start; a lost lease ends the step
//! with an error and no start. At a step's end the engine writes its [`StepHistory`]
//! entry and [releases](StepLock::release) the lock.
//!
//! What the engine promises: [`Step::run`] never panics on remote trouble and always
//! returns a [`StepResult`] (serde, both ways); every wait on the network and on the
//! budget races the abort, the detach and the deadline (a start request in flight
//! yields only to the detach: the task it creates must be known to be cancelled); a
//! retry of a step run ([`StepContext::previous_attempt_key`]) first looks for the task
//! an ambiguous start of the attempt before it may have created; the remote task is cancelled on abort and
//! timeout, left running (and reattachable with the same run key) on detach; the engine
//! retries nothing itself beyond its poll schedule; it reports through plain `tracing`
//! spans (`anaplan.process`, `anaplan.task.poll`, …) and knows neither reqwest nor
//! OpenTelemetry. It needs a tokio runtime; it spawns no task of its own.
//!
//! What it is not: a workflow runner (ordering steps, `needs`, retries of failed steps
//! belong to the host, or to `runwait-runner`, the DAG runner the `runwait` CLI uses) or
//! a place for output formatting.
//!
//! # Example
//!
//! One step against the simulator, in tokio's paused time (the waits pass at once):
//!
//! ```rust
//! # #[cfg(feature = "anaplan")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret};
//! use runwait_core::target::{TaskKind, TaskTarget};
//! use runwait_executor::{
//!     EventSink, MemoryStore, RunAndWait, Step, StepContext, StepEvent, StepOutcome,
//! };
//! use runwait_sim::{Scenario, SimConfig, Simulator};
//!
//! let runtime = tokio::runtime::Builder::new_current_thread()
//!     .enable_all()
//!     .start_paused(true)
//!     .build()?;
//! runtime.block_on(async {
//!     let sim = Simulator::start(SimConfig::new(Scenario::builtin())).await?;
//!     let endpoints = Endpoints::custom(&sim.api_url(), &sim.auth_url())?;
//!     let login = BasicAuth::new("demo@runwait.local", Secret::new("demo"));
//!     let client = Client::builder(endpoints, login)
//!         .pool_idle_timeout(None) // paused time would expire idle connections
//!         .build()?;
//!     let target = TaskTarget::new(
//!         "8a81b09d5e8c6f27015e8d6c3f4a0b21",
//!         "75A40874E6B64FA3AE0743278996850F",
//!         TaskKind::Action,
//!         "117000000001",
//!     );
//!     let step = RunAndWait::new(Arc::new(client), target);
//!
//!     let (events, mut seen) = EventSink::channel();
//!     let ctx = StepContext::builder("refresh", "run-1")
//!         .workflow("nightly")
//!         .state(Arc::new(MemoryStore::new()))
//!         .events(events)
//!         .build();
//!     let result = step.run(ctx).await;
//!
//!     assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
//!     let (step_id, first) = seen.recv().await.expect("an event");
//!     assert_eq!(step_id, "refresh");
//!     assert!(matches!(first, StepEvent::Started { adopted: false, .. }));
//!     sim.shutdown().await;
//!     Ok(())
//! })
//! # }
//! # #[cfg(not(feature = "anaplan"))]
//! # fn main() {}
//! ```

#[cfg(feature = "anaplan")]
mod anaplan;
mod api;
mod atomic;
mod budget;
mod context;
mod dumps;
mod engine;
mod env;
mod events;
mod poll;
mod step;
mod store;

pub use api::{ApiError, ApiErrorKind, TaskApi};
pub use budget::{RateBudget, SlotSource};
pub use context::{StepContext, StepContextBuilder};
pub use engine::{NoTraceHook, RunAndWait, TraceHook, WaitConfig};
pub use env::{TokioEnv, WaitEnv};
pub use events::{EventSink, StepEvent};
pub use poll::{Expected, PollPolicy, Schedule, Seen, next_poll_at, on_grid};
pub use step::{CancelStatus, DumpFile, Step, StepOutcome, StepResult};
pub use store::{
    FileStore, HistoryQuery, MemoryStore, RunKey, StateStore, StepHistory, StepKey, StepLock,
    StepRecord, StoreError,
};
