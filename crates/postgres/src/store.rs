//! [`PgStore`]: the state store in PostgreSQL. Records are one row each (the record as
//! JSON); the lock of a step run is a lease row ([`crate::lease`]); finished steps are
//! appended to `runwait_history`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use runwait_executor::{
    HistoryQuery, StateStore, StepHistory, StepKey, StepLock, StepRecord, StoreError,
};

use crate::lease::PgLease;
use crate::schema::migrate;
use crate::url::PgUrl;

/// How the store connects and how long its leases last.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgOptions {
    /// How long a lease lasts without renewal: a crashed holder's step run is free again
    /// this long after its last heartbeat. Default 60 s.
    pub lease: Duration,
    /// Connections in the pool, at most. Default 4.
    pub max_connections: usize,
    /// How long to wait for a connection (connecting, or a free one from the pool).
    /// Default 10 s.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            lease: Duration::from_secs(60),
            max_connections: 4,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PgOptions {
    /// With a lease time (at least one second).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// With a pool size (at least one).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// With a connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Why the store could not be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// No connection could be made (down, wrong host, refused login).
    #[error("cannot reach the PostgreSQL state store at {location}: {reason}")]
    Unreachable {
        /// `host:port/database`, without credentials.
        location: String,
        /// What the driver said.
        reason: String,
    },
    /// A statement failed.
    #[error("PostgreSQL state store at {location}: {reason}")]
    Query {
        /// `host:port/database`, without credentials.
        location: String,
        /// What the server said.
        reason: String,
    },
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// The pool and where it points; shared by the store, its leases and budgets.
pub(crate) struct Db {
    pool: Pool,
    location: String,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<Object, PgError> {
        self.pool.get().await.map_err(|e| PgError::Unreachable {
            location: self.location.clone(),
            reason: reason(&e),
        })
    }

    /// A failed statement, named with the database's location.
    pub(crate) fn query_error(&self, e: &tokio_postgres::Error) -> PgError {
        PgError::Query {
            location: self.location.clone(),
            reason: reason(e),
        }
    }

    /// `host:port/database`.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }
}

/// An error and its causes on one line (the driver's top message alone says little).
fn reason(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The state store in a PostgreSQL database. Clones share the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    db: Arc<Db>,
    lease: Duration,
    holder: String,
}

impl PgStore {
    /// Connects to `url` (failing at once when the database cannot be reached), creates
    /// or migrates runwait's schema, and returns the store.
    pub async fn connect(url: &PgUrl, options: PgOptions) -> Result<PgStore, PgError> {
        let location = url.location();
        let mut config = url.config().clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config.application_name("runwait");
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| PgError::Unreachable {
                location: location.clone(),
                reason: e.to_string(),
            })?;
        let db = Db { pool, location };
        let mut client = db.client().await?;
        migrate(&mut client).await.map_err(|e| PgError::Query {
            location: db.location.clone(),
            reason: reason(&e),
        })?;
        drop(client);
        Ok(PgStore {
            db: Arc::new(db),
            lease: options.lease,
            holder: holder_id(),
        })
    }

    /// The lease time.
    pub fn lease_time(&self) -> Duration {
        self.lease
    }

    /// Who this process is in the lease table: `host:pid:random`.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The shared pool, for the tenant budget in the same database.
    pub(crate) fn db(&self) -> Arc<Db> {
        self.db.clone()
    }
}

/// `host:pid:random`: tells the processes apart in the lease table and in messages.
fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

#[async_trait]
impl StateStore for PgStore {
    async fn lock(&self, key: &StepKey) -> Result<Box<dyn StepLock>, StoreError> {
        let lease = PgLease::acquire(self.db.clone(), key, &self.holder, self.lease).await?;
        Ok(Box::new(lease))
    }

    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                "SELECT record FROM runwait_step_record
                 WHERE workflow = $1 AND step_id = $2 AND run_key = $3",
                &[&key.workflow, &key.step_id, &key.run_key.as_str()],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        row.map(|r| self.parse(r.get(0))).transpose()
    }

    async fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        let json = serde_json::to_value(record).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO runwait_step_record (workflow, step_id, run_key, record)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workflow, step_id, run_key)
                 DO UPDATE SET record = EXCLUDED.record, updated_at = now()",
                &[
                    &record.workflow,
                    &record.step_id,
                    &record.run_key.as_str(),
                    &json,
                ],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT record FROM runwait_step_record ORDER BY workflow, step_id, run_key",
                &[],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        Ok(rows.into_iter().map(|r| self.parse(r.get(0))).collect())
    }

    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        let json = serde_json::to_value(entry).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let target =
            serde_json::to_value(&entry.target).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO runwait_history (workflow, target, ended_at, entry)
                 VALUES ($1, $2, $3, $4)",
                &[&entry.workflow, &target, &entry.ended_at, &json],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        Ok(())
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        let target = query
            .target
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT entry FROM runwait_history
                 WHERE ($1::jsonb IS NULL OR target = $1) AND ($2::text IS NULL OR workflow = $2)
                 ORDER BY id DESC LIMIT $3",
                &[&target, &query.workflow, &limit],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_value(r.get(0)).map_err(|e| {
                    StoreError::Backend(
                        format!("{}: unreadable history entry: {e}", self.db.location()).into(),
                    )
                })
            })
            .collect()
    }
}

impl PgStore {
    fn parse(&self, json: serde_json::Value) -> Result<StepRecord, StoreError> {
        serde_json::from_value(json).map_err(|e| {
            StoreError::Backend(format!("{}: unreadable record: {e}", self.db.location()).into())
        })
    }
}
