//! Failure dumps: an import's under `…/dump`, a process's per import under
//! `…/dumps/{objectId}`, each as a chunk list and chunks.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use runwait_core::ObjectId;
use runwait_core::catalog::{Chunk, ChunkList};

use super::lookup::{not_found, task_of};
use super::user::AuthUser;
use crate::dump;
use crate::reply::{Fail, Query, Reply, api_error, json, ok, page};
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
        .dump_available(model, &rec, phase, object, who, sh.clock.now())
        .map_err(|gone: DumpGone| {
            tracing::debug!(?gone, task = %rec.id, %object, "dump not available");
            not_found(sh, uri)
        })?;
    sh.dumps
        .get(model, object)
        .ok_or_else(|| not_found(sh, uri))
}

/// The chunk list, paged like every listing (`offset`/`limit`).
fn chunk_list(sh: &AppState, content: &[u8], query: Option<&str>) -> Response {
    let n = dump::chunk_count(content.len(), sh.scenario.dump_chunk_size);
    let items: Vec<Chunk> = (0..n)
        .map(|i| Chunk {
            id: i.to_string(),
            name: format!("Chunk {i}"),
        })
        .collect();
    let (meta, items) = page(&items, &Query::parse(query), "chunk");
    json(
        StatusCode::OK,
        &ChunkList {
            meta,
            status: ok(),
            items,
        },
    )
}

/// A chunk is the dump's text, not JSON: a client that accepts only JSON gets 406. Not
/// recorded Anaplan behaviour (no public source covers it): a guard, so a test sees the
/// `Accept` the client sends.
fn accepts_chunk(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim();
        matches!(
            media.to_ascii_lowercase().as_str(),
            "*/*" | "text/*" | "text/plain" | "text/csv" | "application/octet-stream"
        )
    })
}

fn chunk_body(sh: &AppState, content: &Bytes, n: &str, uri: &Uri, headers: &HeaderMap) -> Reply {
    if !accepts_chunk(headers) {
        return Err(api_error(sh, StatusCode::NOT_ACCEPTABLE, uri.path()).into());
    }
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
    RawQuery(q): RawQuery,
) -> Reply {
    let content = import_dump(&sh, &who, &(ws, m, kind, id), &t, &uri)?;
    Ok(chunk_list(&sh, &content, q.as_deref()))
}

pub(super) async fn import_chunk(
    State(sh): Sh,
    Path((ws, m, kind, id, t, n)): Path<(String, String, String, String, String, String)>,
    AuthUser(who): AuthUser,
    uri: Uri,
    headers: HeaderMap,
) -> Reply {
    let content = import_dump(&sh, &who, &(ws, m, kind, id), &t, &uri)?;
    chunk_body(&sh, &content, &n, &uri, &headers)
}

pub(super) async fn process_chunks(
    State(sh): Sh,
    Path((ws, m, kind, id, t, o)): Path<(String, String, String, String, String, String)>,
    AuthUser(who): AuthUser,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    let content = process_dump(&sh, &who, &(ws, m, kind, id), &t, &o, &uri)?;
    Ok(chunk_list(&sh, &content, q.as_deref()))
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
    headers: HeaderMap,
) -> Reply {
    let content = process_dump(&sh, &who, &(ws, m, kind, id), &t, &o, &uri)?;
    chunk_body(&sh, &content, &n, &uri, &headers)
}
