//! Failure dump contents: a CSV as Anaplan writes it, cut into chunks.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;
use runwait_core::{ModelId, ObjectId};

use crate::scenario::{JobKind, JobSpec, ModelSpec, Outcome};

/// Each import's dump, generated on first use: it depends only on the scenario, and a
/// download asks for it once per chunk.
#[derive(Debug, Default)]
pub(crate) struct DumpCache(Mutex<HashMap<(ModelId, ObjectId), Bytes>>);

impl DumpCache {
    /// The dump of `object` (an import of `model`) as its runs write it.
    pub(crate) fn get(&self, model: &ModelSpec, object: &ObjectId) -> Option<Bytes> {
        let (kind, job) = model.job(object)?;
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let content = cache
            .entry((model.id.clone(), object.clone()))
            .or_insert_with(|| content(job, dump_rows(kind, job)).into());
        Some(content.clone())
    }
}

/// The dump of `rows` rows of an import: source columns with a leading `_Status_`
/// (W warning, E error) and trailing `_Line_` and `_Error_1_`.
fn content(job: &JobSpec, rows: u64) -> Vec<u8> {
    let (status, error) = match job.outcome {
        Outcome::Warnings => ("W", "Value truncated to the column width"),
        _ => ("E", "Item not found in Parent list"),
    };
    let mut out = String::from("_Status_,Code,Name,Parent,_Line_,_Error_1_\n");
    for i in 1..=rows {
        out.push_str(&format!(
            "{status},C{i:05},\"{} row {i}\",All,{},\"{error}\"\n",
            job.name.replace('"', "\"\""),
            i + 1
        ));
    }
    out.into_bytes()
}

/// Rows in the job's dump (imports only).
pub(crate) fn dump_rows(kind: JobKind, j: &JobSpec) -> u64 {
    match (kind, j.outcome) {
        (JobKind::Import, Outcome::Warnings) => j.dump_rows.unwrap_or(3),
        (JobKind::Import, Outcome::Failure) => j.dump_rows.unwrap_or(0),
        _ => 0,
    }
}

/// How many chunks `len` bytes make (at least one, so an empty dump still lists a chunk).
pub(crate) fn chunk_count(len: usize, size: usize) -> usize {
    len.div_ceil(size).max(1)
}

/// Chunk `n` of `content`, if there is one.
pub(crate) fn chunk(content: &[u8], size: usize, n: usize) -> Option<&[u8]> {
    if n >= chunk_count(content.len(), size) {
        return None;
    }
    let start = n.saturating_mul(size).min(content.len());
    Some(&content[start..start.saturating_add(size).min(content.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_content_in_order() {
        let content: Vec<u8> = (0..=9).collect();
        assert_eq!(chunk_count(10, 4), 3);
        let joined: Vec<u8> = (0..3)
            .flat_map(|n| chunk(&content, 4, n).unwrap().to_vec())
            .collect();
        assert_eq!(joined, content);
        assert!(chunk(&content, 4, 3).is_none());
        assert_eq!(chunk(&[], 4, 0), Some(&[][..]));
    }
}
