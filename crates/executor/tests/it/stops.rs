//! A hung call holds up neither an abort, nor a detach, nor the deadline: every wait on
//! the network races them. One table: which call hangs, what stops the step, and how
//! the step must end (outcome, cancel requests, when).

use std::time::Duration;

use runwait_anaplan::TaskKind;
use runwait_executor::{CancelStatus, Step, StepKey, StepOutcome, StepRecord};
use runwait_sim::{Answer, CallKind, Curve, Fault, FaultKind, Scenario};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::common::{harness, target, with_action};

/// What stops the step, and when (from its start).
#[derive(Debug, Clone, Copy)]
enum Signal {
    Abort(u64),
    Detach(u64),
    Deadline(u64),
    /// An abort, then a detach.
    AbortThenDetach(u64, u64),
    /// A detach, under a deadline that comes later.
    DetachBeforeDeadline(u64, u64),
}

struct Row {
    /// The call that hangs.
    hung: CallKind,
    signal: Signal,
    outcome: StepOutcome,
    cancel: Option<CancelStatus>,
    /// Cancel requests in the journal.
    deletes: usize,
    /// Start requests in the journal.
    starts: usize,
    /// The step ends by then (seconds of paused time), whatever the 30 s call timeout.
    ends_by: u64,
    /// In the message.
    says: &'static str,
    /// What an earlier run of the step run left in the store.
    earlier: Earlier,
}

/// What an earlier run of the step run left in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    Nothing,
    /// The task list, then a crash around its start: the hung listing is the
    /// recovery's look for what it may have created.
    SavedList,
    /// A started task, still running: the hung status is the reattach's check.
    StartedTask,
}

const fn row(
    hung: CallKind,
    signal: Signal,
    outcome: StepOutcome,
    deletes: usize,
    starts: usize,
    ends_by: u64,
    says: &'static str,
) -> Row {
    Row {
        hung,
        signal,
        outcome,
        cancel: None,
        deletes,
        starts,
        ends_by,
        says,
        earlier: Earlier::Nothing,
    }
}

fn rows() -> Vec<Row> {
    use CallKind::{Cancel, Dump, List, Status};
    use Signal::*;
    use StepOutcome::*;
    vec![
        // A hung poll: the stop acts at once (the call would time out at 35 s); the
        // cancel goes out at the stop and the next poll sees `CANCELLED`.
        row(Status, Detach(20), Detached, 0, 1, 20, "keeps running"),
        // The reported bug: a detach during a hung poll of a step with a timeout sent a
        // DELETE once the poll gave up past the deadline, and still said "keeps running".
        row(
            Status,
            DetachBeforeDeadline(20, 25),
            Detached,
            0,
            1,
            20,
            "keeps running",
        ),
        Row {
            cancel: Some(CancelStatus::Done),
            ..row(
                Status,
                Abort(20),
                Cancelled,
                1,
                1,
                26,
                "cancelled by the user",
            )
        },
        Row {
            cancel: Some(CancelStatus::Done),
            ..row(
                Status,
                Deadline(20),
                TimedOut,
                1,
                1,
                26,
                "timed out after 20s",
            )
        },
        // A hung listing before the start: nothing is started.
        row(List, Detach(20), Cancelled, 0, 0, 20, "while listing"),
        row(List, Abort(20), Cancelled, 0, 0, 20, "while listing"),
        row(List, Deadline(20), TimedOut, 0, 0, 20, "while listing"),
        // A hung look for the task of an earlier run that crashed around its start.
        Row {
            earlier: Earlier::SavedList,
            ..row(
                List,
                Detach(20),
                Cancelled,
                0,
                0,
                20,
                "an earlier run may have started",
            )
        },
        Row {
            earlier: Earlier::SavedList,
            ..row(
                List,
                Abort(20),
                Cancelled,
                0,
                0,
                20,
                "an earlier run may have started",
            )
        },
        Row {
            earlier: Earlier::SavedList,
            ..row(
                List,
                Deadline(20),
                TimedOut,
                0,
                0,
                20,
                "an earlier run may have started",
            )
        },
        // A hung check of the task an earlier run started (and that still runs).
        Row {
            earlier: Earlier::StartedTask,
            ..row(Status, Detach(20), Detached, 0, 1, 20, "keeps running")
        },
        Row {
            earlier: Earlier::StartedTask,
            cancel: Some(CancelStatus::Done),
            ..row(
                Status,
                Abort(20),
                Cancelled,
                1,
                1,
                26,
                "cancelled by the user",
            )
        },
        Row {
            earlier: Earlier::StartedTask,
            cancel: Some(CancelStatus::Done),
            ..row(
                Status,
                Deadline(20),
                TimedOut,
                1,
                1,
                26,
                "timed out after 20s",
            )
        },
        // A hung cancel: a detach leaves at once; otherwise the cancel fails after its
        // one try (the tests' retry budget, 10 s, is below the 30 s call timeout) and the
        // step says the task may still run.
        row(
            Cancel,
            AbortThenDetach(20, 25),
            Detached,
            1,
            1,
            25,
            "cancel request was in flight",
        ),
        Row {
            cancel: Some(CancelStatus::Failed),
            ..row(
                Cancel,
                Abort(20),
                Detached,
                1,
                1,
                51,
                "could not be cancelled",
            )
        },
        Row {
            cancel: Some(CancelStatus::Failed),
            ..row(
                Cancel,
                Deadline(20),
                TimedOut,
                1,
                1,
                51,
                "may still be running",
            )
        },
        // A hung dump of a finished task: the task's outcome stands, the dump is said
        // to be missing.
        row(Dump, Detach(40), Failed, 0, 1, 40, "stopped by a detach"),
        row(Dump, Abort(40), Failed, 0, 1, 40, "stopped by an abort"),
        row(
            Dump,
            Deadline(40),
            Failed,
            0,
            1,
            40,
            "stopped by the step's deadline",
        ),
    ]
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_yields_to_abort_detach_and_deadline() {
    for row in rows() {
        let name = format!("{:?} hung, {:?}", row.hung, row.signal);
        // A long action to wait on; the failing import (20 s, with a dump) for dumps.
        let (kind, object, scenario) = match row.hung {
            CallKind::Dump => (TaskKind::Import, "112000000003", Scenario::builtin()),
            _ => (
                TaskKind::Action,
                "117000000001",
                with_action(Duration::from_secs(3600), Curve::Linear),
            ),
        };
        let h = harness(scenario).await;
        if row.earlier != Earlier::Nothing {
            let t = target(kind, object);
            let known = h.client.known_tasks(&t).await.unwrap();
            let mut record = StepRecord::new(&StepKey::new("nightly", "s", "r1"), t.clone(), known);
            if row.earlier == Earlier::StartedTask {
                let started = h.client.start(&t, &Default::default()).await.unwrap();
                record = record.task_id(Some(started.task_id));
            }
            h.ctx("s", "r1").state().save(&record).await.unwrap();
        }
        // Only the first poll hangs, so the cancel's polls can see `CANCELLED`; every
        // other call of its kind hangs.
        let count = u32::from(row.hung == CallKind::Status);
        h.sim
            .add_fault(Fault::new(row.hung, 0, count, FaultKind::Hang))
            .unwrap();
        let (abort, detach) = (CancellationToken::new(), CancellationToken::new());
        let began = Instant::now();
        let mut ctx = h
            .ctx_builder("s", "r1")
            .cancel(abort.clone())
            .detach(detach.clone());
        let at = move |secs: u64| began + Duration::from_secs(secs);
        let fire = |token: &CancellationToken, secs: u64| {
            let token = token.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(at(secs)).await;
                token.cancel();
            });
        };
        match row.signal {
            Signal::Abort(s) => fire(&abort, s),
            Signal::Detach(s) => fire(&detach, s),
            Signal::Deadline(s) => ctx = ctx.deadline(at(s)),
            Signal::AbortThenDetach(a, d) => {
                fire(&abort, a);
                fire(&detach, d);
            }
            Signal::DetachBeforeDeadline(d, deadline) => {
                fire(&detach, d);
                ctx = ctx.deadline(at(deadline));
            }
        }
        let step = h.step(kind, object);
        let result = step.run(ctx.build()).await;
        assert_eq!(result.outcome, row.outcome, "{name}: {}", result.message);
        assert!(
            result.message.contains(row.says),
            "{name}: {}",
            result.message
        );
        assert_eq!(result.cancel, row.cancel, "{name}: {}", result.message);
        assert!(
            result.elapsed <= Duration::from_secs(row.ends_by),
            "{name}: ended after {:?}",
            result.elapsed
        );
        assert_eq!(h.count("DELETE", "/tasks/"), row.deletes, "{name}");
        // The cancel request goes out when the signal comes, not after the hung call.
        let signalled = match row.signal {
            Signal::Abort(s) | Signal::Detach(s) | Signal::Deadline(s) => s,
            Signal::AbortThenDetach(s, _) | Signal::DetachBeforeDeadline(s, _) => s,
        };
        if let Some(delete) = h.journal().iter().find(|e| e.method == "DELETE") {
            assert!(delete.at_ms <= (signalled + 1) * 1000, "{name}: {delete:?}");
        }
        assert_eq!(h.starts(), row.starts, "{name}");
        assert!(
            h.journal()
                .iter()
                .any(|e| e.kind == row.hung && e.answer == Answer::Hang),
            "{name}: the call did hang"
        );
        h.sim.shutdown().await;
    }
}
