//! The task calls besides the start and the adoption: list, status, cancel.

use reqwest::Method;
use runwait_core::{
    EpochMillis, KnownTasks, Task, TaskId, TaskKind, TaskList, TaskStatusBody, TaskSummary,
    TaskTarget,
};

use super::adopt::tasks_path;
use super::task_path;
use crate::auth::Turn;
use crate::{Client, Error};

impl Client {
    /// The tasks `target` has now, to pass to [`Client::start_after`] or
    /// [`Client::adopt_new`] later.
    /// The time of the attempt (by the client's clock) goes with them: a task created
    /// well before it is never taken for one this attempt started.
    pub async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, Error> {
        let began = EpochMillis::from_system_time(self.clock().now());
        // Its turn first, holding only that: many steps list at once when they start,
        // and a listing's own future (pages, requests, retries) is kilobytes, made and
        // boxed only once its turn comes.
        let turn = self.api_turn().await;
        let tasks = Box::pin(self.tasks_of(Some(turn), target)).await?;
        let known: KnownTasks = tasks.into_iter().map(|t| t.task_id).collect();
        Ok(known.since(began))
    }

    /// The tasks of `target`, newest first (of all users): asked for newest first
    /// (`sort=-creationDate`), every page read, and sorted again here in case a server
    /// ignores the sort.
    pub async fn list_tasks(&self, target: &TaskTarget) -> Result<Vec<TaskSummary>, Error> {
        self.tasks_of(None, target).await
    }

    /// [`Client::list_tasks`], its first page in `turn` when the caller took one.
    async fn tasks_of(
        &self,
        turn: Option<Turn>,
        target: &TaskTarget,
    ) -> Result<Vec<TaskSummary>, Error> {
        let tasks = self
            .paged(
                turn,
                &tasks_path(target),
                &[("sort", "-creationDate")],
                TaskList::parse,
                |l| (l.meta, l.tasks),
            )
            .await?;
        let list = TaskList {
            tasks,
            ..TaskList::default()
        };
        Ok(list.newest_first().into_iter().cloned().collect())
    }

    /// The status of a task (processes include the per-action details). Its request is
    /// built at each poll rather than kept: a wait keeps nothing here between two polls
    /// (a kept request cost about 400 bytes a waiting task, against a few hundred
    /// nanoseconds a poll to build; BENCHMARKS.md, session 15).
    pub async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, Error> {
        let query: &[(&str, &str)] = if target.kind == TaskKind::Process {
            &[("includeProcessDetails", "true")]
        } else {
            &[]
        };
        let req = self.request(Method::GET, &task_path(target, task), query);
        Ok(self.get(&req, None, TaskStatusBody::parse).await?.task)
    }

    /// Asks Anaplan to cancel a task; it goes CANCELLING, then CANCELLED (or completes
    /// when it cannot roll back).
    pub async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), Error> {
        let req = self.request(Method::DELETE, &task_path(target, task), &[]);
        self.idempotent(&req).await.map(|_| ())
    }
}
