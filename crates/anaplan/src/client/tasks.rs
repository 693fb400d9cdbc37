//! The task calls besides the start: list, status, cancel, and the look for a task a
//! lost start created.

use reqwest::Method;
use runwait_core::{
    KnownTasks, Task, TaskId, TaskKind, TaskList, TaskStatusBody, TaskSummary, TaskTarget,
};

use super::segments;
use crate::{Client, Error};

impl Client {
    /// The tasks `target` has now, to pass to [`Client::start_after`] or
    /// [`Client::adopt_new`] later.
    pub async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, Error> {
        let tasks = self.list_tasks(target).await?;
        Ok(tasks.into_iter().map(|t| t.task_id).collect())
    }

    /// The newest task of `target` that is not in `known`, if any: a task created by a
    /// start whose reply never arrived.
    pub async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, Error> {
        let tasks = self.list_tasks(target).await?;
        Ok(tasks.into_iter().find(|t| !known.contains(&t.task_id)))
    }

    /// The tasks of `target`, newest first (of all users).
    pub async fn list_tasks(&self, target: &TaskTarget) -> Result<Vec<TaskSummary>, Error> {
        let list = self
            .get(
                &self.request(Method::GET, &segments(target, &["tasks"]), &[]),
                TaskList::parse,
            )
            .await?;
        Ok(list.newest_first().into_iter().cloned().collect())
    }

    /// The status of a task (processes include the per-action details).
    pub async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, Error> {
        let query: &[(&str, &str)] = if target.kind == TaskKind::Process {
            &[("includeProcessDetails", "true")]
        } else {
            &[]
        };
        let req = self.request(
            Method::GET,
            &segments(target, &["tasks", task.as_str()]),
            query,
        );
        Ok(self.get(&req, TaskStatusBody::parse).await?.task)
    }

    /// Asks Anaplan to cancel a task; it goes CANCELLING, then CANCELLED (or completes
    /// when it cannot roll back).
    pub async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), Error> {
        let req = self.request(
            Method::DELETE,
            &segments(target, &["tasks", task.as_str()]),
            &[],
        );
        self.idempotent(&req).await.map(|_| ())
    }
}
