//! The shared rate budget of a tenant: every request of every wait in the process goes
//! through it, so the aggregate never exceeds the quota.
//!
//! It is also the scheduler of the waits: requests queue by the time they became due,
//! and permits go earliest-due first, so a wait whose estimated completion is due does
//! not starve behind a crowd of blind polls. A 429 from Anaplan pauses the whole tenant,
//! not only the wait that got it.
//!
//! How: no task of its own. The waiters drive the dispatch themselves: they queue in a
//! shared ordered map under a mutex; the one at the head sleeps (on the injected
//! [`WaitEnv`] clock) until the next free slot, takes it and wakes the next head. Slots
//! are reserved arithmetically (GCRA without burst: one every `1/rate`), so a head that
//! wakes a little late (timer resolution) hands out the slots already due at once, and
//! high rates are delivered accurately instead of one permit per timer wake.
//!
//! Across processes: a [`SlotSource`] (for example `runwait-postgres`'s row per tenant)
//! spaces the slots of every process of the tenant. The in-process queue and its GCRA
//! stay as they are (the default, with no source); with a source, the head of the queue,
//! once its local slot is due, also reserves the tenant's next shared slot and waits for
//! it before it takes its permit, so one process has at most one shared slot reserved
//! ahead and the earliest-due order within the process holds.
//!
//! What it counts: each call a step makes (list, start, status, cancel, a dump download).
//! What it does not: the client's own retries inside one call and its logins, which are
//! few and bounded by the client's retry policy; size the budget with that margin
//! (runwait's default of 10 per second is a sixth of Anaplan's 600 per minute).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::env::{TokioEnv, WaitEnv};

/// The longest pause of a tenant after a 429.
const MAX_PAUSE: Duration = Duration::from_secs(5 * 60);

/// How late a slot may be taken and still count as its own time rather than now: the
/// timer's resolution. A head woken this late catches up; an idle budget does not
/// bank slots for a burst.
const CATCH_UP: Duration = Duration::from_millis(1);

/// The tenant's request slots as shared by several processes (a database row, a
/// service): each call reserves the next slot, `interval` after the one before it across
/// every process, and says how long from now until it. Implementations make the
/// reservation atomic (one statement) and never fail: when the shared source cannot be
/// reached they answer at once ([`Duration::ZERO`]) and log it, so the in-process budget
/// still paces this process.
#[async_trait]
pub trait SlotSource: Send + Sync + fmt::Debug {
    /// Reserves the tenant's next slot; the time from now until it.
    async fn reserve(&self, interval: Duration) -> Duration;
}

/// A queued request: earliest due first, then first come.
type Key = (Instant, u64);

#[derive(Debug, Default)]
struct Queue {
    /// The waiters, each with its own wake-up (a stored permit, so none is lost).
    waiting: BTreeMap<Key, Arc<Notify>>,
    /// The theoretical time of the next slot (GCRA's TAT); `None` before the first.
    next_slot: Option<Instant>,
    /// A 429 pauses everyone until then.
    paused_until: Option<Instant>,
    /// The head is reserving a shared slot: nobody else may take one meanwhile.
    reserving: bool,
    seq: u64,
}

impl Queue {
    /// Wakes whoever is at the head now.
    fn wake_head(&self) {
        if let Some(notify) = self.waiting.values().next() {
            notify.notify_one();
        }
    }
}

struct Shared {
    queue: Mutex<Queue>,
    interval: Duration,
    per_second: u32,
    env: Arc<dyn WaitEnv>,
    slots: Option<Arc<dyn SlotSource>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The rate budget of one tenant. Clones share it.
#[derive(Clone)]
pub struct RateBudget {
    shared: Arc<Shared>,
}

impl fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateBudget")
            .field("per_second", &self.shared.per_second)
            .field("slots", &self.shared.slots)
            .finish_non_exhaustive()
    }
}

/// Takes a request out of the queue if its future is dropped before its permit.
struct Queued<'a> {
    shared: &'a Shared,
    key: Option<Key>,
    /// It holds the queue's `reserving` flag.
    reserving: bool,
}

impl Queued<'_> {
    /// Leaves the queue (with its permit, or given up) and wakes the next head.
    fn leave(&mut self) {
        if let Some(key) = self.key.take() {
            let mut queue = self.shared.queue();
            queue.waiting.remove(&key);
            if std::mem::take(&mut self.reserving) {
                queue.reserving = false;
            }
            queue.wake_head();
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// What the head of the queue does next.
enum Turn {
    /// Sleep until then (or until woken), then look again; `None`: until woken.
    Sleep(Option<Instant>),
    /// Reserve a shared slot, then take the permit.
    Reserve,
    /// The permit is taken.
    Granted,
}

impl RateBudget {
    /// `per_second` requests per second at most (Anaplan's tenant limit is 600 per
    /// minute; runwait's default is 10 per second), on tokio's clock. Bursts are not
    /// allowed: permits are spread evenly. Spawns nothing; works outside a runtime too
    /// (only [`acquire`](Self::acquire) needs one to sleep).
    pub fn per_second(per_second: u32) -> Self {
        RateBudget::with_env(per_second, Arc::new(TokioEnv::new()))
    }

    /// Like [`per_second`](Self::per_second), sleeping on `env`'s clock.
    pub fn with_env(per_second: u32, env: Arc<dyn WaitEnv>) -> Self {
        RateBudget::build(per_second, env, None)
    }

    /// Like [`with_env`](Self::with_env), the slots also spaced across every process
    /// of the tenant by `slots` (see [`SlotSource`]).
    pub fn shared(per_second: u32, env: Arc<dyn WaitEnv>, slots: Arc<dyn SlotSource>) -> Self {
        RateBudget::build(per_second, env, Some(slots))
    }

    fn build(per_second: u32, env: Arc<dyn WaitEnv>, slots: Option<Arc<dyn SlotSource>>) -> Self {
        let per_second = per_second.max(1);
        RateBudget {
            shared: Arc::new(Shared {
                queue: Mutex::default(),
                interval: Duration::from_secs(1) / per_second,
                per_second,
                env,
                slots,
            }),
        }
    }

    /// The quota.
    pub fn rate(&self) -> u32 {
        self.shared.per_second
    }

    /// Waits for a permit for a request that became due at `due`. Dropping the future
    /// leaves the queue.
    pub async fn acquire(&self, due: Instant) {
        let shared = &*self.shared;
        let notify = Arc::new(Notify::new());
        let key = {
            let mut queue = shared.queue();
            queue.seq += 1;
            let key = (due, queue.seq);
            queue.waiting.insert(key, notify.clone());
            key
        };
        let mut queued = Queued {
            shared,
            key: Some(key),
            reserving: false,
        };
        loop {
            let turn = {
                let mut queue = shared.queue();
                let head = queue.waiting.keys().next().copied();
                if head == Some(key) && !queue.reserving {
                    let now = shared.env.now();
                    let gate = match (queue.next_slot, queue.paused_until) {
                        (Some(slot), Some(paused)) => Some(slot.max(paused)),
                        (slot, paused) => slot.or(paused),
                    };
                    match gate {
                        Some(at) if at > now => Turn::Sleep(Some(at)),
                        _ => {
                            // Taken at its own time when only a timer tick late, so the
                            // rate holds; at now after an idle spell, so no burst.
                            let slot = match queue.next_slot {
                                Some(slot) if now.saturating_duration_since(slot) <= CATCH_UP => {
                                    slot
                                }
                                _ => now,
                            };
                            queue.next_slot = Some(slot + shared.interval);
                            if shared.slots.is_some() {
                                queue.reserving = true;
                                queued.reserving = true;
                                Turn::Reserve
                            } else {
                                Turn::Granted
                            }
                        }
                    }
                } else {
                    Turn::Sleep(None)
                }
            };
            match turn {
                Turn::Granted => break,
                // The head holds the turn while it waits for its shared slot, so the
                // process has one reserved at a time and its queue keeps its order.
                Turn::Reserve => {
                    if let Some(slots) = &shared.slots {
                        let wait = slots.reserve(shared.interval).await;
                        if !wait.is_zero() {
                            shared.env.sleep_until(shared.env.now() + wait).await;
                        }
                    }
                    break;
                }
                // The head sleeps to its slot, unless a newcomer due earlier takes the head.
                Turn::Sleep(Some(at)) => {
                    tokio::select! {
                        _ = shared.env.sleep_until(at) => {}
                        _ = notify.notified() => {}
                    }
                }
                Turn::Sleep(None) => notify.notified().await,
            }
        }
        queued.leave();
    }

    /// Pauses every request of the tenant for `wait` (a 429's `Retry-After`), at most
    /// five minutes.
    pub fn slow_down(&self, wait: Duration) {
        let until = self.shared.env.now() + wait.min(MAX_PAUSE);
        let mut queue = self.shared.queue();
        queue.paused_until = Some(queue.paused_until.map_or(until, |p| p.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn permits_are_spread_and_go_earliest_due_first() {
        let budget = RateBudget::per_second(10);
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..20u64 {
            let (budget, order) = (budget.clone(), order.clone());
            // Later-spawned requests are due earlier.
            let due = start - Duration::from_secs(i);
            handles.push(tokio::spawn(async move {
                budget.acquire(due).await;
                order.lock().unwrap().push((i, Instant::now()));
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order.len(), 20);
        // 20 permits at 10/s with no burst: the last one 1.9 s after the first.
        let span = order.last().unwrap().1 - order.first().unwrap().1;
        assert!(
            span >= Duration::from_millis(1900) && span < Duration::from_millis(2000),
            "{span:?}"
        );
        // After the first (granted at once), the most overdue goes first.
        let rest: Vec<u64> = order[1..].iter().map(|(i, _)| *i).collect();
        let mut sorted = rest.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(rest, sorted);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_pauses_everyone() {
        let budget = RateBudget::per_second(10);
        budget.acquire(Instant::now()).await;
        budget.slow_down(Duration::from_secs(30));
        let before = Instant::now();
        budget.acquire(Instant::now()).await;
        assert!(Instant::now() - before >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_permits_at_a_thousand_a_second_take_one_second() {
        let budget = RateBudget::per_second(1000);
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..1000 {
            let budget = budget.clone();
            handles.push(tokio::spawn(async move {
                budget.acquire(start).await;
                Instant::now()
            }));
        }
        let mut last = start;
        for h in handles {
            last = last.max(h.await.unwrap());
        }
        // The first at once, the 1000th 999 slots of 1 ms later.
        let took = last - start;
        assert!(
            took >= Duration::from_millis(999) && took <= Duration::from_millis(1010),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_request_leaves_the_queue() {
        let budget = RateBudget::per_second(1);
        budget.acquire(Instant::now()).await;
        // Queued behind the slot, then given up: the next request is not held behind it.
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), budget.acquire(Instant::now()));
        assert!(gave_up.await.is_err());
        let before = Instant::now();
        budget.acquire(Instant::now()).await;
        assert!(Instant::now() - before <= Duration::from_secs(1));
    }

    /// A shared source standing for other processes: each reservation is `interval`
    /// after the last, counted from a start it was given.
    #[derive(Debug)]
    struct Busy {
        next: Mutex<Instant>,
        taken: Mutex<Vec<Instant>>,
    }

    #[async_trait]
    impl SlotSource for Busy {
        async fn reserve(&self, interval: Duration) -> Duration {
            let now = Instant::now();
            let mut next = self.next.lock().unwrap();
            let slot = (*next).max(now);
            *next = slot + interval;
            self.taken.lock().unwrap().push(slot);
            slot - now
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_budgets_on_one_shared_source_keep_its_rate_together() {
        let source = Arc::new(Busy {
            next: Mutex::new(Instant::now()),
            taken: Mutex::default(),
        });
        let env: Arc<dyn WaitEnv> = Arc::new(TokioEnv::new());
        // Two processes, each allowed 10/s on its own: together 10/s.
        let budgets = [
            RateBudget::shared(10, env.clone(), source.clone()),
            RateBudget::shared(10, env.clone(), source.clone()),
        ];
        let start = Instant::now();
        let mut handles = Vec::new();
        for i in 0..20 {
            let budget = budgets[i % 2].clone();
            handles.push(tokio::spawn(async move {
                budget.acquire(start).await;
                Instant::now()
            }));
        }
        let mut granted = Vec::new();
        for h in handles {
            granted.push(h.await.unwrap());
        }
        granted.sort();
        for pair in granted.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(100),
                "{granted:?}"
            );
        }
        assert_eq!(source.taken.lock().unwrap().len(), 20);
    }

    #[test]
    fn a_budget_is_built_outside_a_runtime() {
        assert_eq!(RateBudget::per_second(0).rate(), 1);
    }
}
