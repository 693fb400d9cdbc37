//! `runwait run FILE`: runs a workflow's steps as a DAG, with live progress, a summary
//! or a JSON document, and the exit code of the convention.
//!
//! Signals: the first Ctrl-C cancels the running remote tasks and waits for them within
//! the grace period; a second Ctrl-C, or SIGTERM, detaches at once, leaving the tasks
//! running and recorded in the state store for a rerun with the same `--run-key`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use runwait_anaplan::{Client, Error as ApiError, StartOptions, TaskTarget};
use runwait_executor::{
    EventSink, FileStore, PollPolicy, RateBudget, RunAndWait, RunKey, StateStore, Step,
    StepContext, StepOutcome, StepResult, TraceHook, WaitConfig,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

use crate::connect::{ConnectError, connect};
use crate::display::{Display, Update};
use crate::exit::Exit;
use crate::inspect::Format;
use crate::report::{Document, Line, StepDoc, StepReport, summary, verdict};
use crate::workflow::model::{Condition, ObjectRef, StepSpec, Workflow};

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
    let exit = Runner {
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

struct Runner<'a> {
    args: &'a Args,
    workflow: &'a Workflow,
    run_key: RunKey,
}

impl Runner<'_> {
    async fn run(self) -> Exit {
        let mut display = Display::new();
        let connected = match connect(&self.workflow.connection).await {
            Ok(c) => c,
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
            display.show(Update::Note(format!(
                "embedded simulator at {}",
                sim.api_url()
            )));
        }
        display.show(Update::Note(format!(
            "run key {} (rerun with --run-key {} to reattach)",
            self.run_key, self.run_key
        )));
        let exit = match self.resolve_targets(&connected.client).await {
            Ok(targets) => {
                self.run_steps(connected.client.clone(), targets, display)
                    .await
            }
            Err((message, exit)) => {
                eprintln!("runwait: {}: {message}", self.workflow.source.display());
                exit
            }
        };
        if let Some(sim) = connected.simulator {
            sim.shutdown().await;
        }
        exit
    }

    /// Each step's target, with names looked up in the model.
    async fn resolve_targets(
        &self,
        client: &Client,
    ) -> Result<HashMap<String, (TaskTarget, Option<String>)>, (String, Exit)> {
        let mut targets = HashMap::new();
        for spec in &self.workflow.steps {
            let (object, name) = match &spec.object {
                ObjectRef::Id(id) => (id.clone(), None),
                ObjectRef::Name(name) => {
                    let id = client
                        .find_object(&spec.workspace, &spec.model, spec.kind, name)
                        .await
                        .map_err(|e| {
                            let exit = if matches!(e, ApiError::Config(_)) {
                                Exit::Usage
                            } else {
                                Exit::Unreachable
                            };
                            (format!("step {}: {e}", spec.id), exit)
                        })?;
                    (id, Some(name.clone()))
                }
            };
            let target = TaskTarget {
                workspace: spec.workspace.clone(),
                model: spec.model.clone(),
                kind: spec.kind,
                object,
            };
            targets.insert(spec.id.clone(), (target, name));
        }
        Ok(targets)
    }

    async fn run_steps(
        &self,
        client: Client,
        targets: HashMap<String, (TaskTarget, Option<String>)>,
        mut display: Display,
    ) -> Exit {
        let abort = CancellationToken::new();
        let detach = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(abort.clone(), detach.clone()));
        let (updates, mut updates_rx) = mpsc::unbounded_channel::<Update>();
        let api: Arc<Client> = Arc::new(client);
        let budget = RateBudget::per_second(self.workflow.rate_per_second);
        let specs: HashMap<&str, &StepSpec> = self
            .workflow
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s))
            .collect();
        let mut reports: HashMap<String, StepReport> = HashMap::new();
        let mut running: JoinSet<(String, StepReport)> = JoinSet::new();
        let mut spawned: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut waiting: Vec<&StepSpec> = self.workflow.steps.iter().collect();

        loop {
            // Start every step whose needs are settled, up to the parallel limit.
            let mut i = 0;
            while i < waiting.len() && running.len() < self.args.max_parallel.max(1) {
                let spec = waiting[i];
                if !spec.needs.iter().all(|n| reports.contains_key(n)) {
                    i += 1;
                    continue;
                }
                waiting.remove(i);
                if let Some(reason) = skip_reason(
                    spec,
                    &reports,
                    &specs,
                    abort.is_cancelled() || detach.is_cancelled(),
                ) {
                    let _ = updates.send(Update::Skipped {
                        step: spec.id.clone(),
                        reason: reason.clone(),
                    });
                    reports.insert(spec.id.clone(), StepReport::Skipped { reason });
                    continue;
                }
                let (target, name) = targets[&spec.id].clone();
                let job = StepJob {
                    spec: spec.clone(),
                    step: self.step(api.clone(), target, name, spec, budget.clone()),
                    ctx: self.ctx(spec, &abort, &detach, updates.clone()),
                    updates: updates.clone(),
                };
                // Spawned tasks do not inherit the span: the step is a child of the workflow.
                let handle = running.spawn(job.run().in_current_span());
                spawned.insert(handle.id(), spec.id.clone());
            }
            while let Ok(update) = updates_rx.try_recv() {
                display.show(update);
            }
            if running.is_empty()
                && waiting
                    .iter()
                    .all(|s| !s.needs.iter().all(|n| reports.contains_key(n)))
            {
                break;
            }
            tokio::select! {
                done = running.join_next_with_id(), if !running.is_empty() => {
                    match done {
                        Some(Ok((_, (id, report)))) => {
                            reports.insert(id, report);
                        }
                        // A step that panicked is an error of that step, never a skip.
                        Some(Err(e)) => {
                            if let Some(id) = spawned.get(&e.id()) {
                                let message = format!("the step crashed: {e}");
                                let _ = updates.send(Update::End { step: id.clone(), line: message.clone() });
                                let result = StepResult::without_task(StepOutcome::Error, message, Default::default());
                                reports.insert(id.clone(), StepReport::Ran { result, attempts: 1 });
                            }
                        }
                        None => {}
                    }
                }
                Some(update) = updates_rx.recv() => display.show(update),
            }
        }
        while let Ok(update) = updates_rx.try_recv() {
            display.show(update);
        }
        signals.abort();
        self.finish(&reports, abort.is_cancelled() || detach.is_cancelled())
    }

    fn step(
        &self,
        api: Arc<Client>,
        target: TaskTarget,
        name: Option<String>,
        spec: &StepSpec,
        budget: RateBudget,
    ) -> RunAndWait {
        let poll = PollPolicy::default()
            .with_min_interval(self.workflow.poll.min_interval)
            .with_max_interval(self.workflow.poll.max_interval);
        let mut step = RunAndWait::new(api, target)
            .start_options(StartOptions {
                locale_name: spec.locale.clone(),
                mapping_parameters: spec.mapping_parameters.clone(),
            })
            .config(
                WaitConfig::default()
                    .with_poll(poll)
                    .with_outcome_policy(spec.policy),
            )
            .budget(budget)
            .trace_hook(Arc::new(OtelHook));
        if let Some(name) = name {
            step = step.object_name(name);
        }
        step
    }

    fn ctx(
        &self,
        spec: &StepSpec,
        abort: &CancellationToken,
        detach: &CancellationToken,
        updates: mpsc::UnboundedSender<Update>,
    ) -> StepContext {
        let state: Arc<dyn StateStore> = Arc::new(FileStore::new(&self.args.state_dir));
        StepContext::builder(spec.id.clone(), self.run_key.clone())
            .workflow(self.workflow.name.clone())
            .cancel(abort.child_token())
            .detach(detach.child_token())
            .state(state)
            .out_dir(self.args.out_dir.clone())
            .events(EventSink::new(move |step, event| {
                let _ = updates.send(Update::Event {
                    step: step.to_owned(),
                    event,
                });
            }))
            .build()
    }

    fn finish(&self, reports: &HashMap<String, StepReport>, aborted: bool) -> Exit {
        let skipped = StepReport::Skipped {
            reason: "never reached".into(),
        };
        let lines: Vec<Line<'_>> = self
            .workflow
            .steps
            .iter()
            .map(|s| Line {
                id: &s.id,
                kind: s.kind,
                continue_on_error: s.continue_on_error,
                report: reports.get(&s.id).unwrap_or(&skipped),
            })
            .collect();
        let outcome = verdict(&lines, aborted);
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

/// Why a step whose needs are settled does not run, if it does not.
fn skip_reason(
    spec: &StepSpec,
    reports: &HashMap<String, StepReport>,
    specs: &HashMap<&str, &StepSpec>,
    aborted: bool,
) -> Option<String> {
    if aborted {
        return Some("the run was interrupted".into());
    }
    let ok = |need: &String| match reports.get(need) {
        Some(StepReport::Ran { result, .. }) => {
            result.outcome.is_success()
                || specs
                    .get(need.as_str())
                    .is_some_and(|s| s.continue_on_error)
        }
        _ => false,
    };
    let failed = |need: &String| matches!(reports.get(need), Some(StepReport::Ran { result, .. }) if !result.outcome.is_success());
    match spec.condition {
        Condition::Always => None,
        Condition::Success if spec.needs.iter().all(ok) => None,
        Condition::Success => Some(format!(
            "`if: success()` and not every step it needs succeeded ({})",
            spec.needs.join(", ")
        )),
        Condition::Failure if spec.needs.iter().any(failed) => None,
        Condition::Failure => Some("`if: failure()` and no step it needs failed".into()),
    }
}

/// One step with its retries.
struct StepJob {
    spec: StepSpec,
    step: RunAndWait,
    ctx: StepContext,
    updates: mpsc::UnboundedSender<Update>,
}

impl StepJob {
    async fn run(self) -> (String, StepReport) {
        let mut attempt = 1;
        loop {
            let _ = self.updates.send(Update::Begin {
                step: self.spec.id.clone(),
                attempt,
            });
            let mut ctx = self.ctx.clone();
            if attempt > 1 {
                // A retry is a new step run: its own record, so it starts a new task.
                ctx = ctx.with_step_id(format!("{}.retry{}", self.spec.id, attempt - 1));
            }
            // An absurd timeout is no deadline rather than an overflow.
            let ctx = ctx.with_deadline(
                self.spec
                    .timeout
                    .and_then(|t| tokio::time::Instant::now().checked_add(t)),
            );
            let result: StepResult = self.step.run(ctx).await;
            let _ = self.updates.send(Update::End {
                step: self.spec.id.clone(),
                line: result.message.clone(),
            });
            let retryable = is_retryable(&result);
            if !retryable
                || attempt > self.spec.retries
                || self.ctx.cancel().is_cancelled()
                || self.ctx.detach().is_cancelled()
            {
                return (
                    self.spec.id.clone(),
                    StepReport::Ran {
                        result,
                        attempts: attempt,
                    },
                );
            }
            attempt += 1;
        }
    }
}

/// A retry starts a new task, so it is only safe when the last one is over: it failed,
/// it timed out and is known cancelled (or completed), or no task was ever started. An
/// `error` while a task exists leaves that task running: a rerun with the same run key
/// reattaches to it instead.
fn is_retryable(result: &StepResult) -> bool {
    let task_over = result.task_state.as_ref().is_some_and(|s| s.is_terminal());
    match result.outcome {
        StepOutcome::Failed => true,
        StepOutcome::TimedOut => task_over,
        StepOutcome::Error => result.task_id.is_none(),
        _ => false,
    }
}

/// First Ctrl-C: cancel; second Ctrl-C or SIGTERM: detach.
async fn watch_signals(abort: CancellationToken, detach: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => {
                    if abort.is_cancelled() {
                        eprintln!("runwait: second interrupt: detaching; the tasks keep running");
                        detach.cancel();
                    } else {
                        eprintln!("runwait: interrupt: cancelling the running tasks (interrupt again to detach)");
                        abort.cancel();
                    }
                }
                _ = term.recv() => {
                    eprintln!("runwait: terminated: detaching; rerun with the same --run-key to reattach");
                    detach.cancel();
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            abort.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            detach.cancel();
        }
    }
}

/// Trace context for reattached waits, through the OpenTelemetry adapter.
struct OtelHook;

impl TraceHook for OtelHook {
    fn traceparent(&self, span: &tracing::Span) -> Option<String> {
        runwait_otel::current_traceparent(span)
    }

    fn link(&self, span: &tracing::Span, traceparent: &str) {
        runwait_otel::link_to(span, traceparent);
    }
}
