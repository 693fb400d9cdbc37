//! Configured against delivered rate of a `RateBudget`, in real time (paused time would
//! not show the timer's resolution, which is what this measures). For each rate, a
//! crowd of requests all due now queue at once; the delivered rate is the permits after
//! the first over the time from the first to the last. Prints a table; asserts nothing.
//!
//! `cargo bench -p runwait-executor --bench budget_rate`

use std::time::Duration;

use runwait_executor::RateBudget;
use tokio::time::Instant;

/// Rates measured, per second.
const RATES: [u32; 5] = [10, 100, 1_000, 10_000, 100_000];
/// How long each run lasts at its configured rate (at least 20 permits).
const RUN: Duration = Duration::from_secs(2);
/// Runs per rate; the median is printed.
const RUNS: usize = 3;

/// The delivered rate of one run of `permits` requests at `rate`.
async fn delivered(rate: u32, permits: usize) -> f64 {
    let budget = RateBudget::per_second(rate);
    let start = Instant::now();
    let handles: Vec<_> = (0..permits)
        .map(|_| {
            let budget = budget.clone();
            tokio::spawn(async move {
                budget.acquire(start).await;
                Instant::now()
            })
        })
        .collect();
    let mut granted = Vec::with_capacity(permits);
    for h in handles {
        granted.push(h.await.expect("a waiter"));
    }
    let first = granted.iter().min().copied().unwrap_or(start);
    let last = granted.iter().max().copied().unwrap_or(start);
    (permits - 1) as f64 / (last - first).as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("rate budget, real time, {RUNS} runs of {RUN:?} each, median");
    println!(
        "{:>12} {:>12} {:>8}",
        "configured/s", "delivered/s", "ratio"
    );
    for rate in RATES {
        let permits = ((f64::from(rate) * RUN.as_secs_f64()) as usize).max(20);
        let mut runs: Vec<f64> = (0..RUNS)
            .map(|_| runtime.block_on(delivered(rate, permits)))
            .collect();
        runs.sort_by(f64::total_cmp);
        let median = runs[RUNS / 2];
        println!(
            "{rate:>12} {median:>12.0} {:>8.3}",
            median / f64::from(rate)
        );
    }
}
