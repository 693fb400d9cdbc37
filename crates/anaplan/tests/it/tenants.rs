//! What live tenants do that the simulator now does too (issue 11): model states,
//! `Retry-After` on 503, and tasks that a schedule or another user starts on the same
//! object while a start's answer is lost.

use std::time::Duration;

use crate::common::*;
use runwait_anaplan::{Error, ModelState, StartOptions, Started, TaskKind};
use runwait_sim::{CallKind, Fault, FaultKind, ForeignStart, Scenario, Simulator};

fn with_model_state(state: runwait_sim::ModelState) -> Scenario {
    let mut s = Scenario::builtin();
    s.workspaces[0].models[0].state = state;
    s
}

#[tokio::test(start_paused = true)]
async fn a_locked_or_archived_model_stops_at_once_with_what_to_do() {
    for (state, want, words) in [
        (
            runwait_sim::ModelState::Locked,
            ModelState::Locked,
            "is locked (Locked mode) (HTTP 423): a workspace administrator must unlock it",
        ),
        (
            runwait_sim::ModelState::Archived,
            ModelState::Archived,
            "is archived (HTTP 422)",
        ),
    ] {
        let sim = sim_with(with_model_state(state), 1.0).await;
        let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
        let t = target(TaskKind::Process, "118000000001");
        let err = client
            .start(&t, &StartOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ModelState { state, .. } if *state == want),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&format!("model {MODEL} {words}")), "{text}");
        assert!(text.contains("retrying cannot help"), "{text}");
        let journal = sim.journal();
        assert_eq!(calls(&journal, "GET", "/tasks").len(), 1, "not retried");
        assert!(
            calls(&journal, "POST", "/tasks").is_empty(),
            "nothing started"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_model_without_access_is_not_found_but_its_task_list_is_empty() {
    let sim = sim_with(with_model_state(runwait_sim::ModelState::NoAccess), 1.0).await;
    let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
    let t = target(TaskKind::Process, "118000000001");
    assert!(client.list_tasks(&t).await.unwrap().is_empty());
    let err = client
        .start(&t, &StartOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

/// `Retry-After` is waited out on a 429 and on a 503 alike (Anaplan Connect honours it
/// on 503 too), in paused time.
#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_on_429_and_503() {
    for status in [429, 503] {
        let sim = sim(1.0).await;
        let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
        sim.add_fault(Fault::new(
            CallKind::List,
            0,
            1,
            FaultKind::Http {
                status,
                retry_after: Some(Duration::from_secs(20)),
            },
        ))
        .unwrap();
        let began = tokio::time::Instant::now();
        client
            .list_tasks(&target(TaskKind::Import, "112000000001"))
            .await
            .unwrap();
        assert!(
            began.elapsed() >= Duration::from_secs(20),
            "{status}: {:?}",
            began.elapsed()
        );
        let journal = sim.journal();
        let lists = calls(&journal, "GET", "/tasks");
        assert_eq!(lists.len(), 2, "{status}");
        assert!(
            lists[1].at_ms - lists[0].at_ms >= 20_000,
            "{status}: {lists:?}"
        );
    }
}

/// A scenario where `other@runwait.local` starts the nightly process 5 s in.
fn someone_else_starts(list_users: bool) -> Scenario {
    let mut s = Scenario::builtin();
    s.foreign_starts = vec![ForeignStart {
        at: Duration::from_secs(5),
        object: "118000000001".into(),
        by: "other@runwait.local".into(),
    }];
    s.task_list_users = list_users;
    s
}

/// Our start of the nightly process, whose answer is lost, 10 s after the list was read
/// and 5 s after a stranger started the same process.
async fn a_lost_start_beside_a_stranger(list_users: bool) -> (Simulator, Result<Started, Error>) {
    let sim = sim_with(someone_else_starts(list_users), 1.0).await;
    let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
    let t = target(TaskKind::Process, "118000000001");
    let known = client.known_tasks(&t).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    sim.add_fault(Fault::new(
        CallKind::Start,
        0,
        1,
        FaultKind::LostStartResponse,
    ))
    .unwrap();
    let started = client
        .start_after(&t, &StartOptions::default(), &known)
        .await;
    (sim, started)
}

#[tokio::test(start_paused = true)]
async fn a_strangers_task_is_told_apart_by_its_user_when_the_list_names_it() {
    let (sim, started) = a_lost_start_beside_a_stranger(true).await;
    let started = started.unwrap();
    assert!(started.adopted);
    let tasks = sim.tasks();
    assert_eq!(tasks.len(), 2, "the stranger's and ours: {tasks:?}");
    let ours = tasks.iter().find(|x| x.user == USER).unwrap();
    assert_eq!(
        started.task_id, ours.task_id,
        "ours, not the newer stranger's"
    );
    assert_eq!(calls(&sim.journal(), "POST", "/tasks").len(), 1);
    let journal = sim.journal();
    let lists = calls(&journal, "GET", "/tasks?");
    assert!(
        lists.iter().all(|e| e.path.contains("sort=-creationDate")),
        "{lists:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_user_two_new_tasks_stop_the_start_instead_of_adopting_one() {
    let (sim, started) = a_lost_start_beside_a_stranger(false).await;
    let err = started.unwrap_err();
    let t = target(TaskKind::Process, "118000000001");
    assert!(matches!(err, Error::Adoption { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("2 task(s) appeared") && text.contains("not starting again"),
        "{text}"
    );
    assert_eq!(
        calls(&sim.journal(), "POST", "/tasks").len(),
        1,
        "never two starts"
    );

    // After a crash, the same rule: a lone stranger's task created since the attempt is
    // reported, never adopted silently, when the list cannot say whose it is.
    let sim = sim_with(someone_else_starts(false), 1.0).await;
    let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
    let known = client.known_tasks(&t).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let found = client.adopt_new(&t, &known).await.unwrap();
    assert_eq!(
        found.map(|f| f.task_id),
        Some(sim.tasks()[0].task_id.clone()),
        "one new task and nothing to tell it apart: the documented listing allows no better"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_crash_a_strangers_task_named_in_the_list_is_not_adopted() {
    let sim = sim_with(someone_else_starts(true), 1.0).await;
    let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
    let t = target(TaskKind::Process, "118000000001");
    let known = client.known_tasks(&t).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(client.adopt_new(&t, &known).await.unwrap(), None);
    // A task older than the attempt (less the skew margin) is not ours either.
    let sim = sim_with(someone_else_starts(false), 1.0).await;
    let client = basic_builder(&sim).pool_idle_timeout(None).build().unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later =
        runwait_core::KnownTasks::default().since(runwait_core::EpochMillis::from_system_time(
            std::time::SystemTime::now() + Duration::from_secs(3600),
        ));
    assert_eq!(client.adopt_new(&t, &later).await.unwrap(), None);
}
