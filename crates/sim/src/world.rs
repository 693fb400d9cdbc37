//! The simulated tenant's mutable state: tasks, tokens, dump ownership, faults and the
//! journal. Task states are not stored but derived from scenario time, so a task
//! advances exactly with the clock and needs no background work.

use std::collections::HashMap;
use std::time::Duration;

use runwait_core::token::TokenInfo;
use runwait_core::{ObjectId, TaskId};

use crate::clock::Clock;
use crate::dump::dump_rows;
use crate::fault::FaultBook;
use crate::ids::IdGen;
use crate::journal::JournalEntry;
use crate::result::{end_progress, result};
use crate::scenario::{Curve, ForeignStart, JobKind, ModelSpec, Runnable, Scenario};
use crate::task::{Phase, TaskRec, TaskSnapshot};
use crate::tokens::{OAuthGrant, TokenBook};

/// Why a dump cannot be served (all answer 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpGone {
    NotFinished,
    NoDump,
    OtherUser,
    Replaced,
    Expired,
}

/// How long a dump is kept after its last access (Anaplan: 48 hours).
pub(crate) const DUMP_KEPT: Duration = Duration::from_secs(48 * 3600);

#[derive(Debug, Default)]
pub(crate) struct World {
    tasks: Vec<TaskRec>,
    tokens: TokenBook,
    /// The newest run of each import by each user: only its dump is kept.
    dump_owner: HashMap<(String, ObjectId), TaskId>,
    /// When each kept dump was last read (scenario time); unread ones count from the
    /// end of their task.
    dump_read: HashMap<(String, ObjectId), Duration>,
    pub(crate) faults: FaultBook,
    pub(crate) journal: Vec<JournalEntry>,
    /// Entries taken out of the journal so far (numbering goes on after them).
    pub(crate) journal_taken: u64,
    ids: IdGen,
    /// Foreign starts not yet due, soonest first.
    foreign: Vec<ForeignStart>,
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

impl World {
    /// A world whose foreign starts happen as scenario time reaches them.
    pub(crate) fn new(scenario: &Scenario) -> Self {
        let mut foreign = scenario.foreign_starts.clone();
        foreign.sort_by_key(|f| f.at);
        World {
            foreign,
            ..World::default()
        }
    }

    /// Creates the tasks of foreign starts due by `now`, at their own times. Called on
    /// every access, so they are in creation order with the tasks clients start.
    pub(crate) fn catch_up(&mut self, scenario: &Scenario, now: Duration) {
        while self.foreign.first().is_some_and(|f| f.at <= now) {
            let f = self.foreign.remove(0);
            if let Some((model, kind)) = scenario.object_home(&f.object) {
                self.start_task(model, kind, &f.object, &f.by, f.at);
            }
        }
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
        let id = TaskId::new(self.ids.hex_id());
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
            self.dump_read.remove(&(user.to_owned(), import.clone()));
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

    /// Whether `user` may read the dump of `object` from `task`, in `phase` at `now`;
    /// a read keeps the dump another 48 hours.
    pub(crate) fn dump_available(
        &mut self,
        model: &ModelSpec,
        task: &TaskRec,
        phase: Phase,
        object: &ObjectId,
        user: &str,
        now: Duration,
    ) -> Result<(), DumpGone> {
        let Phase::Complete { start } = phase else {
            return Err(DumpGone::NotFinished);
        };
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
        let key = (user.to_owned(), object.clone());
        match self.dump_owner.get(&key) {
            Some(owner) if owner == &task.id => {}
            _ => return Err(DumpGone::Replaced),
        }
        let ended = run_spec(model, task.kind, &task.object)
            .map_or(start, |spec| start.saturating_add(spec.run));
        let last = self.dump_read.get(&key).copied().unwrap_or(ended);
        if now.saturating_sub(last) >= DUMP_KEPT {
            return Err(DumpGone::Expired);
        }
        self.dump_read.insert(key, now);
        Ok(())
    }

    // ---- tokens ------------------------------------------------------------------

    pub(crate) fn issue_token(&mut self, user: &str, clock: &Clock, ttl: Duration) -> TokenInfo {
        self.tokens.issue(&mut self.ids, user, clock, ttl)
    }

    /// The user of a live token.
    pub(crate) fn token_user(&self, value: &str, now: Duration) -> Option<&str> {
        self.tokens.user(value, now)
    }

    /// `tokenInfo` of a live token.
    pub(crate) fn token_info(&self, value: &str, clock: &Clock) -> Option<TokenInfo> {
        self.tokens.info(value, clock)
    }

    pub(crate) fn revoke(&mut self, value: &str) {
        self.tokens.revoke(value);
    }

    /// Trades an OAuth client's current refresh token for an access token and the next
    /// refresh token; `None` for an unknown client or a retired refresh token.
    pub(crate) fn oauth_grant(
        &mut self,
        scenario: &Scenario,
        grant: &OAuthGrant<'_>,
        clock: &Clock,
    ) -> Option<(TokenInfo, String)> {
        self.tokens
            .oauth_grant(&mut self.ids, scenario, grant, clock)
    }

    /// Extends a live token, keeping its value.
    pub(crate) fn extend_token(
        &mut self,
        value: &str,
        clock: &Clock,
        ttl: Duration,
    ) -> Option<TokenInfo> {
        self.tokens.extend(value, clock, ttl)
    }

    pub(crate) fn revoke_all(&mut self) {
        self.tokens.revoke_all();
    }
}
