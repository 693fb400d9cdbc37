//! Poll efficiency: how many status calls a waiter spends per task, and how late it
//! notices the end, on a corpus of simulated Anaplan tasks replayed in simulated time.
//!
//! `cargo bench -p runwait-executor --bench poll_efficiency` prints one table: runwait's
//! schedule beside the schedules of other waiters (the anchors). Nothing is asserted;
//! BENCHMARKS.md keeps the figures. The corpus is seeded, so a run is repeatable.
//!
//! The corpus (1,000 tasks; `--tasks N` to change): durations log-uniform from 10 s to
//! 4 h; progress linear, stepwise (steps of different speeds, some reporting nothing
//! until their end: plateaus then jumps) or stuck at 0 until done, a third each; a
//! quarter of the tasks first wait in `NOT_STARTED` (queued behind another task on the
//! model) for 5 s to 10 min, log-uniform. The delay of a task is the time from its end
//! to the first poll that sees it ended; its duration is the time from the start.

use std::time::Duration;

use runwait_executor::{PollPolicy, Schedule, Seen};
use tokio::time::Instant;

/// How one task behaves over time (seconds since its start request).
#[derive(Debug, Clone)]
struct Task {
    queued: f64,
    running: f64,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Linear,
    /// Steps: (share of the running time, share of the progress, reports progress within).
    Steps(Vec<(f64, f64, bool)>),
    Stuck,
}

impl Shape {
    fn name(&self) -> &'static str {
        match self {
            Shape::Linear => "linear",
            Shape::Steps(_) => "stepwise",
            Shape::Stuck => "stuck",
        }
    }
}

impl Task {
    fn end(&self) -> f64 {
        self.queued + self.running
    }

    /// What a status call at `t` sees; `None` once the task has ended.
    fn seen(&self, t: f64) -> Option<Seen> {
        if t < self.queued {
            return Some(Seen::Queued);
        }
        if t >= self.end() {
            return None;
        }
        let x = (t - self.queued) / self.running;
        let progress = match &self.shape {
            Shape::Linear => x,
            Shape::Stuck => 0.0,
            Shape::Steps(steps) => {
                let (mut at, mut done) = (0.0, 0.0);
                let mut p = 0.0;
                for &(len, share, reports) in steps {
                    if x < at + len {
                        let within = if reports { (x - at) / len } else { 0.0 };
                        p = done + share * within;
                        break;
                    }
                    at += len;
                    done += share;
                    p = done;
                }
                p
            }
        };
        Some(Seen::Running {
            progress: Some(progress),
        })
    }
}

/// A deterministic corpus: `n` tasks from `seed`.
fn corpus(n: usize, seed: u64) -> Vec<Task> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let log_uniform =
        |rng: &mut fastrand::Rng, lo: f64, hi: f64| (lo.ln() + rng.f64() * (hi / lo).ln()).exp();
    (0..n)
        .map(|i| {
            let running = log_uniform(&mut rng, 10.0, 4.0 * 3600.0);
            let queued = if rng.f64() < 0.25 {
                log_uniform(&mut rng, 5.0, 600.0)
            } else {
                0.0
            };
            let shape = match i % 3 {
                0 => Shape::Linear,
                1 => {
                    let k = rng.usize(2..=8);
                    let lens: Vec<f64> = (0..k).map(|_| 0.2 + rng.f64()).collect();
                    let shares: Vec<f64> = (0..k).map(|_| 0.2 + rng.f64()).collect();
                    let (lt, st) = (lens.iter().sum::<f64>(), shares.iter().sum::<f64>());
                    Shape::Steps(
                        lens.iter()
                            .zip(&shares)
                            .map(|(l, s)| (l / lt, s / st, rng.bool()))
                            .collect(),
                    )
                }
                _ => Shape::Stuck,
            };
            Task {
                queued,
                running,
                shape,
            }
        })
        .collect()
}

/// A waiter: the delay before its next poll, given what the last poll saw.
trait Waiter {
    fn name(&self) -> String;
    /// Called after the start (`seen` = `None`) and after each poll.
    fn next(&mut self, t: f64, seen: Option<&Seen>) -> f64;
}

/// runwait's schedule with a policy, in simulated time.
struct Runwait {
    label: &'static str,
    policy: PollPolicy,
    schedule: Schedule,
    origin: Instant,
    rng: fastrand::Rng,
}

impl Runwait {
    fn new(label: &'static str, policy: PollPolicy) -> Runwait {
        Runwait {
            label,
            policy,
            schedule: Schedule::default(),
            origin: Instant::now(),
            rng: fastrand::Rng::with_seed(7),
        }
    }
}

impl Waiter for Runwait {
    fn name(&self) -> String {
        self.label.to_owned()
    }

    fn next(&mut self, t: f64, seen: Option<&Seen>) -> f64 {
        match seen {
            None => {
                self.schedule = Schedule::default();
                self.policy.min_interval.as_secs_f64()
            }
            Some(seen) => {
                let at = self.origin + Duration::from_secs_f64(t);
                self.schedule.observe(at, *seen);
                self.schedule
                    .next_delay(&self.policy, self.rng.f64())
                    .as_secs_f64()
            }
        }
    }
}

/// A fixed interval.
struct Fixed(f64);

impl Waiter for Fixed {
    fn name(&self) -> String {
        format!("fixed {} s", self.0)
    }

    fn next(&mut self, _: f64, _: Option<&Seen>) -> f64 {
        self.0
    }
}

/// Anaplan Connect: 1 s, then 10 s, then 60 s (shared/reference/anaplan-api.md), modelled
/// as ten polls at each of the first two intervals.
#[derive(Default)]
struct AnaplanConnect(u32);

impl Waiter for AnaplanConnect {
    fn name(&self) -> String {
        "Anaplan Connect 1/10/60 s".into()
    }

    fn next(&mut self, _: f64, seen: Option<&Seen>) -> f64 {
        if seen.is_none() {
            self.0 = 0;
        }
        self.0 += 1;
        match self.0 {
            0..=10 => 1.0,
            11..=20 => 10.0,
            _ => 60.0,
        }
    }
}

/// Smithy's waiters (AWS SDKs): exponential from 5 s to 120 s with full jitter between the
/// minimum and the exponential delay (the Smithy waiter specification's retry strategy).
struct Smithy {
    attempt: u32,
    rng: fastrand::Rng,
}

impl Waiter for Smithy {
    fn name(&self) -> String {
        "Smithy waiters 5-120 s".into()
    }

    fn next(&mut self, _: f64, seen: Option<&Seen>) -> f64 {
        let (min, max) = (5.0_f64, 120.0_f64);
        if seen.is_none() {
            self.attempt = 0;
        }
        self.attempt += 1;
        let ceiling = ((max / min).ln() / 2f64.ln()).floor() as u32 + 1;
        let delay = if self.attempt > ceiling {
            max
        } else {
            (min * 2f64.powi(self.attempt as i32 - 1)).min(max)
        };
        if delay <= min {
            min
        } else {
            min + self.rng.f64() * (delay - min)
        }
    }
}

/// What one waiter spent on one task.
struct Run {
    shape: &'static str,
    /// Queued first, and ran for less than a minute.
    short_after_queue: bool,
    calls: u32,
    delay: f64,
    duration: f64,
    smallest_gap: f64,
}

fn replay(waiter: &mut dyn Waiter, task: &Task) -> Run {
    let mut t = waiter.next(0.0, None);
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
                calls,
                delay: t - task.end(),
                duration: task.end(),
                smallest_gap,
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

fn main() {
    let tasks = arg("--tasks").map_or(1000, |n| n as usize);
    let corpus = corpus(tasks, 2026);
    // `--growth`, `--approach`, `--max-interval SECS`: try another policy beside the default.
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
    let mut waiters: Vec<Box<dyn Waiter>> = vec![Box::new(Runwait::new(
        "runwait (default)",
        PollPolicy::default(),
    ))];
    if tried != PollPolicy::default() {
        waiters.push(Box::new(Runwait::new("runwait (tried)", tried)));
    }
    waiters.extend([
        Box::new(Fixed(1.0)) as Box<dyn Waiter>,
        Box::new(Fixed(5.0)),
        Box::new(AnaplanConnect::default()),
        Box::new(Fixed(60.0)),
        Box::new(Smithy {
            attempt: 0,
            rng: fastrand::Rng::with_seed(11),
        }),
    ]);
    println!(
        "{} tasks: durations 10 s-4 h log-uniform; linear, stepwise, stuck; 25 % queued first\n",
        corpus.len()
    );
    println!(
        "| waiter | calls/task mean | calls p95 | delay median | delay p95 | p95 delay % of duration (> 10 min) | smallest gap |"
    );
    println!("|---|---|---|---|---|---|---|");
    for waiter in &mut waiters {
        let runs: Vec<Run> = corpus.iter().map(|t| replay(waiter.as_mut(), t)).collect();
        row(&waiter.name(), &runs);
        if waiter.name().starts_with("runwait") {
            for shape in ["linear", "stepwise", "stuck"] {
                let of: Vec<&Run> = runs.iter().filter(|r| r.shape == shape).collect();
                row(&format!("… {shape} tasks"), &of);
            }
            let queued: Vec<&Run> = runs.iter().filter(|r| r.short_after_queue).collect();
            row("… queued, then under 1 min", &queued);
        }
    }
}

/// One line of the table.
fn row<R: std::borrow::Borrow<Run>>(name: &str, runs: &[R]) {
    let runs: Vec<&Run> = runs.iter().map(|r| r.borrow()).collect();
    {
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
}
