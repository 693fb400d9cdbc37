//! [`PgLease`]: the lock of a step run as a lease row. Taken in one statement (insert, or
//! take over a row whose time is up), so two live processes never both hold it; renewed
//! by the engine every third of the lease time; deleted at the step's end. A crashed
//! holder's lease runs out and the next run takes it over.
//!
//! Every time is the database's (`clock_timestamp()`), so the processes' clocks need not
//! agree. A renewal that cannot reach the database is forgiven while the lease is still
//! valid by the holder's own reckoning (its last renewal plus the lease time, less a
//! margin); past that, the lease counts as lost.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runwait_executor::{StepKey, StepLock, StoreError};
use tokio::time::Instant;

use crate::store::Db;

/// A held step run.
#[derive(Debug)]
pub(crate) struct PgLease {
    db: Arc<Db>,
    key: StepKey,
    holder: String,
    lease: Duration,
    /// Until when the lease is surely ours: the start of the last successful renewal plus
    /// the lease time, less a margin for the round trip.
    valid_until: std::sync::Mutex<Instant>,
}

impl PgLease {
    /// Takes the step run, or says who holds it and until when.
    pub(crate) async fn acquire(
        db: Arc<Db>,
        key: &StepKey,
        holder: &str,
        lease: Duration,
    ) -> Result<PgLease, StoreError> {
        let asked = Instant::now();
        let client = db.client().await?;
        let taken = client
            .query_opt(
                "INSERT INTO runwait_lease AS l (workflow, step_id, run_key, holder, expires_at)
                 VALUES ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5))
                 ON CONFLICT (workflow, step_id, run_key) DO UPDATE
                   SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                   WHERE l.expires_at < clock_timestamp()
                 RETURNING holder",
                &[
                    &key.workflow,
                    &key.step_id,
                    &key.run_key.as_str(),
                    &holder,
                    &lease.as_secs_f64(),
                ],
            )
            .await
            .map_err(|e| db.query_error(&e))?;
        if taken.is_none() {
            let held = client
                .query_opt(
                    "SELECT holder, greatest(extract(epoch FROM expires_at - clock_timestamp()), 0)::float8
                     FROM runwait_lease WHERE workflow = $1 AND step_id = $2 AND run_key = $3",
                    &[&key.workflow, &key.step_id, &key.run_key.as_str()],
                )
                .await
                .map_err(|e| db.query_error(&e))?;
            let by = held.map_or_else(String::new, |r| {
                let holder: String = r.get(0);
                let left: f64 = r.get(1);
                format!(" (held by {holder}, lease runs out in {left:.0}s unless renewed)")
            });
            return Err(StoreError::Busy {
                location: format!("{} lease {key}{by}", db.location()),
            });
        }
        Ok(PgLease {
            db,
            key: key.clone(),
            holder: holder.to_owned(),
            lease,
            valid_until: std::sync::Mutex::new(asked + margin(lease)),
        })
    }

    fn lost(&self) -> StoreError {
        StoreError::LeaseLost {
            key: self.key.clone(),
            location: self.db.location().to_owned(),
        }
    }

    async fn extend(&self) -> Result<bool, crate::PgError> {
        let client = self.db.client().await?;
        let n = client
            .execute(
                "UPDATE runwait_lease
                 SET expires_at = clock_timestamp() + make_interval(secs => $5)
                 WHERE workflow = $1 AND step_id = $2 AND run_key = $3 AND holder = $4",
                &[
                    &self.key.workflow,
                    &self.key.step_id,
                    &self.key.run_key.as_str(),
                    &self.holder,
                    &self.lease.as_secs_f64(),
                ],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        Ok(n == 1)
    }
}

/// The part of the lease the holder counts on: four fifths (the rest covers the round
/// trip and clock rates).
fn margin(lease: Duration) -> Duration {
    lease * 4 / 5
}

#[async_trait]
impl StepLock for PgLease {
    fn key(&self) -> &StepKey {
        &self.key
    }

    fn renew_every(&self) -> Option<Duration> {
        Some(self.lease / 3)
    }

    async fn renew(&self) -> Result<(), StoreError> {
        let asked = Instant::now();
        match self.extend().await {
            // Still ours (even if its time had run out, nobody took it over meanwhile).
            Ok(true) => {
                *self.valid_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    asked + margin(self.lease);
                Ok(())
            }
            Ok(false) => Err(self.lost()),
            Err(e) => {
                let valid_until = *self.valid_until.lock().unwrap_or_else(|p| p.into_inner());
                if Instant::now() < valid_until {
                    tracing::warn!(error = %e, "lease renewal failed; retrying while the lease lasts");
                    Ok(())
                } else {
                    tracing::error!(error = %e, "lease renewal failed past the lease time");
                    Err(self.lost())
                }
            }
        }
    }

    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "DELETE FROM runwait_lease
                 WHERE workflow = $1 AND step_id = $2 AND run_key = $3 AND holder = $4",
                &[
                    &self.key.workflow,
                    &self.key.step_id,
                    &self.key.run_key.as_str(),
                    &self.holder,
                ],
            )
            .await
            .map_err(|e| self.db.query_error(&e))?;
        Ok(())
    }
}
