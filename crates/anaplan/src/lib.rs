//! The Anaplan client of runwait: authentication, task calls and dumps of the
//! Integration API v2, over reqwest (rustls) and tokio.
//!
//! What it does:
//! - endpoints by region name (one table of every region's API, auth and OAuth hosts:
//!   [`endpoints::REGIONS`]) or explicit URLs ([`Endpoints`]); `http://` only on loopback;
//! - one shared token per client, from basic, certificate, ready-token or OAuth refresh
//!   credentials ([`auth`]), renewed before it expires; a 401 re-authenticates once;
//! - start, list, status and cancel for processes, imports, exports and actions, dump
//!   downloads streamed to a writer, listings and name lookups ([`Client`]);
//! - retries of idempotent calls with jittered backoff, `Retry-After` and a budget
//!   ([`RetryPolicy`]), and a start that is never sent twice blindly: after an ambiguous
//!   failure it lists the object's tasks and adopts the one the lost request created.
//!
//! # The stack
//!
//! Every call goes down the same layers, each a module that knows only those below it:
//!
//! 1. **transport** (one attempt): reqwest sends the request inside an `http.client`
//!    span; a non-2xx reply or a failed send becomes an [`Error`] (method and path,
//!    status, Anaplan's message, `Retry-After` capped at 5 minutes); the body is read
//!    whole. No token, no retry.
//! 2. **auth**: the client's one token (from an [`AuthProvider`]) goes on every request;
//!    the token manager renews it before it expires under a lock (a renewal that fails
//!    for now keeps the still valid token), a 401 makes it log in again once, and a
//!    login the auth service refused is never tried again by this client.
//! 3. **retry**: one policy decides after each failure, from the error, the attempts made
//!    and the time spent, whether to stop, send again after a delay, or look whether the
//!    failed attempt took effect; one loop carries the decisions out and sleeps through
//!    the injected [`Clock`].
//! 4. **calls** ([`Client`]): tasks, the start, dumps, listings.
//!
//! # The retry policy
//!
//! [`RetryPolicy`] is the policy of every idempotent call (listings, status, cancel,
//! each dump chunk, and the auth service's own calls): busy (409), rate limited
//! (429), server errors (5xx, 410) and transport failures are sent again after a
//! jittered exponential backoff, or after `Retry-After` when the server gives one,
//! while retries remain and the next wait still fits the budget, as is a reply whose
//! body cannot be read. Anything else is final. Each request has a timeout that fits
//! it ([`ClientBuilder::call_timeout`] 30 s for quick calls, [`ClientBuilder::chunk_timeout`]
//! 60 s for a dump chunk, [`ClientBuilder::request_timeout`] 120 s for a start), below
//! the 120 s budget, so a hung idempotent call is sent again.
//!
//! The start is not idempotent, so its policy never resends blindly: after an ambiguous
//! failure (a broken connection, a timeout, a 5xx, a lost or unreadable 2xx body) the
//! next step is a look in the object's task list (newest first, every page), up to
//! three, and the task the start created is adopted ([`Started::adopted`]): one not
//! known before, created since the attempt began (less [`CLOCK_SKEW_MARGIN`]) and, when
//! the list names users, started by this client's user. When a schedule's or another
//! user's task cannot be told apart from ours, the start stops with [`Error::Adoption`]
//! rather than adopt a stranger's task or start again. After a timeout, 502 or 504 the start is
//! never sent again; after a reset, 500 or 503 it is, once the looks found nothing, as is
//! a start refused as busy or rate limited, within [`ClientBuilder::start_attempts`].
//!
//! A dump chunk is read whole before it is written, so a chunk cut off half-way is
//! fetched again and the writer receives every byte exactly once.
//!
//! What it is not: it does not wait for tasks or decide outcomes (that is
//! `runwait-executor` and `runwait-core`), and it keeps no state on disk.
//!
//! # Embedding contract
//!
//! A host builds one [`Client`] per tenant and identity ([`Client::builder`]) and shares
//! it (it is cheap to clone; clones share the connection pool and the token), so every
//! wait of the tenant uses one login. Each call is complete in itself: it retries what
//! may be retried under the [`RetryPolicy`], and returns an [`Error`] whose message names
//! the method and path and what to do, never a token, a password or a full URL. Time
//! comes from the injected [`Clock`] (wall time for token expiry, and the sleeps between
//! retries), so a host's simulated or paused clock applies to the client too. A
//! `runwait_executor::RunAndWait` drives the client through its `TaskApi` trait.
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
mod clock;
pub mod endpoints;
mod error;
mod reply;
mod retry;
mod secret;
mod transport;

pub use auth::{AuthProvider, BasicAuth, OAuthRefreshAuth, TokenAuth};
pub use cert::{CertificateAuth, EncodedDataFormat};
pub use client::{CLOCK_SKEW_MARGIN, Client, ClientBuilder, DEFAULT_CALL_TIMEOUT};
pub use clock::{Clock, Sleep, SystemClock};
pub use endpoints::{Endpoints, is_loopback};
pub use error::{Error, ModelState, RequestLine, TransportKind};
pub use retry::RetryPolicy;
// The call vocabulary is core's; re-exported so a client user needs one import.
pub use runwait_core::{
    DumpSource, KnownTasks, MappingParameter, StartOptions, Started, TaskKind, TaskTarget,
};
pub use secret::Secret;
