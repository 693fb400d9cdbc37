//! Failure dumps: an import's under `…/dump`, a process's per import under
//! `…/dumps/{objectId}`, each as a chunk list and chunks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use runwait_core::ObjectId;
use runwait_core::catalog::{Chunk, ChunkList};

use super::lookup::{not_found, task_of};
use super::user::AuthUser;
use crate::dump;
use crate::reply::{Fail, Reply, json, ok, paged_meta};
use crate::state::{AppState, Sh};
use crate::world::DumpGone;

/// The dump of `object` from task `t`, if this user may still read it.
fn dump_content(
    sh: &AppState,
    who: &str,
    p: &(String, String, String, String),
    t: &str,
    object: &ObjectId,
    uri: &Uri,
) -> Result<Bytes, Fail> {
    let (model, rec, phase) = task_of(sh, p, t, uri)?;
    sh.world()
        .dump_available(model, &rec, phase, object, who)
        .map_err(|gone: DumpGone| {
            tracing::debug!(?gone, task = %rec.id, %object, "dump not available");
            not_found(sh, uri)
        })?;
    sh.dumps
        .get(model, object)
        .ok_or_else(|| not_found(sh, uri))
}

/// Every chunk, however many: the chunk list is not paged.
fn chunk_list(sh: &AppState, content: &[u8]) -> Response {
    let n = dump::chunk_count(content.len(), sh.scenario.dump_chunk_size);
    let items: Vec<Chunk> = (0..n)
        .map(|i| Chunk {
            id: i.to_string(),
            name: format!("Chunk {i}"),
        })
        .collect();
    json(
        StatusCode::OK,
        &ChunkList {
            meta: Some(paged_meta("chunk", n, n, 0)),
            status: ok(),
            items,
        },
    )
}

fn chunk_body(sh: &AppState, content: &Bytes, n: &str, uri: &Uri) -> Reply {
    let chunk = n
        .parse()
        .ok()
        .and_then(|n| dump::chunk(content, sh.scenario.dump_chunk_size, n))
        .ok_or_else(|| not_found(sh, uri))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        content.slice_ref(chunk),
    )
        .into_response())
}

/// Import dumps live under `imports/{i}/tasks/{t}/dump`.
fn import_dump(
    sh: &AppState,
    who: &str,
    p: &(String, String, String, String),
    t: &str,
    uri: &Uri,
) -> Result<Bytes, Fail> {
    if p.2 != "imports" {
        return Err(not_found(sh, uri));
    }
    dump_content(sh, who, p, t, &ObjectId::new(p.3.as_str()), uri)
}

/// Process dumps live under `processes/{p}/tasks/{t}/dumps/{objectId}`, one per import.
fn process_dump(
    sh: &AppState,
    who: &str,
    p: &(String, String, String, String),
    t: &str,
    o: &str,
    uri: &Uri,
) -> Result<Bytes, Fail> {
    if p.2 != "processes" {
        return Err(not_found(sh, uri));
    }
    dump_content(sh, who, p, t, &ObjectId::new(o), uri)
}

pub(super) async fn import_chunks(
    State(sh): Sh,
    Path((ws, m, kind, id, t)): Path<(String, String, String, String, String)>,
    AuthUser(who): AuthUser,
    uri: Uri,
) -> Reply {
    let content = import_dump(&sh, &who, &(ws, m, kind, id), &t, &uri)?;
    Ok(chunk_list(&sh, &content))
}

pub(super) async fn import_chunk(
    State(sh): Sh,
    Path((ws, m, kind, id, t, n)): Path<(String, String, String, String, String, String)>,
    AuthUser(who): AuthUser,
    uri: Uri,
) -> Reply {
    let content = import_dump(&sh, &who, &(ws, m, kind, id), &t, &uri)?;
    chunk_body(&sh, &content, &n, &uri)
}

pub(super) async fn process_chunks(
    State(sh): Sh,
    Path((ws, m, kind, id, t, o)): Path<(String, String, String, String, String, String)>,
    AuthUser(who): AuthUser,
    uri: Uri,
) -> Reply {
    let content = process_dump(&sh, &who, &(ws, m, kind, id), &t, &o, &uri)?;
    Ok(chunk_list(&sh, &content))
}

pub(super) async fn process_chunk(
    State(sh): Sh,
    Path((ws, m, kind, id, t, o, n)): Path<(
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    )>,
    AuthUser(who): AuthUser,
    uri: Uri,
) -> Reply {
    let content = process_dump(&sh, &who, &(ws, m, kind, id), &t, &o, &uri)?;
    chunk_body(&sh, &content, &n, &uri)
}
