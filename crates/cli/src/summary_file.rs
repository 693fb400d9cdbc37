//! `--summary-file`: the JSON document written where a scheduler reads it (Argo's output
//! parameters, Airflow's XCom), so that a reader never sees half of it and nobody else
//! on the machine can read it.

use std::io::Write;
use std::path::Path;

/// Writes `json` to `path` through a temporary file beside it (created readable by its
/// owner only), synced, then renamed over `path`. The directory is created when missing.
pub fn write(path: &Path, json: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // tempfile creates the file with mode 0600 on Unix.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(json.as_bytes())?;
    file.write_all(b"\n")?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
