//! Failure dumps: the chunk list and the download of every chunk in order. Each chunk is
//! one idempotent call under the retry policy and is read whole before a byte of it is
//! written, so a chunk whose body is cut off is fetched again and never written twice.

use reqwest::Method;
use runwait_core::catalog::{Chunk, ChunkList};
use runwait_core::{DumpSource, ParseError, TaskId, TaskTarget};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::segments;
use crate::error::{RequestLine, TransportKind};
use crate::transport::read_bytes;
use crate::{Client, Error};

fn dump_segments<'a>(
    target: &'a TaskTarget,
    task: &'a TaskId,
    source: &'a DumpSource,
) -> Vec<&'a str> {
    match source {
        DumpSource::Import => segments(target, &["tasks", task.as_str(), "dump", "chunks"]),
        DumpSource::ProcessAction(object) => segments(
            target,
            &["tasks", task.as_str(), "dumps", object.as_str(), "chunks"],
        ),
    }
}

impl Client {
    /// The chunks of a dump. A dump that is gone answers [`Error::NotFound`].
    pub async fn dump_chunks(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
    ) -> Result<Vec<Chunk>, Error> {
        // Long dumps have long chunk lists: read every page.
        self.paged(
            None,
            &dump_segments(target, task, source),
            &[],
            ChunkList::parse,
            |l| (l.meta, l.items),
        )
        .await
    }

    /// Downloads every chunk of a dump in order into `out`. Returns the bytes written.
    ///
    /// Each chunk is held in memory whole before it is written (a chunk is bounded by
    /// Anaplan's chunk size, a few megabytes; the dump as a whole never is), so a chunk
    /// whose body breaks off is fetched again under the retry policy and `out` receives
    /// every byte exactly once. An error after the retries leaves the chunks before it
    /// written: write to a temporary file and keep it only on success.
    pub async fn download_dump<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
        out: &mut W,
    ) -> Result<u64, Error> {
        let chunks = self.dump_chunks(target, task, source).await?;
        // Chunk ids count from "0" (Anaplan's docs): a list that skips one would write a
        // dump with a hole in it.
        if chunks
            .iter()
            .enumerate()
            .any(|(n, c)| c.id != n.to_string())
        {
            let list = self.request(Method::GET, &dump_segments(target, task, source), &[]);
            return Err(Error::Malformed {
                request: list.line().owned(),
                source: ParseError::NotA(
                    "the chunk list is not the chunks 0, 1, 2, … in order: the dump would have a hole",
                ),
            });
        }
        let mut written = 0u64;
        for chunk in chunks {
            let mut segments = dump_segments(target, task, source);
            segments.push(chunk.id.as_str());
            let mut req = self.request(Method::GET, &segments, &[]);
            // A chunk is the dump's CSV text, not JSON: ask for what it is.
            req.accept = "*/*";
            req.timeout = Some(self.inner.chunk_timeout);
            let req = &req;
            let bytes = self
                .retrying(req, None, |resend, turn| async move {
                    let response = self.inner.session.send(req, resend, turn).await?;
                    let announced = response.content_length();
                    let bytes = read_bytes(req.line(), response).await?;
                    // A chunk shorter than its Content-Length is cut off: fetch it again.
                    match announced {
                        Some(n) if n != bytes.len() as u64 => Err(Error::Transport {
                            request: req.line().owned(),
                            kind: TransportKind::Broken,
                            message: format!(
                                "the chunk body has {} bytes, its Content-Length says {n}",
                                bytes.len()
                            ),
                        }),
                        _ => Ok(bytes),
                    }
                })
                .await?;
            out.write_all(&bytes).await.map_err(|source| Error::Write {
                request: req.line().owned(),
                source,
            })?;
            written += bytes.len() as u64;
        }
        out.flush().await.map_err(|source| Error::Write {
            request: RequestLine {
                method: "GET".into(),
                path: "dump".into(),
            },
            source,
        })?;
        Ok(written)
    }
}
