//! The clock, the sleep and the randomness that decide waits, injectable as smithy-rs's
//! waiters do. The default runs on tokio's clock, so tests in paused time are exact.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use tokio::time::Instant;

/// Where the engine gets time and chance from.
pub trait WaitEnv: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
    /// A future that completes at `at`.
    fn sleep_until(&self, at: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// A uniform sample in `[0, 1)` for jitter.
    fn random(&self) -> f64;
}

/// tokio's clock and sleep, with a seedable generator.
#[derive(Debug)]
pub struct TokioEnv {
    rng: Mutex<fastrand::Rng>,
}

impl TokioEnv {
    /// Random jitter.
    pub fn new() -> Self {
        TokioEnv {
            rng: Mutex::new(fastrand::Rng::new()),
        }
    }

    /// Jitter from a fixed seed: the same waits every run.
    pub fn seeded(seed: u64) -> Self {
        TokioEnv {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }
}

impl Default for TokioEnv {
    fn default() -> Self {
        TokioEnv::new()
    }
}

impl WaitEnv for TokioEnv {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, at: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep_until(at))
    }

    fn random(&self) -> f64 {
        match self.rng.lock() {
            Ok(mut rng) => rng.f64(),
            Err(poisoned) => poisoned.into_inner().f64(),
        }
    }
}
