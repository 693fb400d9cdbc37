//! The poll schedule: when to ask for a task's status next.
//!
//! The algorithm, decided by one [`PollPolicy`]:
//!
//! 1. **Floor.** Never the same task more often than `min_interval` (5 s by default,
//!    Anaplan's rule). The first poll comes `min_interval` after the start.
//! 2. **Blind curve.** Without better knowledge the delay is a fraction (`growth - 1`)
//!    of the time the task has run so far, between `blind_min_interval` and
//!    `max_interval`: the
//!    polls form a geometric series, so the lateness is a bounded share of the task's
//!    duration, and a long run costs few polls. The time a task waits queued
//!    (`NOT_STARTED`, behind another task on the model) is counted apart: when it
//!    starts running, the curve starts again from the floor, so a queue does not slow
//!    the detection of a short task's end.
//! 3. **Progress-aware.** While the task reports progress, its remaining time is
//!    estimated from two rates (the one since it started running and the one over the
//!    last samples; the sooner end wins, so a fast last step is not missed). An end
//!    sooner than the blind delay is polled just after it (plus one second, so a poll a
//!    moment too early does not cost another). An end far away is approached in
//!    halves (`approach`), which may be longer than the blind delay: a long task with
//!    steady progress costs a handful of polls.
//! 4. **Jitter.** The delay is multiplied by a random factor in `1 ± jitter` (then held
//!    to the floor and the ceiling), so thousands of waits do not poll in lockstep; a
//!    poll aimed at an estimated end is only ever moved later.
//! 5. **Deadline.** A poll that would land past the step's deadline is moved to the
//!    deadline itself: the last look before the task is cancelled.

use std::time::Duration;

use runwait_core::{Task, TaskState};
use tokio::time::Instant;

/// The knobs of the schedule. Build it from the default with the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PollPolicy {
    /// The shortest delay between two polls of one task (default 5 s; lower it only for
    /// the simulator).
    pub min_interval: Duration,
    /// The shortest delay without an estimated end to aim at (default 15 s): the polls
    /// of a task's first minutes, when a few seconds late are a few seconds.
    pub blind_min_interval: Duration,
    /// The longest delay (default 15 min).
    pub max_interval: Duration,
    /// The blind delay is `growth - 1` times the time the task has run (default 1.08,
    /// so a task's end is seen at most about 8 % of its duration late).
    pub growth: f64,
    /// Relative jitter, 0 to 1 (default 0.1: ±10 %).
    pub jitter: f64,
    /// Towards an estimated end further than the blind delay, the next poll goes this
    /// share of the way (default 0.3).
    pub approach: f64,
}

impl PollPolicy {
    /// With the shortest delay between two polls.
    pub fn with_min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// With the shortest delay without an estimated end to aim at.
    pub fn with_blind_min_interval(mut self, interval: Duration) -> Self {
        self.blind_min_interval = interval;
        self
    }

    /// With the longest delay.
    pub fn with_max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// With the growth of the blind delay (the delay is `growth - 1` times the time run).
    pub fn with_growth(mut self, growth: f64) -> Self {
        self.growth = growth;
        self
    }

    /// With the relative jitter (0 to 1).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// With the share of the way to a far estimated end that the next poll goes.
    pub fn with_approach(mut self, approach: f64) -> Self {
        self.approach = approach;
        self
    }
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            min_interval: Duration::from_secs(5),
            blind_min_interval: Duration::from_secs(15),
            max_interval: Duration::from_secs(15 * 60),
            growth: 1.08,
            jitter: 0.1,
            approach: 0.3,
        }
    }
}

/// What a status call saw, as the schedule needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Seen {
    /// `NOT_STARTED`: queued behind another task on the model.
    Queued,
    /// Running, with the task's progress (0 to 1) when it reports one.
    Running {
        /// `progress` of the task body.
        progress: Option<f64>,
    },
    /// The call failed: nothing learnt.
    Nothing,
}

impl From<&Task> for Seen {
    fn from(task: &Task) -> Seen {
        match task.task_state {
            TaskState::NotStarted => Seen::Queued,
            _ => Seen::Running {
                progress: task.progress,
            },
        }
    }
}

/// What one wait has learnt so far.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    polls: u32,
    /// The first observation: the start was about one floor before it.
    first: Option<Instant>,
    /// The last look that saw the task queued: it started running after that.
    last_queued: Option<Instant>,
    /// Progress samples since the task runs, the first one kept, then the last few.
    first_sample: Option<(Instant, f64)>,
    recent: Vec<(Instant, f64)>,
    /// The last observation, and whether it was a status.
    last: Option<(Instant, Seen)>,
}

/// An estimated end.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    remaining: Duration,
    /// The rate since the start and the recent one agree.
    steady: bool,
}

/// How long after the estimated completion the progress-aware poll goes.
const ETA_MARGIN: Duration = Duration::from_secs(1);

/// Samples kept for the recent rate.
const WINDOW: usize = 3;

impl Schedule {
    /// Records what a poll at `at` saw.
    pub fn observe(&mut self, at: Instant, seen: Seen) {
        self.polls += 1;
        self.first.get_or_insert(at);
        match seen {
            Seen::Queued => {
                self.last_queued = Some(at);
                self.first_sample = None;
                self.recent.clear();
            }
            Seen::Running {
                progress: Some(p), ..
            } if p > 0.0 && p.is_finite() => {
                // A progress that went back (a new step reporting afresh) restarts
                // the recent rate; the overall one keeps its first sample.
                if self.recent.last().is_some_and(|&(_, last)| p < last) {
                    self.recent.clear();
                }
                self.first_sample.get_or_insert((at, p));
                self.recent.push((at, p));
                if self.recent.len() > WINDOW {
                    self.recent.remove(0);
                }
            }
            Seen::Running { .. } | Seen::Nothing => {}
        }
        self.last = Some((at, seen));
    }

    /// Polls observed so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// When the task started running, as far as the polls tell.
    fn running_since(&self, policy: &PollPolicy) -> Option<Instant> {
        let first = self.first?;
        Some(
            self.last_queued
                .unwrap_or_else(|| first.checked_sub(policy.min_interval).unwrap_or(first)),
        )
    }

    /// The estimated time left, when the task reports rising progress: the sooner of
    /// the end at the rate since it started running and at the recent rate.
    pub fn estimated_remaining(&self) -> Option<Duration> {
        self.estimate().map(|e| e.remaining)
    }

    fn estimate(&self) -> Option<Estimate> {
        let &(now, p) = self.recent.last()?;
        let rate = |(t0, p0): (Instant, f64)| {
            let dt = now.duration_since(t0).as_secs_f64();
            (p > p0 && dt > 0.0).then(|| (1.0 - p).max(0.0) * dt / (p - p0))
        };
        let overall = self.first_sample.and_then(rate);
        let recent = (self.recent.len() >= 2)
            .then(|| rate(self.recent[0]))
            .flatten();
        let (secs, steady) = match (overall, recent) {
            // Two rates that agree: progress is steady, the estimate can be trusted.
            (Some(a), Some(b)) => (a.min(b), a.max(b) <= 2.0 * a.min(b)),
            (a, b) => (a.or(b)?, false),
        };
        Some(Estimate {
            remaining: Duration::from_secs_f64(secs.min(1e9)),
            steady,
        })
    }

    /// The delay before the next poll, `random` being a sample in `[0, 1)`.
    pub fn next_delay(&self, policy: &PollPolicy, random: f64) -> Duration {
        let floor = policy.min_interval.as_secs_f64();
        let ceiling = policy.max_interval.as_secs_f64().max(floor);
        let jitter = policy.jitter.clamp(0.0, 1.0);
        let Some((now, seen)) = self.last else {
            return policy.min_interval;
        };
        let since = match seen {
            Seen::Queued => self
                .first
                .map(|f| f.checked_sub(policy.min_interval).unwrap_or(f)),
            _ => self.running_since(policy),
        };
        let elapsed = since.map_or(0.0, |s| now.duration_since(s).as_secs_f64());
        let blind =
            ((policy.growth - 1.0).max(0.0) * elapsed).max(policy.blind_min_interval.as_secs_f64());
        let secs = match (seen, self.estimate()) {
            (Seen::Running { .. }, Some(estimate)) => {
                let to_end = estimate.remaining.as_secs_f64() + ETA_MARGIN.as_secs_f64();
                let aimed = if to_end <= blind.max(floor) {
                    to_end
                } else if estimate.steady {
                    blind.max(policy.approach.clamp(0.0, 1.0) * to_end)
                } else {
                    // A stall or a jump: the end may come at any time.
                    blind
                };
                // Aimed at an end: only later, never sooner than aimed.
                aimed * (1.0 + jitter * random)
            }
            _ => blind * (1.0 + jitter * (2.0 * random - 1.0)),
        };
        let secs = secs.clamp(floor, ceiling);
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

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn running(progress: Option<f64>) -> Seen {
        Seen::Running { progress }
    }

    /// The blind delay after a first look at `first` and one at `at`, both running
    /// without progress (the start was one floor before the first look).
    fn blind_after(at: u64) -> Duration {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t + secs(5), running(None));
        s.observe(t + secs(at), running(None));
        s.next_delay(&policy(), 0.5)
    }

    #[test]
    fn blind_delays_are_a_share_of_the_time_run_between_their_bounds() {
        assert_eq!(blind_after(5), secs(15), "the blind minimum");
        assert_eq!(blind_after(1000), secs(80), "8 % of 1000 s");
        assert_eq!(blind_after(4 * 3600), secs(15 * 60), "the ceiling");
    }

    #[test]
    fn a_queue_does_not_slow_the_polls_once_the_task_runs() {
        let t = Instant::now();
        let mut s = Schedule::default();
        for at in [5, 20, 100, 300, 600] {
            s.observe(t + secs(at), Seen::Queued);
        }
        assert_eq!(
            s.next_delay(&policy(), 0.5),
            secs(48),
            "8 % of 600 s queued"
        );
        s.observe(t + secs(650), running(None));
        // Running since the last queued look (600 s): 50 s run, the blind minimum.
        assert_eq!(s.next_delay(&policy(), 0.5), secs(15));
    }

    #[test]
    fn steady_progress_aims_just_after_a_near_end() {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t + secs(10), running(Some(0.1)));
        s.observe(t + secs(20), running(Some(0.2)));
        s.observe(t + secs(30), running(Some(0.3)));
        // 0.01/s: 70 s left; the blind delay (15 s) is sooner, and a far end is
        // approached by 30 % of the way: 71 s * 0.3.
        assert_eq!(s.estimated_remaining(), Some(secs(70)));
        assert_eq!(s.next_delay(&policy(), 0.5), Duration::from_millis(21_300));
        s.observe(t + secs(90), running(Some(0.9)));
        // 10 s left: the poll goes 1 s after the estimated end.
        assert_eq!(s.next_delay(&policy(), 0.5), secs(11));
    }

    #[test]
    fn a_far_steady_end_lengthens_the_delay_beyond_the_blind_curve() {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t + secs(100), running(Some(0.01)));
        s.observe(t + secs(200), running(Some(0.02)));
        s.observe(t + secs(300), running(Some(0.03)));
        // 9,700 s left; blind would be 8 % of 300 s = 24 s.
        let delay = s.next_delay(&policy(), 0.5);
        assert_eq!(delay, secs(15 * 60), "held to the ceiling: {delay:?}");
    }

    #[test]
    fn a_stall_falls_back_to_the_blind_curve() {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t + secs(100), running(Some(0.1)));
        s.observe(t + secs(200), running(Some(0.2)));
        s.observe(t + secs(300), running(Some(0.2)));
        s.observe(t + secs(400), running(Some(0.2)));
        s.observe(t + secs(500), running(Some(0.2)));
        // The recent rate is gone; the rate since the start alone is not trusted to
        // lengthen the delay: 8 % of the 405 s run since the start (a floor before the
        // first look).
        assert_eq!(s.next_delay(&policy(), 0.5), Duration::from_millis(32_400));
    }

    #[test]
    fn jitter_stays_within_bounds_and_the_floor_holds() {
        let p = PollPolicy {
            jitter: 0.5,
            ..PollPolicy::default()
        };
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t + secs(5), running(None));
        s.observe(t + secs(1000), running(None));
        assert_eq!(s.next_delay(&p, 0.0), secs(40), "80 s - 50 %");
        assert_eq!(s.next_delay(&p, 0.999_999), Duration::from_millis(120_000));
        let floor = PollPolicy::default().with_blind_min_interval(secs(1));
        let mut s = Schedule::default();
        s.observe(t, running(None));
        assert_eq!(s.next_delay(&floor, 0.0), secs(5), "never under the floor");
    }

    #[test]
    fn a_poll_aimed_at_an_end_is_only_moved_later() {
        let p = PollPolicy {
            jitter: 0.5,
            ..PollPolicy::default()
        };
        let t = Instant::now();
        let mut s = Schedule::default();
        s.observe(t + secs(10), running(Some(0.3)));
        s.observe(t + secs(20), running(Some(0.6)));
        s.observe(t + secs(25), running(Some(0.75)));
        // 0.03/s: 8.33 s left, aimed at 9.33 s.
        assert_eq!(s.next_delay(&p, 0.0), Duration::from_millis(9_333));
        assert!(s.next_delay(&p, 0.9) > Duration::from_millis(9_333));
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
