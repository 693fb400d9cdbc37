//! The Anaplan client of runwait: authentication, task calls and dumps of the
//! Integration API v2, over reqwest (rustls) and tokio.
//!
//! What it does:
//! - endpoints by region name or explicit URLs ([`Endpoints`]); `http://` only on loopback;
//! - one shared token per client, from basic, certificate, ready-token or OAuth refresh
//!   credentials ([`auth`]), renewed before it expires; a 401 re-authenticates once;
//! - start, list, status and cancel for processes, imports, exports and actions, dump
//!   downloads streamed to a writer, listings and name lookups ([`Client`]);
//! - retries of idempotent calls with jittered backoff, `Retry-After` and a budget
//!   ([`RetryPolicy`]), and a start that is never sent twice blindly: after an ambiguous
//!   failure it lists the object's tasks and adopts the one the lost request created.
//!
//! What it is not: it does not wait for tasks or decide outcomes (that is
//! `runwait-executor` and `runwait-core`), and it keeps no state on disk.
//!
//! No secret ever prints: passwords, keys and tokens are [`Secret`]s or
//! `runwait_core::token::TokenValue`s, and errors carry method and path only.
//!
//! ```no_run
//! # async fn demo() -> Result<(), runwait_anaplan::Error> {
//! use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, StartOptions, TaskKind, TaskTarget};
//! let client = Client::builder(Endpoints::region("eu3")?, BasicAuth::new("me@example.com", Secret::new("pw"))).build()?;
//! let target = TaskTarget::new("8a81b09d5e8c6f27015ece3402487d33", "F7177FD218234A66B0FBA94F3DC9D014", TaskKind::Process, "118000000001");
//! let started = client.start(&target, &StartOptions::default()).await?;
//! let task = client.status(&target, &started.task_id).await?;
//! println!("{} {:?}", task.task_state, task.progress);
//! # Ok(()) }
//! ```

pub mod auth;
mod cert;
mod client;
mod endpoints;
mod error;
mod http;
mod retry;
mod secret;

use std::time::SystemTime;

pub use auth::{AuthProvider, BasicAuth, OAuthRefreshAuth, TokenAuth};
pub use cert::{CertificateAuth, EncodedDataFormat};
pub use client::{Client, ClientBuilder};
// The call vocabulary is core's; re-exported so a client user needs one import.
pub use endpoints::{Endpoints, is_loopback};
pub use error::{Error, RequestLine, TransportKind};
pub use retry::RetryPolicy;
pub use runwait_core::{
    DumpSource, KnownTasks, MappingParameter, StartOptions, Started, TaskKind, TaskTarget,
};
pub use secret::Secret;

/// The wall clock, injectable so token expiry can be tested against a simulator whose
/// time runs faster.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
