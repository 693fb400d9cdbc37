//! `runwait run FILE`: runs a workflow's steps as a DAG, with live progress, a summary
//! or a JSON document, and the exit code of the convention.
//!
//! The DAG itself runs in `runwait-runner`; this file wires it: load, connect, build the
//! nodes, show the events, print the report, pick the exit code.
//!
//! Signals: the first Ctrl-C cancels the running remote tasks and waits for them within
//! the grace period; a second Ctrl-C, or SIGTERM, detaches at once, leaving the tasks
//! running and recorded in the state store for a rerun with the same `--run-key`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runwait_executor::RunKey;
use runwait_runner::{Node, RunEventSink, RunReport, Runner};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

use crate::display::Display;
use crate::exit::Exit;
use crate::inspect::Format;
use crate::report::{Document, Line, StepDoc, summary};
use crate::state::{Opened, StateArgs, parse_lease};
use runwait_workflow::connect::{ConnectError, connect};
use runwait_workflow::model::Workflow;

/// Arguments of `runwait run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow file.
    file: PathBuf,
    /// `text`: live progress and a summary; `json`: one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Where started tasks are recorded, for reattaching after a crash.
    #[command(flatten)]
    state: StateArgs,
    /// With a PostgreSQL store: how long a step run stays locked by a process that
    /// stopped renewing it (killed); it renews every third of it while the step runs.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_lease)]
    state_lease: Duration,
    /// Where failure dumps are written (`<out-dir>/<step>/…`).
    #[arg(long, default_value = ".runwait/out")]
    out_dir: PathBuf,
    /// Steps running at the same time, at most.
    #[arg(long, default_value_t = 4)]
    max_parallel: usize,
    /// The run's key: rerun with the same key to reattach to the tasks it started.
    /// Default: a new key for every run.
    #[arg(long)]
    run_key: Option<String>,
}

/// Runs the command.
pub fn run(args: &Args) -> Exit {
    let workflow = match crate::load_workflow(&args.file) {
        Ok(w) => w,
        Err(exit) => return exit,
    };
    let runtime = match crate::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(run_workflow(args, workflow))
}

async fn run_workflow(args: &Args, workflow: Workflow) -> Exit {
    let telemetry = crate::telemetry::start(&workflow.telemetry);
    let run_key = args.run_key.clone().unwrap_or_else(new_run_key);
    let span = tracing::info_span!(
        "runwait.workflow",
        workflow.name = %workflow.name,
        runwait.run_key = %run_key,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    runwait_otel::set_parent_from_env(&span);
    let exit = Run {
        args,
        workflow: &workflow,
        run_key: RunKey::new(run_key),
    }
    .run()
    .instrument(span.clone())
    .await;
    if exit != Exit::Success {
        span.record("otel.status_code", "ERROR");
        span.record(
            "otel.status_description",
            format!("exit code {}", exit.code()),
        );
    }
    drop(span);
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    exit
}

/// `20261128T120000Z-1234`: unique enough per machine, readable in a listing.
fn new_run_key() -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    format!("{stamp}-{}", std::process::id())
}

/// One `runwait run`.
struct Run<'a> {
    args: &'a Args,
    workflow: &'a Workflow,
    run_key: RunKey,
}

impl Run<'_> {
    async fn run(self) -> Exit {
        let mut display = Display::new();
        // Before anything is started: no step runs without its record.
        let state = match self.args.state.open(self.args.state_lease).await {
            Ok(state) => state,
            Err((exit, message)) => {
                eprintln!("runwait: {message}; no step was started");
                return exit;
            }
        };
        let connected = match connect(&self.workflow.connection).await {
            Ok(c) => {
                crate::print_warnings(&c.warnings);
                c
            }
            Err(e) => {
                eprintln!("runwait: {}: {e}", self.workflow.source.display());
                return match e {
                    ConnectError::MissingEnv(_)
                    | ConnectError::SecretFile { .. }
                    | ConnectError::NoSimUser => Exit::Usage,
                    _ => Exit::Unreachable,
                };
            }
        };
        if let Some(sim) = &connected.simulator {
            display.note(format!("embedded simulator at {}", sim.api_url()));
        }
        display.note(format!(
            "run key {} (rerun with --run-key {} to reattach)",
            self.run_key, self.run_key
        ));
        let tenant = crate::state::tenant(
            &self.workflow.connection,
            connected.client.endpoints().api().as_str(),
        );
        let built = runwait_workflow::nodes_with_budget(
            self.workflow,
            &connected.client,
            Arc::new(crate::telemetry::OtelHook),
            state.budget(self.workflow.rate_per_second, &tenant),
        )
        .await;
        let exit = match built {
            Ok(nodes) => self.run_nodes(nodes, &state, &mut display).await,
            Err(e) => {
                eprintln!("runwait: {}: {e}", self.workflow.source.display());
                // A name that is not in the model is the workflow's fault.
                if e.is_config() {
                    Exit::Usage
                } else {
                    Exit::Unreachable
                }
            }
        };
        if let Some(sim) = connected.simulator {
            sim.shutdown().await;
        }
        exit
    }

    /// Runs the nodes with the signals watched, showing events as they come.
    async fn run_nodes(&self, nodes: Vec<Node>, state: &Opened, display: &mut Display) -> Exit {
        let abort = CancellationToken::new();
        let detach = CancellationToken::new();
        let signals = tokio::spawn(crate::signals::watch(abort.clone(), detach.clone()));
        let (events, mut rx) = RunEventSink::channel();
        let runner = Runner::builder(self.workflow.name.as_str(), self.run_key.clone())
            .max_parallel(self.args.max_parallel)
            .state(state.store.clone())
            .out_dir(&self.args.out_dir)
            .cancel(abort)
            .detach(detach)
            .events(events)
            .build();
        let run = runner.run(nodes);
        tokio::pin!(run);
        let report = loop {
            tokio::select! {
                report = &mut run => break report,
                Some(event) = rx.recv() => display.show(event),
            }
        };
        while let Ok(event) = rx.try_recv() {
            display.show(event);
        }
        signals.abort();
        match report {
            Ok(report) => self.finish(&report),
            // The workflow's checks refuse these first; a report of them is a usage error.
            Err(e) => {
                eprintln!("runwait: {}: {e}", self.workflow.source.display());
                Exit::Usage
            }
        }
    }

    fn finish(&self, report: &RunReport) -> Exit {
        let lines: Vec<Line<'_>> = self
            .workflow
            .steps
            .iter()
            .zip(&report.nodes)
            .map(|(spec, report)| Line {
                kind: spec.kind,
                report,
            })
            .collect();
        let outcome = report.outcome();
        let exit = Exit::of_step(outcome);
        let outcome = outcome.name();
        match self.args.output {
            Format::Json => {
                let doc = Document {
                    workflow: &self.workflow.name,
                    run_key: self.run_key.as_str(),
                    outcome,
                    steps: lines.iter().map(StepDoc::new).collect(),
                };
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
            Format::Text => print!(
                "{}",
                summary(&self.workflow.name, self.run_key.as_str(), outcome, &lines)
            ),
        }
        exit
    }
}
