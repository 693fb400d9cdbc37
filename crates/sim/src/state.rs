//! The state every request shares: the clock, the scenario, the mutable world behind
//! one lock, the dump cache and the shutdown signal.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::State;
use tokio_util::sync::CancellationToken;

use crate::SimError;
use crate::clock::Clock;
use crate::conns::ConnCount;
use crate::dump::DumpCache;
use crate::fault::Fault;
use crate::journal::JournalEntry;
use crate::limit::RateLimit;
use crate::scenario::Scenario;
use crate::task::TaskSnapshot;
use crate::world::World;

/// The shared state, as a handler extracts it.
pub(crate) type Sh = State<Arc<AppState>>;

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) clock: Clock,
    pub(crate) scenario: Scenario,
    world: Mutex<World>,
    pub(crate) dumps: DumpCache,
    pub(crate) shutdown: CancellationToken,
    /// The tenant's rate limit, when the scenario sets one.
    pub(crate) limit: Option<RateLimit>,
    /// The connections open and their peak.
    pub(crate) conns: std::sync::Arc<ConnCount>,
}

impl AppState {
    pub(crate) fn new(clock: Clock, scenario: Scenario) -> Self {
        let mut world = World::new(&scenario);
        for f in &scenario.faults {
            world.faults.add(f.clone());
        }
        AppState {
            clock,
            world: Mutex::new(world),
            dumps: DumpCache::default(),
            shutdown: CancellationToken::new(),
            limit: scenario.rate_limit.map(RateLimit::new),
            conns: std::sync::Arc::default(),
            scenario,
        }
    }

    /// The state, with the foreign starts due by now made; a panic elsewhere must not
    /// take the simulator down with it.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        world.catch_up(&self.scenario, self.clock.now());
        world
    }

    /// Arms a fault; its `after` counts calls from now on.
    pub(crate) fn add_fault(&self, fault: Fault) -> Result<(), SimError> {
        fault.validate()?;
        self.world().faults.add(fault);
        Ok(())
    }

    /// Every task with its state now.
    pub(crate) fn snapshots(&self) -> Vec<TaskSnapshot> {
        self.world().snapshots(&self.scenario, self.clock.now())
    }

    /// Appends a call to the journal, numbered in the order answers were decided.
    pub(crate) fn record(&self, mut entry: JournalEntry) {
        let mut world = self.world();
        entry.seq = world.journal_taken + world.journal.len() as u64;
        world.journal.push(entry);
    }
}
