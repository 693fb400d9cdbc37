//! `runwait exec USES --id …`: one step without a workflow file, for schedulers that call
//! one task at a time (Argo, Kubernetes Jobs, Airflow).
//!
//! The flags are read as the workflow format's own step definition (`WorkflowStep`:
//! `id`, `uses`, `with`, options), so a value is checked exactly as in a workflow file and
//! an error names the flag. The connection (and `defaults:`, `telemetry:`) comes from a
//! connection file: a workflow file without `steps:`, such as a mounted ConfigMap. The
//! step then runs as a one-step workflow through `runwait run`'s own path: same outcome,
//! exit code and JSON document.

use std::path::PathBuf;

use runwait_workflow::format::{PollFile, Uses, WorkflowStep};
use runwait_workflow::model::Settings;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::exit::Exit;
use crate::run::RunOptions;

/// The workflow name of an exec run whose connection file names none: the state store
/// keys its steps under it.
const DEFAULT_NAME: &str = "exec";

/// Arguments of `runwait exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to run: anaplan/process, anaplan/import, anaplan/export or anaplan/action.
    #[arg(value_name = "USES")]
    uses: String,
    /// The connection file: a workflow file without `steps:` (`connection:`, and
    /// optionally `name:`, `defaults:`, `telemetry:`).
    #[arg(long, value_name = "FILE", env = "RUNWAIT_CONNECTION")]
    connection: PathBuf,
    /// The object's id: 12 digits with the prefix of its kind.
    #[arg(long, required_unless_present = "name", conflicts_with = "name")]
    id: Option<String>,
    /// The object's name, looked up in the model.
    #[arg(long)]
    name: Option<String>,
    /// Workspace id (else the connection file's `defaults.workspace`).
    #[arg(long)]
    workspace: Option<String>,
    /// Model id (else `defaults.model`).
    #[arg(long)]
    model: Option<String>,
    /// Locale of Anaplan's messages (else `defaults.locale`, else en_US).
    #[arg(long)]
    locale: Option<String>,
    /// A mapping parameter of a process or import, `DIMENSION=ITEM`; repeat for more.
    #[arg(long = "mapping-parameter", value_name = "DIMENSION=ITEM")]
    mapping_parameters: Vec<String>,
    /// How long the step may run before its task is cancelled, e.g. `2h` (else
    /// `defaults.timeout`).
    #[arg(long)]
    timeout: Option<String>,
    /// How often a failed step is run again (a new task each time).
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// What a failure dump on a successful task means: warn, fail or ignore.
    #[arg(long)]
    on_dump: Option<String>,
    /// What `successful: false` without any evidence means: warn or fail.
    #[arg(long)]
    on_unsuccessful_without_evidence: Option<String>,
    /// The shortest interval between polls (else `defaults.poll.min_interval`, 5s).
    #[arg(long)]
    poll_min_interval: Option<String>,
    /// The longest interval between polls (else `defaults.poll.max_interval`, 15m).
    #[arg(long)]
    poll_max_interval: Option<String>,
    /// The step's id in the summary, the state store and the dumps' folder. Default:
    /// `<kind>-<id>` or `<kind>-<name>`, so different objects under one run key never
    /// share a record.
    #[arg(long)]
    step_id: Option<String>,
    #[command(flatten)]
    options: RunOptions,
}

/// Runs the command.
pub fn run(args: &Args) -> Exit {
    let settings = match runwait_workflow::load_settings(&args.connection) {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("{errors}");
            return Exit::Usage;
        }
    };
    match workflow(args, settings) {
        Ok(workflow) => crate::run::run_loaded(&args.options, 1, workflow),
        Err(message) => {
            eprintln!("runwait: {message}");
            Exit::Usage
        }
    }
}

/// The one-step workflow of the flags and the connection file.
fn workflow(args: &Args, settings: Settings) -> Result<runwait_workflow::model::Workflow, String> {
    let step: WorkflowStep = read(step_value(args)?, step_flag)?;
    let limits = given(
        Map::new(),
        [
            ("min_interval", &args.poll_min_interval),
            ("max_interval", &args.poll_max_interval),
        ],
    );
    let poll: PollFile = read(Value::Object(limits), poll_flag)?;
    let settings = settings
        .with_poll(poll.min_interval, poll.max_interval)
        .map_err(|e| format!("{}: {e}", poll_flag(e.key(), "")))?;
    let name = settings.name.as_deref().unwrap_or(DEFAULT_NAME);
    settings
        .one_step(name, &step.id, &step.spec)
        .map_err(|e| match e {
            runwait_workflow::StepError::NoWorkspace => {
                "no workspace: give --workspace or `defaults.workspace` in the connection file"
                    .to_owned()
            }
            runwait_workflow::StepError::NoModel => {
                "no model: give --model or `defaults.model` in the connection file".to_owned()
            }
            other => other.to_string(),
        })
}

/// The flags as a step of a workflow file: the keys it would have, absent ones left out.
fn step_value(args: &Args) -> Result<Value, String> {
    let mapping_parameters = args
        .mapping_parameters
        .iter()
        .map(|p| match p.split_once('=') {
            Some((dimension, item)) => Ok(json!({"entity_type": dimension, "entity_name": item})),
            None => Err(format!(
                "--mapping-parameter: expected DIMENSION=ITEM, found `{}`",
                p.escape_debug()
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut with = given(
        Map::new(),
        [
            ("id", &args.id),
            ("name", &args.name),
            ("workspace", &args.workspace),
            ("model", &args.model),
            ("locale", &args.locale),
        ],
    );
    if !mapping_parameters.is_empty() {
        with.insert("mapping_parameters".to_owned(), json!(mapping_parameters));
    }
    let mut step = Map::new();
    let id = args
        .step_id
        .clone()
        .unwrap_or_else(|| default_step_id(args));
    step.insert("id".to_owned(), json!(id));
    step.insert("uses".to_owned(), json!(args.uses));
    step.insert("with".to_owned(), Value::Object(with));
    step.insert("retries".to_owned(), json!(args.retries));
    let step = given(
        step,
        [
            ("timeout", &args.timeout),
            ("on_dump", &args.on_dump),
            (
                "on_unsuccessful_without_evidence",
                &args.on_unsuccessful_without_evidence,
            ),
        ],
    );
    Ok(Value::Object(step))
}

/// `map` with the values of the flags that were given, under their keys.
fn given<const N: usize>(
    mut map: Map<String, Value>,
    flags: [(&str, &Option<String>); N],
) -> Map<String, Value> {
    for (key, value) in flags {
        if let Some(value) = value {
            map.insert(key.to_owned(), json!(value));
        }
    }
    map
}

/// `process-118000000001`, `import-Sales_from_S3`: the kind and the object, in the
/// characters a step id allows.
fn default_step_id(args: &Args) -> String {
    let kind = args
        .uses
        .parse::<Uses>()
        .map_or_else(|_| "step".to_owned(), |u| u.kind().to_string());
    let object = args.id.as_deref().or(args.name.as_deref()).unwrap_or("");
    let object: String = object
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{kind}-{object}")
}

/// `value` read as the format's `T`; an error names the flag (`flag` of the field's path
/// and the message) of the field it is about.
fn read<T: DeserializeOwned>(value: Value, flag: fn(&str, &str) -> String) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // The rules across fields report at the step, their message starting with the
        // field's path (`with.id: …`).
        match (path.as_str(), message.split_once(": ")) {
            (".", Some((field, rest))) if !field.contains(' ') => {
                format!("{}: {rest}", flag(field, rest))
            }
            (".", _) => message,
            (field, _) => format!("{}: {message}", flag(field, &message)),
        }
    })
}

/// The flag (or argument) that sets a field of the step, at `path`, of an error saying
/// `message`.
fn step_flag(path: &str, message: &str) -> String {
    let mut parts = path.split(['[', '.']);
    match (parts.next().unwrap_or(""), parts.next()) {
        ("id", _) => "--step-id".to_owned(),
        ("uses", _) => "USES".to_owned(),
        // `with:` as a whole: which object, or parameters its kind does not take.
        ("with", None) if message.starts_with("mapping parameters") => {
            "--mapping-parameter".to_owned()
        }
        ("with", None) => "--id/--name".to_owned(),
        ("with", Some("mapping_parameters")) => "--mapping-parameter".to_owned(),
        ("with", Some(field)) | (field, _) => format!("--{}", field.replace('_', "-")),
    }
}

/// The flag that sets a poll limit.
fn poll_flag(path: &str, _message: &str) -> String {
    format!("--poll-{}", path.replace('_', "-"))
}
