//! Response helpers: JSON bodies and the documented error envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runwait_core::catalog::ApiError;
use runwait_core::token::AuthFailure;
use runwait_core::{ApiStatus, Meta, Paging};
use serde::Serialize;

use crate::clock::iso8601;
use crate::state::AppState;

/// An error answer, boxed because a `Response` is large for the `Err` side of a `Result`.
#[derive(Debug)]
pub(crate) struct Fail(Box<Response>);

impl From<Response> for Fail {
    fn from(r: Response) -> Self {
        Fail(Box::new(r))
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A handler's answer: an error is a whole response too.
pub(crate) type Reply = Result<Response, Fail>;

/// The `status` of a successful API reply.
pub(crate) fn ok() -> Option<ApiStatus> {
    Some(ApiStatus::success())
}

/// A JSON body with a status.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `{"status":{"code":…,"message":…},"path":…,"timestamp":…}` with that status.
pub(crate) fn api_error(sh: &AppState, status: StatusCode, path: &str) -> Response {
    let body = ApiError {
        status: ApiStatus {
            code: status.as_u16(),
            message: Some(status.canonical_reason().unwrap_or("Error").to_owned()),
        },
        path: Some(path.to_owned()),
        timestamp: Some(iso8601(sh.clock.wall(sh.clock.now()))),
    };
    json(status, &body)
}

/// The auth service's failure body.
pub(crate) fn auth_failure(status: StatusCode, message: &str) -> Response {
    let code = if status == StatusCode::UNAUTHORIZED {
        "FAILURE_BAD_CREDENTIAL"
    } else {
        // Live tenants answer a malformed Authorization header with this code.
        "FAILURE_BAD_HEADER"
    };
    json(
        status,
        &AuthFailure {
            status: code.to_owned(),
            status_message: Some(message.to_owned()),
        },
    )
}

/// `meta` with a schema URL like Anaplan's.
pub(crate) fn meta(schema: &str) -> Meta {
    Meta {
        schema: Some(format!("https://api.anaplan.com/2/0/objects/{schema}")),
        paging: None,
    }
}

/// `meta` of a page of `size` items from `offset` in a listing of `total`.
pub(crate) fn paged_meta(schema: &str, size: usize, total: usize, offset: usize) -> Meta {
    Meta {
        paging: Some(Paging {
            current_page_size: size as u64,
            total_size: total as u64,
            offset: offset as u64,
        }),
        ..meta(schema)
    }
}

/// One page of `items` by `offset`/`limit`, with the `meta.paging` that describes it.
pub(crate) fn page<T: Clone>(items: &[T], query: &Query, schema: &str) -> (Option<Meta>, Vec<T>) {
    let offset = query.number("offset").unwrap_or(0).min(items.len());
    let limit = query.number("limit").unwrap_or(5000).clamp(1, 5000);
    let page: Vec<T> = items.iter().skip(offset).take(limit).cloned().collect();
    let meta = paged_meta(schema, page.len(), items.len(), offset);
    (Some(meta), page)
}

/// The few query parameters the API reads. Parsed by hand so a malformed query is
/// ignored rather than answered with a non-envelope rejection.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Query(
            raw.unwrap_or("")
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (kv.to_owned(), String::new()),
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn number(&self, key: &str) -> Option<usize> {
        self.get(key).and_then(|v| v.parse().ok())
    }
}
