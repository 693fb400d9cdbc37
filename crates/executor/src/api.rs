//! The task API the engine drives. [`runwait_anaplan::Client`] implements it; the engine
//! knows nothing else of the client.

use async_trait::async_trait;
use runwait_anaplan::{Client, DumpSource, Error, KnownTasks, StartOptions, Started, TaskTarget};
use runwait_core::catalog::NamedObject;
use runwait_core::{Task, TaskId, TaskSummary};
use tokio::io::AsyncWrite;

/// The calls a run-and-wait step makes.
#[async_trait]
pub trait TaskApi: Send + Sync {
    /// The object's tasks now (before a start).
    async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, Error>;
    /// Starts a task; never sent twice blindly (see `runwait_anaplan::Client::start_after`).
    async fn start(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
        known: &KnownTasks,
    ) -> Result<Started, Error>;
    /// The newest task not in `known`: one a lost start created.
    async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, Error>;
    /// The task's status.
    async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, Error>;
    /// Requests a cancel.
    async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), Error>;
    /// Downloads a dump into `out`; returns the bytes written.
    async fn download_dump(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
        out: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<u64, Error>;
    /// A process's actions in order (to name dump files).
    async fn process_actions(&self, target: &TaskTarget) -> Result<Vec<NamedObject>, Error>;
}

#[async_trait]
impl TaskApi for Client {
    async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, Error> {
        Client::known_tasks(self, target).await
    }

    async fn start(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
        known: &KnownTasks,
    ) -> Result<Started, Error> {
        self.start_after(target, options, known).await
    }

    async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, Error> {
        Client::adopt_new(self, target, known).await
    }

    async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, Error> {
        Client::status(self, target, task).await
    }

    async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), Error> {
        Client::cancel(self, target, task).await
    }

    async fn download_dump(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
        out: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<u64, Error> {
        Client::download_dump(self, target, task, source, out).await
    }

    async fn process_actions(&self, target: &TaskTarget) -> Result<Vec<NamedObject>, Error> {
        Ok(self
            .process_metadata(&target.model, &target.object)
            .await?
            .actions)
    }
}
