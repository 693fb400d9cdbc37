//! [`FileStore`]: one small JSON file per step run, `<dir>/<workflow>.<step>.<run key>.json`
//! (each part escaped; a long one cut and given a hash, see [`FileStore::path`]), and a
//! `.lease` file beside it naming the run that works on the step: a lease renewed by the
//! engine, not a file held open, so a process keeps no file descriptor per waiting step
//! (see `lease_file.rs` for how a crashed holder is told from a live one). Files are
//! written atomically, owner-only (0600, the directory 0700). The history of finished
//! steps is one append-only JSON-lines file beside them, `<dir>/history.jsonl`. The work
//! runs on tokio's blocking pool, a few operations at a time (`blocking.rs`), so a slow
//! disk or many steps starting together never stall the async workers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::blocking::blocking;
use super::lease_file::FileLease;
use super::tail::TailError;
use super::{
    HistoryQuery, StateStore, StepHistory, StepKey, StepLock, StepRecord, StoreError, io_error,
};
use crate::atomic::{create_private_dir_all, private_file, write_atomically};

/// Bytes of the escaped key kept before the hash of a name over [`FileStore::MAX_STEM`].
const KEPT: usize = 120;

/// A directory of step records: the default store, and the `runwait` CLI's.
#[derive(Debug, Clone)]
pub struct FileStore {
    /// Shared: each held lease keeps the store, to find its file again, rather than
    /// the file's path (10,000 waiting steps hold 10,000 leases).
    dir: Arc<Path>,
    lease: Duration,
}

impl FileStore {
    /// The longest file name before `.json` kept whole: with `.json`, `.lock` and the
    /// temporary file's `.` and `.tmp`, well under the 255 bytes of common file systems.
    pub const MAX_STEM: usize = 160;

    /// The directory used when none is given: `.runwait/state`, the CLI's default.
    pub const DEFAULT_DIR: &'static str = ".runwait/state";

    /// How long a step run's lease lasts unless renewed, by default. It matters only
    /// to a run on another machine sharing the directory: a crashed holder on this
    /// machine is noticed at once.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

    /// A store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStore {
            dir: Arc::from(dir.into()),
            lease: Self::DEFAULT_LEASE,
        }
    }

    /// With step-run leases of `lease` (at least a second), renewed every third of it.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long a step run's lease lasts unless renewed.
    pub(super) fn lease_duration(&self) -> Duration {
        self.lease
    }

    /// The history of finished steps: one JSON line each, oldest first.
    pub fn history_path(&self) -> PathBuf {
        self.dir.join("history.jsonl")
    }

    /// The file of one step run: `<workflow>.<step>.<run key>.json`, each part escaped.
    /// A name longer than [`MAX_STEM`](Self::MAX_STEM) bytes before `.json` (file systems allow 255, and
    /// escaping triples non-ASCII text) keeps its first bytes, readable, and ends in `~`
    /// and a hash of the whole key; shorter names are what they always were, so an
    /// upgrade reattaches to the tasks of earlier runs.
    pub fn path(&self, key: &StepKey) -> PathBuf {
        self.dir.join(format!("{}.json", file_stem(key)))
    }

    /// The lease file of one step run: [`path`](Self::path) ending in `.lease`. Empty
    /// when free; while held, the holder (host, process, expiry) as one JSON line.
    pub fn lease_path(&self, key: &StepKey) -> PathBuf {
        self.path(key).with_extension("lease")
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
        create_private_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.path(&record.key());
        let json = serde_json::to_vec_pretty(record).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        write_atomically(&path, &json).map_err(io_error(&path))
    }

    fn list_blocking(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.dir.to_path_buf(),
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
        create_private_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.history_path();
        let mut line = serde_json::to_vec(entry).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        line.push(b'\n');
        let mut file = private_file()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        // One write of a whole line: appends of concurrent processes do not interleave.
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(io_error(&path))
    }

    /// The entries `query` asks for, read from the file's end: only as far back as the
    /// newest `limit` that match (a corrupt line past them is not even read).
    fn history_blocking(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        let path = self.history_path();
        let mut found = Vec::new();
        if query.limit == 0 {
            return Ok(found);
        }
        let read = super::tail::newest_first(&path, |line| {
            let entry: StepHistory = serde_json::from_slice(line)?;
            if query.matches(&entry) {
                found.push(entry);
            }
            Ok(found.len() >= query.limit)
        });
        match read {
            Ok(()) => Ok(found),
            Err(TailError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(TailError::Io(source)) => Err(StoreError::Io { path, source }),
            Err(TailError::Line(source)) => Err(StoreError::Corrupt { path, source }),
        }
    }

    /// `job` on copies of the store and of `arg` on tokio's blocking pool, a few at a
    /// time; the copies are made once a slot is free, so a queued operation holds only
    /// its borrowed argument.
    async fn blocking<A: Clone + Send + 'static, T: Send + 'static>(
        &self,
        arg: &A,
        job: fn(&FileStore, &A) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        blocking(|| {
            let (store, arg) = (self.clone(), arg.clone());
            move || job(&store, &arg)
        })
        .await
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
        let take = |s: &FileStore, key: &StepKey| FileLease::take(key, s);
        Ok(Box::new(self.blocking(key, take).await?))
    }

    async fn load(&self, key: &StepKey) -> Result<Option<StepRecord>, StoreError> {
        self.blocking(key, FileStore::load_blocking).await
    }

    async fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        self.blocking(record, FileStore::save_blocking).await
    }

    async fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
        self.blocking(&(), |s, ()| s.list_blocking()).await
    }

    async fn record_finished(&self, entry: &StepHistory) -> Result<(), StoreError> {
        self.blocking(entry, FileStore::append_history_blocking)
            .await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<StepHistory>, StoreError> {
        self.blocking(query, FileStore::history_blocking).await
    }
}

/// Reads and parses one record file.
fn read_record(path: PathBuf) -> Result<StepRecord, StoreError> {
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path, source })
}

/// `<workflow>.<step>.<run key>` escaped, or its first [`KEPT`] bytes, `~` and 16 hex
/// digits of the SHA-256 of the whole key. `~` is never in an escaped part, so a cut
/// name cannot be the whole name of another key.
fn file_stem(key: &StepKey) -> String {
    let stem = format!(
        "{}.{}.{}",
        escape(&key.workflow),
        escape(&key.step_id),
        escape(key.run_key.as_str())
    );
    if stem.len() <= FileStore::MAX_STEM {
        return stem;
    }
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    // NUL cannot be in a name, so the parts cannot run into each other.
    for part in [&key.workflow, &key.step_id, key.run_key.as_str()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    // Cut before an escape (`%XX`), never inside one.
    let mut cut = KEPT;
    while let Some(at) = stem[..cut].rfind('%').filter(|at| at + 3 > cut) {
        cut = at;
    }
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}~{hex}", &stem[..cut])
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
    async fn long_keys_get_bounded_readable_names_and_work() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let japanese = "夜間ロード実績計画予算売上原価在庫人員配置需要予測月次締め処理確認";
        let keys = [
            StepKey::new(japanese, "load", RunKey::new("2026-11-28")),
            StepKey::new("w", "s".repeat(300), RunKey::new("k")),
            StepKey::new("w", "s", RunKey::new("k".repeat(1000))),
            // Two keys alike in their first bytes get different files.
            StepKey::new("w", "s", RunKey::new(format!("{}1", "k".repeat(1000)))),
        ];
        let mut names = Vec::new();
        for key in &keys {
            let name = store
                .path(key)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(name.len() <= FileStore::MAX_STEM + ".json".len(), "{name}");
            assert!(name.contains('~'), "{name}");
            let held = store.lock(key).await.unwrap();
            let r = StepRecord::new(
                key,
                TaskTarget::new("w", "M", TaskKind::Process, "118000000001"),
                KnownTasks::default(),
            );
            store.save(&r).await.unwrap();
            assert_eq!(store.load(key).await.unwrap(), Some(r));
            drop(held);
            names.push(name);
        }
        assert!(names[0].starts_with("%E5%A4%9C%E9%96%93"), "{}", names[0]);
        assert!(names[1].starts_with("w.sss"), "{}", names[1]);
        names.dedup();
        assert_eq!(names.len(), keys.len());
        assert_eq!(store.list().await.unwrap().len(), keys.len());
    }

    #[test]
    fn names_up_to_the_bound_are_kept_whole() {
        let store = FileStore::new("d");
        let key = StepKey::new("w", "s", RunKey::new("k".repeat(FileStore::MAX_STEM - 4)));
        let name = store.path(&key);
        assert_eq!(
            name.file_name().unwrap().to_str().unwrap(),
            format!("w.s.{}.json", "k".repeat(FileStore::MAX_STEM - 4))
        );
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
