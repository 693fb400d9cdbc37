//! Shared helpers: the simulator on loopback, the real client, and a step context, all
//! on tokio's paused clock so waits of hours take milliseconds and counts are exact.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use runwait_anaplan::{BasicAuth, Client, Endpoints, RetryPolicy, Secret, TaskKind, TaskTarget};
use runwait_executor::{
    EventSink, FileStore, PollPolicy, RunAndWait, StepContext, StepContextBuilder, StepEvent,
    TokioEnv, WaitConfig,
};
use runwait_executor::{
    HistoryQuery, MemoryStore, StateStore, StepHistory, StepKey, StepLock, StepRecord, StoreError,
};
use runwait_sim::{JournalEntry, Scenario, SimConfig, Simulator};

pub const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
pub const MODEL: &str = "75A40874E6B64FA3AE0743278996850F";

pub struct Harness {
    pub sim: Simulator,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub events: Arc<Mutex<Vec<StepEvent>>>,
}

pub async fn harness(scenario: Scenario) -> Harness {
    let sim = Simulator::start(SimConfig::new(scenario).epoch(SystemTime::now()))
        .await
        .unwrap();
    let client = client_for(&sim, "demo");
    Harness {
        sim,
        client,
        dir: tempfile::tempdir().unwrap(),
        events: Arc::default(),
    }
}

pub fn client_for(sim: &Simulator, password: &str) -> Client {
    let endpoints = Endpoints::custom(&sim.api_url(), &sim.auth_url()).unwrap();
    Client::builder(
        endpoints,
        BasicAuth::new("demo@runwait.local", Secret::new(password)),
    )
    .retry(RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        budget: Duration::from_secs(10),
        jitter_seed: Some(3),
    })
    .pool_idle_timeout(None)
    .build()
    .unwrap()
}

pub fn target(kind: TaskKind, object: &str) -> TaskTarget {
    TaskTarget::new(WORKSPACE, MODEL, kind, object)
}

/// The default schedule without jitter or wake grid, so poll times are exact.
pub fn exact_poll() -> PollPolicy {
    PollPolicy::default()
        .with_jitter(0.0)
        .with_wake_grid(Duration::ZERO)
}

/// The default configuration with [`exact_poll`].
pub fn exact() -> WaitConfig {
    WaitConfig::default().with_poll(exact_poll())
}

impl Harness {
    pub fn step(&self, kind: TaskKind, object: &str) -> RunAndWait {
        RunAndWait::new(Arc::new(self.client.clone()), target(kind, object))
            .config(exact())
            .env(Arc::new(TokioEnv::seeded(7)))
    }

    pub fn ctx(&self, step_id: &str, run_key: &str) -> StepContext {
        self.ctx_builder(step_id, run_key).build()
    }

    /// The context of [`Harness::ctx`], to add tokens or a deadline to.
    pub fn ctx_builder(&self, step_id: &str, run_key: &str) -> StepContextBuilder {
        let events = self.events.clone();
        StepContext::builder(step_id, run_key)
            .workflow("nightly")
            .state(Arc::new(FileStore::new(self.dir.path().join("state"))))
            .out_dir(self.dir.path().join("out"))
            .events(EventSink::new(move |_, e| events.lock().unwrap().push(e)))
    }

    /// Requests of `method` whose path contains `part`.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.journal()
            .iter()
            .filter(|e| e.method == method && e.path.contains(part))
            .count()
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        self.sim.journal()
    }

    /// Scenario times (ms) of the status requests for `task`.
    pub fn status_times(&self, task: &str) -> Vec<u64> {
        self.journal()
            .iter()
            .filter(|e| {
                e.method == "GET"
                    && e.path.contains(&format!("/tasks/{task}"))
                    && !e.path.contains("/dump")
            })
            .map(|e| e.at_ms)
            .collect()
    }

    pub fn starts(&self) -> usize {
        self.journal()
            .iter()
            .filter(|e| e.method == "POST" && e.path.ends_with("/tasks"))
            .count()
    }
}

/// The built-in scenario with one action's duration and curve changed.
pub fn with_action(duration: Duration, curve: runwait_sim::Curve) -> Scenario {
    let mut s = Scenario::builtin();
    let a = &mut s.workspaces[0].models[0].actions[0];
    a.duration = duration;
    a.progress = curve;
    s
}

/// What a test store does instead of a [`MemoryStore`] for some calls; each call it
/// leaves goes to the store.
#[async_trait]
pub trait Hooks: Send + Sync + std::fmt::Debug {
    async fn lock(
        &self,
        store: &MemoryStore,
        key: &StepKey,
    ) -> Result<Box<dyn StepLock>, StoreError> {
        store.lock(key).await
    }
    async fn save(&self, store: &MemoryStore, record: &StepRecord) -> Result<(), StoreError> {
        store.save(record).await
    }
    async fn history(
        &self,
        store: &MemoryStore,
        query: &HistoryQuery,
    ) -> Result<Vec<StepHistory>, StoreError> {
        store.history(query).await
    }
}

/// A [`MemoryStore`] with the calls `hooks` takes over.
#[derive(Debug)]
pub struct Hooked<H> {
    pub store: MemoryStore,
    pub hooks: H,
}

impl<H> Hooked<H> {
    pub fn new(hooks: H) -> Arc<Self> {
        Arc::new(Hooked {
            store: MemoryStore::new(),
            hooks,
        })
    }
}

#[async_trait]
impl<H: Hooks> StateStore for Hooked<H> {
    async fn lock(&self, key: &StepKey) -> Result<Box<dyn StepLock>, StoreError> {
        self.hooks.lock(&self.store, key).await
    }
    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        self.store.load(key).await
    }
    async fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        self.hooks.save(&self.store, record).await
    }
    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        self.store.list().await
    }
    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        self.store.record_finished(entry).await
    }
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        self.hooks.history(&self.store, query).await
    }
}
