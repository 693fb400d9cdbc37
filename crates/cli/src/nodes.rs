//! The workflow's steps as the runner's nodes: each step's object looked up by name
//! where needed, and its run-and-wait step configured from the workflow.

use std::sync::Arc;

use runwait_anaplan::{Client, Error as ApiError, StartOptions, TaskTarget};
use runwait_executor::{PollPolicy, RateBudget, RunAndWait, TraceHook, WaitConfig};
use runwait_runner::{Condition as NodeCondition, Node};

use crate::exit::Exit;
use runwait_workflow::model::{Condition, StepSpec, Workflow};

/// One node per step, in file order; a name that cannot be looked up is the step's
/// message and the exit code (`usage` for a bad name, `unreachable` otherwise).
pub async fn build(workflow: &Workflow, client: &Client) -> Result<Vec<Node>, (String, Exit)> {
    let api = Arc::new(client.clone());
    let budget = RateBudget::per_second(workflow.rate_per_second);
    let mut nodes = Vec::with_capacity(workflow.steps.len());
    for spec in &workflow.steps {
        let (target, name) = target(client, spec).await?;
        let step = step(workflow, api.clone(), target, name, spec, budget.clone());
        let condition = match spec.condition {
            Condition::Success => NodeCondition::Success,
            Condition::Failure => NodeCondition::Failure,
            Condition::Always => NodeCondition::Always,
        };
        nodes.push(
            Node::builder(spec.id.as_str(), Arc::new(step))
                .needs(spec.needs.iter().map(String::as_str))
                .condition(condition)
                .retries(spec.retries)
                .continue_on_error(spec.continue_on_error)
                .timeout(spec.timeout)
                .build(),
        );
    }
    Ok(nodes)
}

/// The step's target, with a name looked up in the model; a name that cannot be looked
/// up is the step's message and exit code (`usage` for a bad name, `unreachable` otherwise).
async fn target(
    client: &Client,
    spec: &StepSpec,
) -> Result<(TaskTarget, Option<String>), (String, Exit)> {
    runwait_workflow::target(client, spec).await.map_err(|e| {
        let exit = if matches!(e, ApiError::Config(_)) {
            Exit::Usage
        } else {
            Exit::Unreachable
        };
        (format!("step {}: {e}", spec.id), exit)
    })
}

fn step(
    workflow: &Workflow,
    api: Arc<Client>,
    target: TaskTarget,
    name: Option<String>,
    spec: &StepSpec,
    budget: RateBudget,
) -> RunAndWait {
    let poll = PollPolicy::default()
        .with_min_interval(workflow.poll.min_interval)
        .with_max_interval(workflow.poll.max_interval);
    let mut step = RunAndWait::new(api, target)
        .start_options(StartOptions {
            locale_name: spec.locale.clone(),
            mapping_parameters: spec.mapping_parameters.clone(),
        })
        .config(
            WaitConfig::default()
                .with_poll(poll)
                .with_outcome_policy(spec.policy),
        )
        .budget(budget)
        .trace_hook(Arc::new(OtelHook));
    if let Some(name) = name {
        step = step.object_name(name);
    }
    step
}

/// Trace context for reattached waits, through the OpenTelemetry adapter.
struct OtelHook;

impl TraceHook for OtelHook {
    fn traceparent(&self, span: &tracing::Span) -> Option<String> {
        runwait_otel::current_traceparent(span)
    }

    fn link(&self, span: &tracing::Span, traceparent: &str) {
        runwait_otel::link_to(span, traceparent);
    }
}
