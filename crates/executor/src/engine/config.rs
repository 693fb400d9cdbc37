//! [`WaitConfig`]: how a wait behaves beyond the poll schedule.

use std::time::Duration;

use runwait_core::OutcomePolicy;

use crate::poll::PollPolicy;

/// How a wait behaves, beyond the poll schedule. Build it from the default with the
/// `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct WaitConfig {
    /// The poll schedule.
    pub poll: PollPolicy,
    /// How a finished task becomes an outcome.
    pub outcome_policy: OutcomePolicy,
    /// After a cancel request, how long to wait for `CANCELLED` (default 5 minutes).
    pub cancel_grace: Duration,
    /// How long the API may stay unreachable before the step ends as `error`
    /// (default 10 minutes); until then the wait goes on with backoff.
    pub unreachable_tolerance: Duration,
}

impl WaitConfig {
    /// With the poll schedule.
    pub fn with_poll(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// With the outcome policy.
    pub fn with_outcome_policy(mut self, policy: OutcomePolicy) -> Self {
        self.outcome_policy = policy;
        self
    }

    /// With the cancel grace period.
    pub fn with_cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// With the unreachable tolerance.
    pub fn with_unreachable_tolerance(mut self, tolerance: Duration) -> Self {
        self.unreachable_tolerance = tolerance;
        self
    }
}

impl Default for WaitConfig {
    fn default() -> Self {
        WaitConfig {
            poll: PollPolicy::default(),
            outcome_policy: OutcomePolicy::default(),
            cancel_grace: Duration::from_secs(5 * 60),
            unreachable_tolerance: Duration::from_secs(10 * 60),
        }
    }
}
