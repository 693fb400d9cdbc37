//! Every retry delay of the client sleeps through the injected clock: a host's paused or
//! simulated time decides the waits exactly, and no test waits for real.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::common::*;
use runwait_anaplan::{Clock, RetryPolicy, Sleep, StartOptions, TaskKind};
use runwait_sim::{Answer, CallKind, Fault, FaultKind};

/// A clock whose sleeps return at once and are recorded.
#[derive(Debug, Default)]
struct RecordingClock {
    slept: Mutex<Vec<Duration>>,
}

impl RecordingClock {
    fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.slept.lock().unwrap())
    }
}

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.slept.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

fn rate_limited(after: u32, secs: u64) -> Fault {
    Fault::new(
        CallKind::List,
        after,
        1,
        FaultKind::Http {
            status: 429,
            retry_after: Some(Duration::from_secs(secs)),
        },
    )
}

#[tokio::test]
async fn retry_after_waits_are_slept_exactly_through_the_clock_and_capped() {
    let sim = sim(100.0).await;
    let clock = Arc::new(RecordingClock::default());
    let client = basic_builder(&sim)
        .retry(RetryPolicy {
            budget: Duration::from_secs(600),
            ..quick_retries()
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    let t = target(TaskKind::Import, "112000000001");
    sim.add_fault(rate_limited(0, 2)).unwrap();
    sim.add_fault(rate_limited(0, 7)).unwrap();
    client.list_tasks(&t).await.unwrap();
    assert_eq!(
        clock.take(),
        [Duration::from_secs(2), Duration::from_secs(7)],
        "each Retry-After as asked"
    );

    // A proxy asking for an hour gets five minutes.
    sim.add_fault(rate_limited(0, 3600)).unwrap();
    client.list_tasks(&t).await.unwrap();
    assert_eq!(clock.take(), [Duration::from_secs(300)]);

    // A wait past the budget is not started: the error is the caller's at once.
    let tight = basic_builder(&sim)
        .retry(RetryPolicy {
            budget: Duration::from_secs(60),
            ..quick_retries()
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    sim.add_fault(rate_limited(0, 3600)).unwrap();
    let err = tight.list_tasks(&t).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(300)), "{err}");
    assert!(clock.take().is_empty());
}

#[tokio::test]
async fn backoff_and_the_start_looks_sleep_through_the_clock() {
    let sim = sim(100.0).await;
    let clock = Arc::new(RecordingClock::default());
    let policy = quick_retries();
    let client = basic_builder(&sim).clock(clock.clone()).build().unwrap();
    let t = target(TaskKind::Process, "118000000001");

    // Two 503s on an idempotent call: two backoff sleeps, each within the policy's range
    // (jitter adds up to the delay itself).
    sim.add_fault(Fault::new(CallKind::List, 0, 2, FaultKind::http(503)))
        .unwrap();
    client.list_tasks(&t).await.unwrap();
    let slept = clock.take();
    assert_eq!(slept.len(), 2, "{slept:?}");
    assert!(
        slept[0] >= policy.min_delay && slept[0] < policy.min_delay * 2,
        "{slept:?}"
    );
    assert!(
        slept[1] >= policy.min_delay * 2 && slept[1] < policy.min_delay * 4,
        "{slept:?}"
    );

    // A start refused with a 500 before any task existed: three looks (the first at
    // once, two after a backoff), then one backoff before the start is sent again.
    sim.add_fault(Fault::new(CallKind::Start, 0, 1, FaultKind::http(500)))
        .unwrap();
    let started = client.start(&t, &StartOptions::default()).await.unwrap();
    assert!(!started.adopted);
    let slept = clock.take();
    assert_eq!(slept.len(), 3, "{slept:?}");
    assert!(slept.iter().all(|d| *d >= policy.min_delay), "{slept:?}");
    let kinds: Vec<(CallKind, Answer)> = sim
        .journal()
        .iter()
        .filter(|e| e.kind == CallKind::Start)
        .map(|e| (e.kind, e.answer))
        .collect();
    assert_eq!(
        kinds,
        [
            (CallKind::Start, Answer::Status(500)),
            (CallKind::Start, Answer::Status(200))
        ]
    );
}
