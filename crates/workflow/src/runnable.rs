//! From a step definition and a connection to a runnable step: the object's id (looked up
//! by name when the step gives one) and a [`RunAndWait`] set up as the step says.

use std::sync::Arc;

use runwait_anaplan::{Client, StartOptions, TaskTarget};
use runwait_core::ObjectId;
use runwait_executor::{RateBudget, RunAndWait, WaitConfig};

use crate::format::StepSpec;
use crate::model::{self, ObjectRef, StepDefaults};

/// Why a step could not be made runnable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// `with.workspace` is missing, with no `defaults.workspace` to fall back on.
    #[error("no workspace: set `with.workspace`")]
    NoWorkspace,
    /// `with.model` is missing, with no `defaults.model` to fall back on.
    #[error("no model: set `with.model`")]
    NoModel,
    /// The object given by `name` could not be looked up (not found, or Anaplan failed).
    #[error("{0}")]
    Lookup(#[from] runwait_anaplan::Error),
}

impl StepError {
    /// Whether the step itself is wrong (fix the definition) rather than Anaplan unreachable.
    pub fn is_config(&self) -> bool {
        !matches!(self, StepError::Lookup(e) if !matches!(e, runwait_anaplan::Error::Config(_)))
    }
}

/// The task target of a workflow step, and the object's name when it was given by name
/// (looked up in the model through `client`).
pub async fn target(
    client: &Client,
    spec: &model::StepSpec,
) -> Result<(TaskTarget, Option<String>), runwait_anaplan::Error> {
    let (object, name): (ObjectId, Option<String>) = match &spec.object {
        ObjectRef::Id(id) => (id.clone(), None),
        ObjectRef::Name(name) => {
            let id = client
                .find_object(&spec.workspace, &spec.model, spec.kind, name)
                .await?;
            (id, Some(name.clone()))
        }
    };
    let target = TaskTarget {
        workspace: spec.workspace.clone(),
        model: spec.model.clone(),
        kind: spec.kind,
        object,
    };
    Ok((target, name))
}

/// A runnable step from a host's [`StepSpec`]: the object resolved (by `name` through the
/// client's lookup), the start options (locale, default `en_US`; mapping parameters) and
/// the outcome policies set, and the tenant's shared `budget` when given. The host then
/// runs it with its own `StepContext` (step id, run key, cancel, state store); the step's
/// `timeout`, `needs`, `if`, `retries` and `continue_on_error` are the host runner's to
/// apply.
///
/// The wait uses the default [`WaitConfig`]; [`step_with`] takes the host's own.
pub async fn step(
    spec: &StepSpec,
    client: Arc<Client>,
    budget: Option<RateBudget>,
) -> Result<RunAndWait, StepError> {
    step_with(spec, client, budget, WaitConfig::default()).await
}

/// [`step`] with the host's `base` wait configuration (poll schedule, cancel grace,
/// tolerance of an unreachable API, outcome policy): the step's `on_dump` and
/// `on_unsuccessful_without_evidence`, where it gives them, replace `base`'s.
pub async fn step_with(
    spec: &StepSpec,
    client: Arc<Client>,
    budget: Option<RateBudget>,
    base: WaitConfig,
) -> Result<RunAndWait, StepError> {
    let defaults = StepDefaults {
        policy: base.outcome_policy,
        ..StepDefaults::default()
    };
    let resolved = resolve(spec, "", &defaults)?;
    let (target, name) = self::target(&client, &resolved).await?;
    let config = step_config(&resolved, base.with_outcome_policy(resolved.policy));
    let mut step = run_and_wait(client, target, name, &resolved, Arc::new(config));
    if let Some(budget) = budget {
        step = step.budget(budget);
    }
    Ok(step)
}

/// A host's step `id` with the `defaults` applied where it leaves a value out.
pub(crate) fn resolve(
    spec: &StepSpec,
    id: &str,
    defaults: &StepDefaults,
) -> Result<model::StepSpec, StepError> {
    let with = &spec.with;
    Ok(model::StepSpec {
        id: id.to_owned(),
        kind: spec.uses.kind(),
        workspace: (with.workspace.as_ref())
            .or(defaults.workspace.as_ref())
            .cloned()
            .ok_or(StepError::NoWorkspace)?,
        model: (with.model.as_ref())
            .or(defaults.model.as_ref())
            .cloned()
            .ok_or(StepError::NoModel)?,
        object: match (&with.id, &with.name) {
            (Some(id), _) => ObjectRef::Id(id.clone()),
            (None, Some(name)) => ObjectRef::Name(name.clone()),
            // `StepSpec`'s deserialization refuses a step without either.
            (None, None) => ObjectRef::Name(String::new()),
        },
        locale: (with.locale.as_ref())
            .or(defaults.locale.as_ref())
            .map_or_else(|| model::DEFAULT_LOCALE.to_owned(), Clone::clone),
        mapping_parameters: with
            .mapping_parameters
            .iter()
            .cloned()
            .map(Into::into)
            .collect(),
        needs: spec.needs.clone(),
        condition: spec.condition,
        timeout: spec.timeout.or(defaults.timeout),
        continue_on_error: spec.continue_on_error,
        retries: spec.retries,
        policy: spec.outcome_policy(defaults.policy),
        poll_history: spec.poll.and_then(|p| p.history),
    })
}

/// The run-and-wait of a resolved step: its target, start options (locale, mapping
/// parameters), wait `config` (made by [`step_config`]; steps with the same one may
/// share it), and the object's name for messages when it was looked up.
pub(crate) fn run_and_wait(
    client: Arc<Client>,
    target: TaskTarget,
    name: Option<String>,
    spec: &model::StepSpec,
    config: Arc<WaitConfig>,
) -> RunAndWait {
    let step = RunAndWait::new(client, target)
        .start_options(StartOptions {
            locale_name: spec.locale.clone(),
            mapping_parameters: spec.mapping_parameters.clone(),
        })
        .config(config);
    match name {
        Some(name) => step.object_name(name),
        None => step,
    }
}

/// The wait config of a resolved step: `config`, learning from past runs as the step
/// says, else as `config` does.
pub(crate) fn step_config(spec: &model::StepSpec, config: WaitConfig) -> WaitConfig {
    let history = spec.poll_history.unwrap_or(config.poll.history);
    config.with_poll(config.poll.with_history(history))
}
