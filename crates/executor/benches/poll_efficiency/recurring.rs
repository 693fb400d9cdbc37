//! The recurring variant: objects run again and again (the same nightly load every
//! day), each run's duration the object's own ±25 %, and a waiter that may learn from
//! the earlier runs.
//!
//! 1,000 objects (`--objects N`), each run 10 times in sequence; the base duration of an
//! object is log-uniform from 10 s to 4 h, its progress shape linear, stepwise or stuck
//! (the same steps every run); each run takes the base ±25 % (uniform), a quarter of
//! the runs are queued first (5 s to 10 min), and 5 % of the runs take twice the base
//! (they leave the expected window). The history is fed exactly as the engine feeds it:
//! each run's `Schedule::ran_for` at the poll that saw the end, and `Expected` from the
//! newest runs before the next. The table measures the runs after the first three (the
//! least an estimate is made from).

use std::time::Duration;

use runwait_executor::{Expected, PollPolicy};

use super::corpus::recurring;
use super::waiters::{Runwait, Waiter};
use super::{Run, anchors, arg, by_shape, header, replay, row};

/// Runs of each object, and the first ones not measured.
const RUNS: usize = 10;
const WARMUP: usize = Expected::MIN_RUNS;
/// Share of the runs that take twice the object's base.
const OUTLIERS: f64 = 0.05;

/// Replays every object's runs in order through `waiter`, the history fed from its own
/// earlier runs; the measured runs.
fn replay_object_runs(waiter: &mut dyn Waiter, objects: &[Vec<super::corpus::Task>]) -> Vec<Run> {
    let mut measured = Vec::new();
    for runs in objects {
        // Newest first, as the store returns them.
        let mut history: Vec<Duration> = Vec::new();
        for (i, task) in runs.iter().enumerate() {
            let expected = Expected::from_running_times(history.iter().copied());
            let run = replay(waiter, task, expected);
            if let Some(ran) = run.ran_for {
                history.insert(0, ran);
            }
            if i >= WARMUP {
                measured.push(run);
            }
        }
    }
    measured
}

/// Prints the recurring table: runwait with and without history, then the anchors.
pub fn table(tried: Option<PollPolicy>) {
    let objects = arg("--objects").map_or(1000, |n| n as usize);
    let corpus = recurring(objects, RUNS, OUTLIERS, 2027);
    println!(
        "{objects} recurring objects × {RUNS} runs (base 10 s-4 h log-uniform, each run ±25 %, 5 % at 2×, 25 % queued first); runs {}-{RUNS} measured\n",
        WARMUP + 1
    );
    header();
    let mut waiters: Vec<Box<dyn Waiter>> = vec![
        Box::new(Runwait::new("runwait, history", PollPolicy::default())),
        Box::new(Runwait::new(
            "runwait, no history",
            PollPolicy::default().with_history(false),
        )),
    ];
    if let Some(tried) = tried {
        waiters.insert(1, Box::new(Runwait::new("runwait (tried)", tried)));
    }
    waiters.extend(anchors());
    for waiter in &mut waiters {
        let runs = replay_object_runs(waiter.as_mut(), &corpus);
        let (inside, outside): (Vec<&Run>, Vec<&Run>) = runs.iter().partition(|r| !r.outlier);
        row(&waiter.name(), &runs);
        if waiter.name().starts_with("runwait") {
            row("… runs within ±25 %", &inside);
            by_shape(&runs);
            let queued: Vec<&Run> = runs.iter().filter(|r| r.queued).collect();
            row("… queued first", &queued);
            row("… runs that left the window (2×)", &outside);
        }
    }
}
