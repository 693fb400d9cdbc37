//! A simulator of the Anaplan Integration API v2 and its auth service.
//!
//! `runwait-sim` is a real HTTP server on loopback that answers like Anaplan: discovery
//! listings, task start/list/status/cancel for imports, exports, actions and processes,
//! chunked failure dumps, model status, and basic and certificate logins. A
//! [`Scenario`] declares what the tenant holds and how each task behaves (duration,
//! progress curve, outcome, dump size, whether it can be cancelled), plus faults to
//! inject. Time is scenario time: tokio's clock times a speed factor, so tests on paused
//! tokio time see tasks progress exactly, and demos can run a 2-hour process in a minute.
//! Every request lands in a journal that tests read in-process or over HTTP.
//!
//! It is the stand-in for Anaplan in the tests of the client and executor, and the
//! embedded default of the demo. What it is not: a faithful model of Anaplan's data
//! (no lists, modules or file uploads), a security boundary (it serves loopback test
//! traffic), or a YAML reader: the CLI parses scenario files into [`Scenario`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), runwait_sim::SimError> {
//! use runwait_sim::{Scenario, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::new(Scenario::builtin()).speed(60.0)).await?;
//! println!("API at {}, auth at {}", sim.api_url(), sim.auth_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod cert;
mod clock;
mod conns;
mod control;
mod dump;
mod fault;
mod ids;
mod journal;
mod limit;
mod reply;
mod result;
mod scenario;
mod server;
mod state;
mod task;
mod tokens;
mod world;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use conns::Connections;
pub use fault::{CallKind, Fault, FaultKind};
pub use journal::{Answer, JournalEntry};
pub use scenario::{
    CertificateMatch, Curve, DetailSpec, ForeignStart, JobSpec, ModelSpec, ModelState, OAuthClient,
    Outcome, ProcessSpec, Scenario, User, WorkspaceSpec,
};
pub use task::TaskSnapshot;

use crate::clock::Clock;
use crate::state::AppState;

/// Why the simulator could not start or a fault was refused.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario (or a fault) is inconsistent.
    #[error("invalid scenario: {0}")]
    Scenario(String),
    /// `speed` must be a positive, finite number.
    #[error("speed must be a positive number, got {0}")]
    Speed(f64),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// What the tenant holds.
    pub scenario: Scenario,
    /// Scenario seconds per real second. Default 1.
    pub speed: f64,
    /// Where to listen. Default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// Wall-clock time at scenario time zero (for `creationTime`, `expiresAt`).
    /// Default: the time of start.
    pub epoch: Option<SystemTime>,
}

impl SimConfig {
    /// A config for `scenario` at speed 1 on a free loopback port.
    pub fn new(scenario: Scenario) -> Self {
        SimConfig {
            scenario,
            speed: 1.0,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            epoch: None,
        }
    }

    /// Runs scenario time `speed` times faster than real time.
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = speed;
        self
    }

    /// Listens on `addr` instead of a free loopback port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Fixes the wall-clock time of scenario time zero.
    pub fn epoch(mut self, epoch: SystemTime) -> Self {
        self.epoch = Some(epoch);
        self
    }
}

/// A running simulator. Dropping it without [`shutdown`](Simulator::shutdown) leaves the
/// server running until the runtime ends.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<AppState>,
    task: JoinHandle<()>,
}

impl Simulator {
    /// Validates the scenario, binds the listener and starts serving.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        if !(config.speed.is_finite() && config.speed > 0.0) {
            return Err(SimError::Speed(config.speed));
        }
        config.scenario.validate()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let clock = Clock::new(config.speed, config.epoch.unwrap_or_else(SystemTime::now));
        let shared = Arc::new(AppState::new(clock, config.scenario));
        let router = server::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, router, shared.clone()));
        tracing::info!(%addr, speed = config.speed, "simulator listening");
        Ok(Simulator { addr, shared, task })
    }

    /// The connections open now and the most open at once.
    pub fn connections(&self) -> Connections {
        self.shared.conns.get()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the auth service's base (`/token/...` lives below it).
    pub fn auth_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/2/0`: the Integration API's base.
    pub fn api_url(&self) -> String {
        format!("http://{}/2/0", self.addr)
    }

    /// Every request so far, in the order their answers were decided.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.world().journal.clone()
    }

    /// Every request since the last take, emptying the journal (numbering goes on):
    /// for long runs whose memory is measured, so the journal does not grow with them.
    pub fn take_journal(&self) -> Vec<JournalEntry> {
        let mut world = self.shared.world();
        let taken = std::mem::take(&mut world.journal);
        world.journal_taken += taken.len() as u64;
        taken
    }

    /// Arms a fault; its `after` counts calls from now on.
    pub fn add_fault(&self, fault: Fault) -> Result<(), SimError> {
        self.shared.add_fault(fault)
    }

    /// Invalidates every token now, as if they all expired.
    pub fn expire_tokens(&self) {
        self.shared.world().revoke_all();
    }

    /// Every task with its state now.
    pub fn tasks(&self) -> Vec<TaskSnapshot> {
        self.shared.snapshots()
    }

    /// Scenario time since start.
    pub fn now(&self) -> Duration {
        self.shared.clock.now()
    }

    /// Stops accepting, lets open calls finish (hanging ones are dropped), and waits.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        if let Err(err) = self.task.await {
            tracing::warn!(%err, "simulator task ended abnormally");
        }
    }
}

/// Runs a simulator until `shutdown` resolves, printing its URLs to stdout: what
/// `runwait sim` does.
pub async fn serve_until(
    config: SimConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SimError> {
    let sim = Simulator::start(config).await?;
    println!("runwait sim listening on {}", sim.addr());
    println!("  API:  {}", sim.api_url());
    println!("  auth: {}", sim.auth_url());
    println!("  journal: {}/__sim/journal", sim.auth_url());
    shutdown.await;
    sim.shutdown().await;
    Ok(())
}
