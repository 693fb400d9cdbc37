//! `runwait run FILE`: runs a workflow's steps as a DAG, with live progress, a summary
//! or a JSON document, and the exit code of the convention.
//!
//! The DAG itself runs in `runwait-runner`; this file wires it: load, connect, build the
//! nodes, show the events, print the report (and write the summary file), pick the exit
//! code. `runwait exec` runs its one-step workflow through here too.
//!
//! Signals: the first Ctrl-C cancels the running remote tasks and waits for them within
//! the grace period; a second Ctrl-C, or SIGTERM, detaches at once, leaving the tasks
//! running and recorded in the state store for a rerun with the same `--run-key`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runwait_anaplan::TaskKind;
use runwait_executor::{RunKey, StepOutcome};
use runwait_runner::{Node, NodeId, RunEventSink, RunReport, Runner};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

use crate::display::Display;
use crate::exit::Exit;
use crate::inspect::Format;
use crate::rate::{RateFlag, parse_rate};
use crate::report::{Document, Line, StepDoc, write_summary};
use crate::state::{StateArgs, parse_lease};
use runwait_postgres::OpenStore;
use runwait_workflow::connect::{ConnectError, connect};
use runwait_workflow::model::Workflow;

/// Arguments of `runwait run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow file.
    file: PathBuf,
    #[command(flatten)]
    options: RunOptions,
    /// Steps running at the same time, at most.
    #[arg(long, default_value_t = 4)]
    max_parallel: usize,
}

/// The options of a run that `runwait run` and `runwait exec` share: output, state,
/// dumps, run key.
#[derive(Debug, clap::Args)]
pub struct RunOptions {
    /// `text`: live progress and a summary; `json`: one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Also write the JSON document (as `--output json` prints it) to this file, whatever
    /// the `--output`: atomically, readable by its owner only.
    #[arg(long, value_name = "PATH")]
    summary_file: Option<PathBuf>,
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
    /// The run's key: rerun with the same key to reattach to the tasks it started.
    /// Default: a new key for every run.
    #[arg(long, env = "RUNWAIT_RUN_KEY")]
    run_key: Option<String>,
    /// The tenant's request budget for this run, over the workflow's
    /// `defaults.rate_per_second`: requests per second (1 or more), or `off` for none
    /// (a 429 is then still honoured per request).
    #[arg(long, value_name = "N|off", value_parser = parse_rate)]
    rate_per_second: Option<RateFlag>,
}

/// Runs the command.
pub fn run(args: &Args) -> Exit {
    match crate::load_workflow(&args.file) {
        Ok(workflow) => run_loaded(&args.options, args.max_parallel, workflow),
        Err(exit) => exit,
    }
}

/// Runs a loaded workflow with `options`, up to `max_parallel` steps at a time: what
/// `runwait run` does after reading its file, and `runwait exec` with its one step.
pub fn run_loaded(options: &RunOptions, max_parallel: usize, workflow: Workflow) -> Exit {
    let runtime = match crate::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(run_workflow(options, max_parallel, workflow))
}

async fn run_workflow(options: &RunOptions, max_parallel: usize, workflow: Workflow) -> Exit {
    let telemetry = crate::telemetry::start(&workflow.telemetry);
    let run_key = options.run_key.clone().unwrap_or_else(new_run_key);
    let span = tracing::info_span!(
        "runwait.workflow",
        workflow.name = %workflow.name,
        runwait.run_key = %run_key,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    runwait_otel::set_parent_from_env(&span);
    let steps = workflow
        .steps
        .iter()
        .map(|spec| StepName {
            id: NodeId::new(spec.id.as_str()),
            kind: spec.kind,
        })
        .collect();
    let exit = Run {
        options,
        max_parallel,
        workflow,
        steps,
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
    options: &'a RunOptions,
    max_parallel: usize,
    /// Its steps' specs are dropped once their nodes are built (see `steps`).
    workflow: Workflow,
    /// What the summary names of each step, in the workflow's order: kept apart from
    /// the specs, which with 10,000 steps weigh megabytes for as long as they wait.
    steps: Vec<StepName>,
    run_key: RunKey,
}

/// A step as the summary names it.
struct StepName {
    /// Once the nodes are built, their own id, shared rather than a copy.
    id: NodeId,
    kind: TaskKind,
}

impl Run<'_> {
    async fn run(mut self) -> Exit {
        let display = Display::new();
        // Before anything is started: no step runs without its record.
        let state = match self
            .options
            .state
            .open(self.options.state_lease, self.workflow.state.as_ref())
            .await
        {
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
        let tenant = (self.workflow.connection).tenant(connected.client.endpoints().api().as_str());
        let built = runwait_workflow::nodes_with_budget(
            &self.workflow,
            &connected.client,
            Arc::new(crate::telemetry::OtelHook),
            crate::rate::budget(
                self.options.rate_per_second,
                self.workflow.rate_per_second,
                &state,
                &tenant,
            ),
        )
        .await;
        let exit = match built {
            Ok(nodes) => {
                // Each node holds what its step needs; the specs are done with, and
                // the names share the nodes' ids (in the same order).
                self.workflow.steps = Vec::new();
                for (name, node) in self.steps.iter_mut().zip(&nodes) {
                    debug_assert_eq!(name.id, node.id);
                    name.id = node.id.clone();
                }
                self.run_nodes(nodes, &state, display).await
            }
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
    async fn run_nodes(&self, nodes: Vec<Node>, state: &OpenStore, display: Display) -> Exit {
        let abort = CancellationToken::new();
        let detach = CancellationToken::new();
        let signals = tokio::spawn(crate::signals::watch(abort.clone(), detach.clone()));
        let (events, rx) = RunEventSink::channel();
        let runner = Runner::builder(self.workflow.name.as_str(), self.run_key.clone())
            .max_parallel(self.max_parallel)
            .state(state.store.clone())
            .out_dir(&self.options.out_dir)
            .cancel(abort)
            .detach(detach)
            .events(events)
            .build();
        let done = CancellationToken::new();
        let mut shown = tokio::spawn(show(display, rx, done.clone()).in_current_span());
        // The display's task ends before the run only by a panic, which stops the
        // process at once, as it did when the display ran here. (Its handle wakes this
        // only then, so the run is not polled again within a turn.) Never aborted: a
        // panic is its only error.
        let report = tokio::select! {
            report = runner.run(nodes) => report,
            Err(e) = &mut shown => std::panic::resume_unwind(e.into_panic()),
        };
        done.cancel();
        if let Err(e) = shown.await {
            std::panic::resume_unwind(e.into_panic());
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
        // The exit code already says the run failed; a summary file that could not be
        // written is reported by `publish`.
        let _ = self.publish(|| Document {
            workflow: &self.workflow.name,
            run_key: self.run_key.as_str(),
            outcome: StepOutcome::Error.name(),
            steps: self
                .steps
                .iter()
                .map(|name| {
                    let message = match step {
                        Some(failed) if failed != name.id.as_str() => {
                            format!("not run: step {failed} failed before any task started")
                        }
                        _ => format!("not run: {error}"),
                    };
                    StepDoc::not_run(name.id.as_str(), name.kind, message)
                })
                .collect(),
        });
        exit
    }

    /// The JSON document: printed with `--output json`, written to `--summary-file`.
    /// `Err` when the summary file could not be written (the message is printed).
    /// Made only when one of them wants it: with 10,000 steps it is megabytes, at the
    /// end of the run, when the process is at its largest.
    fn publish<'d>(&self, doc: impl FnOnce() -> Document<'d>) -> Result<(), ()> {
        if self.options.output != Format::Json && self.options.summary_file.is_none() {
            return Ok(());
        }
        let json = serde_json::to_string_pretty(&doc()).unwrap_or_default();
        if self.options.output == Format::Json {
            println!("{json}");
        }
        match &self.options.summary_file {
            Some(path) => crate::summary_file::write(path, &json).map_err(|e| {
                eprintln!(
                    "runwait: cannot write the summary file {}: {e}",
                    path.display()
                );
            }),
            None => Ok(()),
        }
    }

    fn finish(&self, report: &RunReport) -> Exit {
        let lines: Vec<Line<'_>> = self
            .steps
            .iter()
            .zip(&report.nodes)
            .map(|(name, report)| Line {
                kind: name.kind,
                report,
            })
            .collect();
        let exit = Exit::of_run(report);
        let outcome = report.outcome().name();
        let written = self.publish(|| Document {
            workflow: &self.workflow.name,
            run_key: self.run_key.as_str(),
            outcome,
            steps: lines.iter().map(StepDoc::new).collect(),
        });
        if self.options.output == Format::Text {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let (name, key) = (&self.workflow.name, self.run_key.as_str());
            if let Err(e) =
                write_summary(&mut out, name, key, outcome, &lines).and_then(|()| out.flush())
            {
                eprintln!("runwait: cannot write the summary: {e}");
            }
        }
        // A scheduler that reads the file must not take a run without it for a success.
        match written {
            Err(()) if exit == Exit::Success => Exit::Usage,
            _ => exit,
        }
    }
}

/// Shows the run's events as they come, then the ones left once `done` fires. Its own
/// task, not a branch of a `select!` beside the run: there each event polled the run
/// again within the same turn of the runtime, and the runner's `yield_now`, polled
/// again, returns at once, so its starts went on without letting the timers run.
async fn show(
    mut display: Display,
    mut events: tokio::sync::mpsc::UnboundedReceiver<runwait_runner::RunEvent>,
    done: CancellationToken,
) {
    // Live lines move between events; plain lines have nothing to tick, and no timer.
    let mut ticks = tokio::time::interval(Display::TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = display.is_live();
    loop {
        tokio::select! {
            biased;
            Some(event) = events.recv() => display.show(event),
            () = done.cancelled() => break,
            _ = ticks.tick(), if live => display.tick(),
        }
    }
    while let Ok(event) = events.try_recv() {
        display.show(event);
    }
}
