//! Poll efficiency: how many status calls a waiter spends per task, and how late it
//! notices the end, on corpora of simulated Anaplan tasks replayed in simulated time.
//!
//! `cargo bench -p runwait-executor --bench poll_efficiency` prints two tables: runwait's
//! schedule beside the schedules of other waiters (the anchors), on one-off tasks and on
//! recurring ones (`recurring.rs`). Nothing is asserted; BENCHMARKS.md keeps the
//! figures. The corpora are seeded, so a run is repeatable.
//!
//! The one-off corpus (1,000 tasks; `--tasks N` to change): durations log-uniform from
//! 10 s to 4 h; progress linear, stepwise (steps of different speeds, some reporting
//! nothing until their end: plateaus then jumps) or stuck at 0 until done, a third
//! each; a quarter of the tasks first wait in `NOT_STARTED` (queued behind another task
//! on the model) for 5 s to 10 min, log-uniform. The delay of a task is the time from
//! its end to the first poll that sees it ended; its duration is the time from the start.

mod corpus;
mod recurring;
mod waiters;

use std::time::Duration;

use runwait_executor::{Expected, PollPolicy};

use corpus::{Task, corpus};
use waiters::{AnaplanConnect, Fixed, Runwait, Smithy, Waiter};

/// What one waiter spent on one task.
pub struct Run {
    shape: &'static str,
    /// Queued first, and ran for less than a minute.
    short_after_queue: bool,
    queued: bool,
    outlier: bool,
    calls: u32,
    delay: f64,
    duration: f64,
    smallest_gap: f64,
    /// What the history keeps of it.
    ran_for: Option<Duration>,
}

/// Replays `task` through `waiter`, told `expected` of the object's past runs.
fn replay(waiter: &mut dyn Waiter, task: &Task, expected: Option<Expected>) -> Run {
    let mut t = waiter.next(0.0, None);
    if let Some(expected) = expected {
        waiter.expect(expected);
    }
    let (mut calls, mut last, mut smallest_gap) = (0, None::<f64>, f64::INFINITY);
    loop {
        calls += 1;
        if let Some(l) = last {
            smallest_gap = smallest_gap.min(t - l);
        }
        last = Some(t);
        let Some(seen) = task.seen(t) else {
            return Run {
                shape: task.shape.name(),
                short_after_queue: task.queued > 0.0 && task.running < 60.0,
                queued: task.queued > 0.0,
                outlier: task.outlier,
                calls,
                delay: t - task.end(),
                duration: task.end(),
                smallest_gap,
                ran_for: waiter.ran_for(t),
            };
        };
        t += waiter.next(t, Some(&seen));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// The value of `--name VALUE` on the command line.
fn arg(name: &str) -> Option<f64> {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|n| n.parse().ok())
}

/// The anchors: other waiters' schedules.
fn anchors() -> Vec<Box<dyn Waiter>> {
    vec![
        Box::new(Fixed(1.0)),
        Box::new(Fixed(5.0)),
        Box::new(AnaplanConnect::default()),
        Box::new(Fixed(60.0)),
        Box::new(Smithy::new(11)),
    ]
}

fn main() {
    let tasks = arg("--tasks").map_or(1000, |n| n as usize);
    let corpus = corpus(tasks, 2026);
    // `--growth`, `--approach`, `--max-interval SECS`, `--history-share S`: try another
    // policy beside the default.
    let mut tried = PollPolicy::default();
    if let Some(g) = arg("--growth") {
        tried = tried.with_growth(g);
    }
    if let Some(a) = arg("--approach") {
        tried = tried.with_approach(a);
    }
    if let Some(m) = arg("--max-interval") {
        tried = tried.with_max_interval(Duration::from_secs_f64(m));
    }
    if let Some(s) = arg("--history-share") {
        tried = tried.with_history_share(s);
    }
    let tried = (tried != PollPolicy::default()).then_some(tried);
    let mut waiters: Vec<Box<dyn Waiter>> = vec![Box::new(Runwait::new(
        "runwait (default)",
        PollPolicy::default(),
    ))];
    if let Some(tried) = tried {
        waiters.push(Box::new(Runwait::new("runwait (tried)", tried)));
    }
    waiters.extend(anchors());
    println!(
        "{} tasks: durations 10 s-4 h log-uniform; linear, stepwise, stuck; 25 % queued first\n",
        corpus.len()
    );
    header();
    for waiter in &mut waiters {
        let runs: Vec<Run> = corpus
            .iter()
            .map(|t| replay(waiter.as_mut(), t, None))
            .collect();
        row(&waiter.name(), &runs);
        if waiter.name().starts_with("runwait") {
            by_shape(&runs);
            let queued: Vec<&Run> = runs.iter().filter(|r| r.short_after_queue).collect();
            row("… queued, then under 1 min", &queued);
        }
    }
    println!();
    recurring::table(tried);
}

fn header() {
    println!(
        "| waiter | calls/task mean | calls p95 | delay median | delay p95 | p95 delay % of duration (> 10 min) | smallest gap |"
    );
    println!("|---|---|---|---|---|---|---|");
}

/// One line for each progress shape.
fn by_shape(runs: &[Run]) {
    for shape in ["linear", "stepwise", "stuck"] {
        let of: Vec<&Run> = runs.iter().filter(|r| r.shape == shape).collect();
        row(&format!("… {shape} tasks"), &of);
    }
}

/// One line of the table.
fn row<R: std::borrow::Borrow<Run>>(name: &str, runs: &[R]) {
    let runs: Vec<&Run> = runs.iter().map(|r| r.borrow()).collect();
    let calls = sorted(runs.iter().map(|r| f64::from(r.calls)).collect());
    let delays = sorted(runs.iter().map(|r| r.delay).collect());
    let long = sorted(
        runs.iter()
            .filter(|r| r.duration > 600.0)
            .map(|r| 100.0 * r.delay / r.duration)
            .collect(),
    );
    let gap = runs
        .iter()
        .map(|r| r.smallest_gap)
        .fold(f64::INFINITY, f64::min);
    println!(
        "| {} | {:.1} | {:.0} | {:.1} s | {:.1} s | {} | {:.1} s |",
        name,
        calls.iter().sum::<f64>() / calls.len() as f64,
        percentile(&calls, 0.95),
        percentile(&delays, 0.5),
        percentile(&delays, 0.95),
        match percentile(&long, 0.95) {
            p if p.is_nan() => "–".to_owned(),
            p => format!("{p:.1} %"),
        },
        gap,
    );
}
