//! Properties: the parser never panics, and classification of a terminal task is total.

use proptest::prelude::*;
use runwait_core::{
    Detail, DetailType, DumpPolicy, ObjectId, Outcome, OutcomePolicy, ParseError, Task, TaskId,
    TaskResult, TaskState, TaskStatusBody, UnsuccessfulWithoutEvidencePolicy, classify,
};
use serde_json::{Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z_]{0,12}".prop_map(Value::String),
        prop_oneof![Just("COMPLETE"), Just("CANCELLED"), Just("IN_PROGRESS")]
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let keys = prop_oneof![
            Just("task".to_owned()),
            Just("taskId".to_owned()),
            Just("taskState".to_owned()),
            Just("result".to_owned()),
            Just("successful".to_owned()),
            Just("nestedResults".to_owned()),
            Just("details".to_owned()),
            Just("values".to_owned()),
            Just("progress".to_owned()),
            Just("duration".to_owned()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_detail() -> impl Strategy<Value = Detail> {
    let detail_type = prop_oneof![
        Just("hierarchyRowsProcessed"),
        Just("hierarchyRowsProcessedWithFailures"),
        Just("exportSucceeded"),
        Just("importFailedGeneralError"),
        Just("internalError"),
        Just("somethingNew"),
        Just(""),
    ];
    let value = prop::option::of(prop_oneof![
        Just("successRowCount".to_owned()),
        Just("failedCount".to_owned()),
        Just("warningsRowCount".to_owned()),
        Just("ignoredCount".to_owned()),
        Just("errorMessage".to_owned()),
        "[0-9]{1,4}",
        ".{0,8}",
    ]);
    (
        detail_type,
        prop::option::of(".{0,20}"),
        prop::collection::vec(value, 0..8),
    )
        .prop_map(|(t, text, values)| Detail {
            detail_type: DetailType::new(t),
            local_message_text: text,
            occurrences: Some(0),
            values,
        })
}

fn any_result() -> impl Strategy<Value = TaskResult> {
    let leaf = (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any_detail(), 0..3),
        prop::option::of("1[0-9]{11}"),
    )
        .prop_map(|(successful, dump, details, id)| TaskResult {
            successful,
            failure_dump_available: dump,
            object_id: id.map(ObjectId::new),
            object_name: None,
            details,
            nested_results: Vec::new(),
            duration: None,
            start_time: None,
            cancelled_by: None,
        });
    leaf.prop_recursive(2, 12, 4, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..4)).prop_map(|(mut parent, nested)| {
            parent.nested_results = nested;
            parent
        })
    })
}

fn any_policy() -> impl Strategy<Value = OutcomePolicy> {
    (
        prop_oneof![
            Just(DumpPolicy::Warn),
            Just(DumpPolicy::Fail),
            Just(DumpPolicy::Ignore)
        ],
        prop_oneof![
            Just(UnsuccessfulWithoutEvidencePolicy::Warn),
            Just(UnsuccessfulWithoutEvidencePolicy::Fail)
        ],
    )
        .prop_map(
            |(on_dump, on_unsuccessful_without_evidence)| OutcomePolicy {
                on_dump,
                on_unsuccessful_without_evidence,
            },
        )
}

fn task(state: TaskState, result: Option<TaskResult>) -> Task {
    Task {
        object_type: None,
        task_id: TaskId::new("00000000000000000000000000000001"),
        current_step: None,
        progress: Some(1.0),
        creation_time: None,
        task_state: state,
        result: result.map(Box::new),
        cancelled_by: None,
    }
}

/// An error of the status parser is located: a line and column within the text, or a
/// verdict on a body that is valid JSON as a whole.
fn assert_located(text: &str) -> Result<(), TestCaseError> {
    match TaskStatusBody::parse(text) {
        Ok(_) => {}
        Err(ParseError::Syntax { line, column, .. } | ParseError::Shape { line, column, .. }) => {
            let lines = text.split('\n').count();
            prop_assert!(line >= 1 && line <= lines, "line {line} of {lines}");
            let width = text.split('\n').nth(line - 1).map_or(0, str::len);
            prop_assert!(column <= width + 1, "column {column} of {width}");
        }
        Err(e @ ParseError::NotA(_)) => prop_assert!(
            serde_json::from_str::<Value>(text).is_ok(),
            "{e} for a body that is not JSON"
        ),
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_parser(text in ".{0,200}") {
        let _ = TaskStatusBody::parse(&text);
    }

    #[test]
    fn errors_of_arbitrary_text_are_located(text in "(?s).{0,200}") {
        assert_located(&text)?;
    }

    #[test]
    fn errors_of_arbitrary_json_are_located(value in any_json(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
        assert_located(&text)?;
    }

    #[test]
    fn arbitrary_json_never_panics_the_parser_or_the_classifier(value in any_json(), policy in any_policy()) {
        if let Ok(body) = TaskStatusBody::parse(&value.to_string()) {
            let _ = classify(&body.task, &policy);
        }
    }

    #[test]
    fn every_terminal_task_gets_a_terminal_outcome_with_its_evidence(
        complete in any::<bool>(),
        result in prop::option::of(any_result()),
        policy in any_policy(),
    ) {
        let state = if complete { TaskState::Complete } else { TaskState::Cancelled };
        let outcome = classify(&task(state, result.clone()), &policy);
        prop_assert!(outcome.is_terminal());
        match &outcome {
            Outcome::Failed { reasons } => prop_assert!(!reasons.is_empty()),
            Outcome::SucceededWithWarnings { warnings } => prop_assert!(!warnings.is_empty()),
            Outcome::Cancelled { .. } => prop_assert!(!complete),
            Outcome::Succeeded => prop_assert!(result.as_ref().is_some_and(|r| r.successful)),
            Outcome::Pending { .. } => prop_assert!(false, "terminal task classified as pending"),
        }
        // A successful task fails only when the policy makes a dump a failure.
        if complete && result.as_ref().is_some_and(|r| r.successful) && policy.on_dump != DumpPolicy::Fail {
            prop_assert_ne!(outcome.name(), "failed");
        }
    }

    #[test]
    fn non_terminal_states_are_always_pending(
        state in prop_oneof![
            Just(TaskState::NotStarted),
            Just(TaskState::InProgress),
            Just(TaskState::Cancelling),
            "[A-Z_]{1,12}".prop_map(|s| TaskState::from(s.as_str())),
        ],
        result in prop::option::of(any_result()),
        policy in any_policy(),
    ) {
        prop_assume!(!state.is_terminal());
        prop_assert_eq!(classify(&task(state.clone(), result), &policy), Outcome::Pending { state });
    }
}
