//! Finish: download the failure dumps of the finished task (before Anaplan deletes them),
//! then build the step's result and its one-line message. A detach, an abort or a
//! deadline still ahead stops the downloads at once: the task's outcome stands, and
//! the dumps not downloaded are said so.

use runwait_core::target::TaskKind;
use runwait_core::{NestedSummary, Outcome, Task, TaskId};
use tracing::Instrument;
use tracing::field::Empty;

use super::Run;
use super::phase::{Stop, Then};
use super::race::Stops;
use super::spans::int;
use crate::atomic::temp_path;
use crate::dumps;
use crate::events::StepEvent;
use crate::step::{DumpFile, StepOutcome, StepResult};

/// Downloads of a dump shorter than its task's counts before it is kept as incomplete.
const DUMP_DOWNLOADS: u32 = 3;

impl Run<'_> {
    /// Downloads the dumps of the finished task in `last`, then builds its result.
    pub(super) async fn finish(
        &mut self,
        task: &TaskId,
        outcome: Outcome,
        then: Then,
    ) -> StepResult {
        let (nested, mut message) = match &self.last {
            Some(seen) => (NestedSummary::of_task(seen), describe(&outcome, seen)),
            None => (Vec::new(), outcome.name().to_owned()),
        };
        let (dumps, stopped) = self.download_dumps(task, &nested).await;
        if let Then::Note(note) = &then {
            message = format!("{message} ({note})");
        }
        if let Some(stop) = stopped {
            let by = match stop {
                Stop::Detach => "a detach",
                Stop::Abort => "an abort",
                Stop::Deadline => "the step's deadline",
            };
            message.push_str(&format!("; dump downloads stopped by {by}"));
        }
        let failed: Vec<String> = dumps
            .iter()
            .filter(|d| d.failed())
            .map(|d| d.object_id.to_string())
            .collect();
        if !failed.is_empty() {
            message.push_str(&format!(
                "; dump could not be downloaded for {}",
                failed.join(", ")
            ));
        }
        let gone: Vec<String> = dumps
            .iter()
            .filter(|d| d.gone)
            .map(|d| d.object_id.to_string())
            .collect();
        if !gone.is_empty() {
            message.push_str(&format!("; dump gone (404) for {}", gone.join(", ")));
        }
        for dump in &dumps {
            if let (Some(why), Some(path)) = (&dump.incomplete, &dump.path) {
                message.push_str(&format!(
                    "; dump INCOMPLETE for {} after {DUMP_DOWNLOADS} downloads ({why}), kept as {}",
                    dump.object_id,
                    path.display()
                ));
            }
        }
        let mut result = self.result(StepOutcome::of(&outcome), message);
        result.nested = nested;
        result.reasons = outcome.reasons().to_vec();
        result.dumps = dumps;
        if let Then::TimedOut {
            after,
            successful,
            note,
        } = then
        {
            result.message = format!(
                "timed out after {after:?}; the task completed after the cancel request \
                 (could not roll back), successful: {successful}: {}{note}",
                result.message
            );
            result.outcome = StepOutcome::TimedOut;
        }
        result
    }

    /// The dumps, and the stop that cut their downloads short, if any.
    async fn download_dumps(
        &mut self,
        task: &TaskId,
        actions: &[NestedSummary],
    ) -> (Vec<DumpFile>, Option<Stop>) {
        let dir = self.ctx.out_dir().join(self.ctx.step_id());
        // The task is over: a deadline already passed (a timed-out task that completed
        // after its cancel) does not stop its dumps; the client's retries bound them.
        let stops = Stops {
            abort: true,
            until: self.ctx.deadline().filter(|d| *d > self.now()),
        };
        let needs_names = self.target().kind == TaskKind::Process
            && actions
                .iter()
                .any(|a| a.failure_dump_available && a.object_name.is_none());
        let mut stopped = None;
        let names = if needs_names {
            let asked = || self.api().process_actions(self.target());
            match self.request(stops, asked).await {
                Ok(names) => names.unwrap_or_default(),
                Err(stop) => {
                    stopped = Some(stop);
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let mut files = Vec::new();
        for job in dumps::jobs(self.target(), actions, &dir, &names) {
            if stopped.is_some() {
                files.push(DumpFile::missing(job.object_id.clone(), false));
                continue;
            }
            // Many large dumps can outlast a lease. The task is over, so a lost lease
            // (logged, and no history entry) does not stop the downloads: a run that took
            // over can only reattach to the finished task.
            let _still_held = self.keep_lease(false, Stops::DETACH).await.is_ok();
            let span = tracing::info_span!(
                "anaplan.dump.download",
                anaplan.object.id = job.object_id.as_str(),
                runwait.dump.bytes = Empty,
                runwait.dump.gone = Empty,
            );
            // The task API retries within the call (the client fetches a cut-off chunk
            // again), so one failed download is final; a dump shorter than the task's
            // counts is downloaded again, up to DUMP_DOWNLOADS times in all.
            let mut download = 1;
            let file = loop {
                let last = download == DUMP_DOWNLOADS;
                let fetched = || {
                    dumps::fetch(self.api(), self.target(), task, &job, last)
                        .instrument(span.clone())
                };
                match self.request(stops, fetched).await {
                    Ok(Ok(dumps::Fetched::Done(file))) => break file,
                    Ok(Ok(dumps::Fetched::Short(why))) => {
                        span.in_scope(|| {
                            tracing::warn!(download, missing = %why, "dump shorter than the task's counts; downloading it again")
                        });
                        download += 1;
                    }
                    Ok(Err(e)) => {
                        span.in_scope(|| tracing::error!(error = %e, "dump download failed"));
                        break DumpFile::missing(job.object_id.clone(), false);
                    }
                    Err(stop) => {
                        // The download was dropped half-way: no temporary file is left.
                        let _ = tokio::fs::remove_file(temp_path(&job.path)).await;
                        span.in_scope(|| tracing::warn!(?stop, "dump download stopped"));
                        stopped = Some(stop);
                        break DumpFile::missing(job.object_id.clone(), false);
                    }
                }
            };
            if let Some(why) = &file.incomplete {
                span.in_scope(|| tracing::error!(missing = %why, "dump incomplete"));
            }
            span.record("runwait.dump.bytes", int(file.bytes));
            span.record("runwait.dump.gone", file.gone);
            self.emit(StepEvent::Dump(file.clone()));
            files.push(file);
        }
        (files, stopped)
    }
}

/// One line about a finished task: the outcome and its first reason.
fn describe(outcome: &Outcome, task: &Task) -> String {
    let reasons = outcome.reasons();
    match (outcome, reasons.first()) {
        (
            Outcome::Cancelled {
                cancelled_by: Some(by),
            },
            _,
        ) => format!("cancelled in Anaplan by {by}"),
        (Outcome::Cancelled { cancelled_by: None }, _) => "cancelled in Anaplan".to_owned(),
        (_, Some(first)) if reasons.len() > 1 => {
            format!("{}: {first} (+{} more)", outcome.name(), reasons.len() - 1)
        }
        (_, Some(first)) => format!("{}: {first}", outcome.name()),
        (_, None) => format!(
            "{}: task {} {}",
            outcome.name(),
            task.task_id,
            task.task_state
        ),
    }
}
