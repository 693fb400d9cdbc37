//! Deadlines, aborts, detach and reattach, crashes around the start: the wait's life
//! against the simulator, in paused time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use runwait_anaplan::{KnownTasks, StartOptions, TaskKind, TaskTarget};
use runwait_core::{TaskId, TaskState};
use runwait_executor::{Step, StepKey, StepOutcome, StepRecord, TraceHook};
use runwait_sim::{Curve, Scenario};
use tokio::time::Instant;

fn hour_long() -> Scenario {
    with_action(Duration::from_secs(3600), Curve::Linear)
}

fn deletes(h: &Harness) -> usize {
    h.journal().iter().filter(|e| e.method == "DELETE").count()
}

#[tokio::test(start_paused = true)]
async fn the_deadline_gets_a_last_poll_then_a_cancel() {
    let h = harness(hour_long()).await;
    let ctx = h.ctx("slow", "r1");
    let ctx = ctx.with_deadline(Some(Instant::now() + Duration::from_secs(600)));
    let result = h.step(TaskKind::Action, "117000000001").run(ctx).await;
    assert_eq!(result.outcome, StepOutcome::TimedOut, "{}", result.message);
    assert_eq!(result.task_state, Some(TaskState::Cancelled));
    assert!(
        result
            .message
            .starts_with("timed out after 600s; task state CANCELLED"),
        "{}",
        result.message
    );
    let times = h.status_times(result.task_id.as_ref().unwrap().as_str());
    assert!(
        times.contains(&600_000),
        "a poll right at the deadline: {times:?}"
    );
    assert_eq!(deletes(&h), 1);
    let cancel_at = h
        .journal()
        .iter()
        .find(|e| e.method == "DELETE")
        .unwrap()
        .at_ms;
    assert_eq!(cancel_at, 600_000);
}

#[tokio::test(start_paused = true)]
async fn an_abort_cancels_the_remote_task() {
    let h = harness(hour_long()).await;
    let ctx = h.ctx("slow", "r1");
    fire_after(ctx.cancel(), 30);
    let result = h.step(TaskKind::Action, "117000000001").run(ctx).await;
    assert_eq!(result.outcome, StepOutcome::Cancelled, "{}", result.message);
    assert_eq!(result.task_state, Some(TaskState::Cancelled));
    assert_eq!(deletes(&h), 1);
    assert_eq!(
        h.journal()
            .iter()
            .find(|e| e.method == "DELETE")
            .unwrap()
            .at_ms,
        30_000,
        "at once, not at the next poll"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_that_cannot_roll_back_reports_what_really_happened() {
    // 117000000003 cannot be cancelled: it runs 60 s and completes.
    let h = harness(Scenario::builtin()).await;
    let ctx = h.ctx("rebuild", "r1");
    fire_after(ctx.cancel(), 20);
    let result = h.step(TaskKind::Action, "117000000003").run(ctx).await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    assert_eq!(result.task_state, Some(TaskState::Complete));
    assert!(
        result.message.contains("could not roll back"),
        "{}",
        result.message
    );

    let ctx = h.ctx("rebuild-timeout", "r1");
    let ctx = ctx.with_deadline(Some(Instant::now() + Duration::from_secs(20)));
    let result = h.step(TaskKind::Action, "117000000003").run(ctx).await;
    assert_eq!(result.outcome, StepOutcome::TimedOut);
    assert_eq!(result.task_state, Some(TaskState::Complete));
    assert!(
        result
            .message
            .contains("could not roll back), successful: true"),
        "{}",
        result.message
    );
}

#[tokio::test(start_paused = true)]
async fn detach_leaves_the_task_and_a_rerun_reattaches() {
    let h = harness(hour_long()).await;
    let ctx = h.ctx("slow", "nightly-1");
    fire_after(ctx.detach(), 30);
    let first = h.step(TaskKind::Action, "117000000001").run(ctx).await;
    assert_eq!(first.outcome, StepOutcome::Detached);
    assert!(
        first
            .message
            .contains("rerun with the same run key to reattach"),
        "{}",
        first.message
    );
    assert_eq!(deletes(&h), 0, "detach does not cancel");

    let second = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("slow", "nightly-1"))
        .await;
    assert_eq!(second.outcome, StepOutcome::Succeeded);
    assert!(second.reattached);
    assert_eq!(second.task_id, first.task_id);
    assert_eq!(h.starts(), 1, "never a second start for one step run");

    // Another run key is another run.
    let third = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("slow", "nightly-2"))
        .await;
    assert_ne!(third.task_id, first.task_id);
    assert_eq!(h.starts(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_finished_while_nobody_watched_is_reported_at_once() {
    let h = harness(with_action(Duration::from_secs(600), Curve::Linear)).await;
    let ctx = h.ctx("slow", "r1");
    fire_after(ctx.detach(), 10);
    h.step(TaskKind::Action, "117000000001").run(ctx).await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("slow", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    assert!(result.reattached);
    assert_eq!(result.polls, 1);
}

#[tokio::test(start_paused = true)]
async fn a_crash_right_after_the_start_is_recovered_by_adopting_the_task() {
    let h = harness(with_action(Duration::from_secs(120), Curve::Linear)).await;
    let t = target(TaskKind::Action, "117000000001");
    // What the crashed run did: saved the task list, sent the start, died before saving the answer.
    let known = h.client.known_tasks(&t).await.unwrap();
    let store = h.ctx("crashy", "r1").state().clone();
    store
        .save(&record("crashy", t.clone(), known.clone(), None))
        .await
        .unwrap();
    let started = h
        .client
        .start_after(&t, &StartOptions::default(), &known)
        .await
        .unwrap();

    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("crashy", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    assert!(result.reattached);
    assert_eq!(result.task_id, Some(started.task_id));
    assert_eq!(h.starts(), 1);
    let saved = store
        .load(&StepKey::new("nightly", "crashy", "r1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.task_id, result.task_id, "the adopted task is saved");
}

#[tokio::test(start_paused = true)]
async fn a_crash_before_the_start_starts_exactly_once() {
    let h = harness(with_action(Duration::from_secs(60), Curve::Linear)).await;
    let t = target(TaskKind::Action, "117000000001");
    let known = h.client.known_tasks(&t).await.unwrap();
    h.ctx("crashy", "r1")
        .state()
        .save(&record("crashy", t, known, None))
        .await
        .unwrap();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("crashy", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    assert!(!result.reattached);
    assert_eq!(h.starts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stored_task_unknown_to_anaplan_is_replaced() {
    let h = harness(with_action(Duration::from_secs(60), Curve::Linear)).await;
    let t = target(TaskKind::Action, "117000000001");
    h.ctx("gone", "r1")
        .state()
        .save(&record(
            "gone",
            t,
            Default::default(),
            Some(TaskId::new("00000000000000000000000000000000")),
        ))
        .await
        .unwrap();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("gone", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    assert_eq!(h.starts(), 1);
}

fn detach_after_a_second(ctx: runwait_executor::StepContext) -> runwait_executor::StepContext {
    fire_after(ctx.detach(), 1);
    ctx
}

#[derive(Default)]
struct RecordingHook(Mutex<Vec<String>>);

impl TraceHook for RecordingHook {
    fn traceparent(&self, _span: &tracing::Span) -> Option<String> {
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into())
    }
    fn link(&self, _span: &tracing::Span, traceparent: &str) {
        self.0.lock().unwrap().push(traceparent.to_owned());
    }
}

#[tokio::test(start_paused = true)]
async fn a_reattached_wait_links_to_the_run_that_started_the_task() {
    let h = harness(hour_long()).await;
    let hook = Arc::new(RecordingHook::default());
    let step = h
        .step(TaskKind::Action, "117000000001")
        .trace_hook(hook.clone());
    step.run(detach_after_a_second(h.ctx("slow", "r1"))).await;
    assert!(hook.0.lock().unwrap().is_empty());
    let record = h
        .ctx("slow", "r1")
        .state()
        .load(&StepKey::new("nightly", "slow", "r1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.traceparent.as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    step.run(detach_after_a_second(h.ctx("slow", "r1"))).await;
    assert_eq!(
        hook.0.lock().unwrap().as_slice(),
        ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
    );
}

/// Fires `token` after `secs` seconds (of paused time).
fn fire_after(token: &tokio_util::sync::CancellationToken, secs: u64) {
    let token = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        token.cancel();
    });
}

/// What a run of step `step_id` with run key `r1` left in the store.
fn record(
    step_id: &str,
    target: runwait_anaplan::TaskTarget,
    known: runwait_anaplan::KnownTasks,
    task: Option<TaskId>,
) -> StepRecord {
    StepRecord::new(&StepKey::new("nightly", step_id, "r1"), target, known).task_id(task)
}

#[tokio::test(start_paused = true)]
async fn an_abort_whose_cancel_fails_leaves_the_task_reattachable() {
    let h = harness(hour_long()).await;
    h.sim
        .add_fault(runwait_sim::Fault::new(
            runwait_sim::CallKind::Cancel,
            0,
            0,
            runwait_sim::FaultKind::http(500),
        ))
        .unwrap();
    let ctx = h.ctx("slow", "r1");
    fire_after(ctx.cancel(), 30);
    let result = h.step(TaskKind::Action, "117000000001").run(ctx).await;
    assert_eq!(result.outcome, StepOutcome::Detached, "{}", result.message);
    assert!(
        result.message.contains("could not be cancelled"),
        "{}",
        result.message
    );
    assert_eq!(result.task_state, Some(TaskState::InProgress));
}

#[tokio::test(start_paused = true)]
async fn two_runs_of_one_step_run_never_both_start_it() {
    let h = harness(with_action(Duration::from_secs(60), Curve::Linear)).await;
    let step = h.step(TaskKind::Action, "117000000001");
    let (a, b) = tokio::join!(step.run(h.ctx("once", "r1")), step.run(h.ctx("once", "r1")));
    let mut outcomes = [a.outcome, b.outcome];
    outcomes.sort_by_key(|o| o.name());
    assert_eq!(outcomes, [StepOutcome::Error, StepOutcome::Succeeded]);
    let refused = if a.outcome == StepOutcome::Error {
        &a
    } else {
        &b
    };
    assert!(
        refused
            .message
            .contains("another run with the same run key"),
        "{}",
        refused.message
    );
    assert_eq!(h.starts(), 1);
}

/// A scenario whose action `other@runwait.local` starts 5 s in (issue 11).
fn someone_else_starts(list_users: bool) -> Scenario {
    let mut s = with_action(Duration::from_secs(120), Curve::Linear);
    s.foreign_starts = vec![runwait_sim::ForeignStart {
        at: Duration::from_secs(5),
        object: "117000000001".into(),
        by: "other@runwait.local".into(),
    }];
    s.task_list_users = list_users;
    s
}

/// A run of step `crashy` (run key `r1`) saved the action's task list and died before
/// its start; 10 s pass, in which the scenario's stranger starts the action.
async fn crashed_after_saving_the_list(h: &Harness) -> (TaskTarget, KnownTasks) {
    let t = target(TaskKind::Action, "117000000001");
    let known = h.client.known_tasks(&t).await.unwrap();
    h.ctx("crashy", "r1")
        .state()
        .save(&record("crashy", t.clone(), known.clone(), None))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    (t, known)
}

#[tokio::test(start_paused = true)]
async fn a_crash_recovery_never_adopts_another_users_task() {
    // The crashed run saved the list and died before sending the start; meanwhile
    // another user started the same action. The list names users: the stranger's
    // task is left alone and this run starts its own, once.
    let h = harness(someone_else_starts(true)).await;
    crashed_after_saving_the_list(&h).await;
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("crashy", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    assert!(!result.reattached);
    let ours = h
        .sim
        .tasks()
        .into_iter()
        .find(|s| s.user == "demo@runwait.local")
        .unwrap();
    assert_eq!(result.task_id, Some(ours.task_id));
    assert_eq!(h.starts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lost_start_among_strangers_tasks_stops_with_a_clear_error() {
    // The start's answer is lost while a stranger's task also appeared, and the list
    // cannot say whose is whose: the step stops instead of adopting a stranger's task
    // or starting a second one.
    let h = harness(someone_else_starts(false)).await;
    let (t, known) = crashed_after_saving_the_list(&h).await;
    h.client
        .start_after(&t, &StartOptions::default(), &known)
        .await
        .unwrap();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("crashy", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Error);
    assert!(
        result.message.contains("cannot tell which task")
            && result.message.contains("not starting again"),
        "{}",
        result.message
    );
    assert_eq!(h.starts(), 1, "the one start of the crashed run, none more");
}
