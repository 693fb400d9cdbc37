//! The start of a task, never sent twice blindly. The start is the one call that is not
//! idempotent, so it runs under its own [`Policy`] on the shared retry machinery: after
//! an ambiguous failure the next step is a look in the object's task list, never a
//! resend; a resend comes only after the looks found nothing, and never after a timeout
//! or a gateway error.

use std::time::Duration;

use reqwest::Method;
use runwait_core::{KnownTasks, StartOptions, StartTaskReply, Started, TaskTarget};

use super::segments;
use crate::auth::Turn;
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
    /// read again, a few times, and the task the start created is adopted instead of
    /// starting another, by the rules of [`Client::adopt_new`]. After a timeout, 502 or 504 the start is never sent again
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
        // A body that cannot be made is the caller's error, before any wait.
        let body = serde_json::to_value(options).map_err(|e| Error::Config(e.to_string()))?;
        // Its turn first, holding only that (see `Client::known_tasks`); the request,
        // its retries and the look are made, boxed, once it comes.
        let turn = self.api_turn().await;
        Box::pin(self.start_in(turn, target, body, known)).await
    }

    /// [`Client::start_after`] in `turn`, with its request's `body`.
    async fn start_in(
        &self,
        turn: Turn,
        target: &TaskTarget,
        body: serde_json::Value,
        known: &KnownTasks,
    ) -> Result<Started, Error> {
        let mut req = self.request(Method::POST, &segments(target, &["tasks"]), &[]);
        // A start may take long to answer on a dormant model, and is never resent after
        // a timeout: the client's (longer) request timeout.
        req.timeout = None;
        req.body = Some(body);
        let req = &req;
        let mut first = Some(turn);
        let send = move |resend| {
            let turn = first.take();
            async move {
                let reply = match self.inner.session.send(req, resend, turn).await {
                    Ok(response) => read_text(req.line(), response).await.and_then(|text| {
                        StartTaskReply::parse(&text).map_err(|source| Error::Malformed {
                            request: req.line().owned(),
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
            }
        };
        // Boxed: a look is rare (after an ambiguous failure), and inline its listing
        // would double the size of every start's future.
        let look = || {
            Box::pin(async move {
                let found = self.adopt_new(target, known).await?;
                Ok(found.map(|task| {
                    tracing::info!(task_id = %task.task_id, "adopted the task created by the lost start request");
                    Started {
                        task_id: task.task_id,
                        adopted: true,
                    }
                }))
            })
        };
        let mut policy = StartPolicy::new(self.inner.retry, self.inner.start_attempts);
        drive(self.clock(), &mut policy, send, look).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RequestLine;

    fn line() -> RequestLine {
        RequestLine {
            method: "POST".into(),
            path: "/tasks".into(),
        }
    }

    fn server(status: u16) -> Error {
        Error::Server {
            request: line(),
            status,
            message: String::new(),
            retry_after: None,
        }
    }

    fn policy() -> StartPolicy {
        let retry = RetryPolicy {
            jitter_seed: Some(1),
            ..RetryPolicy::default()
        };
        StartPolicy::new(retry, 3)
    }

    fn at(sends: usize, looks: usize) -> Progress {
        Progress {
            sends,
            looks,
            elapsed: Duration::ZERO,
        }
    }

    /// The steps the policy takes for one failure of the first send, given that every
    /// look finds nothing.
    fn steps(error: &Error) -> Vec<&'static str> {
        let mut p = policy();
        let mut looks = 0;
        let mut action = p.decide(Outcome::Failed(error), &at(1, 0));
        let mut steps = Vec::new();
        loop {
            match action {
                Action::Look(_) => {
                    steps.push("look");
                    looks += 1;
                    action = p.decide(Outcome::NothingFound(error), &at(1, looks));
                }
                Action::Retry(_) => return [steps, vec!["resend"]].concat(),
                Action::Stop => return [steps, vec!["stop"]].concat(),
            }
        }
    }

    #[test]
    fn an_ambiguous_failure_is_followed_by_looks_never_by_a_blind_resend() {
        assert_eq!(steps(&server(500)), ["look", "look", "look", "resend"]);
        assert_eq!(steps(&server(503)), ["look", "look", "look", "resend"]);
        for maybe_processing in [
            server(502),
            server(504),
            Error::Transport {
                request: line(),
                kind: TransportKind::Timeout,
                message: String::new(),
            },
        ] {
            assert_eq!(
                steps(&maybe_processing),
                ["look", "look", "look", "stop"],
                "{maybe_processing}"
            );
        }
    }

    #[test]
    fn refusals_that_created_nothing_are_resent_within_the_attempts() {
        let busy = Error::Busy {
            request: line(),
            status: 409,
            message: String::new(),
        };
        assert_eq!(steps(&busy), ["resend"]);
        let mut p = policy();
        assert_eq!(p.decide(Outcome::Failed(&busy), &at(3, 0)), Action::Stop);
        let limited = Error::RateLimited {
            request: line(),
            retry_after: Some(Duration::from_secs(9)),
        };
        assert_eq!(
            p.decide(Outcome::Failed(&limited), &at(1, 0)),
            Action::Retry(Duration::from_secs(9))
        );
    }

    #[test]
    fn other_failures_stop_at_once() {
        let connect = Error::Transport {
            request: line(),
            kind: TransportKind::Connect,
            message: String::new(),
        };
        assert_eq!(steps(&connect), ["stop"], "nothing reached Anaplan");
        let rejected = Error::Rejected {
            request: line(),
            status: 400,
            message: String::new(),
        };
        assert_eq!(steps(&rejected), ["stop"]);
    }

    #[test]
    fn a_look_round_is_cut_short_by_the_retries_of_the_policy() {
        let mut p = StartPolicy::new(RetryPolicy::none(), 3);
        let error = server(500);
        assert_eq!(
            p.decide(Outcome::Failed(&error), &at(1, 0)),
            Action::Look(Duration::ZERO)
        );
        assert_eq!(
            p.decide(Outcome::NothingFound(&error), &at(1, 1)),
            Action::Stop,
            "no retries: one look, no resend"
        );
    }
}
