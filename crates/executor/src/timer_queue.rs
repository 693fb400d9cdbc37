//! [`TimerQueue`]: a [`WaitEnv`] whose sleeps share one tokio timer. Each sleep is an
//! entry in one ordered map of due times; one task sleeps until the first of them and
//! wakes every sleep that is due.
//!
//! Why: with a tokio timer a step, tokio files a sleep of 5 s or more in its wheel's
//! third level and moves it down twice before it fires, each time walking a list of
//! timers that live in the steps' futures, memory untouched for seconds. With 1,000
//! waits that walk was a fifth of the CLI's CPU a poll (BENCHMARKS.md, session 11).
//! Here the due times lie beside each other in the map, and a step's memory is touched
//! only when it is woken.
//!
//! The clock is tokio's, so a queue in paused time is exact: the driving task's sleep is
//! a tokio timer, which paused time advances to.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::env::{TokioEnv, WaitEnv};

/// tokio's clock, one tokio timer for all the sleeps made through it, and the jitter of
/// a [`TokioEnv`]. Share one (`Arc<dyn WaitEnv>`) among the steps of a run
/// ([`RunAndWait::env`](crate::RunAndWait::env)). Its driving task is spawned on the
/// runtime of its first sleep: use one queue within one runtime.
pub struct TimerQueue {
    shared: Arc<Shared>,
    jitter: TokioEnv,
}

/// What the sleeps and the driving task share.
struct Shared {
    due: Mutex<Due>,
    /// A sleep due before every other was added, or the queue was dropped.
    earlier: Arc<Notify>,
    driving: AtomicBool,
}

#[derive(Default)]
struct Due {
    /// The sleeps registered, by due time and then by id: the first is the next due.
    wakers: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
}

impl TimerQueue {
    /// An empty queue; its task starts with the first sleep.
    pub fn new() -> Self {
        TimerQueue {
            shared: Arc::new(Shared {
                due: Mutex::default(),
                earlier: Arc::new(Notify::new()),
                driving: AtomicBool::new(false),
            }),
            jitter: TokioEnv::new(),
        }
    }

    /// The sleeps registered and not yet woken.
    pub fn registered(&self) -> usize {
        self.shared.lock().wakers.len()
    }
}

impl Default for TimerQueue {
    fn default() -> Self {
        TimerQueue::new()
    }
}

impl fmt::Debug for TimerQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerQueue")
            .field("registered", &self.registered())
            .finish()
    }
}

impl Drop for TimerQueue {
    fn drop(&mut self) {
        // The driving task holds the queue weakly: woken, it finds it gone and ends.
        self.shared.earlier.notify_one();
    }
}

impl WaitEnv for TimerQueue {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, at: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        if !self.shared.driving.swap(true, Ordering::AcqRel) {
            tokio::spawn(drive(
                Arc::downgrade(&self.shared),
                self.shared.earlier.clone(),
            ));
        }
        Box::pin(Sleep {
            shared: self.shared.clone(),
            at,
            id: None,
        })
    }

    fn random(&self) -> f64 {
        self.jitter.random()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Due> {
        self.due.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sleeps until the first due time, wakes every sleep due by then, and again; ends once
/// the queue is dropped.
async fn drive(shared: Weak<Shared>, earlier: Arc<Notify>) {
    loop {
        let next = match shared.upgrade() {
            Some(shared) => shared.lock().wakers.keys().next().map(|&(at, _)| at),
            None => return,
        };
        // A sleep added meanwhile left a permit in `earlier`: no wake is lost.
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = earlier.notified() => {}
                }
            }
            None => earlier.notified().await,
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = Instant::now();
        let woken: Vec<Waker> = {
            let mut due = shared.lock();
            let later = match due.wakers.keys().find(|&&(at, _)| at > now) {
                Some(&key) => due.wakers.split_off(&key),
                None => BTreeMap::new(),
            };
            std::mem::replace(&mut due.wakers, later)
                .into_values()
                .collect()
        };
        woken.into_iter().for_each(Waker::wake);
    }
}

/// One sleep of a [`TimerQueue`]: registered at its first poll, unregistered when due
/// or dropped.
struct Sleep {
    shared: Arc<Shared>,
    at: Instant,
    id: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        if Instant::now() >= at {
            self.unregister();
            return Poll::Ready(());
        }
        let shared = self.shared.clone();
        let mut due = shared.lock();
        let first = due.wakers.keys().next().is_none_or(|&(next, _)| at < next);
        let id = match self.id {
            Some(id) => id,
            None => {
                let id = due.next_id;
                due.next_id += 1;
                self.id = Some(id);
                id
            }
        };
        match due.wakers.get_mut(&(at, id)) {
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                due.wakers.insert((at, id), cx.waker().clone());
                if first {
                    shared.earlier.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep {
    fn unregister(&mut self) {
        if let Some(id) = self.id.take() {
            self.shared.lock().wakers.remove(&(self.at, id));
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[tokio::test(start_paused = true)]
    async fn each_sleep_ends_at_its_time_and_a_dropped_one_is_forgotten() {
        let queue = Arc::new(TimerQueue::new());
        let t0 = Instant::now();
        // Added latest-first, so each one re-arms the driving task for an earlier time.
        let mut ends = tokio::task::JoinSet::new();
        for s in [30, 20, 10, 10, 5] {
            let queue = queue.clone();
            ends.spawn(async move {
                queue.sleep_until(t0 + secs(s)).await;
                (s, Instant::now() - t0)
            });
        }
        // A sleep given up after 1 s (its future dropped) leaves the queue at once.
        let given_up = tokio::time::timeout(secs(1), queue.sleep_until(t0 + secs(15))).await;
        assert!(given_up.is_err(), "not due after 1 s");
        assert_eq!(
            queue.registered(),
            5,
            "the five others, not the one given up"
        );
        let mut seen = Vec::new();
        while let Some(end) = ends.join_next().await {
            seen.push(end.unwrap());
        }
        seen.sort();
        let expected: Vec<_> = [5, 10, 10, 20, 30].map(|s| (s, secs(s))).to_vec();
        assert_eq!(seen, expected, "each woken at its own time, exactly");
        assert_eq!(queue.registered(), 0, "each woken sleep was unregistered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_polled_again_keeps_its_place_and_wakes_its_latest_waker() {
        let queue = TimerQueue::new();
        let t0 = Instant::now();
        let mut sleep = queue.sleep_until(t0 + secs(10));
        // Polled by one `select!` and then another: one entry, woken through the last.
        for _ in 0..3 {
            tokio::select! {
                biased;
                () = &mut sleep => panic!("not due yet"),
                () = tokio::task::yield_now() => {}
            }
        }
        assert_eq!(queue.registered(), 1);
        sleep.await;
        assert_eq!(Instant::now() - t0, secs(10));
        assert_eq!(queue.registered(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_driving_task_ends_with_its_queue() {
        let queue = TimerQueue::new();
        queue.sleep_until(Instant::now() + secs(1)).await;
        let metrics = tokio::runtime::Handle::current().metrics();
        assert_eq!(metrics.num_alive_tasks(), 1, "the driving task");
        drop(queue);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        assert_eq!(metrics.num_alive_tasks(), 0);
    }
}
