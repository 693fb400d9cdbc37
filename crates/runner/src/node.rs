//! The runner's input: nodes with their needs, condition and retry options.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use runwait_executor::Step;

/// The id of a node: the step id of the host's workflow (`load_actuals`). Shared, not
/// copied: the runner's bookkeeping, every event and the host's display each keep it
/// for as long as the step waits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// An id.
    pub fn new(id: impl Into<String>) -> Self {
        NodeId(Arc::from(id.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that `{:<24}` lines ids up in tables.
        f.pad(&self.0)
    }
}

impl From<&str> for NodeId {
    fn from(id: &str) -> Self {
        NodeId::new(id)
    }
}

impl From<String> for NodeId {
    fn from(id: String) -> Self {
        NodeId::new(id)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// When a node whose needs are settled runs (`if:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Condition {
    /// Every node it needs succeeded, or failed with `continue_on_error` (the default).
    #[default]
    Success,
    /// Some node it needs ran and did not succeed.
    Failure,
    /// Whatever the nodes it needs ended with (unless the run was interrupted).
    Always,
}

/// One step of the DAG with its scheduling options. Built with [`Node::builder`].
#[derive(Clone)]
#[non_exhaustive]
pub struct Node {
    /// The node's id, unique in the run; events and reports carry it.
    pub id: NodeId,
    /// The nodes that must be settled (run or skipped) before this one.
    pub needs: Vec<NodeId>,
    /// When it runs once its needs are settled.
    pub condition: Condition,
    /// How often a retryable failure is run again, each time as a new step run.
    pub retries: u32,
    /// True: its failure does not fail the run, and nodes needing it still run.
    pub continue_on_error: bool,
    /// Each attempt's time limit, given to the step as a deadline.
    pub timeout: Option<Duration>,
    /// What it runs.
    pub step: Arc<dyn Step>,
}

impl Node {
    /// A node running `step`, needing nothing, `if: success()`, no retries, no timeout.
    pub fn builder(id: impl Into<NodeId>, step: Arc<dyn Step>) -> NodeBuilder {
        NodeBuilder(Node {
            id: id.into(),
            needs: Vec::new(),
            condition: Condition::Success,
            retries: 0,
            continue_on_error: false,
            timeout: None,
            step,
        })
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("needs", &self.needs)
            .field("condition", &self.condition)
            .field("retries", &self.retries)
            .field("continue_on_error", &self.continue_on_error)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Node`].
#[derive(Debug)]
pub struct NodeBuilder(Node);

impl NodeBuilder {
    /// The nodes this one needs (replaces earlier ones).
    pub fn needs<I, N>(mut self, needs: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<NodeId>,
    {
        self.0.needs = needs.into_iter().map(Into::into).collect();
        self
    }

    /// When it runs.
    pub fn condition(mut self, condition: Condition) -> Self {
        self.0.condition = condition;
        self
    }

    /// How often a retryable failure is run again.
    pub fn retries(mut self, retries: u32) -> Self {
        self.0.retries = retries;
        self
    }

    /// Whether its failure leaves the run's outcome alone.
    pub fn continue_on_error(mut self, continue_on_error: bool) -> Self {
        self.0.continue_on_error = continue_on_error;
        self
    }

    /// Each attempt's time limit (`None`: none).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.0.timeout = timeout.into();
        self
    }

    /// The node.
    pub fn build(self) -> Node {
        self.0
    }
}
