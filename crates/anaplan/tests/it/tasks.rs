//! Every task call of the client against the simulator, over real HTTP.

use std::time::Duration;

use crate::common::*;
use runwait_anaplan::{DumpSource, Error, MappingParameter, StartOptions, TaskKind};
use runwait_core::{OutcomePolicy, TaskId, TaskState, classify};
use runwait_sim::{Answer, Scenario};

#[tokio::test]
async fn a_process_runs_to_completion_on_one_token() {
    let sim = sim(200.0).await;
    let client = basic_client(&sim);
    let process = target(TaskKind::Process, "118000000001");

    let started = client
        .start(&process, &StartOptions::default())
        .await
        .unwrap();
    assert!(!started.adopted);
    let listed = client.list_tasks(&process).await.unwrap();
    assert_eq!(listed[0].task_id, started.task_id);

    let task = wait_terminal(
        &client,
        &process,
        &started.task_id,
        Duration::from_millis(20),
    )
    .await;
    assert_eq!(task.task_state, TaskState::Complete);
    assert_eq!(
        classify(&task, &OutcomePolicy::default()).name(),
        "succeeded"
    );
    let nested = &task.result.as_ref().unwrap().nested_results;
    assert_eq!(nested.len(), 2);
    assert!(
        nested[0].duration.is_some(),
        "includeProcessDetails adds durations"
    );

    let journal = sim.journal();
    assert_eq!(
        calls(&journal, "POST", "/token/authenticate").len(),
        1,
        "one token for every call"
    );
    assert_eq!(calls(&journal, "POST", "/tasks").len(), 1);
    assert!(calls(&journal, "GET", "includeProcessDetails=true").len() >= 2);
    assert!(
        journal
            .iter()
            .all(|e| e.answer == Answer::Status(200) || e.answer == Answer::Status(201)),
        "{journal:?}"
    );
}

#[tokio::test]
async fn every_kind_starts_and_reports_its_outcome() {
    let sim = sim(500.0).await;
    let client = basic_client(&sim);
    let cases = [
        (TaskKind::Import, "112000000002", "succeeded_with_warnings"),
        (TaskKind::Export, "116000000002", "failed"),
        (TaskKind::Action, "117000000001", "succeeded"),
        (TaskKind::Process, "118000000004", "failed"),
    ];
    for (kind, object, outcome) in cases {
        let t = target(kind, object);
        // Tasks wait for the model one at a time; start each after the last finished.
        let (_, task) = start_and_wait(&client, &t, Duration::from_millis(10)).await;
        assert_eq!(
            classify(&task, &OutcomePolicy::default()).name(),
            outcome,
            "{kind} {object}"
        );
    }
}

#[tokio::test]
async fn mapping_parameters_go_to_processes_and_imports_only() {
    let sim = sim(500.0).await;
    let client = basic_client(&sim);
    let options = StartOptions {
        locale_name: "en_US".into(),
        mapping_parameters: vec![MappingParameter {
            entity_type: "Version".into(),
            entity_name: "Actual".into(),
        }],
    };
    client
        .start(&target(TaskKind::Import, "112000000001"), &options)
        .await
        .unwrap();
    let err = client
        .start(&target(TaskKind::Export, "116000000001"), &options)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("processes and imports only"),
        "{err}"
    );
    assert_eq!(
        calls(&sim.journal(), "POST", "/tasks").len(),
        1,
        "the export start was never sent"
    );
}

#[tokio::test]
async fn a_bad_locale_is_rejected_without_retry() {
    let sim = sim(500.0).await;
    let client = basic_client(&sim);
    let options = StartOptions {
        locale_name: "english".into(),
        mapping_parameters: vec![],
    };
    let err = client
        .start(&target(TaskKind::Import, "112000000001"), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(calls(&sim.journal(), "POST", "/tasks").len(), 1);
}

#[tokio::test]
async fn cancel_moves_the_task_to_cancelled() {
    let sim = sim(50.0).await;
    let client = basic_client(&sim);
    let import = target(TaskKind::Import, "112000000001");
    let started = client
        .start(&import, &StartOptions::default())
        .await
        .unwrap();
    client.cancel(&import, &started.task_id).await.unwrap();
    let seen = client
        .status(&import, &started.task_id)
        .await
        .unwrap()
        .task_state;
    assert!(
        matches!(seen, TaskState::Cancelling | TaskState::Cancelled),
        "{seen}"
    );
    let task = wait_terminal(
        &client,
        &import,
        &started.task_id,
        Duration::from_millis(10),
    )
    .await;
    assert_eq!(task.task_state, TaskState::Cancelled);
    assert_eq!(
        classify(&task, &OutcomePolicy::default()).name(),
        "cancelled"
    );
}

#[tokio::test]
async fn dumps_download_every_chunk_in_order() {
    let mut scenario = Scenario::builtin();
    scenario.dump_chunk_size = 64;
    let sim = sim_with(scenario, 500.0).await;
    let client = basic_client(&sim);

    let import = target(TaskKind::Import, "112000000003");
    let (task_id, task) = start_and_wait(&client, &import, Duration::from_millis(10)).await;
    assert!(task.result.as_ref().unwrap().failure_dump_available);

    let chunks = client
        .dump_chunks(&import, &task_id, &DumpSource::Import)
        .await
        .unwrap();
    assert!(
        chunks.len() > 1,
        "a 64-byte chunk size splits the dump: {chunks:?}"
    );
    let mut bytes = Vec::new();
    let n = client
        .download_dump(&import, &task_id, &DumpSource::Import, &mut bytes)
        .await
        .unwrap();
    assert_eq!(n as usize, bytes.len());
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("_Status_"), "{text}");
    assert_eq!(
        lines
            .filter(|l| l.starts_with('E') || l.starts_with('W'))
            .count(),
        5,
        "{text}"
    );
    let chunk_gets = calls(&sim.journal(), "GET", "/dump/chunks/").len();
    assert_eq!(chunk_gets, chunks.len());
}

#[tokio::test]
async fn a_process_dump_is_per_action_and_gone_after_a_newer_run() {
    let sim = sim(500.0).await;
    let client = basic_client(&sim);
    let process = target(TaskKind::Process, "118000000003");
    let (first, task) = start_and_wait(&client, &process, Duration::from_millis(10)).await;
    let failing = task
        .result
        .unwrap()
        .nested_results
        .into_iter()
        .find(|n| n.failure_dump_available)
        .unwrap();
    let source = DumpSource::ProcessAction(failing.object_id.unwrap());
    let mut first_dump = Vec::new();
    client
        .download_dump(&process, &first, &source, &mut first_dump)
        .await
        .unwrap();
    assert!(!first_dump.is_empty());

    start_and_wait(&client, &process, Duration::from_millis(10)).await;
    let err = client
        .download_dump(&process, &first, &source, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn listings_page_and_names_resolve_to_ids() {
    let sim = sim(1.0).await;
    let client = basic_builder(&sim).page_size(2).build().unwrap();
    let workspaces = client.workspaces().await.unwrap();
    assert_eq!(workspaces[0].id.as_str(), WORKSPACE);
    let models = client.models(&workspaces[0].id).await.unwrap();
    assert_eq!(models[0].id.as_str(), MODEL);
    let imports = client
        .objects(&workspaces[0].id, &models[0].id, TaskKind::Import)
        .await
        .unwrap();
    assert_eq!(imports.len(), 4);
    assert!(
        calls(&sim.journal(), "GET", "imports?offset=2&limit=2").len() == 1,
        "{:?}",
        sim.journal()
    );

    let id = client
        .find_object(
            &workspaces[0].id,
            &models[0].id,
            TaskKind::Process,
            "Nightly load",
        )
        .await
        .unwrap();
    assert_eq!(id.as_str(), "118000000001");
    let err = client
        .find_object(&workspaces[0].id, &models[0].id, TaskKind::Process, "Nope")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no process named `Nope`")
            && err.to_string().contains("Nightly load"),
        "{err}"
    );

    let meta = client.process_metadata(&models[0].id, &id).await.unwrap();
    let names: Vec<&str> = meta.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Products from products.csv", "Revenue.csv"]);
}

#[tokio::test]
async fn an_unknown_task_is_not_found_at_once() {
    let sim = sim(1.0).await;
    let client = basic_client(&sim);
    let t = target(TaskKind::Import, "112000000001");
    let err = client
        .status(&t, &TaskId::new("00000000000000000000000000000000"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().starts_with("GET /2/0/workspaces/"), "{err}");
    assert_eq!(
        calls(&sim.journal(), "GET", "/tasks/0000").len(),
        1,
        "404 is permanent"
    );
}
