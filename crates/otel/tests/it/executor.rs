//! A real executor step, through the real client, against the simulator, exported over
//! OTLP/HTTP: one poll span per status request in the simulator's journal, and a
//! reattached wait linked to the step span of the run that started the task.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::{Span, Value, http_receiver_in_real_time};
use runwait_anaplan::{BasicAuth, Client, Endpoints, RetryPolicy, Secret, TaskKind, TaskTarget};
use runwait_executor::{
    FileStore, PollPolicy, RunAndWait, Step, StepContext, StepOutcome, StepResult, TokioEnv,
    TraceHook, WaitConfig,
};
use runwait_sim::{CallKind, Curve, Scenario, SimConfig, Simulator};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
const MODEL: &str = "75A40874E6B64FA3AE0743278996850F";

/// The hook the CLI installs: the executor stays free of OpenTelemetry types.
struct OtelHook;

impl TraceHook for OtelHook {
    fn traceparent(&self, span: &tracing::Span) -> Option<String> {
        runwait_otel::current_traceparent(span)
    }
    fn link(&self, span: &tracing::Span, traceparent: &str) {
        runwait_otel::link_to(span, traceparent)
    }
}

struct Harness {
    sim: Simulator,
    client: Client,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new(scenario: Scenario) -> Self {
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
        .build()
        .unwrap();
        Harness {
            sim,
            client,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn step(&self, kind: TaskKind, object: &str) -> RunAndWait {
        let config = WaitConfig::default().with_poll(PollPolicy::default().with_jitter(0.0));
        RunAndWait::new(
            Arc::new(self.client.clone()),
            TaskTarget::new(WORKSPACE, MODEL, kind, object),
        )
        .config(config)
        .env(Arc::new(TokioEnv::seeded(7)))
        .trace_hook(Arc::new(OtelHook))
    }

    fn ctx(&self, step_id: &str) -> StepContext {
        StepContext::builder(step_id, "r1")
            .workflow("nightly")
            .state(Arc::new(FileStore::new(self.dir.path().join("state"))))
            .out_dir(self.dir.path().join("out"))
            .build()
    }

    fn status_requests(&self) -> usize {
        self.sim
            .journal()
            .iter()
            .filter(|e| e.kind == CallKind::Status)
            .count()
    }
}

fn telemetry(endpoint: &str) -> runwait_otel::TelemetryConfig {
    runwait_otel::TelemetryConfig::default()
        .with_endpoint(endpoint)
        .with_scheduled_delay(Duration::from_millis(100))
}

/// Runs `step` under a workflow span of its own.
async fn run_in_workflow(step: &RunAndWait, ctx: StepContext) -> StepResult {
    let workflow = tracing::info_span!("runwait.workflow", workflow.name = "nightly");
    step.run(ctx).instrument(workflow).await
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn children_of<'a>(spans: &'a [Span], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn one_poll_span_per_status_request_of_a_real_step() {
    let (endpoint, received) = http_receiver_in_real_time();
    let h = Harness::new(Scenario::builtin()).await;
    let (layer, guard) = runwait_otel::layer(&telemetry(&endpoint)).unwrap();
    let _d = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    // A process whose first import leaves a failure dump.
    let result = run_in_workflow(
        &h.step(TaskKind::Process, "118000000003"),
        h.ctx("customers"),
    )
    .await;
    assert_eq!(result.outcome, StepOutcome::Failed, "{}", result.message);
    guard.shutdown().await;
    let spans = received.spans();

    let steps = named(&spans, "anaplan.process");
    assert_eq!(steps.len(), 1, "{spans:#?}");
    let step = steps[0];
    assert_eq!(
        step.parent_span_id,
        named(&spans, "runwait.workflow")[0].span_id
    );
    let task_id = result.task_id.as_ref().unwrap().as_str();
    assert_eq!(step.attributes["anaplan.task.id"], Value::from(task_id));
    assert_eq!(step.attributes["runwait.outcome"], Value::from("failed"));
    assert_eq!(
        step.attributes["runwait.polls"],
        Value::Int(result.polls.into())
    );
    assert_eq!(step.status_code, 2, "failed is an error");
    assert_eq!(step.status_message, result.message);
    let nested: Vec<_> = step
        .events
        .iter()
        .filter(|(name, _)| name == "anaplan.nested_result")
        .collect();
    assert_eq!(nested.len(), result.nested.len());
    assert!(
        nested
            .iter()
            .all(|(_, attrs)| matches!(attrs["anaplan.rows.failed"], Value::Int(_))),
        "{nested:#?}"
    );

    // One poll span per status request the simulator saw, each with its GET.
    let polls: Vec<_> = children_of(&spans, step)
        .into_iter()
        .filter(|s| s.name == "anaplan.task.poll")
        .collect();
    assert!(polls.len() >= 2, "{polls:#?}");
    assert_eq!(polls.len(), h.status_requests());
    assert_eq!(polls.len(), result.polls as usize);
    let mut attempts: Vec<_> = polls
        .iter()
        .map(|p| p.attributes["runwait.poll.attempt"].clone())
        .collect();
    attempts.sort_by_key(|a| format!("{a:?}"));
    assert_eq!(
        attempts,
        (1..=polls.len() as i64).map(Value::Int).collect::<Vec<_>>()
    );
    for poll in &polls {
        let gets = children_of(&spans, poll);
        assert_eq!(gets.len(), 1, "{gets:#?}");
        assert_eq!(gets[0].name, "GET");
        assert_eq!(gets[0].kind, 3, "client");
        assert_eq!(
            gets[0].attributes["http.response.status_code"],
            Value::Int(200)
        );
        assert_eq!(
            poll.attributes["http.response.status_code"],
            Value::Int(200)
        );
    }
    let last = polls
        .iter()
        .max_by_key(|p| format!("{:?}", p.attributes["runwait.poll.attempt"]))
        .unwrap();
    assert_eq!(
        last.attributes["anaplan.task.state"],
        Value::from("COMPLETE")
    );

    // Start (with the login under it) and the dump download are children of the step.
    let start = named(&spans, "anaplan.task.start")[0];
    assert_eq!(start.parent_span_id, step.span_id);
    assert_eq!(start.attributes["anaplan.task.id"], Value::from(task_id));
    assert_eq!(
        named(&spans, "anaplan.dump.download").len(),
        result.dumps.len()
    );
    assert!(
        named(&spans, "anaplan.dump.download")
            .iter()
            .all(|d| d.parent_span_id == step.span_id)
    );
}

#[tokio::test(start_paused = true)]
async fn a_reattached_wait_links_to_the_step_span_that_started_the_task() {
    let (endpoint, received) = http_receiver_in_real_time();
    let mut scenario = Scenario::builtin();
    let action = &mut scenario.workspaces[0].models[0].actions[0];
    action.duration = Duration::from_secs(3600);
    action.progress = Curve::Linear;
    let h = Harness::new(scenario).await;
    let (layer, guard) = runwait_otel::layer(&telemetry(&endpoint)).unwrap();
    let _d = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let step = h.step(TaskKind::Action, "117000000001");
    let detach_soon = |ctx: StepContext| {
        let detach = ctx.detach().clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            detach.cancel();
        });
        ctx
    };
    let first = run_in_workflow(&step, detach_soon(h.ctx("slow"))).await;
    assert_eq!(first.outcome, StepOutcome::Detached, "{}", first.message);
    let second = run_in_workflow(&step, detach_soon(h.ctx("slow"))).await;
    assert!(second.reattached, "{}", second.message);
    guard.shutdown().await;

    let spans = received.spans();
    let steps = named(&spans, "anaplan.action");
    assert_eq!(steps.len(), 2, "{spans:#?}");
    let (started, reattached) = match steps[0].attributes["runwait.reattached"] {
        Value::Bool(true) => (steps[1], steps[0]),
        _ => (steps[0], steps[1]),
    };
    assert_ne!(
        started.trace_id, reattached.trace_id,
        "two runs, two traces"
    );
    assert_eq!(
        reattached.links,
        vec![(started.trace_id.clone(), started.span_id.clone())]
    );
    assert!(started.links.is_empty());
}
