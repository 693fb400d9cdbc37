//! Control routes under `/__sim` for tests in other processes: read the journal and the
//! tasks, add faults. They are not journaled and never hit by faults.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::fault::Fault;
use crate::reply::json;
use crate::state::{AppState, Sh};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__sim/journal", get(journal))
        .route("/__sim/tasks", get(tasks))
        .route("/__sim/faults", axum::routing::post(add_fault))
}

async fn journal(State(sh): Sh) -> Response {
    json(StatusCode::OK, &sh.world().journal)
}

async fn tasks(State(sh): Sh) -> Response {
    json(StatusCode::OK, &sh.snapshots())
}

/// Takes one fault as JSON, in the scenario's shape.
async fn add_fault(State(sh): Sh, body: Bytes) -> Response {
    let added = serde_json::from_slice::<Fault>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| sh.add_fault(f).map_err(|e| e.to_string()));
    match added {
        Ok(()) => json(StatusCode::CREATED, &json!({"status": "armed"})),
        Err(message) => json(StatusCode::BAD_REQUEST, &json!({ "error": message })),
    }
}
