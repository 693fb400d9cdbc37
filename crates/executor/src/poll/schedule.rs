//! [`Schedule`]: what one wait has learnt from its polls, and the delay it decides.

use std::time::Duration;

use tokio::time::Instant;

use super::{Expected, PollPolicy, Seen};

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
    recent: Recent,
    /// The last observation, and whether it was a status.
    last: Option<(Instant, Seen)>,
    /// The first look that saw the task running since it was last seen queued.
    running_from: Option<Instant>,
    /// The last look that saw the task running.
    last_running: Option<Instant>,
    /// What the object's past runs say, when known.
    expected: Option<Expected>,
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

/// The last [`WINDOW`] progress samples, oldest first, kept in place: a wait keeps them
/// for hours, and a vector's allocation cost more than the samples.
#[derive(Debug, Clone, Copy, Default)]
struct Recent([Option<(Instant, f64)>; WINDOW]);

impl Recent {
    /// Adds the newest sample, dropping the oldest when full.
    fn push(&mut self, sample: (Instant, f64)) {
        match self.0.iter().position(Option::is_none) {
            Some(free) => self.0[free] = Some(sample),
            None => {
                self.0.rotate_left(1);
                self.0[WINDOW - 1] = Some(sample);
            }
        }
    }

    fn clear(&mut self) {
        *self = Recent::default();
    }

    fn last(&self) -> Option<(Instant, f64)> {
        self.0.iter().rev().find_map(|s| *s)
    }

    /// The oldest sample, when there are at least two.
    fn oldest_of_two(&self) -> Option<(Instant, f64)> {
        self.0[1].and(self.0[0])
    }
}

impl Schedule {
    /// Records what a poll at `at` saw.
    pub fn observe(&mut self, at: Instant, seen: Seen) {
        self.polls += 1;
        self.first.get_or_insert(at);
        match seen {
            Seen::Queued => {
                self.last_queued = Some(at);
                self.running_from = None;
                self.first_sample = None;
                self.recent.clear();
            }
            Seen::Running {
                progress: Some(p), ..
            } if p > 0.0 && p.is_finite() => {
                // A progress that went back (a new step reporting afresh) restarts
                // the recent rate; the overall one keeps its first sample.
                if self.recent.last().is_some_and(|(_, last)| p < last) {
                    self.recent.clear();
                }
                self.first_sample.get_or_insert((at, p));
                self.recent.push((at, p));
            }
            Seen::Running { .. } | Seen::Nothing => {}
        }
        if let Seen::Running { .. } = seen {
            self.running_from.get_or_insert(at);
            self.last_running = Some(at);
        }
        self.last = Some((at, seen));
    }

    /// Tells the schedule what the object's past runs say (before the first poll).
    pub fn expect(&mut self, expected: Expected) {
        self.expected = Some(expected);
    }

    /// What the schedule was told of past runs.
    pub fn expected(&self) -> Option<Expected> {
        self.expected
    }

    /// How long the task ran, as the polls saw it, when a poll at `ended_at` saw it
    /// ended: from halfway between the last look that saw it queued and the first that
    /// saw it running (or from one floor before the first look, when it was never seen
    /// queued) to halfway between the last look that saw it running and `ended_at`.
    /// What the history keeps for [`Expected`]; `None` when no look saw it running.
    pub fn ran_for(&self, ended_at: Instant, policy: &PollPolicy) -> Option<Duration> {
        let last_running = self.last_running?;
        let end = last_running + ended_at.saturating_duration_since(last_running) / 2;
        Some(end.saturating_duration_since(self.run_start(policy)?))
    }

    /// When the task started running, halfway between the looks around it: what the
    /// history's running times are measured from.
    fn run_start(&self, policy: &PollPolicy) -> Option<Instant> {
        match (self.last_queued, self.running_from) {
            (Some(queued), Some(running)) => {
                Some(queued + running.saturating_duration_since(queued) / 2)
            }
            (Some(queued), None) => Some(queued),
            (None, _) => self.running_since(policy),
        }
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
        let (now, p) = self.recent.last()?;
        let rate = |(t0, p0): (Instant, f64)| {
            let dt = now.duration_since(t0).as_secs_f64();
            (p > p0 && dt > 0.0).then(|| (1.0 - p).max(0.0) * dt / (p - p0))
        };
        let overall = self.first_sample.and_then(rate);
        let recent = self.recent.oldest_of_two().and_then(rate);
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
        let estimate = self.estimate();
        let (blind, approach) = self
            .history_blind(policy, now, seen, estimate, blind)
            .unwrap_or((blind, true));
        let secs = match (seen, estimate) {
            (Seen::Running { .. }, Some(estimate)) => {
                let to_end = estimate.remaining.as_secs_f64() + ETA_MARGIN.as_secs_f64();
                let aimed = if to_end <= blind.max(floor) {
                    to_end
                } else if estimate.steady && approach {
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

    /// The blind delay (seconds) the object's past runs allow instead of `blind`, `None`
    /// without them (or turned off), past their window, or when steady progress puts
    /// the end far past it; with whether steady progress may lengthen it (it puts the
    /// end inside the window: the two agree). Otherwise the delay is a bound: progress
    /// only brings a poll sooner.
    fn history_blind(
        &self,
        policy: &PollPolicy,
        now: Instant,
        seen: Seen,
        estimate: Option<Estimate>,
        blind: f64,
    ) -> Option<(f64, bool)> {
        let expected = self.expected.filter(|_| policy.history)?;
        if let Seen::Queued = seen {
            return Some((expected.queued(blind), false));
        }
        let ran = now.saturating_duration_since(self.run_start(policy)?);
        let end = estimate.filter(|e| e.steady).map(|e| ran + e.remaining);
        if end.is_some_and(|end| expected.is_far_past(end)) {
            return None;
        }
        let agree = end.is_some_and(|end| end <= expected.until);
        Some((expected.blind(ran, policy)?, agree))
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

    /// Looks at a task: seconds since the start request, what each saw.
    type Looks = Vec<(f64, Seen)>;

    /// What the schedule decides after `looks` (seconds since the start request, what
    /// each saw), told that past runs took 1,000 s (the window: 950 s to 1,050 s).
    fn with_history(policy: &PollPolicy, looks: &[(f64, Seen)]) -> Duration {
        let t = Instant::now();
        let mut s = Schedule::default();
        s.expect(Expected::from_running_times([secs(1000); 3]).unwrap());
        for &(at, seen) in looks {
            s.observe(t + Duration::from_secs_f64(at), seen);
        }
        s.next_delay(policy, 0.5)
    }

    #[test]
    fn past_runs_place_the_polls_around_the_expected_end() {
        let linear = |end: f64, at: f64| (at, running(Some(at / end)));
        let r = running(None);
        let cases: Vec<(&str, Looks, f64)> = vec![
            (
                "the first look: halfway to the window",
                vec![(5.0, r)],
                470.0,
            ),
            (
                "halfway: on to the window",
                vec![(5.0, r), (475.0, r)],
                475.0,
            ),
            (
                "inside it: 4.5 % of the time run",
                vec![(5.0, r), (475.0, r), (950.0, r)],
                42.75,
            ),
            (
                "past it: the blind 8 %",
                vec![(5.0, r), (950.0, r), (1060.0, r)],
                84.8,
            ),
            (
                "queued: a tenth of the window's start",
                vec![(5.0, Seen::Queued)],
                95.0,
            ),
            (
                "queued, then running: from halfway between the looks",
                vec![(5.0, Seen::Queued), (100.0, Seen::Queued), (195.0, r)],
                475.0 - 47.5,
            ),
            (
                "steady progress far past the window: without history",
                vec![
                    linear(3000.0, 5.0),
                    linear(3000.0, 100.0),
                    linear(3000.0, 200.0),
                ],
                0.3 * 2801.0,
            ),
            (
                "progress that puts the end near: sooner than the window's delay",
                vec![
                    linear(960.0, 5.0),
                    linear(960.0, 500.0),
                    linear(960.0, 955.0),
                ],
                6.0,
            ),
        ];
        for (why, looks, want) in cases {
            let got = with_history(&policy(), &looks);
            assert_eq!(got, Duration::from_secs_f64(want), "{why}");
        }
        let off = policy().with_history(false);
        assert_eq!(
            with_history(&off, &[(5.0, r)]),
            secs(15),
            "turned off: the blind minimum"
        );
    }

    #[test]
    fn the_running_time_is_measured_between_the_looks_around_start_and_end() {
        let t = Instant::now();
        let at = |s: f64| t + Duration::from_secs_f64(s);
        let r = running(None);
        let cases: Vec<(&str, Looks, Option<f64>)> = vec![
            (
                "never queued: from a floor before the first look",
                vec![(5.0, r), (100.0, r)],
                Some(105.0),
            ),
            (
                "queued first",
                vec![(5.0, Seen::Queued), (15.0, r)],
                Some(52.5),
            ),
            ("never seen running", vec![(5.0, Seen::Queued)], None),
        ];
        for (why, looks, want) in cases {
            let mut s = Schedule::default();
            for &(when, seen) in &looks {
                s.observe(at(when), seen);
            }
            let got = s.ran_for(at(110.0), &policy()).map(|d| d.as_secs_f64());
            assert_eq!(got, want, "{why}");
        }
    }
}
