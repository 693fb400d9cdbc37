//! The one retry machinery of the client, in the manner of tower's retry: a [`Policy`]
//! decides after each failure, from the error, the attempts made and the time spent,
//! whether to stop, send again after a delay, or (for a call that must never be sent
//! twice blindly) look whether the failed attempt took effect; [`drive`] is the one loop
//! that carries out those decisions and sleeps through the injected [`Clock`].
//!
//! [`RetryPolicy`] is the policy of idempotent calls; the start of a task has its own
//! policy on top of it (in `client::start`). This module knows nothing of HTTP.
//!
//! [`Clock`]: crate::Clock

mod driver;
mod policy;

pub(crate) use driver::{Action, Outcome, Policy, Progress, drive, retry};
pub use policy::RetryPolicy;
