//! Tasks of an object: start, list, status and cancel.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use runwait_core::{ObjectId, StartTaskReply, TaskId, TaskList, TaskStatusBody, TaskSummary};
use serde_json::Value;

use super::lookup::{model, model_in_any_state, not_found, object, task_of};
use super::user::AuthUser;
use crate::ids::user_id;
use crate::reply::{Fail, Query, Reply, api_error, json, meta, ok, page};
use crate::result::task_body;
use crate::scenario::{JobKind, ModelSpec, ModelState};
use crate::state::{AppState, Sh};
use crate::task::{Phase, TaskRec};

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

pub(super) async fn start(
    State(sh): Sh,
    Path(p): Path<(String, String, String, String)>,
    // Checked only once the body is read, so an oversized body answers 413 before any
    // token check, as it always has.
    who: Result<AuthUser, Fail>,
    uri: Uri,
    body: Bytes,
) -> Reply {
    let AuthUser(who) = who?;
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

pub(super) async fn list(
    State(sh): Sh,
    Path(p): Path<(String, String, String, String)>,
    _: AuthUser,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    let (_, m) = model_in_any_state(&sh, &p.0, &p.1, &uri)?;
    let id = ObjectId::new(p.3.as_str());
    let query = Query::parse(q.as_deref());
    // An unknown object, or a model the user has no access to, has no tasks: Anaplan
    // answers 200 with an empty list. An archived or locked model answers its status.
    let mut all: Vec<TaskSummary> = match m.state {
        ModelState::NoAccess => Vec::new(),
        _ => {
            let (_, m) = model(&sh, &p.0, &p.1, &uri)?;
            sh.world()
                .object_tasks(&sh.scenario, m, &id, sh.clock.now())
                .into_iter()
                .map(|(t, phase)| TaskSummary {
                    task_id: t.id.clone(),
                    task_state: phase.task_state(),
                    creation_time: Some(sh.clock.wall(t.created)),
                    user_id: sh.scenario.task_list_users.then(|| user_id(&t.user)),
                })
                .collect()
        }
    };
    // Oldest first unless asked otherwise; `sort=-creationDate` is newest first.
    if query.get("sort") == Some("-creationDate") {
        all.reverse();
    }
    let (meta, tasks) = page(&all, &query, "task");
    Ok(json(
        StatusCode::OK,
        &TaskList {
            meta,
            status: ok(),
            tasks,
        },
    ))
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

pub(super) async fn status(
    State(sh): Sh,
    Path((ws, m, kind, id, t)): Path<(String, String, String, String, String)>,
    _: AuthUser,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    let (model, rec, phase) = task_of(&sh, &(ws, m, kind, id), &t, &uri)?;
    let details = Query::parse(q.as_deref()).flag("includeProcessDetails");
    Ok(status_reply(&sh, model, &rec, phase, details))
}

pub(super) async fn cancel(
    State(sh): Sh,
    Path((ws, m, kind, id, t)): Path<(String, String, String, String, String)>,
    _: AuthUser,
    uri: Uri,
) -> Reply {
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
