//! CPU per status poll in the steady state: a waiter's CPU and the simulator's answered
//! polls counted over the same window, when every wait is polling and none has ended.
//!
//! A waiter's whole-run CPU also holds its login, its task starts, its state-store saves
//! (runwait's file store: two `fsync`s and a file creation per step) and its shutdown.
//! Divided by the polls, those weigh five times more on runwait (a poll every 5 s) than
//! on anaplan-sdk (every 1 s); the steady window leaves them out.
//!
//! The window, in scenario time (speed 1, so the wall clock is the simulator's epoch plus
//! it): from the last task's start plus one poll period of the waiter (every wait has
//! polled by then) plus [`MARGIN`], to the first task's end minus [`MARGIN`]; both ends
//! moved inward to [`POLL_BIN`] boundaries so the polls are counted exactly. Shorter than
//! [`MIN_WINDOW`], it is not measured.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::proc::CpuSeries;
use crate::scenario::{POLL_BIN, Summary};

/// Kept clear of the starts' last saves and of the first ends at each side.
pub const MARGIN: Duration = Duration::from_secs(2);
/// The shortest window measured.
pub const MIN_WINDOW: Duration = Duration::from_secs(20);

/// A span of scenario time, `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its start, scenario time.
    pub from: Duration,
    /// Its end, scenario time.
    pub to: Duration,
}

impl Window {
    /// How long it is (zero if it ends before it starts).
    pub fn len(&self) -> Duration {
        self.to.saturating_sub(self.from)
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len().is_zero()
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1} s to {:.1} s ({:.1} s)",
            self.from.as_secs_f64(),
            self.to.as_secs_f64(),
            self.len().as_secs_f64()
        )
    }
}

/// Why a run has no steady figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmeasured {
    /// No task started.
    NoTasks,
    /// The window is shorter than [`MIN_WINDOW`] (tasks too short, or the starts took
    /// too long).
    TooShort(Window),
    /// The waiter's CPU samples do not cover the window (it ended early).
    NotSampled(Window),
}

impl fmt::Display for Unmeasured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmeasured::NoTasks => write!(f, "no task started"),
            Unmeasured::TooShort(w) => write!(
                f,
                "window {w} is shorter than {} s: left out",
                MIN_WINDOW.as_secs()
            ),
            Unmeasured::NotSampled(w) => {
                write!(f, "the waiter's CPU samples do not cover window {w}")
            }
        }
    }
}

/// The steady window of a run whose last task started at `last_start` and whose first
/// task ended at `first_end` (scenario time), for a waiter polling every `poll`.
pub fn window(
    last_start: Duration,
    first_end: Duration,
    poll: Duration,
) -> Result<Window, Unmeasured> {
    let bin = POLL_BIN.as_millis();
    let from = (last_start + poll + MARGIN).as_millis().div_ceil(bin) * bin;
    let to = first_end.saturating_sub(MARGIN).as_millis() / bin * bin;
    let ms = |m: u128| Duration::from_millis(u64::try_from(m).unwrap_or(u64::MAX));
    let w = Window {
        from: ms(from),
        to: ms(to),
    };
    if w.len() < MIN_WINDOW {
        return Err(Unmeasured::TooShort(w));
    }
    Ok(w)
}

/// A waiter's steady-state figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steady {
    /// The window measured, scenario time.
    pub window: Window,
    /// The answered polls in it.
    pub polls: u64,
    /// The waiter's CPU (user + system) in it.
    pub cpu: Duration,
}

impl Steady {
    /// Reads run `sim` (the simulator's summary) and the waiter's CPU series `cpu`, for a
    /// waiter polling every `poll`.
    pub fn of(sim: &Summary, cpu: &CpuSeries, poll: Duration) -> Result<Steady, Unmeasured> {
        let (Some(last_start), Some(first_end)) = (sim.last_start, sim.first_end) else {
            return Err(Unmeasured::NoTasks);
        };
        let window = window(last_start, first_end, poll)?;
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_millis(sim.epoch_ms);
        let cpu = cpu
            .between(epoch + window.from, epoch + window.to)
            .ok_or(Unmeasured::NotSampled(window))?;
        Ok(Steady {
            window,
            polls: sim.polls_between(window.from, window.to),
            cpu,
        })
    }

    /// CPU seconds per 1,000 answered polls (NaN when there was none).
    pub fn cpu_per_1000_polls(&self) -> f64 {
        if self.polls == 0 {
            return f64::NAN;
        }
        1000.0 * self.cpu.as_secs_f64() / self.polls as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::CpuSample;

    const S: fn(f64) -> Duration = Duration::from_secs_f64;

    #[test]
    fn the_window_starts_a_poll_and_a_margin_after_the_last_start_and_ends_a_margin_early() {
        // (last start s, first end s, poll s, window from/to s, or None: too short)
        let cases = [
            // runwait at N = 100, 60 s tasks: starts within 0.3 s.
            (0.3, 60.0, 5.0, Some((7.3, 58.0))),
            // anaplan-sdk, same.
            (0.3, 60.0, 1.0, Some((3.3, 58.0))),
            // Ends moved inward to 100 ms boundaries.
            (0.31, 60.09, 5.0, Some((7.4, 58.0))),
            (0.0, 120.0, 5.0, Some((7.0, 118.0))),
            // Exactly the shortest window, and just under it.
            (0.0, 29.0, 5.0, Some((7.0, 27.0))),
            (0.0, 28.9, 5.0, None),
            // Starts took longer than the tasks' margin: nothing left.
            (70.0, 60.0, 5.0, None),
        ];
        for (last_start, first_end, poll, want) in cases {
            let got = window(S(last_start), S(first_end), S(poll));
            let want = want.map(|(from, to)| Window {
                from: S(from),
                to: S(to),
            });
            match (got, want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{last_start} {first_end}"),
                (Err(Unmeasured::TooShort(w)), None) => assert!(w.len() < MIN_WINDOW, "{w}"),
                (got, want) => panic!("{last_start} {first_end} {poll}: {got:?}, not {want:?}"),
            }
        }
    }

    /// A run with an epoch at 1,000 s after 1970, `per_bin` polls in every bin up to 70 s,
    /// the last task started at 0.5 s, the first ended at 60.5 s, and a waiter sampled
    /// every 100 ms from the epoch to 70 s, burning `cpu_ms_per_s` ms of CPU each second.
    fn run(per_bin: u32, cpu_ms_per_s: u64) -> Steady {
        let epoch = Duration::from_secs(1_000);
        let sim = Summary {
            poll_bins: vec![per_bin; 700],
            last_start: Some(S(0.5)),
            first_end: Some(S(60.5)),
            epoch_ms: epoch.as_millis() as u64,
            ..Summary::default()
        };
        let cpu = CpuSeries(
            (0..=700)
                .map(|i| CpuSample {
                    at: SystemTime::UNIX_EPOCH + epoch + Duration::from_millis(i * 100),
                    cpu: Duration::from_millis(i * cpu_ms_per_s / 10),
                })
                .collect(),
        );
        Steady::of(&sim, &cpu, S(5.0)).expect("measured")
    }

    #[test]
    fn the_cpu_and_the_polls_are_read_over_the_same_window() {
        // Window 7.5 s to 58.5 s: 510 bins.
        // (polls per bin, CPU ms per s, polls counted, CPU s, CPU s per 1,000 polls)
        let cases: [(u32, u64, u64, f64, f64); 3] = [
            (1, 100, 510, 5.1, 10.0),
            (20, 100, 10_200, 5.1, 0.5),
            (20, 0, 10_200, 0.0, 0.0),
        ];
        for (per_bin, cpu_ms_per_s, polls, cpu_s, per_1000) in cases {
            let steady = run(per_bin, cpu_ms_per_s);
            assert_eq!(
                steady.window,
                Window {
                    from: S(7.5),
                    to: S(58.5)
                }
            );
            assert_eq!(steady.polls, polls, "{per_bin}");
            assert!(
                (steady.cpu.as_secs_f64() - cpu_s).abs() < 1e-6,
                "{steady:?}"
            );
            let got = steady.cpu_per_1000_polls();
            assert!((got - per_1000).abs() < 1e-6, "{got} {per_1000}");
        }
        assert!(run(0, 100).cpu_per_1000_polls().is_nan());
    }

    #[test]
    fn a_run_without_starts_or_samples_over_the_window_is_not_measured() {
        let sim = Summary {
            last_start: Some(S(0.5)),
            first_end: Some(S(60.5)),
            ..Summary::default()
        };
        let none = Steady::of(&Summary::default(), &CpuSeries::default(), S(5.0));
        assert_eq!(none, Err(Unmeasured::NoTasks));
        let unsampled = Steady::of(&sim, &CpuSeries::default(), S(5.0));
        assert!(
            matches!(unsampled, Err(Unmeasured::NotSampled(w)) if w.from == S(7.5)),
            "{unsampled:?}"
        );
    }
}
