//! When to try an idempotent call again: jittered exponential backoff (backon), the
//! server's `Retry-After`, and a total budget. Pure: the same error, retry count and
//! elapsed time (and jitter seed) always give the same decision.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use super::driver::{Action, Outcome, Policy, Progress};
use crate::Error;

/// How the client retries idempotent calls (GET, DELETE, auth) after busy (409),
/// rate-limited (429), server (5xx) and transport failures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt, at most.
    pub max_retries: usize,
    /// The first backoff delay.
    pub min_delay: Duration,
    /// The largest backoff delay (a longer `Retry-After` is still honoured).
    pub max_delay: Duration,
    /// Time from the first attempt after which no retry is started.
    pub budget: Duration,
    /// Seed of the jitter; `None` draws one at random. Tests set it to be exact.
    pub jitter_seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(120),
            jitter_seed: None,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retries + 1` after `error`, `elapsed` after the
    /// first attempt; `None` when the retries or the budget are spent. `Retry-After`,
    /// when given (already capped at 5 minutes), replaces the backoff delay.
    pub(crate) fn delay(
        &self,
        error: &Error,
        retries: usize,
        elapsed: Duration,
    ) -> Option<Duration> {
        if retries >= self.max_retries {
            return None;
        }
        // The n-th delay of the sequence: a fixed seed makes it exact, no seed draws it.
        let backoff = self.backoff().nth(retries)?;
        // The server knows when it can take the call again; without it, back off.
        let delay = error.retry_after().unwrap_or(backoff);
        if elapsed.saturating_add(delay) > self.budget {
            return None;
        }
        Some(delay)
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter();
        if let Some(seed) = self.jitter_seed {
            builder = builder.with_jitter_seed(seed);
        }
        builder.build()
    }
}

/// The policy of idempotent calls: transient failures are sent again while retries and
/// budget last; anything else stops at once.
impl Policy for RetryPolicy {
    fn decide(&mut self, outcome: Outcome<'_>, progress: &Progress) -> Action {
        match outcome {
            Outcome::Failed(error) if error.is_transient() => {
                match self.delay(error, progress.sends - 1, progress.elapsed) {
                    Some(delay) => Action::Retry(delay),
                    None => Action::Stop,
                }
            }
            _ => Action::Stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{RequestLine, TransportKind};

    fn line() -> RequestLine {
        RequestLine {
            method: "GET".into(),
            path: "/x".into(),
        }
    }

    fn at(sends: usize, elapsed: Duration) -> Progress {
        Progress {
            sends,
            looks: 0,
            elapsed,
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_stops_at_the_budget() {
        let policy = RetryPolicy {
            max_retries: 10,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            budget: Duration::from_secs(20),
            jitter_seed: Some(7),
        };
        let busy = Error::Config("x".into());
        let mut total = Duration::ZERO;
        let mut retries = 0;
        while let Some(d) = policy.delay(&busy, retries, total) {
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(8),
                "{d:?}"
            );
            total += d;
            retries += 1;
        }
        assert!(total <= Duration::from_secs(20), "{total:?}");
        // The seed fixes the jitter: four retries fit the 20 s budget, a fifth would not.
        assert_eq!(retries, 4, "{total:?}");
        // Pure: asking again gives the same delays.
        assert_eq!(
            policy.delay(&busy, 2, Duration::ZERO),
            policy.delay(&busy, 2, Duration::ZERO)
        );
    }

    #[test]
    fn transient_failures_retry_until_the_attempts_are_spent() {
        let mut policy = RetryPolicy {
            max_retries: 2,
            jitter_seed: Some(1),
            ..RetryPolicy::default()
        };
        let reset = Error::Transport {
            request: line(),
            kind: TransportKind::Broken,
            message: String::new(),
        };
        assert!(matches!(
            policy.decide(Outcome::Failed(&reset), &at(1, Duration::ZERO)),
            Action::Retry(_)
        ));
        assert!(matches!(
            policy.decide(Outcome::Failed(&reset), &at(2, Duration::ZERO)),
            Action::Retry(_)
        ));
        assert_eq!(
            policy.decide(Outcome::Failed(&reset), &at(3, Duration::ZERO)),
            Action::Stop,
            "two retries, then stop"
        );
        let not_found = Error::NotFound {
            request: line(),
            message: String::new(),
        };
        assert_eq!(
            policy.decide(Outcome::Failed(&not_found), &at(1, Duration::ZERO)),
            Action::Stop,
            "permanent failures are never retried"
        );
        assert_eq!(
            RetryPolicy::none().decide(Outcome::Failed(&reset), &at(1, Duration::ZERO)),
            Action::Stop
        );
    }

    #[test]
    fn retry_after_replaces_the_backoff_within_the_budget() {
        let mut policy = RetryPolicy {
            budget: Duration::from_secs(60),
            jitter_seed: Some(1),
            ..RetryPolicy::default()
        };
        let limited = |secs| Error::RateLimited {
            request: line(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            policy.decide(Outcome::Failed(&limited(42)), &at(1, Duration::ZERO)),
            Action::Retry(Duration::from_secs(42))
        );
        assert_eq!(
            policy.decide(
                Outcome::Failed(&limited(42)),
                &at(2, Duration::from_secs(18))
            ),
            Action::Retry(Duration::from_secs(42)),
            "exactly at the budget"
        );
        assert_eq!(
            policy.decide(
                Outcome::Failed(&limited(42)),
                &at(2, Duration::from_secs(19))
            ),
            Action::Stop,
            "a wait past the budget is not started"
        );
        let backoff = policy
            .delay(&Error::Config("x".into()), 0, Duration::ZERO)
            .unwrap();
        assert!(backoff >= policy.min_delay && backoff < policy.min_delay * 2);
    }
}
