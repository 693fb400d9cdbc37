//! The client's view of time: the wall clock that decides token expiry and the sleep
//! of every retry delay, both injectable.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A sleep handed out by a [`Clock`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The wall clock and the sleep of the client, injectable so token expiry can be tested
/// against a simulator whose time runs faster, and so a host's paused or simulated time
/// decides every retry delay exactly.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Waits `duration`: every retry delay of the client goes through here. The default
    /// is tokio's sleep (which follows tokio's paused time).
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
