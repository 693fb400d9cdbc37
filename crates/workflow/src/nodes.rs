//! A whole workflow as the runner's nodes: each step's object looked up by name where
//! needed, its run-and-wait configured from the workflow (poll limits, outcome policies,
//! the tenant's shared rate budget), and its scheduling options (`needs`, `if`, `retries`,
//! `continue_on_error`, `timeout`).

use std::sync::Arc;

use runwait_anaplan::Client;
use runwait_executor::{PollPolicy, RateBudget, TraceHook, WaitConfig};
use runwait_runner::Node;

use crate::model::Workflow;
use crate::runnable::{run_and_wait, target};

/// A step whose object could not be looked up by its name.
#[derive(Debug, thiserror::Error)]
#[error("step {step}: {source}")]
#[non_exhaustive]
pub struct NodeError {
    /// The step's id.
    pub step: String,
    /// Why the lookup failed.
    pub source: runwait_anaplan::Error,
}

impl NodeError {
    /// Whether the workflow is wrong (no object of that name) rather than Anaplan
    /// unreachable.
    pub fn is_config(&self) -> bool {
        matches!(self.source, runwait_anaplan::Error::Config(_))
    }
}

/// One runnable node per step of `workflow`, in file order, all sharing `client`, one
/// rate budget (`defaults.rate_per_second`) and `trace_hook` (trace context for reattached
/// waits; [`runwait_executor::NoTraceHook`] for none). Objects given by `name` are looked
/// up now, so a wrong name fails before any task starts.
pub async fn nodes(
    workflow: &Workflow,
    client: &Client,
    trace_hook: Arc<dyn TraceHook>,
) -> Result<Vec<Node>, NodeError> {
    let budget = RateBudget::per_second(workflow.rate_per_second);
    nodes_with_budget(workflow, client, trace_hook, budget).await
}

/// Like [`nodes`], with the tenant's rate budget given: one shared with other processes
/// ([`RateBudget::shared`]), built by the host at `workflow.rate_per_second`.
pub async fn nodes_with_budget(
    workflow: &Workflow,
    client: &Client,
    trace_hook: Arc<dyn TraceHook>,
    budget: RateBudget,
) -> Result<Vec<Node>, NodeError> {
    let api = Arc::new(client.clone());
    let poll = PollPolicy::default()
        .with_min_interval(workflow.poll.min_interval)
        .with_max_interval(workflow.poll.max_interval)
        .with_history(workflow.poll.history);
    let mut nodes = Vec::with_capacity(workflow.steps.len());
    for spec in &workflow.steps {
        let (target, name) = target(client, spec).await.map_err(|source| NodeError {
            step: spec.id.clone(),
            source,
        })?;
        let config = WaitConfig::default()
            .with_poll(poll)
            .with_outcome_policy(spec.policy);
        let step = run_and_wait(api.clone(), target, name, spec, config)
            .budget(budget.clone())
            .trace_hook(trace_hook.clone());
        nodes.push(
            Node::builder(spec.id.as_str(), Arc::new(step))
                .needs(spec.needs.iter().map(String::as_str))
                .condition(spec.condition)
                .retries(spec.retries)
                .continue_on_error(spec.continue_on_error)
                .timeout(spec.timeout)
                .build(),
        );
    }
    Ok(nodes)
}
