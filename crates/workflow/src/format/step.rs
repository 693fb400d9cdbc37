//! [`StepSpec`]: what a step means (`uses`, `with` and the step options), the one
//! definition the workflow format and a host's own YAML both read.

use std::str::FromStr;
use std::time::Duration;

use runwait_core::{
    DumpPolicy, MappingParameter, ModelId, ObjectId, ObjectKind, OutcomePolicy, TaskKind,
    UnsuccessfulWithoutEvidencePolicy, WorkspaceId,
};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, de};

use super::values;

/// `uses:` the kind of object a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum Uses {
    /// A process (ids start with 118).
    #[serde(rename = "anaplan/process")]
    Process,
    /// An import (112).
    #[serde(rename = "anaplan/import")]
    Import,
    /// An export (116).
    #[serde(rename = "anaplan/export")]
    Export,
    /// An action (117).
    #[serde(rename = "anaplan/action")]
    Action,
}

/// A name that is not one of the `uses:` names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown `uses` `{name}`: expected one of {}", Uses::ALL.map(Uses::name).join(", "))]
#[non_exhaustive]
pub struct UnknownUses {
    /// The name given.
    pub name: String,
}

impl FromStr for Uses {
    type Err = UnknownUses;

    /// The `uses:` of its name (`anaplan/process`, …), for a host whose own key names it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Uses::ALL
            .into_iter()
            .find(|uses| uses.name() == name)
            .ok_or_else(|| UnknownUses {
                name: name.to_owned(),
            })
    }
}

impl Uses {
    /// Every `uses:` in the order the format lists them.
    pub const ALL: [Uses; 4] = [Uses::Process, Uses::Import, Uses::Export, Uses::Action];

    /// The name written in the file (`anaplan/process`).
    pub fn name(self) -> &'static str {
        values::variants_of::<Uses>()[self as usize]
    }

    /// The task the step starts.
    pub fn kind(self) -> TaskKind {
        match self {
            Uses::Process => TaskKind::Process,
            Uses::Import => TaskKind::Import,
            Uses::Export => TaskKind::Export,
            Uses::Action => TaskKind::Action,
        }
    }

    /// The kind of object it runs (whose id prefix the object id must have).
    pub fn object_kind(self) -> ObjectKind {
        match self {
            Uses::Process => ObjectKind::Process,
            Uses::Import => ObjectKind::Import,
            Uses::Export => ObjectKind::Export,
            Uses::Action => ObjectKind::Action,
        }
    }
}

/// `if:` of a step: when it runs, from the outcome of the steps it needs. The runner's own
/// type, which the format reads and describes through a serde remote definition
/// (runwait-runner knows no serde).
pub use runwait_runner::Condition;

// How the format writes a [`Condition`]: serde's remote definition of the runner's type.
// Its doc comment is the schema's description.
/// `if:` of a step: when it runs, from the outcome of the steps it needs.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "Condition")]
#[schemars(rename = "Condition")]
pub(crate) enum ConditionDef {
    /// `success()`: every step it needs succeeded (default).
    #[serde(rename = "success()")]
    Success,
    /// `failure()`: some step it needs failed.
    #[serde(rename = "failure()")]
    Failure,
    /// `always()`: whatever happened.
    #[serde(rename = "always()")]
    Always,
}

/// A mapping parameter of a process or import, as the format writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingParameterSpec {
    /// The dimension, e.g. `Version`.
    #[serde(deserialize_with = "values::text")]
    #[schemars(length(min = 1))]
    pub entity_type: String,
    /// The item, e.g. `Actual`.
    #[serde(deserialize_with = "values::text")]
    #[schemars(length(min = 1))]
    pub entity_name: String,
}

impl From<MappingParameterSpec> for MappingParameter {
    fn from(p: MappingParameterSpec) -> Self {
        MappingParameter {
            entity_type: p.entity_type,
            entity_name: p.entity_name,
        }
    }
}

/// `with:` the object to run (by `id` or by `name`, not both) and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["id"]}, {"required": ["name"]}]))]
#[non_exhaustive]
pub struct With {
    /// The object's id: 12 digits with the prefix of its kind.
    #[serde(default, deserialize_with = "values::object_id")]
    #[schemars(schema_with = "values::object_id_schema")]
    pub id: Option<ObjectId>,
    /// The object's name, looked up in the model when the step runs.
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(length(min = 1), transform = values::no_default)]
    pub name: Option<String>,
    /// Workspace id (else the workflow's `defaults.workspace`).
    #[serde(default, deserialize_with = "values::workspace")]
    #[schemars(schema_with = "values::workspace_schema")]
    pub workspace: Option<WorkspaceId>,
    /// Model id (else `defaults.model`).
    #[serde(default, deserialize_with = "values::model")]
    #[schemars(schema_with = "values::model_schema")]
    pub model: Option<ModelId>,
    /// Locale of Anaplan's messages (else `defaults.locale`, else `en_US`).
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(length(min = 1), transform = values::no_default)]
    pub locale: Option<String>,
    /// Mapping parameters (processes and imports only).
    #[serde(default)]
    pub mapping_parameters: Vec<MappingParameterSpec>,
}

/// Declares a struct with its own fields followed by the step options (`needs`, `if`,
/// `timeout`, `continue_on_error`, `retries`, `on_dump`,
/// `on_unsuccessful_without_evidence`, `poll`): the one declaration of the options, which
/// [`StepSpec`], [`StepOptions`] and the loader's step (`step_file.rs`) each read with
/// every key at one level (serde's `flatten` would lose the positions of their keys).
macro_rules! with_step_options {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty,)*
            /// Steps that must finish first: a step id or a list of them.
            #[serde(default, deserialize_with = "values::needs")]
            #[schemars(schema_with = "values::needs_schema")]
            pub needs: Vec<String>,
            /// `if`: when the step runs, from the outcome of the steps it needs (default success()).
            #[serde(rename = "if", default, deserialize_with = "ConditionDef::deserialize")]
            #[schemars(with = "ConditionDef")]
            pub condition: Condition,
            /// How long the step may run before it is cancelled.
            #[serde(default, deserialize_with = "values::duration")]
            #[schemars(schema_with = "values::duration_schema")]
            pub timeout: Option<Duration>,
            /// A failure of this step does not fail the workflow.
            #[serde(default)]
            #[schemars(schema_with = "values::bool_schema")]
            pub continue_on_error: bool,
            /// How often a failed step is run again (a new task each time; default 0).
            #[serde(default, deserialize_with = "values::count")]
            #[schemars(schema_with = "values::count_schema")]
            pub retries: u32,
            /// What a failure dump on a successful task means (default: the workflow's, else warn).
            #[serde(default)]
            #[schemars(schema_with = "values::dump_policy_schema")]
            pub on_dump: Option<DumpPolicy>,
            /// What `successful: false` without any evidence means (default: the workflow's, else
            /// fail).
            #[serde(default)]
            #[schemars(schema_with = "values::evidence_policy_schema")]
            pub on_unsuccessful_without_evidence: Option<UnsuccessfulWithoutEvidencePolicy>,
            /// This step's poll schedule (default: the workflow's `defaults.poll`).
            pub poll: Option<StepPoll>,
        }
    };
}
pub(crate) use with_step_options;

/// A step's `poll:`: what of the poll schedule a step may set for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StepPoll {
    /// Learn from the object's past runs and poll densely only around the expected end
    /// (default: the workflow's `defaults.poll.history`, else true).
    pub history: Option<bool>,
}

impl StepPoll {
    /// With learning from past runs on or off.
    pub fn history(history: bool) -> StepPoll {
        StepPoll {
            history: Some(history),
        }
    }
}

with_step_options! {
    /// One step: `uses` + `with` + the step options, as a host embeds it in its own YAML
    /// (`jobs: { load: { uses: anaplan/process, with: {…} } }`) or a workflow's `steps:` list
    /// holds it (with an `id`).
    ///
    /// It deserializes from any serde deserializer and checks what spans its fields (`id` or
    /// `name` in `with`, the id's prefix against `uses`, mapping parameters only for processes
    /// and imports). Values the host leaves out (workspace, model, locale, policies) come from
    /// the workflow's `defaults:` or the host's own defaults.
    #[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
    #[serde(remote = "Self", deny_unknown_fields)]
    #[schemars(rename = "StepSpec")]
    #[non_exhaustive]
    pub struct StepSpec {
        /// What kind of object the step runs.
        pub uses: Uses,
        /// The object and where it is.
        pub with: With,
    }
}

with_step_options! {
    /// The step options without `uses` and `with`, for a host that names the kind of step
    /// with its own key (`kind: anaplan/process`) and takes every runwait option as one field
    /// (`options: { retries: 2, timeout: 10m }`); [`StepSpec::from_parts`] puts them together.
    /// (A default the options name as "the workflow's" is the host's own here.)
    #[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[non_exhaustive]
    pub struct StepOptions {}
}

impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = StepSpec::deserialize(d)?;
        spec.check().map_err(de::Error::custom)?;
        Ok(spec)
    }
}

impl StepSpec {
    /// A step that runs `uses` on the object `with` names.
    pub fn new(uses: Uses, with: With) -> Self {
        StepSpec {
            uses,
            with,
            needs: Vec::new(),
            condition: Condition::default(),
            timeout: None,
            continue_on_error: false,
            retries: 0,
            on_dump: None,
            on_unsuccessful_without_evidence: None,
            poll: None,
        }
    }

    /// A step from its parts, checked as a deserialized one is ([`StepSpec::check`]); the
    /// error starts with the field path under the step (`with.id: …`).
    pub fn from_parts(uses: Uses, with: With, options: StepOptions) -> Result<Self, String> {
        let StepOptions {
            needs,
            condition,
            timeout,
            continue_on_error,
            retries,
            on_dump,
            on_unsuccessful_without_evidence,
            poll,
        } = options;
        let spec = StepSpec {
            uses,
            with,
            needs,
            condition,
            timeout,
            continue_on_error,
            retries,
            on_dump,
            on_unsuccessful_without_evidence,
            poll,
        };
        spec.check()?;
        Ok(spec)
    }

    /// The outcome policy of this step: its `on_dump` and
    /// `on_unsuccessful_without_evidence` where given, else `base`'s.
    pub fn outcome_policy(&self, base: OutcomePolicy) -> OutcomePolicy {
        OutcomePolicy {
            on_dump: self.on_dump.unwrap_or(base.on_dump),
            on_unsuccessful_without_evidence: self
                .on_unsuccessful_without_evidence
                .unwrap_or(base.on_unsuccessful_without_evidence),
        }
    }

    /// Whether this step learns from past runs: its `poll.history` where given, else
    /// `base` (the workflow's).
    pub fn poll_history(&self, base: bool) -> bool {
        self.poll.and_then(|p| p.history).unwrap_or(base)
    }

    /// The rules that span fields; the message starts with the field path under the step.
    pub fn check(&self) -> Result<(), String> {
        match (&self.with.id, &self.with.name) {
            (Some(_), Some(_)) => return Err(format!("with: {ID_AND_NAME}")),
            (None, None) => return Err(format!("with: {NO_ID_OR_NAME}")),
            (Some(id), None) => {
                values::check_object_id(id, Some(self.uses), &|| format!("the string `{id}`"))
                    .map_err(|e| format!("with.id: {e}"))?;
            }
            (None, Some(_)) => {}
        }
        if !self.with.mapping_parameters.is_empty()
            && !self.uses.kind().accepts_mapping_parameters()
        {
            return Err(format!("with: {}", mapping_parameters_message(self.uses)));
        }
        Ok(())
    }
}

impl With {
    /// The object with this id.
    pub fn id(id: ObjectId) -> Self {
        With {
            id: Some(id),
            ..With::default()
        }
    }

    /// The object with this name, looked up in the model when the step runs.
    pub fn name(name: impl Into<String>) -> Self {
        With {
            name: Some(name.into()),
            ..With::default()
        }
    }

    /// In this workspace and model.
    pub fn in_model(mut self, workspace: WorkspaceId, model: ModelId) -> Self {
        self.workspace = Some(workspace);
        self.model = Some(model);
        self
    }
}

/// The message for mapping parameters on a step whose kind takes none.
pub(crate) fn mapping_parameters_message(uses: Uses) -> String {
    format!(
        "mapping parameters apply to processes and imports only, not to `{}`",
        uses.name()
    )
}

/// `with:` gave both ways to name the object.
pub(crate) const ID_AND_NAME: &str = "`id` and `name` are exclusive: give one of them";
/// `with:` gave no way to name the object.
pub(crate) const NO_ID_OR_NAME: &str = "missing `id` or `name` of the object to run";
