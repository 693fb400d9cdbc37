//! A lock that is a lease (as a database store's): the engine renews it while the step
//! waits, a lease found lost stops the step (before a start, it starts nothing), and the
//! end writes the history and releases the lock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use runwait_anaplan::TaskKind;
use runwait_executor::{
    EventSink, HistoryQuery, MemoryStore, RateBudget, StateStore, Step, StepContext, StepEvent,
    StepKey, StepLock, StepOutcome, StepRecord, StoreError,
};
use runwait_sim::Curve;
use tokio::time::Instant;

use crate::common::{Hooked, Hooks, exact, exact_poll, harness, with_action};

/// Counts shared by a store and its leases.
#[derive(Debug, Default)]
struct Counts {
    renewed: AtomicU32,
    released: AtomicU32,
    /// When each renewal was made, by the lease's key.
    renewals: Mutex<Vec<(StepKey, Instant)>>,
}

/// A store whose locks are leases renewed every 10 s, lost after `lost_after` renewals.
#[derive(Debug)]
struct Leased {
    counts: Arc<Counts>,
    lost_after: u32,
    /// A call that never answers (a database that hangs).
    hangs: Option<Hang>,
}

/// Which call of the store hangs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hang {
    Lock,
    Save,
}

#[derive(Debug)]
struct Lease {
    inner: Box<dyn StepLock>,
    counts: Arc<Counts>,
    lost_after: u32,
}

#[async_trait]
impl StepLock for Lease {
    fn key(&self) -> &StepKey {
        self.inner.key()
    }

    fn renew_every(&self) -> Option<Duration> {
        Some(Duration::from_secs(10))
    }

    async fn renew(&self) -> Result<(), StoreError> {
        let at = (self.key().clone(), Instant::now());
        self.counts.renewals.lock().unwrap().push(at);
        if self.counts.renewed.fetch_add(1, Ordering::SeqCst) >= self.lost_after {
            return Err(StoreError::LeaseLost {
                key: self.key().clone(),
                location: "test".into(),
            });
        }
        Ok(())
    }

    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        self.counts.released.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl Hooks for Leased {
    async fn lock(
        &self,
        store: &MemoryStore,
        key: &StepKey,
    ) -> Result<Box<dyn StepLock>, StoreError> {
        if self.hangs == Some(Hang::Lock) {
            std::future::pending::<()>().await;
        }
        Ok(Box::new(Lease {
            inner: store.lock(key).await?,
            counts: self.counts.clone(),
            lost_after: self.lost_after,
        }))
    }
    async fn save(&self, store: &MemoryStore, record: &StepRecord) -> Result<(), StoreError> {
        if self.hangs == Some(Hang::Save) {
            std::future::pending::<()>().await;
        }
        store.save(record).await
    }
}

fn leased(lost_after: u32) -> Arc<Hooked<Leased>> {
    leased_with(lost_after, None)
}

fn leased_with(lost_after: u32, hangs: Option<Hang>) -> Arc<Hooked<Leased>> {
    Hooked::new(Leased {
        counts: Arc::default(),
        lost_after,
        hangs,
    })
}

fn ctx(store: &Arc<Hooked<Leased>>) -> StepContext {
    ctx_of(store, "refresh")
}

fn ctx_of(store: &Arc<Hooked<Leased>>, step_id: &str) -> StepContext {
    StepContext::builder(step_id, "r1")
        .workflow("nightly")
        .state(store.clone())
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_lease_is_renewed_while_the_step_waits_and_the_end_is_kept_in_history() {
    let h = harness(with_action(Duration::from_secs(60), Curve::Linear)).await;
    let store = leased(u32::MAX);
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(ctx(&store))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    // A minute of waiting with a 10 s lease heartbeat (plus the fence before the start).
    let renewed = store.hooks.counts.renewed.load(Ordering::SeqCst);
    assert!((6..=9).contains(&renewed), "renewed {renewed} times");
    assert_eq!(store.hooks.counts.released.load(Ordering::SeqCst), 1);
    let history = store.history(&HistoryQuery::newest(10)).await.unwrap();
    assert_eq!(history.len(), 1);
    let entry = &history[0];
    assert_eq!(entry.outcome, StepOutcome::Succeeded);
    assert_eq!(entry.polls, result.polls);
    assert_eq!(entry.task_id, result.task_id);
    assert_eq!(entry.duration, result.elapsed);
    assert_eq!(entry.key(), StepKey::new("nightly", "refresh", "r1"));
}

/// A tenant budget that holds the first poll for a minute (a 429's pause, from the
/// start on) holds up no renewal: the lease keeps its 10 s heartbeat meanwhile.
#[tokio::test(start_paused = true)]
async fn a_paused_budget_holds_up_no_renewal_of_the_lease() {
    let h = harness(with_action(Duration::from_secs(120), Curve::Linear)).await;
    let store = leased(u32::MAX);
    let budget = RateBudget::per_second(10);
    let started_at = Arc::new(Mutex::new(None));
    // (seconds since the start, renewals so far) at the first poll.
    let first_poll = Arc::new(Mutex::new(None));
    let events = {
        let (budget, store, started_at, first_poll) = (
            budget.clone(),
            store.clone(),
            started_at.clone(),
            first_poll.clone(),
        );
        EventSink::new(move |_, event| match event {
            StepEvent::Started { .. } => {
                *started_at.lock().unwrap() = Some(Instant::now());
                budget.slow_down(Duration::from_secs(60));
            }
            StepEvent::Polled { .. } => {
                let mut first = first_poll.lock().unwrap();
                if first.is_none() {
                    let since = started_at.lock().unwrap().map(|at| at.elapsed());
                    *first = Some((since, store.hooks.counts.renewed.load(Ordering::SeqCst)));
                }
            }
            _ => {}
        })
    };
    let ctx = StepContext::builder("refresh", "r1")
        .workflow("nightly")
        .state(store.clone())
        .events(events)
        .build();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .budget(budget)
        .run(ctx)
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    let (since, renewed) = first_poll.lock().unwrap().expect("the step polled");
    let since = since.expect("the step started before it polled");
    assert!(
        since >= Duration::from_secs(60),
        "first poll {since:?} after the start"
    );
    // The fence before the start, then renewals at 10 … 50 s of the pause at least (the
    // one at 60 s ties with the admitted poll).
    assert!(
        renewed >= 6,
        "renewed {renewed} times before the first poll"
    );
    h.sim.shutdown().await;
}

/// (renewals that succeed, whether the task was started) for a lease lost before the
/// start and one lost while waiting.
const LOST: [(u32, usize); 2] = [(0, 0), (2, 1)];

#[tokio::test(start_paused = true)]
async fn a_lost_lease_stops_the_step_and_never_lets_it_start() {
    for (lost_after, starts) in LOST {
        let h = harness(with_action(Duration::from_secs(120), Curve::Linear)).await;
        let store = leased(lost_after);
        let result = h
            .step(TaskKind::Action, "117000000001")
            .run(ctx(&store))
            .await;
        assert_eq!(result.outcome, StepOutcome::Error, "{}", result.message);
        assert!(
            result
                .message
                .contains("the lease on step run nightly/refresh@r1 was lost"),
            "{}",
            result.message
        );
        assert_eq!(h.starts(), starts, "lost after {lost_after}");
        // The task keeps running for the run that took over: no cancel, no history.
        assert!(h.journal().iter().all(|e| e.method != "DELETE"));
        assert!(
            store
                .history(&HistoryQuery::newest(1))
                .await
                .unwrap()
                .is_empty()
        );
        h.sim.shutdown().await;
    }
}

/// A lock or a first save that never comes (a hung database, a file store's queue)
/// yields to a detach: the step ends then, without a start.
#[tokio::test(start_paused = true)]
async fn a_hung_lock_or_first_save_yields_to_a_detach() {
    // (what hangs, what the step says)
    let cases = [
        (
            Hang::Lock,
            "while taking the step run's lock; no task was started by this run",
        ),
        (
            Hang::Save,
            "while saving the step run's record; no task was started",
        ),
    ];
    for (hangs, says) in cases {
        hung_store_yields_to_a_detach(hangs, says).await;
    }
}

async fn hung_store_yields_to_a_detach(hangs: Hang, says: &str) {
    let h = harness(with_action(Duration::from_secs(60), Curve::Linear)).await;
    let store = leased_with(u32::MAX, Some(hangs));
    let detach = tokio_util::sync::CancellationToken::new();
    let signal = detach.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(20)).await;
        signal.cancel();
    });
    let began = tokio::time::Instant::now();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(
            StepContext::builder("refresh", "r1")
                .workflow("nightly")
                .state(store)
                .detach(detach)
                .build(),
        )
        .await;
    assert_eq!(began.elapsed(), Duration::from_secs(20), "{hangs:?}");
    assert_eq!(result.outcome, StepOutcome::Cancelled, "{}", result.message);
    assert!(
        result.message.contains(says),
        "{hangs:?}: {}",
        result.message
    );
    assert_eq!(h.starts(), 0, "{hangs:?}");
    h.sim.shutdown().await;
}

/// The renewals (ms after `t0`) of each of two steps on one leased store, the second
/// started 37 ms after the first, each with `poll`.
async fn renewals_of_two_steps(poll: runwait_executor::PollPolicy) -> Vec<Vec<u64>> {
    let h = harness(with_action(Duration::from_secs(60), Curve::Linear)).await;
    let store = leased(u32::MAX);
    let t0 = Instant::now();
    let run = |step_id: &'static str, after: u64| {
        let (h, store) = (&h, &store);
        async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            h.step(TaskKind::Action, "117000000001")
                .config(exact().with_poll(poll))
                .run(ctx_of(store, step_id))
                .await
        }
    };
    let (a, b) = tokio::join!(run("a", 0), run("b", 37));
    assert_eq!(a.outcome, StepOutcome::Succeeded, "{}", a.message);
    assert_eq!(b.outcome, StepOutcome::Succeeded, "{}", b.message);
    let renewals = store.hooks.counts.renewals.lock().unwrap();
    ["a", "b"]
        .iter()
        .map(|step| {
            renewals
                .iter()
                .filter(|(key, _)| key.step_id == *step)
                .map(|(_, at)| (*at - t0).as_millis() as u64)
                .collect()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_renewals_of_one_process_wake_together_on_its_grid() {
    let grid = Duration::from_millis(100);
    let on_grid = renewals_of_two_steps(exact_poll().with_wake_grid(grid)).await;
    let apart = renewals_of_two_steps(exact_poll()).await;
    // Past the fence before the start (made at once), every renewal is on one grid.
    let mut remainders: Vec<u64> = on_grid
        .iter()
        .flat_map(|r| &r[1..])
        .map(|t| t % 100)
        .collect();
    remainders.sort_unstable();
    remainders.dedup();
    assert_eq!(remainders.len(), 1, "one grid: {on_grid:?}");
    assert_ne!(apart[0][1] % 100, apart[1][1] % 100, "{apart:?}");
    for (on_grid, apart) in on_grid.iter().zip(&apart) {
        // Each renewal, the first after the fence too, comes never later than the lease
        // asks (10 s after the last), and less than one step of the grid before.
        assert!(on_grid.len() >= 4, "{on_grid:?}");
        for w in on_grid.windows(2) {
            assert!((9_901..=10_000).contains(&(w[1] - w[0])), "{on_grid:?}");
        }
        for w in apart.windows(2) {
            assert_eq!(w[1] - w[0], 10_000, "{apart:?}");
        }
    }
}
