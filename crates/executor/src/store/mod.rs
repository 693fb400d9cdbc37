//! The state store: what a step run remembers so a rerun after a crash finds the task it
//! started instead of starting another, and the lock that keeps two processes off the
//! same step run.
//!
//! [`StateStore`] is a trait (object safe: `Arc<dyn StateStore>`). Two stores come with
//! the crate: [`FileStore`], one small JSON file per step run (the default, and the
//! `runwait` CLI's), and [`MemoryStore`], for tests and hosts that keep nothing between
//! processes. The file store and a store with a database (`runwait-postgres`) implement
//! [`StepLock`] as a lease (a lease file beside the record, held open only for the
//! instant of a take, renewal or release; a lease row) that the engine renews ([`StepLock::renew`]) while the step runs:
//! nothing spawns a hidden task, so the heartbeat is the engine's, and a lease found lost
//! stops the step before it can start or keep waiting on a task another run took over.
//!
//! Each finished step is kept in the store's history ([`StepHistory`]).

mod blocking;
mod file;
mod history;
mod lease_file;
mod memory;
mod tail;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runwait_core::TaskId;
use runwait_core::target::{KnownTasks, TaskTarget};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use file::FileStore;
pub use history::{HistoryQuery, StepHistory};
pub use memory::MemoryStore;

/// Identifies one run of a workflow; a rerun with the same key reattaches.
///
/// Shared, not copied: every step of a run keeps the key in its context and its lock for
/// as long as it waits, and a clone is a reference count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey(Arc<str>);

impl RunKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        RunKey(Arc::from(key.into()))
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// As its text, as a plain string.
impl Serialize for RunKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RunKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(RunKey::from)
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for RunKey {
    fn from(key: String) -> Self {
        RunKey(Arc::from(key))
    }
}

impl From<&str> for RunKey {
    fn from(key: &str) -> Self {
        RunKey(Arc::from(key))
    }
}

/// Which step run a record or a lock is about: the workflow, the step and the run key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepKey {
    /// The workflow's name.
    pub workflow: String,
    /// The step's id in the workflow.
    pub step_id: String,
    /// The run's key.
    pub run_key: RunKey,
}

impl StepKey {
    /// The key of one step run.
    pub fn new(
        workflow: impl Into<String>,
        step_id: impl Into<String>,
        run_key: impl Into<RunKey>,
    ) -> Self {
        StepKey {
            workflow: workflow.into(),
            step_id: step_id.into(),
            run_key: run_key.into(),
        }
    }
}

impl fmt::Display for StepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.workflow, self.step_id, self.run_key)
    }
}

/// What the store remembers of one step run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepRecord {
    /// The workflow's name.
    pub workflow: String,
    /// The step's id.
    pub step_id: String,
    /// The run's key.
    pub run_key: RunKey,
    /// What the step runs.
    pub target: TaskTarget,
    /// The object's tasks just before the start: a task beyond these, found after a
    /// crash between the start and the save of its id, is the one this run started.
    pub known_tasks: KnownTasks,
    /// The task, once the start answered.
    pub task_id: Option<TaskId>,
    /// W3C traceparent of the span that started the task, to link a reattached wait.
    #[serde(default)]
    pub traceparent: Option<String>,
}

impl StepRecord {
    /// The record of the step run `key` about to start `target` (no task yet).
    pub fn new(key: &StepKey, target: TaskTarget, known_tasks: KnownTasks) -> Self {
        StepRecord {
            workflow: key.workflow.clone(),
            step_id: key.step_id.clone(),
            run_key: key.run_key.clone(),
            target,
            known_tasks,
            task_id: None,
            traceparent: None,
        }
    }

    /// With the task the start answered.
    pub fn task_id(mut self, task_id: Option<TaskId>) -> Self {
        self.task_id = task_id;
        self
    }

    /// With the traceparent of the starting span.
    pub fn traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The step run it belongs to.
    pub fn key(&self) -> StepKey {
        StepKey::new(&self.workflow, &self.step_id, self.run_key.clone())
    }
}

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("state store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another run holds the step run (the same workflow, step and run key).
    #[error("state store {location}: another run with the same run key is running this step")]
    Busy {
        /// Where the lock is (the lease file of a [`FileStore`], and who holds it).
        location: String,
    },
    /// A record is not valid JSON of the expected shape.
    #[error("state store {path}: unreadable record: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why it did not parse.
        source: serde_json::Error,
    },
    /// The lease on a step run expired or was taken over: this run must stop (another
    /// run may now be working on the step).
    #[error(
        "state store {location}: the lease on step run {key} was lost (not renewed in time, \
         or taken over by another run); stopping this run of the step"
    )]
    LeaseLost {
        /// The step run.
        key: StepKey,
        /// Where the lease is (a database, without credentials).
        location: String,
    },
    /// Any other failure of a store's backend (a database).
    #[error("state store: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// A step run held by one run until it is released or dropped (a lease file, a lease row).
///
/// A lock that expires (a lease) says how often it must be renewed
/// ([`renew_every`](Self::renew_every)); the engine renews it when due, between phases
/// and while it waits, and right before it starts a task. The defaults are those of a
/// lock held until dropped: nothing to renew.
#[async_trait]
pub trait StepLock: Send + Sync + fmt::Debug {
    /// The step run held.
    fn key(&self) -> &StepKey;

    /// How often [`renew`](Self::renew) must be called to keep the lock; `None` (the
    /// default): never, the lock is held until dropped.
    fn renew_every(&self) -> Option<Duration> {
        None
    }

    /// Extends the lock (a lease's heartbeat). An error means the lock is lost or cannot
    /// be confirmed in time: the step stops and starts nothing. The default does nothing.
    async fn renew(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Gives the step run back at the step's end, so a rerun need not wait for a lease to
    /// expire. The default drops the guard.
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Where step runs are remembered for reattaching.
///
/// The engine takes the [`lock`](Self::lock) first and holds it to the step's end, then
/// [`load`](Self::load)s, and [`save`](Self::save)s before a start (the known tasks) and
/// after it (the task id). An implementation must make a save durable before it returns:
/// the next call may be the start of a task that must never be started twice.
#[async_trait]
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Takes the step run until the guard is dropped, so two runs with the same run key
    /// (a scheduler's overlapping retry) cannot both start its task. A held step run is
    /// [`StoreError::Busy`] at once, never a wait.
    async fn lock(&self, key: &StepKey) -> Result<Box<dyn StepLock>, StoreError>;
    /// The record of a step run, if any.
    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError>;
    /// Saves a record (replacing the step run's earlier one) durably.
    async fn save(&self, record: &StepRecord) -> Result<(), StoreError>;
    /// Every record in the store, in a stable order; a record that cannot be read is
    /// reported in place.
    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError>;
    /// Keeps a finished step in the history. The default keeps nothing (a store without
    /// history).
    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        let _ = entry;
        Ok(())
    }
    /// The history entries `query` asks for, newest first. The default has none.
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        let _ = query;
        Ok(Vec::new())
    }
}

/// Maps an I/O error on `path` to the store's error naming it.
pub(super) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, source }
}
