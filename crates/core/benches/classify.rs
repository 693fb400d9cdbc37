//! How long reading and classifying a task-status body takes, per body, for every
//! fixture in `tests/fixtures/task-status/`. Run with `cargo bench -p runwait-core`.
//!
//! Shared machines are noisy, so the figures to compare are the ratios printed within
//! one run (classification against parsing, each body against the smallest), not the
//! absolute times.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use runwait_core::{OutcomePolicy, TaskStatusBody, classify};

const ROUNDS: u32 = 20_000;

fn time(mut f: impl FnMut()) -> Duration {
    // One warm-up pass, then the measured rounds.
    f();
    let start = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    start.elapsed() / ROUNDS
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/task-status");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let policy = OutcomePolicy::default();
    let mut rows = Vec::new();
    for path in files {
        let body = std::fs::read_to_string(&path).expect("fixture");
        let task = TaskStatusBody::parse(&body).expect("fixture parses").task;
        let parse = time(|| {
            black_box(TaskStatusBody::parse(black_box(&body)).ok());
        });
        let class = time(|| {
            black_box(classify(black_box(&task), &policy));
        });
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.push((name, body.len(), parse, class));
    }
    let fastest = rows
        .iter()
        .map(|r| r.2)
        .min()
        .unwrap_or(Duration::from_nanos(1))
        .max(Duration::from_nanos(1));
    println!(
        "{:<48} {:>7} {:>10} {:>10} {:>9} {:>9}",
        "fixture", "bytes", "parse", "classify", "cls/parse", "parse/min"
    );
    for (name, bytes, parse, class) in rows {
        println!(
            "{name:<48} {bytes:>7} {:>8.2}µs {:>8.2}µs {:>9.2} {:>9.2}",
            parse.as_secs_f64() * 1e6,
            class.as_secs_f64() * 1e6,
            class.as_secs_f64() / parse.as_secs_f64(),
            parse.as_secs_f64() / fastest.as_secs_f64(),
        );
    }
}
