//! The file store's blocking work (reads, atomic writes with their `fsync`s, lease
//! files) runs on tokio's blocking pool, a few operations at a time. Unbounded, 10,000
//! steps starting together had hundreds of blocking threads at once, which took the
//! CPU from the async workers and stalled their timers by 180 ms; the disk serialises
//! the `fsync`s anyway, so a few in flight lose no throughput.

use tokio::sync::Semaphore;

use super::StoreError;

/// File-store operations on the blocking pool at once, in the whole process.
const AT_ONCE: usize = 16;

static SLOTS: Semaphore = Semaphore::const_new(AT_ONCE);

/// Runs the job `prepare` makes on tokio's blocking pool once one of the process's
/// slots is free. The job is made only then: thousands of operations queued for a slot
/// hold their borrowed arguments, not copies of them.
pub(super) async fn blocking<T: Send + 'static, J>(
    prepare: impl FnOnce() -> J,
) -> Result<T, StoreError>
where
    J: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    // The semaphore is never closed.
    let slot = SLOTS
        .acquire()
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let job = prepare();
    // The job holds its slot: a caller that stops waiting (a renewal raced by a detach)
    // does not free it while the job still runs.
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        job()
    })
    .await
    .map_err(|e| StoreError::Backend(Box::new(e)))?
}
