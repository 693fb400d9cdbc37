//! Finding what a URL names in the scenario and the world; anything missing is 404.

use axum::http::{StatusCode, Uri};
use runwait_core::{ObjectId, TaskId};

use crate::reply::{Fail, api_error};
use crate::scenario::{JobKind, ModelSpec, ModelState, WorkspaceSpec};
use crate::state::AppState;
use crate::task::{Phase, TaskRec};

pub(super) fn not_found(sh: &AppState, uri: &Uri) -> Fail {
    api_error(sh, StatusCode::NOT_FOUND, uri.path()).into()
}

pub(super) fn workspace<'a>(
    sh: &'a AppState,
    ws: &str,
    uri: &Uri,
) -> Result<&'a WorkspaceSpec, Fail> {
    sh.scenario
        .workspaces
        .iter()
        .find(|w| w.id.as_str() == ws)
        .ok_or_else(|| not_found(sh, uri))
}

/// A model that answers calls: an archived one is 422, a locked one 423, one the
/// user has no access to 404.
pub(super) fn model<'a>(
    sh: &'a AppState,
    ws: &str,
    m: &str,
    uri: &Uri,
) -> Result<(&'a WorkspaceSpec, &'a ModelSpec), Fail> {
    let (w, model) = model_in_any_state(sh, ws, m, uri)?;
    usable(sh, model, uri)?;
    Ok((w, model))
}

/// A model whatever its state.
pub(super) fn model_in_any_state<'a>(
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

fn usable(sh: &AppState, model: &ModelSpec, uri: &Uri) -> Result<(), Fail> {
    let status = match model.state {
        ModelState::Online => return Ok(()),
        ModelState::Archived => StatusCode::UNPROCESSABLE_ENTITY,
        ModelState::Locked => StatusCode::LOCKED,
        ModelState::NoAccess => StatusCode::NOT_FOUND,
    };
    Err(api_error(sh, status, uri.path()).into())
}

pub(super) fn model_anywhere<'a>(
    sh: &'a AppState,
    m: &str,
    uri: &Uri,
) -> Result<(&'a WorkspaceSpec, &'a ModelSpec), Fail> {
    let (w, model) = sh
        .scenario
        .workspaces
        .iter()
        .find_map(|w| w.models.iter().find(|x| x.id.as_str() == m).map(|x| (w, x)))
        .ok_or_else(|| not_found(sh, uri))?;
    usable(sh, model, uri)?;
    Ok((w, model))
}

/// The model and the kind of a runnable object that exists in it.
pub(super) fn object<'a>(
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

/// The task of this object with this id, with its phase now.
pub(super) fn task_of<'a>(
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
