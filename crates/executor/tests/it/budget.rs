//! Thousands of waits share one tenant budget: the simulator never sees more requests
//! per second than the budget allows.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::*;
use runwait_anaplan::{TaskKind, TaskTarget};
use runwait_core::ModelId;
use runwait_executor::{RateBudget, RunAndWait, Step, StepOutcome, TokioEnv, WaitConfig};
use runwait_sim::{CallKind, Curve, ModelSpec, Scenario, SimConfig, Simulator};

const WAITS: usize = 2000;

fn many_models() -> Scenario {
    let mut s = Scenario::builtin();
    let template = s.workspaces[0].models[0].actions[0].clone();
    s.workspaces[0].models = (0..WAITS)
        .map(|i| {
            let mut action = template.clone();
            action.duration = Duration::from_secs(30);
            action.progress = Curve::Linear;
            ModelSpec::with_actions(
                ModelId::new(format!("{i:032X}")),
                format!("Model {i}"),
                vec![action],
            )
        })
        .collect();
    s
}

#[tokio::test(start_paused = true)]
async fn two_thousand_waits_never_exceed_ten_requests_a_second() {
    let sim = Simulator::start(SimConfig::new(many_models()).epoch(SystemTime::now()))
        .await
        .unwrap();
    let client = Arc::new(client_for(&sim, "demo"));
    let budget = RateBudget::per_second(10);
    let dir = tempfile::tempdir().unwrap();
    let h = Harness {
        sim,
        client: (*client).clone(),
        dir,
        events: Default::default(),
    };

    let mut runs = Vec::new();
    for i in 0..WAITS {
        let target = TaskTarget::new(
            WORKSPACE,
            format!("{i:032X}"),
            TaskKind::Action,
            "117000000001",
        );
        let step = RunAndWait::new(client.clone(), target)
            .config(WaitConfig::default())
            .budget(budget.clone())
            .env(Arc::new(TokioEnv::seeded(i as u64)));
        let ctx = h.ctx(&format!("wait-{i}"), "r1");
        runs.push(tokio::spawn(async move { step.run(ctx).await }));
    }
    for run in runs {
        let result = run.await.unwrap();
        assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    }

    let times: Vec<u64> = h
        .journal()
        .iter()
        .filter(|e| e.kind != CallKind::Auth)
        .map(|e| e.at_ms)
        .collect();
    assert!(
        times.len() >= 3 * WAITS,
        "list, start and at least one poll each: {}",
        times.len()
    );
    // No 11 requests within one second.
    let worst = times.windows(11).map(|w| w[10] - w[0]).min().unwrap();
    assert!(worst >= 1000, "11 requests within {worst} ms");
}

/// An abort while the start waits for the tenant's budget: the start is never sent.
#[tokio::test(start_paused = true)]
async fn an_abort_while_the_start_waits_for_the_budget_sends_no_start() {
    let h = harness(Scenario::builtin()).await;
    // One request a second: the listing takes the first, the start waits a second.
    let budget = RateBudget::per_second(1);
    let abort = tokio_util::sync::CancellationToken::new();
    let fire = abort.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        fire.cancel();
    });
    let result = h
        .step(TaskKind::Action, "117000000001")
        .budget(budget)
        .run(h.ctx_builder("s", "r1").cancel(abort).build())
        .await;
    assert_eq!(result.outcome, StepOutcome::Cancelled, "{}", result.message);
    assert!(
        result
            .message
            .contains("waiting for the tenant's rate budget"),
        "{}",
        result.message
    );
    assert_eq!(h.count("GET", "/tasks"), 1, "the listing went out");
    assert_eq!(h.starts(), 0, "no start");
    assert!(
        result.elapsed < Duration::from_secs(1),
        "{:?}",
        result.elapsed
    );
}
