//! [`Expected`]: how long an object's task runs, learnt from its past runs, and the
//! delays that this knowledge allows.
//!
//! The estimate: the running times (from the first look that saw the task running,
//! less half the gap to the look before, to the look that saw it ended, less half the
//! gap to the look before) of the object's newest runs that succeeded, at least
//! [`Expected::MIN_RUNS`] and at most [`Expected::MAX_RUNS`]. Their range is widened on
//! each side by the range over the number of gaps between them (the unbiased estimate of
//! the ends of a uniform law; at least 5 % of the median and 5 s, for runs that hardly
//! vary): the expected window. Runs more than 1.5 times off the median are outliers,
//! left out. A window whose end is more than [`Expected::MAX_SPREAD`] times its start
//! (and 10 s) says too little: no estimate then.

use std::time::Duration;

use super::PollPolicy;
use crate::step::StepOutcome;
use crate::store::{HistoryQuery, StepHistory};

/// How long an object's task is expected to run (from leaving the queue to its end).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Expected {
    /// The shortest expected running time: the window's start.
    pub from: Duration,
    /// The median of the past running times.
    pub typical: Duration,
    /// The longest expected running time: the window's end.
    pub until: Duration,
    /// How many past runs it comes from.
    pub runs: usize,
}

/// A past running time more than this factor from the median is an outlier.
const OUTLIER: f64 = 1.5;

/// The median of `sorted`.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The least widening of the window on each side, as a share of the median.
const MIN_PAD: f64 = 0.05;

/// What the polls measure a running time to, about: a few floors. Short runs vary by
/// this much whatever their law, so the window is never narrower and may spread by
/// this beyond [`Expected::MAX_SPREAD`].
const SLACK: Duration = Duration::from_secs(10);

/// Before the window, one look this share of the way to it (an early end or a progress
/// rate is not missed by a whole window's start).
const HALFWAY: f64 = 0.5;

/// Inside the window, the delay is at least this many floors (`min_interval`).
const MIN_GAP_FLOORS: f64 = 2.0;

/// Steady progress that puts the end this many times the window's end away leaves the
/// window.
const FAR: f64 = 1.5;

/// While queued, the delay is at least this share of the window's start: the start of
/// the run is known to half that, a small shift of the window.
const QUEUE_SHARE: f64 = 0.1;

impl Expected {
    /// The fewest past runs an estimate is made from.
    pub const MIN_RUNS: usize = 3;
    /// The most past runs an estimate is made from (the newest).
    pub const MAX_RUNS: usize = 10;
    /// A window whose end is more than this many times its start (and 10 s, what polls
    /// measure a short run to) is no estimate.
    pub const MAX_SPREAD: f64 = 2.5;

    /// What to read from the store for `target`: its newest entries, enough to find
    /// [`Expected::MAX_RUNS`] successful runs among a few failed ones. Any workflow's:
    /// how long an object runs is a matter of its model, not of the workflow that
    /// starts it.
    pub fn query(target: runwait_core::target::TaskTarget) -> HistoryQuery {
        HistoryQuery::newest(3 * Self::MAX_RUNS).target(target)
    }

    /// The estimate from history `entries` (newest first): the running times of the
    /// runs that succeeded (a failed task may stop early; a cancelled, timed out or
    /// detached one did not end on its own).
    pub fn from_history(entries: &[StepHistory]) -> Option<Expected> {
        Self::from_running_times(
            entries
                .iter()
                .filter(|e| {
                    matches!(
                        e.outcome,
                        StepOutcome::Succeeded | StepOutcome::SucceededWithWarnings
                    )
                })
                .filter_map(|e| e.running),
        )
    }

    /// The estimate from running times (newest first; the newest
    /// [`Expected::MAX_RUNS`] are used), `None` from fewer than [`Expected::MIN_RUNS`]
    /// or when they vary too much.
    pub fn from_running_times(times: impl IntoIterator<Item = Duration>) -> Option<Expected> {
        let mut secs: Vec<f64> = times
            .into_iter()
            .take(Self::MAX_RUNS)
            .map(|d| d.as_secs_f64())
            .collect();
        if secs.len() < Self::MIN_RUNS {
            return None;
        }
        secs.sort_by(f64::total_cmp);
        // Runs far from the median (a run on a day of twice the data) are outliers:
        // the window is that of the usual runs, and an unusual one falls back.
        let usual = median(&secs) / OUTLIER..=median(&secs) * OUTLIER;
        secs.retain(|s| usual.contains(s));
        if secs.len() < Self::MIN_RUNS {
            return None;
        }
        let n = secs.len();
        let (lo, hi, typical) = (secs[0], secs[n - 1], median(&secs));
        let pad = ((hi - lo) / (n - 1) as f64)
            .max(MIN_PAD * typical)
            .max(SLACK.as_secs_f64() / 2.0);
        let (from, until) = ((lo - pad).max(0.0), hi + pad);
        if until > Self::MAX_SPREAD * from + SLACK.as_secs_f64() {
            return None;
        }
        Some(Expected {
            from: Duration::from_secs_f64(from),
            typical: Duration::from_secs_f64(typical),
            until: Duration::from_secs_f64(until),
            runs: n,
        })
    }

    /// The delay (seconds) that replaces the blind one, `ran` into the run: halfway to
    /// the window, then to its start, then `history_share` of the time run (two floors
    /// at least). `None`
    /// once the run is past the window: the schedule without history then.
    pub(super) fn blind(&self, ran: Duration, policy: &PollPolicy) -> Option<f64> {
        let (ran, from) = (ran.as_secs_f64(), self.from.as_secs_f64());
        if ran > self.until.as_secs_f64() {
            return None;
        }
        if ran >= from {
            // Two floors at least: a short run's end is then seen 5 s late at the median.
            let least = MIN_GAP_FLOORS * policy.min_interval.as_secs_f64();
            return Some((policy.history_share.max(0.0) * ran).max(least));
        }
        let halfway = HALFWAY * from;
        // A look within a floor of the halfway point goes on to the window.
        let next = if ran + policy.min_interval.as_secs_f64() < halfway {
            halfway
        } else {
            from
        };
        Some(next - ran)
    }

    /// The delay (seconds) while queued, from the one without history.
    pub(super) fn queued(&self, blind: f64) -> f64 {
        blind.max(QUEUE_SHARE * self.from.as_secs_f64())
    }

    /// Whether an end `end` into the run, as steady progress predicts it, is far past
    /// the window: half as far again as its end (a step that runs slowly now may be
    /// followed by fast ones, so a prediction just past the window is no reason to
    /// leave it).
    pub(super) fn is_far_past(&self, end: Duration) -> bool {
        end.as_secs_f64() > FAR * self.until.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A window in seconds: from, typical, until.
    type Window = (f64, f64, f64);

    fn expected(times: &[f64]) -> Option<Window> {
        Expected::from_running_times(times.iter().map(|&t| secs(t))).map(|e| {
            (
                e.from.as_secs_f64(),
                e.typical.as_secs_f64(),
                e.until.as_secs_f64(),
            )
        })
    }

    #[test]
    fn the_window_is_the_range_widened_by_its_mean_gap() {
        let cases: &[(&[f64], Option<Window>)] = &[
            (&[100.0, 120.0], None),
            (&[100.0, 120.0, 110.0], Some((90.0, 110.0, 130.0))),
            // Runs that hardly vary: 5 % of the median at least.
            (&[100.0, 100.0, 100.0, 100.0], Some((95.0, 100.0, 105.0))),
            // Too spread to say anything.
            (&[10.0, 100.0, 30.0], None),
        ];
        for (times, want) in cases {
            let got = expected(times);
            match (got, want) {
                (Some(g), Some(w)) => {
                    assert!(
                        (g.0 - w.0).abs() < 1e-6
                            && (g.1 - w.1).abs() < 1e-6
                            && (g.2 - w.2).abs() < 1e-6,
                        "{times:?}: {g:?} != {w:?}"
                    );
                }
                (g, w) => assert_eq!(g, *w, "{times:?}"),
            }
        }
    }

    #[test]
    fn only_the_newest_runs_count() {
        let mut times = vec![100.0; Expected::MAX_RUNS];
        times.extend([1000.0; 5]);
        assert_eq!(expected(&times).map(|e| e.1), Some(100.0));
    }

    #[test]
    fn delays_go_halfway_then_to_the_window_then_a_share_of_the_time_run() {
        let e = Expected::from_running_times([secs(1000.0), secs(1000.0), secs(1000.0)]).unwrap();
        // The window: 950 s to 1,050 s.
        let policy = PollPolicy::default();
        let cases = [
            (5.0, Some(470.0), "halfway to the window"),
            (
                472.0,
                Some(478.0),
                "within a floor of halfway: on to the window",
            ),
            (475.0, Some(475.0), "from halfway to the start"),
            (1000.0, Some(45.0), "4.5 % of the time run"),
            (960.0, Some(43.2), "4.5 % of the time run"),
            (1051.0, None, "past the window"),
        ];
        for (ran, want, why) in cases {
            let got = e.blind(secs(ran), &policy);
            assert!(
                match (got, want) {
                    (Some(g), Some(w)) => (g - w).abs() < 1e-6,
                    (g, w) => g == w,
                },
                "{why}: {got:?} != {want:?}"
            );
        }
        assert_eq!(e.queued(15.0), 95.0, "a tenth of the window's start");
        assert_eq!(e.queued(120.0), 120.0, "or the delay without history");
    }
}
