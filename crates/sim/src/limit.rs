//! The tenant's request rate limit: above it the simulator answers 429 with `Retry-After`,
//! as Anaplan does. Anaplan documents its API limit as 600 calls per minute per tenant
//! (Anaplan's Integration API "API rate limits"; runwait's API reference records it as a
//! token bucket, which is unconfirmed), so the simulator counts every API call of the
//! whole tenant (logins aside) in one token bucket: `per_second` tokens a second, at most
//! one second's worth banked.
//!
//! It runs on tokio's clock (real seconds, or paused time in tests), not the scenario's:
//! a limit is about requests per real second whatever the scenario's speed.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket of one tenant.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `per_second` calls a second (at least one).
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        RateLimit {
            per_second,
            bucket: Mutex::new(Bucket {
                tokens: per_second,
                at: Instant::now(),
            }),
        }
    }

    /// Takes a token for a call now, or says how long until one is free (the 429's
    /// `Retry-After`).
    pub(crate) fn take(&self) -> Result<(), Duration> {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = (now - b.at).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.per_second);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_second_of_calls_passes_then_the_rate_holds() {
        let limit = RateLimit::new(10);
        for _ in 0..10 {
            limit.take().unwrap();
        }
        let wait = limit.take().unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        tokio::time::advance(Duration::from_millis(100)).await;
        limit.take().unwrap();
        assert!(limit.take().is_err());
        // Spaced at the rate, calls never hit the limit.
        for _ in 0..50 {
            tokio::time::advance(Duration::from_millis(100)).await;
            limit.take().unwrap();
        }
    }
}
