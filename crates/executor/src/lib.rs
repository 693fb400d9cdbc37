//! The heart of runwait: the [`Step`] trait a pipeline runner embeds, and
//! [`RunAndWait`], the engine that implements it for Anaplan tasks.
//!
//! A `RunAndWait` step
//! 1. looks in the [`StateStore`] for a task an earlier run started (and reattaches), or
//!    starts one, saving what it needs to find it again before and after the start, so a
//!    crash never leads to a second start;
//! 2. polls it on the schedule of [`PollPolicy`] (5 s floor, jittered growth,
//!    progress-aware, a last poll at the deadline) within the tenant's [`RateBudget`];
//! 3. on timeout or abort cancels the remote task and waits a grace period for
//!    `CANCELLED`; on detach leaves it running;
//! 4. downloads every failure dump to disk before it returns;
//! 5. returns a [`StepResult`] with the outcome, counts, dumps, polls and a message.
//!
//! It drives Anaplan only through the [`TaskApi`] trait (implemented by
//! `runwait_anaplan::Client`) and reports through plain `tracing` spans; it knows
//! neither reqwest nor OpenTelemetry. Time, sleep and randomness come from a
//! [`WaitEnv`], so tests in tokio's paused time are exact.
//!
//! What it is not: a workflow runner (ordering steps, `needs`, retries of failed steps
//! belong to the host, such as the `runwait` CLI) or a place for output formatting.

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
pub use budget::RateBudget;
pub use context::{StepContext, StepContextBuilder};
pub use engine::{NoTraceHook, RunAndWait, TraceHook, WaitConfig};
pub use env::{TokioEnv, WaitEnv};
pub use events::{EventSink, StepEvent};
pub use poll::{PollPolicy, Schedule, next_poll_at};
pub use step::{DumpFile, Step, StepOutcome, StepResult};
pub use store::{
    FileStore, MemoryStore, RunKey, StateStore, StepKey, StepLock, StepRecord, StoreError,
};
