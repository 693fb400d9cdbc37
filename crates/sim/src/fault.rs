//! Faults on demand: matched by call kind, skipping `after` matching calls, firing
//! `count` times, on every matching call or one in every `every`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SimError;

/// Which calls a fault applies to, and how the journal labels a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// `/token/...`.
    Auth,
    /// `POST …/tasks`.
    Start,
    /// `GET …/tasks/{taskId}`.
    Status,
    /// `GET …/tasks`.
    List,
    /// `DELETE …/tasks/{taskId}`.
    Cancel,
    /// Dump chunk lists and chunks.
    Dump,
    /// Workspaces, models, object listings, process metadata, model status.
    Discovery,
    /// Every call above (only as a fault's `on`).
    #[default]
    Any,
}

impl CallKind {
    fn matches(self, call: CallKind) -> bool {
        self == CallKind::Any || self == call
    }
}

/// A fault: what goes wrong, on which calls, how often.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The calls it applies to. Default `any`.
    #[serde(default)]
    pub on: CallKind,
    /// Matching calls to let through before the fault fires. Default 0.
    #[serde(default)]
    pub after: u32,
    /// How many matching calls it hits; 0 means every one. Default 1.
    #[serde(default = "one")]
    pub count: u32,
    /// Hits one matching call in every `every` after the first `after` (the first of
    /// them, then each `every`-th): `every: 20, count: 0` fails 5 % of the calls, evenly
    /// spread and reproducible, unlike a probability. Default 1 (each call).
    #[serde(default = "one")]
    pub every: u32,
    /// What happens.
    pub fault: FaultKind,
}

fn one() -> u32 {
    1
}

/// What a fault does to the call it hits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Answer with this status and the documented error envelope, without handling
    /// the call (a start creates no task).
    Http {
        /// 400-599; 409, 429, 500, 502, 503 and 504 are the interesting ones.
        status: u16,
        /// Sent as `Retry-After` in whole seconds (not scaled by `--speed`).
        #[serde(default, with = "humantime_serde")]
        retry_after: Option<Duration>,
    },
    /// Close the connection without an answer, without handling the call.
    Reset,
    /// Never answer (until the simulator shuts down).
    Hang,
    /// Wait this long (scenario time) before handling the call.
    #[serde(with = "humantime_serde")]
    Slow(Duration),
    /// Handle the call, then send the first half of the body with the real status.
    Malformed,
    /// Handle the call, then send its body cut at its last line break short of the
    /// final byte (to half without one), with the real status and a `Content-Length`
    /// of what is sent: a dump chunk that lost a row, which HTTP cannot tell from a
    /// whole one.
    Short,
    /// Invalidate every token, then handle the call (which now gets 401).
    ExpireTokens,
    /// Only for `on: start`: create the task, then close the connection without an
    /// answer.
    LostStartResponse,
    /// Only for `on: start`: create the task, then answer with this error status and
    /// the error envelope.
    LostStartStatus(u16),
}

impl Fault {
    /// A fault on `on` calls that lets `after` of them through, then hits `count` (0:
    /// every one from then on) with `fault`. For tests; check it with
    /// [`validate`](Self::validate) or let [`Simulator::add_fault`](crate::Simulator::add_fault) do so.
    pub fn new(on: CallKind, after: u32, count: u32, fault: FaultKind) -> Fault {
        Fault {
            on,
            after,
            count,
            every: 1,
            fault,
        }
    }

    /// This fault on one matching call in every `every` (0 is taken as 1).
    pub fn every(mut self, every: u32) -> Fault {
        self.every = every.max(1);
        self
    }

    /// Checks the combinations serde cannot.
    pub fn validate(&self) -> Result<(), SimError> {
        let status_ok = |s: u16| (400..=599).contains(&s);
        match &self.fault {
            FaultKind::Http { status, .. } if !status_ok(*status) => Err(SimError::Scenario(
                format!("fault status {status} is not an HTTP error (400-599)"),
            )),
            FaultKind::LostStartResponse | FaultKind::LostStartStatus(_)
                if self.on != CallKind::Start =>
            {
                Err(SimError::Scenario(
                    "lost_start_response and lost_start_status need `on: start`".into(),
                ))
            }
            FaultKind::LostStartStatus(s) if !status_ok(*s) => Err(SimError::Scenario(format!(
                "fault status {s} is not an HTTP error (400-599)"
            ))),
            _ => Ok(()),
        }
    }
}

impl FaultKind {
    /// An answer with `status` and the error envelope, without `Retry-After`.
    pub fn http(status: u16) -> FaultKind {
        FaultKind::Http {
            status,
            retry_after: None,
        }
    }
}

/// The armed faults with their counters.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    armed: Vec<Armed>,
}

#[derive(Debug)]
struct Armed {
    fault: Fault,
    seen: u32,
    fired: u32,
}

impl FaultBook {
    pub(crate) fn add(&mut self, fault: Fault) {
        self.armed.push(Armed {
            fault,
            seen: 0,
            fired: 0,
        });
    }

    /// Counts `call` against every matching fault and returns the first that fires.
    pub(crate) fn hit(&mut self, call: CallKind) -> Option<FaultKind> {
        let mut firing = None;
        for a in self.armed.iter_mut().filter(|a| a.fault.on.matches(call)) {
            a.seen += 1;
            let due = a.seen > a.fault.after
                && (a.seen - a.fault.after - 1) % a.fault.every.max(1) == 0
                && (a.fault.count == 0 || a.fired < a.fault.count);
            if due && firing.is_none() {
                a.fired += 1;
                firing = Some(a.fault.fault.clone());
            }
        }
        firing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(on: CallKind, after: u32, count: u32) -> Fault {
        Fault::new(on, after, count, FaultKind::Reset)
    }

    #[test]
    fn after_and_count_select_the_calls() {
        let mut book = FaultBook::default();
        book.add(fault(CallKind::Status, 1, 2));
        let fired: Vec<bool> = (0..5)
            .map(|_| book.hit(CallKind::Status).is_some())
            .collect();
        assert_eq!(fired, [false, true, true, false, false]);
        assert!(book.hit(CallKind::Start).is_none());
    }

    #[test]
    fn count_zero_is_unlimited_and_any_matches_all() {
        let mut book = FaultBook::default();
        book.add(fault(CallKind::Any, 0, 0));
        assert!((0..10).all(|_| book.hit(CallKind::Dump).is_some()));
    }

    #[test]
    fn every_hits_one_call_in_n_after_the_first_ones() {
        let mut book = FaultBook::default();
        book.add(fault(CallKind::Status, 2, 0).every(3));
        let fired: Vec<usize> = (1..=12)
            .filter(|_| book.hit(CallKind::Status).is_some())
            .collect();
        assert_eq!(fired, [3, 6, 9, 12]);
    }

    #[test]
    fn lost_start_needs_start() {
        let f = Fault::new(CallKind::Status, 0, 1, FaultKind::LostStartResponse);
        assert!(f.validate().is_err());
    }
}
