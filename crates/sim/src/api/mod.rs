//! The Integration API v2 under `/2/0`: discovery, tasks, dumps and model status. Every
//! handler takes an [`AuthUser`](user::AuthUser), so an unauthenticated call is 401.

mod catalog;
mod dumps;
mod lookup;
mod tasks;
mod user;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use catalog::{
    me, model_by_id, model_in_workspace, model_status, models, object_metadata, objects,
    process_metadata, workspaces,
};
use dumps::{import_chunk, import_chunks, process_chunk, process_chunks};
use tasks::{cancel, list, start, status};

const OBJ: &str = "/2/0/workspaces/{ws}/models/{m}/{kind}/{id}";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/2/0/users/me", get(me))
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
