//! PostgreSQL backing of runwait's state store and tenant rate budget: what lets runwait
//! steps run on several machines (pods rescheduled at any moment, many at once against
//! one tenant) and still never start a task twice nor exceed the tenant's rate.
//!
//! - [`PgStore`] implements [`runwait_executor::StateStore`]: step records (saved before
//!   the first poll, as the file store's), the lock of a step run as a **lease**, and the
//!   history of finished steps.
//! - [`PgSlots`] implements [`runwait_executor::SlotSource`]: one rate budget per tenant
//!   across processes, in the same database.
//! - [`PgUrl`]: the connection string, printed with its password masked.
//! - [`StoreLocation`]: the store a location names (a directory: the file store; a
//!   `postgres://` URL: this crate's), opened with its tenant budget.
//!
//! # Leases
//!
//! A step run's lock is a row of `runwait_lease` with a holder and an expiry. It is taken
//! in one statement (`INSERT … ON CONFLICT DO UPDATE … WHERE expires_at < now()
//! RETURNING`), so of two live processes one gets it and the other is told at once that
//! the step run is busy. The engine renews it every third of the lease time
//! ([`PgOptions::lease`], default 60 s) while the step runs, and right before a start; a
//! lease found lost (taken over, or not renewed within its time) stops the step with an
//! error before it can start or keep waiting. A holder killed without a word loses the
//! lease when its time is up; the next run with the same run key then takes it over and
//! reattaches to the task from the record.
//!
//! # Schema
//!
//! Created and migrated by runwait itself on connect, one transaction under an advisory
//! lock; `runwait_schema` holds the version (now 1). A database whose schema is newer than
//! the build is refused.
//!
//! | table | row | key |
//! |---|---|---|
//! | `runwait_schema` | a version applied, and when | `version` |
//! | `runwait_step_record` | a step run's record (`record`, JSON as the file store's) | workflow, step, run key |
//! | `runwait_lease` | the lease of a step run: `holder` (`host:pid:random`), `expires_at` | workflow, step, run key |
//! | `runwait_history` | a finished step (`entry`, JSON: target, task, start, end, duration, outcome, polls, running time; a field added to the JSON needs no migration) | `id`; indexed by target and workflow |
//! | `runwait_budget` | a tenant's next free request slot (`next_slot`) | `tenant` (API host and user) |
//!
//! # Driver
//!
//! tokio-postgres with a deadpool connection pool, without TLS (`sslmode=disable` or
//! `prefer`; a server that requires TLS is refused with the driver's message). The driver
//! runs each connection on a tokio task of its own: that is the driver's, not the
//! engine's, which still spawns nothing.

mod lease;
mod location;
mod schema;
mod slots;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod url;

pub use location::{LocationError, OpenStore, StoreLocation};
pub use schema::SCHEMA_VERSION;
pub use slots::PgSlots;
pub use store::{PgError, PgOptions, PgStore};
pub use url::{PgUrl, UrlError};
