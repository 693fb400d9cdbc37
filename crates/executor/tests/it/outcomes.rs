//! Every outcome of a step, through the real client and the simulator, in paused time.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use runwait_anaplan::{StartOptions, TaskKind};
use runwait_core::TaskState;
use runwait_executor::{RunAndWait, Step, StepOutcome, WaitConfig};
use runwait_sim::{CallKind, Curve, Fault, FaultKind, Scenario};

#[tokio::test(start_paused = true)]
async fn every_builtin_process_gets_its_outcome() {
    let h = harness(Scenario::builtin()).await;
    // (process, outcome, its actions: the cleanup process runs one, the others two)
    let cases = [
        ("118000000001", StepOutcome::Succeeded, 2),
        ("118000000002", StepOutcome::SucceededWithWarnings, 2),
        ("118000000003", StepOutcome::Failed, 2),
        ("118000000004", StepOutcome::Failed, 2),
        ("118000000005", StepOutcome::Failed, 1),
    ];
    for (process, expected, actions) in cases {
        let result = h
            .step(TaskKind::Process, process)
            .run(h.ctx(process, "r1"))
            .await;
        assert_eq!(result.outcome, expected, "{process}: {}", result.message);
        assert_eq!(result.task_state, Some(TaskState::Complete));
        assert!(result.polls >= 1);
        assert_eq!(result.nested.len(), actions, "{process}");
    }
    assert_eq!(h.starts(), 5, "one start per step");
}

#[tokio::test(start_paused = true)]
async fn a_failed_process_names_its_reason_and_writes_its_dump_first() {
    let h = harness(Scenario::builtin()).await;
    let result = h
        .step(TaskKind::Process, "118000000004")
        .run(h.ctx("forecast", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Failed);
    assert_eq!(
        result.reasons[0].object_id.as_ref().unwrap().as_str(),
        "112000000004"
    );
    assert!(
        result
            .message
            .contains("The uploaded file is no longer available"),
        "{}",
        result.message
    );

    let result = h
        .step(TaskKind::Process, "118000000003")
        .run(h.ctx("customers", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Failed);
    assert_eq!(result.dumps.len(), 1, "{:?}", result.dumps);
    let dump = &result.dumps[0];
    let path = dump.path.as_ref().unwrap();
    assert_eq!(
        path,
        &h.out()
            .join("customers")
            .join("1-112000000003-Customers_from_customers.csv")
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("_Status_"), "{text}");
    assert_eq!(dump.error_rows + dump.warning_rows, 5, "{text}");
    assert_eq!(dump.bytes as usize, text.len());
}

#[tokio::test(start_paused = true)]
async fn dumps_of_several_chunks_are_joined_and_a_gone_dump_is_not_an_error() {
    let mut scenario = Scenario::builtin();
    scenario.dump_chunk_size = 50;
    let h = harness(scenario).await;
    let result = h
        .step(TaskKind::Import, "112000000003")
        .run(h.ctx("customers", "r1"))
        .await;
    let chunk_gets = h
        .journal()
        .iter()
        .filter(|e| e.path.contains("/dump/chunks/"))
        .count();
    assert!(chunk_gets > 1, "several chunks: {chunk_gets}");
    let text = std::fs::read_to_string(result.dumps[0].path.as_ref().unwrap()).unwrap();
    assert_eq!(text.lines().count(), 6, "header and 5 rows: {text}");

    h.sim
        .add_fault(Fault::new(CallKind::Dump, 0, 1, FaultKind::http(404)))
        .unwrap();
    let result = h
        .step(TaskKind::Import, "112000000003")
        .run(h.ctx("customers-again", "r1"))
        .await;
    assert_eq!(
        result.outcome,
        StepOutcome::Failed,
        "the task's outcome, not an error"
    );
    assert!(result.dumps[0].gone && result.dumps[0].path.is_none());
    assert!(
        result.message.contains("dump gone (404) for 112000000003"),
        "{}",
        result.message
    );
}

#[tokio::test(start_paused = true)]
async fn an_hour_of_blind_polling_is_exact() {
    // Progress stays 0 until the end: only the blind curve decides.
    let h = harness(with_action(Duration::from_secs(3600), Curve::Stuck)).await;
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("stuck", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    // The first poll 5 s after the start, then every 15 s (the blind minimum) until 8 %
    // of the time run is longer (187.5 s), then 8 % of it: each poll 1.08 times the
    // last, until the first poll at or after 3600 s: 14 + 38 polls.
    assert_eq!(result.polls, 52);
    let times = h.status_times(result.task_id.as_ref().unwrap().as_str());
    let every_15s: Vec<u64> = (0..14).map(|i| 5000 + i * 15_000).collect();
    assert_eq!(&times[..14], &every_15s[..]);
    assert_eq!(&times[14..16], &[216_000, 233_280]);
    assert_eq!(*times.last().unwrap(), 3_725_045);
    assert_eq!(result.elapsed, Duration::from_millis(3_725_045));
}

#[tokio::test(start_paused = true)]
async fn steady_progress_polls_near_the_estimated_end() {
    let h = harness(with_action(Duration::from_secs(200), Curve::Linear)).await;
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("linear", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    let times = h.status_times(result.task_id.as_ref().unwrap().as_str());
    // From the second look on, the end is estimated at 200 s: far, it is approached by
    // 30 % of the way at a time (a poll at 74.3 s, not every 15 s); near, the blind
    // minimum of 15 s; within it, 1 s after the estimated end.
    assert_eq!(&times[..3], &[5000, 20000, 74_300], "{times:?}");
    assert_eq!(times.len(), 9, "{times:?}");
    assert!((200_000..=201_001).contains(&times[8]), "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn no_task_is_polled_more_often_than_every_five_seconds() {
    // Steps jump in four plateaus: estimates swing, the floor holds.
    let h = harness(with_action(Duration::from_secs(90), Curve::Steps(4))).await;
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("steps", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded);
    let times = h.status_times(result.task_id.as_ref().unwrap().as_str());
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 5000), "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn bad_credentials_and_refused_polls_are_errors() {
    let h = harness(Scenario::builtin()).await;
    let wrong = std::sync::Arc::new(client_for(&h.sim, "wrong"));
    let step = runwait_executor::RunAndWait::new(wrong, target(TaskKind::Action, "117000000001"));
    let result = step.run(h.ctx("auth", "r1")).await;
    assert_eq!(result.outcome, StepOutcome::Error);
    assert!(
        result.message.contains("authentication failed"),
        "{}",
        result.message
    );
    assert_eq!(h.starts(), 0);

    h.sim
        .add_fault(Fault::new(CallKind::Status, 0, 1, FaultKind::http(403)))
        .unwrap();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("forbidden", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Error);
    assert!(
        result.message.contains("permission denied"),
        "{}",
        result.message
    );
    assert!(result.task_id.is_some());
}

#[tokio::test(start_paused = true)]
async fn an_outage_shorter_than_the_tolerance_is_waited_out() {
    let h = harness(with_action(Duration::from_secs(600), Curve::Linear)).await;
    // 12 status requests fail (4 polls of 3 attempts each), then it answers again.
    h.sim
        .add_fault(Fault::new(CallKind::Status, 1, 12, FaultKind::http(503)))
        .unwrap();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("outage", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
    let failed = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, runwait_executor::StepEvent::PollFailed { .. }))
        .count();
    assert_eq!(failed, 4);
}

#[tokio::test(start_paused = true)]
async fn an_outage_longer_than_the_tolerance_is_an_error() {
    let h = harness(with_action(Duration::from_secs(3600), Curve::Linear)).await;
    h.sim
        .add_fault(Fault::new(CallKind::Status, 0, 0, FaultKind::http(502)))
        .unwrap();
    let result = h
        .step(TaskKind::Action, "117000000001")
        .run(h.ctx("down", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Error);
    assert!(
        result.message.starts_with("Anaplan unreachable for 6"),
        "{}",
        result.message
    );
    assert!(result.elapsed >= Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn a_dump_cut_off_half_way_is_downloaded_again() {
    let mut scenario = Scenario::builtin();
    scenario.dump_chunk_size = 50;
    let h = harness(scenario).await;
    // The chunk list answers; the first chunk breaks off.
    h.sim
        .add_fault(Fault::new(CallKind::Dump, 1, 1, FaultKind::Reset))
        .unwrap();
    let result = h
        .step(TaskKind::Import, "112000000003")
        .run(h.ctx("customers", "r1"))
        .await;
    let dump = &result.dumps[0];
    let text = std::fs::read_to_string(dump.path.as_ref().expect("downloaded in the end")).unwrap();
    assert_eq!(text.lines().count(), 6, "header and 5 rows: {text}");
    assert_eq!(dump.error_rows + dump.warning_rows, 5);
    let resets = h
        .journal()
        .iter()
        .filter(|e| e.kind == CallKind::Dump && e.answer == runwait_sim::Answer::Reset)
        .count();
    assert_eq!(resets, 1, "the first download did break off");
}

#[tokio::test(start_paused = true)]
async fn a_dump_that_cannot_be_downloaded_is_named_in_the_message() {
    let h = harness(Scenario::builtin()).await;
    h.sim
        .add_fault(Fault::new(CallKind::Dump, 0, 0, FaultKind::http(500)))
        .unwrap();
    let result = h
        .step(TaskKind::Import, "112000000003")
        .run(h.ctx("customers", "r1"))
        .await;
    assert_eq!(result.outcome, StepOutcome::Failed);
    assert!(result.dumps[0].path.is_none() && !result.dumps[0].gone);
    assert!(
        result
            .message
            .contains("dump could not be downloaded for 112000000003"),
        "{}",
        result.message
    );
}

/// Cuts the dump chunk of the `downloads` given (1-based) short: with one chunk per
/// dump, download n is the Dump calls 2n-1 (the chunk list) and 2n (the chunk).
fn short_chunk_on(h: &Harness, downloads: &[u32]) {
    for n in downloads {
        h.sim
            .add_fault(Fault::new(CallKind::Dump, 2 * n - 1, 1, FaultKind::Short))
            .unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_short_dump_is_downloaded_again_and_one_that_stays_short_is_marked_incomplete() {
    // (short downloads, downloads made, incomplete)
    let cases: [(&[u32], usize, bool); 3] =
        [(&[], 1, false), (&[1], 2, false), (&[1, 2, 3], 3, true)];
    for (short, downloads, incomplete) in cases {
        let h = harness(Scenario::builtin()).await;
        let whole = h
            .step(TaskKind::Import, "112000000003")
            .run(h.ctx("reference", "r1"))
            .await;
        let whole = std::fs::read(whole.dumps[0].path.as_ref().unwrap()).unwrap();
        short_chunk_on(&h, short);
        let before = h.journal().len();
        let result = h
            .step(TaskKind::Import, "112000000003")
            .run(h.ctx("customers", "r1"))
            .await;
        let case = format!("short downloads {short:?}: {}", result.message);
        assert_eq!(result.outcome, StepOutcome::Failed, "{case}");
        let chunk_gets = h.journal()[before..]
            .iter()
            .filter(|e| e.path.contains("/dump/chunks/"))
            .count();
        assert_eq!(chunk_gets, downloads, "{case}");
        let dump = &result.dumps[0];
        let path = dump.path.as_ref().expect("a file in every case");
        let bytes = std::fs::read(path).unwrap();
        let dir: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(dir.len(), 1, "no other or temporary file: {dir:?}");
        if incomplete {
            assert_eq!(
                dump.incomplete.as_deref(),
                Some("4 of 5 error rows"),
                "{case}"
            );
            assert!(
                path.to_string_lossy().ends_with(".csv.incomplete"),
                "{case}"
            );
            assert!(bytes.len() < whole.len(), "{case}");
            assert!(
                result.message.contains(
                    "dump INCOMPLETE for 112000000003 after 3 downloads (4 of 5 error rows)"
                ),
                "{case}"
            );
            let json = serde_json::to_string(&result).unwrap();
            assert!(
                json.contains(r#""incomplete":"4 of 5 error rows""#),
                "{json}"
            );
        } else {
            assert_eq!(dump.incomplete, None, "{case}");
            assert_eq!(bytes, whole, "byte-equal: {case}");
            assert_eq!(dump.error_rows, 5);
            assert!(!result.message.contains("INCOMPLETE"), "{case}");
        }
    }
}

/// The status times (ms) of each of ten steps on one action, started 7 ms apart, each
/// with `poll`.
async fn ten_staggered_waits(poll: runwait_executor::PollPolicy) -> Vec<Vec<u64>> {
    let h = harness(with_action(Duration::from_secs(20), Curve::Stuck)).await;
    let config = runwait_executor::WaitConfig::default().with_poll(poll);
    let runs = (0..10u64).map(|i| {
        let h = &h;
        async move {
            tokio::time::sleep(Duration::from_millis(7 * i)).await;
            h.step(TaskKind::Action, "117000000001")
                .config(config)
                .run(h.ctx(&format!("w{i}"), "r1"))
                .await
        }
    });
    futures_util::future::join_all(runs)
        .await
        .iter()
        .map(|result| {
            assert_eq!(result.outcome, StepOutcome::Succeeded, "{}", result.message);
            h.status_times(result.task_id.as_ref().unwrap().as_str())
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_polls_of_one_process_wake_together_on_its_grid() {
    let grid = exact_poll().with_wake_grid(Duration::from_millis(100));
    let on_grid = ten_staggered_waits(grid).await;
    let apart = ten_staggered_waits(exact_poll()).await;
    let remainders = |times: &[Vec<u64>]| {
        let mut r: Vec<u64> = times.iter().flatten().map(|t| t % 100).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    // Every poll of every wait lands on one grid of 100 ms...
    assert_eq!(remainders(&on_grid).len(), 1, "{on_grid:?}");
    // ...where without it each wait keeps the phase of its start...
    assert!(remainders(&apart).len() >= 9, "{apart:?}");
    // ...and each poll is less than one step of the grid later than without it.
    for (on_grid, apart) in on_grid.iter().zip(&apart) {
        assert_eq!(on_grid.len(), apart.len(), "{on_grid:?} {apart:?}");
        for (&g, &a) in on_grid.iter().zip(apart) {
            assert!(g >= a && g - a < 100, "{on_grid:?} {apart:?}");
        }
    }
    for times in on_grid.iter().chain(&apart) {
        assert!(times.len() >= 2, "{times:?}");
        assert!(times.windows(2).all(|w| w[1] - w[0] >= 5_000), "{times:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_s_own_start_options_reach_its_start_and_the_defaults_do_otherwise() {
    let h = harness(Scenario::builtin()).await;
    // The simulator answers 400 to a locale that is not one, as Anaplan does.
    let own = StartOptions {
        locale_name: "english".into(),
        mapping_parameters: vec![],
    };
    let refused = h
        .step(TaskKind::Import, "112000000001")
        .start_options(own)
        .run(h.ctx("own", "r1"))
        .await;
    assert_eq!(refused.outcome, StepOutcome::Error, "{}", refused.message);
    assert!(refused.message.contains("400"), "{}", refused.message);
    assert_eq!(refused.task_id, None);
    // Options equal to the defaults are kept as the defaults (`en_US`).
    let defaults = h
        .step(TaskKind::Import, "112000000001")
        .start_options(StartOptions::default())
        .run(h.ctx("defaults", "r1"))
        .await;
    assert_eq!(
        defaults.outcome,
        StepOutcome::Succeeded,
        "{}",
        defaults.message
    );
    assert_eq!(h.starts(), 2);
}

#[tokio::test(start_paused = true)]
async fn steps_given_the_default_config_or_one_arc_of_a_config_share_it() {
    let h = harness(Scenario::builtin()).await;
    let step = |config: Arc<WaitConfig>| h.step(TaskKind::Import, "112000000001").config(config);
    let shared = |a: &RunAndWait, b: &RunAndWait| std::ptr::eq(a.wait_config(), b.wait_config());
    let defaults = [WaitConfig::default(), WaitConfig::default()].map(|c| step(Arc::new(c)));
    assert!(shared(&defaults[0], &defaults[1]), "the default is one");
    let graceful = WaitConfig::default().with_cancel_grace(Duration::from_secs(1));
    let one = Arc::new(graceful);
    let [a, b] = [one.clone(), one].map(step);
    assert!(shared(&a, &b), "clones of one Arc");
    let own = step(Arc::new(graceful));
    assert!(!shared(&a, &own) && !shared(&a, &defaults[0]));
    assert_eq!(own.wait_config().cancel_grace, Duration::from_secs(1));
}
