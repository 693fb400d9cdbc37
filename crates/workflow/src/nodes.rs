//! A whole workflow as the runner's nodes: each step's object looked up by name where
//! needed, its run-and-wait configured from the workflow (poll limits, outcome policies,
//! the tenant's shared rate budget), and its scheduling options (`needs`, `if`, `retries`,
//! `continue_on_error`, `timeout`).

use std::sync::Arc;

use runwait_anaplan::Client;
use runwait_executor::{PollPolicy, RateBudget, TraceHook, WaitConfig};
use runwait_runner::Node;

use crate::model::Workflow;
use crate::runnable::{run_and_wait, step_config, target};

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
    let mut nodes = Vec::with_capacity(workflow.steps.len());
    for (spec, config) in workflow.steps.iter().zip(wait_configs(workflow)) {
        let (target, name) = target(client, spec).await.map_err(|source| NodeError {
            step: spec.id.clone(),
            source,
        })?;
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

/// The wait config of each step, in order: the workflow's poll limits, the step's
/// outcome policy and whether it learns from past runs. Each waiting step holds its
/// config, so steps with equal configs share one: a workflow has a handful of distinct
/// ones (they differ only in outcome policy and history), however many steps it has.
fn wait_configs(workflow: &Workflow) -> Vec<Arc<WaitConfig>> {
    let poll = PollPolicy::default()
        .with_min_interval(workflow.poll.min_interval)
        .with_max_interval(workflow.poll.max_interval)
        .with_history(workflow.poll.history);
    let mut distinct: Vec<Arc<WaitConfig>> = Vec::new();
    (workflow.steps.iter())
        .map(|spec| {
            let config = step_config(
                spec,
                WaitConfig::default()
                    .with_poll(poll)
                    .with_outcome_policy(spec.policy),
            );
            if let Some(found) = distinct.iter().find(|c| ***c == config) {
                return found.clone();
            }
            let config = Arc::new(config);
            distinct.push(config.clone());
            config
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    #[test]
    fn steps_with_the_same_wait_config_share_it_and_each_keeps_its_own_settings() {
        let text = "name: w
connection: { api_url: 'http://127.0.0.1:9/2/0', auth_url: 'http://127.0.0.1:9', auth: { kind: basic, user: u, password: { env: P } } }
defaults: { workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0B4A52D2C4F6C5, poll: { min_interval: 7s } }
steps:
  - { id: a, uses: anaplan/process, with: { id: '118000000001' } }
  - { id: b, uses: anaplan/process, with: { id: '118000000002' } }
  - { id: c, uses: anaplan/process, with: { id: '118000000003' }, poll: { history: false } }
  - { id: d, uses: anaplan/process, with: { id: '118000000004' }, on_dump: ignore }
";
        let workflow = crate::load_str(text, Path::new("w.yaml")).unwrap();
        let configs = wait_configs(&workflow);
        let [a, b, c, d] = &configs[..] else {
            panic!("{configs:?}")
        };
        assert!(Arc::ptr_eq(a, b));
        assert!(!Arc::ptr_eq(a, c) && !Arc::ptr_eq(a, d) && !Arc::ptr_eq(c, d));
        assert_eq!(
            [a, c, d].map(|c| c.poll.history),
            [true, false, true],
            "history"
        );
        assert_eq!(d.outcome_policy, workflow.steps[3].policy);
        assert_ne!(d.outcome_policy, a.outcome_policy);
        assert!(
            configs
                .iter()
                .all(|c| c.poll.min_interval == Duration::from_secs(7))
        );
    }
}
