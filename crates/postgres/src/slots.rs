//! [`PgSlots`]: the tenant's rate budget shared by every process using the database: one
//! row per tenant holding the time of its next free slot (GCRA without burst), moved
//! forward by one interval in one atomic statement per request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runwait_executor::SlotSource;

use crate::store::{Db, PgStore};

/// The slots of one tenant (an API host and a user) in the database.
#[derive(Debug, Clone)]
pub struct PgSlots {
    db: Arc<Db>,
    tenant: String,
}

impl PgSlots {
    /// The slots of `tenant` (for example `api.anaplan.com user@example.com`) in `store`'s
    /// database.
    pub fn new(store: &PgStore, tenant: impl Into<String>) -> Self {
        PgSlots {
            db: store.db(),
            tenant: tenant.into(),
        }
    }

    async fn try_reserve(&self, interval: Duration) -> Result<Duration, crate::PgError> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                "INSERT INTO runwait_budget AS b (tenant, next_slot)
                 VALUES ($1, clock_timestamp() + make_interval(secs => $2))
                 ON CONFLICT (tenant) DO UPDATE
                   SET next_slot = greatest(b.next_slot, clock_timestamp()) + make_interval(secs => $2)
                 RETURNING greatest(extract(epoch FROM b.next_slot - clock_timestamp())::float8 - $2, 0)",
                &[&self.tenant, &interval.as_secs_f64()],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        let wait: f64 = row.get(0);
        Ok(Duration::try_from_secs_f64(wait).unwrap_or(Duration::ZERO))
    }
}

#[async_trait]
impl SlotSource for PgSlots {
    async fn reserve(&self, interval: Duration) -> Duration {
        match self.try_reserve(interval).await {
            Ok(wait) => wait,
            Err(e) => {
                // The in-process budget still paces this process.
                tracing::warn!(error = %e, "shared rate budget unavailable; pacing this process alone");
                Duration::ZERO
            }
        }
    }
}
