//! Many waits at once: starts `--waits N` steps together (one model each, a task that
//! runs for hours) against the simulator on loopback through the real client, with the
//! file store (or `--store memory`), on tokio's multi-threaded runtime in real time.
//! Prints the size of a step's future, how late a 10 ms ticker task got while the steps
//! started and saved their records (a stalled runtime shows here), the resident memory
//! before and with every step waiting, the bytes per wait, and the open file
//! descriptors; then detaches every step. Run with
//! `cargo run --release -p runwait-executor --example many_waits -- --waits 10000`
//! (not part of `cargo nextest`; the simulator's own state per task is in the figures).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, TaskKind, TaskTarget};
use runwait_core::{ModelId, ObjectId};
use runwait_executor::{
    EventSink, FileStore, MemoryStore, RateBudget, RunAndWait, StateStore, Step, StepContext,
    StepEvent, TokioEnv,
};
use runwait_sim::{ModelSpec, Scenario, SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
const ACTION: &str = "117000000001";

/// What to run, from the command line.
struct Options {
    waits: usize,
    memory_store: bool,
    /// Requests per second of the tenant's budget.
    rate: u32,
    /// How long every step waits together before they are detached.
    hold: Duration,
    /// Only start the tasks through the client, without steps: the simulator's share.
    sim_only: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        waits: 10_000,
        memory_store: false,
        rate: 2_000,
        hold: Duration::from_secs(10),
        sim_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--waits" => o.waits = value()?.parse().map_err(|e| format!("--waits: {e}"))?,
            "--rate" => o.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--hold" => {
                o.hold = Duration::from_secs(value()?.parse().map_err(|e| format!("--hold: {e}"))?)
            }
            "--store" => o.memory_store = value()? == "memory",
            "--sim-only" => o.sim_only = true,
            other => {
                return Err(format!(
                    "unknown option {other}; options: --waits N --rate R --hold SECONDS --store file|memory --sim-only"
                ));
            }
        }
    }
    Ok(o)
}

/// One model per wait, each with one action of ten hours.
fn scenario(waits: usize) -> Scenario {
    let mut s = Scenario::builtin();
    let mut action = s.workspaces[0].models[0].actions[0].clone();
    action.id = ObjectId::new(ACTION);
    action.duration = Duration::from_secs(10 * 3600);
    s.workspaces[0].models = (0..waits)
        .map(|i| {
            ModelSpec::with_actions(
                ModelId::new(format!("{i:032X}")),
                format!("Model {i}"),
                vec![action.clone()],
            )
        })
        .collect();
    s
}

/// A number of `/proc/self/status` (`VmRSS`, `VmHWM` in kB; `Threads`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// The largest lateness of a 10 ms ticker, in microseconds, since the last reset; with
/// `STALLS=1` in the environment, each lateness over 20 ms is printed with its time.
fn ticker(worst: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    let verbose = std::env::var_os("STALLS").is_some();
    tokio::spawn(async move {
        let period = Duration::from_millis(10);
        let began = Instant::now();
        let mut due = Instant::now() + period;
        loop {
            tokio::time::sleep_until(due.into()).await;
            let late = Instant::now().saturating_duration_since(due);
            if verbose && late > Duration::from_millis(20) {
                eprintln!(
                    "{:>8.3} s: timer {:.1} ms late",
                    began.elapsed().as_secs_f64(),
                    late.as_secs_f64() * 1e3
                );
            }
            worst.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
            due = Instant::now() + period;
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(o))
}

async fn run(o: Options) -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig::new(scenario(o.waits)).epoch(SystemTime::now())).await?;
    let endpoints = Endpoints::custom(&sim.api_url(), &sim.auth_url())?;
    let client = Client::builder(
        endpoints,
        BasicAuth::new("demo@runwait.local", Secret::new("demo")),
    )
    .build()?;
    let api = Arc::new(client);
    let budget = RateBudget::per_second(o.rate);
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn StateStore> = if o.memory_store {
        Arc::new(MemoryStore::new())
    } else {
        Arc::new(FileStore::new(dir.path().join("state")))
    };
    let detach = CancellationToken::new();
    let started = Arc::new(AtomicUsize::new(0));
    let events = {
        let started = started.clone();
        EventSink::new(move |_, event| {
            if matches!(event, StepEvent::Started { .. }) {
                started.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let step_for = |i: usize| {
        let target = TaskTarget::new(WORKSPACE, format!("{i:032X}"), TaskKind::Action, ACTION);
        let step = RunAndWait::new(api.clone(), target)
            .budget(budget.clone())
            .env(Arc::new(TokioEnv::seeded(i as u64)));
        let ctx = StepContext::builder(format!("wait-{i}"), "many")
            .workflow("many_waits")
            .state(store.clone())
            .out_dir(dir.path().join("out"))
            .detach(detach.clone())
            .events(events.clone())
            .build();
        (step, ctx)
    };
    {
        let (step, ctx) = step_for(usize::MAX);
        let future = step.run(ctx);
        println!(
            "size of a step's future (RunAndWait::run): {} bytes",
            std::mem::size_of_val(&*future)
        );
    }

    if o.sim_only {
        return sim_share(&o, &sim, api).await;
    }

    let worst = Arc::new(AtomicU64::new(0));
    let tick = ticker(worst.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (rss_before, fds_before) = (status_kb("VmRSS"), open_fds());
    worst.store(0, Ordering::Relaxed);

    let began = Instant::now();
    let mut steps = tokio::task::JoinSet::new();
    for i in 0..o.waits {
        let (step, ctx) = step_for(i);
        steps.spawn(async move { step.run(ctx).await });
    }
    if std::env::var_os("STALLS").is_some() {
        eprintln!(
            "spawned {} steps in {:.1} ms",
            o.waits,
            began.elapsed().as_secs_f64() * 1e3
        );
    }
    // The simulator's journal is emptied as the steps go, so it does not count as theirs.
    let (mut max_fds, mut max_threads) = (0, 0);
    while started.load(Ordering::Relaxed) < o.waits {
        sim.take_journal();
        max_fds = max_fds.max(open_fds());
        max_threads = max_threads.max(status_kb("Threads"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        if began.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "only {} of {} started",
                started.load(Ordering::Relaxed),
                o.waits
            )
            .into());
        }
    }
    let start_took = began.elapsed();
    let stall_starting = worst.swap(0, Ordering::Relaxed);

    let held = Instant::now();
    while held.elapsed() < o.hold {
        sim.take_journal();
        max_fds = max_fds.max(open_fds());
        max_threads = max_threads.max(status_kb("Threads"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stall_waiting = worst.load(Ordering::Relaxed);
    let (rss_waiting, peak) = (status_kb("VmRSS"), status_kb("VmHWM"));
    let fds_waiting = open_fds();

    detach.cancel();
    let mut detached = 0;
    while let Some(joined) = steps.join_next().await {
        if joined?.outcome == runwait_executor::StepOutcome::Detached {
            detached += 1;
        }
    }
    tick.abort();
    let per_wait = (rss_waiting.saturating_sub(rss_before) * 1024) / o.waits.max(1) as u64;
    println!(
        "{} waits ({} store, budget {}/s): all started in {:.1} s; {detached} detached at the end",
        o.waits,
        if o.memory_store { "memory" } else { "file" },
        o.rate,
        start_took.as_secs_f64()
    );
    println!(
        "max lateness of a 10 ms timer: {:.1} ms while starting, {:.1} ms while waiting ({} s)",
        stall_starting as f64 / 1000.0,
        stall_waiting as f64 / 1000.0,
        o.hold.as_secs()
    );
    println!(
        "rss: {rss_before} kB before, {rss_waiting} kB with every step waiting, peak {peak} kB; \
         {per_wait} bytes per wait (simulator included)"
    );
    println!(
        "open file descriptors: {fds_before} before, {fds_waiting} while waiting, at most {max_fds}; \
         at most {max_threads} threads (sampled)"
    );
    Ok(())
}

/// Starts one task per model through the client alone (64 at a time) and prints the
/// memory that takes: what the simulator and the client hold without any step.
async fn sim_share(
    o: &Options,
    sim: &Simulator,
    api: Arc<Client>,
) -> Result<(), Box<dyn std::error::Error>> {
    use runwait_executor::TaskApi;
    let before = status_kb("VmRSS");
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..o.waits {
        let (api, gate) = (api.clone(), gate.clone());
        starts.spawn(async move {
            let _turn = gate.acquire().await;
            let target = TaskTarget::new(WORKSPACE, format!("{i:032X}"), TaskKind::Action, ACTION);
            let options = runwait_core::target::StartOptions::default();
            TaskApi::start(&*api, &target, &options, &Default::default()).await
        });
    }
    while let Some(started) = starts.join_next().await {
        started??;
        sim.take_journal();
    }
    sim.take_journal();
    let after = status_kb("VmRSS");
    println!(
        "{} tasks started without steps: rss {before} kB before, {after} kB after; {} bytes per task",
        o.waits,
        (after.saturating_sub(before) * 1024) / o.waits.max(1) as u64
    );
    Ok(())
}
