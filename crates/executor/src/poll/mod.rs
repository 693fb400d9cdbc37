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
//! 6. **History.** When the object's past runs are known ([`Expected`], read from the
//!    state store's history before the first poll), the blind delay of step 2 is
//!    replaced, and bounds the delay (progress only brings a poll sooner, unless it puts
//!    the end inside the window): before the window the task is looked at only halfway
//!    to it and at its start; inside it the delay is a smaller share of the time run
//!    (`history_share`, two floors at least); while queued, a tenth of the window's
//!    start at least. Past the window, or when steady progress puts the end far past
//!    it, the schedule is the one without history again. `with_history(false)` turns
//!    this off.
//! 7. **Wake grid.** A poll is moved later, by less than `wake_grid` (100 ms by
//!    default, at most a fiftieth of the floor), onto instants that far apart, the same
//!    for every wait of the process (the lease's renewals too, moved earlier): the waits
//!    due within one step of the grid wake together, on purpose, so a process waiting
//!    on thousands of tasks wakes once for several polls rather than once for each; the
//!    jitter of step 4 still spreads them over seconds. Later only, so the floor of
//!    step 1 holds; the last look at the deadline (step 5) keeps its instant.
//!
//! `schedule.rs` holds what one wait learns and decides; `history.rs` the estimate from
//! past runs and the delays it allows.

mod history;
mod schedule;

use std::sync::OnceLock;
use std::time::Duration;

use runwait_core::{Task, TaskState};
use tokio::time::Instant;

pub use history::Expected;
pub use schedule::Schedule;

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
    /// Learn from the object's past runs (default on): poll densely only around the
    /// expected end ([`Expected`]).
    pub history: bool,
    /// Inside the expected window, the delay is this share of the time run, and at
    /// least two `min_interval`s (default 0.045, so an end inside the window is seen at
    /// most about 4.5 % of the duration late).
    pub history_share: f64,
    /// A wait's polls are moved later (its lease's renewals earlier), by less than this,
    /// onto instants this far apart that are the same for every wait of the process
    /// (default 100 ms; zero: no grid). At most 1 s and a fiftieth of `min_interval` are
    /// used ([`PollPolicy::wake_grid_in_use`]): at the default floor of 5 s, 100 ms is
    /// also the most. The last look at the deadline, the budget and a cancel keep their
    /// own instants.
    pub wake_grid: Duration,
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

    /// With or without learning from the object's past runs.
    pub fn with_history(mut self, history: bool) -> Self {
        self.history = history;
        self
    }

    /// With the share of the time run that a delay inside the expected window is.
    pub fn with_history_share(mut self, share: f64) -> Self {
        self.history_share = share;
        self
    }

    /// With the step of the wake grid (zero: every wake at its own instant); at most 1 s
    /// and a fiftieth of `min_interval` are used.
    pub fn with_wake_grid(mut self, every: Duration) -> Self {
        self.wake_grid = every;
        self
    }

    /// The step of the wake grid the engine uses: `wake_grid`, but at most 1 s and a
    /// fiftieth of `min_interval`, so the grid makes no poll later than 2 % of the floor
    /// (a simulator's floor of 100 ms gets a grid of 2 ms).
    pub fn wake_grid_in_use(&self) -> Duration {
        self.wake_grid
            .min(MAX_WAKE_GRID)
            .min(self.min_interval / 50)
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
            history: true,
            history_share: 0.045,
            // At 1,000 waits polling every 5 s the CPU a poll fell by about half and the
            // context switches eightfold (BENCHMARKS.md, session 14). The most the
            // default floor allows (a fiftieth of it).
            wake_grid: Duration::from_millis(100),
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

/// The next poll time: `now + delay`, but never past the deadline.
pub fn next_poll_at(now: Instant, delay: Duration, deadline: Option<Instant>) -> Instant {
    let at = now + delay;
    match deadline {
        Some(d) if d < at => d.max(now),
        _ => at,
    }
}

/// The longest wake grid used: a poll is never more than this late for it.
const MAX_WAKE_GRID: Duration = Duration::from_secs(1);

/// `at`, or the first instant after it on the process's wake grid (instants `every`
/// apart through one origin for the whole process); `at` itself when `every` is zero.
pub(crate) fn on_wake_grid(at: Instant, every: Duration) -> Instant {
    // Any origin makes a grid; only that the waits share one matters.
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    on_grid(at, *ORIGIN.get_or_init(Instant::now), every)
}

/// The last instant on the process's wake grid at or before `at` (less than `every`
/// before it); `at` itself when `every` is zero.
pub(crate) fn on_wake_grid_before(at: Instant, every: Duration) -> Instant {
    // The grid instant at or after `at`, or the one before it when that is later.
    match on_wake_grid(at, every) {
        after if after == at => at,
        after => after.checked_sub(every).unwrap_or(at),
    }
}

/// `at` moved later, by less than `every`, onto the instants `every` apart through
/// `origin` (`at` itself when `every` is zero): the engine's wake grid, for a replay of
/// the schedule in simulated time.
pub fn on_grid(at: Instant, origin: Instant, every: Duration) -> Instant {
    let every = every.as_nanos();
    if every == 0 {
        return at;
    }
    let later_by = if at >= origin {
        (every - (at - origin).as_nanos() % every) % every
    } else {
        (origin - at).as_nanos() % every
    };
    // Less than `every`, so its whole seconds fit a `Duration`'s.
    const NANOS: u128 = 1_000_000_000;
    let later_by = Duration::new((later_by / NANOS) as u64, (later_by % NANOS) as u32);
    at.checked_add(later_by).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wake_grid_moves_an_instant_later_by_less_than_its_step() {
        let origin = Instant::now() + Duration::from_secs(60);
        let every = Duration::from_millis(100);
        let ms = Duration::from_millis;
        // (offset from the origin in ms, signed; where it lands)
        for (offset, lands) in [
            (0, 0),
            (1, 100),
            (99, 100),
            (100, 100),
            (250, 300),
            (-1, 0),
            (-100, -100),
            (-150, -100),
            (-30_001, -30_000),
        ] {
            let at_ms = |o: i64| {
                if o >= 0 {
                    origin + ms(o as u64)
                } else {
                    origin - ms(o.unsigned_abs())
                }
            };
            assert_eq!(
                on_grid(at_ms(offset), origin, every),
                at_ms(lands),
                "{offset}"
            );
        }
        let at = origin + ms(7);
        assert_eq!(on_grid(at, origin, Duration::ZERO), at);
        assert_eq!(on_wake_grid(at, Duration::ZERO), at);
        let on = on_wake_grid(at, every);
        assert!(on >= at && on - at < every, "{:?}", on - at);
        assert_eq!(on_wake_grid(on, every), on, "an instant on the grid stays");
        assert_eq!(on_wake_grid_before(on, every), on, "before: it stays too");
        let before = on_wake_grid_before(on + ms(1), every);
        assert_eq!(before, on, "the last instant on the grid before");
        assert_eq!(on_wake_grid_before(at, Duration::ZERO), at);
        let (at, every) = (origin + ms(1_500), Duration::from_secs(1));
        assert_eq!(
            on_grid(at, origin, every),
            origin + ms(2_000),
            "whole seconds"
        );
    }

    #[test]
    fn the_grid_in_use_is_at_most_a_second_and_a_fiftieth_of_the_floor() {
        let ms = Duration::from_millis;
        let policy = PollPolicy::default();
        assert_eq!(policy.wake_grid_in_use(), ms(100));
        let hour = policy.with_wake_grid(Duration::from_secs(3600));
        assert_eq!(hour.wake_grid_in_use(), ms(100), "a fiftieth of 5 s");
        let hour = hour.with_min_interval(Duration::from_secs(600));
        assert_eq!(hour.wake_grid_in_use(), ms(1000));
        let simulator = policy.with_min_interval(ms(100));
        assert_eq!(simulator.wake_grid_in_use(), ms(2));
        assert_eq!(policy.with_wake_grid(ms(0)).wake_grid_in_use(), ms(0));
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
