//! The runner with real run-and-wait steps against the simulator on loopback, in paused
//! time: retries start a new task each and report under the node id, tokens cancel or
//! detach the remote tasks, timeouts are deadlines.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use runwait_anaplan::{BasicAuth, Client, Endpoints, RetryPolicy, Secret, TaskKind, TaskTarget};
use runwait_core::TaskState;
use runwait_executor::{
    FileStore, PollPolicy, RunAndWait, RunKey, StepEvent, StepKey, StepOutcome, TokioEnv,
    WaitConfig,
};
use runwait_runner::{Node, RunEvent, RunEventSink, RunReport, Runner, Store};
use runwait_sim::{CallKind, Curve, Fault, FaultKind, Scenario, SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
const MODEL: &str = "75A40874E6B64FA3AE0743278996850F";
/// A process whose import fails (`Customer load (fails)`).
const FAILING_PROCESS: &str = "118000000003";
/// The first action, made an hour long by [`hour_long`].
const SLOW_ACTION: &str = "117000000001";

struct Harness {
    sim: Simulator,
    client: Arc<Client>,
    dir: tempfile::TempDir,
    cancel: CancellationToken,
    detach: CancellationToken,
    events: Arc<Mutex<Vec<RunEvent>>>,
}

async fn harness(scenario: Scenario) -> Harness {
    let sim = Simulator::start(SimConfig::new(scenario).epoch(SystemTime::now()))
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
    Harness {
        sim,
        client: Arc::new(client),
        dir: tempfile::tempdir().unwrap(),
        cancel: CancellationToken::new(),
        detach: CancellationToken::new(),
        events: Arc::default(),
    }
}

fn hour_long() -> Scenario {
    let mut s = Scenario::builtin();
    let action = &mut s.workspaces[0].models[0].actions[0];
    action.duration = Duration::from_secs(3600);
    action.progress = Curve::Linear;
    s
}

impl Harness {
    fn node(&self, id: &str, kind: TaskKind, object: &str) -> runwait_runner::NodeBuilder {
        let step = RunAndWait::new(
            self.client.clone(),
            TaskTarget::new(WORKSPACE, MODEL, kind, object),
        )
        .config(WaitConfig::default().with_poll(PollPolicy::default().with_jitter(0.0)))
        .env(Arc::new(TokioEnv::seeded(7)));
        Node::builder(id, Arc::new(step))
    }

    fn store(&self) -> Store {
        Arc::new(FileStore::new(self.dir.path().join("state")))
    }

    fn runner(&self, run_key: &str) -> Runner {
        let events = self.events.clone();
        Runner::builder("nightly", RunKey::new(run_key))
            .state(self.store())
            .out_dir(self.dir.path().join("out"))
            .cancel(self.cancel.clone())
            .detach(self.detach.clone())
            .events(RunEventSink::callback(move |e| {
                events.lock().unwrap().push(e)
            }))
            .build()
    }

    async fn run(&self, run_key: &str, nodes: Vec<Node>) -> RunReport {
        self.runner(run_key).run(nodes).await.unwrap()
    }

    fn starts(&self) -> usize {
        self.sim
            .journal()
            .iter()
            .filter(|e| e.method == "POST" && e.path.ends_with("/tasks"))
            .count()
    }

    fn deletes(&self) -> usize {
        self.sim
            .journal()
            .iter()
            .filter(|e| e.method == "DELETE")
            .count()
    }
}

fn fire_after(token: &CancellationToken, secs: u64) {
    let token = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        token.cancel();
    });
}

#[tokio::test(start_paused = true)]
async fn a_retry_starts_a_new_task_and_reports_under_the_node_id() {
    let h = harness(Scenario::builtin()).await;
    let node = h
        .node("customers", TaskKind::Process, FAILING_PROCESS)
        .retries(1)
        .build();
    let report = h.run("r1", vec![node]).await;
    let customers = report.get("customers").unwrap();
    assert_eq!(
        (customers.outcome_name(), customers.attempts()),
        ("failed", 2)
    );
    assert_eq!(h.starts(), 2, "each attempt starts its own task");
    // The state store keeps a record per attempt, as before.
    let store = h.store();
    for step in ["customers", "customers.retry1"] {
        let key = StepKey::new("nightly", step, "r1");
        assert!(
            store.load(&key).await.unwrap().is_some(),
            "no record of {key}"
        );
    }

    let events = h.events.lock().unwrap();
    assert!(
        events.iter().all(|e| e.id().as_str() == "customers"),
        "no event under `customers.retry1`: {events:?}"
    );
    let second: Vec<&StepEvent> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Step {
                attempt: 2, event, ..
            } => Some(event),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            second.first(),
            Some(StepEvent::Started { adopted: false, .. })
        ),
        "the second attempt starts a task: {second:?}"
    );
    assert!(
        second
            .iter()
            .any(|e| matches!(e, StepEvent::Polled { progress: Some(p), .. } if *p > 0.0)),
        "the second attempt's progress is reported: {second:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_cancel_token_cancels_the_remote_task_and_skips_the_rest() {
    let h = harness(hour_long()).await;
    fire_after(&h.cancel, 30);
    let report = h
        .run(
            "r1",
            vec![
                h.node("slow", TaskKind::Action, SLOW_ACTION)
                    .retries(3)
                    .build(),
                h.node("after", TaskKind::Action, SLOW_ACTION)
                    .needs(["slow"])
                    .build(),
            ],
        )
        .await;
    let slow = report.get("slow").unwrap();
    assert_eq!((slow.outcome_name(), slow.attempts()), ("cancelled", 1));
    assert_eq!(
        slow.result().unwrap().task_state,
        Some(TaskState::Cancelled)
    );
    assert_eq!(h.deletes(), 1);
    assert_eq!(
        report.get("after").unwrap().skip_reason(),
        Some("the run was interrupted")
    );
    assert!(report.interrupted);
    assert_eq!(report.outcome(), StepOutcome::Cancelled);
    assert_eq!(h.starts(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_detach_token_leaves_the_task_for_a_rerun_to_reattach() {
    let h = harness(hour_long()).await;
    fire_after(&h.detach, 30);
    let report = h
        .run(
            "r1",
            vec![h.node("slow", TaskKind::Action, SLOW_ACTION).build()],
        )
        .await;
    assert_eq!(report.get("slow").unwrap().outcome_name(), "detached");
    assert_eq!(report.outcome(), StepOutcome::Cancelled);
    assert_eq!(h.deletes(), 0, "a detach leaves the task running");

    let rerun = Harness {
        detach: CancellationToken::new(),
        ..h
    };
    let report = rerun
        .run(
            "r1",
            vec![rerun.node("slow", TaskKind::Action, SLOW_ACTION).build()],
        )
        .await;
    let slow = report.get("slow").unwrap();
    assert_eq!(slow.outcome_name(), "succeeded");
    assert!(slow.result().unwrap().reattached);
    assert_eq!(
        rerun.starts(),
        1,
        "the rerun reattaches instead of starting"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_cancels_the_task_and_a_retry_starts_another() {
    let h = harness(hour_long()).await;
    let report = h
        .run(
            "r1",
            vec![
                h.node("slow", TaskKind::Action, SLOW_ACTION)
                    .timeout(Duration::from_secs(600))
                    .retries(1)
                    .build(),
            ],
        )
        .await;
    let slow = report.get("slow").unwrap();
    assert_eq!((slow.outcome_name(), slow.attempts()), ("timed_out", 2));
    assert_eq!(
        slow.result().unwrap().task_state,
        Some(TaskState::Cancelled)
    );
    assert_eq!(h.starts(), 2);
    assert_eq!(h.deletes(), 2);
    assert_eq!(report.outcome(), StepOutcome::TimedOut);
}

/// A start whose answer was lost and whose looks could not run (the task list failed):
/// the attempt ends in `error` with no task, and the retry finds the task the lost start
/// created instead of starting another. Each ambiguous answer the client never resends.
#[tokio::test(start_paused = true)]
async fn a_retry_after_an_ambiguous_start_adopts_the_task_it_may_have_created() {
    for lost in [
        FaultKind::LostStartStatus(504),
        FaultKind::LostStartStatus(502),
        FaultKind::LostStartResponse,
    ] {
        let h = harness(Scenario::builtin()).await;
        h.sim
            .add_fault(Fault::new(CallKind::Start, 0, 1, lost.clone()))
            .unwrap();
        // The listing before the start answers; the looks after it (3 requests each,
        // with the client's 2 retries) do not.
        h.sim
            .add_fault(Fault::new(CallKind::List, 1, 3, FaultKind::http(503)))
            .unwrap();
        let node = h
            .node("load", TaskKind::Process, "118000000001")
            .retries(2)
            .build();
        let report = h.run("r1", vec![node]).await;
        let load = report.get("load").unwrap();
        let result = load.result().unwrap();
        assert_eq!(
            (load.outcome_name(), load.attempts()),
            ("succeeded", 2),
            "{lost:?}: {}",
            result.message
        );
        assert_eq!(h.starts(), 1, "{lost:?}: one task in the journal");
        assert_eq!(h.sim.tasks().len(), 1, "{lost:?}");
        assert_eq!(
            result.task_id.as_ref().map(|t| t.as_str().to_owned()),
            Some(h.sim.tasks()[0].task_id.to_string()),
            "{lost:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_step_names_its_timeout_as_configured() {
    for timeout in [Duration::from_secs(8), Duration::from_millis(8500)] {
        let h = harness(hour_long()).await;
        let report = h
            .run(
                "r1",
                vec![
                    h.node("slow", TaskKind::Action, SLOW_ACTION)
                        .timeout(timeout)
                        .build(),
                ],
            )
            .await;
        let message = &report.get("slow").unwrap().result().unwrap().message;
        assert!(
            message.starts_with(&format!("timed out after {timeout:?};")),
            "{message}"
        );
    }
}
