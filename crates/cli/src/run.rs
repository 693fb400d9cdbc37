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
use std::time::SystemTime;

use runwait_executor::{FileStore, RunKey, StepOutcome};
use runwait_runner::{Node, RunEventSink, RunReport, Runner};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

use crate::display::Display;
use crate::exit::Exit;
use crate::inspect::Format;
use crate::report::{Document, Line, StepDoc, summary};
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
    #[arg(long, default_value = ".runwait/state")]
    state_dir: PathBuf,
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

/// The one JSON document of `--output json`.
fn print_json(doc: &Document<'_>) {
    println!("{}", serde_json::to_string_pretty(doc).unwrap_or_default());
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
        let connected = match connect(&self.workflow.connection).await {
            Ok(c) => {
                crate::print_warnings(&c.warnings);
                c
            }
            Err(e) => {
                let exit = match e {
                    ConnectError::MissingEnv(_)
                    | ConnectError::SecretFile { .. }
                    | ConnectError::NoSimUser => Exit::Usage,
                    _ => Exit::Unreachable,
                };
                return self.failed_before_run(None, &e.to_string(), exit);
            }
        };
        if let Some(sim) = &connected.simulator {
            display.note(format!("embedded simulator at {}", sim.api_url()));
        }
        display.note(format!(
            "run key {} (rerun with --run-key {} to reattach)",
            self.run_key, self.run_key
        ));
        let built = runwait_workflow::nodes(
            self.workflow,
            &connected.client,
            Arc::new(crate::telemetry::OtelHook),
        )
        .await;
        let exit = match built {
            Ok(nodes) => self.run_nodes(nodes, &mut display).await,
            Err(e) => {
                // A name that is not in the model is the workflow's fault.
                let exit = if e.is_config() {
                    Exit::Usage
                } else {
                    Exit::Unreachable
                };
                self.failed_before_run(Some(&e.step), &e.to_string(), exit)
            }
        };
        if let Some(sim) = connected.simulator {
            sim.shutdown().await;
        }
        exit
    }

    /// Runs the nodes with the signals watched, showing events as they come.
    async fn run_nodes(&self, nodes: Vec<Node>, display: &mut Display) -> Exit {
        let abort = CancellationToken::new();
        let detach = CancellationToken::new();
        let signals = tokio::spawn(crate::signals::watch(abort.clone(), detach.clone()));
        let (events, mut rx) = RunEventSink::channel();
        let runner = Runner::builder(self.workflow.name.as_str(), self.run_key.clone())
            .max_parallel(self.args.max_parallel)
            .state(Arc::new(FileStore::new(&self.args.state_dir)))
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
            Err(e) => self.failed_before_run(None, &e.to_string(), Exit::Usage),
        }
    }

    /// The run failed before its steps (connecting, or `step`'s lookup by name): the
    /// error on stderr, and with `--output json` still the one document, every step an
    /// `error` that names why.
    fn failed_before_run(&self, step: Option<&str>, error: &str, exit: Exit) -> Exit {
        eprintln!("runwait: {}: {error}", self.workflow.source.display());
        if self.args.output == Format::Json {
            let steps = self
                .workflow
                .steps
                .iter()
                .map(|spec| {
                    let message = match step {
                        Some(failed) if failed != spec.id => {
                            format!("not run: step {failed} failed before any task started")
                        }
                        _ => format!("not run: {error}"),
                    };
                    StepDoc::not_run(&spec.id, spec.kind, message)
                })
                .collect();
            print_json(&Document {
                workflow: &self.workflow.name,
                run_key: self.run_key.as_str(),
                outcome: StepOutcome::Error.name(),
                steps,
            });
        }
        exit
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
                print_json(&doc);
            }
            Format::Text => print!(
                "{}",
                summary(&self.workflow.name, self.run_key.as_str(), outcome, &lines)
            ),
        }
        exit
    }
}
