//! What a workflow run ended with: per-step reports, the workflow outcome and exit code,
//! the summary table and the JSON document.

use std::time::Duration;

use runwait_anaplan::TaskKind;
use runwait_core::NestedSummary;
use runwait_executor::{DumpFile, StepOutcome, StepResult};
use serde::Serialize;

/// How one step of the workflow ended.
#[derive(Debug, Clone)]
pub enum StepReport {
    /// It ran (possibly several attempts); the last attempt's result.
    Ran {
        /// The last attempt.
        result: StepResult,
        /// Attempts made.
        attempts: u32,
    },
    /// Its condition was false, or the run was aborted first.
    Skipped {
        /// Why.
        reason: String,
    },
}

impl StepReport {
    /// The outcome's name, `skipped` included.
    pub fn outcome_name(&self) -> &'static str {
        match self {
            StepReport::Ran { result, .. } => result.outcome.name(),
            StepReport::Skipped { .. } => "skipped",
        }
    }

    /// The outcome, when it ran.
    pub fn outcome(&self) -> Option<StepOutcome> {
        match self {
            StepReport::Ran { result, .. } => Some(result.outcome),
            StepReport::Skipped { .. } => None,
        }
    }
}

/// A step's id, kind and report, as the summary shows it.
pub struct Line<'a> {
    /// The step id.
    pub id: &'a str,
    /// What it runs.
    pub kind: TaskKind,
    /// Whether its failure fails the workflow.
    pub continue_on_error: bool,
    /// How it ended.
    pub report: &'a StepReport,
}

/// The workflow's outcome: an abort wins, then errors reaching Anaplan, timeouts,
/// failures. Steps with `continue_on_error` do not count. [`Exit::of_step`] gives its
/// exit code.
pub fn verdict(lines: &[Line<'_>], aborted: bool) -> StepOutcome {
    let counted: Vec<StepOutcome> = lines
        .iter()
        .filter(|l| !l.continue_on_error)
        .filter_map(|l| l.report.outcome())
        .collect();
    let any = |o: StepOutcome| counted.contains(&o);
    let worst = [
        StepOutcome::Error,
        StepOutcome::TimedOut,
        StepOutcome::Failed,
    ];
    if aborted || any(StepOutcome::Cancelled) || any(StepOutcome::Detached) {
        StepOutcome::Cancelled
    } else if let Some(worst) = worst.into_iter().find(|o| any(*o)) {
        worst
    } else if lines
        .iter()
        .filter_map(|l| l.report.outcome())
        .any(|o| o == StepOutcome::SucceededWithWarnings)
    {
        StepOutcome::SucceededWithWarnings
    } else {
        StepOutcome::Succeeded
    }
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
    dumps: &'a [DumpFile],
    nested: &'a [NestedSummary],
    reasons: &'a [runwait_core::Reason],
    message: String,
}

impl<'a> StepDoc<'a> {
    /// The entry of one step.
    pub fn new(line: &Line<'a>) -> Self {
        let uses = format!("anaplan/{}", line.kind);
        match line.report {
            StepReport::Ran { result, attempts } => StepDoc {
                id: line.id,
                uses,
                outcome: result.outcome.name(),
                task_id: result.task_id.as_ref().map(|t| t.as_str()),
                task_state: result.task_state.as_ref().map(|s| s.as_str()),
                successful: result.successful,
                polls: result.polls,
                attempts: *attempts,
                duration_ms: result.elapsed.as_millis() as u64,
                reattached: result.reattached,
                dumps: &result.dumps,
                nested: &result.nested,
                reasons: &result.reasons,
                message: result.message.clone(),
            },
            StepReport::Skipped { reason } => StepDoc {
                id: line.id,
                uses,
                outcome: line.report.outcome_name(),
                task_id: None,
                task_state: None,
                successful: None,
                polls: 0,
                attempts: 0,
                duration_ms: 0,
                reattached: false,
                dumps: &[],
                nested: &[],
                reasons: &[],
                message: format!("skipped: {reason}"),
            },
        }
    }
}

/// The summary table and the messages of steps that did not simply succeed.
pub fn summary(workflow: &str, run_key: &str, outcome: &str, lines: &[Line<'_>]) -> String {
    let mut out = format!("\nworkflow {workflow}: {outcome} (run key {run_key})\n\n");
    out.push_str(&format!(
        "{:<24} {:<24} {:>9} {:>6} {:>10} {:>12} {:>6}\n",
        "STEP", "OUTCOME", "DURATION", "POLLS", "ROWS OK", "ROWS FAILED", "DUMPS"
    ));
    for line in lines {
        let (duration, polls, ok, failed, dumps) = match line.report {
            StepReport::Ran { result, .. } => {
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
            StepReport::Skipped { .. } => Default::default(),
        };
        out.push_str(&format!(
            "{:<24} {:<24} {:>9} {:>6} {:>10} {:>12} {:>6}\n",
            line.id,
            line.report.outcome_name(),
            duration,
            polls,
            ok,
            failed,
            dumps
        ));
    }
    let notes: Vec<String> = lines
        .iter()
        .filter_map(|line| match line.report {
            StepReport::Ran { result, .. } if result.outcome != StepOutcome::Succeeded => {
                let mut note = format!("  {}: {}", line.id, result.message);
                for dump in result.dumps.iter().filter_map(|d| d.path.as_ref()) {
                    note.push_str(&format!("\n    dump: {}", dump.display()));
                }
                Some(note)
            }
            StepReport::Skipped { reason } => Some(format!("  {}: skipped: {reason}", line.id)),
            _ => None,
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
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
