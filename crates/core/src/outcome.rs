//! From a task to a step outcome: [`classify`], one pure function with the policy as an
//! argument.
//!
//! The rules, in order:
//!
//! 1. `NOT_STARTED`, `IN_PROGRESS`, `CANCELLING` and any unknown state are
//!    [`Outcome::Pending`]: only `COMPLETE` and `CANCELLED` end a wait.
//! 2. `CANCELLED` is [`Outcome::Cancelled`], with `cancelledBy` when present (from the
//!    result, else from the task object, where Anaplan Connect reads it).
//! 3. `COMPLETE` without a `result` is [`Outcome::Failed`]: success cannot be shown.
//! 4. `COMPLETE` and `successful: true` is [`Outcome::Succeeded`], unless an action has
//!    a failure dump (what that means is [`OutcomePolicy::on_dump`], default: warn) or
//!    rows with warnings, ignored, failed or invalid: then
//!    [`Outcome::SucceededWithWarnings`].
//! 5. `COMPLETE` and `successful: false` is [`Outcome::Failed`] with one [`Reason`] per
//!    failure detail of each unsuccessful action (a process's own, aggregated details are
//!    used only when no action has any). When there is no evidence at all (no failure
//!    detail, no failed rows, no dump), Anaplan's UI may still call the run "completed
//!    with warnings" and the data may have landed: [`OutcomePolicy::on_unsuccessful_without_evidence`]
//!    decides, and its default is **fail**, because a pipeline should not go on silently
//!    on a run Anaplan itself calls unsuccessful.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::ObjectId;
use crate::task::{DetailKind, DetailType, RowCounts, Task, TaskResult, TaskState};

/// What a failure dump on a *successful* task means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DumpPolicy {
    /// Success with warnings (the default): some rows were rejected or ignored.
    #[default]
    Warn,
    /// A failure: the step must not pass with rejected rows.
    Fail,
    /// Plain success.
    Ignore,
}

/// What `successful: false` with no failure detail, no failed rows and no dump means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsuccessfulWithoutEvidencePolicy {
    /// Success with warnings: trust that the data landed.
    Warn,
    /// A failure (the default): Anaplan said the run was not successful.
    #[default]
    Fail,
}

/// A policy name in configuration or on the command line that is not one of the choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy `{given}`: expected one of {}", expected.join(", "))]
pub struct UnknownPolicy {
    given: String,
    expected: Vec<&'static str>,
}

/// Reads a policy by its name in `names`.
fn by_name<T: Copy>(s: &str, names: &[(&'static str, T)]) -> Result<T, UnknownPolicy> {
    names
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, p)| *p)
        .ok_or_else(|| UnknownPolicy {
            given: s.to_owned(),
            expected: names.iter().map(|(n, _)| *n).collect(),
        })
}

impl DumpPolicy {
    /// Every policy with its name in configuration.
    pub const NAMES: [(&'static str, DumpPolicy); 3] = [
        ("warn", DumpPolicy::Warn),
        ("fail", DumpPolicy::Fail),
        ("ignore", DumpPolicy::Ignore),
    ];
}

impl UnsuccessfulWithoutEvidencePolicy {
    /// Every policy with its name in configuration.
    pub const NAMES: [(&'static str, UnsuccessfulWithoutEvidencePolicy); 2] = [
        ("warn", UnsuccessfulWithoutEvidencePolicy::Warn),
        ("fail", UnsuccessfulWithoutEvidencePolicy::Fail),
    ];
}

impl std::str::FromStr for DumpPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, &Self::NAMES)
    }
}

impl std::str::FromStr for UnsuccessfulWithoutEvidencePolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, &Self::NAMES)
    }
}

/// The knobs of [`classify`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OutcomePolicy {
    /// What a failure dump on a successful task means (default: warn).
    #[serde(default)]
    pub on_dump: DumpPolicy,
    /// What an unsuccessful task without evidence means (default: fail).
    #[serde(default)]
    pub on_unsuccessful_without_evidence: UnsuccessfulWithoutEvidencePolicy,
}

/// Why a step failed or carries warnings: one message about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The action (or the task's own object) the message is about.
    pub object_id: Option<ObjectId>,
    /// Its name, when Anaplan gave it.
    pub object_name: Option<String>,
    /// The detail type the message came from, if any.
    #[serde(rename = "type")]
    pub detail_type: Option<DetailType>,
    /// The message for a human.
    pub message: String,
}

impl Reason {
    fn about(
        node: &TaskResult,
        detail_type: Option<DetailType>,
        message: impl Into<String>,
    ) -> Self {
        Reason {
            object_id: node.object_id.clone(),
            object_name: node.object_name.clone(),
            detail_type,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.object_id, &self.object_name) {
            (Some(id), Some(name)) => write!(f, "{id} ({name})")?,
            (Some(id), None) => write!(f, "{id}")?,
            (None, Some(name)) => write!(f, "{name}")?,
            (None, None) => f.write_str("task")?,
        }
        if let Some(t) = &self.detail_type {
            write!(f, " {t}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of a step, as far as a task-status body can tell.
///
/// The executor adds `timed_out` and `error`, which no status body can express.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Complete and successful, with nothing to look at.
    Succeeded,
    /// Complete and successful, but with rejected or ignored rows, a dump, or an
    /// unsuccessful flag the policy chose to let through.
    SucceededWithWarnings {
        /// What to look at.
        warnings: Vec<Reason>,
    },
    /// Complete and not successful.
    Failed {
        /// Why, one entry per failure message (never empty).
        reasons: Vec<Reason>,
    },
    /// Cancelled and rolled back.
    Cancelled {
        /// Who cancelled it, when Anaplan says.
        cancelled_by: Option<String>,
    },
    /// Not terminal yet: keep waiting.
    Pending {
        /// The state seen.
        state: TaskState,
    },
}

impl Outcome {
    /// The outcome's name in output and configuration (`succeeded_with_warnings`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::SucceededWithWarnings { .. } => "succeeded_with_warnings",
            Outcome::Failed { .. } => "failed",
            Outcome::Cancelled { .. } => "cancelled",
            Outcome::Pending { .. } => "pending",
        }
    }

    /// True for every outcome but [`Outcome::Pending`].
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Outcome::Pending { .. })
    }

    /// The failure reasons, or the warnings, or nothing.
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Outcome::Failed { reasons } => reasons,
            Outcome::SucceededWithWarnings { warnings } => warnings,
            _ => &[],
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Classifies a task under `policy`. Total: every task gets an outcome, and every
/// terminal task a terminal one.
pub fn classify(task: &Task, policy: &OutcomePolicy) -> Outcome {
    match (&task.task_state, &task.result) {
        (TaskState::Cancelled, result) => Outcome::Cancelled {
            cancelled_by: result
                .as_ref()
                .and_then(|r| r.cancelled_by.clone())
                .or_else(|| task.cancelled_by.clone()),
        },
        (TaskState::Complete, None) => Outcome::Failed {
            reasons: vec![Reason {
                object_id: None,
                object_name: None,
                detail_type: None,
                message: "the task is COMPLETE but its status carries no result, so success cannot be shown"
                    .to_owned(),
            }],
        },
        (TaskState::Complete, Some(result)) if result.successful => classify_successful(result, policy),
        (TaskState::Complete, Some(result)) => classify_unsuccessful(result, policy),
        (state, _) => Outcome::Pending { state: state.clone() },
    }
}

fn classify_successful(result: &TaskResult, policy: &OutcomePolicy) -> Outcome {
    let mut warnings = Vec::new();
    let mut failures = Vec::new();
    let actions = actions(result);
    // A process's own flag aggregates its actions'; use it only when none carries one.
    let aggregate_dump_only =
        result.failure_dump_available && !actions.iter().any(|a| a.failure_dump_available);
    for node in actions
        .iter()
        .copied()
        .chain(aggregate_dump_only.then_some(result))
    {
        if node.failure_dump_available {
            let reason = Reason::about(
                node,
                None,
                "a failure dump is available: some rows were rejected or have warnings",
            );
            match policy.on_dump {
                DumpPolicy::Warn => warnings.push(reason),
                DumpPolicy::Fail => failures.push(reason),
                DumpPolicy::Ignore => {}
            }
        }
    }
    for node in actions {
        let counts = node.counts();
        if counts.has_problem_rows() {
            warnings.push(Reason::about(node, None, describe_problem_rows(&counts)));
        }
        if !node.successful {
            warnings.push(Reason::about(
                node,
                None,
                "reported not successful, although the task as a whole succeeded",
            ));
        }
    }
    if !failures.is_empty() {
        Outcome::Failed { reasons: failures }
    } else if !warnings.is_empty() {
        Outcome::SucceededWithWarnings { warnings }
    } else {
        Outcome::Succeeded
    }
}

fn classify_unsuccessful(result: &TaskResult, policy: &OutcomePolicy) -> Outcome {
    let mut reasons: Vec<Reason> = actions(result)
        .into_iter()
        .filter(|a| !a.successful)
        .flat_map(evidence)
        .collect();
    if reasons.is_empty() && !result.nested_results.is_empty() {
        reasons = evidence(result);
    }
    if !reasons.is_empty() {
        return Outcome::Failed { reasons };
    }
    let message = "Anaplan reported the task not successful but gave no failure detail, no failed rows and no dump \
                   (its UI may call this \"completed with warnings\")";
    match policy.on_unsuccessful_without_evidence {
        UnsuccessfulWithoutEvidencePolicy::Fail => Outcome::Failed {
            reasons: vec![Reason::about(
                result,
                None,
                format!("{message}; on_unsuccessful_without_evidence is fail"),
            )],
        },
        UnsuccessfulWithoutEvidencePolicy::Warn => Outcome::SucceededWithWarnings {
            warnings: vec![Reason::about(
                result,
                None,
                format!("{message}; on_unsuccessful_without_evidence is warn"),
            )],
        },
    }
}

/// What in `node` shows a failure: failure details, details with failed rows, a dump.
fn evidence(node: &TaskResult) -> Vec<Reason> {
    let mut reasons: Vec<Reason> = node
        .details
        .iter()
        .filter_map(|d| {
            let counts = d.counts();
            let failed_rows = counts.failed_count.unwrap_or(0) > 0
                || counts.invalid_count.unwrap_or(0) > 0
                || counts.has_unreadable_failures();
            match d.detail_type.kind() {
                DetailKind::Completion if !failed_rows => None,
                DetailKind::Completion => Some(Reason::about(
                    node,
                    Some(d.detail_type.clone()),
                    describe_problem_rows(&counts),
                )),
                _ => Some(Reason::about(
                    node,
                    Some(d.detail_type.clone()),
                    d.message(),
                )),
            }
        })
        .collect();
    if reasons.is_empty() && node.failure_dump_available {
        reasons.push(Reason::about(
            node,
            None,
            "not successful; the failure dump has the rejected rows",
        ));
    }
    reasons
}

/// The results that stand for single actions: the leaves of the nested results, or the
/// result itself for an import, export or action.
pub(crate) fn actions(result: &TaskResult) -> Vec<&TaskResult> {
    fn walk<'a>(node: &'a TaskResult, out: &mut Vec<&'a TaskResult>) {
        if node.nested_results.is_empty() {
            out.push(node);
        } else {
            for child in &node.nested_results {
                walk(child, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(result, &mut out);
    out
}

fn describe_problem_rows(counts: &RowCounts) -> String {
    let warnings = [
        counts.warnings_row_count,
        counts.warnings_create_count,
        counts.warnings_update_count,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    let parts: Vec<String> = [
        (warnings, "with warnings"),
        (counts.ignored_count.unwrap_or(0), "ignored"),
        (counts.failed_count.unwrap_or(0), "failed"),
        (counts.invalid_count.unwrap_or(0), "invalid"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let unreadable: Vec<String> = counts
        .unreadable
        .iter()
        .map(|(k, v)| format!("{k} {v:?}"))
        .collect();
    match (parts.is_empty(), unreadable.is_empty()) {
        (_, true) => format!("rows {}", parts.join(", ")),
        (true, false) => format!("unreadable row counts: {}", unreadable.join(", ")),
        (false, false) => format!(
            "rows {}; unreadable row counts: {}",
            parts.join(", "),
            unreadable.join(", ")
        ),
    }
}

/// One action's result, for reports: what ran, whether it worked, its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedSummary {
    /// The action.
    pub object_id: Option<ObjectId>,
    /// Its name, when known.
    pub object_name: Option<String>,
    /// Whether Anaplan called it successful.
    pub successful: bool,
    /// Whether it has a failure dump.
    pub failure_dump_available: bool,
    /// Its row counts, added up over its details.
    pub counts: RowCounts,
}

impl NestedSummary {
    /// One summary per action of the task: the nested results of a process, or the
    /// import, export or action itself. Empty while the task has no result.
    pub fn of_task(task: &Task) -> Vec<NestedSummary> {
        let Some(result) = &task.result else {
            return Vec::new();
        };
        actions(result)
            .into_iter()
            .map(|a| NestedSummary {
                object_id: a.object_id.clone(),
                object_name: a.object_name.clone(),
                successful: a.successful,
                failure_dump_available: a.failure_dump_available,
                counts: a.counts(),
            })
            .collect()
    }
}
