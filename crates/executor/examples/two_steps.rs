//! A tiny host runner: two `RunAndWait` steps in sequence, the second only if the first
//! succeeded, against the embedded simulator. Run with
//! `cargo run -p runwait-executor --example two_steps`.

use std::sync::Arc;
use std::time::Duration;

use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, TaskKind, TaskTarget};
use runwait_executor::{
    EventSink, PollPolicy, RunAndWait, RunKey, StateStore, Step, StepContext, StepEvent, WaitConfig,
};
use runwait_sim::{Scenario, SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

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
    let config = WaitConfig {
        poll: PollPolicy {
            min_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(1),
            ..PollPolicy::default()
        },
        ..WaitConfig::default()
    };
    let work = std::env::temp_dir().join("runwait-example");
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
        let ctx = StepContext {
            step_id: step_id.to_owned(),
            workflow: "example".to_owned(),
            run_key: RunKey::new(format!("{}", std::process::id())),
            cancel: CancellationToken::new(),
            detach: CancellationToken::new(),
            deadline: None,
            state: StateStore::new(work.join("state")),
            out_dir: work.join("out"),
            events: EventSink::new(|step, event| {
                if let StepEvent::Polled {
                    state, progress, ..
                } = event
                {
                    println!("  {step}: {state} {:.0}%", progress.unwrap_or(0.0) * 100.0);
                }
            }),
        };
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
    sim.shutdown().await;
    Ok(())
}
