//! Reading a JSON-lines file from its end: the newest history entries are read without
//! reading the whole file, so a step's look at an object's past runs costs the same
//! after a year of history as after a day.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much is read from the end at a time.
const CHUNK: u64 = 64 * 1024;

/// Why a read from the end stopped.
#[derive(Debug)]
pub(super) enum TailError<E> {
    /// The file could not be read.
    Io(std::io::Error),
    /// `visit` refused a line.
    Line(E),
}

/// Hands the non-blank lines of `path` to `visit`, the last first, until it says it has
/// enough (`Ok(true)`) or the first line is passed.
pub(super) fn newest_first<E>(
    path: &Path,
    visit: impl FnMut(&[u8]) -> Result<bool, E>,
) -> Result<(), TailError<E>> {
    newest_first_in(path, CHUNK, visit)
}

fn newest_first_in<E>(
    path: &Path,
    chunk: u64,
    mut visit: impl FnMut(&[u8]) -> Result<bool, E>,
) -> Result<(), TailError<E>> {
    let mut file = File::open(path).map_err(TailError::Io)?;
    let mut end = file.metadata().map_err(TailError::Io)?.len();
    // The end of a line whose start is in the part not read yet.
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(chunk);
        let mut buf = vec![0; (end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(TailError::Io)?;
        buf.extend_from_slice(&carry);
        // Above the file's start, the chunk's first line may begin in the chunk before:
        // up to its first newline (or all of it, without one) it waits for that chunk.
        let head = match (start, buf.iter().position(|&b| b == b'\n')) {
            (0, _) => None,
            (_, Some(newline)) => Some(newline),
            (_, None) => Some(buf.len()),
        };
        let lines = head.map_or(0, |h| (h + 1).min(buf.len()));
        for line in buf[lines..].rsplit(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if visit(line).map_err(TailError::Line)? {
                return Ok(());
            }
        }
        carry = match head {
            Some(h) => {
                buf.truncate(h);
                buf
            }
            None => Vec::new(),
        };
        end = start;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines read from `text` with chunks of `chunk` bytes, at most `limit`.
    fn read(text: &str, chunk: u64, limit: usize) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut lines = Vec::new();
        newest_first_in(&path, chunk, |line| {
            lines.push(String::from_utf8(line.to_vec()).unwrap());
            Ok::<_, ()>(lines.len() >= limit)
        })
        .unwrap();
        lines
    }

    #[test]
    fn lines_come_newest_first_whatever_the_chunks() {
        let text = "first line\n\nsecond\n  \nthe third, longer than a chunk\nlast\n";
        let all = vec![
            "last",
            "the third, longer than a chunk",
            "second",
            "first line",
        ];
        for chunk in [1, 2, 3, 5, 7, 64, 1024] {
            assert_eq!(read(text, chunk, 10), all, "chunks of {chunk}");
            assert_eq!(read(text, chunk, 2), all[..2], "chunks of {chunk}, two");
        }
        assert_eq!(read("a\nb", 2, 10), ["b", "a"], "no final newline");
        assert!(read("", 4, 10).is_empty());
    }

    #[test]
    fn a_missing_file_and_a_refused_line_are_told_apart() {
        let missing = newest_first(Path::new("/nonexistent/h.jsonl"), |_| Ok::<_, ()>(false));
        assert!(matches!(missing, Err(TailError::Io(_))));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        std::fs::write(&path, "ok\nbad\n").unwrap();
        let refused = newest_first(
            &path,
            |line| if line == b"bad" { Err(7) } else { Ok(false) },
        );
        assert!(matches!(refused, Err(TailError::Line(7))));
    }
}
