//! What a workflow run ended with, for a human or a program: the summary table and the
//! JSON document of the runner's report.

use std::io::{self, Write};
use std::time::Duration;

use runwait_anaplan::TaskKind;
use runwait_core::NestedSummary;
use runwait_executor::{CancelStatus, DumpFile, StepOutcome};
use runwait_runner::{NodeEnd, NodeReport};
use serde::Serialize;

/// A node's report with what it runs, as the summary shows it.
pub struct Line<'a> {
    /// What it runs.
    pub kind: TaskKind,
    /// How it ended.
    pub report: &'a NodeReport,
}

/// `--output json`.
#[derive(Serialize)]
pub struct Document<'a> {
    /// The workflow's name.
    pub workflow: &'a str,
    /// The run key (rerun with it to reattach).
    pub run_key: &'a str,
    /// The workflow's outcome.
    pub outcome: &'a str,
    /// One entry per step, in file order.
    pub steps: Vec<StepDoc<'a>>,
}

/// One step of [`Document`].
#[derive(Serialize)]
pub struct StepDoc<'a> {
    id: &'a str,
    uses: String,
    outcome: &'static str,
    task_id: Option<&'a str>,
    task_state: Option<&'a str>,
    successful: Option<bool>,
    polls: u32,
    attempts: u32,
    duration_ms: u64,
    reattached: bool,
    cancel: Option<&'static str>,
    dumps: &'a [DumpFile],
    nested: &'a [NestedSummary],
    reasons: &'a [runwait_core::Reason],
    message: String,
}

impl<'a> StepDoc<'a> {
    /// The entry of a step that never ran because the run failed before it (connecting,
    /// or looking up an object by its name): an `error` with the run's message.
    pub fn not_run(id: &'a str, kind: TaskKind, message: String) -> Self {
        Self::without_task(
            id,
            format!("anaplan/{kind}"),
            StepOutcome::Error.name(),
            message,
        )
    }

    /// The entry of a step that got no task: no counts, no dumps, only its message.
    fn without_task(id: &'a str, uses: String, outcome: &'static str, message: String) -> Self {
        StepDoc {
            id,
            uses,
            outcome,
            task_id: None,
            task_state: None,
            successful: None,
            polls: 0,
            attempts: 0,
            duration_ms: 0,
            reattached: false,
            cancel: None,
            dumps: &[],
            nested: &[],
            reasons: &[],
            message,
        }
    }

    /// The entry of one step.
    pub fn new(line: &Line<'a>) -> Self {
        let uses = format!("anaplan/{}", line.kind);
        let id = line.report.id.as_str();
        match &line.report.end {
            NodeEnd::Ran { result, attempts } => StepDoc {
                id,
                uses,
                outcome: result.outcome.name(),
                task_id: result.task_id.as_ref().map(|t| t.as_str()),
                task_state: result.task_state.as_ref().map(|s| s.as_str()),
                successful: result.successful,
                polls: result.polls,
                attempts: *attempts,
                duration_ms: result.elapsed.as_millis() as u64,
                reattached: result.reattached,
                cancel: result.cancel.map(CancelStatus::name),
                dumps: &result.dumps,
                nested: &result.nested,
                reasons: &result.reasons,
                message: result.message.clone(),
            },
            NodeEnd::Skipped { reason } => Self::without_task(
                id,
                uses,
                line.report.outcome_name(),
                format!("skipped: {reason}"),
            ),
        }
    }
}

/// Writes the summary table and the messages of steps that did not simply succeed,
/// line by line: with 10,000 steps the whole text is megabytes, at the end of the run.
pub fn write_summary(
    out: &mut impl Write,
    workflow: &str,
    run_key: &str,
    outcome: &str,
    lines: &[Line<'_>],
) -> io::Result<()> {
    write!(
        out,
        "\nworkflow {workflow}: {outcome} (run key {run_key})\n\n"
    )?;
    writeln!(
        out,
        "{:<24} {:<24} {:>9} {:>6} {:>10} {:>12} {:>6}",
        "STEP", "OUTCOME", "DURATION", "POLLS", "ROWS OK", "ROWS FAILED", "DUMPS"
    )?;
    for line in lines {
        let (duration, polls, ok, failed, dumps) = match &line.report.end {
            NodeEnd::Ran { result, .. } => {
                let ok: u64 = result
                    .nested
                    .iter()
                    .filter_map(|n| n.counts.success_row_count)
                    .sum();
                let failed: u64 = result
                    .nested
                    .iter()
                    .filter_map(|n| n.counts.failed_count)
                    .sum();
                let dumps = result.dumps.iter().filter(|d| d.path.is_some()).count();
                (
                    human(result.elapsed),
                    result.polls.to_string(),
                    ok.to_string(),
                    failed.to_string(),
                    dumps.to_string(),
                )
            }
            NodeEnd::Skipped { .. } => Default::default(),
        };
        writeln!(
            out,
            "{:<24} {:<24} {:>9} {:>6} {:>10} {:>12} {:>6}",
            line.report.id.as_str(),
            line.report.outcome_name(),
            duration,
            polls,
            ok,
            failed,
            dumps
        )?;
    }
    let mut first_note = true;
    for line in lines {
        let note = match &line.report.end {
            NodeEnd::Ran { result, .. } if result.outcome != StepOutcome::Succeeded => {
                let mut note = format!("  {}: {}", line.report.id, result.message);
                for dump in &result.dumps {
                    let Some(path) = &dump.path else { continue };
                    let incomplete = if dump.incomplete.is_some() {
                        " (INCOMPLETE)"
                    } else {
                        ""
                    };
                    note.push_str(&format!("\n    dump: {}{incomplete}", path.display()));
                }
                note
            }
            NodeEnd::Skipped { reason } => format!("  {}: skipped: {reason}", line.report.id),
            _ => continue,
        };
        if std::mem::take(&mut first_note) {
            writeln!(out)?;
        }
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// `1h02m`, `3m05s`, `12.3s`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
