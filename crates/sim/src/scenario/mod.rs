//! The scenario: what the simulated tenant holds and how its tasks behave.
//!
//! A [`Scenario`] is plain serde data. The simulator never reads YAML itself (only the
//! CLI knows YAML); it receives a `Scenario` already deserialized, or uses
//! [`Scenario::builtin`]. Durations are humantime strings ("30s", "2h") and are scenario
//! time: `--speed N` makes them pass N times faster.

mod builtin;
mod validate;

use std::time::Duration;

use runwait_core::{ModelId, ObjectId, ObjectKind, WorkspaceId};
use serde::Deserialize;

use crate::fault::Fault;

/// Everything the simulated tenant holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Who may log in.
    #[serde(default)]
    pub users: Vec<User>,
    /// How long a token lives (scenario time). Default 35 minutes.
    #[serde(default = "default_token_ttl", with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Largest dump chunk in bytes (Anaplan uses 10 MB; small values exercise multi-chunk
    /// downloads). Default 10 MB.
    #[serde(default = "default_chunk_size")]
    pub dump_chunk_size: usize,
    /// How long a cancelled task stays in CANCELLING before it is CANCELLED. Default 5s.
    #[serde(default = "default_cancel_duration", with = "humantime_serde")]
    pub cancel_duration: Duration,
    /// The workspaces with their models.
    pub workspaces: Vec<WorkspaceSpec>,
    /// Faults injected from the first request on.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// OAuth clients that may use the refresh-token grant at `POST /oauth/token`.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// Tasks another user or a schedule starts on its own, at given scenario times.
    #[serde(default)]
    pub foreign_starts: Vec<ForeignStart>,
    /// Task lists name who started each task (`userId`). Anaplan's published examples
    /// do not show it, so the default is false.
    #[serde(default)]
    pub task_list_users: bool,
    /// The tenant's API calls per second (logins aside), counted together over every
    /// user; above it a 429 with `Retry-After`. Anaplan's documented limit is 600 per
    /// minute. Default: no limit.
    #[serde(default)]
    pub rate_limit: Option<u32>,
}

/// A task someone else starts: another user, or a schedule (give it a user name of its
/// own, e.g. `schedule@…`), on an object at a scenario time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignStart {
    /// When, in scenario time from the simulator's start.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// The import, export, action or process it runs (in the first model that has it).
    pub object: ObjectId,
    /// Who starts it (need not be able to log in).
    pub by: String,
}

/// An OAuth client with the refresh token it starts with. Refresh tokens rotate: each
/// grant returns a new one and retires the one it was given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// `client_id` of the grant.
    pub client_id: String,
    /// The user the access tokens act as (a name from `users`).
    pub user: String,
    /// The first valid refresh token.
    pub refresh_token: String,
    /// True (default): each grant returns a new refresh token and retires the one it was
    /// given (single use). False: the refresh token stays valid and is returned again.
    #[serde(default = "default_true")]
    pub rotate: bool,
    /// The client secret of an Authorization Code client: the grant must carry it. None
    /// for a Device Grant client, which has no secret.
    #[serde(default)]
    pub client_secret: Option<String>,
}

fn default_token_ttl() -> Duration {
    Duration::from_secs(35 * 60)
}

fn default_chunk_size() -> usize {
    10 * 1024 * 1024
}

fn default_cancel_duration() -> Duration {
    Duration::from_secs(5)
}

fn default_job_duration() -> Duration {
    Duration::from_secs(10)
}

fn default_true() -> bool {
    true
}

/// A user who may log in, with a password (basic auth), a certificate, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The login name (an email address for basic auth).
    pub name: String,
    /// The password for basic auth.
    #[serde(default)]
    pub password: Option<String>,
    /// Which certificate logs in as this user.
    #[serde(default)]
    pub certificate: Option<CertificateMatch>,
}

/// How a certificate is recognised. The certificate chain is not checked: the scenario's
/// list of users is the trust anchor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CertificateMatch {
    /// The subject as RFC 4514 text, e.g. `CN=runwait test user,O=runwait test`.
    Subject(String),
    /// SHA-256 of the certificate's DER, hex (colons and case ignored).
    Fingerprint(String),
}

/// A workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSpec {
    /// 32 lowercase hex digits.
    pub id: WorkspaceId,
    /// Display name.
    pub name: String,
    /// Its models.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
}

/// A model and its runnable objects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// 32 uppercase hex digits.
    pub id: ModelId,
    /// Display name.
    pub name: String,
    /// Imports (ids with prefix 112).
    #[serde(default)]
    pub imports: Vec<JobSpec>,
    /// Exports (prefix 116).
    #[serde(default)]
    pub exports: Vec<JobSpec>,
    /// Other actions (prefix 117).
    #[serde(default)]
    pub actions: Vec<JobSpec>,
    /// Processes (prefix 118) running imports, exports and actions in order.
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    /// The model's state: calls on an archived model answer 422, on a locked one 423;
    /// a model the users have no access to answers 404 (its task lists 200, empty).
    #[serde(default)]
    pub state: ModelState,
}

impl ModelSpec {
    /// A model with only `actions` (the many-model scenarios of the benches and examples:
    /// a model runs one task at a time, so each concurrent wait gets its own).
    pub fn with_actions(id: ModelId, name: impl Into<String>, actions: Vec<JobSpec>) -> Self {
        ModelSpec {
            id,
            name: name.into(),
            imports: Vec::new(),
            exports: Vec::new(),
            actions,
            processes: Vec::new(),
            state: ModelState::default(),
        }
    }
}

/// The state of a model, as its calls see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// Works normally.
    #[default]
    Online,
    /// Archived: 422.
    Archived,
    /// In Locked mode: 423.
    Locked,
    /// The user has no access: 404, and an empty task list with 200.
    NoAccess,
}

/// An import, export or action: how long it runs and how it ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The object id.
    pub id: ObjectId,
    /// Display name.
    pub name: String,
    /// `actionType` in listings and process metadata; defaults to IMPORT / EXPORT /
    /// DELETE_BY_SELECTION by kind.
    #[serde(default)]
    pub action_type: Option<String>,
    /// Run time once the model is free. Default 10s.
    #[serde(default = "default_job_duration", with = "humantime_serde")]
    pub duration: Duration,
    /// How `progress` moves while it runs.
    #[serde(default)]
    pub progress: Curve,
    /// How it ends.
    #[serde(default)]
    pub outcome: Outcome,
    /// Rows in the failure dump (imports only). Default: 3 for `warnings`, else none.
    #[serde(default)]
    pub dump_rows: Option<u64>,
    /// The result's `details`, replacing the ones generated from the outcome.
    #[serde(default)]
    pub details: Option<Vec<DetailSpec>>,
    /// False: a cancel is acknowledged but the task keeps running and completes (it
    /// cannot roll back). Default true.
    #[serde(default = "default_true")]
    pub cancellable: bool,
}

/// A process: actions run in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// The object id (prefix 118).
    pub id: ObjectId,
    /// Display name.
    pub name: String,
    /// Ids of the model's imports, exports and actions, in execution order.
    pub actions: Vec<ObjectId>,
    /// Run time; default the sum of the actions' durations.
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// How `progress` moves while it runs.
    #[serde(default)]
    pub progress: Curve,
    /// Overrides the process-level outcome derived from its actions: `success` or
    /// `unsuccessful_without_evidence` (reports `successful: false` with no details
    /// although every action succeeded).
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The process result's own `details`, replacing the generated ones.
    #[serde(default)]
    pub details: Option<Vec<DetailSpec>>,
    /// See [`JobSpec::cancellable`]. Default true.
    #[serde(default = "default_true")]
    pub cancellable: bool,
}

/// How a task's `progress` moves from 0 to 1 while it is IN_PROGRESS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Curve {
    /// Straight from 0 to 1.
    #[default]
    Linear,
    /// N plateaus: 0, 1/N, 2/N, …
    Steps(u32),
    /// 0 the whole time, then the task completes at once (a dormant model loading).
    Stuck,
}

impl Curve {
    /// Progress at `fraction` (0..1) of the run time, rounded to 4 decimals so that
    /// scaled clocks give stable numbers.
    pub(crate) fn at(self, fraction: f64) -> f64 {
        let f = fraction.clamp(0.0, 1.0);
        let p = match self {
            Curve::Linear => f,
            Curve::Steps(n) if n > 0 => (f * f64::from(n)).floor() / f64::from(n),
            Curve::Steps(_) | Curve::Stuck => 0.0,
        };
        (p * 10_000.0).round() / 10_000.0
    }
}

/// How an import, export or action ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `successful: true`, no dump.
    #[default]
    Success,
    /// `successful: true` with rows that have warnings and a failure dump.
    Warnings,
    /// `successful: false` with a failure detail (and a dump when `dump_rows` > 0).
    Failure,
    /// `successful: false` with no details and no dump.
    UnsuccessfulWithoutEvidence,
}

/// One entry of a result's `details`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailSpec {
    /// The detail `type` (`importFailedGeneralError`, `exportSucceeded`, …).
    #[serde(rename = "type")]
    pub detail_type: String,
    /// `localMessageText`.
    #[serde(default)]
    pub message: Option<String>,
    /// `occurrences`. Default 0.
    #[serde(default)]
    pub occurrences: u64,
    /// The flat key/value list; quote numbers in YAML ("13"); `null` is kept.
    #[serde(default)]
    pub values: Vec<Option<String>>,
}

/// The four kinds of runnable object, as they appear in URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum JobKind {
    Import,
    Export,
    Action,
    Process,
}

impl JobKind {
    pub(crate) fn from_segment(s: &str) -> Option<Self> {
        match s {
            "imports" => Some(JobKind::Import),
            "exports" => Some(JobKind::Export),
            "actions" => Some(JobKind::Action),
            "processes" => Some(JobKind::Process),
            _ => None,
        }
    }

    pub(crate) fn object_kind(self) -> ObjectKind {
        match self {
            JobKind::Import => ObjectKind::Import,
            JobKind::Export => ObjectKind::Export,
            JobKind::Action => ObjectKind::Action,
            JobKind::Process => ObjectKind::Process,
        }
    }

    pub(crate) fn default_action_type(self) -> &'static str {
        match self {
            JobKind::Import => "IMPORT",
            JobKind::Export => "EXPORT",
            JobKind::Action => "DELETE_BY_SELECTION",
            JobKind::Process => "PROCESS",
        }
    }
}

impl JobSpec {
    /// `actionType` in listings and process metadata.
    pub(crate) fn action_type_or_default(&self, kind: JobKind) -> String {
        self.action_type
            .clone()
            .unwrap_or_else(|| kind.default_action_type().into())
    }
}

/// What a task runs: an import, export or action, or a process.
pub(crate) enum Runnable<'a> {
    Job(&'a JobSpec),
    Process(&'a ProcessSpec),
}

impl ModelSpec {
    /// The imports, exports and actions, each list with its kind.
    pub(crate) fn job_lists(&self) -> [(JobKind, &[JobSpec]); 3] {
        [
            (JobKind::Import, &self.imports),
            (JobKind::Export, &self.exports),
            (JobKind::Action, &self.actions),
        ]
    }

    /// The imports, exports or actions; none for processes, which are not jobs.
    pub(crate) fn jobs(&self, kind: JobKind) -> &[JobSpec] {
        match kind {
            JobKind::Import => &self.imports,
            JobKind::Export => &self.exports,
            JobKind::Action => &self.actions,
            JobKind::Process => &[],
        }
    }

    /// The import, export or action with this id, with its kind.
    pub(crate) fn job(&self, id: &ObjectId) -> Option<(JobKind, &JobSpec)> {
        self.job_lists()
            .into_iter()
            .find_map(|(kind, jobs)| jobs.iter().find(|j| &j.id == id).map(|j| (kind, j)))
    }

    /// The object of this kind with this id, if the model has it.
    pub(crate) fn runnable(&self, kind: JobKind, id: &ObjectId) -> Option<Runnable<'_>> {
        match kind {
            JobKind::Process => self.process(id).map(Runnable::Process),
            _ => self
                .jobs(kind)
                .iter()
                .find(|j| &j.id == id)
                .map(Runnable::Job),
        }
    }

    pub(crate) fn process(&self, id: &ObjectId) -> Option<&ProcessSpec> {
        self.processes.iter().find(|p| &p.id == id)
    }

    /// Run time of a process: its own, else the sum of its actions'.
    pub(crate) fn process_duration(&self, p: &ProcessSpec) -> Duration {
        p.duration.unwrap_or_else(|| {
            saturating_sum(
                p.actions
                    .iter()
                    .filter_map(|a| self.job(a))
                    .map(|(_, j)| j.duration),
            )
        })
    }
}

impl Scenario {
    /// The first model that has the object, with its kind.
    pub(crate) fn object_home(&self, object: &ObjectId) -> Option<(&ModelSpec, JobKind)> {
        self.workspaces
            .iter()
            .flat_map(|w| &w.models)
            .find_map(|m| {
                m.job(object)
                    .map(|(kind, _)| kind)
                    .or_else(|| m.process(object).map(|_| JobKind::Process))
                    .map(|kind| (m, kind))
            })
    }
}

/// Adds durations without the panic of `Sum` on overflow.
pub(crate) fn saturating_sum(durations: impl Iterator<Item = Duration>) -> Duration {
    durations.fold(Duration::ZERO, Duration::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves() {
        assert_eq!(Curve::Linear.at(0.25), 0.25);
        assert_eq!(Curve::Steps(4).at(0.49), 0.25);
        assert_eq!(Curve::Stuck.at(0.99), 0.0);
        assert_eq!(Curve::Linear.at(2.0), 1.0);
    }
}
