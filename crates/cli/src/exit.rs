//! The exit codes of every `runwait` command: one convention, documented in the README.

use std::process::ExitCode;

use runwait_core::Outcome;
use runwait_executor::{CancelStatus, StepOutcome};
use runwait_runner::RunReport;

/// What a `runwait` process tells its caller through its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: succeeded, warnings included.
    Success,
    /// 1: a step (or the inspected task) failed.
    Failed,
    /// 2: invalid input, workflow or usage.
    Usage,
    /// 3: a step timed out.
    TimedOut,
    /// 4: cancelled or detached by a signal.
    Cancelled,
    /// 5: Anaplan could not be reached or refused the credentials.
    Unreachable,
    /// 6: a step timed out and its remote task could not be cancelled: it may still be
    /// running in Anaplan.
    Uncancelled,
    /// 10: the inspected task is not finished yet.
    Pending,
}

impl Exit {
    /// The exit code of a classified task.
    pub fn of_outcome(outcome: &Outcome) -> Exit {
        match outcome {
            Outcome::Succeeded | Outcome::SucceededWithWarnings { .. } => Exit::Success,
            Outcome::Failed { .. } => Exit::Failed,
            Outcome::Cancelled { .. } => Exit::Cancelled,
            Outcome::Pending { .. } => Exit::Pending,
        }
    }

    /// The exit code of a workflow whose outcome is `outcome`.
    pub fn of_step(outcome: StepOutcome) -> Exit {
        match outcome {
            StepOutcome::Succeeded | StepOutcome::SucceededWithWarnings => Exit::Success,
            StepOutcome::Failed => Exit::Failed,
            StepOutcome::TimedOut => Exit::TimedOut,
            StepOutcome::Cancelled | StepOutcome::Detached => Exit::Cancelled,
            // Errors, and any outcome a newer executor adds, exit as unreachable.
            _ => Exit::Unreachable,
        }
    }

    /// The exit code of a workflow run: its outcome's, except that a timeout whose
    /// cancel failed (on a step that counts) is 6, not 3: the task may still run.
    pub fn of_run(report: &RunReport) -> Exit {
        let exit = Exit::of_step(report.outcome());
        let uncancelled = report.nodes.iter().any(|n| {
            !n.continue_on_error
                && n.result().is_some_and(|r| {
                    r.outcome == StepOutcome::TimedOut && r.cancel == Some(CancelStatus::Failed)
                })
        });
        if exit == Exit::TimedOut && uncancelled {
            Exit::Uncancelled
        } else {
            exit
        }
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::TimedOut => 3,
            Exit::Cancelled => 4,
            Exit::Unreachable => 5,
            Exit::Uncancelled => 6,
            Exit::Pending => 10,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}
