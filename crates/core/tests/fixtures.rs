//! Every fixture in `tests/fixtures/task-status/` classifies as its name promises.

use std::path::PathBuf;

use runwait_core::{
    DumpPolicy, NestedSummary, Outcome, OutcomePolicy, TaskState, TaskStatusBody,
    UnsuccessfulWithoutEvidencePolicy, classify,
};

fn fixture(name: &str) -> TaskStatusBody {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/task-status")
        .join(name);
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    TaskStatusBody::parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn outcome(name: &str) -> Outcome {
    classify(&fixture(name).task, &OutcomePolicy::default())
}

/// (fixture, outcome under the default policy)
const EXPECTED: &[(&str, &str)] = &[
    ("not-started.json", "pending"),
    ("in-progress.json", "pending"),
    ("cancelling.json", "pending"),
    ("unknown-state.json", "pending"),
    ("cancelled-by-user.json", "cancelled"),
    ("cancelled-without-result.json", "cancelled"),
    ("cancelled-by-on-task.json", "cancelled"),
    ("complete-without-result.json", "failed"),
    ("import-succeeded.json", "succeeded"),
    ("import-succeeded-with-dump.json", "succeeded_with_warnings"),
    (
        "import-succeeded-ignored-rows.json",
        "succeeded_with_warnings",
    ),
    ("import-failed-with-dump.json", "failed"),
    ("action-failed-not-authorised.json", "failed"),
    ("action-succeeded-without-meta.json", "succeeded"),
    ("process-succeeded-bare-with-timings.json", "succeeded"),
    (
        "process-succeeded-nested-dump.json",
        "succeeded_with_warnings",
    ),
    ("process-unsuccessful-without-evidence.json", "failed"),
    ("process-failed-upload-gone.json", "failed"),
    ("process-failed-nested-dump-unknown-detail.json", "failed"),
];

#[test]
fn every_fixture_has_its_expected_outcome() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/task-status");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = EXPECTED.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every fixture must have an expected outcome"
    );
    for (file, expected) in EXPECTED {
        assert_eq!(outcome(file).name(), *expected, "{file}");
    }
}

#[test]
fn pending_keeps_the_state_it_saw_including_unknown_ones() {
    assert_eq!(
        outcome("cancelling.json"),
        Outcome::Pending {
            state: TaskState::Cancelling
        }
    );
    assert_eq!(
        outcome("unknown-state.json"),
        Outcome::Pending {
            state: TaskState::Unknown("QUEUED_FOR_REVIEW".into())
        }
    );
}

#[test]
fn cancelled_names_who_cancelled() {
    assert_eq!(
        outcome("cancelled-by-user.json"),
        Outcome::Cancelled {
            cancelled_by: Some("ops@example.com".into())
        }
    );
    assert_eq!(
        outcome("cancelled-without-result.json"),
        Outcome::Cancelled { cancelled_by: None }
    );
    // Anaplan Connect reads `cancelledBy` from the task object: read there too.
    assert_eq!(
        outcome("cancelled-by-on-task.json"),
        Outcome::Cancelled {
            cancelled_by: Some("scheduler@example.com".into())
        }
    );
}

#[test]
fn a_file_that_is_gone_is_the_one_reason_of_the_failed_process() {
    let reasons = outcome("process-failed-upload-gone.json")
        .reasons()
        .to_vec();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(
        reasons[0].object_id.as_ref().unwrap().as_str(),
        "112000000050"
    );
    assert_eq!(reasons[0].object_name.as_deref(), Some("Sales from S3"));
    assert_eq!(
        reasons[0].detail_type.as_ref().unwrap().as_str(),
        "importFailedGeneralError"
    );
    assert_eq!(
        reasons[0].message,
        "The uploaded file is no longer available; please upload the file again"
    );
}

#[test]
fn failed_rows_and_failure_details_are_reasons() {
    let reasons = outcome("import-failed-with-dump.json").reasons().to_vec();
    assert_eq!(reasons.len(), 1);
    assert_eq!(
        reasons[0].detail_type.as_ref().unwrap().as_str(),
        "lineItemRowsProcessedWithFailures"
    );

    let reasons = outcome("process-failed-nested-dump-unknown-detail.json")
        .reasons()
        .to_vec();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(
        reasons[0].object_id.as_ref().unwrap().as_str(),
        "112000000052"
    );
    assert_eq!(reasons[0].message, "rows 7 failed");

    let reasons = outcome("action-failed-not-authorised.json")
        .reasons()
        .to_vec();
    assert_eq!(
        reasons[0].to_string(),
        "117000000003 notAuthorised: You are not authorised to run this action"
    );
}

#[test]
fn a_dump_on_a_successful_import_follows_the_dump_policy() {
    let task = fixture("import-succeeded-with-dump.json").task;
    let with = |on_dump| {
        classify(
            &task,
            &OutcomePolicy {
                on_dump,
                ..OutcomePolicy::default()
            },
        )
    };
    let warned = with(DumpPolicy::Warn);
    assert_eq!(warned.name(), "succeeded_with_warnings");
    // The dump and the rows with warnings are both reported.
    assert_eq!(warned.reasons().len(), 2, "{warned:?}");
    assert_eq!(with(DumpPolicy::Fail).name(), "failed");
    // Ignoring the dump still leaves the 3 rows with warnings.
    assert_eq!(
        with(DumpPolicy::Ignore).reasons()[0].message,
        "rows 3 with warnings"
    );
}

#[test]
fn a_process_dump_is_reported_on_the_action_that_has_it() {
    let warnings = outcome("process-succeeded-nested-dump.json")
        .reasons()
        .to_vec();
    let seen: Vec<(&str, &str)> = warnings
        .iter()
        .map(|w| (w.object_id.as_ref().unwrap().as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "112000000048",
                "a failure dump is available: some rows were rejected or have warnings"
            ),
            ("112000000048", "rows 2 with warnings"),
        ]
    );
}

#[test]
fn unsuccessful_without_evidence_follows_its_policy() {
    let task = fixture("process-unsuccessful-without-evidence.json").task;
    let with = |p| {
        classify(
            &task,
            &OutcomePolicy {
                on_unsuccessful_without_evidence: p,
                ..OutcomePolicy::default()
            },
        )
    };
    assert_eq!(
        with(UnsuccessfulWithoutEvidencePolicy::Fail).name(),
        "failed"
    );
    let warn = with(UnsuccessfulWithoutEvidencePolicy::Warn);
    assert_eq!(warn.name(), "succeeded_with_warnings");
    assert_eq!(
        warn.reasons()[0].object_id.as_ref().unwrap().as_str(),
        "118000000013"
    );
}

#[test]
fn nested_summaries_carry_counts_and_timings_parse() {
    let body = fixture("process-succeeded-bare-with-timings.json");
    assert!(body.meta.is_none());
    let result = body.task.result.as_ref().unwrap();
    assert_eq!(
        result.duration,
        Some(std::time::Duration::from_millis(5321))
    );
    assert_eq!(result.start_time.unwrap().0, 1_764_316_801_234);
    let nested = NestedSummary::of_task(&body.task);
    assert_eq!(nested.len(), 2);
    assert_eq!(nested[0].counts.success_row_count, Some(1000));
    assert_eq!(nested[1].counts.other.get("fileSize"), Some(&20480));
}

#[test]
fn unknown_detail_types_and_loose_values_pass_through() {
    let body = fixture("process-failed-nested-dump-unknown-detail.json");
    let first = &body.task.result.as_ref().unwrap().nested_results[0].details[0];
    assert_eq!(first.detail_type.as_str(), "brandNewDetailType");
    assert_eq!(
        first.values,
        [
            Some("successRowCount".into()),
            Some("12".into()),
            Some("flag".into()),
            Some("true".into()),
            Some("note".into()),
            None
        ]
    );
    assert_eq!(first.counts().success_row_count, Some(12));
}

#[test]
fn a_task_serializes_back_to_the_shape_it_was_read_from() {
    for (file, _) in EXPECTED {
        let task = fixture(file).task;
        let again = serde_json::to_string(&task).unwrap();
        let reparsed =
            TaskStatusBody::parse(&again).unwrap_or_else(|e| panic!("{file}: {e}\n{again}"));
        assert_eq!(reparsed.task, task, "{file}");
    }
}
