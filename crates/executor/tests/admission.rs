//! Steps that start together take their locks and read their records a few at a time:
//! the rest wait before their lock, and still stop at once when aborted. A binary of its
//! own, because the limit is the whole process's: no other test's steps may hold places.

#[path = "it/common/mod.rs"]
#[allow(dead_code)] // The helpers the engine's other tests use.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use runwait_anaplan::TaskKind;
use runwait_executor::{
    HistoryQuery, MemoryStore, StateStore, Step, StepHistory, StepKey, StepLock, StepOutcome,
    StepRecord, StoreError,
};
use runwait_sim::Curve;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::common::{harness, with_action};

/// A [`MemoryStore`] whose locks wait until the test opens it, counting the steps that
/// asked for one.
#[derive(Debug)]
struct Gated {
    inner: MemoryStore,
    asked: AtomicUsize,
    open: watch::Receiver<bool>,
}

#[async_trait]
impl StateStore for Gated {
    async fn lock(&self, key: &StepKey) -> Result<Box<dyn StepLock>, StoreError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.clone();
        // The sender outlives every step.
        let _ = open.wait_for(|&o| o).await;
        self.inner.lock(key).await
    }
    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        self.inner.load(key).await
    }
    async fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        self.inner.save(record).await
    }
    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        self.inner.list().await
    }
    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        self.inner.record_finished(entry).await
    }
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        self.inner.history(query).await
    }
}

#[tokio::test(start_paused = true)]
async fn sixty_four_steps_take_their_locks_at_once_and_the_others_wait_and_still_stop() {
    let h = harness(with_action(Duration::from_secs(30), Curve::Linear)).await;
    let (opener, open) = watch::channel(false);
    let store = Arc::new(Gated {
        inner: MemoryStore::new(),
        asked: AtomicUsize::new(0),
        open,
    });
    let abort = CancellationToken::new();
    let step = Arc::new(h.step(TaskKind::Action, "117000000001"));
    let mut steps = tokio::task::JoinSet::new();
    for i in 0..80 {
        let ctx = h
            .ctx_builder(&format!("load-{i}"), "r1")
            .state(store.clone())
            .cancel(abort.clone())
            .build();
        let step = step.clone();
        steps.spawn(async move { step.run(ctx).await });
    }
    // Every step has had its chance to ask (paused time: this sleep ends once they all
    // wait).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.asked.load(Ordering::SeqCst), 64);

    abort.cancel();
    let aborted_at = tokio::time::Instant::now();
    while let Some(result) = steps.join_next().await {
        let result = result.unwrap();
        assert_eq!(result.outcome, StepOutcome::Cancelled, "{}", result.message);
        assert!(
            result.message.contains("while taking the step run's lock"),
            "{}",
            result.message
        );
    }
    assert_eq!(aborted_at.elapsed(), Duration::ZERO);
    // The 16 that waited never asked for a lock.
    assert_eq!(store.asked.load(Ordering::SeqCst), 64);

    // The aborted steps gave their places back: a step now runs to its end.
    opener.send_replace(true);
    let ctx = h.ctx_builder("after", "r1").state(store.clone()).build();
    let result = step.run(ctx).await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
}
