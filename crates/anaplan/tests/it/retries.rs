//! Retries against the simulator's faults: what is retried, how often, and the start
//! request that is never sent twice blindly.

use std::time::Duration;

use crate::common::*;
use runwait_anaplan::{Client, Error, RetryPolicy, StartOptions, Started, TaskKind, TransportKind};
use runwait_sim::{Answer, CallKind, Fault, FaultKind};

fn fault(on: CallKind, count: u32, kind: FaultKind) -> Fault {
    Fault::new(on, 0, count, kind)
}

/// Starts the built-in "Nightly load" process.
async fn start_nightly(client: &Client) -> Result<Started, Error> {
    client
        .start(
            &target(TaskKind::Process, "118000000001"),
            &StartOptions::default(),
        )
        .await
}

#[tokio::test]
async fn transient_statuses_are_retried_on_idempotent_calls() {
    for status in [409, 429, 500, 502, 503, 504] {
        let sim = sim(100.0).await;
        let client = basic_client(&sim);
        let t = target(TaskKind::Import, "112000000001");
        sim.add_fault(fault(CallKind::List, 2, FaultKind::http(status)))
            .unwrap();
        client
            .list_tasks(&t)
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        let answers: Vec<Answer> = calls(&sim.journal(), "GET", "/tasks")
            .iter()
            .map(|e| e.answer)
            .collect();
        assert_eq!(
            answers,
            [
                Answer::Status(status),
                Answer::Status(status),
                Answer::Status(200)
            ],
            "{status}"
        );
    }
}

#[tokio::test]
async fn permanent_statuses_are_not_retried() {
    for (status, expected) in [
        (400, "rejected (HTTP 400)"),
        (403, "permission denied"),
        (404, "not found"),
    ] {
        let sim = sim(100.0).await;
        let client = basic_client(&sim);
        let t = target(TaskKind::Import, "112000000001");
        sim.add_fault(fault(CallKind::List, 1, FaultKind::http(status)))
            .unwrap();
        let err = client.list_tasks(&t).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{status}: {err}");
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(calls(&sim.journal(), "GET", "/tasks").len(), 1, "{status}");
    }
}

#[tokio::test]
async fn retries_stop_after_the_policy_allows() {
    let sim = sim(100.0).await;
    let client = basic_client(&sim); // 4 retries
    sim.add_fault(fault(CallKind::Status, 0, FaultKind::http(503)))
        .unwrap();
    let t = target(TaskKind::Import, "112000000001");
    let started = client.start(&t, &StartOptions::default()).await.unwrap();
    let err = client.status(&t, &started.task_id).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert_eq!(
        calls(
            &sim.journal(),
            "GET",
            &format!("/tasks/{}", started.task_id)
        )
        .len(),
        5
    );
}

#[tokio::test(start_paused = true)]
async fn connection_resets_and_hangs_are_retried() {
    let sim = sim(100.0).await;
    let client = basic_builder(&sim)
        .pool_idle_timeout(None)
        .call_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = target(TaskKind::Import, "112000000001");
    sim.add_fault(fault(CallKind::List, 1, FaultKind::Reset))
        .unwrap();
    sim.add_fault(Fault::new(CallKind::List, 1, 1, FaultKind::Hang))
        .unwrap();
    client.list_tasks(&t).await.unwrap();
    let answers: Vec<Answer> = calls(&sim.journal(), "GET", "/tasks")
        .iter()
        .map(|e| e.answer)
        .collect();
    assert_eq!(answers, [Answer::Reset, Answer::Hang, Answer::Status(200)]);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_names_the_request_and_kind() {
    let sim = sim(100.0).await;
    let client = basic_builder(&sim)
        .pool_idle_timeout(None)
        .call_timeout(Duration::from_millis(100))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    sim.add_fault(fault(CallKind::List, 1, FaultKind::Hang))
        .unwrap();
    let err = client
        .list_tasks(&target(TaskKind::Import, "112000000001"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("GET /2/0/workspaces/"), "{err}");
    assert!(
        !err.to_string().contains("127.0.0.1"),
        "no URL in errors: {err}"
    );
}

#[tokio::test]
async fn a_malformed_body_is_retried_then_reported_with_its_position() {
    let sim = sim(100.0).await;
    let client = basic_client(&sim);
    let import = target(TaskKind::Import, "112000000001");
    // One unreadable body is transient: the listing is fetched again.
    sim.add_fault(fault(CallKind::List, 1, FaultKind::Malformed))
        .unwrap();
    client.list_tasks(&import).await.unwrap();
    assert_eq!(calls(&sim.journal(), "GET", "/tasks").len(), 2);
    // Every body unreadable: after the retries, the error says where it broke.
    sim.add_fault(fault(CallKind::List, 0, FaultKind::Malformed))
        .unwrap();
    let err = client.list_tasks(&import).await.unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("unexpected response body: not valid JSON at line"),
        "{err}"
    );
}

/// The start POST whose answer was lost: the task exists, the client adopts it.
#[tokio::test]
async fn a_lost_start_response_is_adopted_not_repeated() {
    for lost in [
        FaultKind::LostStartResponse,
        FaultKind::LostStartStatus(500),
    ] {
        let sim = sim(100.0).await;
        let client = basic_client(&sim);
        sim.add_fault(fault(CallKind::Start, 1, lost.clone()))
            .unwrap();
        let started = start_nightly(&client).await.unwrap();
        assert!(started.adopted, "{lost:?}");
        let journal = sim.journal();
        assert_eq!(
            calls(&journal, "POST", "/tasks").len(),
            1,
            "exactly one start POST for {lost:?}"
        );
        let tasks = sim.tasks();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].task_id, started.task_id);
    }
}

/// A start refused before a task existed (503 without a task, 409 busy) is sent again,
/// but only after the list shows no task was created.
#[tokio::test]
async fn a_refused_start_is_sent_again_after_checking() {
    for status in [503, 409] {
        let sim = sim(100.0).await;
        let client = basic_client(&sim);
        sim.add_fault(fault(CallKind::Start, 1, FaultKind::http(status)))
            .unwrap();
        let started = start_nightly(&client).await.unwrap();
        assert!(!started.adopted);
        let journal = sim.journal();
        let kinds: Vec<(String, Answer)> = journal
            .iter()
            .filter(|e| matches!(e.kind, CallKind::Start | CallKind::List))
            .map(|e| (format!("{:?}", e.kind), e.answer))
            .collect();
        let mut expected = vec![
            ("List".to_owned(), Answer::Status(200)),
            ("Start".to_owned(), Answer::Status(status)),
        ];
        if status == 503 {
            // ambiguous: look three times before sending again
            expected.extend(std::iter::repeat_n(
                ("List".to_owned(), Answer::Status(200)),
                3,
            ));
        }
        expected.push(("Start".to_owned(), Answer::Status(200)));
        assert_eq!(kinds, expected, "{status}");
        assert_eq!(sim.tasks().len(), 1, "{status}: one task");
    }
}

#[tokio::test]
async fn a_start_that_keeps_failing_gives_up_without_a_second_task() {
    let sim = sim(100.0).await;
    let client = basic_builder(&sim).start_attempts(2).build().unwrap();
    sim.add_fault(fault(CallKind::Start, 0, FaultKind::http(500)))
        .unwrap();
    let err = start_nightly(&client).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err:?}");
    assert_eq!(calls(&sim.journal(), "POST", "/tasks").len(), 2);
    assert!(sim.tasks().is_empty());
}

#[tokio::test]
async fn a_start_is_not_sent_when_the_task_list_is_unreachable() {
    let sim = sim(100.0).await;
    let client = basic_client(&sim);
    sim.add_fault(fault(CallKind::Start, 1, FaultKind::LostStartResponse))
        .unwrap();
    // After the lost answer, every list fails: the client must not start again blindly.
    sim.add_fault(Fault::new(CallKind::List, 1, 0, FaultKind::http(503)))
        .unwrap();
    let err = start_nightly(&client).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert_eq!(calls(&sim.journal(), "POST", "/tasks").len(), 1);
}

/// After a timeout or a gateway error the server may still create the task: the start
/// is never sent again, whatever the list says.
#[tokio::test]
async fn a_start_that_timed_out_or_hit_a_gateway_error_is_never_resent() {
    for kind in [FaultKind::Hang, FaultKind::http(504), FaultKind::http(502)] {
        let sim = sim(100.0).await;
        let client = basic_builder(&sim)
            .request_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        sim.add_fault(fault(CallKind::Start, 1, kind.clone()))
            .unwrap();
        let err = start_nightly(&client).await.unwrap_err();
        assert!(err.is_ambiguous(), "{kind:?}: {err:?}");
        assert_eq!(calls(&sim.journal(), "POST", "/tasks").len(), 1, "{kind:?}");
        let lists = calls(&sim.journal(), "GET", "/tasks").len();
        assert_eq!(lists, 1 + 3, "{kind:?}: the list before, then three looks");
    }
}
