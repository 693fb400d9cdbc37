//! Scenario time: tokio's clock times a speed factor, so tests on paused tokio time see
//! tasks progress exactly with virtual time.

use std::time::{Duration, SystemTime};

use runwait_core::EpochMillis;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Clock {
    start: Instant,
    speed: f64,
    /// Wall-clock time at scenario time zero, for `creationTime` and `expiresAt`.
    epoch: EpochMillis,
}

impl Clock {
    pub(crate) fn new(speed: f64, epoch: SystemTime) -> Self {
        Clock {
            start: Instant::now(),
            speed,
            epoch: EpochMillis::from_system_time(epoch),
        }
    }

    /// Scenario time since the simulator started.
    pub(crate) fn now(&self) -> Duration {
        let real = self.start.elapsed();
        // Whole speeds multiply exactly, so paused-time tests see exact durations.
        let exact = (self.speed.fract() == 0.0 && self.speed <= f64::from(u32::MAX))
            .then(|| real.checked_mul(self.speed as u32))
            .flatten();
        exact.unwrap_or_else(|| scaled(real.as_secs_f64() * self.speed))
    }

    /// The wall-clock time of a scenario time.
    pub(crate) fn wall(&self, at: Duration) -> EpochMillis {
        let ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        EpochMillis(self.epoch.0.saturating_add(ms))
    }

    /// The real time a scenario duration takes.
    pub(crate) fn real(&self, scenario: Duration) -> Duration {
        scaled(scenario.as_secs_f64() / self.speed)
    }
}

/// Seconds to a `Duration`, saturating: absurd scenario durations must not panic.
fn scaled(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// `2026-11-28T12:00:00.000+0000`, the form of Anaplan's error `timestamp`.
pub(crate) fn iso8601(t: EpochMillis) -> String {
    let secs = t.0 / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        t.0 % 1000
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(EpochMillis(0)), "1970-01-01T00:00:00.000+0000");
        assert_eq!(
            iso8601(EpochMillis(1_570_823_656_906)),
            "2019-10-11T19:54:16.906+0000"
        );
        assert_eq!(
            iso8601(EpochMillis(951_782_400_000)),
            "2000-02-29T00:00:00.000+0000"
        );
    }
}
