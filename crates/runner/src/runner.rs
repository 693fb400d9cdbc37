//! The scheduler: starts every node whose needs are settled, up to the parallel limit,
//! skips the ones whose condition is false, and collects how each ended.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use runwait_executor::{FileStore, RunKey};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::attempt::{Shared, Store, crash_result, run_node};
use crate::event::{RunEvent, RunEventSink};
use crate::node::{Condition, Node, NodeId};
use crate::plan::{Needs, PlanError, check};
use crate::report::{NodeEnd, NodeReport, RunReport};

/// Runs a DAG of [`Node`]s. Built with [`Runner::builder`].
#[derive(Debug, Clone)]
pub struct Runner {
    /// One for the run, not a copy per node: every running node holds it for as long as
    /// its step waits.
    shared: Arc<Shared>,
    max_parallel: usize,
}

/// Builds a [`Runner`].
#[derive(Debug)]
pub struct RunnerBuilder {
    shared: Shared,
    max_parallel: usize,
}

impl Runner {
    /// A runner for the workflow `workflow` (part of each step's state-store key) and the
    /// run `run_key` (a rerun with the same key reattaches to the tasks it started).
    ///
    /// Defaults: 4 nodes at a time, the state in `.runwait/state`, dumps in
    /// `.runwait/out`, tokens that never fire, no events.
    pub fn builder(workflow: impl Into<String>, run_key: RunKey) -> RunnerBuilder {
        RunnerBuilder {
            shared: Shared {
                workflow: workflow.into(),
                run_key,
                state: Arc::new(FileStore::default()),
                out_dir: PathBuf::from(".runwait/out"),
                cancel: CancellationToken::new(),
                detach: CancellationToken::new(),
                events: RunEventSink::none(),
            },
            max_parallel: 4,
        }
    }

    /// Runs `nodes` to the end and reports each one, in the order given. Nodes never
    /// reached (none, once the checks pass) are reported skipped.
    ///
    /// Each node runs in its own tokio task, inside the caller's current span. The
    /// future yields to the runtime while it starts many nodes; await it on its own
    /// (or spawn it) rather than in a `select!` loop whose other branches fire often:
    /// polled again in the same turn, a yield returns at once.
    pub async fn run(&self, nodes: Vec<Node>) -> Result<RunReport, PlanError> {
        let needs = check(&nodes)?;
        let nodes = Schedule::new(self, nodes, needs).run().await;
        Ok(RunReport {
            nodes,
            interrupted: self.shared.interrupted(),
        })
    }
}

impl RunnerBuilder {
    /// Nodes running at the same time, at most (0 counts as 1).
    pub fn max_parallel(mut self, max: usize) -> Self {
        self.max_parallel = max;
        self
    }

    /// Where started tasks are recorded, for reattaching.
    pub fn state(mut self, state: Store) -> Self {
        self.shared.state = state;
        self
    }

    /// Where failure dumps go (`<out_dir>/<step>/…`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.shared.out_dir = dir.into();
        self
    }

    /// Fires to cancel: running steps cancel their remote tasks, nodes not started yet
    /// are skipped, nothing is retried. Each step's context gets this token itself.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.shared.cancel = token;
        self
    }

    /// Fires to detach: running steps stop waiting and leave their tasks running for a
    /// rerun with the same run key; nodes not started yet are skipped. Each step's
    /// context gets this token itself.
    pub fn detach(mut self, token: CancellationToken) -> Self {
        self.shared.detach = token;
        self
    }

    /// Where the run's events go.
    pub fn events(mut self, events: RunEventSink) -> Self {
        self.shared.events = events;
        self
    }

    /// The runner.
    pub fn build(self) -> Runner {
        Runner {
            shared: Arc::new(self.shared),
            max_parallel: self.max_parallel,
        }
    }
}

/// Fewer than the 61 tasks a current-thread runtime runs between two looks at its
/// timers, so spawning alone does not lengthen its queue. With 10,000 nodes on the
/// CLI's one thread a 10 ms timer came 128–171 ms late in the first second while they
/// were spawned in one go, and 4–17 ms with these yields and the run awaited on its
/// own (11–42 ms over the first 10 s; BENCHMARKS.md, session 10).
const SPAWNS_BETWEEN_YIELDS: usize = 32;

/// One run's bookkeeping. A node is known by its place in the order given.
///
/// A node that ends is settled in `needs`, and the nodes it leaves with no unsettled
/// need join `ready`: nothing is scanned again when a node ends.
struct Schedule<'a> {
    runner: &'a Runner,
    /// Not started yet (taken when started or skipped). Boxed: a slot left empty once
    /// its node runs is a pointer, not a node's room, for as long as the run lasts.
    waiting: Vec<Option<Box<Node>>>,
    /// Who needs whom, counted down as nodes end.
    needs: Needs,
    /// The places of the waiting nodes whose needs are all settled: the first in the
    /// order given goes first.
    ready: BTreeSet<usize>,
    /// `continue_on_error` by place, for the skip decisions.
    continue_on_error: Vec<bool>,
    /// Boxed: a finished node's end then takes room its task freed, not fresh pages of
    /// one table for thousands of ends (a run of 10,000 steps is at its largest at
    /// their end).
    ends: HashMap<NodeId, Box<NodeEnd>>,
    running: JoinSet<(NodeId, Box<NodeEnd>)>,
    spawned: HashMap<tokio::task::Id, NodeId>,
}

impl<'a> Schedule<'a> {
    fn new(runner: &'a Runner, nodes: Vec<Node>, needs: Needs) -> Self {
        // A new list, not `collect`: collected in place, the slots would keep the
        // nodes' list and its room for the whole run.
        let mut waiting = Vec::with_capacity(nodes.len());
        let continue_on_error = nodes.iter().map(|n| n.continue_on_error).collect();
        waiting.extend(nodes.into_iter().map(|n| Some(Box::new(n))));
        Schedule {
            runner,
            continue_on_error,
            ready: needs.free().collect(),
            needs,
            waiting,
            ends: HashMap::new(),
            running: JoinSet::new(),
            spawned: HashMap::new(),
        }
    }

    /// Runs the nodes; a report of each, in the order given.
    async fn run(mut self) -> Vec<NodeReport> {
        loop {
            self.start_ready().await;
            if self.running.is_empty() {
                return self.report();
            }
            match self.running.join_next_with_id().await {
                Some(Ok((task, (id, end)))) => {
                    self.spawned.remove(&task);
                    self.settle(id, end);
                }
                // The attempt loop turns a step's panic into an `error`; this is a panic
                // of the runner's own task (an event callback, say): still that node's
                // error, never a skip.
                Some(Err(e)) => {
                    if let Some(id) = self.spawned.remove(&e.id()) {
                        let result = match e.try_into_panic() {
                            Ok(panic) => crash_result(&*panic, Default::default()),
                            Err(e) => crash_result(&e.to_string(), Default::default()),
                        };
                        self.runner.shared.events.emit(RunEvent::StepFinished {
                            id: id.clone(),
                            attempts: 1,
                            result: result.clone(),
                        });
                        let end = NodeEnd::Ran {
                            result,
                            attempts: 1,
                        };
                        self.settle(id, Box::new(end));
                    }
                }
                None => {}
            }
        }
    }

    /// Starts (or skips) every node whose needs are settled, in the order given, while
    /// fewer than `max_parallel` run.
    ///
    /// Yields after every [`SPAWNS_BETWEEN_YIELDS`] spawns: a task's wake-up (a timer's,
    /// say) queues behind every task already queued, so spawning thousands at once
    /// would hold back every timer of the runtime until their first polls are done.
    async fn start_ready(&mut self) {
        let max = self.runner.max_parallel.max(1);
        let mut spawns = 0;
        while self.running.len() < max {
            let Some(place) = self.ready.pop_first() else {
                return;
            };
            let Some(node) = self.waiting[place].take().map(|node| *node) else {
                continue;
            };
            let shared = &self.runner.shared;
            if let Some(reason) = self.skip_reason(&node) {
                shared.events.emit(RunEvent::StepSkipped {
                    id: node.id.clone(),
                    reason: reason.clone(),
                });
                // A skip settles a need: an earlier node may be ready now.
                self.settle(node.id, Box::new(NodeEnd::Skipped { reason }));
                continue;
            }
            let id = node.id.clone();
            // Spawned tasks do not inherit the span: each step is a child of the caller's.
            let handle = self
                .running
                .spawn(run_node(node, shared.clone()).in_current_span());
            self.spawned.insert(handle.id(), id);
            spawns += 1;
            if spawns % SPAWNS_BETWEEN_YIELDS == 0 {
                tokio::task::yield_now().await;
            }
        }
    }

    /// How each node ended, in the order given. A node never reached (none, once the
    /// checks pass) is reported skipped.
    fn report(self) -> Vec<NodeReport> {
        let Schedule {
            runner: _,
            waiting,
            needs,
            ready,
            continue_on_error,
            mut ends,
            running,
            spawned,
        } = self;
        // Dropped before the report is made: a run is at its largest at its end.
        drop((waiting, ready, running, spawned));
        needs
            .into_ids()
            .into_iter()
            .zip(continue_on_error)
            .map(|(id, continue_on_error)| {
                let end = ends.remove(&id).map_or_else(
                    || NodeEnd::Skipped {
                        reason: "never reached".into(),
                    },
                    |end| *end,
                );
                NodeReport {
                    id,
                    continue_on_error,
                    end,
                }
            })
            .collect()
    }

    /// `id` ended as `end`: the nodes that need it have one unsettled need fewer.
    fn settle(&mut self, id: NodeId, end: Box<NodeEnd>) {
        self.needs.settle(&id, &mut self.ready);
        self.ends.insert(id, end);
    }

    /// Why a node whose needs are settled does not run, if it does not.
    fn skip_reason(&self, node: &Node) -> Option<String> {
        if self.runner.shared.interrupted() {
            return Some("the run was interrupted".into());
        }
        let ran = |need: &NodeId| match self.ends.get(need).map(|end| &**end) {
            Some(NodeEnd::Ran { result, .. }) => Some(result.outcome),
            _ => None,
        };
        let ok = |need: &NodeId| {
            ran(need).is_some_and(|o| {
                o.is_success()
                    || self
                        .needs
                        .place(need)
                        .is_some_and(|place| self.continue_on_error[place])
            })
        };
        let failed = |need: &NodeId| ran(need).is_some_and(|o| !o.is_success());
        match node.condition {
            Condition::Always => None,
            Condition::Success if node.needs.iter().all(ok) => None,
            Condition::Success => Some(format!(
                "`if: success()` and not every step it needs succeeded ({})",
                node.needs
                    .iter()
                    .map(NodeId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Condition::Failure if node.needs.iter().any(failed) => None,
            Condition::Failure => Some("`if: failure()` and no step it needs failed".into()),
        }
    }
}
