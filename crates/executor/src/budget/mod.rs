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
//! [`WaitEnv`] clock) until the next free slot. Slots are reserved arithmetically (GCRA:
//! the theoretical arrival time advances by `1/rate` per permit), and a head that wakes
//! hands out every slot due by now at once, to the waiters in queue order, then wakes the
//! next head. So a timer that wakes late (tokio's resolution is a millisecond) costs no
//! slots, and high rates are delivered in batches instead of one permit per timer wake.
//! A slot may be taken up to [`TOLERANCE`] late at its own time; an idle budget banks no
//! more than that, so a burst after an idle spell is at most `1 + TOLERANCE × rate`.
//!
//! Across processes: a [`SlotSource`] (for example `runwait-postgres`'s row per tenant)
//! spaces the slots of every process of the tenant. The in-process queue and its GCRA
//! stay as they are (the default, with no source); with a source, the head of the queue,
//! once its local slot is due, also reserves the tenant's next shared slot and waits for
//! it before it takes its permit, so one process has at most one shared slot reserved
//! ahead and the earliest-due order within the process holds.
//!
//! Off: [`RateBudget::unlimited`] hands out every permit at once and ignores
//! [`RateBudget::slow_down`] (a 429 is then honoured by the client's retry policy, per
//! request).
//!
//! What it counts: each call a step makes (list, start, status, cancel, a dump download).
//! What it does not: the client's own retries inside one call and its logins, which are
//! few and bounded by the client's retry policy; size the budget with that margin
//! (runwait's default of 10 per second is a sixth of Anaplan's 600 per minute).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::env::{TokioEnv, WaitEnv};

/// The longest pause of a tenant after a 429.
const MAX_PAUSE: Duration = Duration::from_secs(5 * 60);

/// How late a slot may be taken and still count as its own time rather than now: well
/// above the timer's resolution and a busy runtime's wake-up latency, so a head woken
/// late catches up; small, so an idle budget banks almost nothing for a burst.
const TOLERANCE: Duration = Duration::from_millis(10);

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

/// One queued request's wake-up (a stored permit, so none is lost) and whether a head
/// has granted it its permit (and taken it out of the queue).
#[derive(Debug, Default)]
struct Waiter {
    notify: Notify,
    granted: AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    /// The requests without a permit yet.
    waiting: BTreeMap<Key, Arc<Waiter>>,
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
        if let Some(waiter) = self.waiting.values().next() {
            waiter.notify.notify_one();
        }
    }

    /// When the head may take a slot: the next slot, after any pause.
    fn gate(&self) -> Option<Instant> {
        match (self.next_slot, self.paused_until) {
            (Some(slot), Some(paused)) => Some(slot.max(paused)),
            (slot, paused) => slot.or(paused),
        }
    }

    /// The first slot to hand out at `now` (the gate has passed): its own time when at
    /// most [`TOLERANCE`] late, so the rate holds; else `now - TOLERANCE` after an idle
    /// spell; never before a pause's end.
    fn first_slot(&self, now: Instant) -> Instant {
        let floor = now.checked_sub(TOLERANCE).unwrap_or(now);
        let slot = self.next_slot.map_or(now, |slot| slot.max(floor));
        self.paused_until.map_or(slot, |paused| slot.max(paused))
    }

    /// Grants the slots due by `now`, one per waiter in queue order (the head first),
    /// and wakes the granted and the next head.
    fn grant_due(&mut self, now: Instant, interval: Duration) {
        let mut slot = self.first_slot(now);
        while slot <= now {
            let Some((_, waiter)) = self.waiting.pop_first() else {
                break;
            };
            waiter.granted.store(true, Ordering::Release);
            waiter.notify.notify_one();
            slot += interval;
        }
        self.next_slot = Some(slot);
        self.wake_head();
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
    /// `None`: unlimited.
    shared: Option<Arc<Shared>>,
}

impl fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RateBudget");
        match &self.shared {
            Some(shared) => d
                .field("per_second", &shared.per_second)
                .field("slots", &shared.slots),
            None => d.field("per_second", &"unlimited"),
        };
        d.finish_non_exhaustive()
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
    /// Leaves the queue (with its permit, or given up) and wakes the next head when it
    /// was in the way.
    fn leave(&mut self) {
        if let Some(key) = self.key.take() {
            let mut queue = self.shared.queue();
            let was_head = queue.waiting.keys().next() == Some(&key);
            queue.waiting.remove(&key);
            let was_reserving = std::mem::take(&mut self.reserving);
            if was_reserving {
                queue.reserving = false;
            }
            if was_head || was_reserving {
                queue.wake_head();
            }
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// What a queued request does next.
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
    /// minute; runwait's default is 10 per second), on tokio's clock. Permits are spread
    /// evenly (a burst only after an idle spell, of at most `1 + rate / 100`). Spawns
    /// nothing; works outside a runtime too (only [`acquire`](Self::acquire) needs one to
    /// sleep).
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

    /// No budget: [`acquire`](Self::acquire) returns at once and
    /// [`slow_down`](Self::slow_down) does nothing (a 429 is still honoured per request
    /// by the client's retry policy).
    pub fn unlimited() -> Self {
        RateBudget { shared: None }
    }

    fn build(per_second: u32, env: Arc<dyn WaitEnv>, slots: Option<Arc<dyn SlotSource>>) -> Self {
        let per_second = per_second.max(1);
        RateBudget {
            shared: Some(Arc::new(Shared {
                queue: Mutex::default(),
                interval: Duration::from_secs(1) / per_second,
                per_second,
                env,
                slots,
            })),
        }
    }

    /// The quota; `None` when [unlimited](Self::unlimited).
    pub fn rate(&self) -> Option<u32> {
        self.shared.as_ref().map(|s| s.per_second)
    }

    /// Waits for a permit for a request that became due at `due`. Dropping the future
    /// leaves the queue.
    pub async fn acquire(&self, due: Instant) {
        let Some(shared) = self.shared.as_deref() else {
            return;
        };
        let waiter = Arc::new(Waiter::default());
        let key = {
            let mut queue = shared.queue();
            queue.seq += 1;
            let key = (due, queue.seq);
            queue.waiting.insert(key, waiter.clone());
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
                if waiter.granted.load(Ordering::Acquire) {
                    Turn::Granted
                } else if queue.waiting.keys().next() == Some(&key) && !queue.reserving {
                    let now = shared.env.now();
                    match queue.gate() {
                        Some(at) if at > now => Turn::Sleep(Some(at)),
                        // The head holds the turn while it waits for its shared slot, so
                        // the process has one reserved at a time and its queue its order.
                        _ if shared.slots.is_some() => {
                            let slot = queue.first_slot(now);
                            queue.next_slot = Some(slot + shared.interval);
                            queue.reserving = true;
                            queued.reserving = true;
                            Turn::Reserve
                        }
                        _ => {
                            queue.grant_due(now, shared.interval);
                            Turn::Granted
                        }
                    }
                } else {
                    Turn::Sleep(None)
                }
            };
            match turn {
                Turn::Granted => break,
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
                        _ = waiter.notify.notified() => {}
                    }
                }
                Turn::Sleep(None) => waiter.notify.notified().await,
            }
        }
        queued.leave();
    }

    /// Pauses every request of the tenant for `wait` (a 429's `Retry-After`), at most
    /// five minutes. Does nothing when [unlimited](Self::unlimited).
    pub fn slow_down(&self, wait: Duration) {
        let Some(shared) = self.shared.as_deref() else {
            return;
        };
        let until = shared.env.now() + wait.min(MAX_PAUSE);
        let mut queue = shared.queue();
        queue.paused_until = Some(queue.paused_until.map_or(until, |p| p.max(until)));
    }
}

#[cfg(test)]
mod tests;
