//! What a reply or a failed send means: the mapping of HTTP statuses, `Retry-After`
//! and reqwest's failures to [`Error`]. Pure functions; the transport calls them.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use runwait_core::catalog::ApiError;
use runwait_core::token::AuthFailure;

use crate::Error;
use crate::error::{ModelState, RequestLine, TransportKind};

/// The longest `Retry-After` honoured: a proxy asking for hours or for `u64::MAX`
/// seconds must not stall a tenant's waits (or overflow a clock).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// `Retry-After` as seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A reply whose body broke off: a transport error, named without the URL.
pub(crate) fn broken(request: RequestLine, e: &reqwest::Error) -> Error {
    Error::Transport {
        request,
        kind: TransportKind::Broken,
        message: describe(e),
    }
}

/// The `error.type` of an HTTP client span for a failure without a reply.
pub(crate) fn error_type(e: &Error) -> &'static str {
    match e {
        Error::Transport {
            kind: TransportKind::Timeout,
            ..
        } => "timeout",
        Error::Transport {
            kind: TransportKind::Connect,
            ..
        } => "connect",
        _ => "transport",
    }
}

/// A send that got no reply.
pub(crate) fn transport_error(request: RequestLine, e: &reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Broken
    };
    Error::Transport {
        request,
        kind,
        message: describe(e),
    }
}

/// reqwest's message and its causes, without the URL.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    if let Some(url) = e.url() {
        message = message
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Maps a non-2xx reply to the error a caller can act on.
pub(crate) fn status_error(
    request: RequestLine,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let message =
        anaplan_message(body).unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
    let code = status.as_u16();
    match code {
        400 if is_auth_path(&request) => Error::Auth {
            request,
            status: code,
            message,
        },
        401 => Error::Auth {
            request,
            status: code,
            message,
        },
        403 => Error::Permission { request, message },
        404 => Error::NotFound { request, message },
        422 | 423 => Error::ModelState {
            model: model_of(&request),
            request,
            state: if code == 422 {
                ModelState::Archived
            } else {
                ModelState::Locked
            },
            message,
        },
        409 => Error::Busy {
            request,
            status: code,
            message,
        },
        429 => Error::RateLimited {
            request,
            retry_after,
        },
        410 | 500..=599 => Error::Server {
            request,
            status: code,
            message,
            retry_after,
        },
        _ => Error::Rejected {
            request,
            status: code,
            message,
        },
    }
}

/// The model id of a path `…/models/{id}/…`, to name it in a message.
fn model_of(request: &RequestLine) -> Option<String> {
    let mut parts = request.path.split('/');
    parts.find(|p| *p == "models")?;
    parts.next().filter(|m| !m.is_empty()).map(str::to_owned)
}

/// The auth service and OAuth token endpoints answer 400 for refused credentials.
fn is_auth_path(request: &RequestLine) -> bool {
    request.path.starts_with("/token/") || request.path.ends_with("/oauth/token")
}

/// Anaplan's message from an error body: the API envelope, an auth failure, or an
/// OAuth error.
fn anaplan_message(body: &str) -> Option<String> {
    if let Ok(e) = ApiError::parse(body) {
        return e.status.message;
    }
    if let Ok(e) = AuthFailure::parse(body) {
        return Some(e.status_message.unwrap_or(e.status));
    }
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    let e: OAuthError = serde_json::from_str(body).ok()?;
    Some(match e.error_description {
        Some(d) => format!("{}: {d}", e.error),
        None => e.error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(42)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(retry_after(&h, now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn statuses_map_to_what_a_caller_can_act_on() {
        let line = |path: &str| RequestLine {
            method: "POST".into(),
            path: path.into(),
        };
        let s = |c| StatusCode::from_u16(c).unwrap();
        assert!(matches!(
            status_error(line("/token/authenticate"), s(400), None, ""),
            Error::Auth { status: 400, .. }
        ));
        assert!(matches!(
            status_error(line("/2/0/x"), s(400), None, ""),
            Error::Rejected { status: 400, .. }
        ));
        let locked = status_error(
            line("/2/0/workspaces/w/models/M1/processes/p/tasks"),
            s(423),
            None,
            "",
        );
        assert!(matches!(
            &locked,
            Error::ModelState { state: ModelState::Locked, model: Some(m), .. } if m == "M1"
        ));
        assert!(!locked.is_transient() && !locked.is_ambiguous());
        let text = locked.to_string();
        assert!(
            text.contains("model M1 is locked (Locked mode) (HTTP 423)")
                && text.contains("retrying cannot help"),
            "{text}"
        );
        assert!(matches!(
            status_error(line("/2/0/x"), s(422), None, ""),
            Error::ModelState {
                state: ModelState::Archived,
                model: None,
                ..
            }
        ));
        assert!(matches!(
            status_error(line("/2/0/x"), s(409), None, ""),
            Error::Busy { status: 409, .. }
        ));
        let wait = Some(Duration::from_secs(8));
        assert_eq!(
            status_error(line("/2/0/x"), s(503), wait, "").retry_after(),
            wait
        );
        assert!(matches!(
            status_error(line("/2/0/x"), s(410), None, ""),
            Error::Server { status: 410, .. }
        ));
    }
}
