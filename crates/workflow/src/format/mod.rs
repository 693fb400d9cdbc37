//! The workflow format as typed definitions: serde `Deserialize` and schemars `JsonSchema`
//! on the same types. The JSON Schema (`runwait schema`), the loader's key lists and
//! choices, and a host's deserialization of a [`StepSpec`] all come from them.

mod auth;
mod secret;
mod step;
mod step_file;
mod values;
mod workflow;

pub use self::auth::{
    AuthFile, BasicAuthFile, CertificateAuthFile, CertificateFormat, OAuthFile, TokenAuthFile,
};
pub(crate) use self::auth::{AuthFlat, AuthKind};
pub(crate) use self::secret::SecretProblem;
pub use self::secret::{SecretRef, StateFile};
pub use self::step::{
    Condition, MappingParameterSpec, StepOptions, StepPoll, StepSpec, UnknownUses, Uses, With,
};
pub(crate) use self::step::{ID_AND_NAME, NO_ID_OR_NAME, mapping_parameters_message};
pub(crate) use self::step_file::StepFile;
pub(crate) use self::values::{check_object_id, fields_of};
pub use self::workflow::{
    ConnectionFile, DefaultsFile, PollFile, ScenarioRef, SimulatorFile, TelemetryFile,
    WorkflowFile, WorkflowStep,
};
pub(crate) use self::workflow::{TOP_REQUIRED, TopFile};

/// The JSON Schema (draft 2020-12) of a runwait workflow file.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkflowFile)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
