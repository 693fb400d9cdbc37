//! Discovery: workspaces, models, object listings, process metadata and model status.

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use runwait_core::ObjectId;
use runwait_core::catalog::{
    ActionList, ExportList, ImportList, Model, ModelList, ModelReply, ModelStatusReply,
    NamedObject, ProcessList, ProcessMetadata, ProcessMetadataReply, RequestStatus, Workspace,
    WorkspaceList,
};

use super::lookup::{model, model_anywhere, not_found, workspace};
use super::user::AuthUser;
use crate::ids::user_id;
use crate::reply::{Query, Reply, api_error, json, meta, ok, page};
use crate::scenario::{JobKind, ModelSpec, WorkspaceSpec};
use crate::state::{AppState, Sh};

pub(super) async fn workspaces(State(sh): Sh, _: AuthUser, RawQuery(q): RawQuery) -> Reply {
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

pub(super) async fn models(
    State(sh): Sh,
    Path(ws): Path<String>,
    _: AuthUser,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
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

pub(super) async fn model_by_id(
    State(sh): Sh,
    Path(m): Path<String>,
    _: AuthUser,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
    let (w, m) = model_anywhere(&sh, &m, &uri)?;
    Ok(model_reply(&sh, w, m, q.as_deref()))
}

/// `GET /workspaces/{ws}/models/{m}`: live tenants answer 405 (a model is read at
/// `/models/{m}`).
pub(super) async fn model_in_workspace(State(sh): Sh, _: AuthUser, uri: Uri) -> Reply {
    Err(api_error(&sh, StatusCode::METHOD_NOT_ALLOWED, uri.path()).into())
}

/// `GET /users/me`: the caller, as Anaplan's Users API describes it.
pub(super) async fn me(AuthUser(who): AuthUser) -> Reply {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "meta": meta("user"),
            "status": ok(),
            "user": {"id": user_id(&who), "active": true, "email": who},
        }),
    ))
}

pub(super) async fn objects(
    State(sh): Sh,
    Path((ws, m, kind)): Path<(String, String, String)>,
    _: AuthUser,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Reply {
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

pub(super) async fn process_metadata(
    State(sh): Sh,
    Path((m, p)): Path<(String, String)>,
    _: AuthUser,
    uri: Uri,
) -> Reply {
    let (_, m) = model_anywhere(&sh, &m, &uri)?;
    metadata_reply(&sh, m, &p, &uri)
}

pub(super) async fn object_metadata(
    State(sh): Sh,
    Path((ws, m, kind, id)): Path<(String, String, String, String)>,
    _: AuthUser,
    uri: Uri,
) -> Reply {
    let (_, m) = model(&sh, &ws, &m, &uri)?;
    // Only a process's definition is served; other object metadata is out of scope.
    if kind != "processes" {
        return Err(not_found(&sh, &uri));
    }
    metadata_reply(&sh, m, &id, &uri)
}

pub(super) async fn model_status(
    State(sh): Sh,
    Path((ws, m)): Path<(String, String)>,
    AuthUser(who): AuthUser,
    uri: Uri,
) -> Reply {
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
