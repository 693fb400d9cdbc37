//! The authenticated caller of an API call, as an extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::auth::authorization;
use crate::reply::{Fail, api_error};
use crate::state::AppState;

/// The user name behind a live `AnaplanAuthToken` (or OAuth `Bearer`) token. A missing,
/// unknown, expired or revoked token is rejected with 401 and the API's error envelope.
#[derive(Debug, Clone)]
pub(crate) struct AuthUser(pub(crate) String);

impl FromRequestParts<Arc<AppState>> for AuthUser {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, sh: &Arc<AppState>) -> Result<Self, Fail> {
        let headers = &parts.headers;
        authorization(headers, "AnaplanAuthToken")
            .or_else(|| authorization(headers, "Bearer"))
            .and_then(|t| sh.world().token_user(t, sh.clock.now()).map(str::to_owned))
            .map(AuthUser)
            .ok_or_else(|| api_error(sh, StatusCode::UNAUTHORIZED, parts.uri.path()).into())
    }
}
