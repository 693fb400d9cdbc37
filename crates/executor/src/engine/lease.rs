//! The lock of the step run while the step works: renewed when due (a lease's heartbeat,
//! driven here because nothing spawns a hidden task), checked right before a start, and
//! at the step's end the history entry written and the lock given back.

use tokio::time::Instant;

use super::Run;
use super::phase::Phase;
use super::race::Stops;
use crate::poll::on_wake_grid_before;
use crate::step::{StepOutcome, StepResult};
use crate::store::StepHistory;

impl Run<'_> {
    /// When the lock must next be renewed: the last instant on the wake grid at or before
    /// it is due (never after: the lock asks for `renew_every`, and a late renewal could
    /// find the lease gone); `None` for a lock that needs no renewal. A step of a quarter
    /// of the period at most keeps renewals from coming much more often.
    pub(super) fn renew_due(&self) -> Option<Instant> {
        let every = self.lock.as_ref()?.renew_every()?;
        let grid = self.config().poll.wake_grid_in_use().min(every / 4);
        Some(on_wake_grid_before(self.renewed_at + every, grid))
    }

    /// Completes when the lock is due for renewal; never for a lock that needs none. Its
    /// timer is made when it is first polled.
    pub(super) async fn lease_due(&self) {
        match self.renew_due() {
            Some(at) => self.step.env.sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    /// Renews the lock when due, or now when `fence` (right before a start: a run that
    /// lost its lease must not start a task another run may start). A lost lock ends the
    /// step with the phase returned as the error. The renewal (SQL, or a file behind the
    /// store's queue) races `stops`, the phase's own: a stop skips it (the phase's next
    /// race then sees the stop), except at the fence, where it ends the step unstarted.
    pub(super) async fn keep_lease(&mut self, fence: bool, stops: Stops) -> Result<(), Phase> {
        let (Some(lock), Some(due)) = (&self.lock, self.renew_due()) else {
            return Ok(());
        };
        if !fence && self.now() < due {
            return Ok(());
        }
        let renewed = match self.race(stops, || lock.renew()).await {
            Ok(renewed) => renewed,
            Err(stop) if fence => {
                return Err(self.stopped_early(stop, "renewing the step run's lease", ""));
            }
            Err(_) => return Ok(()),
        };
        match renewed {
            Ok(()) => {
                self.renewed_at = self.now();
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "the lock of the step run is lost");
                self.lease_lost = true;
                Err(self.done(StepOutcome::Error, e.to_string()))
            }
        }
    }

    /// The step's end: its history entry (when it ran a task and still held the step run)
    /// and the lock given back.
    pub(super) async fn end(&mut self, result: StepResult) -> StepResult {
        let Some(lock) = self.lock.take() else {
            return result;
        };
        let state = self.ctx.state();
        if !self.lease_lost && result.task_id.is_some() {
            let entry = StepHistory::ended_now(
                &self.ctx.key(),
                self.target().clone(),
                result.outcome,
                result.elapsed,
            )
            .task_id(result.task_id.clone())
            .polls(result.polls)
            .running(self.ran_for);
            if let Err(e) = state.record_finished(&entry).await {
                // The step's outcome stands; only the history misses an entry.
                tracing::warn!(error = %e, "could not record the step in the history");
            }
        }
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "could not release the step run's lock");
        }
        result
    }
}
