//! Task endpoints over real HTTP: state transitions, progress curves, the model lock,
//! cancel, listings and validation. Time is paused, so scenario time is exact.

use crate::common::{MODEL, T, WS, advance, assert_envelope, one_model, scenario};
use reqwest::StatusCode;
use runwait_core::{TaskList, TaskState};
use runwait_sim::Scenario;
use serde_json::json;

const TIMING_OBJECTS: &str = r#"
imports:
  - {id: "112000000001", name: Linear, duration: 100s}
  - {id: "112000000002", name: Steps, duration: 100s, progress: {steps: 4}}
  - {id: "112000000003", name: Stuck, duration: 100s, progress: stuck}
actions:
  - {id: "117000000001", name: Sticky, duration: 100s, cancellable: false}
"#;

/// 100-second tasks on one model, with a 5 s CANCELLING.
fn timing() -> Scenario {
    scenario(&one_model(
        "users: [{name: demo@runwait.local, password: demo}]\ncancel_duration: 5s",
        TIMING_OBJECTS,
    ))
}

#[tokio::test(start_paused = true)]
async fn a_task_runs_to_complete_with_linear_progress() {
    let t = T::start(timing()).await;
    let id = t.start_task("imports", "112000000001").await;
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );

    let task = t.task("imports", "112000000001", &id).await;
    assert_eq!(task.task_state, TaskState::InProgress);
    assert_eq!(task.progress, Some(0.0));
    assert!(task.creation_time.is_some());
    assert!(task.result.is_none());

    advance(25).await;
    let task = t.task("imports", "112000000001", &id).await;
    assert_eq!(
        (task.task_state, task.progress),
        (TaskState::InProgress, Some(0.25))
    );

    advance(74).await;
    assert_eq!(
        t.task("imports", "112000000001", &id).await.progress,
        Some(0.99)
    );

    advance(1).await;
    let task = t.task("imports", "112000000001", &id).await;
    assert_eq!(task.task_state, TaskState::Complete);
    assert_eq!(task.progress, Some(1.0));
    assert_eq!(task.current_step.as_deref(), Some("Complete."));
    let result = task.result.unwrap();
    assert!(result.successful);
    assert!(!result.failure_dump_available);
    assert_eq!(result.counts().success_row_count, Some(100));
}

#[tokio::test(start_paused = true)]
async fn stepwise_and_stuck_curves() {
    let t = T::start(timing()).await;
    let steps = t.start_task("imports", "112000000002").await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        advance(20).await;
        seen.push(
            t.task("imports", "112000000002", &steps)
                .await
                .progress
                .unwrap(),
        );
    }
    assert_eq!(seen, [0.0, 0.25, 0.5, 0.75]);
    advance(20).await;
    let stuck = t.start_task("imports", "112000000003").await;
    advance(99).await;
    let task = t.task("imports", "112000000003", &stuck).await;
    assert_eq!(
        (task.task_state, task.progress),
        (TaskState::InProgress, Some(0.0))
    );
    advance(1).await;
    let task = t.task("imports", "112000000003", &stuck).await;
    assert_eq!(
        (task.task_state, task.progress),
        (TaskState::Complete, Some(1.0))
    );
}

#[tokio::test(start_paused = true)]
async fn one_task_at_a_time_per_model() {
    let t = T::start(timing()).await;
    let first = t.start_task("imports", "112000000001").await;
    advance(50).await;
    let second = t.start_task("imports", "112000000002").await;
    let queued = t.task("imports", "112000000002", &second).await;
    assert_eq!(
        (queued.task_state, queued.progress),
        (TaskState::NotStarted, Some(0.0))
    );

    let status_url = t.url(&format!("/workspaces/{WS}/models/{MODEL}/status"));
    let (code, status) = t.post(&status_url, json!({})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status["requestStatus"]["taskId"], first.as_str());
    assert_eq!(status["requestStatus"]["progress"], 0.5);

    advance(50).await;
    assert_eq!(
        t.task("imports", "112000000001", &first).await.task_state,
        TaskState::Complete
    );
    assert_eq!(
        t.task("imports", "112000000002", &second).await.task_state,
        TaskState::InProgress
    );
    advance(100).await;
    assert_eq!(
        t.task("imports", "112000000002", &second).await.task_state,
        TaskState::Complete
    );
    let (_, status) = t.post(&status_url, json!({})).await;
    assert_eq!(status["requestStatus"]["progress"], -1.0);
    assert!(status["requestStatus"].get("taskId").is_none());
}

#[tokio::test(start_paused = true)]
async fn cancel_goes_through_cancelling_and_frees_the_model() {
    let t = T::start(timing()).await;
    let running = t.start_task("imports", "112000000001").await;
    let queued = t.start_task("imports", "112000000002").await;
    advance(10).await;
    let url = format!("{}/tasks/{running}", t.obj("imports", "112000000001"));
    let (code, body) = t.delete(&url).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["task"]["taskState"], "CANCELLING");
    assert_eq!(body["task"]["progress"], 0.1);
    advance(4).await;
    assert_eq!(
        t.task("imports", "112000000001", &running).await.task_state,
        TaskState::Cancelling
    );
    assert_eq!(
        t.task("imports", "112000000002", &queued).await.task_state,
        TaskState::NotStarted
    );
    advance(1).await;
    let task = t.task("imports", "112000000001", &running).await;
    assert_eq!(task.task_state, TaskState::Cancelled);
    let result = task.result.unwrap();
    assert!(!result.successful);
    assert_eq!(result.cancelled_by.as_deref(), Some("demo@runwait.local"));
    // The model is free at 15s, so the queued task runs from then on.
    advance(50).await;
    assert_eq!(
        t.task("imports", "112000000002", &queued).await.progress,
        Some(0.5)
    );
    // A second DELETE on a terminal task changes nothing.
    let (code, body) = t.delete(&url).await;
    assert_eq!(
        (code, body["task"]["taskState"].as_str()),
        (StatusCode::OK, Some("CANCELLED"))
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_queued_task_cancels_it_at_once() {
    let t = T::start(timing()).await;
    t.start_task("imports", "112000000001").await;
    let queued = t.start_task("imports", "112000000002").await;
    let (_, body) = t
        .delete(&format!(
            "{}/tasks/{queued}",
            t.obj("imports", "112000000002")
        ))
        .await;
    assert_eq!(body["task"]["taskState"], "CANCELLED");
}

#[tokio::test(start_paused = true)]
async fn a_task_that_cannot_roll_back_completes_after_a_cancel() {
    let t = T::start(timing()).await;
    let id = t.start_task("actions", "117000000001").await;
    advance(30).await;
    let (code, body) = t
        .delete(&format!("{}/tasks/{id}", t.obj("actions", "117000000001")))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["task"]["taskState"], "IN_PROGRESS");
    advance(70).await;
    let task = t.task("actions", "117000000001", &id).await;
    assert_eq!(task.task_state, TaskState::Complete);
    assert!(task.result.unwrap().successful);
}

#[tokio::test(start_paused = true)]
async fn task_list_has_every_task_of_the_object_with_paging() {
    let t = T::start(timing()).await;
    let a = t.start_task("imports", "112000000001").await;
    advance(1).await;
    let b = t.start_task("imports", "112000000001").await;
    t.start_task("imports", "112000000002").await;
    let url = format!("{}/tasks", t.obj("imports", "112000000001"));
    let (code, body) = t.get(&url).await;
    assert_eq!(code, StatusCode::OK);
    let list = TaskList::parse(&body.to_string()).unwrap();
    let ids: Vec<&str> = list
        .newest_first()
        .iter()
        .map(|s| s.task_id.as_str())
        .collect();
    assert_eq!(ids, [b.as_str(), a.as_str()]);
    assert_eq!(list.tasks[1].task_state, TaskState::NotStarted);
    assert_eq!(body["meta"]["paging"]["totalSize"], 2);

    let (_, page) = t.get(&format!("{url}?offset=1&limit=1")).await;
    assert_eq!(page["tasks"][0]["taskId"], b.as_str());
    assert_eq!(page["meta"]["paging"]["currentPageSize"], 1);

    let (code, empty) = t
        .get(&format!("{}/tasks", t.obj("imports", "112000000999")))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        TaskList::parse(&empty.to_string())
            .unwrap()
            .tasks
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn bad_requests_get_the_error_envelope() {
    let t = T::start(timing()).await;
    let tasks = format!("{}/tasks", t.obj("imports", "112000000001"));
    for body in [
        json!({}),
        json!({"localeName": "english"}),
        json!({"localeName": "en_US", "mappingParameters": "Version=Actual"}),
        json!({"localeName": "en_US", "mappingParameters": [{"entityType": "Version"}]}),
    ] {
        let (code, err) = t.post(&tasks, body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert_envelope(&err, 400, "/112000000001/tasks");
    }
    let (code, _) = t.send(t.http.post(&tasks).body("not json")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let ok = json!({"localeName": "en_GB", "mappingParameters": [{"entityType": "Version", "entityName": "Actual"}]});
    assert_eq!(t.post(&tasks, ok).await.0, StatusCode::OK);
    assert_eq!(
        t.sim.tasks().len(),
        1,
        "only the valid start created a task"
    );

    for url in [
        format!("{}/tasks", t.obj("exports", "112000000001")),
        format!("{}/tasks", t.obj("imports", "112000000999")),
        format!("{}/tasks", t.obj("things", "112000000001")),
    ] {
        let (code, err) = t.post(&url, json!({"localeName": "en_US"})).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{url}");
        assert_envelope(&err, 404, "/tasks");
    }
    let (code, err) = t
        .get(&format!("{tasks}/0123456789ABCDEF0123456789ABCDEF"))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_envelope(&err, 404, "0123456789ABCDEF0123456789ABCDEF");
    // A task is only found under the object it runs.
    let id = t.start_task("imports", "112000000002").await;
    assert_eq!(
        t.get(&format!("{tasks}/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (code, err) = t.send(t.http.put(&tasks)).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&err, 405, "/tasks");
    let (code, err) = t.get(&t.url("/no/such/path")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_envelope(&err, 404, "/2/0/no/such/path");
}

#[tokio::test(start_paused = true)]
async fn builtin_processes_end_in_each_outcome() {
    let t = T::builtin().await;
    let mut ids = Vec::new();
    for p in [
        "118000000001",
        "118000000002",
        "118000000003",
        "118000000004",
        "118000000005",
    ] {
        ids.push((p, t.start_task("processes", p).await));
    }
    // All five queue on the one model: 105 s in all, well inside the token's life.
    advance(600).await;
    let mut results = Vec::new();
    for (p, id) in &ids {
        let task = t.task("processes", p, id).await;
        assert_eq!(task.task_state, TaskState::Complete, "{p}");
        results.push(task.result.unwrap());
    }
    let flags: Vec<(bool, bool)> = results
        .iter()
        .map(|r| (r.successful, r.failure_dump_available))
        .collect();
    assert_eq!(
        flags,
        [
            (true, false),
            (true, true),
            (false, true),
            (false, false),
            (false, false)
        ]
    );
    // Fails like the brief's example: the import did not run, the export after it
    // reports unsuccessful although it says exportSucceeded.
    let gone = &results[3];
    assert_eq!(gone.details[0].detail_type.as_str(), "internalError");
    assert!(gone.details[0].message().contains("no longer available"));
    assert_eq!(
        gone.nested_results[0].object_id.as_ref().unwrap().as_str(),
        "112000000004"
    );
    assert_eq!(
        gone.nested_results[0].details[0].detail_type.as_str(),
        "importFailedGeneralError"
    );
    assert!(!gone.nested_results[1].successful);
    assert_eq!(
        gone.nested_results[1].details[0].detail_type.as_str(),
        "exportSucceeded"
    );
    // Unsuccessful without evidence: no details, every action succeeded.
    assert!(results[4].details.is_empty());
    assert!(results[4].nested_results.iter().all(|n| n.successful));
    // The failed process reads "Failed." with progress 0, like the brief.
    let task = t.task("processes", "118000000004", &ids[3].1).await;
    assert_eq!(
        (task.current_step.as_deref(), task.progress),
        (Some("Failed."), Some(0.0))
    );
}

#[tokio::test(start_paused = true)]
async fn include_process_details_adds_run_times() {
    let t = T::builtin().await;
    let id = t.start_task("processes", "118000000001").await;
    advance(30).await;
    let url = format!("{}/tasks/{id}", t.obj("processes", "118000000001"));
    let (_, plain) = t.get(&url).await;
    assert!(plain["task"]["result"].get("duration").is_none());
    let (_, detailed) = t.get(&format!("{url}?includeProcessDetails=true")).await;
    let result = &detailed["task"]["result"];
    assert_eq!(result["duration"], "30000");
    let nested = &result["nestedResults"];
    assert_eq!(nested[0]["duration"], "20000");
    assert_eq!(nested[1]["duration"], "10000");
    let start: u64 = result["startTime"].as_str().unwrap().parse().unwrap();
    let second: u64 = nested[1]["startTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(second - start, 20_000);
    assert_eq!(detailed["task"]["creationTime"].as_u64().unwrap(), start);
}

#[tokio::test(start_paused = true)]
async fn discovery_lists_the_scenario() {
    let t = T::builtin().await;
    let (code, ws) = t.get(&t.url("/workspaces")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(ws["workspaces"][0]["id"], WS);
    assert_eq!(ws["meta"]["paging"]["totalSize"], 1);

    let (_, models) = t.get(&t.url(&format!("/workspaces/{WS}/models"))).await;
    assert_eq!(models["models"][0]["id"], MODEL);
    assert!(models["models"][0].get("modelTransactionRunning").is_none());

    let (_, model) = t
        .get(&t.url(&format!("/models/{MODEL}?modelDetails=true")))
        .await;
    assert_eq!(model["model"]["modelTransactionRunning"], false);
    t.start_task("actions", "117000000001").await;
    let (_, model) = t
        .get(&t.url(&format!("/models/{MODEL}?modelDetails=true")))
        .await;
    assert_eq!(model["model"]["modelTransactionRunning"], true);
    // Live tenants do not serve a model under its workspace (issue 11).
    let (code, body) = t
        .get(&t.url(&format!(
            "/workspaces/{WS}/models/{MODEL}?modelDetails=true"
        )))
        .await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&body, 405, &format!("/models/{MODEL}"));

    for (kind, count) in [
        ("processes", 5),
        ("imports", 4),
        ("exports", 3),
        ("actions", 3),
    ] {
        let (code, list) = t
            .get(&t.url(&format!("/workspaces/{WS}/models/{MODEL}/{kind}")))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(list[kind].as_array().unwrap().len(), count, "{kind}");
        assert_eq!(list["meta"]["paging"]["totalSize"], count);
    }
    let (_, actions) = t
        .get(&t.url(&format!("/workspaces/{WS}/models/{MODEL}/actions?limit=2")))
        .await;
    assert_eq!(actions["actions"].as_array().unwrap().len(), 2);
    assert_eq!(actions["actions"][1]["actionType"], "ORDER_HIERARCHY");

    for url in [
        t.url(&format!("/models/{MODEL}/processes/118000000004")),
        t.obj("processes", "118000000004"),
    ] {
        let (code, meta) = t.get(&url).await;
        assert_eq!(code, StatusCode::OK);
        let actions = &meta["processMetadata"]["actions"];
        assert_eq!(actions[0]["id"], "112000000004");
        assert_eq!(actions[0]["actionType"], "IMPORT");
        assert_eq!(actions[1]["id"], "116000000004");
        assert_eq!(actions[1]["actionType"], "EXPORT");
    }
    for path in [
        "/workspaces/00000000000000000000000000000000/models".to_owned(),
        format!("/models/{}", "0".repeat(32)),
        format!("/models/{MODEL}/processes/118000000999"),
    ] {
        let (code, err) = t.get(&t.url(&path)).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{path}");
        assert_envelope(&err, 404, &format!("/2/0{path}"));
    }
}
