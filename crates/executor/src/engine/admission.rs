//! At most [`AT_ONCE`] steps of the process are in their first phases at a time: taking
//! the step run's lock and reading the records of earlier runs. Thousands of steps that
//! start together queue there for the state store (the file store runs 16 operations at
//! a time), and a queued store call holds its own future and the phase around it, about
//! a kilobyte a step; a step that waits here holds nothing beyond its own future. Only
//! store calls are made in these phases, never a network call to Anaplan, so a slow
//! tenant's steps cannot hold the places of another's.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Steps in their first phases at once: four times the file store's operations at once,
/// so the store always has work queued. 10,000 steps starting together peak about 4 MB
/// lower with it, and start about as fast; 16 places saved nothing more (BENCHMARKS.md,
/// session 13).
const AT_ONCE: usize = 64;

static FIRST_PHASES: Semaphore = Semaphore::const_new(AT_ONCE);

/// A step's place among those in their first phases, freed when dropped. `None` only if
/// the semaphore were closed, which it never is: the step then goes on without a place.
pub(crate) type Admitted = Option<SemaphorePermit<'static>>;

/// Waits for a place.
pub(crate) async fn admitted() -> Admitted {
    FIRST_PHASES.acquire().await.ok()
}
