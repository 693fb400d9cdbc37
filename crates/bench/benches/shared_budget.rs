//! 1,000 concurrent waits of runwait's library (the bench's worker, runwait's default
//! poll schedule, a `FileStore`) against a simulator process limited to 10 requests/s,
//! with the rate budget at 10/s and without it (`RateBudget::unlimited`): 429s and
//! detection delays.
//! Prints a table; asserts nothing. See BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p runwait-bench --bench shared_budget
//! cargo bench -p runwait-bench --bench shared_budget -- --waits 200 --task 60s
//! ```
//!
//! Options: `--waits` (default 1000), `--task` (each task's duration, default 300s),
//! `--rate` (the simulator's limit and the budget, default 10), `--sequential` (the two
//! rows one after the other; by default they run at once, each on its own simulator,
//! halving the wall time: each row's figures are counted by its own simulator).

use std::time::Duration;

use runwait_bench::args::Args;
use runwait_bench::scenario::Summary;
use runwait_bench::scratch_dir;
use runwait_bench::simproc::{SimOptions, SimProcess};
use runwait_bench::table::{Table, num};
use runwait_bench::waiter::{Job, Kind, Programs, Run, Spawned, spawn, stderr_of};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let waits = args.number("waits", 1000usize);
    let task = args.duration("task", Duration::from_secs(300));
    let rate = args.number("rate", 10u32);
    let sequential = args.text("sequential").is_some();
    let programs = Programs {
        bench: env!("CARGO_BIN_EXE_runwait-bench").into(),
        runwait: None,
        python: None,
    };
    println!(
        "shared budget: {waits} waits, tasks of {task:?}, simulator limited to {rate} requests/s; \
         the starts alone take {:.0} s at that rate (a listing and a start per wait); \
         the two rows {}",
        2.0 * waits as f64 / f64::from(rate),
        if sequential {
            "one after the other"
        } else {
            "at once, each on its own simulator"
        }
    );
    let rows = [
        (format!("budget {rate}/s"), Some(rate)),
        ("no budget (off)".to_owned(), None),
    ];
    let mut table = Table::new(&[
        "waits",
        "budget",
        "succeeded",
        "requests",
        "429s",
        "polls",
        "delay median s",
        "delay p95 s",
        "delay max s",
        "wall s",
    ]);
    let mut running = Vec::new();
    let mut results = Vec::new();
    for (name, budget) in rows {
        let sim = SimProcess::start(
            &programs.bench,
            &SimOptions {
                models: waits,
                task,
                rate_limit: Some(rate),
            },
        )?;
        let dir = scratch_dir(&format!(
            "shared-budget/{}",
            budget.map_or("none".to_owned(), |r| r.to_string())
        ))?;
        let job = Job {
            addr: sim.addr().to_owned(),
            first: 0,
            n: waits,
            fixed_poll: None,
            budget,
            dir: dir.clone(),
        };
        let spawned = spawn(Kind::Library, &programs, &job)?.ok_or("no worker")?;
        running.push((name, sim, spawned, dir));
        if sequential {
            results.push(finish(running.pop().ok_or("no run")?)?);
        }
    }
    for r in running {
        results.push(finish(r)?);
    }
    for (name, run, summary) in &results {
        let succeeded = run.report()["outcomes"]["succeeded"].as_u64().unwrap_or(0);
        let secs = |d: Duration| num(d.as_secs_f64(), 1);
        table.row(vec![
            waits.to_string(),
            name.clone(),
            format!("{succeeded}/{waits}"),
            summary.requests.to_string(),
            summary.too_many.to_string(),
            summary.polls.to_string(),
            secs(summary.delay_quantile(0.5)),
            secs(summary.delay_quantile(0.95)),
            secs(summary.delay_quantile(1.0)),
            num(run.usage.wall.as_secs_f64(), 0),
        ]);
    }
    println!("\n{}", table.render());
    Ok(())
}

type Running = (String, SimProcess, Spawned, std::path::PathBuf);

fn finish(
    (name, sim, spawned, dir): Running,
) -> Result<(String, Run, Summary), Box<dyn std::error::Error>> {
    let run = spawned.finish();
    if !run.status.is_some_and(|s| s.success()) {
        eprintln!(
            "*** {name}: the worker exited {:?}: see {}",
            run.status,
            stderr_of(&dir).display()
        );
    }
    Ok((name, run, sim.finish()?))
}
