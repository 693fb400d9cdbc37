//! Counts in the forms Anaplan's JSON may take: read when they are whole numbers of rows,
//! and never silently dropped when they are not, so a task with warnings never reads as
//! plain success.

use runwait_core::{OutcomePolicy, TaskStatusBody, classify};

/// A successful import whose one detail carries `warningsRowCount` as `value` (JSON).
fn body(value: &str) -> String {
    format!(
        r#"{{"task": {{"taskId": "T1", "taskState": "COMPLETE", "result": {{
            "successful": true, "failureDumpAvailable": false, "objectId": "112000000001",
            "details": [{{"type": "hierarchyRowsProcessed",
                "values": ["successRowCount", "10", "warningsRowCount", {value}]}}]}}}}}}"#
    )
}

#[test]
fn every_form_of_a_count_is_read_or_reported_unreadable() {
    // (the value as written, the count read, the outcome, in its first warning)
    let cases: [(&str, Option<u64>, &str, &str); 12] = [
        (
            r#""5""#,
            Some(5),
            "succeeded_with_warnings",
            "rows 5 with warnings",
        ),
        (
            "5",
            Some(5),
            "succeeded_with_warnings",
            "rows 5 with warnings",
        ),
        (
            r#""5.0""#,
            Some(5),
            "succeeded_with_warnings",
            "rows 5 with warnings",
        ),
        (
            "5.0",
            Some(5),
            "succeeded_with_warnings",
            "rows 5 with warnings",
        ),
        (
            r#"" 7 ""#,
            Some(7),
            "succeeded_with_warnings",
            "rows 7 with warnings",
        ),
        (
            "5e2",
            Some(500),
            "succeeded_with_warnings",
            "rows 500 with warnings",
        ),
        (r#""0""#, Some(0), "succeeded", ""),
        (
            r#""-5""#,
            None,
            "succeeded_with_warnings",
            r#"warningsRowCount "-5""#,
        ),
        (
            "-5",
            None,
            "succeeded_with_warnings",
            r#"warningsRowCount "-5""#,
        ),
        (
            r#""5.5""#,
            None,
            "succeeded_with_warnings",
            r#"warningsRowCount "5.5""#,
        ),
        (
            r#""18446744073709551616""#,
            None,
            "succeeded_with_warnings",
            r#"warningsRowCount "18446744073709551616""#,
        ),
        (
            r#""many""#,
            None,
            "succeeded_with_warnings",
            r#"warningsRowCount "many""#,
        ),
    ];
    for (value, read, outcome, said) in cases {
        let task = TaskStatusBody::parse(&body(value)).unwrap().task;
        let counts = task.result.as_ref().unwrap().counts();
        assert_eq!(counts.warnings_row_count, read, "{value}");
        assert_eq!(counts.success_row_count, Some(10), "{value}");
        assert_eq!(counts.unreadable.is_empty(), read.is_some(), "{value}");
        let classified = classify(&task, &OutcomePolicy::default());
        assert_eq!(classified.name(), outcome, "{value}");
        if !said.is_empty() {
            let first = classified.reasons()[0].to_string();
            assert!(first.contains(said), "{value}: {first}");
        }
    }
}

#[test]
fn counts_beyond_2_to_the_63_are_read() {
    let task = TaskStatusBody::parse(&body(r#""9223372036854775808""#))
        .unwrap()
        .task;
    let counts = task.result.as_ref().unwrap().counts();
    assert_eq!(counts.warnings_row_count, Some(1 << 63));
}

#[test]
fn an_unreadable_failed_count_is_evidence_of_a_failure() {
    let body = r#"{"task": {"taskId": "T1", "taskState": "COMPLETE", "result": {
        "successful": false, "failureDumpAvailable": false, "objectId": "112000000001",
        "details": [{"type": "hierarchyRowsProcessed", "values": ["failedCount", "-3"]}]}}}"#;
    let task = TaskStatusBody::parse(body).unwrap().task;
    let outcome = classify(&task, &OutcomePolicy::default());
    assert_eq!(outcome.name(), "failed");
    let reason = outcome.reasons()[0].to_string();
    assert!(reason.contains(r#"failedCount "-3""#), "{reason}");
    assert!(!reason.contains("no failure detail"), "{reason}");
}
