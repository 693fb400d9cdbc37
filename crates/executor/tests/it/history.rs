//! The schedule that learns from history, end to end: the engine reads the object's past
//! runs from the store before the first poll, polls a task that runs as usual fewer
//! times, falls back to the schedule without history when a run leaves the expected
//! window, keeps polling when the history cannot be read, and writes each run's running
//! time for the next.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runwait_anaplan::TaskKind;
use runwait_executor::{
    HistoryQuery, MemoryStore, StateStore, Step, StepHistory, StepKey, StepOutcome, StoreError,
};
use runwait_sim::Curve;

use crate::common::{Harness, Hooked, Hooks, exact, exact_poll, harness, target, with_action};

const ACTION: &str = "117000000001";
const MINUTE: Duration = Duration::from_secs(60);

/// Runs the action once as run `key` with `history` on or off, against `store`; its
/// result and the scenario times (s) of its status requests.
async fn run(
    h: &Harness,
    store: Arc<dyn StateStore>,
    key: &str,
    history: bool,
) -> (runwait_executor::StepResult, Vec<f64>) {
    let before = h.journal().len();
    let config = exact().with_poll(exact_poll().with_history(history));
    let result = h
        .step(TaskKind::Action, ACTION)
        .config(config)
        .run(h.ctx_builder("load", key).state(store).build())
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    let task = result.task_id.clone().unwrap();
    let polls = h
        .status_times(task.as_str())
        .into_iter()
        .map(|ms| ms as f64 / 1000.0)
        .collect();
    assert!(h.journal().len() > before);
    (result, polls)
}

/// `n` past runs of the action that each ran `running`.
async fn past_runs(store: &MemoryStore, n: usize, running: Duration) {
    for i in 0..n {
        let key = StepKey::new("nightly", "load", format!("past-{i}"));
        let entry = StepHistory::ended_now(
            &key,
            target(TaskKind::Action, ACTION),
            StepOutcome::Succeeded,
            running,
        )
        .running(Some(running));
        store.record_finished(&entry).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_recurring_task_is_polled_less_once_its_runs_are_known() {
    // A 30-minute load that reports no progress: the costliest kind without history.
    let h = harness(with_action(30 * MINUTE, Curve::Stuck)).await;
    let store = Arc::new(MemoryStore::new());
    let mut without = Vec::new();
    for i in 0..3 {
        let (result, _) = run(&h, store.clone(), &format!("r{i}"), true).await;
        without.push(result.polls);
    }
    // Each run kept how long it ran, as its polls saw it.
    let history = store
        .history(&HistoryQuery::newest(10).target(target(TaskKind::Action, ACTION)))
        .await
        .unwrap();
    assert_eq!(history.len(), 3);
    for entry in &history {
        let ran = entry.running.expect("a running time").as_secs_f64();
        assert!((ran - 1800.0).abs() < 0.06 * 1800.0, "ran {ran} s");
    }
    let (learnt, polls) = run(&h, store.clone(), "r3", true).await;
    let (blind, _) = run(&h, store.clone(), "r4", false).await;
    assert_eq!(blind.polls, without[0], "with history off, as without any");
    // 43 polls without history; with it: the first, halfway to the window, its start,
    // and a few 4.5 % apart.
    assert!(
        learnt.polls <= 8 && learnt.polls * 4 <= blind.polls,
        "with history {} polls, without {}",
        learnt.polls,
        blind.polls
    );
    // Still seen within 5 % of its duration.
    let (start, end) = (polls[0] - 5.0, *polls.last().unwrap());
    let late = end - start - 1800.0;
    assert!((0.0..=90.0).contains(&late), "seen {late} s late");
}

#[tokio::test(start_paused = true)]
async fn a_run_past_the_window_falls_back_to_the_schedule_without_history() {
    // The past runs took 10 minutes; this one takes 30.
    let h = harness(with_action(30 * MINUTE, Curve::Stuck)).await;
    let store = Arc::new(MemoryStore::new());
    past_runs(&store, 5, 10 * MINUTE).await;
    let (_, polls) = run(&h, store.clone(), "late", true).await;
    let start = polls[0] - 5.0;
    let ran: Vec<f64> = polls.iter().map(|t| t - start).collect();
    // The window is 9.5 to 10.5 minutes: past it, each gap is the blind one (8 % of
    // the time run, 15 s at least), not the window's 4.5 %.
    let after: Vec<(f64, f64)> = ran
        .windows(2)
        .map(|w| (w[0], w[1] - w[0]))
        .filter(|&(at, _)| at > 630.0)
        .collect();
    assert!(after.len() >= 5, "{ran:?}");
    for (at, gap) in after {
        let blind = (0.08 * at).max(15.0);
        assert!(
            (gap - blind).abs() < 0.01,
            "at {at} s: gap {gap} s, {ran:?}"
        );
    }
    // Seen within the blind schedule's 8 %.
    let late = ran.last().unwrap() - 1800.0;
    assert!((0.0..=0.08 * 1800.0).contains(&late), "seen {late} s late");
}

/// A store whose history cannot be read.
#[derive(Debug)]
struct Unreadable;

#[async_trait]
impl Hooks for Unreadable {
    async fn history(
        &self,
        _: &MemoryStore,
        _: &HistoryQuery,
    ) -> Result<Vec<StepHistory>, StoreError> {
        Err(StoreError::Backend("the history is unreadable".into()))
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_history_leaves_the_schedule_without_it() {
    let h = harness(with_action(10 * MINUTE, Curve::Stuck)).await;
    let (blind, blind_polls) = run(&h, Arc::new(MemoryStore::new()), "a", true).await;
    let (result, polls) = run(&h, Hooked::new(Unreadable), "b", true).await;
    assert_eq!(result.polls, blind.polls);
    // In whole milliseconds, the clock's resolution.
    let gaps = |p: &[f64]| {
        p.windows(2)
            .map(|w| ((w[1] - w[0]) * 1000.0).round() as i64)
            .collect::<Vec<_>>()
    };
    assert_eq!(gaps(&polls), gaps(&blind_polls));
}
