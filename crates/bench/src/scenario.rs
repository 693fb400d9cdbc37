//! The bench's tenant and what its journal says: N models with one action each, and the
//! summary the simulator process prints at its end (calls by kind, 429s, how late each
//! task's end was seen, and what the steady-state window needs: the answered polls per
//! 100 ms, the last start and the first end, the wall clock of scenario time zero).

use std::collections::HashMap;
use std::time::Duration;

use runwait_core::{ModelId, ObjectId};
use runwait_sim::{Answer, CallKind, Curve, JournalEntry, ModelSpec, Outcome, Scenario};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ACTION, model_id};

/// `models` models, each with one action running `duration` (scenario time) with linear
/// progress and succeeding; the tenant limited to `rate_limit` calls a second if given.
pub fn scenario(models: usize, duration: Duration, rate_limit: Option<u32>) -> Scenario {
    let mut s = Scenario::builtin();
    let mut action = s.workspaces[0].models[0].actions[0].clone();
    action.id = ObjectId::new(ACTION);
    action.name = "Bench action".to_owned();
    action.duration = duration;
    action.progress = Curve::Linear;
    action.outcome = Outcome::Success;
    s.workspaces[0].models = (0..models)
        .map(|i| {
            ModelSpec::with_actions(
                ModelId::new(model_id(i)),
                format!("Bench model {i}"),
                vec![action.clone()],
            )
        })
        .collect();
    s.rate_limit = rate_limit;
    s
}

/// The width of [`Summary::poll_bins`]' bins.
pub const POLL_BIN: Duration = Duration::from_millis(100);

/// What the simulator saw in one run. Its JSON gives times in whole milliseconds, under
/// names ending in `_ms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Every call (logins included).
    pub requests: u64,
    /// Status polls answered 200.
    pub polls: u64,
    /// Calls answered 429.
    pub too_many: u64,
    /// Tasks started.
    pub starts: u64,
    /// Scenario time from the first answered poll to the last.
    #[serde(rename = "poll_span_ms", with = "ms")]
    pub poll_span: Duration,
    /// For each task seen ended: from its end (start + duration, scenario time) to the
    /// first answered poll at or after it.
    #[serde(rename = "delays_ms", with = "ms::list")]
    pub delays: Vec<Duration>,
    /// Answered polls by scenario time: bin `i` counts those from `i` × [`POLL_BIN`]
    /// (inclusive) to `i + 1` × [`POLL_BIN`]. A histogram, not the poll times, so the
    /// JSON line stays small at hundreds of thousands of polls.
    pub poll_bins: Vec<u32>,
    /// Scenario time of the last task start (answered); `None` if none started.
    #[serde(rename = "last_start_ms", with = "ms::option")]
    pub last_start: Option<Duration>,
    /// Scenario time of the first task end (start + duration); `None` if none started.
    #[serde(rename = "first_end_ms", with = "ms::option")]
    pub first_end: Option<Duration>,
    /// The wall clock at scenario time zero, UNIX ms (the simulator runs at speed 1, so a
    /// scenario time `t` is this + `t`); 0 when not reported.
    pub epoch_ms: u64,
}

impl Summary {
    /// Reads `journal`, whose tasks each ran `duration` from their start.
    pub fn of(journal: &[JournalEntry], duration: Duration) -> Summary {
        let ok = |e: &JournalEntry| matches!(e.answer, Answer::Status(s) if s < 300);
        let mut summary = Summary {
            requests: journal.len() as u64,
            too_many: journal
                .iter()
                .filter(|e| e.answer == Answer::Status(429))
                .count() as u64,
            ..Summary::default()
        };
        let mut ends: HashMap<&str, u64> = HashMap::new();
        let mut polls: HashMap<&str, Vec<u64>> = HashMap::new();
        let (mut first, mut last) = (u64::MAX, 0);
        for e in journal.iter().filter(|e| ok(e)) {
            match e.kind {
                CallKind::Start => {
                    summary.starts += 1;
                    let at = Duration::from_millis(e.at_ms);
                    summary.last_start = summary.last_start.max(Some(at));
                    let end = at + duration;
                    summary.first_end = Some(summary.first_end.map_or(end, |f| f.min(end)));
                    ends.insert(model_of(&e.path), e.at_ms + duration.as_millis() as u64);
                }
                CallKind::Status => {
                    summary.polls += 1;
                    let bin = (e.at_ms / POLL_BIN.as_millis() as u64) as usize;
                    if summary.poll_bins.len() <= bin {
                        summary.poll_bins.resize(bin + 1, 0);
                    }
                    summary.poll_bins[bin] += 1;
                    first = first.min(e.at_ms);
                    last = last.max(e.at_ms);
                    polls.entry(model_of(&e.path)).or_default().push(e.at_ms);
                }
                _ => {}
            }
        }
        summary.poll_span = Duration::from_millis(last.saturating_sub(first));
        for (model, end) in ends {
            let seen = polls
                .get(model)
                .and_then(|at| at.iter().copied().filter(|&t| t >= end).min());
            if let Some(seen) = seen {
                summary.delays.push(Duration::from_millis(seen - end));
            }
        }
        summary.delays.sort();
        summary
    }

    /// As one JSON object (the line the simulator process prints).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads [`Summary::to_json`]'s object; what is missing or unreadable is zero.
    pub fn from_json(v: &Value) -> Summary {
        Summary::deserialize(v).unwrap_or_default()
    }

    /// The answered polls from scenario time `from` to `to`: the bins wholly inside
    /// (so a window on [`POLL_BIN`] boundaries counts exactly its polls).
    pub fn polls_between(&self, from: Duration, to: Duration) -> u64 {
        let bin = POLL_BIN.as_millis();
        let first = from.as_millis().div_ceil(bin);
        let end = to.as_millis() / bin;
        (first..end)
            .filter_map(|i| self.poll_bins.get(usize::try_from(i).ok()?))
            .map(|&c| u64::from(c))
            .sum()
    }

    /// The `q` quantile (0 to 1) of the detection delays; zero when none was seen.
    pub fn delay_quantile(&self, q: f64) -> Duration {
        if self.delays.is_empty() {
            return Duration::ZERO;
        }
        let at = ((self.delays.len() - 1) as f64 * q).round() as usize;
        self.delays[at.min(self.delays.len() - 1)]
    }
}

/// The model id in a task path (`…/models/{model}/actions/…`).
fn model_of(path: &str) -> &str {
    path.split("/models/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
}

/// A `Duration` as whole milliseconds in the summary's JSON.
mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(millis(d))
    }

    fn millis(d: &Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }

    /// `None` as `null`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            d.as_ref().map(super::millis).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
        }
    }

    /// A list of them.
    pub mod list {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(ds: &[Duration], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(
                ds.iter()
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            )
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
            let ms = Vec::<u64>::deserialize(d)?;
            Ok(ms.into_iter().map(Duration::from_millis).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: CallKind, model: usize, at_ms: u64, status: u16) -> JournalEntry {
        JournalEntry {
            seq: 0,
            method: if kind == CallKind::Start {
                "POST"
            } else {
                "GET"
            }
            .to_owned(),
            path: format!(
                "/2/0/workspaces/w/models/{}/actions/{ACTION}/tasks/T",
                model_id(model)
            ),
            kind,
            at_ms,
            answer: Answer::Status(status),
        }
    }

    #[test]
    fn a_tasks_delay_is_from_its_end_to_the_first_answered_poll_after_it() {
        let journal = [
            entry(CallKind::Start, 0, 1_000, 200),
            entry(CallKind::Start, 1, 2_000, 200),
            entry(CallKind::Status, 0, 6_000, 200),
            entry(CallKind::Status, 0, 11_500, 429),
            entry(CallKind::Status, 0, 12_000, 200),
            entry(CallKind::Status, 1, 13_000, 200),
            entry(CallKind::Status, 0, 14_000, 200),
        ];
        let mut s = Summary::of(&journal, Duration::from_secs(10));
        assert_eq!((s.requests, s.polls, s.too_many, s.starts), (7, 4, 1, 2));
        assert_eq!(s.poll_span, Duration::from_secs(8));
        assert_eq!(s.delays, [Duration::from_secs(1), Duration::from_secs(1)]);
        assert_eq!(s.delay_quantile(0.5), Duration::from_secs(1));
        // The last start (model 1 at 2 s) and the first end (model 0's: 1 s + 10 s).
        assert_eq!(s.last_start, Some(Duration::from_secs(2)));
        assert_eq!(s.first_end, Some(Duration::from_secs(11)));
        // One answered poll in each of the bins of 6.0, 12.0, 13.0 and 14.0 s (the 429
        // at 11.5 s is not one).
        assert_eq!(s.poll_bins.len(), 141);
        let filled: Vec<(usize, u32)> = s
            .poll_bins
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, c)| c > 0)
            .collect();
        assert_eq!(filled, [(60, 1), (120, 1), (130, 1), (140, 1)]);
        s.epoch_ms = 1_795_000_000_000;
        let json = s.to_json();
        // Times cross between the processes as whole milliseconds.
        assert_eq!(json["poll_span_ms"], 8_000);
        assert_eq!(json["delays_ms"], serde_json::json!([1_000, 1_000]));
        assert_eq!(json["last_start_ms"], 2_000);
        assert_eq!(json["first_end_ms"], 11_000);
        assert_eq!(Summary::from_json(&json), s);
        // (from ms, to ms, answered polls counted)
        let windows: [(u64, u64, u64); 8] = [
            (0, 20_000, 4),
            (6_000, 12_000, 1),
            (6_000, 12_100, 2),
            (6_050, 20_000, 3),
            (5_999, 6_099, 0),
            (12_000, 12_000, 0),
            (14_000, 14_100, 1),
            (15_000, 30_000, 0),
        ];
        for (from, to, want) in windows {
            let got = s.polls_between(Duration::from_millis(from), Duration::from_millis(to));
            assert_eq!(got, want, "{from}..{to} ms");
        }
    }

    #[test]
    fn a_journal_without_starts_has_no_window_bounds() {
        let journal = [entry(CallKind::Status, 0, 250, 200)];
        let s = Summary::of(&journal, Duration::from_secs(10));
        assert_eq!((s.last_start, s.first_end), (None, None));
        assert_eq!(s.poll_bins, [0, 0, 1]);
        assert_eq!(s.to_json()["last_start_ms"], serde_json::Value::Null);
        assert_eq!(Summary::from_json(&s.to_json()), s);
    }

    #[test]
    fn the_scenario_has_one_model_per_wait_and_is_valid() {
        let s = scenario(3, Duration::from_secs(60), Some(10));
        assert_eq!(s.workspaces[0].models.len(), 3);
        assert_eq!(s.rate_limit, Some(10));
        s.validate().expect("valid");
    }
}
