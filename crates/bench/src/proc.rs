//! What a child process costs, read from `/proc` (Linux) while it runs: peak resident
//! memory (`VmHWM`, the kernel's own high-water mark, so no peak is missed between
//! samples), CPU time (user + system), the most file descriptors open at a sample, and
//! the CPU time series (wall-clock time and cumulative CPU at each sample), so the CPU
//! spent between two wall-clock instants can be read ([`CpuSeries::between`]).
//!
//! The watcher stops when the child is a zombie (exited, not yet reaped): its final CPU
//! time is still readable then, so the figure is exact. The caller must not reap the
//! child before [`Watch::finish`] returns.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How often memory and CPU are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// File descriptors are counted every this many samples (a directory listing of up to
/// tens of thousands of entries).
const FDS_EVERY: u32 = 5;

/// What a process cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Peak resident memory, KiB (`VmHWM`).
    pub peak_rss_kib: u64,
    /// User + system CPU time.
    pub cpu: Duration,
    /// The most file descriptors open at one sample.
    pub fds_peak: usize,
    /// From the start of the watch to the exit.
    pub wall: Duration,
    /// The cumulative CPU time at each sample.
    pub cpu_series: CpuSeries,
}

/// One sample of a process's cumulative CPU time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSample {
    /// When it was read (wall clock, just after reading `/proc/PID/stat`).
    pub at: SystemTime,
    /// User + system CPU time since the process started.
    pub cpu: Duration,
}

/// A process's cumulative CPU time, sample by sample (about every 100 ms), in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuSeries(pub Vec<CpuSample>);

impl CpuSeries {
    /// The CPU time spent between wall-clock instants `from` and `to`: the cumulative
    /// CPU at each instant, interpolated linearly between the two samples around it,
    /// subtracted. `None` when an instant is outside the samples (the window is not
    /// covered) or `to` is before `from`.
    ///
    /// Interpolation, not the nearest samples inside the window, so a window is neither
    /// shortened nor lengthened by up to a sample period at each end; the CPU counters'
    /// own unit (a clock tick, 10 ms) is the error left.
    pub fn between(&self, from: SystemTime, to: SystemTime) -> Option<Duration> {
        if to < from {
            return None;
        }
        self.at(to)?.checked_sub(self.at(from)?)
    }

    /// The cumulative CPU at `t`, interpolated between the samples around it.
    fn at(&self, t: SystemTime) -> Option<Duration> {
        let after = self.0.partition_point(|s| s.at < t);
        let next = self.0.get(after)?;
        if next.at == t {
            return Some(next.cpu);
        }
        let prev = self.0.get(after.checked_sub(1)?)?;
        let span = next.at.duration_since(prev.at).ok()?.as_secs_f64();
        let into = t.duration_since(prev.at).ok()?.as_secs_f64();
        let grown = next.cpu.saturating_sub(prev.cpu).as_secs_f64();
        Some(prev.cpu + Duration::from_secs_f64(grown * into / span))
    }
}

/// A thread sampling one process until it exits.
#[derive(Debug)]
pub struct Watch {
    thread: JoinHandle<Usage>,
    stop: Arc<AtomicBool>,
}

/// Starts sampling process `pid`.
pub fn watch(pid: u32) -> Watch {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let tick = clock_ticks_per_second();
    let thread = std::thread::spawn(move || sample_until_exit(pid, tick, &stopped));
    Watch { thread, stop }
}

impl Watch {
    /// Waits for the process to exit and returns what it cost.
    pub fn finish(self) -> Usage {
        self.thread.join().unwrap_or_default()
    }

    /// Stops sampling now (the process goes on) and returns what it cost so far.
    pub fn stop(self) -> Usage {
        self.stop.store(true, Ordering::Relaxed);
        self.finish()
    }
}

fn sample_until_exit(pid: u32, tick: f64, stop: &AtomicBool) -> Usage {
    let began = Instant::now();
    let mut usage = Usage::default();
    let mut samples = 0u32;
    while let Some((state, ticks)) = stat(pid) {
        usage.cpu = Duration::from_secs_f64(ticks as f64 / tick);
        usage.wall = began.elapsed();
        usage.cpu_series.0.push(CpuSample {
            at: SystemTime::now(),
            cpu: usage.cpu,
        });
        // A zombie has released its memory and files; its CPU time is final.
        if state == 'Z' || state == 'X' || stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(hwm) = peak_rss_kib(pid) {
            usage.peak_rss_kib = usage.peak_rss_kib.max(hwm);
        }
        if samples.is_multiple_of(FDS_EVERY) {
            usage.fds_peak = usage.fds_peak.max(open_fds(pid));
        }
        samples += 1;
        std::thread::sleep(SAMPLE_EVERY);
    }
    usage
}

/// The state letter and the user + system CPU time in clock ticks of `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: the fields after it follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Fields 14 (utime) and 15 (stime) of proc(5), counted from the state (field 3).
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((state, user + system))
}

/// `VmHWM` of `/proc/PID/status`, KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib(&status, "VmHWM:")
}

/// A `kB` line of a `/proc/…/status` text.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// `getconf CLK_TCK` (the unit of `/proc/PID/stat`'s times); 100 when it cannot be run.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let (state, _) = stat(pid).expect("own stat");
        assert!(matches!(state, 'R' | 'S'), "{state}");
        assert!(peak_rss_kib(pid).expect("own VmHWM") > 0);
        assert!(open_fds(pid) >= 3);
    }

    #[test]
    fn a_watch_ends_at_the_exit_and_leaves_the_child_to_be_reaped() {
        let mut child = Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("cat runs");
        let watch = watch(child.id());
        drop(child.stdin.take());
        let usage = watch.finish();
        assert!(usage.cpu < Duration::from_secs(5), "{usage:?}");
        assert!(!usage.cpu_series.0.is_empty(), "{usage:?}");
        assert_eq!(usage.cpu_series.0.last().map(|s| s.cpu), Some(usage.cpu));
        assert!(child.wait().expect("reaped here").success());
    }

    /// Samples at `UNIX_EPOCH` + the given ms, with the given cumulative CPU ms.
    fn series(samples: &[(u64, u64)]) -> CpuSeries {
        CpuSeries(
            samples
                .iter()
                .map(|&(at, cpu)| CpuSample {
                    at: SystemTime::UNIX_EPOCH + Duration::from_millis(at),
                    cpu: Duration::from_millis(cpu),
                })
                .collect(),
        )
    }

    #[test]
    fn cpu_between_two_instants_interpolates_the_samples_around_each() {
        let s = series(&[(1_000, 0), (1_100, 10), (1_200, 30), (1_300, 30)]);
        // (from ms, to ms, CPU ms in between; None when not covered)
        let cases: [(u64, u64, Option<u64>); 8] = [
            (1_000, 1_300, Some(30)),
            (1_100, 1_200, Some(20)),
            (1_050, 1_150, Some(15)),
            (1_030, 1_270, Some(27)),
            (1_200, 1_300, Some(0)),
            (1_150, 1_150, Some(0)),
            (999, 1_200, None),
            (1_100, 1_301, None),
        ];
        for (from, to, want) in cases {
            let got = s.between(
                SystemTime::UNIX_EPOCH + Duration::from_millis(from),
                SystemTime::UNIX_EPOCH + Duration::from_millis(to),
            );
            // Interpolation goes through f64: compare in whole microseconds.
            assert_eq!(
                got.map(|d| (d.as_micros() as f64 / 1000.0).round() as u64),
                want,
                "{from}..{to}"
            );
        }
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(s.between(at(1_200), at(1_100)), None, "reversed");
        assert_eq!(CpuSeries::default().between(at(0), at(0)), None, "empty");
    }
}
