//! [`MemoryStore`]: step records in memory, for tests and for hosts that keep nothing
//! between processes (a rerun in a new process cannot reattach).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{HistoryQuery, StateStore, StepHistory, StepKey, StepLock, StepRecord, StoreError};

/// Step records in memory. Clones share them; its lock is exclusive within the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<StepKey, StepRecord>,
    held: BTreeSet<StepKey>,
    /// Finished steps, oldest first.
    history: Vec<StepHistory>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn lock(&self, key: &StepKey) -> Result<Box<dyn StepLock>, StoreError> {
        if !self.inner().held.insert(key.clone()) {
            return Err(StoreError::Busy {
                location: format!("memory {key}"),
            });
        }
        Ok(Box::new(MemoryLock {
            key: key.clone(),
            store: self.clone(),
        }))
    }

    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        Ok(self.inner().records.get(key).cloned())
    }

    async fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        self.inner().records.insert(record.key(), record.clone());
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        Ok(self.inner().records.values().cloned().map(Ok).collect())
    }

    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        self.inner().history.push(entry.clone());
        Ok(())
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        Ok(query.select(self.inner().history.iter().cloned()))
    }
}

/// A held step run; dropping it frees it.
#[derive(Debug)]
struct MemoryLock {
    key: StepKey,
    store: MemoryStore,
}

impl StepLock for MemoryLock {
    fn key(&self) -> &StepKey {
        &self.key
    }
}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        self.store.inner().held.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runwait_core::target::{KnownTasks, TaskKind, TaskTarget};

    #[tokio::test]
    async fn records_are_kept_and_the_lock_is_exclusive() {
        let store = MemoryStore::new();
        let key = StepKey::new("w", "s", "r1");
        assert_eq!(store.load(&key).await.unwrap(), None);
        let record = StepRecord::new(
            &key,
            TaskTarget::new("w", "M", TaskKind::Process, "118000000001"),
            KnownTasks::default(),
        );
        store.save(&record).await.unwrap();
        assert_eq!(store.clone().load(&key).await.unwrap(), Some(record));
        assert_eq!(store.list().await.unwrap().len(), 1);
        let held = store.lock(&key).await.unwrap();
        let busy = store.lock(&key).await.unwrap_err();
        assert!(
            busy.to_string()
                .contains("another run with the same run key"),
            "{busy}"
        );
        store.lock(&StepKey::new("w", "s", "r2")).await.unwrap();
        drop(held);
        store.lock(&key).await.unwrap();
    }

    #[tokio::test]
    async fn history_is_kept_newest_first() {
        use crate::step::StepOutcome;
        let store = MemoryStore::new();
        let key = StepKey::new("w", "s", "r1");
        let target = TaskTarget::new("w", "M", TaskKind::Process, "118000000001");
        for polls in 0..3 {
            let entry = StepHistory::ended_now(
                &key,
                target.clone(),
                StepOutcome::Failed,
                std::time::Duration::from_secs(1),
            )
            .polls(polls);
            store.record_finished(&entry).await.unwrap();
        }
        let newest = store.history(&HistoryQuery::newest(2)).await.unwrap();
        assert_eq!(
            newest.iter().map(|e| e.polls).collect::<Vec<_>>(),
            vec![2, 1]
        );
        let other = HistoryQuery::newest(5).workflow("other");
        assert!(store.history(&other).await.unwrap().is_empty());
    }
}
