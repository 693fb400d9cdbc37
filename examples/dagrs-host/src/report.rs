//! What a job ended with, as the jobs after it receive it and the user sees it.

use std::fmt;
use std::path::PathBuf;

use runwait_core::TaskId;
use runwait_executor::{StepOutcome, StepResult};

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A runwait step ran: its outcome.
    Step(StepOutcome),
    /// The runwait step could not be made runnable (unknown object name, Anaplan
    /// unreachable): no task was started.
    NotRunnable,
    /// A host job (`shell/echo`) ran.
    Done,
    /// Not run: a job it comes after did not pass.
    Skipped,
}

impl Outcome {
    /// The word printed for it.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Step(outcome) => outcome.name(),
            Outcome::NotRunnable => "error",
            Outcome::Done => "succeeded",
            Outcome::Skipped => "skipped",
        }
    }

    /// It ran and succeeded.
    pub fn is_success(self) -> bool {
        match self {
            Outcome::Step(outcome) => outcome.is_success(),
            Outcome::Done => true,
            Outcome::NotRunnable | Outcome::Skipped => false,
        }
    }
}

/// One job's report: one line for the user (plus one per dump), and what the jobs after
/// it look at.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// The job's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether the jobs after it may run: it succeeded, or it ran and failed with
    /// `allow_failure: true`.
    pub passed: bool,
    /// The Anaplan task, for a runwait step that started or reattached one.
    pub task_id: Option<TaskId>,
    /// What happened, in words.
    pub message: String,
    /// Failure dumps written to disk.
    pub dumps: Vec<PathBuf>,
}

impl JobReport {
    /// The report of a runwait step's result.
    pub fn of_step(name: &str, allow_failure: bool, result: StepResult) -> JobReport {
        let outcome = Outcome::Step(result.outcome);
        JobReport {
            name: name.to_owned(),
            outcome,
            passed: outcome.is_success() || allow_failure,
            task_id: result.task_id,
            message: result.message,
            dumps: result.dumps.into_iter().filter_map(|d| d.path).collect(),
        }
    }

    /// A report without a task.
    pub fn without_task(
        name: &str,
        outcome: Outcome,
        allow_failure: bool,
        message: String,
    ) -> JobReport {
        JobReport {
            name: name.to_owned(),
            outcome,
            passed: outcome.is_success() || (allow_failure && outcome != Outcome::Skipped),
            task_id: None,
            message,
            dumps: Vec::new(),
        }
    }
}

/// `load_customers failed task=… (allowed to fail): message`, then `  dump PATH` lines.
impl fmt::Display for JobReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.outcome.name())?;
        if let Some(task) = &self.task_id {
            write!(f, " task={task}")?;
        }
        if self.passed && !self.outcome.is_success() {
            f.write_str(" (allowed to fail)")?;
        }
        write!(f, ": {}", self.message)?;
        for dump in &self.dumps {
            write!(f, "\n  dump {}", dump.display())?;
        }
        Ok(())
    }
}
