//! The [`TaskApi`] of [`runwait_anaplan::Client`] (the default `anaplan` feature), and the
//! one place where the client's errors become [`ApiError`]s.

use async_trait::async_trait;
use runwait_anaplan::{Client, Error};
use runwait_core::catalog::NamedObject;
use runwait_core::target::{DumpSource, KnownTasks, StartOptions, Started, TaskTarget};
use runwait_core::{Task, TaskId, TaskSummary};
use tokio::io::AsyncWrite;

use crate::api::{ApiError, ApiErrorKind, TaskApi};

/// 429 is retry-after, the client's transient errors transient, 404 not found, the rest
/// permanent; the message is the error's display (which never holds a secret).
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::RateLimited { retry_after, .. } => ApiErrorKind::RetryAfter(*retry_after),
            Error::NotFound { .. } => ApiErrorKind::NotFound,
            e if e.is_transient() => ApiErrorKind::Transient,
            _ => ApiErrorKind::Permanent,
        };
        let api = ApiError::new(kind, error.to_string());
        match error.http_status() {
            Some(status) => api.with_http_status(status),
            None => api,
        }
    }
}

#[async_trait]
impl TaskApi for Client {
    async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, ApiError> {
        Ok(Client::known_tasks(self, target).await?)
    }

    async fn start(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
        known: &KnownTasks,
    ) -> Result<Started, ApiError> {
        Ok(self.start_after(target, options, known).await?)
    }

    async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, ApiError> {
        Ok(Client::adopt_new(self, target, known).await?)
    }

    async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, ApiError> {
        Ok(Client::status(self, target, task).await?)
    }

    async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), ApiError> {
        Ok(Client::cancel(self, target, task).await?)
    }

    async fn download_dump(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
        out: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<u64, ApiError> {
        Ok(Client::download_dump(self, target, task, source, out).await?)
    }

    async fn process_actions(&self, target: &TaskTarget) -> Result<Vec<NamedObject>, ApiError> {
        Ok(self
            .process_metadata(&target.model, &target.object)
            .await?
            .actions)
    }
}
