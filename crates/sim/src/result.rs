//! What a task reports: its result (generated from the scenario's outcome, or the
//! scenario's own details), nested results of a process, and the task body of a status.

use std::time::Duration;

use runwait_core::{Detail, DetailType, ObjectId, Task, TaskResult};

use crate::clock::Clock;
use crate::dump::dump_rows;
use crate::scenario::{DetailSpec, JobKind, JobSpec, ModelSpec, Outcome, saturating_sum};
use crate::task::{Phase, TaskRec};

/// Rows every generated import reads.
const ROWS: u64 = 100;

fn detail(t: &str, message: Option<String>, values: &[(&str, Option<String>)]) -> Detail {
    Detail {
        detail_type: DetailType::new(t),
        local_message_text: message,
        occurrences: Some(0),
        values: values
            .iter()
            .flat_map(|(k, v)| [Some((*k).to_owned()), v.clone()])
            .collect(),
    }
}

fn from_specs(specs: &[DetailSpec]) -> Vec<Detail> {
    specs
        .iter()
        .map(|d| Detail {
            detail_type: DetailType::new(d.detail_type.clone()),
            local_message_text: d.message.clone(),
            occurrences: Some(d.occurrences),
            values: d.values.clone(),
        })
        .collect()
}

fn generated_details(kind: JobKind, j: &JobSpec, dump: u64) -> Vec<Detail> {
    let n = |v: u64| Some(v.to_string());
    let counts = |ok: u64, warn: u64, failed: u64| {
        vec![
            ("successRowCount", n(ok)),
            ("warningsRowCount", n(warn)),
            ("failedCount", n(failed)),
            ("ignoredCount", n(0)),
            ("totalRowCount", n(ROWS)),
        ]
    };
    match (kind, j.outcome) {
        (_, Outcome::UnsuccessfulWithoutEvidence) => Vec::new(),
        (JobKind::Import, Outcome::Success) => vec![detail(
            "hierarchyRowsProcessed",
            Some(format!(
                "{}: {ROWS} ({ROWS}/{ROWS}) rows successful, 0 ignored",
                j.name
            )),
            &counts(ROWS, 0, 0),
        )],
        (JobKind::Import, Outcome::Warnings) => vec![detail(
            "hierarchyRowsProcessed",
            Some(format!(
                "{}: {ROWS} rows successful, {dump} with warnings",
                j.name
            )),
            &counts(ROWS, dump, 0),
        )],
        (JobKind::Import, Outcome::Failure) if dump > 0 => vec![detail(
            "hierarchyRowsProcessedWithFailures",
            Some(format!(
                "{}: {} rows successful, {dump} failed",
                j.name,
                ROWS - dump.min(ROWS)
            )),
            &counts(ROWS - dump.min(ROWS), 0, dump),
        )],
        (JobKind::Import, Outcome::Failure) => {
            let msg = format!("Import `{}` failed", j.name);
            vec![detail(
                "importFailedGeneralError",
                Some(msg.clone()),
                &[("errorMessage", Some(msg))],
            )]
        }
        (JobKind::Export, Outcome::Success | Outcome::Warnings) => vec![detail(
            "exportSucceeded",
            None,
            &[
                ("fileSize", n(2048)),
                ("serverAlert", None),
                ("exportName", None),
            ],
        )],
        (_, Outcome::Success | Outcome::Warnings) => Vec::new(),
        (_, Outcome::Failure) => vec![detail(
            "actionFailed",
            Some(format!("`{}` failed", j.name)),
            &[],
        )],
    }
}

fn job_result(kind: JobKind, j: &JobSpec) -> TaskResult {
    let dump = dump_rows(kind, j);
    TaskResult {
        successful: matches!(j.outcome, Outcome::Success | Outcome::Warnings),
        failure_dump_available: dump > 0,
        object_id: Some(j.id.clone()),
        object_name: None,
        details: match &j.details {
            Some(specs) => from_specs(specs),
            None => generated_details(kind, j, dump),
        },
        nested_results: Vec::new(),
        duration: None,
        start_time: None,
        cancelled_by: None,
    }
}

/// The result of a completed task; `details_at` adds `duration`/`startTime` from the
/// task's start (processes with `includeProcessDetails=true`).
pub(crate) fn result(
    model: &ModelSpec,
    kind: JobKind,
    object: &ObjectId,
    details_at: Option<(Duration, &Clock)>,
) -> Option<TaskResult> {
    if kind != JobKind::Process {
        return model.job(object).map(|(k, j)| job_result(k, j));
    }
    let p = model.process(object)?;
    let jobs: Vec<(JobKind, &JobSpec)> = p.actions.iter().filter_map(|a| model.job(a)).collect();
    let total_run = model.process_duration(p);
    let sum = saturating_sum(jobs.iter().map(|(_, j)| j.duration));
    let mut nested = Vec::new();
    let mut failed: Option<Detail> = None;
    let mut offset = Duration::ZERO;
    let mut any_failed = false;
    for (k, j) in jobs {
        let mut r = job_result(k, j);
        // After a failed action the later ones report unsuccessful (the brief's example).
        if any_failed {
            r.successful = false;
        }
        if !r.successful && !any_failed {
            any_failed = true;
            failed = r.details.first().cloned();
        }
        // Nested run times share the process's run time in proportion to their own.
        let share = if sum.is_zero() {
            Duration::ZERO
        } else {
            total_run.mul_f64(j.duration.as_secs_f64() / sum.as_secs_f64())
        };
        if let Some((start, clock)) = details_at {
            r.start_time = Some(clock.wall(start.saturating_add(offset)));
            r.duration = Some(share);
        }
        offset = offset.saturating_add(share);
        nested.push(r);
    }
    let (successful, details) = match p.outcome {
        None => (
            !any_failed,
            failed
                .map(|d| vec![detail("internalError", Some(d.message()), &[])])
                .unwrap_or_default(),
        ),
        Some(Outcome::Success | Outcome::Warnings) => (true, Vec::new()),
        Some(Outcome::UnsuccessfulWithoutEvidence) => (false, Vec::new()),
        Some(Outcome::Failure) => (
            false,
            vec![detail(
                "internalError",
                Some(format!("Process `{}` failed", p.name)),
                &[],
            )],
        ),
    };
    Some(TaskResult {
        successful,
        failure_dump_available: nested.iter().any(|n| n.failure_dump_available),
        object_id: Some(p.id.clone()),
        object_name: None,
        details: p.details.as_deref().map(from_specs).unwrap_or(details),
        nested_results: nested,
        duration: details_at.map(|_| total_run),
        start_time: details_at.map(|(start, clock)| clock.wall(start)),
        cancelled_by: None,
    })
}

/// A completed task's progress: 1 if it succeeded, else 0 (Anaplan's "Failed." reads 0).
pub(crate) fn end_progress(successful: bool) -> f64 {
    if successful { 1.0 } else { 0.0 }
}

/// The task object for a status reply; `process_details` (`includeProcessDetails=true`)
/// adds run times to a process's result.
pub(crate) fn task_body(
    model: &ModelSpec,
    t: &TaskRec,
    phase: Phase,
    clock: &Clock,
    process_details: bool,
) -> Task {
    let (progress, step, result) = match phase {
        Phase::Queued => (0.0, "Waiting for the model.".to_owned(), None),
        Phase::Running { progress } => (progress, "Processing ...".to_owned(), None),
        Phase::Cancelling { progress } => (progress, "Cancelling ...".to_owned(), None),
        Phase::Cancelled => {
            let detail_type = match t.kind {
                JobKind::Import => Some("msgImportCancelled"),
                JobKind::Export => Some("msgExportCancelled"),
                JobKind::Action | JobKind::Process => None,
            };
            let r = TaskResult {
                successful: false,
                failure_dump_available: false,
                object_id: Some(t.object.clone()),
                object_name: None,
                details: detail_type
                    .map(|d| vec![detail(d, Some("Cancelled by the user".into()), &[])])
                    .unwrap_or_default(),
                nested_results: Vec::new(),
                duration: None,
                start_time: None,
                cancelled_by: Some(t.user.clone()),
            };
            (0.0, "Cancelled.".to_owned(), Some(r))
        }
        Phase::Complete { start } => {
            let details_at =
                (process_details && t.kind == JobKind::Process).then_some((start, clock));
            let r = result(model, t.kind, &t.object, details_at);
            let ok = r.as_ref().is_some_and(|r| r.successful);
            let step = if ok { "Complete." } else { "Failed." };
            (end_progress(ok), step.to_owned(), r)
        }
    };
    Task {
        object_type: Some("taskInformation".into()),
        task_id: t.id.clone(),
        current_step: Some(step),
        progress: Some(progress),
        creation_time: Some(clock.wall(t.created)),
        task_state: phase.task_state(),
        // Anaplan Connect reads `cancelledBy` from the task object; the result has it too.
        cancelled_by: matches!(phase, Phase::Cancelled).then(|| t.user.clone()),
        result: result.map(Box::new),
    }
}
