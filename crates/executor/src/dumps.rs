//! Failure dumps to disk: every action with a dump, downloaded right after the task
//! ends (Anaplan deletes dumps when the same user runs the import again), written
//! atomically, and counted.

use std::path::{Path, PathBuf};

use runwait_core::catalog::NamedObject;
use runwait_core::target::{DumpSource, TaskKind, TaskTarget};
use runwait_core::{NestedSummary, ObjectId, TaskId};

use crate::api::{ApiError, TaskApi};
use crate::atomic::{sync_dir, temp_path};
use crate::step::DumpFile;

/// One dump to fetch: which action, where to write it.
pub(crate) struct DumpJob {
    pub(crate) object_id: ObjectId,
    pub(crate) source: DumpSource,
    pub(crate) path: PathBuf,
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
            }
        })
        .collect()
}

/// Downloads one dump to its path through a temporary file; a 404 means the dump is gone.
pub(crate) async fn fetch(
    api: &dyn TaskApi,
    target: &TaskTarget,
    task: &TaskId,
    job: &DumpJob,
) -> Result<DumpFile, ApiError> {
    let write_error = |source: std::io::Error| {
        ApiError::permanent(format!(
            "writing the dump of GET {}: {source}",
            job.path.display()
        ))
    };
    if let Some(dir) = job.path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(write_error)?;
    }
    let tmp = temp_path(&job.path);
    let mut file = tokio::fs::File::create(&tmp).await.map_err(write_error)?;
    let bytes = match api
        .download_dump(target, task, &job.source, &mut file)
        .await
    {
        Ok(bytes) => bytes,
        Err(e) => {
            drop(file);
            let _ = tokio::fs::remove_file(&tmp).await;
            return if e.is_not_found() {
                Ok(DumpFile::missing(job.object_id.clone(), true))
            } else {
                Err(e)
            };
        }
    };
    file.sync_all().await.map_err(write_error)?;
    drop(file);
    tokio::fs::rename(&tmp, &job.path)
        .await
        .map_err(write_error)?;
    // The directory sync and the count read the disk: off the async workers.
    let path = job.path.clone();
    let (synced, counted) =
        tokio::task::spawn_blocking(move || (sync_dir(&path), count_rows(&path)))
            .await
            .map_err(|e| write_error(std::io::Error::other(e)))?;
    synced.map_err(write_error)?;
    // The file is on disk whatever the counting says: a row it cannot read only costs
    // the counts.
    let (error_rows, warning_rows) = counted.unwrap_or_else(|e| {
        tracing::warn!(error = %e, path = %job.path.display(), "cannot count the rows of the dump");
        (0, 0)
    });
    Ok(DumpFile {
        object_id: job.object_id.clone(),
        path: Some(job.path.clone()),
        gone: false,
        bytes,
        error_rows,
        warning_rows,
    })
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
    fn rows_are_counted_by_status() {
        let path = std::env::temp_dir().join(format!("runwait-count-{}.csv", std::process::id()));
        std::fs::write(&path, b"_Status_,Name,\"Note\",_Line_,_Error_1_\nE,a,\"x,\ny\",2,bad\nW,b\xe9,,3,warn\nE,c,,4,bad\n").unwrap();
        assert_eq!(count_rows(&path).unwrap(), (2, 1));
        std::fs::remove_file(path).unwrap();
    }
}
