//! The budget's schedule of permits, in tokio's paused time (exact counts).

use std::sync::atomic::AtomicUsize;

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
    let gave_up = tokio::time::timeout(Duration::from_millis(10), budget.acquire(Instant::now()));
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

/// Spawns `n` requests due at `due`; the count granted so far.
fn spawn_waiters(budget: &RateBudget, n: usize, due: Instant) -> Arc<AtomicUsize> {
    let granted = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let (budget, granted) = (budget.clone(), granted.clone());
        tokio::spawn(async move {
            budget.acquire(due).await;
            granted.fetch_add(1, Ordering::SeqCst);
        });
    }
    granted
}

/// The count granted at each of `checks` (offsets from `start`).
async fn counts_at(granted: &AtomicUsize, start: Instant, checks: &[u64]) -> Vec<usize> {
    let mut counts = Vec::new();
    for ms in checks {
        tokio::time::sleep_until(start + Duration::from_micros(ms * 1000 + 500)).await;
        counts.push(granted.load(Ordering::SeqCst));
    }
    counts
}

#[tokio::test(start_paused = true)]
async fn the_schedule_of_permits_is_exact() {
    // (rate, checks in ms, permits granted by each check + 0.5 ms)
    let table: [(u32, &[u64], &[usize]); 3] = [
        (10, &[0, 99, 100, 950], &[1, 1, 2, 10]),
        (100, &[0, 500, 999], &[1, 51, 100]),
        (1000, &[0, 1, 250, 1000], &[1, 2, 251, 1000]),
    ];
    for (rate, checks, expected) in table {
        let budget = RateBudget::per_second(rate);
        let start = Instant::now();
        let granted = spawn_waiters(&budget, 1000, start);
        let counts = counts_at(&granted, start, checks).await;
        assert_eq!(counts, expected, "at {rate}/s");
    }
}

/// tokio's clock, but every sleep wakes `late` after its time (a coarse timer).
#[derive(Debug)]
struct LateTimer {
    late: Duration,
}

impl WaitEnv for LateTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep_until(
        &self,
        at: Instant,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep_until(at + self.late))
    }
    fn random(&self) -> f64 {
        0.5
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_timer_costs_no_slots() {
    // 1000/s on a timer 7 ms late: each wake hands out the 7 or 8 slots due since.
    let env = Arc::new(LateTimer {
        late: Duration::from_millis(7),
    });
    let budget = RateBudget::with_env(1000, env);
    let start = Instant::now();
    let granted = spawn_waiters(&budget, 2000, start);
    // Wakes at 8, 16, … ms, each granting every slot up to then.
    let counts = counts_at(&granted, start, &[0, 7, 8, 1000, 1999]).await;
    assert_eq!(counts, [1, 1, 9, 1001, 1993]);
}

#[tokio::test(start_paused = true)]
async fn an_idle_budget_banks_at_most_its_tolerance() {
    let budget = RateBudget::per_second(1000);
    budget.acquire(Instant::now()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let start = Instant::now();
    let granted = spawn_waiters(&budget, 100, start);
    // The slots of the last 10 ms, taken at once, then one a millisecond.
    let counts = counts_at(&granted, start, &[0, 5]).await;
    assert_eq!(counts, [11, 16]);
}

#[tokio::test(start_paused = true)]
async fn unlimited_never_waits_and_ignores_slow_down() {
    let budget = RateBudget::unlimited();
    assert_eq!(budget.rate(), None);
    budget.slow_down(Duration::from_secs(60));
    let start = Instant::now();
    for _ in 0..10_000 {
        budget.acquire(start).await;
    }
    assert_eq!(Instant::now(), start);
}

#[test]
fn a_budget_is_built_outside_a_runtime() {
    assert_eq!(RateBudget::per_second(0).rate(), Some(1));
}
