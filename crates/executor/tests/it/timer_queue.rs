//! Steps that share a `TimerQueue` wait as steps with a tokio timer each do: the same
//! polls at the same instants, the deadline's last look and cancel on time.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use runwait_anaplan::{TaskKind, TaskTarget};
use runwait_core::ModelId;
use runwait_executor::{RunAndWait, Step, StepOutcome, TimerQueue, TokioEnv, WaitEnv};
use runwait_sim::Curve;
use tokio::time::Instant;

/// Models of their own (a model runs one task at a time), each with an hour-long action.
const MODELS: [&str; 3] = [
    "75A40874E6B64FA3AE0743278996850F",
    "75A40874E6B64FA3AE0743278996851F",
    "75A40874E6B64FA3AE0743278996852F",
];

/// (outcome, status request times in scenario ms) of three steps run at once on `env`,
/// one on each model, the second with a deadline of 10 minutes.
async fn three_steps(env: Arc<dyn WaitEnv>) -> Vec<(StepOutcome, Vec<u64>)> {
    let mut scenario = with_action(Duration::from_secs(3600), Curve::Linear);
    let model = scenario.workspaces[0].models[0].clone();
    scenario.workspaces[0].models = MODELS
        .iter()
        .map(|id| {
            let mut m = model.clone();
            m.id = ModelId::new(*id);
            m
        })
        .collect();
    let h = harness(scenario).await;
    let deadlines = [None, Some(Duration::from_secs(600)), None];
    let runs = MODELS
        .iter()
        .zip(deadlines)
        .enumerate()
        .map(|(i, (model, deadline))| {
            let target = TaskTarget::new(WORKSPACE, *model, TaskKind::Action, "117000000001");
            let step = RunAndWait::new(Arc::new(h.client.clone()), target)
                .config(exact())
                .env(env.clone());
            let ctx = h
                .ctx(&format!("s{i}"), "r1")
                .with_deadline(deadline.map(|d| Instant::now() + d));
            async move { step.run(ctx).await }
        });
    let results = futures_util::future::join_all(runs).await;
    results
        .into_iter()
        .map(|r| {
            let task = r.task_id.as_ref().expect("a task").as_str().to_owned();
            (r.outcome, h.status_times(&task))
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn steps_sharing_a_timer_queue_poll_when_steps_with_their_own_timers_do() {
    let own = three_steps(Arc::new(TokioEnv::seeded(7))).await;
    let queue = Arc::new(TimerQueue::new());
    let shared = three_steps(queue.clone()).await;
    assert_eq!(shared, own);
    assert_eq!(own[1].0, StepOutcome::TimedOut);
    assert!(own[1].1.contains(&600_000), "{:?}", own[1].1);
    assert_eq!(own[0].0, StepOutcome::Succeeded);
    assert!(own[0].1.len() > 10, "{:?}", own[0].1);
    assert_eq!(queue.registered(), 0, "every sleep is gone with its step");
}
