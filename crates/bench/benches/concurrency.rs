//! N concurrent waits against the simulator as a separate process: runwait's library
//! (the bench's worker: `RunAndWait` steps through the real client, a `FileStore`),
//! the `runwait` binary (`runwait run --max-parallel N`, a file state directory) and
//! anaplan-sdk's async client (Python, in a virtual environment under `target/`).
//! Prints tables; asserts nothing. See BENCHMARKS.md.
//!
//! CPU per poll twice: over the whole run (login, starts, state-store saves, shutdown
//! included) and in the steady state (`runwait_bench::steady`: CPU and answered polls
//! over the same window, when every wait polls and none has ended; the window of each
//! row is printed).
//!
//! ```text
//! cargo bench -p runwait-bench --bench concurrency                  # N = 100, 1,000, 10,000
//! cargo bench -p runwait-bench --bench concurrency -- --n 100,1000  # a quicker run
//! ```
//!
//! Options: `--n` (runwait's Ns), `--sdk-n` (anaplan-sdk's Ns, default 100,1000),
//! `--task` (each task's duration, default 120s), `--poll` (runwait's fixed poll delay,
//! default 5s, Anaplan's floor), `--waiters library,cli,sdk`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use runwait_bench::args::Args;
use runwait_bench::scenario::Summary;
use runwait_bench::simproc::{SimOptions, SimProcess};
use runwait_bench::steady::{Steady, Unmeasured};
use runwait_bench::table::{Table, num};
use runwait_bench::waiter::{Job, Kind, Programs, Run, spawn, stderr_of};
use runwait_bench::{cli, scratch_dir, sdk};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let ns = args.numbers("n", &[100, 1000, 10_000]);
    let sdk_ns = args.numbers("sdk-n", &[100, 1000]);
    let task = args.duration("task", Duration::from_secs(120));
    let poll = args.duration("poll", Duration::from_secs(5));
    let wanted = args.text("waiters").unwrap_or("library,cli,sdk");
    let programs = programs(wanted);
    let mut kinds = vec![Kind::Library];
    if programs.runwait.is_some() {
        kinds.push(Kind::Cli);
    }
    if programs.python.is_some() {
        kinds.push(Kind::Sdk);
    }
    kinds.retain(|k| wanted.contains(k.key()));
    let runs_per_n = |n: usize| {
        kinds
            .iter()
            .filter(|k| **k != Kind::Sdk || sdk_ns.contains(&n))
            .count()
    };
    let rows: usize = ns.iter().map(|n| runs_per_n(*n)).sum();
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    println!(
        "concurrency: {} at N = {ns:?} (anaplan-sdk only at {sdk_ns:?}), tasks of {task:?}, \
         runwait polls every {poll:?}, anaplan-sdk every {:?}; {rows} runs + 1 baseline run of \
         one wait each, one after another: about {:.0} min",
        names.join(", "),
        sdk::POLL,
        (rows + 1) as f64 * (task.as_secs_f64() + 30.0) / 60.0
    );

    let baseline = baseline(&programs, &kinds, task, poll)?;
    let mut measured = Vec::new();
    for &n in &ns {
        for &kind in &kinds {
            if kind == Kind::Sdk && !sdk_ns.contains(&n) {
                continue;
            }
            let (run, summary) = one(&programs, kind, n, task, poll)?;
            let waiter_poll = if kind == Kind::Sdk { sdk::POLL } else { poll };
            let steady = Steady::of(&summary, &run.usage.cpu_series, waiter_poll);
            println!("{}", steady_line(kind, n, &steady));
            let row = Row::new(kind, n, &run, &summary, baseline.get(kind.key()), &steady);
            println!("{}", row.line());
            measured.push(row);
        }
    }
    print_tables(&measured, &baseline);
    Ok(())
}

/// The steady window of a row, so the reader can check it.
fn steady_line(kind: Kind, n: usize, steady: &Result<Steady, Unmeasured>) -> String {
    match steady {
        Ok(s) => format!(
            "steady window {} N = {n}: scenario time {}, {} polls, CPU {:.2} s",
            kind.name(),
            s.window,
            s.polls,
            s.cpu.as_secs_f64()
        ),
        Err(why) => format!("steady window {} N = {n}: {why}", kind.name()),
    }
}

/// The bench's binary, and the others when wanted and obtainable (said loudly if not).
fn programs(wanted: &str) -> Programs {
    // `get`'s program when the `key` waiter is wanted; its `rows` are left out loudly
    // when it cannot be had.
    let program = |key: &str, rows: &str, get: fn() -> Result<PathBuf, String>| {
        wanted
            .contains(key)
            .then(get)?
            .inspect_err(|e| eprintln!("*** the {rows} rows are LEFT OUT: {e}"))
            .ok()
    };
    let runwait = program(Kind::Cli.key(), "CLI", cli::runwait);
    let python = program(Kind::Sdk.key(), "anaplan-sdk", sdk::python);
    Programs {
        bench: env!("CARGO_BIN_EXE_runwait-bench").into(),
        runwait,
        python,
    }
}

/// Each waiter with one wait, all at once on one simulator: the memory a process needs
/// before its waits, subtracted from the peak at N.
fn baseline(
    programs: &Programs,
    kinds: &[Kind],
    task: Duration,
    poll: Duration,
) -> Result<HashMap<&'static str, u64>, Box<dyn std::error::Error>> {
    let sim = SimProcess::start(
        &programs.bench,
        &SimOptions {
            models: kinds.len(),
            task,
            rate_limit: None,
        },
    )?;
    let mut spawned = Vec::new();
    for (first, &kind) in kinds.iter().enumerate() {
        let job = Job {
            addr: sim.addr().to_owned(),
            first,
            n: 1,
            fixed_poll: Some(poll),
            budget: None,
            dir: scratch_dir(&format!("concurrency/{}-1", kind.key()))?,
        };
        if let Some(s) = spawn(kind, programs, &job)? {
            spawned.push((kind, s));
        }
    }
    let mut peaks = HashMap::new();
    for (kind, s) in spawned {
        let run = s.finish();
        println!(
            "baseline {}: one wait, peak RSS {:.1} MiB",
            kind.name(),
            run.usage.peak_rss_kib as f64 / 1024.0
        );
        peaks.insert(kind.key(), run.usage.peak_rss_kib);
    }
    sim.finish()?;
    Ok(peaks)
}

/// `n` waits of `kind` on a simulator of their own.
fn one(
    programs: &Programs,
    kind: Kind,
    n: usize,
    task: Duration,
    poll: Duration,
) -> Result<(Run, Summary), Box<dyn std::error::Error>> {
    let sim = SimProcess::start(
        &programs.bench,
        &SimOptions {
            models: n,
            task,
            rate_limit: None,
        },
    )?;
    let dir = scratch_dir(&format!("concurrency/{}-{n}", kind.key()))?;
    let job = Job {
        addr: sim.addr().to_owned(),
        first: 0,
        n,
        fixed_poll: Some(poll),
        budget: None,
        dir: dir.clone(),
    };
    let run = spawn(kind, programs, &job)?
        .ok_or("the waiter's program is missing")?
        .finish();
    if !run.status.is_some_and(|s| s.success()) {
        eprintln!(
            "*** {} at N = {n} exited {:?}: see {}",
            kind.name(),
            run.status,
            stderr_of(&dir).display()
        );
    }
    Ok((run, sim.finish()?))
}

/// One measured run.
struct Row {
    kind: Kind,
    n: usize,
    done: String,
    peak_mib: f64,
    per_wait_kib: f64,
    cpu_s: f64,
    cpu_per_1000_polls: f64,
    steady_cpu_per_1000_polls: f64,
    steady_polls: Option<u64>,
    polls: u64,
    polls_per_s: f64,
    fds: usize,
    stall_start_ms: Option<f64>,
    started_in_s: Option<f64>,
    wall_s: f64,
    delay_median_s: f64,
}

impl Row {
    fn new(
        kind: Kind,
        n: usize,
        run: &Run,
        sim: &Summary,
        baseline: Option<&u64>,
        steady: &Result<Steady, Unmeasured>,
    ) -> Row {
        let report = run.report();
        let done = match kind {
            Kind::Library => report["outcomes"]["succeeded"].as_u64().unwrap_or(0),
            Kind::Sdk => report["succeeded"].as_u64().unwrap_or(0),
            // The CLI's exit code 0: every step succeeded.
            Kind::Cli if run.status.is_some_and(|s| s.success()) => n as u64,
            Kind::Cli => 0,
        };
        let cpu_s = run.usage.cpu.as_secs_f64();
        let peak = run.usage.peak_rss_kib;
        Row {
            kind,
            n,
            done: format!("{done}/{n}"),
            peak_mib: peak as f64 / 1024.0,
            per_wait_kib: baseline.map_or(f64::NAN, |b| peak.saturating_sub(*b) as f64 / n as f64),
            cpu_s,
            cpu_per_1000_polls: 1000.0 * cpu_s / sim.polls as f64,
            steady_cpu_per_1000_polls: steady.as_ref().map_or(f64::NAN, Steady::cpu_per_1000_polls),
            steady_polls: steady.as_ref().ok().map(|s| s.polls),
            polls: sim.polls,
            polls_per_s: sim.polls as f64 / sim.poll_span.as_secs_f64(),
            fds: run.usage.fds_peak,
            stall_start_ms: report["stall_start_ms"].as_f64(),
            started_in_s: report["started_in_s"].as_f64(),
            wall_s: run.usage.wall.as_secs_f64(),
            delay_median_s: sim.delay_quantile(0.5).as_secs_f64(),
        }
    }

    fn cells(&self) -> Vec<String> {
        let stall = match (self.stall_start_ms, self.started_in_s) {
            (Some(ms), Some(s)) => format!("{ms:.0} ({s:.1} s)"),
            _ => "–".to_owned(),
        };
        vec![
            self.kind.name().to_owned(),
            self.n.to_string(),
            self.done.clone(),
            num(self.peak_mib, 1),
            num(self.per_wait_kib, 1),
            num(self.cpu_s, 1),
            num(self.cpu_per_1000_polls, 2),
            num(self.steady_cpu_per_1000_polls, 3),
            self.steady_polls
                .map_or_else(|| "–".to_owned(), |p| p.to_string()),
            self.polls.to_string(),
            num(self.polls_per_s, 0),
            self.fds.to_string(),
            stall,
            num(self.delay_median_s, 1),
            num(self.wall_s, 0),
        ]
    }

    fn line(&self) -> String {
        format!("measured: {}", self.cells().join(" | "))
    }
}

const COLUMNS: [&str; 15] = [
    "waiter",
    "N",
    "succeeded",
    "peak RSS MiB",
    "KiB per wait",
    "CPU s",
    "CPU s per 1,000 polls",
    "steady CPU s per 1,000 polls",
    "steady polls",
    "polls",
    "polls/s",
    "fds peak",
    "stall ms (start took)",
    "delay median s",
    "wall s",
];

fn print_tables(rows: &[Row], baseline: &HashMap<&'static str, u64>) {
    let mut table = Table::new(&COLUMNS);
    for row in rows {
        table.row(row.cells());
    }
    let base: Vec<String> = baseline
        .iter()
        .map(|(k, v)| format!("{k} {:.1} MiB", *v as f64 / 1024.0))
        .collect();
    println!("\nBaseline (one wait): {}\n", base.join(", "));
    println!("{}", table.render());

    let mut ratios = Table::new(&[
        "N",
        "anaplan-sdk CPU per poll ÷ library's",
        "÷ CLI's",
        "steady: anaplan-sdk ÷ library's",
        "÷ CLI's",
        "library KiB per wait ÷ anaplan-sdk's",
        "CLI's ÷ anaplan-sdk's",
    ]);
    let find = |kind, n| rows.iter().find(|r| r.kind == kind && r.n == n);
    for sdk in rows.iter().filter(|r| r.kind == Kind::Sdk) {
        let lib = find(Kind::Library, sdk.n);
        let cli = find(Kind::Cli, sdk.n);
        let cpu =
            |r: Option<&Row>| r.map_or(f64::NAN, |r| sdk.cpu_per_1000_polls / r.cpu_per_1000_polls);
        let steady = |r: Option<&Row>| {
            r.map_or(f64::NAN, |r| {
                sdk.steady_cpu_per_1000_polls / r.steady_cpu_per_1000_polls
            })
        };
        let mem = |r: Option<&Row>| r.map_or(f64::NAN, |r| r.per_wait_kib / sdk.per_wait_kib);
        ratios.row(vec![
            sdk.n.to_string(),
            format!("{}×", num(cpu(lib), 1)),
            format!("{}×", num(cpu(cli), 1)),
            format!("{}×", num(steady(lib), 1)),
            format!("{}×", num(steady(cli), 1)),
            format!("{}×", num(mem(lib), 2)),
            format!("{}×", num(mem(cli), 2)),
        ]);
    }
    println!("{}", ratios.render());
}
