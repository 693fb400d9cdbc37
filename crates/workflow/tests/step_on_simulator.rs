//! `runwait_workflow::step()` against the simulator on loopback, in paused time: a host's
//! `StepSpec` read from YAML (the object by id, or by name and looked up) becomes a
//! run-and-wait that starts the right object and waits for its outcome.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runwait_anaplan::{BasicAuth, Client, Endpoints, RetryPolicy, Secret};
use runwait_executor::{
    MemoryStore, PollPolicy, Step, StepContext, StepOutcome, StepResult, WaitConfig,
};
use runwait_sim::{Scenario, SimConfig, Simulator};
use runwait_workflow::StepSpec;

const IN_MODEL: &str = "
  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21
  model: 75A40874E6B64FA3AE0743278996850F";

async fn simulator() -> (Simulator, Arc<Client>) {
    let sim = Simulator::start(SimConfig::new(Scenario::builtin()).epoch(SystemTime::now()))
        .await
        .unwrap();
    let endpoints = Endpoints::custom(&sim.api_url(), &sim.auth_url()).unwrap();
    let client = Client::builder(
        endpoints,
        BasicAuth::new("demo@runwait.local", Secret::new("demo")),
    )
    .retry(RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        budget: Duration::from_secs(10),
        jitter_seed: Some(3),
    })
    .pool_idle_timeout(None)
    .build()
    .unwrap();
    (sim, Arc::new(client))
}

/// The executor's context for a step: the id and the run key, an in-memory store.
fn context(step_id: &str, dir: &std::path::Path) -> StepContext {
    StepContext::builder(step_id, "run-1")
        .workflow("host")
        .state(Arc::new(MemoryStore::new()))
        .out_dir(dir.join("out"))
        .build()
}

/// Reads `yaml` as a host would, makes the step runnable and runs it to its outcome;
/// returns the result and the object the simulator ran.
async fn run(yaml: &str) -> (StepResult, String) {
    let (sim, client) = simulator().await;
    let spec: StepSpec = serde_saphyr::from_str(yaml).unwrap();
    let step = runwait_workflow::step(&spec, client, None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = step.run(context("job", dir.path())).await;
    let tasks = sim.tasks();
    assert_eq!(tasks.len(), 1, "one task started: {tasks:?}");
    let object = tasks[0].object_id.as_str().to_owned();
    sim.shutdown().await;
    (result, object)
}

#[tokio::test(start_paused = true)]
async fn a_step_by_id_runs_that_object() {
    let yaml = format!("uses: anaplan/action\nwith:\n  id: 117000000001{IN_MODEL}\n");
    let (result, object) = run(&yaml).await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{result:?}");
    assert_eq!(object, "117000000001");
}

#[tokio::test(start_paused = true)]
async fn a_step_by_name_runs_the_object_of_that_name() {
    // `Revenue.csv` is the export 116000000001 of the built-in scenario.
    let yaml = format!("uses: anaplan/export\nwith:\n  name: Revenue.csv{IN_MODEL}\n");
    let (result, object) = run(&yaml).await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{result:?}");
    assert_eq!(object, "116000000001");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_name_is_a_config_error() {
    let (sim, client) = simulator().await;
    let yaml = format!("uses: anaplan/export\nwith:\n  name: No such export{IN_MODEL}\n");
    let spec: StepSpec = serde_saphyr::from_str(&yaml).unwrap();
    let Err(err) = runwait_workflow::step(&spec, client, None).await else {
        panic!("a name that is not in the model is looked up")
    };
    assert!(err.is_config(), "{err}");
    assert!(sim.tasks().is_empty());
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_step_learns_from_past_runs_unless_it_or_the_host_says_not_to() {
    let (sim, client) = simulator().await;
    let on = WaitConfig::default();
    let off = on.with_poll(PollPolicy::default().with_history(false));
    let cases = [
        ("", on, true),
        ("", off, false),
        ("poll: {history: false}", on, false),
        ("poll: {history: true}", off, true),
        ("poll: {}", off, false),
    ];
    for (poll, base, learns) in cases {
        let yaml = format!("uses: anaplan/action\nwith:\n  id: '117000000001'{IN_MODEL}\n{poll}\n");
        let spec: StepSpec = serde_saphyr::from_str(&yaml).unwrap();
        let step = runwait_workflow::step_with(&spec, client.clone(), None, base)
            .await
            .unwrap();
        assert_eq!(step.wait_config().poll.history, learns, "{poll:?}");
    }
    sim.shutdown().await;
}
