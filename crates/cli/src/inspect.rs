//! `runwait inspect FILE`: classify a task-status body and print the verdict.

use std::io::Read;
use std::path::PathBuf;

use runwait_core::{
    DumpPolicy, NestedSummary, Outcome, OutcomePolicy, Reason, TaskStatusBody,
    UnsuccessfulWithoutEvidencePolicy, classify,
};
use serde::Serialize;

use crate::exit::Exit;

/// Arguments of `runwait inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The response body to read, or `-` for standard input.
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// What a failure dump on a successful task means: warn, fail or ignore.
    #[arg(long, default_value = "warn")]
    on_dump: DumpPolicy,
    /// What `successful: false` with no failure detail and no dump means: warn or fail.
    #[arg(long, default_value = "fail")]
    on_unsuccessful_without_evidence: UnsuccessfulWithoutEvidencePolicy,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for a human.
    Text,
    /// One JSON object on standard output.
    Json,
}

/// Why `runwait inspect` could not classify its input.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file as given.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than any task-status body.
    #[error("{file}: larger than {} MiB, so not a task-status body (those are a few kilobytes)", MAX_BODY >> 20)]
    TooLarge {
        /// The file as given.
        file: String,
    },
    /// The file is not UTF-8 text.
    #[error("{file}: not UTF-8 text: {source}")]
    NotText {
        /// The file as given.
        file: String,
        /// Where the text stops being UTF-8.
        source: std::str::Utf8Error,
    },
    /// The file is not a task-status body.
    #[error("{file}: {source}")]
    Parse {
        /// The file as given.
        file: String,
        /// Where and why parsing failed.
        source: runwait_core::ParseError,
    },
}

/// The JSON document of `--output json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    outcome: &'static str,
    terminal: bool,
    task_id: &'a str,
    task_state: &'a str,
    successful: Option<bool>,
    progress: Option<f64>,
    current_step: Option<&'a str>,
    cancelled_by: Option<&'a str>,
    reasons: &'a [Reason],
    warnings: &'a [Reason],
    nested: Vec<NestedSummary>,
}

/// Runs the command and returns the exit code of the classification.
pub fn run(args: &Args) -> Result<Exit, InspectError> {
    let (name, text) = read_input(&args.file)?;
    let body = TaskStatusBody::parse(&text)
        .map_err(|source| InspectError::Parse { file: name, source })?;
    let policy = OutcomePolicy {
        on_dump: args.on_dump,
        on_unsuccessful_without_evidence: args.on_unsuccessful_without_evidence,
    };
    let task = &body.task;
    let outcome = classify(task, &policy);
    let (reasons, warnings): (&[Reason], &[Reason]) = match &outcome {
        Outcome::Failed { reasons } => (reasons, &[]),
        Outcome::SucceededWithWarnings { warnings } => (&[], warnings),
        _ => (&[], &[]),
    };
    let report = Report {
        outcome: outcome.name(),
        terminal: outcome.is_terminal(),
        task_id: task.task_id.as_str(),
        task_state: task.task_state.as_str(),
        successful: task.result.as_ref().map(|r| r.successful),
        progress: task.progress,
        current_step: task.current_step.as_deref(),
        cancelled_by: match &outcome {
            Outcome::Cancelled { cancelled_by } => cancelled_by.as_deref(),
            _ => None,
        },
        reasons,
        warnings,
        nested: NestedSummary::of_task(task),
    };
    match args.output {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Text => print!("{}", render_text(&report)),
    }
    Ok(Exit::of_outcome(&outcome))
}

/// The largest body `inspect` reads. A task-status body is a few kilobytes, a process
/// with many actions some hundreds; parsing takes several times a body's size in
/// memory, so a huge input is refused before it is read whole.
const MAX_BODY: u64 = 8 << 20;

/// Reads the file or standard input, at most [`MAX_BODY`] bytes, without a UTF-8
/// byte-order mark (editors on Windows write one).
fn read_input(file: &std::path::Path) -> Result<(String, String), InspectError> {
    let stdin = file.as_os_str() == "-";
    let name = if stdin {
        "<stdin>".to_owned()
    } else {
        file.display().to_string()
    };
    let read_error = |source| InspectError::Read {
        file: name.clone(),
        source,
    };
    let input: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file).map_err(read_error)?)
    };
    let mut bytes = Vec::new();
    input
        .take(MAX_BODY + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_BODY {
        return Err(InspectError::TooLarge { file: name });
    }
    let text = String::from_utf8(bytes).map_err(|e| InspectError::NotText {
        file: name.clone(),
        source: e.utf8_error(),
    })?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok((name, text))
}

fn render_text(r: &Report<'_>) -> String {
    let mut out = format!("{}: task {} is {}", r.outcome, r.task_id, r.task_state);
    if let Some(successful) = r.successful {
        out.push_str(&format!(", successful: {successful}"));
    }
    if let Some(p) = r.progress {
        out.push_str(&format!(", progress {:.0}%", p * 100.0));
    }
    if let Some(by) = r.cancelled_by {
        out.push_str(&format!(", cancelled by {by}"));
    }
    out.push('\n');
    for reason in r.reasons {
        out.push_str(&format!("  reason:  {reason}\n"));
    }
    for warning in r.warnings {
        out.push_str(&format!("  warning: {warning}\n"));
    }
    for n in &r.nested {
        let id = n.object_id.as_ref().map_or("?", |id| id.as_str());
        let name = n
            .object_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let status = if n.successful { "ok" } else { "not successful" };
        let dump = if n.failure_dump_available {
            ", dump available"
        } else {
            ""
        };
        let counts: Vec<String> = n
            .counts
            .entries()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let counts = if counts.is_empty() {
            String::new()
        } else {
            format!(", {}", counts.join(" "))
        };
        out.push_str(&format!("  action:  {id}{name}: {status}{dump}{counts}\n"));
    }
    out
}
