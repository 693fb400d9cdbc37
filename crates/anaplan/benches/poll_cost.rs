//! What one status poll costs the client: allocations, bytes allocated and time per
//! poll, counted in the client's process only (the simulator runs in a child), over
//! `POLLS` sequential status calls of a running task on the in-process simulator; and
//! the same for parsing an `IN_PROGRESS` body alone. Prints a table; asserts nothing.
//!
//! `cargo bench -p runwait-anaplan --bench poll_cost`

use std::alloc::System;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, StartOptions, TaskKind, TaskTarget};
use runwait_core::TaskStatusBody;
use runwait_sim::{Scenario, SimConfig, Simulator};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

const POLLS: u32 = 5_000;
const PARSES: u32 = 100_000;
/// Set in the child process that runs the simulator.
const SIM_ENV: &str = "RUNWAIT_POLL_COST_SIM";

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// This process's CPU time (user and system) from `/proc/self/stat`, in clock ticks
/// of 10 ms: coarse, so the rounds are many.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(Vec::new(), |(_, rest)| rest.split(' ').collect());
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Duration::from_millis((tick(11) + tick(12)) * 10)
}

/// Per round of `f` run `rounds` times: allocations, bytes allocated, wall time, CPU.
fn measure(rounds: u32, mut f: impl FnMut()) -> (f64, f64, Duration, Duration) {
    f();
    let region = Region::new(GLOBAL);
    let (start, cpu) = (Instant::now(), cpu_time());
    for _ in 0..rounds {
        f();
    }
    let (took, cpu) = (start.elapsed(), cpu_time() - cpu);
    let change = region.change();
    let per = |n: usize| n as f64 / f64::from(rounds);
    (
        per(change.allocations + change.reallocations),
        per(change.bytes_allocated),
        took / rounds,
        cpu / rounds,
    )
}

/// The child: the simulator with a day-long action, its URLs on stdout.
fn serve_simulator() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let mut scenario = Scenario::builtin();
        // A long action: every poll finds it running.
        scenario.workspaces[0].models[0].actions[0].duration = Duration::from_secs(86_400);
        let sim = Simulator::start(SimConfig::new(scenario).epoch(SystemTime::now()))
            .await
            .expect("the simulator");
        println!("{} {}", sim.api_url(), sim.auth_url());
        std::future::pending::<()>().await;
    });
}

fn main() {
    if std::env::var_os(SIM_ENV).is_some() {
        return serve_simulator();
    }
    // The simulator in a child process (this program again): its allocations are not
    // counted, only the client's.
    let mut child = Command::new(std::env::current_exe().expect("this program"))
        .env(SIM_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the simulator process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("the simulator's URLs");
    let (api, auth) = line.trim().split_once(' ').expect("two URLs");
    let (api, auth) = (api.to_owned(), auth.to_owned());

    // The client on this thread only.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = Client::builder(
        Endpoints::custom(&api, &auth).expect("endpoints"),
        BasicAuth::new("demo@runwait.local", Secret::new("demo")),
    )
    .build()
    .expect("a client");
    let target = TaskTarget::new(
        "8a81b09d5e8c6f27015e8d6c3f4a0b21",
        "75A40874E6B64FA3AE0743278996850F",
        TaskKind::Action,
        "117000000001",
    );
    let task = rt
        .block_on(client.start(&target, &StartOptions::default()))
        .expect("a start")
        .task_id;
    // A body as the simulator sends it, for the parser alone.
    let status = rt
        .block_on(client.status(&target, &task))
        .expect("a status");
    let body = serde_json::to_string(&serde_json::json!({"task": status})).expect("a body");

    let poll = measure(POLLS, || {
        rt.block_on(client.status(&target, &task))
            .expect("a status");
    });
    let parse = measure(PARSES, || {
        black_box(TaskStatusBody::parse(black_box(&body)).expect("a body"));
    });
    println!("client cost per status poll (the client's process only), {POLLS} polls");
    println!(
        "{:<24} {:>10} {:>12} {:>12} {:>12}",
        "", "allocs", "bytes", "wall", "CPU"
    );
    for (name, (allocs, bytes, wall, cpu)) in [
        ("status poll (HTTP)", poll),
        ("parse IN_PROGRESS body", parse),
    ] {
        println!("{name:<24} {allocs:>10.1} {bytes:>12.0} {wall:>12?} {cpu:>12?}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
