//! The simulated tenant's mutable state: tasks, tokens, dump ownership, faults and the
//! journal. Task states are not stored but derived from scenario time, so a task
//! advances exactly with the clock and needs no background work.

use std::collections::HashMap;
use std::time::Duration;

use runwait_core::token::{TokenInfo, TokenValue};
use runwait_core::{Detail, DetailType, ModelId, ObjectId, Task, TaskId, TaskResult, TaskState};
use serde::Serialize;

use crate::clock::Clock;
use crate::fault::FaultBook;
use crate::journal::JournalEntry;
use crate::scenario::{
    Curve, DetailSpec, JobKind, JobSpec, ModelSpec, Outcome, Runnable, Scenario, saturating_sum,
};

/// One started task.
#[derive(Debug, Clone)]
pub(crate) struct TaskRec {
    pub(crate) id: TaskId,
    pub(crate) model: ModelId,
    pub(crate) kind: JobKind,
    pub(crate) object: ObjectId,
    pub(crate) user: String,
    pub(crate) created: Duration,
    pub(crate) cancel_at: Option<Duration>,
}

/// Where a task is at some scenario time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    Queued,
    Running { progress: f64 },
    Cancelling { progress: f64 },
    Cancelled,
    Complete { start: Duration },
}

impl Phase {
    pub(crate) fn task_state(self) -> TaskState {
        match self {
            Phase::Queued => TaskState::NotStarted,
            Phase::Running { .. } => TaskState::InProgress,
            Phase::Cancelling { .. } => TaskState::Cancelling,
            Phase::Cancelled => TaskState::Cancelled,
            Phase::Complete { .. } => TaskState::Complete,
        }
    }
}

/// A task as the state API reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnapshot {
    /// The task id.
    pub task_id: TaskId,
    /// The model it runs on.
    pub model_id: ModelId,
    /// The import, export, action or process it runs.
    pub object_id: ObjectId,
    /// The user who started it.
    pub user: String,
    /// Its state now.
    pub task_state: TaskState,
    /// Its progress now.
    pub progress: f64,
}

#[derive(Debug)]
struct TokenRec {
    user: String,
    token_id: String,
    refresh_token_id: String,
    expires: Duration,
    revoked: bool,
}

/// Why a dump cannot be served (all answer 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpGone {
    NotFinished,
    NoDump,
    OtherUser,
    Replaced,
}

#[derive(Debug, Default)]
pub(crate) struct World {
    tasks: Vec<TaskRec>,
    tokens: HashMap<String, TokenRec>,
    /// The refresh token each OAuth client may use next, once it has rotated.
    refresh_tokens: HashMap<String, String>,
    /// The newest run of each import by each user: only its dump is kept.
    dump_owner: HashMap<(String, ObjectId), TaskId>,
    pub(crate) faults: FaultBook,
    pub(crate) journal: Vec<JournalEntry>,
    counter: u64,
}

/// What a task runs: its run time, progress curve and whether it can roll back.
struct RunSpec {
    run: Duration,
    curve: Curve,
    cancellable: bool,
}

fn run_spec(model: &ModelSpec, kind: JobKind, object: &ObjectId) -> Option<RunSpec> {
    Some(match model.runnable(kind, object)? {
        Runnable::Process(p) => RunSpec {
            run: model.process_duration(p),
            curve: p.progress,
            cancellable: p.cancellable,
        },
        Runnable::Job(j) => RunSpec {
            run: j.duration,
            curve: j.progress,
            cancellable: j.cancellable,
        },
    })
}

fn fraction(elapsed: Duration, run: Duration) -> f64 {
    if run.is_zero() {
        1.0
    } else {
        elapsed.as_secs_f64() / run.as_secs_f64()
    }
}

/// splitmix64: spreads a counter into id-looking bits, deterministically.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl World {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A fresh 32-digit uppercase hex id.
    fn hex_id(&mut self) -> String {
        let n = self.next();
        format!("{:016X}{:016X}", mix(n), mix(!n))
    }

    /// A fresh id in UUID form, as Anaplan's token ids look.
    fn uuid(&mut self) -> String {
        let h = self.hex_id().to_ascii_lowercase();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    // ---- tasks -------------------------------------------------------------------

    /// Creates a task; it queues behind any task holding the model.
    pub(crate) fn start_task(
        &mut self,
        model: &ModelSpec,
        kind: JobKind,
        object: &ObjectId,
        user: &str,
        now: Duration,
    ) -> TaskRec {
        let id = TaskId::new(self.hex_id());
        // A new run by the same user replaces that user's older dumps of the same imports.
        let imports: Vec<ObjectId> = match kind {
            JobKind::Import => vec![object.clone()],
            JobKind::Process => model
                .process(object)
                .map(|p| {
                    p.actions
                        .iter()
                        .filter(|a| matches!(model.job(a), Some((JobKind::Import, _))))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            JobKind::Export | JobKind::Action => Vec::new(),
        };
        for import in imports {
            self.dump_owner
                .insert((user.to_owned(), import), id.clone());
        }
        let rec = TaskRec {
            id,
            model: model.id.clone(),
            kind,
            object: object.clone(),
            user: user.to_owned(),
            created: now,
            cancel_at: None,
        };
        self.tasks.push(rec.clone());
        rec
    }

    /// Every task of a model with its phase at `now`, in creation order. One task holds
    /// the model at a time; the others wait in NOT_STARTED. A task's phase depends only
    /// on the tasks before it, so the walk is lazy: a caller after one task stops there.
    fn model_phases<'w>(
        &'w self,
        model: &ModelSpec,
        cancel_duration: Duration,
        now: Duration,
    ) -> impl Iterator<Item = (&'w TaskRec, Phase)> {
        // When the task before frees the model.
        let mut free_at = Duration::ZERO;
        self.tasks
            .iter()
            .filter(move |t| t.model == model.id)
            .filter_map(move |t| {
                let spec = run_spec(model, t.kind, &t.object)?;
                let start = t.created.max(free_at);
                let progress_at =
                    |at: Duration| spec.curve.at(fraction(at.saturating_sub(start), spec.run));
                let phase = match t.cancel_at {
                    // Cancelled while queued: it never held the model.
                    Some(c) if c < start => Phase::Cancelled,
                    Some(c) if spec.cancellable && c < start.saturating_add(spec.run) => {
                        let done = c.saturating_add(cancel_duration);
                        free_at = done;
                        if now < c {
                            Phase::Running {
                                progress: progress_at(now),
                            }
                        } else if now < done {
                            Phase::Cancelling {
                                progress: progress_at(c),
                            }
                        } else {
                            Phase::Cancelled
                        }
                    }
                    _ => {
                        let end = start.saturating_add(spec.run);
                        free_at = end;
                        if now < start {
                            Phase::Queued
                        } else if now < end {
                            Phase::Running {
                                progress: progress_at(now),
                            }
                        } else {
                            Phase::Complete { start }
                        }
                    }
                };
                Some((t, phase))
            })
    }

    pub(crate) fn find(&self, id: &TaskId) -> Option<&TaskRec> {
        self.tasks.iter().find(|t| &t.id == id)
    }

    /// A task of the model with its phase at `now`.
    pub(crate) fn task(
        &self,
        scn: &Scenario,
        model: &ModelSpec,
        id: &TaskId,
        now: Duration,
    ) -> Option<(&TaskRec, Phase)> {
        self.model_phases(model, scn.cancel_duration, now)
            .find(|(t, _)| &t.id == id)
    }

    /// Tasks of one object, oldest first, with their states.
    pub(crate) fn object_tasks(
        &self,
        scn: &Scenario,
        model: &ModelSpec,
        object: &ObjectId,
        now: Duration,
    ) -> Vec<(&TaskRec, Phase)> {
        self.model_phases(model, scn.cancel_duration, now)
            .filter(|(t, _)| &t.object == object)
            .collect()
    }

    /// The task holding the model's lock now, with its progress.
    pub(crate) fn running(
        &self,
        scn: &Scenario,
        model: &ModelSpec,
        now: Duration,
    ) -> Option<(TaskRec, f64)> {
        self.model_phases(model, scn.cancel_duration, now)
            .find_map(|(t, p)| match p {
                Phase::Running { progress } | Phase::Cancelling { progress } => {
                    Some((t.clone(), progress))
                }
                _ => None,
            })
    }

    /// Asks a task to cancel and returns its phase after that. A task that cannot roll
    /// back keeps running.
    pub(crate) fn cancel(
        &mut self,
        scn: &Scenario,
        model: &ModelSpec,
        id: &TaskId,
        now: Duration,
    ) -> Option<Phase> {
        let (t, phase) = self.task(scn, model, id, now)?;
        if !matches!(phase, Phase::Queued | Phase::Running { .. }) || t.cancel_at.is_some() {
            return Some(phase);
        }
        let t = self.tasks.iter_mut().find(|t| &t.id == id)?;
        t.cancel_at = Some(now);
        // Only a change needs the walk again.
        self.task(scn, model, id, now).map(|(_, p)| p)
    }

    pub(crate) fn snapshots(&self, scn: &Scenario, now: Duration) -> Vec<TaskSnapshot> {
        let mut out = Vec::new();
        for m in scn.workspaces.iter().flat_map(|w| &w.models) {
            for (t, phase) in self.model_phases(m, scn.cancel_duration, now) {
                let progress = match phase {
                    Phase::Queued | Phase::Cancelled => 0.0,
                    Phase::Running { progress } | Phase::Cancelling { progress } => progress,
                    Phase::Complete { .. } => end_progress(
                        result(m, t.kind, &t.object, None).is_some_and(|r| r.successful),
                    ),
                };
                out.push(TaskSnapshot {
                    task_id: t.id.clone(),
                    model_id: t.model.clone(),
                    object_id: t.object.clone(),
                    user: t.user.clone(),
                    task_state: phase.task_state(),
                    progress,
                });
            }
        }
        out
    }

    /// Whether `user` may read the dump of `object` from `task`, in `phase` now.
    pub(crate) fn dump_available(
        &self,
        model: &ModelSpec,
        task: &TaskRec,
        phase: Phase,
        object: &ObjectId,
        user: &str,
    ) -> Result<(), DumpGone> {
        if !matches!(phase, Phase::Complete { .. }) {
            return Err(DumpGone::NotFinished);
        }
        // The spec decides, as it decides the result's `failureDumpAvailable`.
        let runs_it = match task.kind {
            JobKind::Process => model
                .process(&task.object)
                .is_some_and(|p| p.actions.contains(object)),
            _ => &task.object == object,
        };
        let rows = model.job(object).map_or(0, |(kind, j)| dump_rows(kind, j));
        if !runs_it || rows == 0 {
            return Err(DumpGone::NoDump);
        }
        if task.user != user {
            return Err(DumpGone::OtherUser);
        }
        match self.dump_owner.get(&(user.to_owned(), object.clone())) {
            Some(owner) if owner == &task.id => Ok(()),
            _ => Err(DumpGone::Replaced),
        }
    }

    // ---- tokens ------------------------------------------------------------------

    pub(crate) fn issue_token(&mut self, user: &str, clock: &Clock, ttl: Duration) -> TokenInfo {
        let value = self.random_token();
        let expires = clock.now().saturating_add(ttl);
        let rec = TokenRec {
            user: user.to_owned(),
            token_id: self.uuid(),
            refresh_token_id: self.uuid(),
            expires,
            revoked: false,
        };
        let info = token_info(&value, &rec, clock);
        self.tokens.insert(value, rec);
        info
    }

    /// The user of a live token.
    pub(crate) fn token_user(&self, value: &str, now: Duration) -> Option<&str> {
        self.tokens
            .get(value)
            .filter(|t| !t.revoked && now < t.expires)
            .map(|t| t.user.as_str())
    }

    /// `tokenInfo` of a live token.
    pub(crate) fn token_info(&self, value: &str, clock: &Clock) -> Option<TokenInfo> {
        self.token_user(value, clock.now())?;
        self.tokens
            .get(value)
            .map(|rec| token_info(value, rec, clock))
    }

    pub(crate) fn revoke(&mut self, value: &str) {
        if let Some(t) = self.tokens.get_mut(value) {
            t.revoked = true;
        }
    }

    /// Trades an OAuth client's current refresh token for an access token and the next
    /// refresh token; `None` for an unknown client or a retired refresh token.
    pub(crate) fn oauth_grant(
        &mut self,
        scenario: &crate::Scenario,
        client_id: &str,
        refresh_token: &str,
        clock: &Clock,
    ) -> Option<(TokenInfo, String)> {
        let client = scenario
            .oauth_clients
            .iter()
            .find(|c| c.client_id == client_id)?;
        let current = self
            .refresh_tokens
            .get(client_id)
            .unwrap_or(&client.refresh_token);
        if current != refresh_token {
            return None;
        }
        let next = self.random_token();
        self.refresh_tokens
            .insert(client_id.to_owned(), next.clone());
        let info = self.issue_token(&client.user, clock, scenario.token_ttl);
        Some((info, next))
    }

    pub(crate) fn revoke_all(&mut self) {
        self.tokens.values_mut().for_each(|t| t.revoked = true);
    }

    /// Token values must not be guessable from ids, so they come from the system RNG.
    fn random_token(&mut self) -> String {
        use aws_lc_rs::rand::SecureRandom;
        let mut bytes = [0u8; 24];
        if aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut bytes)
            .is_err()
        {
            // The system RNG does not fail on supported platforms; a loopback simulator
            // falls back to unique, if guessable, values rather than refuse to log in.
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&mix(self.next()).to_be_bytes());
            }
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn token_info(value: &str, rec: &TokenRec, clock: &Clock) -> TokenInfo {
    TokenInfo {
        token_value: TokenValue::new(value),
        token_id: rec.token_id.clone(),
        expires_at: clock.wall(rec.expires),
        refresh_token_id: Some(rec.refresh_token_id.clone()),
    }
}

// ---- task bodies -------------------------------------------------------------------

const ROWS: u64 = 100;

fn detail(t: &str, message: Option<String>, values: &[(&str, Option<String>)]) -> Detail {
    Detail {
        detail_type: DetailType::new(t),
        local_message_text: message,
        occurrences: Some(0),
        values: values
            .iter()
            .flat_map(|(k, v)| [Some((*k).to_owned()), v.clone()])
            .collect(),
    }
}

fn from_specs(specs: &[DetailSpec]) -> Vec<Detail> {
    specs
        .iter()
        .map(|d| Detail {
            detail_type: DetailType::new(d.detail_type.clone()),
            local_message_text: d.message.clone(),
            occurrences: Some(d.occurrences),
            values: d.values.clone(),
        })
        .collect()
}

/// Rows in the job's dump (imports only).
pub(crate) fn dump_rows(kind: JobKind, j: &JobSpec) -> u64 {
    match (kind, j.outcome) {
        (JobKind::Import, Outcome::Warnings) => j.dump_rows.unwrap_or(3),
        (JobKind::Import, Outcome::Failure) => j.dump_rows.unwrap_or(0),
        _ => 0,
    }
}

fn generated_details(kind: JobKind, j: &JobSpec, dump: u64) -> Vec<Detail> {
    let n = |v: u64| Some(v.to_string());
    let counts = |ok: u64, warn: u64, failed: u64| {
        vec![
            ("successRowCount", n(ok)),
            ("warningsRowCount", n(warn)),
            ("failedCount", n(failed)),
            ("ignoredCount", n(0)),
            ("totalRowCount", n(ROWS)),
        ]
    };
    match (kind, j.outcome) {
        (_, Outcome::UnsuccessfulWithoutEvidence) => Vec::new(),
        (JobKind::Import, Outcome::Success) => vec![detail(
            "hierarchyRowsProcessed",
            Some(format!(
                "{}: {ROWS} ({ROWS}/{ROWS}) rows successful, 0 ignored",
                j.name
            )),
            &counts(ROWS, 0, 0),
        )],
        (JobKind::Import, Outcome::Warnings) => vec![detail(
            "hierarchyRowsProcessed",
            Some(format!(
                "{}: {ROWS} rows successful, {dump} with warnings",
                j.name
            )),
            &counts(ROWS, dump, 0),
        )],
        (JobKind::Import, Outcome::Failure) if dump > 0 => vec![detail(
            "hierarchyRowsProcessedWithFailures",
            Some(format!(
                "{}: {} rows successful, {dump} failed",
                j.name,
                ROWS - dump.min(ROWS)
            )),
            &counts(ROWS - dump.min(ROWS), 0, dump),
        )],
        (JobKind::Import, Outcome::Failure) => {
            let msg = format!("Import `{}` failed", j.name);
            vec![detail(
                "importFailedGeneralError",
                Some(msg.clone()),
                &[("errorMessage", Some(msg))],
            )]
        }
        (JobKind::Export, Outcome::Success | Outcome::Warnings) => vec![detail(
            "exportSucceeded",
            None,
            &[
                ("fileSize", n(2048)),
                ("serverAlert", None),
                ("exportName", None),
            ],
        )],
        (_, Outcome::Success | Outcome::Warnings) => Vec::new(),
        (_, Outcome::Failure) => vec![detail(
            "actionFailed",
            Some(format!("`{}` failed", j.name)),
            &[],
        )],
    }
}

fn job_result(kind: JobKind, j: &JobSpec) -> TaskResult {
    let dump = dump_rows(kind, j);
    TaskResult {
        successful: matches!(j.outcome, Outcome::Success | Outcome::Warnings),
        failure_dump_available: dump > 0,
        object_id: Some(j.id.clone()),
        object_name: None,
        details: match &j.details {
            Some(specs) => from_specs(specs),
            None => generated_details(kind, j, dump),
        },
        nested_results: Vec::new(),
        duration: None,
        start_time: None,
        cancelled_by: None,
    }
}

/// The result of a completed task; `details_at` adds `duration`/`startTime` from the
/// task's start (processes with `includeProcessDetails=true`).
fn result(
    model: &ModelSpec,
    kind: JobKind,
    object: &ObjectId,
    details_at: Option<(Duration, &Clock)>,
) -> Option<TaskResult> {
    if kind != JobKind::Process {
        return model.job(object).map(|(k, j)| job_result(k, j));
    }
    let p = model.process(object)?;
    let jobs: Vec<(JobKind, &JobSpec)> = p.actions.iter().filter_map(|a| model.job(a)).collect();
    let total_run = model.process_duration(p);
    let sum = saturating_sum(jobs.iter().map(|(_, j)| j.duration));
    let mut nested = Vec::new();
    let mut failed: Option<Detail> = None;
    let mut offset = Duration::ZERO;
    let mut any_failed = false;
    for (k, j) in jobs {
        let mut r = job_result(k, j);
        // After a failed action the later ones report unsuccessful (the brief's example).
        if any_failed {
            r.successful = false;
        }
        if !r.successful && !any_failed {
            any_failed = true;
            failed = r.details.first().cloned();
        }
        // Nested run times share the process's run time in proportion to their own.
        let share = if sum.is_zero() {
            Duration::ZERO
        } else {
            total_run.mul_f64(j.duration.as_secs_f64() / sum.as_secs_f64())
        };
        if let Some((start, clock)) = details_at {
            r.start_time = Some(clock.wall(start.saturating_add(offset)));
            r.duration = Some(share);
        }
        offset = offset.saturating_add(share);
        nested.push(r);
    }
    let (successful, details) = match p.outcome {
        None => (
            !any_failed,
            failed
                .map(|d| vec![detail("internalError", Some(d.message()), &[])])
                .unwrap_or_default(),
        ),
        Some(Outcome::Success | Outcome::Warnings) => (true, Vec::new()),
        Some(Outcome::UnsuccessfulWithoutEvidence) => (false, Vec::new()),
        Some(Outcome::Failure) => (
            false,
            vec![detail(
                "internalError",
                Some(format!("Process `{}` failed", p.name)),
                &[],
            )],
        ),
    };
    Some(TaskResult {
        successful,
        failure_dump_available: nested.iter().any(|n| n.failure_dump_available),
        object_id: Some(p.id.clone()),
        object_name: None,
        details: p.details.as_deref().map(from_specs).unwrap_or(details),
        nested_results: nested,
        duration: details_at.map(|_| total_run),
        start_time: details_at.map(|(start, clock)| clock.wall(start)),
        cancelled_by: None,
    })
}

/// A completed task's progress: 1 if it succeeded, else 0 (Anaplan's "Failed." reads 0).
fn end_progress(successful: bool) -> f64 {
    if successful { 1.0 } else { 0.0 }
}

/// The task object for a status reply; `process_details` (`includeProcessDetails=true`)
/// adds run times to a process's result.
pub(crate) fn task_body(
    model: &ModelSpec,
    t: &TaskRec,
    phase: Phase,
    clock: &Clock,
    process_details: bool,
) -> Task {
    let (progress, step, result) = match phase {
        Phase::Queued => (0.0, "Waiting for the model.".to_owned(), None),
        Phase::Running { progress } => (progress, "Processing ...".to_owned(), None),
        Phase::Cancelling { progress } => (progress, "Cancelling ...".to_owned(), None),
        Phase::Cancelled => {
            let detail_type = match t.kind {
                JobKind::Import => Some("msgImportCancelled"),
                JobKind::Export => Some("msgExportCancelled"),
                JobKind::Action | JobKind::Process => None,
            };
            let r = TaskResult {
                successful: false,
                failure_dump_available: false,
                object_id: Some(t.object.clone()),
                object_name: None,
                details: detail_type
                    .map(|d| vec![detail(d, Some("Cancelled by the user".into()), &[])])
                    .unwrap_or_default(),
                nested_results: Vec::new(),
                duration: None,
                start_time: None,
                cancelled_by: Some(t.user.clone()),
            };
            (0.0, "Cancelled.".to_owned(), Some(r))
        }
        Phase::Complete { start } => {
            let details_at =
                (process_details && t.kind == JobKind::Process).then_some((start, clock));
            let r = result(model, t.kind, &t.object, details_at);
            let ok = r.as_ref().is_some_and(|r| r.successful);
            let step = if ok { "Complete." } else { "Failed." };
            (end_progress(ok), step.to_owned(), r)
        }
    };
    Task {
        object_type: Some("taskInformation".into()),
        task_id: t.id.clone(),
        current_step: Some(step),
        progress: Some(progress),
        creation_time: Some(clock.wall(t.created)),
        task_state: phase.task_state(),
        result,
    }
}
