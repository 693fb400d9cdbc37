//! The soak: 2,000 concurrent waits for two hours of scenario time (each of 2,000 slots
//! starts its next wait when one ends), with 5 % of the requests failing transiently,
//! against the simulator on loopback through the real client. Prints the process's
//! resident memory every ten scenario minutes and the figures at the end; exits
//! non-zero if an outcome is wrong, a wait started other than one task, or memory grew
//! after warm-up. Run with
//! `cargo run -p runwait-executor --example soak` (not part of `cargo nextest`).
//!
//! Time is tokio's paused clock, which the simulator shares: two hours take as long as
//! the CPU needs (the whole of the speed-up), and every delay is exact.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, TaskKind, TaskTarget};
use runwait_core::{ModelId, ObjectId};
use runwait_executor::{
    FileStore, RateBudget, RunAndWait, Step, StepContext, StepOutcome, TokioEnv, WaitConfig,
};
use runwait_sim::{
    Answer, CallKind, Curve, Fault, FaultKind, JobSpec, ModelSpec, Outcome, Scenario, SimConfig,
    Simulator,
};

/// Concurrent waits: each slot runs one wait after another for the whole soak.
const SLOTS: usize = 2000;
/// Actions of each slot's model, run in turn (a model runs one task at a time).
const ACTIONS: usize = 8;
const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
/// How long the slots keep starting waits (scenario time).
const SOAK: Duration = Duration::from_secs(2 * 3600);
/// Scenario time between two memory samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(600);
/// Every slot has started and polled a few times by then.
const WARM_UP: Duration = Duration::from_secs(1800);
/// Resident memory may exceed the warm-up's by this share (allocator noise), no more.
const TOLERANCE: f64 = 0.10;

/// Action `a` of slot `i`: ten to forty minutes, three progress curves (a steady one,
/// plateaus, none until the end), one in four failing.
fn action(template: &JobSpec, i: usize, a: usize) -> JobSpec {
    let mut spec = template.clone();
    spec.id = ObjectId::new(format!("1170000000{:02}", a + 1));
    spec.name = format!("Action {a}");
    spec.duration = Duration::from_secs(60 * (10 + ((i * 7 + a * 13) % 31) as u64));
    spec.progress = match (i + a) % 3 {
        0 => Curve::Linear,
        1 => Curve::Steps(4),
        _ => Curve::Stuck,
    };
    spec.outcome = if (i + a) % 4 == 3 {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    spec
}

fn expected(i: usize, a: usize) -> StepOutcome {
    if (i + a) % 4 == 3 {
        StepOutcome::Failed
    } else {
        StepOutcome::Succeeded
    }
}

/// One model per slot, with its actions.
fn scenario() -> Scenario {
    let mut s = Scenario::builtin();
    let template = s.workspaces[0].models[0].actions[0].clone();
    s.workspaces[0].models = (0..SLOTS)
        .map(|i| {
            ModelSpec::with_actions(
                ModelId::new(format!("{i:032X}")),
                format!("Model {i}"),
                (0..ACTIONS).map(|a| action(&template, i, a)).collect(),
            )
        })
        .collect();
    s
}

/// 5 % of all calls fail, each kind of transient failure in turn: one call in 80 for
/// each of four faults, offset so that no call gets two.
fn transient_faults() -> Vec<Fault> {
    let kinds = [
        FaultKind::http(503),
        FaultKind::http(500),
        FaultKind::Http {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
        },
        FaultKind::Reset,
    ];
    kinds
        .into_iter()
        .zip([0, 20, 40, 60])
        .map(|(kind, after)| Fault::new(CallKind::Any, after, 0, kind).every(80))
        .collect()
}

/// `VmRSS` of this process, in kB.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    let failures = runtime.block_on(soak())?;
    if failures.is_empty() {
        println!("soak: passed");
        Ok(())
    } else {
        for f in &failures {
            eprintln!("soak: {f}");
        }
        Err(format!("{} check(s) failed", failures.len()).into())
    }
}

/// One slot: waits on its model's actions in turn until the soak's time is up; the
/// slot, the waits it ran and what went wrong.
async fn slot(
    i: usize,
    api: Arc<Client>,
    budget: RateBudget,
    store: Arc<FileStore>,
    out: std::path::PathBuf,
    ends: tokio::time::Instant,
    done: Arc<AtomicUsize>,
) -> (usize, usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut round = 0;
    while tokio::time::Instant::now() < ends {
        let a = round % ACTIONS;
        let action = format!("1170000000{:02}", a + 1);
        let target = TaskTarget::new(WORKSPACE, format!("{i:032X}"), TaskKind::Action, action);
        let step = RunAndWait::new(api.clone(), target)
            .config(WaitConfig::default())
            .budget(budget.clone())
            .env(Arc::new(TokioEnv::seeded((i * 100 + round) as u64)));
        let ctx = StepContext::builder(format!("slot-{i}-{round}"), "soak")
            .workflow("soak")
            .state(store.clone())
            .out_dir(out.clone())
            .build();
        let result = step.run(ctx).await;
        if result.outcome != expected(i, a) {
            failures.push(format!(
                "slot {i}, wait {round}: {} instead of {}: {}",
                result.outcome.name(),
                expected(i, a).name(),
                result.message
            ));
        }
        done.fetch_add(1, Ordering::Relaxed);
        round += 1;
    }
    (i, round, failures)
}

/// Requests so far, and those that failed transiently (the journal is emptied as it
/// is read, so it does not grow with the soak).
#[derive(Default)]
struct Calls {
    all: usize,
    failed: usize,
}

impl Calls {
    fn take(&mut self, sim: &Simulator) {
        let journal = sim.take_journal();
        self.all += journal.len();
        self.failed += journal
            .iter()
            .filter(|e| matches!(e.answer, Answer::Status(500 | 503 | 429) | Answer::Reset))
            .count();
    }
}

/// Runs the soak; what went wrong, if anything.
async fn soak() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let wall = std::time::Instant::now();
    let sim = Simulator::start(SimConfig::new(scenario()).epoch(SystemTime::now())).await?;
    for fault in transient_faults() {
        sim.add_fault(fault)?;
    }
    let endpoints = Endpoints::custom(&sim.api_url(), &sim.auth_url())?;
    let client = Client::builder(
        endpoints,
        BasicAuth::new("demo@runwait.local", Secret::new("demo")),
    )
    // Idle connections are not closed on the paused clock's jumps.
    .pool_idle_timeout(None)
    // A start is sent at most 3 times by default; at 5 % failures one start in 8,000
    // (0.05^3) fails three times in a row and its wait ends in `error` (the first soak
    // saw 1 in 10,230). As many sends as the other calls get (1 + 6 retries).
    .start_attempts(7)
    .build()?;
    let api = Arc::new(client);
    let budget = RateBudget::per_second(50);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(FileStore::new(dir.path().join("state")));

    let began = tokio::time::Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let mut slots = tokio::task::JoinSet::new();
    for i in 0..SLOTS {
        slots.spawn(slot(
            i,
            api.clone(),
            budget.clone(),
            store.clone(),
            dir.path().join("out"),
            began + SOAK,
            done.clone(),
        ));
    }

    let mut failures = Vec::new();
    let mut calls = Calls::default();
    let mut rounds = HashMap::new();
    let mut samples = vec![(Duration::ZERO, rss_kb())];
    let mut next_sample = began + SAMPLE_EVERY;
    println!(
        "{:>6} {:>9} {:>6} {:>8}",
        "minute", "rss_kb", "waits", "requests"
    );
    while rounds.len() < SLOTS {
        tokio::select! {
            joined = slots.join_next() => {
                let (i, ran, slot_failures) = joined.expect("every slot")?;
                rounds.insert(format!("{i:032X}"), ran);
                failures.extend(slot_failures);
            }
            () = tokio::time::sleep_until(next_sample) => {
                let at = next_sample - began;
                calls.take(&sim);
                let rss = rss_kb();
                samples.push((at, rss));
                let waits = done.load(Ordering::Relaxed);
                println!("{:>6} {rss:>9} {waits:>6} {:>8}", at.as_secs() / 60, calls.all);
                next_sample += SAMPLE_EVERY;
            }
        }
    }
    let scenario_time = began.elapsed();
    calls.take(&sim);

    // One task per wait: each model has as many tasks as its slot ran waits.
    let mut tasks: HashMap<String, usize> = HashMap::new();
    for t in sim.tasks() {
        *tasks.entry(t.model_id.to_string()).or_default() += 1;
    }
    let off: Vec<_> = tasks
        .iter()
        .filter(|(m, n)| rounds.get(*m) != Some(n))
        .collect();
    if tasks.len() != SLOTS || !off.is_empty() {
        failures.push(format!(
            "{} models with tasks; {} with other than one task per wait: {:?}",
            tasks.len(),
            off.len(),
            off.iter().take(5).collect::<Vec<_>>()
        ));
    }

    let warm = samples
        .iter()
        .find(|(at, _)| *at >= WARM_UP)
        .map_or(0, |s| s.1);
    let peak_after = samples
        .iter()
        .filter(|(at, _)| *at > WARM_UP)
        .map(|s| s.1)
        .max()
        .unwrap_or(warm);
    let growth = peak_after as f64 / warm.max(1) as f64 - 1.0;
    println!(
        "{SLOTS} concurrent waits for {} min, {} waits in all; scenario time {:.0} min, wall {:.0} s",
        SOAK.as_secs() / 60,
        done.load(Ordering::Relaxed),
        scenario_time.as_secs_f64() / 60.0,
        wall.elapsed().as_secs_f64()
    );
    println!(
        "requests: {}, failed transiently: {} ({:.1} %)",
        calls.all,
        calls.failed,
        100.0 * calls.failed as f64 / calls.all.max(1) as f64
    );
    println!(
        "rss: {} kB at start, {warm} kB after warm-up ({} min), peak after it {peak_after} kB ({:+.1} %), {} kB at the end",
        samples[0].1,
        WARM_UP.as_secs() / 60,
        100.0 * growth,
        rss_kb()
    );
    if growth > TOLERANCE {
        failures.push(format!(
            "memory grew {:.1} % after warm-up (more than {:.0} %)",
            100.0 * growth,
            100.0 * TOLERANCE
        ));
    }
    Ok(failures)
}
