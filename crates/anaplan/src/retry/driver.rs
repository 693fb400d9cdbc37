//! The one retry loop: runs a call's attempts as its [`Policy`] decides, sleeping
//! through the client's clock.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::{Clock, Error};

/// What a call does after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send the call again after this delay.
    Retry(Duration),
    /// Do not send again yet: after this delay, look whether the failed attempt took
    /// effect (a call that must never be sent twice blindly).
    Look(Duration),
    /// Give up with the last failure of a send.
    Stop,
}

/// What the policy decides about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// A send failed with this error.
    Failed(&'a Error),
    /// A look found nothing; the error is the failure of the last send.
    NothingFound(&'a Error),
}

/// Where a call stands when the policy decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    /// Sends made, the failed one included.
    pub(crate) sends: usize,
    /// Looks made.
    pub(crate) looks: usize,
    /// Time since the first send: waited on tokio's clock or slept through the client's
    /// clock, whichever is more (a host clock may sleep without moving tokio's time).
    pub(crate) elapsed: Duration,
}

/// Decides what follows a failure. Implementations do no I/O.
pub(crate) trait Policy {
    /// The action after `outcome`.
    fn decide(&mut self, outcome: Outcome<'_>, progress: &Progress) -> Action;
}

/// Runs `send` until it succeeds or `policy` stops, with `look` where the policy asks
/// for one. A look that finds the call's effect ends the call with it; a look that fails
/// ends the call with its error (the look has its own retries).
pub(crate) async fn drive<T, P, S, SF, L, LF>(
    clock: &dyn Clock,
    policy: &mut P,
    mut send: S,
    mut look: L,
) -> Result<T, Error>
where
    P: Policy,
    S: FnMut(usize) -> SF,
    SF: Future<Output = Result<T, Error>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, Error>>,
{
    let began = Instant::now();
    let mut slept = Duration::ZERO;
    let mut progress = Progress::default();
    let mut error = match send(0).await {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    progress.sends = 1;
    let mut looked = false;
    loop {
        progress.elapsed = began.elapsed().max(slept);
        let outcome = if looked {
            Outcome::NothingFound(&error)
        } else {
            Outcome::Failed(&error)
        };
        let (delay, next_is_look) = match policy.decide(outcome, &progress) {
            Action::Stop => return Err(error),
            Action::Retry(delay) => {
                tracing::debug!(error = %error, delay_ms = delay.as_millis() as u64, "retrying");
                (delay, false)
            }
            Action::Look(delay) => (delay, true),
        };
        if !delay.is_zero() {
            clock.sleep(delay).await;
            slept = slept.saturating_add(delay);
        }
        if next_is_look {
            progress.looks += 1;
            if let Some(value) = look().await? {
                return Ok(value);
            }
            looked = true;
        } else {
            match send(progress.sends).await {
                Ok(value) => return Ok(value),
                Err(e) => error = e,
            }
            progress.sends += 1;
            looked = false;
        }
    }
}

/// Runs an idempotent call: sent again as `policy` allows, never looked after.
pub(crate) async fn retry<T, P, S, SF>(
    clock: &dyn Clock,
    mut policy: P,
    send: S,
) -> Result<T, Error>
where
    P: Policy,
    S: FnMut(usize) -> SF,
    SF: Future<Output = Result<T, Error>>,
{
    drive(clock, &mut policy, send, || async { Ok(None) }).await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use super::*;
    use crate::RetryPolicy;
    use crate::clock::Sleep;
    use crate::error::RequestLine;

    /// A clock whose sleeps return at once and are recorded.
    #[derive(Debug, Default)]
    struct Recording(Mutex<Vec<Duration>>);

    impl Clock for Recording {
        fn now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH
        }
        fn sleep(&self, d: Duration) -> Sleep {
            self.0.lock().unwrap().push(d);
            Box::pin(std::future::ready(()))
        }
    }

    fn server_error() -> Error {
        Error::Server {
            request: RequestLine {
                method: "GET".into(),
                path: "/x".into(),
            },
            status: 503,
            message: String::new(),
            retry_after: None,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(600),
            jitter_seed: Some(9),
        }
    }

    #[tokio::test]
    async fn every_delay_is_slept_through_the_clock_as_the_policy_decides() {
        let clock = Recording::default();
        let sends = Arc::new(Mutex::new(Vec::new()));
        let result: Result<(), Error> = retry(&clock, policy(), |resend| {
            sends.lock().unwrap().push(resend);
            async { Err(server_error()) }
        })
        .await;
        assert!(matches!(result, Err(Error::Server { status: 503, .. })));
        assert_eq!(
            *sends.lock().unwrap(),
            [0, 1, 2, 3],
            "the first send and 3 retries"
        );
        // The policy is pure: the delays it gives for retries 0, 1, 2 (with the time the
        // earlier ones took) are exactly what was slept.
        let mut expected = Vec::new();
        let mut elapsed = Duration::ZERO;
        for retries in 0..3 {
            let d = policy().delay(&server_error(), retries, elapsed).unwrap();
            expected.push(d);
            elapsed += d;
        }
        assert_eq!(*clock.0.lock().unwrap(), expected);
    }

    /// A policy that looks twice, then sends again once.
    struct LookTwice;

    impl Policy for LookTwice {
        fn decide(&mut self, outcome: Outcome<'_>, progress: &Progress) -> Action {
            match outcome {
                Outcome::Failed(_) if progress.sends == 1 => Action::Look(Duration::ZERO),
                Outcome::NothingFound(_) if progress.looks < 2 => {
                    Action::Look(Duration::from_secs(2))
                }
                Outcome::NothingFound(_) => Action::Retry(Duration::from_secs(5)),
                Outcome::Failed(_) => Action::Stop,
            }
        }
    }

    #[tokio::test]
    async fn looks_replace_resends_where_the_policy_says() {
        let clock = Recording::default();
        let steps = Mutex::new(Vec::new());
        let result: Result<u8, Error> = drive(
            &clock,
            &mut LookTwice,
            |n| {
                steps.lock().unwrap().push(format!("send {n}"));
                async { Err(server_error()) }
            },
            || {
                steps.lock().unwrap().push("look".to_owned());
                async { Ok(None) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(*steps.lock().unwrap(), ["send 0", "look", "look", "send 1"]);
        assert_eq!(
            *clock.0.lock().unwrap(),
            [Duration::from_secs(2), Duration::from_secs(5)],
            "the first look at once"
        );
    }

    #[tokio::test]
    async fn a_look_that_finds_the_effect_ends_the_call() {
        let clock = Recording::default();
        let result = drive(
            &clock,
            &mut LookTwice,
            |_| async { Err(server_error()) },
            || async { Ok(Some(7u8)) },
        )
        .await;
        assert_eq!(result.unwrap(), 7);
    }
}
