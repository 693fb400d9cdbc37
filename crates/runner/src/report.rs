//! What a run ended with: one [`NodeReport`] per node and the run's outcome.

use runwait_executor::{StepOutcome, StepResult};

use crate::node::NodeId;

/// How one node ended. Exhaustive on purpose: a node either ran or did not, and a host's
/// report should say which without a catch-all arm.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEnd {
    /// It ran (possibly several attempts); the last attempt's result.
    Ran {
        /// The last attempt's result.
        result: StepResult,
        /// Attempts made.
        attempts: u32,
    },
    /// Its condition was false, the run was interrupted first, or it was never reached.
    Skipped {
        /// Why, for a human.
        reason: String,
    },
}

/// One node of a [`RunReport`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeReport {
    /// The node.
    pub id: NodeId,
    /// Whether its failure leaves the run's outcome alone.
    pub continue_on_error: bool,
    /// How it ended.
    pub end: NodeEnd,
}

impl NodeReport {
    /// The outcome, when it ran.
    pub fn outcome(&self) -> Option<StepOutcome> {
        self.result().map(|r| r.outcome)
    }

    /// The outcome's name, `skipped` included.
    pub fn outcome_name(&self) -> &'static str {
        self.outcome().map_or("skipped", StepOutcome::name)
    }

    /// The last attempt's result, when it ran.
    pub fn result(&self) -> Option<&StepResult> {
        match &self.end {
            NodeEnd::Ran { result, .. } => Some(result),
            NodeEnd::Skipped { .. } => None,
        }
    }

    /// Attempts made (0 when skipped).
    pub fn attempts(&self) -> u32 {
        match &self.end {
            NodeEnd::Ran { attempts, .. } => *attempts,
            NodeEnd::Skipped { .. } => 0,
        }
    }

    /// Why it was skipped, when it was.
    pub fn skip_reason(&self) -> Option<&str> {
        match &self.end {
            NodeEnd::Ran { .. } => None,
            NodeEnd::Skipped { reason } => Some(reason),
        }
    }
}

/// What a run ended with.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RunReport {
    /// One entry per node, in the order the nodes were given.
    pub nodes: Vec<NodeReport>,
    /// True when the cancel or detach token fired during the run.
    pub interrupted: bool,
}

impl RunReport {
    /// The node with this id.
    pub fn get(&self, id: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.id.as_str() == id)
    }

    /// The run's outcome: an interruption wins (`cancelled`), then errors, timeouts,
    /// failures; nodes with `continue_on_error` do not count. Warnings of any node make
    /// `succeeded_with_warnings`.
    pub fn outcome(&self) -> StepOutcome {
        let counted: Vec<StepOutcome> = self
            .nodes
            .iter()
            .filter(|n| !n.continue_on_error)
            .filter_map(NodeReport::outcome)
            .collect();
        let any = |o: StepOutcome| counted.contains(&o);
        let worst = [
            StepOutcome::Error,
            StepOutcome::TimedOut,
            StepOutcome::Failed,
        ];
        if self.interrupted || any(StepOutcome::Cancelled) || any(StepOutcome::Detached) {
            StepOutcome::Cancelled
        } else if let Some(worst) = worst.into_iter().find(|o| any(*o)) {
            worst
        } else if self
            .nodes
            .iter()
            .filter_map(NodeReport::outcome)
            .any(|o| o == StepOutcome::SucceededWithWarnings)
        {
            StepOutcome::SucceededWithWarnings
        } else {
            StepOutcome::Succeeded
        }
    }
}
