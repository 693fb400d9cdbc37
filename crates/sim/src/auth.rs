//! The auth service: `/token/authenticate` (basic and certificate), `refresh`,
//! `validate` and `logout`; and the OAuth refresh-token grant at `/oauth/token`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use runwait_core::token::{
    AuthMeta, AuthReply, CertificateAuthRequest, OAuthTokenReply, TokenInfo, TokenValue,
};

use crate::reply::{auth_failure, json};
use crate::scenario::CertificateMatch;
use crate::state::{AppState, Sh};
use crate::tokens::OAuthGrant;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/token/authenticate", post(authenticate))
        .route("/token/refresh", post(refresh))
        .route("/token/validate", get(validate))
        .route("/token/logout", post(logout))
        .route("/oauth/token", post(oauth_token))
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
enum AuthError {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("bad credentials")]
    BadCredential,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match self {
            AuthError::Malformed(_) => StatusCode::BAD_REQUEST,
            AuthError::BadCredential => StatusCode::UNAUTHORIZED,
        };
        auth_failure(status, &self.to_string())
    }
}

fn reply(
    status: StatusCode,
    message: &str,
    token_info: TokenInfo,
    headers: &HeaderMap,
) -> Response {
    // Point `validationUrl` at this listener, as Anaplan points it at its own host.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    json(
        status,
        &AuthReply {
            meta: Some(AuthMeta {
                validation_url: Some(format!("http://{host}/token/validate")),
            }),
            status: "SUCCESS".into(),
            status_message: Some(message.into()),
            token_info,
        },
    )
}

pub(crate) fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix(scheme)?
        .strip_prefix(' ')
        .map(str::trim)
}

async fn authenticate(
    State(sh): Sh,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthError> {
    let user = if let Some(basic) = authorization(&headers, "Basic") {
        basic_user(&sh, basic)?
    } else if let Some(cert) = authorization(&headers, "CACertificate") {
        certificate_user(&sh, cert, &body)?
    } else {
        return Err(AuthError::Malformed(
            "expected `Authorization: Basic …` or `Authorization: CACertificate …`".into(),
        ));
    };
    let info = sh
        .world()
        .issue_token(&user, &sh.clock, sh.scenario.token_ttl);
    Ok(reply(
        StatusCode::CREATED,
        "Login successful",
        info,
        &headers,
    ))
}

fn basic_user(sh: &AppState, encoded: &str) -> Result<String, AuthError> {
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            AuthError::Malformed("basic credentials are not base64 of user:password".into())
        })?;
    let (name, password) = decoded
        .split_once(':')
        .ok_or_else(|| AuthError::Malformed("basic credentials lack a `:`".into()))?;
    sh.scenario
        .users
        .iter()
        .find(|u| u.name == name && u.password.as_deref() == Some(password))
        .map(|u| u.name.clone())
        .ok_or(AuthError::BadCredential)
}

fn certificate_user(sh: &AppState, encoded_pem: &str, body: &[u8]) -> Result<String, AuthError> {
    let request: CertificateAuthRequest = serde_json::from_slice(body)
        .map_err(|e| AuthError::Malformed(format!("certificate login body: {e}")))?;
    let identity = crate::cert::verify(encoded_pem, &request).map_err(|e| match e {
        crate::cert::CertError::BadSignature => AuthError::BadCredential,
        other => AuthError::Malformed(other.to_string()),
    })?;
    sh.scenario
        .users
        .iter()
        .find(|u| match &u.certificate {
            Some(CertificateMatch::Subject(s)) => *s == identity.subject,
            Some(CertificateMatch::Fingerprint(f)) => {
                let f: String = f.chars().filter(|c| *c != ':').collect();
                f.eq_ignore_ascii_case(&identity.sha256)
            }
            None => false,
        })
        .map(|u| u.name.clone())
        .ok_or(AuthError::BadCredential)
}

/// Live tenants answer a refresh with 200 and the same `tokenValue`, now expiring a
/// token lifetime later.
async fn refresh(State(sh): Sh, headers: HeaderMap) -> Result<Response, AuthError> {
    let token = authorization(&headers, "AnaplanAuthToken").ok_or(AuthError::BadCredential)?;
    let info = sh
        .world()
        .extend_token(token, &sh.clock, sh.scenario.token_ttl)
        .ok_or(AuthError::BadCredential)?;
    Ok(reply(StatusCode::OK, "Token refreshed", info, &headers))
}

async fn validate(State(sh): Sh, headers: HeaderMap) -> Result<Response, AuthError> {
    let token = authorization(&headers, "AnaplanAuthToken").ok_or(AuthError::BadCredential)?;
    let info = sh
        .world()
        .token_info(token, &sh.clock)
        .ok_or(AuthError::BadCredential)?;
    Ok(reply(StatusCode::OK, "Token validated", info, &headers))
}

async fn logout(State(sh): Sh, headers: HeaderMap) -> Result<Response, AuthError> {
    let token = authorization(&headers, "AnaplanAuthToken").ok_or(AuthError::BadCredential)?;
    let mut world = sh.world();
    world
        .token_user(token, sh.clock.now())
        .ok_or(AuthError::BadCredential)?;
    world.revoke(token);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The fields of a token request: a JSON body as Anaplan documents it, or a form.
fn token_request(headers: &HeaderMap, body: &[u8]) -> std::collections::HashMap<String, String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        value
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    }
}

/// `POST /oauth/token` with `grant_type: refresh_token`, `client_id`, `client_secret`
/// (Authorization Code clients) and `refresh_token`, as JSON (documented) or a form: an
/// access token (used as `Bearer`) and the refresh token to use next (a new one when
/// the client's tokens rotate).
async fn oauth_token(State(sh): Sh, headers: HeaderMap, body: Bytes) -> Response {
    let form = token_request(&headers, &body);
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "refresh_token" {
        return oauth_error(
            "unsupported_grant_type",
            "only the refresh_token grant is served",
        );
    }
    let grant = OAuthGrant {
        client_id: field("client_id"),
        client_secret: form.get("client_secret").map(String::as_str),
        refresh_token: field("refresh_token"),
    };
    let granted = sh.world().oauth_grant(&sh.scenario, &grant, &sh.clock);
    match granted {
        Some((info, refresh_token)) => json(
            StatusCode::OK,
            &OAuthTokenReply {
                access_token: info.token_value,
                token_type: Some("bearer".into()),
                expires_in: Some(sh.scenario.token_ttl.as_secs()),
                refresh_token: Some(TokenValue::new(refresh_token)),
            },
        ),
        None => oauth_error(
            "invalid_grant",
            "unknown client, wrong client secret, or a refresh token that is no longer valid (it may have rotated)",
        ),
    }
}

fn oauth_error(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": error, "error_description": description }),
    )
}
