//! The Integration API v2 under `/2/0`: discovery, tasks, dumps and model status.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use runwait_core::catalog::{
    ActionList, Chunk, ChunkList, ExportList, ImportList, Model, ModelList, ModelReply,
    ModelStatusReply, NamedObject, ProcessList, ProcessMetadata, ProcessMetadataReply,
    RequestStatus, Workspace, WorkspaceList,
};
use runwait_core::{
    ApiStatus, ObjectId, StartTaskReply, TaskId, TaskList, TaskStatusBody, TaskSummary,
};
use serde_json::Value;

use crate::auth::authorization;
use crate::dump;
use crate::reply::{Fail, Query, api_error, json, meta, page, paged_meta};
use crate::scenario::{JobKind, ModelSpec, WorkspaceSpec};
use crate::state::AppState;
use crate::world::{DumpGone, Phase, TaskRec, task_body};

type Sh = State<Arc<AppState>>;
type Reply = Result<Response, Fail>;

const OBJ: &str = "/2/0/workspaces/{ws}/models/{m}/{kind}/{id}";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/2/0/workspaces", get(workspaces))
        .route("/2/0/workspaces/{ws}/models", get(models))
        .route("/2/0/models/{m}", get(model_by_id))
        .route("/2/0/workspaces/{ws}/models/{m}", get(model_in_workspace))
        .route("/2/0/workspaces/{ws}/models/{m}/status", post(model_status))
        .route("/2/0/workspaces/{ws}/models/{m}/{kind}", get(objects))
        .route("/2/0/models/{m}/processes/{p}", get(process_metadata))
        .route(OBJ, get(object_metadata))
        .route(&format!("{OBJ}/tasks"), post(start).get(list))
        .route(&format!("{OBJ}/tasks/{{t}}"), get(status).delete(cancel))
        .route(
            &format!("{OBJ}/tasks/{{t}}/dump/chunks"),
            get(import_chunks),
        )
        .route(
            &format!("{OBJ}/tasks/{{t}}/dump/chunks/{{n}}"),
            get(import_chunk),
        )
        .route(
            &format!("{OBJ}/tasks/{{t}}/dumps/{{o}}/chunks"),
            get(process_chunks),
        )
        .route(
            &format!("{OBJ}/tasks/{{t}}/dumps/{{o}}/chunks/{{n}}"),
            get(process_chunk),
        )
}

/// The caller's user name, from a live `AnaplanAuthToken` (or `Bearer`) token.
fn user(sh: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<String, Fail> {
    authorization(headers, "AnaplanAuthToken")
        .or_else(|| authorization(headers, "Bearer"))
        .and_then(|t| sh.world().token_user(t, sh.clock.now()).map(str::to_owned))
        .ok_or_else(|| api_error(sh, StatusCode::UNAUTHORIZED, uri.path()).into())
}

fn not_found(sh: &AppState, uri: &Uri) -> Fail {
    api_error(sh, StatusCode::NOT_FOUND, uri.path()).into()
}

fn workspace<'a>(sh: &'a AppState, ws: &str, uri: &Uri) -> Result<&'a WorkspaceSpec, Fail> {
    sh.scenario
        .workspaces
        .iter()
        .find(|w| w.id.as_str() == ws)
        .ok_or_else(|| not_found(sh, uri))
}

fn model<'a>(
    sh: &'a AppState,
    ws: &str,
    m: &str,
    uri: &Uri,
) -> Result<(&'a WorkspaceSpec, &'a ModelSpec), Fail> {
    let w = workspace(sh, ws, uri)?;
    w.models
        .iter()
        .find(|x| x.id.as_str() == m)
        .map(|x| (w, x))
        .ok_or_else(|| not_found(sh, uri))
}

fn model_anywhere<'a>(
    sh: &'a AppState,
    m: &str,
    uri: &Uri,
) -> Result<(&'a WorkspaceSpec, &'a ModelSpec), Fail> {
    sh.scenario
        .workspaces
        .iter()
        .find_map(|w| w.models.iter().find(|x| x.id.as_str() == m).map(|x| (w, x)))
        .ok_or_else(|| not_found(sh, uri))
}

/// The model and the kind of a runnable object that exists in it.
fn object<'a>(
    sh: &'a AppState,
    (ws, m, kind, id): &(String, String, String, String),
    uri: &Uri,
) -> Result<(&'a ModelSpec, JobKind, ObjectId), Fail> {
    let (_, model) = model(sh, ws, m, uri)?;
    let kind = JobKind::from_segment(kind).ok_or_else(|| not_found(sh, uri))?;
    let id = ObjectId::new(id.as_str());
    if model.runnable(kind, &id).is_some() {
        Ok((model, kind, id))
    } else {
        Err(not_found(sh, uri))
    }
}

fn ok() -> Option<ApiStatus> {
    Some(ApiStatus::success())
}

// ---- discovery -----------------------------------------------------------------------

async fn workspaces(State(sh): Sh, headers: HeaderMap, uri: Uri, RawQuery(q): RawQuery) -> Reply {
    user(&sh, &headers, &uri)?;
    let all: Vec<Workspace> = sh
        .scenario
        .workspaces
        .iter()
        .map(|w| Workspace {
            id: w.id.clone(),
            name: w.name.clone(),
            active: Some(true),
            size_allowance: Some(10_000_000_000),
            current_size: Some(123_456_789),
        })
        .collect();
    let (meta, items) = page(&all, &Query::parse(q.as_deref()), "workspace");
    Ok(json(
        StatusCode::OK,
        &WorkspaceList {
            meta,
            status: ok(),
            items,
        },
    ))
}

fn model_body(sh: &AppState, w: &WorkspaceSpec, m: &ModelSpec, details: bool) -> Model {
    let running = details.then(|| {
        sh.world()
            .running(&sh.scenario, m, sh.clock.now())
            .is_some()
    });
    Model {
        id: m.id.clone(),
        name: m.name.clone(),
        active_state: Some("UNLOCKED".into()),
        current_workspace_id: Some(w.id.clone()),
        current_workspace_name: Some(w.name.clone()),
        model_transaction_running: running,
    }
}

async fn models(
    State(sh): Sh,
    Path(ws): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let w = workspace(&sh, &ws, &uri)?;
    let q = Query::parse(q.as_deref());
    let all: Vec<Model> = w
        .models
        .iter()
        .map(|m| model_body(&sh, w, m, q.flag("modelDetails")))
        .collect();
    let (meta, items) = page(&all, &q, "model");
    Ok(json(
        StatusCode::OK,
        &ModelList {
            meta,
            status: ok(),
            items,
        },
    ))
}

fn model_reply(sh: &AppState, w: &WorkspaceSpec, m: &ModelSpec, q: Option<&str>) -> Response {
    let details = Query::parse(q).flag("modelDetails");
    json(
        StatusCode::OK,
        &ModelReply {
            meta: Some(meta("model")),
            status: ok(),
            model: model_body(sh, w, m, details),
        },
    )
}

async fn model_by_id(
    State(sh): Sh,
    Path(m): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (w, m) = model_anywhere(&sh, &m, &uri)?;
    Ok(model_reply(&sh, w, m, q.as_deref()))
}

async fn model_in_workspace(
    State(sh): Sh,
    Path((ws, m)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (w, m) = model(&sh, &ws, &m, &uri)?;
    Ok(model_reply(&sh, w, m, q.as_deref()))
}

async fn objects(
    State(sh): Sh,
    Path((ws, m, kind)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (_, m) = model(&sh, &ws, &m, &uri)?;
    let q = Query::parse(q.as_deref());
    let named = |id: &ObjectId, name: &str, action_type: Option<String>| NamedObject {
        id: id.clone(),
        name: name.to_owned(),
        action_type,
    };
    let kind = JobKind::from_segment(&kind).ok_or_else(|| not_found(&sh, &uri))?;
    let all: Vec<NamedObject> = match kind {
        JobKind::Process => m
            .processes
            .iter()
            .map(|p| named(&p.id, &p.name, None))
            .collect(),
        // Only the actions listing says `actionType`.
        _ => m
            .jobs(kind)
            .iter()
            .map(|j| {
                let action_type = (kind == JobKind::Action).then(|| j.action_type_or_default(kind));
                named(&j.id, &j.name, action_type)
            })
            .collect(),
    };
    let (meta, items) = page(&all, &q, kind.object_kind().as_str());
    let status = ok();
    Ok(match kind {
        JobKind::Process => json(
            StatusCode::OK,
            &ProcessList {
                meta,
                status,
                items,
            },
        ),
        JobKind::Import => json(
            StatusCode::OK,
            &ImportList {
                meta,
                status,
                items,
            },
        ),
        JobKind::Export => json(
            StatusCode::OK,
            &ExportList {
                meta,
                status,
                items,
            },
        ),
        JobKind::Action => json(
            StatusCode::OK,
            &ActionList {
                meta,
                status,
                items,
            },
        ),
    })
}

fn metadata_reply(sh: &AppState, m: &ModelSpec, p: &str, uri: &Uri) -> Reply {
    let p = m
        .process(&ObjectId::new(p))
        .ok_or_else(|| not_found(sh, uri))?;
    let actions = p
        .actions
        .iter()
        .filter_map(|a| m.job(a))
        .map(|(kind, j)| NamedObject {
            id: j.id.clone(),
            name: j.name.clone(),
            action_type: Some(j.action_type_or_default(kind)),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &ProcessMetadataReply {
            meta: Some(meta("process")),
            status: ok(),
            process_metadata: ProcessMetadata {
                name: Some(p.name.clone()),
                actions,
            },
        },
    ))
}

async fn process_metadata(
    State(sh): Sh,
    Path((m, p)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (_, m) = model_anywhere(&sh, &m, &uri)?;
    metadata_reply(&sh, m, &p, &uri)
}

async fn object_metadata(
    State(sh): Sh,
    Path((ws, m, kind, id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (_, m) = model(&sh, &ws, &m, &uri)?;
    // Only a process's definition is served; other object metadata is out of scope.
    if kind != "processes" {
        return Err(not_found(&sh, &uri));
    }
    metadata_reply(&sh, m, &id, &uri)
}

async fn model_status(
    State(sh): Sh,
    Path((ws, m)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    let who = user(&sh, &headers, &uri)?;
    let (_, m) = model(&sh, &ws, &m, &uri)?;
    let running = sh.world().running(&sh.scenario, m, sh.clock.now());
    let request_status = match running {
        Some((t, progress)) => RequestStatus {
            task_id: Some(t.id.clone()),
            current_step: Some("Processing ...".into()),
            tooltip: Some(format!(
                "The system is currently processing an {}:\n\n{} started by user {}",
                t.kind.object_kind().as_str(),
                t.object,
                if t.user == who {
                    &t.user
                } else {
                    "another user"
                }
            )),
            progress: Some(progress),
            creation_time: Some(sh.clock.wall(t.created)),
        },
        None => RequestStatus {
            task_id: None,
            current_step: Some("Idle".into()),
            tooltip: None,
            progress: Some(-1.0),
            creation_time: None,
        },
    };
    Ok(json(
        StatusCode::OK,
        &ModelStatusReply {
            meta: Some(meta("modelStatus")),
            status: ok(),
            request_status,
        },
    ))
}

// ---- tasks ---------------------------------------------------------------------------

/// Checks a start body: `localeName` like `en_US`, optional `mappingParameters` as a list
/// of `{entityType, entityName}`.
fn valid_start_body(body: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let locale_ok = map
        .get("localeName")
        .and_then(Value::as_str)
        .is_some_and(|l| {
            let b = l.as_bytes();
            b.len() == 5
                && b[..2].iter().all(u8::is_ascii_lowercase)
                && b[2] == b'_'
                && b[3..].iter().all(u8::is_ascii_uppercase)
        });
    let mapping_ok = match map.get("mappingParameters") {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.iter().all(|i| {
            i.get("entityType").is_some_and(Value::is_string)
                && i.get("entityName").is_some_and(Value::is_string)
        }),
        Some(_) => false,
    };
    locale_ok && mapping_ok
}

async fn start(
    State(sh): Sh,
    Path(p): Path<(String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Reply {
    let who = user(&sh, &headers, &uri)?;
    let (model, kind, id) = object(&sh, &p, &uri)?;
    if !valid_start_body(&body) {
        return Err(api_error(&sh, StatusCode::BAD_REQUEST, uri.path()).into());
    }
    let now = sh.clock.now();
    let mut world = sh.world();
    let rec = world.start_task(model, kind, &id, &who, now);
    // Imports also say the state and creation time of the new task.
    let state = (kind == JobKind::Import)
        .then(|| world.task(&sh.scenario, model, &rec.id, now))
        .flatten()
        .map(|(_, phase)| phase.task_state());
    let reply = StartTaskReply {
        task_id: rec.id.clone(),
        creation_time: state.as_ref().map(|_| sh.clock.wall(rec.created)),
        task_state: state,
    };
    Ok(json(StatusCode::OK, &reply))
}

async fn list(
    State(sh): Sh,
    Path(p): Path<(String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (_, m) = model(&sh, &p.0, &p.1, &uri)?;
    let id = ObjectId::new(p.3.as_str());
    // An unknown object has no tasks: Anaplan answers 200 with an empty list.
    let all: Vec<TaskSummary> = sh
        .world()
        .object_tasks(&sh.scenario, m, &id, sh.clock.now())
        .into_iter()
        .map(|(t, phase)| TaskSummary {
            task_id: t.id.clone(),
            task_state: phase.task_state(),
            creation_time: Some(sh.clock.wall(t.created)),
        })
        .collect();
    let (meta, tasks) = page(&all, &Query::parse(q.as_deref()), "task");
    Ok(json(
        StatusCode::OK,
        &TaskList {
            meta,
            status: ok(),
            tasks,
        },
    ))
}

/// The task of this object with this id, with its phase now.
fn task_of<'a>(
    sh: &'a AppState,
    p: &(String, String, String, String),
    t: &str,
    uri: &Uri,
) -> Result<(&'a ModelSpec, TaskRec, Phase), Fail> {
    let (model, _, id) = object(sh, p, uri)?;
    let found = sh
        .world()
        .task(&sh.scenario, model, &TaskId::new(t), sh.clock.now())
        .filter(|(rec, _)| rec.object == id)
        .map(|(rec, phase)| (rec.clone(), phase));
    let (rec, phase) = found.ok_or_else(|| not_found(sh, uri))?;
    Ok((model, rec, phase))
}

fn status_reply(
    sh: &AppState,
    model: &ModelSpec,
    rec: &TaskRec,
    phase: Phase,
    details: bool,
) -> Response {
    json(
        StatusCode::OK,
        &TaskStatusBody {
            meta: Some(meta("task")),
            status: ok(),
            task: task_body(model, rec, phase, &sh.clock, details),
        },
    )
}

async fn status(
    State(sh): Sh,
    Path((ws, m, kind, id, t)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (model, rec, phase) = task_of(&sh, &(ws, m, kind, id), &t, &uri)?;
    let details = Query::parse(q.as_deref()).flag("includeProcessDetails");
    Ok(status_reply(&sh, model, &rec, phase, details))
}

async fn cancel(
    State(sh): Sh,
    Path((ws, m, kind, id, t)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    user(&sh, &headers, &uri)?;
    let (model, _, object) = object(&sh, &(ws, m, kind, id), &uri)?;
    let task_id = TaskId::new(t);
    let cancelled = {
        let mut world = sh.world();
        let rec = world
            .find(&task_id)
            .filter(|r| r.object == object && r.model == model.id)
            .cloned();
        rec.and_then(|rec| {
            let phase = world.cancel(&sh.scenario, model, &task_id, sh.clock.now())?;
            Some((rec, phase))
        })
    };
    let (rec, phase) = cancelled.ok_or_else(|| not_found(&sh, &uri))?;
    Ok(status_reply(&sh, model, &rec, phase, false))
}

// ---- dumps ---------------------------------------------------------------------------

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
    headers: &HeaderMap,
    p: &(String, String, String, String),
    t: &str,
    uri: &Uri,
) -> Result<Bytes, Fail> {
    let who = user(sh, headers, uri)?;
    if p.2 != "imports" {
        return Err(not_found(sh, uri));
    }
    dump_content(sh, &who, p, t, &ObjectId::new(p.3.as_str()), uri)
}

/// Process dumps live under `processes/{p}/tasks/{t}/dumps/{objectId}`, one per import.
fn process_dump(
    sh: &AppState,
    headers: &HeaderMap,
    p: &(String, String, String, String),
    t: &str,
    o: &str,
    uri: &Uri,
) -> Result<Bytes, Fail> {
    let who = user(sh, headers, uri)?;
    if p.2 != "processes" {
        return Err(not_found(sh, uri));
    }
    dump_content(sh, &who, p, t, &ObjectId::new(o), uri)
}

async fn import_chunks(
    State(sh): Sh,
    Path((ws, m, kind, id, t)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    let content = import_dump(&sh, &headers, &(ws, m, kind, id), &t, &uri)?;
    Ok(chunk_list(&sh, &content))
}

async fn import_chunk(
    State(sh): Sh,
    Path((ws, m, kind, id, t, n)): Path<(String, String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    let content = import_dump(&sh, &headers, &(ws, m, kind, id), &t, &uri)?;
    chunk_body(&sh, &content, &n, &uri)
}

async fn process_chunks(
    State(sh): Sh,
    Path((ws, m, kind, id, t, o)): Path<(String, String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    let content = process_dump(&sh, &headers, &(ws, m, kind, id), &t, &o, &uri)?;
    Ok(chunk_list(&sh, &content))
}

async fn process_chunk(
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
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    let content = process_dump(&sh, &headers, &(ws, m, kind, id), &t, &o, &uri)?;
    chunk_body(&sh, &content, &n, &uri)
}
