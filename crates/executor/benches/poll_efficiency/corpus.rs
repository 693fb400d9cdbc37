//! The simulated tasks: how each behaves over time, the one-off corpus and the
//! recurring one.

use runwait_executor::Seen;

/// How one task behaves over time (seconds since its start request).
#[derive(Debug, Clone)]
pub struct Task {
    pub queued: f64,
    pub running: f64,
    pub shape: Shape,
    /// A run of a recurring object far outside its usual duration (the recurring corpus).
    pub outlier: bool,
}

#[derive(Debug, Clone)]
pub enum Shape {
    Linear,
    /// Steps: (share of the running time, share of the progress, reports progress within).
    Steps(Vec<(f64, f64, bool)>),
    Stuck,
}

impl Shape {
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Linear => "linear",
            Shape::Steps(_) => "stepwise",
            Shape::Stuck => "stuck",
        }
    }
}

impl Task {
    pub fn end(&self) -> f64 {
        self.queued + self.running
    }

    /// What a status call at `t` sees; `None` once the task has ended.
    pub fn seen(&self, t: f64) -> Option<Seen> {
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

fn log_uniform(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.f64() * (hi / lo).ln()).exp()
}

/// A running time from 10 s to 4 h, log-uniform.
fn running(rng: &mut fastrand::Rng) -> f64 {
    log_uniform(rng, 10.0, 4.0 * 3600.0)
}

/// A queue before the start on a quarter of the tasks: 5 s to 10 min, log-uniform.
fn queued(rng: &mut fastrand::Rng) -> f64 {
    if rng.f64() < 0.25 {
        log_uniform(rng, 5.0, 600.0)
    } else {
        0.0
    }
}

/// The progress shape of the `i`-th task or object: linear, stepwise, stuck in turn.
fn shape(rng: &mut fastrand::Rng, i: usize) -> Shape {
    match i % 3 {
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
    }
}

/// A deterministic corpus: `n` tasks from `seed`.
pub fn corpus(n: usize, seed: u64) -> Vec<Task> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let running = running(&mut rng);
            let queued = queued(&mut rng);
            let shape = shape(&mut rng, i);
            Task {
                queued,
                running,
                shape,
                outlier: false,
            }
        })
        .collect()
}

/// A deterministic recurring corpus from `seed`: `objects` objects, each run `runs`
/// times in sequence. Each object has a base running time (10 s to 4 h, log-uniform)
/// and a progress shape (the same steps every run); each run takes the base ±25 %
/// (uniform), a quarter of the runs are queued first, and `outliers` of the runs (a
/// share) take twice the base.
pub fn recurring(objects: usize, runs: usize, outliers: f64, seed: u64) -> Vec<Vec<Task>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..objects)
        .map(|i| {
            let base = running(&mut rng);
            let shape = shape(&mut rng, i);
            (0..runs)
                .map(|_| {
                    let outlier = rng.f64() < outliers;
                    let factor = if outlier { 2.0 } else { 0.75 + 0.5 * rng.f64() };
                    Task {
                        queued: queued(&mut rng),
                        running: base * factor,
                        shape: shape.clone(),
                        outlier,
                    }
                })
                .collect()
        })
        .collect()
}
