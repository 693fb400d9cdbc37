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
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::env::{TokioEnv, WaitEnv};

/// tokio's clock, one tokio timer for all the sleeps made through it, and the jitter of
/// a [`TokioEnv`]. Share one (`Arc<dyn WaitEnv>`) among the steps of a run
/// ([`RunAndWait::env`](crate::RunAndWait::env)), within one runtime: its driving task
/// is spawned on the runtime of its first sleep (and again by a later sleep once that
/// runtime is gone, so runtimes one after another may share a queue).
pub struct TimerQueue {
    shared: Arc<Shared>,
    jitter: TokioEnv,
}

/// What the sleeps and the driving task share.
struct Shared {
    due: Mutex<Due>,
    /// A sleep due before every other was added, or the queue is gone.
    earlier: Arc<Notify>,
    /// The driving task, once spawned.
    driver: Mutex<Option<JoinHandle<()>>>,
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
                driver: Mutex::default(),
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

impl WaitEnv for TimerQueue {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, at: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>> {
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

    /// Spawns the driving task unless it runs (it ends with its runtime).
    fn drive(self: &Arc<Self>) {
        let mut driver = self.driver.lock().unwrap_or_else(|p| p.into_inner());
        if driver.as_ref().is_none_or(JoinHandle::is_finished) {
            *driver = Some(tokio::spawn(drive(
                Arc::downgrade(self),
                self.earlier.clone(),
            )));
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The driving task holds the queue weakly: woken, it finds it gone and ends.
        self.earlier.notify_one();
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
        if let Some(id) = self.id
            && let Some(waker) = due.wakers.get_mut(&(at, id))
        {
            waker.clone_from(cx.waker());
            return Poll::Pending;
        }
        // Not registered yet (or just fired, the clock not yet past `at` here).
        let id = *self.id.get_or_insert_with(|| {
            due.next_id += 1;
            due.next_id
        });
        let first = due.wakers.keys().next().is_none_or(|&(next, _)| at < next);
        due.wakers.insert((at, id), cx.waker().clone());
        drop(due);
        shared.drive();
        if first {
            shared.earlier.notify_one();
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

    /// `f` in paused time, failing instead of hanging on a sleep never woken.
    async fn within_a_minute<T>(f: impl Future<Output = T>) -> T {
        tokio::time::timeout(secs(60), f)
            .await
            .expect("woken within a minute")
    }

    /// Lets every task that can run, run (the driving task parks on its timer).
    async fn settle() {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_sleep_ends_at_its_time_and_a_dropped_one_is_forgotten() {
        let queue = Arc::new(TimerQueue::new());
        let t0 = Instant::now();
        // Added latest-first, each once the driving task sleeps until the one before:
        // each must wake it to sleep until an earlier time.
        let mut ends = tokio::task::JoinSet::new();
        for s in [30, 20, 10, 10, 5] {
            let queue = queue.clone();
            ends.spawn(async move {
                queue.sleep_until(t0 + secs(s)).await;
                (s, Instant::now() - t0)
            });
            settle().await;
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
        while let Some(end) = within_a_minute(ends.join_next()).await {
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
        // Polled first with a waker that wakes nobody, then by this task: one entry,
        // woken through this task's waker.
        let mut nobody = Context::from_waker(Waker::noop());
        assert!(sleep.as_mut().poll(&mut nobody).is_pending());
        assert!(sleep.as_mut().poll(&mut nobody).is_pending());
        assert_eq!(queue.registered(), 1);
        within_a_minute(sleep).await;
        assert_eq!(Instant::now() - t0, secs(10));
        assert_eq!(queue.registered(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_driving_task_ends_with_its_queue_and_its_last_sleep() {
        let queue = TimerQueue::new();
        within_a_minute(queue.sleep_until(Instant::now() + secs(1))).await;
        let metrics = tokio::runtime::Handle::current().metrics();
        assert_eq!(metrics.num_alive_tasks(), 1, "the driving task");
        // A sleep that outlives its queue is still woken, and the task ends after it.
        let outliving = queue.sleep_until(Instant::now() + secs(1));
        drop(queue);
        within_a_minute(outliving).await;
        settle().await;
        assert_eq!(metrics.num_alive_tasks(), 0);
    }

    #[test]
    fn a_queue_outlives_the_runtime_of_its_first_sleep() {
        let queue = TimerQueue::new();
        for _ in 0..2 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            runtime.block_on(async {
                let t0 = Instant::now();
                within_a_minute(queue.sleep_until(t0 + secs(3))).await;
                assert_eq!(Instant::now() - t0, secs(3));
            });
        }
    }
}
