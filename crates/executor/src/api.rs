//! The task API the engine drives, and its one small error type.
//!
//! The contract for an implementation: each call does its own retries (transient
//! failures, rate limits, a dump chunk cut off half-way) within its own policy, and never
//! sends a start twice blindly. The engine retries nothing itself except through its wait
//! schedule (a failed status poll is simply the next poll). It classifies an error only by
//! its [`ApiErrorKind`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use runwait_core::catalog::NamedObject;
use runwait_core::target::{DumpSource, KnownTasks, StartOptions, Started, TaskTarget};
use runwait_core::{Task, TaskId, TaskSummary};
use tokio::io::AsyncWrite;

/// The calls a run-and-wait step makes.
#[async_trait]
pub trait TaskApi: Send + Sync {
    /// The object's tasks now (before a start), with the time of the attempt.
    async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, ApiError>;
    /// Starts a task. Never sent twice blindly: after an ambiguous failure the
    /// implementation looks for the task by the rules of [`TaskApi::adopt_new`].
    async fn start(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
        known: &KnownTasks,
    ) -> Result<Started, ApiError>;
    /// The task a lost start (or a crashed run) created: not in `known`, created after
    /// the attempt began (`known`'s time, less a clock-skew margin), and started by this
    /// client's user when the task list says who started it. `Ok(None)` when there is no
    /// such task (the start created nothing); an error, [`ApiErrorKind::Permanent`],
    /// when tasks appeared but none can safely be taken for ours (a schedule or another
    /// user may have started the same object): never adopt a stranger's task.
    async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, ApiError>;
    /// The task's status.
    async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, ApiError>;
    /// Requests a cancel.
    async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), ApiError>;
    /// Downloads a dump into `out`; returns the bytes written. A dump that is gone is
    /// [`ApiErrorKind::NotFound`].
    async fn download_dump(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
        out: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<u64, ApiError>;
    /// A process's actions in order (to name dump files).
    async fn process_actions(&self, target: &TaskTarget) -> Result<Vec<NamedObject>, ApiError>;
}

/// What the engine does with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// Worth another try later (server trouble, a broken connection, a busy model): a
    /// failed poll is followed by the next one.
    Transient,
    /// Rate limited (HTTP 429): transient, and the whole tenant's budget pauses for the
    /// wait asked for (or the poll floor when none was given).
    RetryAfter(Option<Duration>),
    /// Unknown id, or a dump that is gone (HTTP 404).
    NotFound,
    /// Retrying will not help (authentication, permission, a rejected request).
    Permanent,
}

/// An error of a [`TaskApi`] call: a kind for the engine, a message for humans.
///
/// The message is shown to users as is, so it must not hold a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    kind: ApiErrorKind,
    message: String,
    http_status: Option<u16>,
}

impl ApiError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            http_status: None,
        }
    }

    /// A failure worth another try later.
    pub fn transient(message: impl Into<String>) -> Self {
        ApiError::new(ApiErrorKind::Transient, message)
    }

    /// Rate limited; `retry_after` is what the server asked for, if anything. Records
    /// HTTP status 429.
    pub fn retry_after(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        ApiError::new(ApiErrorKind::RetryAfter(retry_after), message).with_http_status(429)
    }

    /// Unknown id or a dump that is gone. Records HTTP status 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ApiErrorKind::NotFound, message).with_http_status(404)
    }

    /// A failure retrying will not help.
    pub fn permanent(message: impl Into<String>) -> Self {
        ApiError::new(ApiErrorKind::Permanent, message)
    }

    /// The HTTP status of the reply, for spans.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// The kind.
    pub fn kind(&self) -> ApiErrorKind {
        self.kind
    }

    /// The message for humans.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the reply, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// True for [`Transient`](ApiErrorKind::Transient) and
    /// [`RetryAfter`](ApiErrorKind::RetryAfter).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ApiErrorKind::Transient | ApiErrorKind::RetryAfter(_)
        )
    }

    /// True for [`NotFound`](ApiErrorKind::NotFound).
    pub fn is_not_found(&self) -> bool {
        self.kind == ApiErrorKind::NotFound
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_classify_and_the_message_is_the_display() {
        let e = ApiError::retry_after("slow down", Some(Duration::from_secs(3)));
        assert!(e.is_transient());
        assert_eq!(e.http_status(), Some(429));
        assert_eq!(e.to_string(), "slow down");
        assert!(ApiError::transient("x").is_transient());
        assert!(ApiError::not_found("x").is_not_found());
        assert!(!ApiError::permanent("x").is_transient());
        assert_eq!(
            ApiError::permanent("x").with_http_status(403).http_status(),
            Some(403)
        );
    }
}
