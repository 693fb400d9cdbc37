//! Failure dumps to disk: every action with a dump, downloaded right after the task
//! ends (Anaplan deletes dumps when the same user runs the import again), written
//! atomically and owner-only, counted, and checked against the action's counts: a dump
//! with fewer rows than the task reported is downloaded again, and one that stays short
//! is kept but marked incomplete, never reported as written.

use std::path::{Path, PathBuf};

use runwait_core::catalog::NamedObject;
use runwait_core::target::{DumpSource, TaskKind, TaskTarget};
use runwait_core::{NestedSummary, ObjectId, RowCounts, TaskId};

use crate::api::{ApiError, TaskApi};
use crate::atomic::{create_private_dir_all, private_file, sync_dir, temp_path};
use crate::step::DumpFile;

/// One dump to fetch: which action, where to write it, the rows it must have.
pub(crate) struct DumpJob {
    pub(crate) object_id: ObjectId,
    pub(crate) source: DumpSource,
    pub(crate) path: PathBuf,
    pub(crate) expected: ExpectedRows,
}

/// The rows a dump must hold at least, from the action's counts where it gives them:
/// `failedCount` rows with `_Status_` E and `warningsRowCount` rows with W.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExpectedRows {
    errors: Option<u64>,
    warnings: Option<u64>,
}

impl ExpectedRows {
    fn of(counts: &RowCounts) -> Self {
        ExpectedRows {
            errors: counts.failed_count,
            warnings: counts.warnings_row_count,
        }
    }

    /// Why a dump with these rows is short, if it is. More rows than the counts is not
    /// short: only a dump that lacks rows the task reported is incomplete.
    fn shortfall(&self, errors: u64, warnings: u64) -> Option<String> {
        let short: Vec<String> = [
            (errors, self.errors, "error"),
            (warnings, self.warnings, "warning"),
        ]
        .into_iter()
        .filter_map(|(got, want, what)| {
            let want = want.filter(|w| got < *w)?;
            Some(format!("{got} of {want} {what} rows"))
        })
        .collect();
        (!short.is_empty()).then(|| short.join(", "))
    }
}

/// The dumps of a finished task: one per action that has one (the nested results of a
/// process, or the import itself), numbered by the action's place in the task.
pub(crate) fn jobs(
    target: &TaskTarget,
    actions: &[NestedSummary],
    dir: &Path,
    names: &[NamedObject],
) -> Vec<DumpJob> {
    actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.failure_dump_available)
        .map(|(index, a)| {
            let object_id = a.object_id.clone().unwrap_or_else(|| target.object.clone());
            let source = match target.kind {
                TaskKind::Process => DumpSource::ProcessAction(object_id.clone()),
                _ => DumpSource::Import,
            };
            let name = a
                .object_name
                .clone()
                .or_else(|| {
                    names
                        .iter()
                        .find(|n| n.id == object_id)
                        .map(|n| n.name.clone())
                })
                .unwrap_or_else(|| "dump".to_owned());
            let path = dir.join(format!("{}-{}-{}.csv", index + 1, object_id, slug(&name)));
            DumpJob {
                object_id,
                source,
                path,
                expected: ExpectedRows::of(&a.counts),
            }
        })
        .collect()
}

/// How one download of a dump ended.
pub(crate) enum Fetched {
    /// Written to its path (or gone, or kept as incomplete on the last download).
    Done(DumpFile),
    /// Fewer rows than the task's counts: download it again.
    Short(String),
}

/// Downloads one dump through a temporary file; a 404 means the dump is gone. A dump
/// with fewer rows than its action's counts is [`Fetched::Short`], unless `last`: then
/// it is kept beside its path as `<name>.csv.incomplete` and marked incomplete, so no
/// reader takes it for the whole dump.
pub(crate) async fn fetch(
    api: &dyn TaskApi,
    target: &TaskTarget,
    task: &TaskId,
    job: &DumpJob,
    last: bool,
) -> Result<Fetched, ApiError> {
    let write_error = |source: std::io::Error| {
        ApiError::permanent(format!(
            "writing the dump of GET {}: {source}",
            job.path.display()
        ))
    };
    let tmp = temp_path(&job.path);
    let file = {
        let (dir, tmp) = (job.path.parent().map(Path::to_owned), tmp.clone());
        blocking(move || {
            if let Some(dir) = dir {
                create_private_dir_all(&dir)?;
            }
            private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(tmp)
        })
        .await
        .map_err(write_error)?
    };
    let mut file = tokio::fs::File::from_std(file);
    let bytes = match api
        .download_dump(target, task, &job.source, &mut file)
        .await
    {
        Ok(bytes) => bytes,
        Err(e) => {
            drop(file);
            let _ = tokio::fs::remove_file(&tmp).await;
            return if e.is_not_found() {
                Ok(Fetched::Done(DumpFile::missing(
                    job.object_id.clone(),
                    true,
                )))
            } else {
                Err(e)
            };
        }
    };
    file.sync_all().await.map_err(write_error)?;
    drop(file);
    // The count reads the whole file: off the async workers.
    let counted = {
        let tmp = tmp.clone();
        blocking(move || count_rows(&tmp))
            .await
            .map_err(write_error)
    };
    // A dump whose rows cannot be read is kept as it came: that only costs the counts.
    let (error_rows, warning_rows) = counted.unwrap_or_else(|e| {
        tracing::warn!(error = %e, path = %job.path.display(), "cannot count the rows of the dump");
        (0, 0)
    });
    let shortfall = job.expected.shortfall(error_rows, warning_rows);
    let path = match &shortfall {
        Some(why) if !last => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Ok(Fetched::Short(why.clone()));
        }
        Some(_) => incomplete_path(&job.path),
        None => job.path.clone(),
    };
    tokio::fs::rename(&tmp, &path).await.map_err(write_error)?;
    let synced = path.clone();
    blocking(move || sync_dir(&synced))
        .await
        .map_err(write_error)?;
    Ok(Fetched::Done(DumpFile {
        object_id: job.object_id.clone(),
        path: Some(path),
        gone: false,
        bytes,
        error_rows,
        warning_rows,
        incomplete: shortfall,
    }))
}

/// `<name>.csv.incomplete`: beside the path, and not a `.csv` a reader would pick up.
fn incomplete_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".incomplete");
    path.with_file_name(name)
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// Rows whose `_Status_` (the first column) is `E` and `W`.
fn count_rows(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(std::io::Error::other)?;
    let (mut errors, mut warnings) = (0, 0);
    // Bytes, not text: a dump echoes source rows in whatever encoding they came.
    for record in reader.byte_records() {
        match record
            .map_err(std::io::Error::other)?
            .get(0)
            .map(<[u8]>::trim_ascii)
        {
            Some(b"E") => errors += 1,
            Some(b"W") => warnings += 1,
            _ => {}
        }
    }
    Ok((errors, warnings))
}

/// A file-name-safe form of an object name, without a trailing `.csv`.
fn slug(name: &str) -> String {
    let name = name.strip_suffix(".csv").unwrap_or(name);
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if slug.is_empty() {
        "dump".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe() {
        assert_eq!(
            slug("Customers from customers.csv"),
            "Customers_from_customers"
        );
        assert_eq!(slug("../etc/passwd"), ".._etc_passwd");
        assert_eq!(slug(""), "dump");
    }

    #[test]
    fn a_dump_is_short_only_with_fewer_rows_than_the_counts() {
        let expected = ExpectedRows {
            errors: Some(300),
            warnings: None,
        };
        assert_eq!(expected.shortfall(300, 7), None);
        assert_eq!(expected.shortfall(301, 0), None);
        assert_eq!(
            expected.shortfall(270, 0).as_deref(),
            Some("270 of 300 error rows")
        );
        assert_eq!(ExpectedRows::default().shortfall(0, 0), None);
        assert_eq!(
            incomplete_path(Path::new("out/s/1-112-Customers.csv")),
            Path::new("out/s/1-112-Customers.csv.incomplete")
        );
    }

    #[test]
    fn rows_are_counted_by_status() {
        let path = std::env::temp_dir().join(format!("runwait-count-{}.csv", std::process::id()));
        std::fs::write(&path, b"_Status_,Name,\"Note\",_Line_,_Error_1_\nE,a,\"x,\ny\",2,bad\nW,b\xe9,,3,warn\nE,c,,4,bad\n").unwrap();
        assert_eq!(count_rows(&path).unwrap(), (2, 1));
        std::fs::remove_file(path).unwrap();
    }
}
