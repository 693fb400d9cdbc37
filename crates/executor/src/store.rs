//! The state store: one small JSON file per step run, so a rerun after a crash finds the
//! task it started instead of starting another.
//!
//! Files are written atomically (temporary file, fsync, rename, fsync of the directory),
//! so a crash leaves either the old record or the new one, never half of one.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use runwait_anaplan::{KnownTasks, TaskTarget};
use runwait_core::TaskId;
use serde::{Deserialize, Serialize};

/// Identifies one run of a workflow; a rerun with the same key reattaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunKey(String);

impl RunKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        RunKey(key.into())
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the store remembers of one step run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The workflow's name.
    pub workflow: String,
    /// The step's id.
    pub step_id: String,
    /// The run's key.
    pub run_key: RunKey,
    /// What the step runs.
    pub target: TaskTarget,
    /// The object's tasks just before the start: a task beyond these, found after a
    /// crash between the start and the save of its id, is the one this run started.
    pub known_tasks: KnownTasks,
    /// The task, once the start answered.
    pub task_id: Option<TaskId>,
    /// W3C traceparent of the span that started the task, to link a reattached wait.
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("state store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the step run (the same workflow, step and run key).
    #[error("state store {path}: another run with the same run key is running this step")]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// A record is not valid JSON of the expected shape.
    #[error("state store {path}: unreadable record: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why it did not parse.
        source: serde_json::Error,
    },
}

/// A directory of step records.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// A store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one step run: `<workflow>.<step>.<run key>.json`, each part escaped.
    pub fn path(&self, workflow: &str, step_id: &str, run_key: &RunKey) -> PathBuf {
        self.dir.join(format!(
            "{}.{}.{}.json",
            escape(workflow),
            escape(step_id),
            escape(run_key.as_str())
        ))
    }

    /// The record of a step run, if any.
    pub fn load(
        &self,
        workflow: &str,
        step_id: &str,
        run_key: &RunKey,
    ) -> Result<Option<StepRecord>, StoreError> {
        match read_record(self.path(workflow, step_id, run_key)) {
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Saves a record atomically.
    pub fn save(&self, record: &StepRecord) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.path(&record.workflow, &record.step_id, &record.run_key);
        let json = serde_json::to_vec_pretty(record).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        write_atomically(&path, &json).map_err(io_error(&path))
    }

    /// Takes the step run for this process until the guard is dropped, so two runs with
    /// the same run key (a scheduler's overlapping retry) cannot both start its task.
    pub fn lock(
        &self,
        workflow: &str,
        step_id: &str,
        run_key: &RunKey,
    ) -> Result<StepLock, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.path(workflow, step_id, run_key).with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(StepLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy { path }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
        }
    }

    /// Every record in the store, sorted by file name; unreadable files are reported.
    pub fn list(&self) -> Result<Vec<Result<StepRecord, StoreError>>, StoreError> {
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

/// A step run held by this process (an OS file lock, released on drop or exit).
#[derive(Debug)]
pub struct StepLock {
    _file: std::fs::File,
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

/// `<dir>/.<name>.tmp`: beside the target, so the rename stays on one file system.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Makes a rename durable by syncing its directory.
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
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
    use runwait_anaplan::TaskKind;

    fn record(task: Option<&str>) -> StepRecord {
        StepRecord {
            workflow: "nightly load".into(),
            step_id: "load/actuals".into(),
            run_key: RunKey::new("2026-11-28"),
            target: TaskTarget::new("w", "M", TaskKind::Process, "118000000001"),
            known_tasks: KnownTasks::default(),
            task_id: task.map(TaskId::new),
            traceparent: None,
        }
    }

    #[test]
    fn records_round_trip_and_names_are_escaped() {
        let dir = std::env::temp_dir().join(format!("runwait-store-{}", std::process::id()));
        let store = StateStore::new(&dir);
        let r = record(None);
        assert_eq!(
            store.load(&r.workflow, &r.step_id, &r.run_key).unwrap(),
            None
        );
        store.save(&r).unwrap();
        let r2 = record(Some("ABC"));
        store.save(&r2).unwrap();
        assert_eq!(
            store.load(&r.workflow, &r.step_id, &r.run_key).unwrap(),
            Some(r2)
        );
        let path = store.path(&r.workflow, &r.step_id, &r.run_key);
        assert_eq!(
            path.file_name().unwrap(),
            "nightly%20load.load%2Factuals.2026-11-28.json"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        let held = store.lock(&r.workflow, &r.step_id, &r.run_key).unwrap();
        let again = store.lock(&r.workflow, &r.step_id, &r.run_key).unwrap_err();
        assert!(
            again
                .to_string()
                .contains("another run with the same run key"),
            "{again}"
        );
        drop(held);
        store.lock(&r.workflow, &r.step_id, &r.run_key).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_record_names_its_file() {
        let dir =
            std::env::temp_dir().join(format!("runwait-store-corrupt-{}", std::process::id()));
        let store = StateStore::new(&dir);
        let r = record(None);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(store.path(&r.workflow, &r.step_id, &r.run_key), "{").unwrap();
        let err = store.load(&r.workflow, &r.step_id, &r.run_key).unwrap_err();
        assert!(err.to_string().contains("unreadable record"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
