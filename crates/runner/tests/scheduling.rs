//! Scheduling without a network: needs, conditions, parallelism, crashes, interruption
//! and plan errors, with steps that only sleep (in paused time) and return an outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use runwait_executor::{RunKey, Step, StepContext, StepOutcome, StepResult};
use runwait_runner::{
    Condition, Node, NodeEnd, PlanError, RunEvent, RunEventSink, RunReport, Runner,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the test steps saw: (step id, start, end) and the most running at once.
#[derive(Default)]
struct Log {
    runs: Vec<(String, Instant, Instant)>,
    running: usize,
    most: usize,
}

/// Sleeps, then ends with the next outcome of its list (the last one repeats).
struct Sleeper {
    time: Duration,
    outcomes: Mutex<Vec<StepOutcome>>,
    log: Arc<Mutex<Log>>,
}

#[async_trait]
impl Step for Sleeper {
    async fn run(&self, ctx: StepContext) -> StepResult {
        let start = Instant::now();
        {
            let mut log = self.log.lock().unwrap();
            log.running += 1;
            log.most = log.most.max(log.running);
        }
        tokio::select! {
            _ = tokio::time::sleep(self.time) => {}
            _ = ctx.cancel().cancelled() => {}
        }
        let mut log = self.log.lock().unwrap();
        log.running -= 1;
        log.runs
            .push((ctx.step_id().to_owned(), start, Instant::now()));
        let outcome = {
            let mut outcomes = self.outcomes.lock().unwrap();
            if outcomes.len() > 1 {
                outcomes.remove(0)
            } else {
                outcomes[0]
            }
        };
        let outcome = if ctx.cancel().is_cancelled() {
            StepOutcome::Cancelled
        } else {
            outcome
        };
        StepResult::without_task(outcome, outcome.name(), start.elapsed())
    }
}

struct Panics;

#[async_trait]
impl Step for Panics {
    async fn run(&self, _ctx: StepContext) -> StepResult {
        panic!("boom")
    }
}

struct Setup {
    log: Arc<Mutex<Log>>,
    _dir: tempfile::TempDir,
    runner: Runner,
    events: Arc<Mutex<Vec<RunEvent>>>,
}

fn setup(max_parallel: usize, cancel: CancellationToken) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let events: Arc<Mutex<Vec<RunEvent>>> = Arc::default();
    let seen = events.clone();
    let runner = Runner::builder("nightly", RunKey::new("r1"))
        .state(std::sync::Arc::new(runwait_executor::MemoryStore::new()))
        .out_dir(dir.path().join("out"))
        .max_parallel(max_parallel)
        .cancel(cancel)
        .events(RunEventSink::callback(move |e| {
            seen.lock().unwrap().push(e)
        }))
        .build();
    Setup {
        log: Arc::default(),
        _dir: dir,
        runner,
        events,
    }
}

impl Setup {
    fn step(&self, secs: u64, outcomes: &[StepOutcome]) -> Arc<dyn Step> {
        Arc::new(Sleeper {
            time: Duration::from_secs(secs),
            outcomes: Mutex::new(outcomes.to_vec()),
            log: self.log.clone(),
        })
    }

    fn ok(&self, secs: u64) -> Arc<dyn Step> {
        self.step(secs, &[StepOutcome::Succeeded])
    }

    fn failing(&self, secs: u64) -> Arc<dyn Step> {
        self.step(secs, &[StepOutcome::Failed])
    }

    async fn run(&self, nodes: Vec<Node>) -> RunReport {
        self.runner.run(nodes).await.unwrap()
    }

    fn span(&self, step_id: &str) -> (Instant, Instant) {
        let log = self.log.lock().unwrap();
        let (_, start, end) = log.runs.iter().find(|r| r.0 == step_id).unwrap();
        (*start, *end)
    }
}

fn names(report: &RunReport) -> Vec<(&str, &str)> {
    report
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.outcome_name()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_node_starts_when_its_needs_are_done() {
    let s = setup(4, CancellationToken::new());
    let report = s
        .run(vec![
            Node::builder("c", s.ok(5)).needs(["a", "b"]).build(),
            Node::builder("a", s.ok(10)).build(),
            Node::builder("b", s.ok(30)).build(),
        ])
        .await;
    assert_eq!(
        names(&report),
        [("c", "succeeded"), ("a", "succeeded"), ("b", "succeeded")],
        "reported in the order given"
    );
    let (_, b_end) = s.span("b");
    let (c_start, _) = s.span("c");
    assert_eq!(c_start, b_end, "c starts as soon as its last need ends");
    assert_eq!(s.span("a").0, s.span("b").0, "a and b run side by side");
    assert_eq!(report.outcome(), StepOutcome::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn max_parallel_is_respected() {
    // (max parallel, nodes of 10 s, seconds the run takes); 100 nodes are more than the
    // runner spawns between two yields, so their start crosses them.
    for (max, n, took) in [(2, 5, 30), (70, 100, 20)] {
        let s = setup(max, CancellationToken::new());
        let nodes = (0..n)
            .map(|i| Node::builder(format!("n{i}"), s.ok(10)).build())
            .collect();
        let started = Instant::now();
        let report = s.run(nodes).await;
        assert_eq!(report.outcome(), StepOutcome::Succeeded);
        assert_eq!(report.nodes.len(), n);
        assert_eq!(s.log.lock().unwrap().most, max);
        let at_once = (0..n)
            .filter(|i| s.span(&format!("n{i}")).0 == started)
            .count();
        assert_eq!(at_once, max, "{n} nodes: the first {max} start at once");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(took),
            "{n} nodes, {max} at a time"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn conditions_decide_what_runs_after_a_failure() {
    let s = setup(4, CancellationToken::new());
    let report = s
        .run(vec![
            Node::builder("load", s.failing(5)).build(),
            Node::builder("next", s.ok(5)).needs(["load"]).build(),
            Node::builder("alert", s.ok(5))
                .needs(["load"])
                .condition(Condition::Failure)
                .build(),
            Node::builder("cleanup", s.ok(5))
                .needs(["next"])
                .condition(Condition::Always)
                .build(),
            Node::builder("no_alert", s.ok(5))
                .needs(["cleanup"])
                .condition(Condition::Failure)
                .build(),
        ])
        .await;
    assert_eq!(
        names(&report),
        [
            ("load", "failed"),
            ("next", "skipped"),
            ("alert", "succeeded"),
            ("cleanup", "succeeded"),
            ("no_alert", "skipped"),
        ]
    );
    assert_eq!(
        report.get("next").unwrap().skip_reason(),
        Some("`if: success()` and not every step it needs succeeded (load)")
    );
    assert_eq!(
        report.get("no_alert").unwrap().skip_reason(),
        Some("`if: failure()` and no step it needs failed")
    );
    assert_eq!(report.outcome(), StepOutcome::Failed);
    let skipped: Vec<String> = s
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepSkipped { id, .. } => Some(id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, ["next", "no_alert"]);
}

#[tokio::test(start_paused = true)]
async fn one_at_a_time_the_first_ready_node_in_the_order_given_goes_first() {
    // `later` is ready from the start; `cleanup` only once the skip of `next` settles
    // its need. It comes first in the order given, so it runs first.
    let s = setup(1, CancellationToken::new());
    let started = Instant::now();
    let report = s
        .run(vec![
            Node::builder("load", s.failing(5)).build(),
            Node::builder("next", s.ok(5)).needs(["load"]).build(),
            Node::builder("cleanup", s.ok(5))
                .needs(["next"])
                .condition(Condition::Always)
                .build(),
            Node::builder("later", s.ok(5)).build(),
        ])
        .await;
    assert_eq!(
        names(&report),
        [
            ("load", "failed"),
            ("next", "skipped"),
            ("cleanup", "succeeded"),
            ("later", "succeeded"),
        ]
    );
    let at = |id: &str| s.span(id).0 - started;
    assert_eq!(at("load"), Duration::ZERO);
    assert_eq!(at("cleanup"), Duration::from_secs(5));
    assert_eq!(at("later"), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn continue_on_error_lets_the_next_nodes_run_and_the_run_succeed() {
    let s = setup(4, CancellationToken::new());
    let report = s
        .run(vec![
            Node::builder("optional", s.failing(5))
                .continue_on_error(true)
                .build(),
            Node::builder("next", s.ok(5)).needs(["optional"]).build(),
        ])
        .await;
    assert_eq!(
        names(&report),
        [("optional", "failed"), ("next", "succeeded")]
    );
    assert_eq!(report.outcome(), StepOutcome::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn retries_count_attempts_each_under_its_own_step_id() {
    let s = setup(4, CancellationToken::new());
    let flaky = s.step(
        5,
        &[
            StepOutcome::Failed,
            StepOutcome::Failed,
            StepOutcome::Succeeded,
        ],
    );
    let report = s
        .run(vec![Node::builder("flaky", flaky).retries(3).build()])
        .await;
    let node = report.get("flaky").unwrap();
    assert_eq!((node.outcome_name(), node.attempts()), ("succeeded", 3));
    let ids: Vec<String> = s
        .log
        .lock()
        .unwrap()
        .runs
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(ids, ["flaky", "flaky.retry1", "flaky.retry2"]);
    let events = s.events.lock().unwrap();
    let started: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepStarted { id, attempt } if id.as_str() == "flaky" => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(started, [1, 2, 3]);
    let retrying = events
        .iter()
        .filter(|e| matches!(e, RunEvent::StepRetrying { .. }))
        .count();
    assert_eq!(retrying, 2);
    assert!(matches!(
        events.last(),
        Some(RunEvent::StepFinished { attempts: 3, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn retries_stop_when_they_run_out() {
    let s = setup(4, CancellationToken::new());
    let report = s
        .run(vec![Node::builder("bad", s.failing(5)).retries(1).build()])
        .await;
    let node = report.get("bad").unwrap();
    assert_eq!((node.outcome_name(), node.attempts()), ("failed", 2));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_step_is_an_error_not_retried() {
    let s = setup(4, CancellationToken::new());
    let report = s
        .run(vec![
            Node::builder("crash", Arc::new(Panics)).retries(2).build(),
            Node::builder("after", s.ok(5)).needs(["crash"]).build(),
        ])
        .await;
    let crash = report.get("crash").unwrap();
    assert_eq!((crash.outcome_name(), crash.attempts()), ("error", 1));
    assert_eq!(crash.result().unwrap().message, "the step crashed: boom");
    assert_eq!(report.get("after").unwrap().outcome_name(), "skipped");
    assert_eq!(report.outcome(), StepOutcome::Error);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_is_each_attempts_deadline() {
    struct Deadline(Arc<Mutex<Vec<Option<Instant>>>>);
    #[async_trait]
    impl Step for Deadline {
        async fn run(&self, ctx: StepContext) -> StepResult {
            self.0.lock().unwrap().push(ctx.deadline());
            tokio::time::sleep(Duration::from_secs(7)).await;
            StepResult::without_task(StepOutcome::Failed, "no", Duration::ZERO)
        }
    }
    let s = setup(4, CancellationToken::new());
    let seen: Arc<Mutex<Vec<Option<Instant>>>> = Arc::default();
    let t0 = Instant::now();
    s.run(vec![
        Node::builder("t", Arc::new(Deadline(seen.clone())))
            .timeout(Duration::from_secs(60))
            .retries(1)
            .build(),
        Node::builder("none", Arc::new(Deadline(seen.clone()))).build(),
    ])
    .await;
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            None,
            Some(t0 + Duration::from_secs(60)),
            Some(t0 + Duration::from_secs(67)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancel_skips_what_has_not_started_and_retries_nothing() {
    let cancel = CancellationToken::new();
    let s = setup(4, cancel.clone());
    let fire = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        fire.cancel();
    });
    let report = s
        .run(vec![
            Node::builder("first", s.failing(10)).retries(5).build(),
            Node::builder("second", s.ok(10)).needs(["first"]).build(),
        ])
        .await;
    assert!(report.interrupted);
    let first = report.get("first").unwrap();
    assert_eq!((first.outcome_name(), first.attempts()), ("cancelled", 1));
    assert_eq!(
        report.get("second").unwrap().end,
        NodeEnd::Skipped {
            reason: "the run was interrupted".into()
        }
    );
    assert_eq!(report.outcome(), StepOutcome::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn bad_plans_are_refused_before_anything_runs() {
    let s = setup(4, CancellationToken::new());
    let twice = vec![
        Node::builder("a", s.ok(1)).build(),
        Node::builder("a", s.ok(1)).build(),
    ];
    assert_eq!(
        s.runner.run(twice).await.unwrap_err(),
        PlanError::DuplicateId("a".into())
    );
    let unknown = vec![Node::builder("a", s.ok(1)).needs(["x"]).build()];
    assert_eq!(
        s.runner.run(unknown).await.unwrap_err(),
        PlanError::UnknownNeed {
            node: "a".into(),
            need: "x".into()
        }
    );
    let circle = vec![
        Node::builder("ok", s.ok(1)).build(),
        Node::builder("a", s.ok(1)).needs(["b"]).build(),
        Node::builder("b", s.ok(1)).needs(["a", "ok"]).build(),
    ];
    assert_eq!(
        s.runner.run(circle).await.unwrap_err(),
        PlanError::Cycle("a".into())
    );
    assert!(s.log.lock().unwrap().runs.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_long_chain_given_backwards_runs_in_its_order_and_a_closed_one_is_refused() {
    let s = setup(4, CancellationToken::new());
    let chain = |closed: bool| {
        let mut nodes: Vec<Node> = (1..200)
            .rev()
            .map(|i| {
                Node::builder(format!("n{i}"), s.ok(1))
                    .needs([format!("n{}", i - 1)])
                    .build()
            })
            .collect();
        let first = Node::builder("n0", s.ok(1));
        nodes.push(if closed { first.needs(["n199"]) } else { first }.build());
        nodes.push(Node::builder("twice", s.ok(1)).needs(["n0", "n0"]).build());
        nodes.push(Node::builder("free", s.ok(1)).build());
        nodes
    };
    assert_eq!(
        s.runner.run(chain(true)).await.unwrap_err(),
        PlanError::Cycle("n199".into())
    );
    assert!(
        s.log.lock().unwrap().runs.is_empty(),
        "refused before anything runs, the free node too"
    );

    let started = Instant::now();
    let report = s.run(chain(false)).await;
    assert_eq!(report.outcome(), StepOutcome::Succeeded);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(200),
        "200 nodes of 1 s, one after another"
    );
    // Accepted at all: the check counts a need named twice twice, and frees it once.
    assert_eq!(
        s.span("twice").0,
        s.span("n0").1,
        "`twice`, which names n0 twice, starts when n0 ends"
    );
    assert_eq!(s.span("n199").0, s.span("n198").1);
}

#[tokio::test(start_paused = true)]
async fn other_tasks_run_while_many_nodes_are_spawned() {
    // On this current-thread runtime a task spawned before the run is queued first: it
    // runs at the runner's first yield, and counts what is alive then.
    let s = setup(1_000, CancellationToken::new());
    let witness = tokio::spawn(async {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    });
    let nodes = (0..1_000)
        .map(|i| Node::builder(format!("n{i}"), s.ok(10)).build())
        .collect();
    let report = s.run(nodes).await;
    assert_eq!(report.outcome(), StepOutcome::Succeeded);
    let alive = witness.await.unwrap();
    assert!(
        alive <= 64,
        "{alive} tasks were alive when another task first ran: the runner spawned them without yielding"
    );
}
