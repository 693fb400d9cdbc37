//! The Anaplan task-status model and its classification into step outcomes.
//!
//! `runwait-core` is the vocabulary every other runwait crate shares:
//!
//! - [`ids`]: newtypes for the string ids Anaplan hands out (task, object, model, workspace).
//! - [`task`]: the task object of the Integration API v2 (`taskState`, `progress`,
//!   `result`, nested results, details with their row counts), typed and tolerant of the
//!   API's looseness (unknown fields, missing optional fields, `null` values, unknown
//!   states and detail types are kept, not rejected).
//! - [`wire`]: the response bodies around tasks (status envelope, start reply, task
//!   list) and a parser whose errors name the JSON path, line and column.
//! - [`catalog`]: discovery listings (workspaces, models, processes, …), dump chunk
//!   lists, model status and the API error envelope.
//! - [`token`]: auth-service bodies; the token value never prints.
//! - [`target`]: the plain data of a task call (which object, start options, the tasks
//!   known before a start, which dump).
//! - [`outcome`]: one pure function, [`classify`], that turns a task into a step
//!   [`Outcome`] under an [`OutcomePolicy`].
//!
//! What it is not: it performs no I/O, knows no HTTP, no async runtime, no YAML and no
//! terminal. The client, the simulator, the executor and the CLI build on it.
//!
//! # Embedding contract
//!
//! A host uses core's types as the words it shares with the other runwait crates: the
//! ids, the task-call vocabulary of [`target`] (what a host's own `TaskApi` receives)
//! and the task body with its classification. Parsing is tolerant and never panics on
//! any input ([`TaskStatusBody::parse`] and its siblings return a [`ParseError`] naming the JSON
//! path, line and column); [`classify`] is pure and total. Everything here is
//! `Send + Sync`, owns its data and can be serialized.

pub mod catalog;
pub mod ids;
pub mod outcome;
pub mod target;
pub mod task;
pub mod token;
pub mod wire;

mod lenient;

pub use ids::{ModelId, ObjectId, ObjectKind, TaskId, WorkspaceId};
pub use outcome::{
    DumpPolicy, NestedSummary, Outcome, OutcomePolicy, Reason, UnknownPolicy,
    UnsuccessfulWithoutEvidencePolicy, classify,
};
pub use target::{
    DumpSource, KnownTasks, MappingParameter, StartOptions, Started, TaskKind, TaskTarget,
};
pub use task::{
    Detail, DetailKind, DetailType, EpochMillis, RowCounts, Task, TaskResult, TaskState,
};
pub use wire::{
    ApiStatus, Meta, Paging, ParseError, StartTaskReply, TaskList, TaskStatusBody, TaskSummary,
};
