//! The shared rate budget of a tenant: every request of every wait in the process goes
//! through it, so the aggregate never exceeds the quota (GCRA, from `governor`).
//!
//! It is also the scheduler of the waits: requests queue by the time they became due,
//! and one dispatcher hands out permits earliest-due first, so a wait whose estimated
//! completion is due does not starve behind a crowd of blind polls. A 429 from Anaplan
//! pauses the whole tenant, not only the wait that got it.
//!
//! What it counts: each call a step makes (list, start, status, cancel, a dump download).
//! What it does not: the client's own retries inside one call and its logins, which are
//! few and bounded by the client's retry policy; size the budget with that margin
//! (runwait's default of 10 per second is a sixth of Anaplan's 600 per minute).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A tokio instant for governor, so the budget follows paused time in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TokioInstant(Instant);

impl Add<Nanos> for TokioInstant {
    type Output = Self;

    fn add(self, other: Nanos) -> Self {
        TokioInstant(self.0 + Duration::from(other))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_duration_since(earlier.0).into()
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        TokioInstant(
            self.0
                .checked_sub(Duration::from(duration))
                .unwrap_or(self.0),
        )
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// A request waiting for a permit: earliest due first, then first come.
struct Waiter {
    due: Instant,
    seq: u64,
    grant: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The longest pause of a tenant after a 429.
const MAX_PAUSE: Duration = Duration::from_secs(5 * 60);

/// The rate budget of one tenant. Clones share it.
#[derive(Clone, Debug)]
pub struct RateBudget {
    queue: mpsc::UnboundedSender<Waiter>,
    seq: Arc<AtomicU64>,
    paused_until: Arc<Mutex<Option<Instant>>>,
    per_second: u32,
}

impl RateBudget {
    /// `per_second` requests per second at most (Anaplan's tenant limit is 600 per
    /// minute; runwait's default is 10 per second). Bursts are not allowed: permits are
    /// spread evenly. Must be called inside a tokio runtime.
    pub fn per_second(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::direct_with_clock(
            Quota::per_second(rate).allow_burst(NonZeroU32::MIN),
            TokioClock,
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let paused_until = Arc::new(Mutex::new(None));
        tokio::spawn(dispatch(limiter, rx, paused_until.clone()));
        RateBudget {
            queue: tx,
            seq: Arc::new(AtomicU64::new(0)),
            paused_until,
            per_second: rate.get(),
        }
    }

    /// The quota.
    pub fn rate(&self) -> u32 {
        self.per_second
    }

    /// Waits for a permit for a request that became due at `due`.
    pub async fn acquire(&self, due: Instant) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (grant, granted) = oneshot::channel();
        if self.queue.send(Waiter { due, seq, grant }).is_ok() {
            // The dispatcher only stops when every budget handle is gone.
            let _ = granted.await;
        }
    }

    /// Pauses every request of the tenant for `wait` (a 429's `Retry-After`), at most
    /// five minutes.
    pub fn slow_down(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_PAUSE);
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }
}

async fn dispatch(
    limiter: Limiter,
    mut incoming: mpsc::UnboundedReceiver<Waiter>,
    paused: Arc<Mutex<Option<Instant>>>,
) {
    let mut queue: BinaryHeap<Reverse<Waiter>> = BinaryHeap::new();
    loop {
        while let Ok(w) = incoming.try_recv() {
            queue.push(Reverse(w));
        }
        if queue.is_empty() {
            match incoming.recv().await {
                Some(w) => queue.push(Reverse(w)),
                None => return,
            }
            continue;
        }
        let pause = *paused.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = pause.filter(|u| *u > Instant::now()) {
            tokio::time::sleep_until(until).await;
            continue;
        }
        if let Err(not_until) = limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
            continue;
        }
        // The permit goes to the most overdue request still waiting.
        while let Some(Reverse(w)) = queue.pop() {
            if w.grant.send(()).is_ok() {
                break;
            }
        }
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
}
