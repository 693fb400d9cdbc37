//! The start of a task, never sent twice blindly. The start is the one call that is not
//! idempotent, so it runs under its own [`Policy`] on the shared retry machinery: after
//! an ambiguous failure the next step is a look in the object's task list, never a
//! resend; a resend comes only after the looks found nothing, and never after a timeout
//! or a gateway error.

use std::time::Duration;

use reqwest::Method;
use runwait_core::{KnownTasks, StartOptions, StartTaskReply, Started, TaskTarget};

use super::segments;
use crate::error::TransportKind;
use crate::retry::{Action, Outcome, Policy, Progress, RetryPolicy, drive};
use crate::transport::read_text;
use crate::{Client, Error};

/// How often the task list is read after an ambiguous start failure before deciding that
/// no task was created.
const ADOPTION_LOOKS: usize = 3;

/// After a timeout or a gateway error (502, 504) the server may still be handling the
/// start: it is never sent again.
fn may_still_be_processing(error: &Error) -> bool {
    matches!(
        error,
        Error::Transport {
            kind: TransportKind::Timeout,
            ..
        } | Error::Server {
            status: 502 | 504,
            ..
        }
    )
}

/// A failure after which the task may exist: a broken connection, a timeout, a 5xx, or
/// a 2xx whose body is lost or unreadable.
fn may_have_started(error: &Error) -> bool {
    error.is_ambiguous() || matches!(error, Error::Malformed { .. })
}

/// What follows a failed start: looks after an ambiguous failure (the first at once,
/// then with the retry policy's backoff), a resend after a refusal that created nothing
/// (busy, rate limited) or after looks that found nothing, within the start attempts and
/// the retry policy's retries and budget.
#[derive(Debug, Clone, Copy)]
struct StartPolicy {
    retry: RetryPolicy,
    attempts: usize,
    /// Looks made before the current round of looks, and when it began.
    looks_before: usize,
    looks_began: Duration,
}

impl StartPolicy {
    fn new(retry: RetryPolicy, attempts: usize) -> Self {
        StartPolicy {
            retry,
            attempts,
            looks_before: 0,
            looks_began: Duration::ZERO,
        }
    }

    fn resend(&self, error: &Error, progress: &Progress) -> Action {
        if progress.sends >= self.attempts {
            return Action::Stop;
        }
        match self
            .retry
            .delay(error, progress.sends - 1, progress.elapsed)
        {
            Some(delay) => Action::Retry(delay),
            None => Action::Stop,
        }
    }
}

impl Policy for StartPolicy {
    fn decide(&mut self, outcome: Outcome<'_>, progress: &Progress) -> Action {
        match outcome {
            Outcome::Failed(error) if may_have_started(error) => {
                self.looks_before = progress.looks;
                self.looks_began = progress.elapsed;
                Action::Look(Duration::ZERO)
            }
            Outcome::Failed(error @ (Error::Busy { .. } | Error::RateLimited { .. })) => {
                self.resend(error, progress)
            }
            Outcome::Failed(_) => Action::Stop,
            Outcome::NothingFound(error) => {
                let looked = progress.looks - self.looks_before;
                let since = progress.elapsed.saturating_sub(self.looks_began);
                if looked < ADOPTION_LOOKS
                    && let Some(delay) = self.retry.delay(error, looked - 1, since)
                {
                    // A task whose start answer was lost may show up a moment later.
                    return Action::Look(delay);
                }
                if may_still_be_processing(error) {
                    // The server may create the task after we stop looking: sending the
                    // start again could run it twice. A rerun adopts it from `known`.
                    return Action::Stop;
                }
                self.resend(error, progress)
            }
        }
    }
}

impl Client {
    /// Starts a task. The POST is never repeated blindly: the object's tasks are listed
    /// first, and after an ambiguous failure (broken connection, timeout, 5xx) the list is
    /// read again, a few times, and a task that was not there before is adopted instead
    /// of starting another. After a timeout, 502 or 504 the start is never sent again
    /// (the server may still create the task); after a reset, 500 or 503 it is, once no
    /// new task showed up. A busy (409) or rate-limited (429) refusal created nothing and
    /// is retried with backoff.
    pub async fn start(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
    ) -> Result<Started, Error> {
        let known = self.known_tasks(target).await?;
        self.start_after(target, options, &known).await
    }

    /// [`Client::start`] with the tasks known before, e.g. restored after a crash.
    pub async fn start_after(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
        known: &KnownTasks,
    ) -> Result<Started, Error> {
        if !options.mapping_parameters.is_empty() && !target.kind.accepts_mapping_parameters() {
            return Err(Error::Config(format!(
                "mapping parameters are accepted by processes and imports only, not by {} {}",
                target.kind, target.object
            )));
        }
        let mut req = self.request(Method::POST, &segments(target, &["tasks"]), &[]);
        req.body = Some(serde_json::to_value(options).map_err(|e| Error::Config(e.to_string()))?);
        let req = &req;
        let send = |resend| async move {
            let reply = match self.inner.session.send(req, resend).await {
                Ok(response) => read_text(&req.line, response).await.and_then(|text| {
                    StartTaskReply::parse(&text).map_err(|source| Error::Malformed {
                        request: req.line.clone(),
                        source,
                    })
                }),
                Err(e) => Err(e),
            };
            match reply {
                Ok(reply) => Ok(Started {
                    task_id: reply.task_id,
                    adopted: false,
                }),
                Err(error) => {
                    if may_have_started(&error) {
                        tracing::warn!(error = %error, "start request failed ambiguously; looking for the task it may have created");
                    }
                    Err(error)
                }
            }
        };
        let look = || async move {
            let found = self.adopt_new(target, known).await?;
            Ok(found.map(|task| {
                tracing::info!(task_id = %task.task_id, "adopted the task created by the lost start request");
                Started {
                    task_id: task.task_id,
                    adopted: true,
                }
            }))
        };
        let mut policy = StartPolicy::new(self.inner.retry, self.inner.start_attempts);
        drive(self.clock(), &mut policy, send, look).await
    }
}
