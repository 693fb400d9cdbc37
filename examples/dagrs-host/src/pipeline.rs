//! The host's own pipeline file: `pipeline:`, `anaplan:` and `jobs:`, none of it runwait's
//! format. A runwait job's `kind:` is one of runwait's `uses:` names and its `with:` is
//! runwait's own [`With`], so runwait checks what is inside it, and serde-saphyr reports
//! the line and column in this file.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use runwait_core::{ModelId, WorkspaceId};
use runwait_workflow::StepSpec;
use runwait_workflow::format::{StepOptions, Uses, With};
use serde::{Deserialize, Deserializer, de};

/// A pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Its name: the runwait workflow name of its steps, and part of the run key.
    pub pipeline: String,
    /// Where the runwait jobs run when their `with:` does not say.
    #[serde(default)]
    pub anaplan: AnaplanDefaults,
    /// The jobs; `after:` may name only jobs listed before.
    pub jobs: Vec<Job>,
}

/// `anaplan:` the workspace and model of every runwait job that gives none.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnaplanDefaults {
    /// Workspace id.
    pub workspace: Option<WorkspaceId>,
    /// Model id.
    pub model: Option<ModelId>,
}

/// One job of the pipeline.
#[derive(Debug)]
pub struct Job {
    /// Its name, unique in the pipeline.
    pub name: String,
    /// Jobs that must have passed before it runs.
    pub after: Vec<String>,
    /// A failure of this job does not fail the pipeline (the host's own key).
    pub allow_failure: bool,
    /// What it does.
    pub work: Work,
}

/// What a job does.
#[derive(Debug)]
pub enum Work {
    /// A runwait step: run an Anaplan task and wait for it.
    Runwait(Box<StepSpec>),
    /// `kind: shell/echo`: the host's own kind of job, which prints `message`.
    Echo {
        /// What it prints.
        message: String,
    },
}

/// `kind:` a runwait `uses:` name or one of the host's own kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Runwait(Uses),
    Echo,
}

const ECHO: &str = "shell/echo";

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name == ECHO {
            return Ok(Kind::Echo);
        }
        name.parse::<Uses>().map(Kind::Runwait).map_err(|_| {
            let known: Vec<&str> = Uses::ALL.iter().map(|u| u.name()).chain([ECHO]).collect();
            de::Error::custom(format!(
                "unknown kind `{name}`, expected one of {}",
                known.join(", ")
            ))
        })
    }
}

/// A job as written, before the rules that span its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    kind: Kind,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    allow_failure: bool,
    /// runwait's own step definition.
    with: Option<With>,
    /// How long the runwait step may run (real time) before its task is cancelled.
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    message: Option<String>,
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawJob::deserialize(d)?;
        let work = match raw.kind {
            Kind::Runwait(uses) => {
                if raw.message.is_some() {
                    return Err(de::Error::custom(
                        "`message` is for `kind: shell/echo` only",
                    ));
                }
                let with = raw.with.ok_or_else(|| de::Error::missing_field("with"))?;
                let mut options = StepOptions::default();
                options.timeout = raw.timeout;
                // runwait checks the rules across `uses` and `with` (the id's prefix).
                let spec = StepSpec::from_parts(uses, with, options).map_err(de::Error::custom)?;
                Work::Runwait(Box::new(spec))
            }
            Kind::Echo => {
                if raw.with.is_some() || raw.timeout.is_some() {
                    return Err(de::Error::custom(
                        "`with` and `timeout` are for runwait kinds (anaplan/…) only",
                    ));
                }
                let message = raw
                    .message
                    .ok_or_else(|| de::Error::missing_field("message"))?;
                Work::Echo { message }
            }
        };
        Ok(Job {
            name: raw.name,
            after: raw.after,
            allow_failure: raw.allow_failure,
            work,
        })
    }
}

/// Why a pipeline file cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not describe a pipeline (serde-saphyr's message has the line and
    /// column).
    #[error("{file}: {source}")]
    Parse {
        /// The file.
        file: String,
        /// What is wrong and where.
        source: Box<serde_saphyr::Error>,
    },
    /// The jobs do not form a pipeline.
    #[error("{file}: {problem}")]
    Jobs {
        /// The file.
        file: String,
        /// What is wrong.
        problem: JobsProblem,
    },
}

/// A rule between jobs that the file breaks.
#[derive(Debug, PartialEq, Eq)]
pub enum JobsProblem {
    /// Two jobs have the same name.
    Duplicate(String),
    /// `after:` names no job listed before this one.
    UnknownAfter {
        /// The job.
        job: String,
        /// The name in its `after:`.
        after: String,
    },
}

impl fmt::Display for JobsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobsProblem::Duplicate(name) => write!(f, "two jobs are named `{name}`"),
            JobsProblem::UnknownAfter { job, after } => write!(
                f,
                "job `{job}`: after: `{after}` is not a job listed before it"
            ),
        }
    }
}

impl Pipeline {
    /// Reads and checks a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            file: file.clone(),
            source,
        })?;
        Pipeline::parse(&text, &file)
    }

    /// Parses and checks pipeline text; fills each runwait job's workspace and model from
    /// `anaplan:` when its `with:` gives none.
    fn parse(text: &str, file: &str) -> Result<Pipeline, PipelineError> {
        let mut pipeline: Pipeline =
            serde_saphyr::from_str(text).map_err(|source| PipelineError::Parse {
                file: file.to_owned(),
                source: Box::new(source),
            })?;
        let jobs_error = |problem| PipelineError::Jobs {
            file: file.to_owned(),
            problem,
        };
        let mut seen = HashSet::new();
        for job in &pipeline.jobs {
            if let Some(after) = job.after.iter().find(|a| !seen.contains(a.as_str())) {
                return Err(jobs_error(JobsProblem::UnknownAfter {
                    job: job.name.clone(),
                    after: after.clone(),
                }));
            }
            if !seen.insert(job.name.as_str()) {
                return Err(jobs_error(JobsProblem::Duplicate(job.name.clone())));
            }
        }
        let defaults = &pipeline.anaplan;
        for job in &mut pipeline.jobs {
            if let Work::Runwait(spec) = &mut job.work {
                if spec.with.workspace.is_none() {
                    spec.with.workspace = defaults.workspace.clone();
                }
                if spec.with.model.is_none() {
                    spec.with.model = defaults.model.clone();
                }
            }
        }
        Ok(pipeline)
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
