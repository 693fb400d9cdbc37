//! When to try an idempotent call again: jittered exponential backoff (backon), the
//! server's `Retry-After`, and a total budget.

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

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

    pub(crate) fn start(&self) -> Retrier {
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter();
        if let Some(seed) = self.jitter_seed {
            builder = builder.with_jitter_seed(seed);
        }
        Retrier {
            backoff: Box::new(builder.build()),
            started: Instant::now(),
            budget: self.budget,
            retries: 0,
        }
    }
}

/// One call's progress through its retries.
pub(crate) struct Retrier {
    backoff: Box<dyn Iterator<Item = Duration> + Send>,
    started: Instant,
    budget: Duration,
    retries: usize,
}

impl Retrier {
    /// The wait before the next attempt after `error`, or `None` when retries or the
    /// budget are spent. `Retry-After`, when given, replaces the backoff delay.
    pub(crate) fn next_delay(&mut self, error: &Error) -> Option<Duration> {
        let backoff = self.backoff.next()?;
        // The server knows when it can take the call again; without it, back off.
        let delay = error.retry_after().unwrap_or(backoff);
        if self.started.elapsed().saturating_add(delay) > self.budget {
            return None;
        }
        self.retries += 1;
        Some(delay)
    }

    /// Retries made so far.
    pub(crate) fn retries(&self) -> usize {
        self.retries
    }
}

/// The longest `Retry-After` honoured: a proxy asking for hours or for `u64::MAX`
/// seconds must not stall a tenant's waits (or overflow a clock).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// `Retry-After` as seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(42)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(retry_after(&h, now), Some(MAX_RETRY_AFTER));
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_is_capped_and_stops_at_the_budget() {
        let policy = RetryPolicy {
            max_retries: 10,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            budget: Duration::from_secs(20),
            jitter_seed: Some(7),
        };
        let mut r = policy.start();
        let busy = Error::Config("x".into());
        let mut total = Duration::ZERO;
        while let Some(d) = r.next_delay(&busy) {
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(8),
                "{d:?}"
            );
            tokio::time::advance(d).await;
            total += d;
        }
        assert!(total <= Duration::from_secs(20), "{total:?}");
        // The seed fixes the jitter: four retries fit the 20 s budget, a fifth would not.
        assert_eq!(r.retries(), 4, "{total:?}");
    }
}
