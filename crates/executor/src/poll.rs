//! The poll schedule: when to ask for a task's status next.
//!
//! The algorithm, decided by one [`PollPolicy`]:
//!
//! 1. **Floor.** Never the same task more often than `min_interval` (5 s by default,
//!    Anaplan's rule). The first poll comes `min_interval` after the start.
//! 2. **Blind curve.** Without better knowledge the delay grows geometrically from
//!    `min_interval` by `growth` per poll, up to `max_interval`: long runs are polled
//!    less often.
//! 3. **Progress-aware.** While `progress` rises steadily (at least two rising samples
//!    in a row), the completion time is estimated from the rate of the last samples,
//!    and the next poll goes there (plus one second, so a poll a moment too early does
//!    not cost another) when that is sooner than the blind curve. A stall
//!    (progress not rising) forgets the estimate. Queued tasks (`NOT_STARTED`) and
//!    models loading at progress 0 simply follow the blind curve.
//! 4. **Jitter.** The delay is multiplied by a random factor in `1 ± jitter` (then held
//!    to the floor and the ceiling), so thousands of waits do not poll in lockstep.
//! 5. **Deadline.** A poll that would land past the step's deadline is moved to the
//!    deadline itself: the last look before the task is cancelled.

use std::time::Duration;

use tokio::time::Instant;

/// The knobs of the schedule. Build it from the default with the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PollPolicy {
    /// The shortest delay between two polls of one task (default 5 s; lower it only for
    /// the simulator).
    pub min_interval: Duration,
    /// The longest delay (default 60 s).
    pub max_interval: Duration,
    /// Growth of the blind delay per poll (default 1.5).
    pub growth: f64,
    /// Relative jitter, 0 to 1 (default 0.1: ±10 %).
    pub jitter: f64,
}

impl PollPolicy {
    /// With the shortest delay between two polls.
    pub fn with_min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// With the longest delay.
    pub fn with_max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// With the growth of the blind delay per poll.
    pub fn with_growth(mut self, growth: f64) -> Self {
        self.growth = growth;
        self
    }

    /// With the relative jitter (0 to 1).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            min_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(60),
            growth: 1.5,
            jitter: 0.1,
        }
    }
}

/// The samples of one wait that the schedule learns from.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    polls: u32,
    rising: Vec<(Instant, f64)>,
}

/// How long after the estimated completion the progress-aware poll goes.
const ETA_MARGIN: Duration = Duration::from_secs(1);

/// Samples kept for the rate estimate.
const WINDOW: usize = 3;

impl Schedule {
    /// Records a poll's progress (if any) at `at`.
    pub fn observe(&mut self, at: Instant, progress: Option<f64>) {
        self.polls += 1;
        match (progress, self.rising.last()) {
            (Some(p), Some(&(_, last))) if p > last => self.rising.push((at, p)),
            (Some(p), None) if p > 0.0 => self.rising.push((at, p)),
            // Not rising: whatever rate was seen no longer predicts anything.
            (Some(p), _) if p > 0.0 => {
                self.rising.clear();
                self.rising.push((at, p));
            }
            _ => self.rising.clear(),
        }
        if self.rising.len() > WINDOW {
            self.rising.remove(0);
        }
    }

    /// Polls observed so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// The estimated time left, when progress rises steadily.
    pub fn estimated_remaining(&self) -> Option<Duration> {
        let (&(t0, p0), &(t1, p1)) = (self.rising.first()?, self.rising.last()?);
        if self.rising.len() < 2 || p1 <= p0 {
            return None;
        }
        let rate = (p1 - p0) / t1.duration_since(t0).as_secs_f64().max(f64::EPSILON);
        Some(Duration::from_secs_f64(
            ((1.0 - p1).max(0.0) / rate).min(1e9),
        ))
    }

    /// The delay before the next poll, `random` being a sample in `[0, 1)`.
    pub fn next_delay(&self, policy: &PollPolicy, random: f64) -> Duration {
        let exponent = self.polls.saturating_sub(1).min(64) as i32;
        let blind = policy.min_interval.as_secs_f64() * policy.growth.max(1.0).powi(exponent);
        let blind = blind.min(policy.max_interval.as_secs_f64());
        let target = match self.estimated_remaining() {
            // Just after the estimate: a poll a moment too early costs a whole extra poll.
            Some(eta) => (eta.as_secs_f64() + ETA_MARGIN.as_secs_f64()).min(blind),
            None => blind,
        };
        let jittered = target * (1.0 + policy.jitter.clamp(0.0, 1.0) * (2.0 * random - 1.0));
        let secs = jittered.clamp(
            policy.min_interval.as_secs_f64(),
            policy
                .max_interval
                .as_secs_f64()
                .max(policy.min_interval.as_secs_f64()),
        );
        // Whole milliseconds: tokio's timers have that resolution, so the schedule
        // says exactly when the poll happens.
        Duration::from_millis((secs * 1000.0).round() as u64)
    }
}

/// The next poll time: `now + delay`, but never past the deadline.
pub fn next_poll_at(now: Instant, delay: Duration, deadline: Option<Instant>) -> Instant {
    let at = now + delay;
    match deadline {
        Some(d) if d < at => d.max(now),
        _ => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PollPolicy {
        PollPolicy {
            jitter: 0.0,
            ..PollPolicy::default()
        }
    }

    #[test]
    fn blind_delays_grow_from_the_floor_to_the_ceiling() {
        let t = Instant::now();
        let mut s = Schedule::default();
        let mut delays = Vec::new();
        for i in 0..12 {
            s.observe(t + Duration::from_secs(i), None);
            delays.push(s.next_delay(&policy(), 0.5).as_secs_f64());
        }
        assert_eq!(&delays[..5], &[5.0, 7.5, 11.25, 16.875, 25.313]);
        assert_eq!(delays[11], 60.0);
    }

    #[test]
    fn steady_progress_moves_the_poll_to_the_estimated_end() {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t, Some(0.1));
        s.observe(t + Duration::from_secs(10), Some(0.2));
        s.observe(t + Duration::from_secs(20), Some(0.9));
        // rate (0.9-0.1)/20 s = 0.04/s; 0.1 left: 2.5 s, held to the 5 s floor
        assert_eq!(s.estimated_remaining(), Some(Duration::from_secs_f64(2.5)));
        assert_eq!(s.next_delay(&policy(), 0.5), Duration::from_secs(5));
    }

    #[test]
    fn a_stall_forgets_the_estimate() {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t, Some(0.1));
        s.observe(t + Duration::from_secs(10), Some(0.2));
        assert!(s.estimated_remaining().is_some());
        s.observe(t + Duration::from_secs(20), Some(0.2));
        assert_eq!(s.estimated_remaining(), None);
        s.observe(t + Duration::from_secs(30), Some(0.0));
        assert_eq!(s.estimated_remaining(), None);
    }

    #[test]
    fn jitter_stays_within_bounds_and_the_floor_holds() {
        let p = PollPolicy {
            jitter: 0.5,
            ..PollPolicy::default()
        };
        let mut s = Schedule::default();
        s.observe(Instant::now(), None);
        assert_eq!(
            s.next_delay(&p, 0.0),
            Duration::from_secs(5),
            "never under the floor"
        );
        assert_eq!(s.next_delay(&p, 0.999_999), Duration::from_millis(7500));
    }

    #[test]
    fn the_last_poll_is_at_the_deadline() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(3);
        assert_eq!(
            next_poll_at(now, Duration::from_secs(5), Some(deadline)),
            deadline
        );
        assert_eq!(
            next_poll_at(now, Duration::from_secs(2), Some(deadline)),
            now + Duration::from_secs(2)
        );
    }
}
