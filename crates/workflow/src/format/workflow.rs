//! The typed definitions of a workflow file around its steps: the top level,
//! `connection:`, `telemetry:`, `defaults:`. The loader reads the file through them and
//! the JSON Schema comes from them.

use std::path::PathBuf;
use std::time::Duration;

use runwait_core::{DumpPolicy, ModelId, UnsuccessfulWithoutEvidencePolicy, WorkspaceId};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::auth::AuthFile;
use super::secret::StateFile;
use super::step::StepSpec;
use super::values;

/// A runwait workflow: Anaplan processes, imports, exports and actions run as steps, each
/// started and then waited on. `${VAR}` in a string value is replaced by the environment
/// variable (`$${` writes a literal `${`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "runwait workflow")]
#[non_exhaustive]
pub struct WorkflowFile {
    /// The workflow's name, shown in progress, summaries and traces.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Where Anaplan is: the embedded simulator, or a real tenant.
    pub connection: ConnectionFile,
    /// OpenTelemetry overrides (the `OTEL_*` variables apply first).
    pub telemetry: Option<TelemetryFile>,
    /// Defaults of every step.
    pub defaults: Option<DefaultsFile>,
    /// The steps; they run as a graph of `needs`, independent steps in parallel.
    #[schemars(length(min = 1))]
    pub steps: Vec<WorkflowStep>,
    /// Where the state of step runs is kept (the task each one started, so that a rerun
    /// reattaches): a directory (relative to the workflow file) or a `postgres://` URL,
    /// written as it is or `{ env: NAME }` / `{ file: PATH }`; a value with a password
    /// must come from one of those. The host's default when absent.
    pub state: Option<StateFile>,
}

/// The top level as the loader reads it: the keys of [`WorkflowFile`] (a test holds them
/// to it), each optional so that every missing one is reported, and each section passed
/// over: the loader reads a section through its own definition, with what the others
/// said (the simulator lowers the poll floor, `defaults:` fills in the steps).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopFile {
    #[serde(default, deserialize_with = "values::non_empty")]
    pub name: Option<String>,
    pub connection: Option<IgnoredAny>,
    pub telemetry: Option<IgnoredAny>,
    pub defaults: Option<IgnoredAny>,
    pub steps: Option<IgnoredAny>,
    pub state: Option<StateFile>,
}

/// The keys [`WorkflowFile`] requires (a test holds them to its schema).
pub(crate) const TOP_REQUIRED: [&str; 3] = ["name", "connection", "steps"];

// Deserialized with every key at one level (`step_file.rs`): `flatten` only shapes the
// schema. (The doc comment is the schema's description.)
/// One item of `steps:`: a [`StepSpec`] with the step's `id`.
#[derive(Debug, Clone, JsonSchema)]
#[non_exhaustive]
pub struct WorkflowStep {
    /// Unique id of the step, referred to by `needs`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub id: String,
    /// What the step runs and how.
    #[serde(flatten)]
    pub spec: StepSpec,
}

/// `simulator:`, or `region:` (or `api_url:` with `auth_url:`) with `auth:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    { "required": ["simulator"], "maxProperties": 1 },
    {
        "required": ["region", "auth"],
        "not": { "anyOf": [
            { "required": ["simulator"] }, { "required": ["api_url"] }, { "required": ["auth_url"] }
        ] }
    },
    {
        "required": ["api_url", "auth_url", "auth"],
        "not": { "anyOf": [{ "required": ["simulator"] }, { "required": ["region"] }] }
    }
]))]
#[non_exhaustive]
pub struct ConnectionFile {
    /// The embedded simulator on loopback, with its settings (all optional).
    pub simulator: Option<SimulatorFile>,
    /// A tenant by its region: us1, us2, us5, us7, us9, eu1, eu2, eu3, eu4, eu5, gb1, ap1,
    /// au1, ca1, sg1, ae1, in1, id1, me1.
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(transform = values::no_default)]
    pub region: Option<String>,
    /// A tenant by explicit URLs: the Integration API base, e.g.
    /// `https://api.anaplan.com/2/0`.
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(transform = values::no_default)]
    pub api_url: Option<String>,
    /// The auth service base, e.g. `https://auth.anaplan.com`.
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(transform = values::no_default)]
    pub auth_url: Option<String>,
    /// How to log in.
    pub auth: Option<AuthFile>,
    /// OAuth token endpoint for `kind: oauth`; default
    /// `https://{region}.app.anaplan.com/oauth/token`, required with explicit URLs.
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(transform = values::no_default)]
    pub oauth_token_url: Option<String>,
}

/// The embedded simulator.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SimulatorFile {
    /// A scenario file (relative to the workflow file) or an inline scenario; the built-in
    /// scenario when absent.
    pub scenario: Option<ScenarioRef>,
    /// Scenario seconds per real second (default 1).
    #[serde(default, deserialize_with = "values::speed")]
    #[schemars(schema_with = "values::positive_number_schema")]
    pub speed: Option<f64>,
}

/// A scenario file path or an inline scenario (the simulator's scenario format).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ScenarioRef {
    /// A path relative to the workflow file.
    File(PathBuf),
    /// The scenario itself (with the `simulator` feature, which knows its format).
    #[cfg(feature = "simulator")]
    Inline(
        #[schemars(with = "serde_json::Map<String, serde_json::Value>")] Box<runwait_sim::Scenario>,
    ),
}

/// OpenTelemetry overrides.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TelemetryFile {
    /// The OTLP endpoint, e.g. `http://localhost:4317`.
    #[serde(default, deserialize_with = "values::http_url")]
    #[schemars(transform = values::no_default)]
    pub endpoint: Option<String>,
    /// The OTLP protocol.
    pub protocol: Option<crate::model::Protocol>,
    /// `service.name` of the spans.
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(transform = values::no_default)]
    pub service_name: Option<String>,
    /// Export spans at all.
    #[serde(default)]
    #[schemars(schema_with = "values::bool_schema")]
    pub enabled: Option<bool>,
}

/// Defaults of every step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DefaultsFile {
    /// Workspace id: 32 lowercase hex digits.
    #[serde(default, deserialize_with = "values::workspace")]
    #[schemars(schema_with = "values::workspace_schema")]
    pub workspace: Option<WorkspaceId>,
    /// Model id: 32 uppercase hex digits.
    #[serde(default, deserialize_with = "values::model")]
    #[schemars(schema_with = "values::model_schema")]
    pub model: Option<ModelId>,
    /// Locale of Anaplan's messages (default en_US).
    #[serde(default, deserialize_with = "values::non_empty")]
    #[schemars(transform = values::no_default)]
    pub locale: Option<String>,
    /// How long a step may run before it is cancelled; none by default.
    #[serde(default, deserialize_with = "values::duration")]
    #[schemars(schema_with = "values::duration_schema")]
    pub timeout: Option<Duration>,
    /// Poll schedule limits.
    pub poll: Option<PollFile>,
    /// Requests per second to the tenant, all steps together (default 10).
    #[serde(default, deserialize_with = "values::positive_count")]
    #[schemars(schema_with = "values::positive_count_schema")]
    pub rate_per_second: Option<u32>,
    /// What a failure dump on a successful task means (default warn).
    #[serde(default)]
    #[schemars(schema_with = "values::dump_policy_schema")]
    pub on_dump: Option<DumpPolicy>,
    /// What `successful: false` without any evidence means (default fail).
    #[serde(default)]
    #[schemars(schema_with = "values::evidence_policy_schema")]
    pub on_unsuccessful_without_evidence: Option<UnsuccessfulWithoutEvidencePolicy>,
}

/// Poll schedule limits.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PollFile {
    /// The shortest interval between polls (default 5s; below 5s only with the simulator).
    #[serde(default, deserialize_with = "values::poll_interval")]
    #[schemars(schema_with = "values::duration_schema")]
    pub min_interval: Option<Duration>,
    /// The longest interval between polls (default 15m).
    #[serde(default, deserialize_with = "values::poll_interval")]
    #[schemars(schema_with = "values::duration_schema")]
    pub max_interval: Option<Duration>,
    /// Learn from each object's past runs in the state store and poll densely only
    /// around the expected end (default true).
    pub history: Option<bool>,
}
