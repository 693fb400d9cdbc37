//! The typed model of a workflow file, after parsing and validation. Everything the
//! runner needs is here, checked: ids well-formed, durations parsed, `needs` acyclic,
//! secrets referenced (never inline).

use std::path::PathBuf;
use std::time::Duration;

use runwait_anaplan::{EncodedDataFormat, Endpoints, MappingParameter, TaskKind};
use runwait_core::{ModelId, ObjectId, OutcomePolicy, WorkspaceId};

use crate::format;

/// A validated workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// `name`.
    pub name: String,
    /// The file it came from.
    pub source: PathBuf,
    /// Where Anaplan is.
    pub connection: Connection,
    /// `state:` where the state of step runs is kept; `None`: the host's default.
    /// [`StateLocation::resolve`] reads it.
    pub state: Option<StateLocation>,
    /// Telemetry overrides from the file (the `OTEL_*` variables still apply first).
    pub telemetry: TelemetrySettings,
    /// The steps, in file order; `needs` refer to their ids.
    pub steps: Vec<StepSpec>,
    /// Requests per second for the whole tenant (`defaults.rate_per_second`, default 10).
    pub rate_per_second: u32,
    /// Poll schedule floor and ceiling (`defaults.poll`).
    pub poll: PollSettings,
}

/// A connection file: a workflow file without its steps (`connection:`, and optionally
/// `name:`, `telemetry:` and `defaults:`), for a host that brings its own step, such as
/// `runwait exec`. [`Settings::one_step`] makes it a one-step [`Workflow`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `name`, when given.
    pub name: Option<String>,
    /// The file it came from.
    pub source: PathBuf,
    /// Where Anaplan is.
    pub connection: Connection,
    /// `state:`: where the state store is, when the file says.
    pub state: Option<StateLocation>,
    /// Telemetry overrides from the file (the `OTEL_*` variables still apply first).
    pub telemetry: TelemetrySettings,
    /// What a step leaves out (`defaults:`).
    pub defaults: StepDefaults,
    /// Requests per second for the whole tenant (`defaults.rate_per_second`, default 10).
    pub rate_per_second: u32,
    /// Poll schedule floor and ceiling (`defaults.poll`).
    pub poll: PollSettings,
}

/// The values of `defaults:` a step falls back on.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct StepDefaults {
    /// `defaults.workspace`.
    pub workspace: Option<WorkspaceId>,
    /// `defaults.model`.
    pub model: Option<ModelId>,
    /// `defaults.locale` (else `en_US`).
    pub locale: Option<String>,
    /// `defaults.timeout`.
    pub timeout: Option<Duration>,
    /// `defaults.on_dump` and `defaults.on_unsuccessful_without_evidence`.
    pub policy: OutcomePolicy,
}

/// Poll limits that break the rules of `defaults.poll`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// `min_interval` under Anaplan's floor, with a real tenant.
    #[error(
        "must be at least 5s: Anaplan asks clients not to poll more often (shorter intervals are for the simulator)"
    )]
    BelowFloor,
    /// `max_interval` shorter than `min_interval`.
    #[error("must not be shorter than min_interval ({})", humantime::format_duration(*.0))]
    MaxBelowMin(Duration),
}

/// The locale of Anaplan's messages when neither the step nor the defaults give one.
pub(crate) const DEFAULT_LOCALE: &str = "en_US";

impl PollError {
    /// The key of `defaults.poll` that breaks the rule (`min_interval`, `max_interval`).
    pub fn key(&self) -> &'static str {
        match self {
            PollError::BelowFloor => "min_interval",
            PollError::MaxBelowMin(_) => "max_interval",
        }
    }
}

/// Anaplan asks clients not to poll more often than this; only the simulator may.
const MIN_POLL_FLOOR: Duration = Duration::from_secs(5);

impl PollSettings {
    /// The limits from `min` and `max` as given (the defaults for what is not): `min` not
    /// under 5s unless `simulator`, `max` not under `min` (and by default not under it
    /// either).
    pub fn new(
        min: Option<Duration>,
        max: Option<Duration>,
        simulator: bool,
    ) -> Result<PollSettings, PollError> {
        let fallback = PollSettings::default();
        let min = min.unwrap_or(fallback.min_interval);
        if min < MIN_POLL_FLOOR && !simulator {
            return Err(PollError::BelowFloor);
        }
        let max = match max {
            Some(max) if max < min => return Err(PollError::MaxBelowMin(min)),
            Some(max) => max,
            None => fallback.max_interval.max(min),
        };
        Ok(PollSettings {
            min_interval: min,
            max_interval: max,
            history: fallback.history,
        })
    }

    /// With learning from past runs on or off.
    pub fn with_history(mut self, history: bool) -> PollSettings {
        self.history = history;
        self
    }
}

impl Settings {
    /// Whether the connection is the embedded simulator (which may poll under 5s).
    pub fn is_simulator(&self) -> bool {
        #[cfg(feature = "simulator")]
        return matches!(self.connection, Connection::Simulator { .. });
        #[cfg(not(feature = "simulator"))]
        false
    }

    /// With the poll limits `min` and `max` where given (the file's otherwise, the
    /// ceiling raised to a higher `min`), checked as `defaults.poll` is.
    pub fn with_poll(
        mut self,
        min: Option<Duration>,
        max: Option<Duration>,
    ) -> Result<Self, PollError> {
        let min = min.unwrap_or(self.poll.min_interval);
        let max = max.unwrap_or(self.poll.max_interval.max(min));
        self.poll = PollSettings::new(Some(min), Some(max), self.is_simulator())?
            .with_history(self.poll.history);
        Ok(self)
    }

    /// The workflow `name` of one step `id` running `spec`, with these settings and the
    /// defaults applied to the step.
    pub fn one_step(
        &self,
        name: &str,
        id: &str,
        spec: &format::StepSpec,
    ) -> Result<Workflow, crate::StepError> {
        Ok(Workflow {
            name: name.to_owned(),
            source: self.source.clone(),
            connection: self.connection.clone(),
            state: self.state.clone(),
            telemetry: self.telemetry.clone(),
            steps: vec![crate::runnable::resolve(spec, id, &self.defaults)?],
            rate_per_second: self.rate_per_second,
            poll: self.poll,
        })
    }
}

/// `connection:`.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "one per workflow, built once: its size does not matter"
)]
pub enum Connection {
    /// `simulator:` an embedded simulator on loopback (with the `simulator` feature).
    #[cfg(feature = "simulator")]
    Simulator {
        /// The scenario (`scenario:` file or inline; the built-in one when absent).
        scenario: Box<runwait_sim::Scenario>,
        /// `speed:` scenario seconds per real second (default 1).
        speed: f64,
    },
    /// A real tenant.
    Anaplan {
        /// From `region:` or `api_url:` + `auth_url:`.
        endpoints: Endpoints,
        /// `auth:`.
        auth: AuthSpec,
        /// `oauth_token_url:` for `kind: oauth` (default from the region).
        oauth_token_url: Option<url::Url>,
    },
}

impl Connection {
    /// The tenant a rate budget is counted for: the host of `api_url` (the API the
    /// client talks to) and who logs in.
    pub fn tenant(&self, api_url: &str) -> String {
        let who = match self {
            Connection::Anaplan { auth, .. } => match auth {
                AuthSpec::Basic { user, .. } => user.clone(),
                AuthSpec::Certificate { certificate, .. } => {
                    format!("certificate {}", certificate.display())
                }
                AuthSpec::Token { .. } => "token".to_owned(),
                AuthSpec::OAuth { client_id, .. } => format!("oauth {client_id}"),
            },
            #[cfg(feature = "simulator")]
            Connection::Simulator { .. } => "simulator".to_owned(),
        };
        let host = api_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(api_url);
        format!("{host} {who}")
    }
}

/// Where a secret comes from: never the workflow file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `{ env: VAR }`: an environment variable.
    Env(String),
    /// `{ file: path }`: a file (relative to the workflow file), trailing newline trimmed.
    File(PathBuf),
}

/// `state:` where the state store is: a directory or a `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateLocation {
    /// Written in the file (a directory resolved against the workflow file's directory,
    /// or a URL, which holds no password).
    Literal(String),
    /// `{ env: NAME }` / `{ file: PATH }`: read when the workflow runs (trailing newline
    /// trimmed), used as it is.
    From(SecretSource),
}

/// Why `state:` could not be read. The message starts with `state:` and never holds the
/// value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The environment variable it names is not set.
    #[error("state: environment variable {0} is not set")]
    MissingEnv(String),
    /// The file it names could not be read.
    #[error("state: cannot read the file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The variable or file it names is empty.
    #[error("state: {0} is empty")]
    Empty(String),
}

/// `connection.auth:`.
#[derive(Debug, Clone)]
pub enum AuthSpec {
    /// `kind: basic`.
    Basic {
        /// `user:` (not secret).
        user: String,
        /// `password:`.
        password: SecretSource,
    },
    /// `kind: certificate`.
    Certificate {
        /// `certificate:` PEM file.
        certificate: PathBuf,
        /// `private_key:` PEM file.
        private_key: PathBuf,
        /// `passphrase:` for an encrypted key.
        passphrase: Option<SecretSource>,
        /// `format: v1 | v2` (default v2).
        format: EncodedDataFormat,
    },
    /// `kind: token`: a ready Anaplan token.
    Token {
        /// `token:`.
        token: SecretSource,
    },
    /// `kind: oauth`: refresh-token grant; a rotated token is written back to `refresh_token`
    /// when that is a file.
    OAuth {
        /// `client_id:` (not secret).
        client_id: String,
        /// `refresh_token:`.
        refresh_token: SecretSource,
        /// `client_secret:` (Authorization Code clients only).
        client_secret: Option<SecretSource>,
    },
}

/// `telemetry:` overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `endpoint:`.
    pub endpoint: Option<String>,
    /// `protocol: grpc | http/protobuf`.
    pub protocol: Option<Protocol>,
    /// `service_name:`.
    pub service_name: Option<String>,
    /// `enabled:`.
    pub enabled: Option<bool>,
}

/// `telemetry.protocol:` the OTLP transport (the host maps it to its exporter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub enum Protocol {
    /// `grpc`: OTLP over gRPC.
    #[serde(rename = "grpc")]
    Grpc,
    /// `http/protobuf`: OTLP over HTTP with protobuf bodies.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// `defaults.poll:`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSettings {
    /// `min_interval:` (default 5s; below 5s only for the simulator).
    pub min_interval: Duration,
    /// `max_interval:` (default 15m, the library's: a long task is polled sparsely).
    pub max_interval: Duration,
    /// `history:` (default true): learn from each object's past runs.
    pub history: bool,
}

impl Default for PollSettings {
    /// The library's [`runwait_executor::PollPolicy`] defaults: one definition for both.
    fn default() -> Self {
        let policy = runwait_executor::PollPolicy::default();
        PollSettings {
            min_interval: policy.min_interval,
            max_interval: policy.max_interval,
            history: policy.history,
        }
    }
}

pub use crate::format::Condition;

/// `with.id` or `with.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    /// The object's id (12 digits with the kind's prefix).
    Id(ObjectId),
    /// The object's name, looked up in the model at run time.
    Name(String),
}

/// One step, with the defaults applied.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// `id`.
    pub id: String,
    /// `uses: anaplan/process | anaplan/import | anaplan/export | anaplan/action`.
    pub kind: TaskKind,
    /// `with.workspace` or `defaults.workspace`.
    pub workspace: WorkspaceId,
    /// `with.model` or `defaults.model`.
    pub model: ModelId,
    /// `with.id` or `with.name`.
    pub object: ObjectRef,
    /// `with.locale` or `defaults.locale` (default `en_US`).
    pub locale: String,
    /// `with.mapping_parameters` (processes and imports only).
    pub mapping_parameters: Vec<MappingParameter>,
    /// `needs`.
    pub needs: Vec<String>,
    /// `if`.
    pub condition: Condition,
    /// `timeout` or `defaults.timeout`.
    pub timeout: Option<Duration>,
    /// `continue_on_error`: a failure of this step does not fail the workflow.
    pub continue_on_error: bool,
    /// `retries`: how often a failed step is run again (a new task each time).
    pub retries: u32,
    /// `on_dump`, `on_unsuccessful_without_evidence` (or the defaults).
    pub policy: OutcomePolicy,
    /// `poll.history`, when the step sets it (else `defaults.poll.history`).
    pub poll_history: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_the_api_host_and_the_user() {
        let connection = Connection::Anaplan {
            endpoints: Endpoints::custom("https://api.anaplan.com/2/0", "https://auth.anaplan.com")
                .unwrap(),
            auth: AuthSpec::Basic {
                user: "ops@example.com".into(),
                password: SecretSource::Env("PW".into()),
            },
            oauth_token_url: None,
        };
        assert_eq!(
            connection.tenant("https://api.anaplan.com/2/0"),
            "api.anaplan.com ops@example.com"
        );
    }
}
