//! Steps that start together take their locks and read their records a few at a time:
//! the rest wait before their lock, and still stop at once when aborted; a step gives
//! its place back when it ends and before its first call to Anaplan. A binary of its
//! own, because the places are the whole process's: no other test's steps may hold one.

#[path = "it/common/mod.rs"]
#[allow(dead_code)] // The helpers the engine's other tests use.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use runwait_anaplan::TaskKind;
use runwait_core::TaskId;
use runwait_core::target::KnownTasks;
use runwait_executor::{
    MemoryStore, RunAndWait, StateStore, Step, StepKey, StepLock, StepOutcome, StepRecord,
    StepResult, StoreError,
};
use runwait_sim::{CallKind, Curve, Fault, FaultKind};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::common::{Harness, Hooked, Hooks, harness, with_action};

/// Locks that wait until the test opens them, counting the steps that asked for one.
#[derive(Debug)]
struct Gated {
    asked: AtomicUsize,
    open: watch::Receiver<bool>,
}

#[async_trait]
impl Hooks for Gated {
    async fn lock(
        &self,
        store: &MemoryStore,
        key: &StepKey,
    ) -> Result<Box<dyn StepLock>, StoreError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.clone();
        // The sender outlives every step.
        let _ = open.wait_for(|&o| o).await;
        store.lock(key).await
    }
}

/// Steps of `step` with ids `{prefix}-{i}` for each `i` in `ids`, on `store`, aborted
/// by `abort`.
fn spawn_steps(
    h: &Harness,
    step: &Arc<RunAndWait>,
    store: &Arc<Hooked<Gated>>,
    abort: &CancellationToken,
    ids: impl IntoIterator<Item = String>,
) -> JoinSet<StepResult> {
    let mut steps = JoinSet::new();
    for id in ids {
        let ctx = h
            .ctx_builder(&id, "r1")
            .state(store.clone())
            .cancel(abort.clone())
            .build();
        let step = step.clone();
        steps.spawn(async move { step.run(ctx).await });
    }
    steps
}

/// `prefix-0` to `prefix-{n - 1}`.
fn ids(prefix: &str, n: usize) -> impl Iterator<Item = String> {
    (0..n).map(move |i| format!("{prefix}-{i}"))
}

/// Every result of `steps`, within a day of paused time: a step that never gets a
/// place fails the test instead of hanging it.
async fn results(mut steps: JoinSet<StepResult>) -> Vec<StepResult> {
    let all = async {
        let mut all = Vec::new();
        while let Some(result) = steps.join_next().await {
            all.push(result.unwrap());
        }
        all
    };
    tokio::time::timeout(Duration::from_secs(24 * 3600), all)
        .await
        .expect("every step ends")
}

#[tokio::test(start_paused = true)]
async fn sixty_four_steps_take_their_locks_at_once_and_give_their_places_back() {
    let h = harness(with_action(Duration::from_secs(10), Curve::Linear)).await;
    let (opener, open) = watch::channel(false);
    let store = Hooked::new(Gated {
        asked: AtomicUsize::new(0),
        open,
    });
    let asked = || store.hooks.asked.load(Ordering::SeqCst);
    let step = Arc::new(h.step(TaskKind::Action, "117000000001"));

    // 80 steps start together while locks hang: 64 ask for one, the rest wait before it.
    let abort = CancellationToken::new();
    let steps = spawn_steps(&h, &step, &store, &abort, ids("held", 80));
    // Paused time: this sleep ends once every step waits.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(asked(), 64);
    // An abort ends the waiting ones too, at once; they never ask.
    abort.cancel();
    let aborted_at = tokio::time::Instant::now();
    for result in results(steps).await {
        assert_eq!(result.outcome, StepOutcome::Cancelled, "{}", result.message);
        assert!(
            result.message.contains("while taking the step run's lock"),
            "{}",
            result.message
        );
    }
    assert_eq!(aborted_at.elapsed(), Duration::ZERO);
    assert_eq!(asked(), 64);

    // Places come back when steps end: 70 steps, more than the places, all run to
    // their end.
    opener.send_replace(true);
    let never = CancellationToken::new();
    let steps = spawn_steps(&h, &step, &store, &never, ids("run", 70));
    for result in results(steps).await {
        assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    }
    assert_eq!(asked(), 64 + 70);

    // A place goes before the first call to Anaplan: 64 steps whose records name a
    // task, each hanging in the check of that task, leave a 65th its place.
    h.sim
        .add_fault(Fault::new(CallKind::Status, 0, 0, FaultKind::Hang))
        .unwrap();
    let target = common::target(TaskKind::Action, "117000000001");
    for i in 0..64 {
        let key = StepKey::new("nightly", format!("again-{i}"), "r1");
        let record = StepRecord::new(&key, target.clone(), KnownTasks::default())
            .task_id(Some(TaskId::new(format!("{i:032X}"))));
        store.save(&record).await.unwrap();
    }
    let abort = CancellationToken::new();
    let again = ids("again", 64).chain(["fresh".to_owned()]);
    let steps = spawn_steps(&h, &step, &store, &abort, again);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(asked(), 64 + 70 + 65);
    abort.cancel();
    results(steps).await;
}
