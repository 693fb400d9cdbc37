//! [`FileStore`]: one small JSON file per step run, `<dir>/<workflow>.<step>.<run key>.json`
//! (each part escaped), and a `.lock` file beside it held with an OS lock while a run
//! works on the step. Files are written atomically. The history of finished steps is one
//! append-only JSON-lines file beside them, `<dir>/history.jsonl` (owner-only on Unix).
//! The work runs on tokio's blocking pool, so a slow disk never stalls the async workers.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{HistoryQuery, StateStore, StepHistory, StepKey, StepLock, StepRecord, StoreError};
use crate::atomic::write_atomically;

/// A directory of step records: the default store, and the `runwait` CLI's.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// The directory used when none is given: `.runwait/state`, the CLI's default.
    pub const DEFAULT_DIR: &'static str = ".runwait/state";

    /// A store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The history of finished steps: one JSON line each, oldest first.
    pub fn history_path(&self) -> PathBuf {
        self.dir.join("history.jsonl")
    }

    /// The file of one step run: `<workflow>.<step>.<run key>.json`, each part escaped.
    pub fn path(&self, key: &StepKey) -> PathBuf {
        self.dir.join(format!(
            "{}.{}.{}.json",
            escape(&key.workflow),
            escape(&key.step_id),
            escape(key.run_key.as_str())
        ))
    }

    fn load_blocking(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        match read_record(self.path(key)) {
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    fn save_blocking(&self, record: &StepRecord) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.path(&record.key());
        let json = serde_json::to_vec_pretty(record).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        write_atomically(&path, &json).map_err(io_error(&path))
    }

    fn lock_blocking(&self, key: &StepKey) -> Result<FileLock, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.path(key).with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(FileLock {
                key: key.clone(),
                _file: file,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy {
                location: path.display().to_string(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
        }
    }

    fn list_blocking(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        Ok(paths.into_iter().map(read_record).collect())
    }

    fn append_history_blocking(&self, entry: &StepHistory) -> Result<(), StoreError> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.history_path();
        let mut line = serde_json::to_vec(entry).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        line.push(b'\n');
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io_error(&path))?;
        // One write of a whole line: appends of concurrent processes do not interleave.
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(io_error(&path))
    }

    fn history_blocking(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        let path = self.history_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let entries = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<Vec<StepHistory>, _>>()
            .map_err(|source| StoreError::Corrupt { path, source })?;
        Ok(query.select(entries.into_iter()))
    }

    /// Runs `f` on a clone of the store on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(FileStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(store))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }
}

impl Default for FileStore {
    fn default() -> Self {
        FileStore::new(FileStore::DEFAULT_DIR)
    }
}

#[async_trait]
impl StateStore for FileStore {
    async fn lock(&self, key: &StepKey) -> Result<Box<dyn StepLock>, StoreError> {
        let key = key.clone();
        let lock = self.blocking(move |s| s.lock_blocking(&key)).await?;
        Ok(Box::new(lock))
    }

    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        let key = key.clone();
        self.blocking(move |s| s.load_blocking(&key)).await
    }

    async fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.blocking(move |s| s.save_blocking(&record)).await
    }

    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        self.blocking(|s| s.list_blocking()).await
    }

    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.blocking(move |s| s.append_history_blocking(&entry))
            .await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        let query = query.clone();
        self.blocking(move |s| s.history_blocking(&query)).await
    }
}

/// A step run held by this process (an OS file lock, released on drop or exit).
#[derive(Debug)]
struct FileLock {
    key: StepKey,
    _file: std::fs::File,
}

impl StepLock for FileLock {
    fn key(&self) -> &StepKey {
        &self.key
    }
}

/// Reads and parses one record file.
fn read_record(path: PathBuf) -> Result<StepRecord, StoreError> {
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path, source })
}

/// Maps an I/O error on `path` to a [`StoreError`] naming it.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, source }
}

/// Keeps `[A-Za-z0-9_-]` and percent-encodes the rest, so any id makes a safe file name.
fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunKey;
    use runwait_core::TaskId;
    use runwait_core::target::{KnownTasks, TaskKind, TaskTarget};

    fn key() -> StepKey {
        StepKey::new("nightly load", "load/actuals", RunKey::new("2026-11-28"))
    }

    fn record(task: Option<&str>) -> StepRecord {
        StepRecord::new(
            &key(),
            TaskTarget::new("w", "M", TaskKind::Process, "118000000001"),
            KnownTasks::default(),
        )
        .task_id(task.map(TaskId::new))
    }

    #[tokio::test]
    async fn records_round_trip_and_names_are_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        assert_eq!(store.load(&key()).await.unwrap(), None);
        store.save(&record(None)).await.unwrap();
        let r2 = record(Some("ABC"));
        store.save(&r2).await.unwrap();
        assert_eq!(store.load(&key()).await.unwrap(), Some(r2.clone()));
        let path = store.path(&key());
        assert_eq!(
            path.file_name().unwrap(),
            "nightly%20load.load%2Factuals.2026-11-28.json"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        let listed: Vec<StepRecord> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(listed, vec![r2]);
        let held = store.lock(&key()).await.unwrap();
        assert_eq!(held.key(), &key());
        let again = store.lock(&key()).await.unwrap_err();
        assert!(
            again
                .to_string()
                .contains("another run with the same run key"),
            "{again}"
        );
        drop(held);
        store.lock(&key()).await.unwrap();
    }

    #[test]
    fn the_file_layout_of_earlier_runs_is_read_back() {
        // What the CLI wrote before the store became a trait.
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        std::fs::write(
            store.path(&key()),
            r#"{
  "workflow": "nightly load",
  "step_id": "load/actuals",
  "run_key": "2026-11-28",
  "target": {"workspace": "w", "model": "M", "kind": "process", "object": "118000000001"},
  "known_tasks": [],
  "task_id": "ABC"
}"#,
        )
        .unwrap();
        assert_eq!(
            store.load_blocking(&key()).unwrap(),
            Some(record(Some("ABC")))
        );
    }

    #[tokio::test]
    async fn history_is_appended_owner_only_and_read_newest_first() {
        use crate::step::StepOutcome;
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let target = record(None).target;
        let other = TaskTarget::new("w", "M", TaskKind::Import, "112000000001");
        for (i, t) in [&target, &other, &target].into_iter().enumerate() {
            let entry = StepHistory::ended_now(
                &key(),
                t.clone(),
                StepOutcome::Succeeded,
                Duration::from_secs(i as u64 + 1),
            )
            .polls(i as u32);
            store.record_finished(&entry).await.unwrap();
        }
        let mine = store
            .history(&HistoryQuery::newest(10).target(target.clone()))
            .await
            .unwrap();
        let polls: Vec<u32> = mine.iter().map(|e| e.polls).collect();
        assert_eq!(polls, vec![2, 0], "newest first, only the target's");
        assert_eq!(
            store.history(&HistoryQuery::newest(1)).await.unwrap().len(),
            1
        );
        assert_eq!(
            store.list().await.unwrap().len(),
            0,
            "the history is not a record"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.history_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_corrupt_record_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        std::fs::write(store.path(&key()), "{").unwrap();
        let err = store.load(&key()).await.unwrap_err();
        assert!(err.to_string().contains("unreadable record"), "{err}");
    }
}
