//! Atomic file writes (temporary file, fsync, rename, fsync of the directory), so a crash
//! leaves either the old file or the new one, never half of one; and owner-only files
//! and directories, since state and dumps hold task ids and the rows of a model.
//! Blocking: callers run them on tokio's blocking pool.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of the files runwait creates: the owner reads and writes, nobody else.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// Mode of the directories runwait creates.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let mut file = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

/// Options that create a file owner-only (0600 on Unix); the caller says how it opens.
pub(crate) fn private_file() -> std::fs::OpenOptions {
    #[cfg_attr(not(unix), expect(unused_mut))]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Creates `dir` and its missing parents owner-only (0700 on Unix). Directories that
/// exist keep their mode: they may be shared on purpose.
pub(crate) fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn files_and_directories_are_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir_all(&dir).unwrap();
        let file = dir.join("f.json");
        write_atomically(&file, b"{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
}
