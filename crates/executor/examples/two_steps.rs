//! A tiny host runner: two `RunAndWait` steps in sequence, the second only if the first
//! succeeded, against the embedded simulator. Run with
//! `cargo run -p runwait-executor --example two_steps`.

use std::sync::Arc;
use std::time::Duration;

use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, TaskKind, TaskTarget};
use runwait_executor::{
    EventSink, FileStore, PollPolicy, RunAndWait, Step, StepContext, StepEvent, WaitConfig,
};
use runwait_sim::{Scenario, SimConfig, Simulator};

const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
const MODEL: &str = "75A40874E6B64FA3AE0743278996850F";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The simulator runs 60 times faster than real time.
    let sim = Simulator::start(SimConfig::new(Scenario::builtin()).speed(60.0)).await?;
    let endpoints = Endpoints::custom(&sim.api_url(), &sim.auth_url())?;
    let client = Arc::new(
        Client::builder(
            endpoints,
            BasicAuth::new("demo@runwait.local", Secret::new("demo")),
        )
        .build()?,
    );
    // Anaplan asks for 5 s between polls; the simulator's time runs 60 times faster.
    let config = WaitConfig::default().with_poll(
        PollPolicy::default()
            .with_min_interval(Duration::from_millis(100))
            .with_max_interval(Duration::from_secs(1)),
    );
    // Progress arrives on a channel; a task of the host prints it.
    let (events, mut progress) = EventSink::channel();
    let printer = tokio::spawn(async move {
        while let Some((step, event)) = progress.recv().await {
            if let StepEvent::Polled {
                state, progress, ..
            } = event
            {
                println!("  {step}: {state} {:.0}%", progress.unwrap_or(0.0) * 100.0);
            }
        }
    });
    let state = Arc::new(FileStore::new(work_dir().join("state")));
    let steps = [
        ("nightly_load", "118000000001"),
        ("customer_load", "118000000003"),
    ];
    for (step_id, process) in steps {
        let step = RunAndWait::new(
            client.clone(),
            TaskTarget::new(WORKSPACE, MODEL, TaskKind::Process, process),
        )
        .config(config);
        let ctx = StepContext::builder(step_id, format!("{}", std::process::id()))
            .workflow("example")
            .state(state.clone())
            .out_dir(work_dir().join("out"))
            .events(events.clone())
            .build();
        let result = step.run(ctx).await;
        println!(
            "{step_id}: {} after {} polls: {}",
            result.outcome, result.polls, result.message
        );
        for dump in &result.dumps {
            if let Some(path) = &dump.path {
                println!("  dump {} ({} error rows)", path.display(), dump.error_rows);
            }
        }
        if !result.outcome.is_success() {
            println!("stopping: {step_id} did not succeed");
            break;
        }
    }
    drop(events);
    printer.await?;
    sim.shutdown().await;
    Ok(())
}

fn work_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("runwait-example")
}
