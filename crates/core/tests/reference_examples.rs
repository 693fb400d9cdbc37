//! The real Anaplan bodies kept beside the project (`../shared/reference/examples/`)
//! classify as the reference says. They are read in place, never copied into the repo;
//! set `RUNWAIT_REFERENCE_EXAMPLES` to point elsewhere.

use std::path::PathBuf;

use runwait_core::{OutcomePolicy, TaskStatusBody, classify};

fn examples_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("RUNWAIT_REFERENCE_EXAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/examples")
        }
    };
    dir.is_dir().then_some(dir)
}

#[test]
fn reference_task_bodies_classify_as_documented() {
    let Some(dir) = examples_dir() else {
        eprintln!(
            "SKIPPED: no reference examples (set RUNWAIT_REFERENCE_EXAMPLES to the examples folder)"
        );
        return;
    };
    let expected = [
        ("process-failed-file-gone.seed.json", "failed"),
        ("process-success-exports.anaplan-connect.json", "succeeded"),
        (
            "import-success-with-dump.anaplan-connect.json",
            "succeeded_with_warnings",
        ),
        ("action-delete-success.postman.json", "succeeded"),
        ("process-success-with-details.help.json", "succeeded"),
    ];
    for (file, outcome) in expected {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        let task = TaskStatusBody::parse(&body)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .task;
        assert_eq!(
            classify(&task, &OutcomePolicy::default()).name(),
            outcome,
            "{file}"
        );
    }

    let body = std::fs::read_to_string(dir.join("process-failed-file-gone.seed.json")).unwrap();
    let outcome = classify(
        &TaskStatusBody::parse(&body).unwrap().task,
        &OutcomePolicy::default(),
    );
    let reasons = outcome.reasons();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(
        reasons[0].object_id.as_ref().unwrap().as_str(),
        "112000000000"
    );
    assert_eq!(
        reasons[0].message,
        "The uploaded file is no longer available; please upload the file again"
    );

    for not_a_status in [
        "create-task.anaplan-connect.json",
        "task-list.postman.json",
        "model-status-busy.help.json",
        "auth-token.anaplan-connect.json",
        "dump-chunk-list.anaplan-connect.json",
    ] {
        let body = std::fs::read_to_string(dir.join(not_a_status)).unwrap();
        assert!(
            TaskStatusBody::parse(&body).is_err(),
            "{not_a_status} must not read as a task status"
        );
    }
}
