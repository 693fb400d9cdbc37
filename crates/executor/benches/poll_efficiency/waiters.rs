//! The waiters compared: runwait's schedule and the anchors' (other waiters' schedules).

use std::time::Duration;

use runwait_executor::{Expected, PollPolicy, Schedule, Seen, on_grid};
use tokio::time::Instant;

/// A waiter: the delay before its next poll, given what the last poll saw.
pub trait Waiter {
    fn name(&self) -> String;
    /// Called after the start (`seen` = `None`) and after each poll.
    fn next(&mut self, t: f64, seen: Option<&Seen>) -> f64;
    /// Told after the start what the object's past runs say (only runwait listens).
    fn expect(&mut self, _expected: Expected) {}
    /// The running time to keep in the history, the end seen at `t`.
    fn ran_for(&self, _t: f64) -> Option<Duration> {
        None
    }
}

/// runwait's schedule with a policy, in simulated time.
pub struct Runwait {
    label: &'static str,
    policy: PollPolicy,
    schedule: Schedule,
    origin: Instant,
    rng: fastrand::Rng,
    /// Where the wake grid falls against the task's start, drawn per task: the engine's
    /// grid goes through the process's first wait, not through each start.
    phase: Duration,
    phases: fastrand::Rng,
}

impl Runwait {
    pub fn new(label: &'static str, policy: PollPolicy) -> Runwait {
        Runwait {
            label,
            policy,
            schedule: Schedule::default(),
            origin: Instant::now(),
            rng: fastrand::Rng::with_seed(7),
            phase: Duration::ZERO,
            phases: fastrand::Rng::with_seed(11),
        }
    }
}

impl Waiter for Runwait {
    fn name(&self) -> String {
        self.label.to_owned()
    }

    fn next(&mut self, t: f64, seen: Option<&Seen>) -> f64 {
        let at = self.origin + Duration::from_secs_f64(t);
        let delay = match seen {
            None => {
                self.schedule = Schedule::default();
                self.phase = self.policy.wake_grid_in_use().mul_f64(self.phases.f64());
                self.policy.min_interval
            }
            Some(seen) => {
                self.schedule.observe(at, *seen);
                self.schedule.next_delay(&self.policy, self.rng.f64())
            }
        };
        // On the engine's wake grid.
        let grid = self.policy.wake_grid_in_use();
        (on_grid(at + delay, self.origin + self.phase, grid) - at).as_secs_f64()
    }

    fn expect(&mut self, expected: Expected) {
        self.schedule.expect(expected);
    }

    /// Exactly what the engine keeps in the history.
    fn ran_for(&self, t: f64) -> Option<Duration> {
        let at = self.origin + Duration::from_secs_f64(t);
        self.schedule.ran_for(at, &self.policy)
    }
}

/// A fixed interval.
pub struct Fixed(pub f64);

impl Waiter for Fixed {
    fn name(&self) -> String {
        format!("fixed {} s", self.0)
    }

    fn next(&mut self, _: f64, _: Option<&Seen>) -> f64 {
        self.0
    }
}

/// Anaplan Connect: 1 s, then 10 s, then 60 s (shared/reference/anaplan-api.md), modelled
/// as ten polls at each of the first two intervals.
#[derive(Default)]
pub struct AnaplanConnect(u32);

impl Waiter for AnaplanConnect {
    fn name(&self) -> String {
        "Anaplan Connect 1/10/60 s".into()
    }

    fn next(&mut self, _: f64, seen: Option<&Seen>) -> f64 {
        if seen.is_none() {
            self.0 = 0;
        }
        self.0 += 1;
        match self.0 {
            0..=10 => 1.0,
            11..=20 => 10.0,
            _ => 60.0,
        }
    }
}

/// Smithy's waiters (AWS SDKs): exponential from 5 s to 120 s with full jitter between the
/// minimum and the exponential delay (the Smithy waiter specification's retry strategy).
pub struct Smithy {
    attempt: u32,
    rng: fastrand::Rng,
}

impl Smithy {
    pub fn new(seed: u64) -> Smithy {
        Smithy {
            attempt: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }
}

impl Waiter for Smithy {
    fn name(&self) -> String {
        "Smithy waiters 5-120 s".into()
    }

    fn next(&mut self, _: f64, seen: Option<&Seen>) -> f64 {
        let (min, max) = (5.0_f64, 120.0_f64);
        if seen.is_none() {
            self.attempt = 0;
        }
        self.attempt += 1;
        let ceiling = ((max / min).ln() / 2f64.ln()).floor() as u32 + 1;
        let delay = if self.attempt > ceiling {
            max
        } else {
            (min * 2f64.powi(self.attempt as i32 - 1)).min(max)
        };
        if delay <= min {
            min
        } else {
            min + self.rng.f64() * (delay - min)
        }
    }
}
