//! The client's one error type.
//!
//! Every error that comes from a request names the request (`GET /2/0/…/tasks/…`: method
//! and path, never the host's query string or a header) and, when there was a reply, its
//! HTTP status and Anaplan's message. No variant can hold a token or a password.

use std::fmt;
use std::time::Duration;

use runwait_core::ParseError;

/// Method and path of a request, as errors and logs show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// `GET`, `POST`, …
    pub method: String,
    /// The URL path, without host or query.
    pub path: String,
}

impl fmt::Display for RequestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// What went wrong on the way to a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be opened.
    Connect,
    /// No reply within the request timeout.
    Timeout,
    /// The connection broke (reset, closed early, bad HTTP).
    Broken,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "cannot connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Broken => "connection broken",
        })
    }
}

/// A model state in which Anaplan refuses calls for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelState {
    /// HTTP 422: the model is archived.
    Archived,
    /// HTTP 423: the model is in Locked mode.
    Locked,
}

impl ModelState {
    /// The HTTP status Anaplan answers in this state.
    pub fn http_status(self) -> u16 {
        match self {
            ModelState::Archived => 422,
            ModelState::Locked => 423,
        }
    }
}

fn model_state_message(state: ModelState, model: Option<&str>, message: &str) -> String {
    let model = model.map_or_else(|| "the model".to_owned(), |m| format!("model {m}"));
    let (what, todo) = match state {
        ModelState::Archived => (
            "is archived",
            "a workspace administrator must restore (unarchive) it",
        ),
        ModelState::Locked => (
            "is locked (Locked mode)",
            "a workspace administrator must unlock it (Model Management, Change mode)",
        ),
    };
    format!(
        "{model} {what} (HTTP {}): {todo}; retrying cannot help (Anaplan: {message})",
        state.http_status()
    )
}

/// An error of the Anaplan client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Credentials were refused or the token could not be renewed.
    #[error("{request}: authentication failed (HTTP {status}): {message}")]
    Auth {
        /// The request that failed.
        request: RequestLine,
        /// The HTTP status (401, or 400 for a malformed auth header).
        status: u16,
        /// Anaplan's message.
        message: String,
    },
    /// The user may not do this (403).
    #[error("{request}: permission denied (HTTP 403): {message}")]
    Permission {
        /// The request that failed.
        request: RequestLine,
        /// Anaplan's message.
        message: String,
    },
    /// Unknown id, no access, or a dump that is gone (404).
    #[error("{request}: not found (HTTP 404): {message}")]
    NotFound {
        /// The request that failed.
        request: RequestLine,
        /// Anaplan's message.
        message: String,
    },
    /// The model or object is busy (409); retried for idempotent calls.
    #[error("{request}: model or object busy (HTTP {status}): {message}")]
    Busy {
        /// The request that failed.
        request: RequestLine,
        /// The HTTP status.
        status: u16,
        /// Anaplan's message.
        message: String,
    },
    /// Too many requests (429).
    #[error("{request}: rate limited by Anaplan (HTTP 429){}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The request that failed.
        request: RequestLine,
        /// What `Retry-After` asked for.
        retry_after: Option<Duration>,
    },
    /// Anaplan had trouble (5xx, 410).
    #[error("{request}: Anaplan server error (HTTP {status}): {message}")]
    Server {
        /// The request that failed.
        request: RequestLine,
        /// The HTTP status.
        status: u16,
        /// Anaplan's message.
        message: String,
        /// What `Retry-After` asked for (Anaplan Connect honours it on 503 too).
        retry_after: Option<Duration>,
    },
    /// The model cannot take the call in its state: archived (422) or locked, that is in
    /// Locked mode (423). Retrying cannot help, so nothing retries it.
    #[error("{request}: {}", model_state_message(*state, model.as_deref(), message))]
    ModelState {
        /// The request that failed.
        request: RequestLine,
        /// Which state.
        state: ModelState,
        /// The model id from the request's path, when it has one.
        model: Option<String>,
        /// Anaplan's message.
        message: String,
    },
    /// No task in the object's list can safely be taken for the one a start (whose
    /// answer was lost, or whose run crashed) created: adopting a stranger's task, or
    /// starting again, could run the action twice or report someone else's run.
    #[error("{message}")]
    Adoption {
        /// What was found and what to do.
        message: String,
    },
    /// Any other 4xx: the request itself is wrong and retrying will not help.
    #[error("{request}: rejected (HTTP {status}): {message}")]
    Rejected {
        /// The request that failed.
        request: RequestLine,
        /// The HTTP status.
        status: u16,
        /// Anaplan's message.
        message: String,
    },
    /// No reply: the connection failed, broke or timed out.
    #[error("{request}: {kind}: {message}")]
    Transport {
        /// The request that failed.
        request: RequestLine,
        /// What happened.
        kind: TransportKind,
        /// Details from the HTTP stack (no URL, no headers).
        message: String,
    },
    /// A reply came but its body is not what the API documents.
    #[error("{request}: unexpected response body: {source}")]
    Malformed {
        /// The request whose reply was malformed.
        request: RequestLine,
        /// Where and why the body did not parse.
        source: ParseError,
    },
    /// The client was configured wrongly (endpoints, timeouts).
    #[error("configuration: {0}")]
    Config(String),
    /// A certificate or key could not be read or used.
    #[error("credentials: {0}")]
    Credentials(String),
    /// Writing a downloaded dump failed.
    #[error("writing the dump of {request}: {source}")]
    Write {
        /// The download.
        request: RequestLine,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// True for failures worth retrying on an idempotent call: busy, rate limited,
    /// server trouble, transport failures, and a reply whose body cannot be read (a
    /// proxy's page or a body cut short is the network's trouble, not the call's).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Busy { .. }
                | Error::RateLimited { .. }
                | Error::Server { .. }
                | Error::Transport { .. }
                | Error::Malformed { .. }
        )
    }

    /// A copy of a transient error (the others hold what cannot be copied, or are
    /// never shared); `None` for the others.
    pub(crate) fn transient_copy(&self) -> Option<Error> {
        Some(match self {
            Error::Busy {
                request,
                status,
                message,
            } => Error::Busy {
                request: request.clone(),
                status: *status,
                message: message.clone(),
            },
            Error::RateLimited {
                request,
                retry_after,
            } => Error::RateLimited {
                request: request.clone(),
                retry_after: *retry_after,
            },
            Error::Server {
                request,
                status,
                message,
                retry_after,
            } => Error::Server {
                request: request.clone(),
                status: *status,
                message: message.clone(),
                retry_after: *retry_after,
            },
            Error::Transport {
                request,
                kind,
                message,
            } => Error::Transport {
                request: request.clone(),
                kind: *kind,
                message: message.clone(),
            },
            Error::Malformed { request, source } => Error::Malformed {
                request: request.clone(),
                source: source.clone(),
            },
            _ => return None,
        })
    }

    /// True when a request may have reached Anaplan and been acted on although no
    /// success came back: a broken connection, a timeout, or a 5xx.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Transport { kind, .. } => *kind != TransportKind::Connect,
            Error::Server { .. } => true,
            _ => false,
        }
    }

    /// The wait `Retry-After` asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The HTTP status of the reply, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Auth { status, .. }
            | Error::Busy { status, .. }
            | Error::Server { status, .. }
            | Error::Rejected { status, .. } => Some(*status),
            Error::Permission { .. } => Some(403),
            Error::ModelState { state, .. } => Some(state.http_status()),
            Error::NotFound { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers that waited for a failed login get a copy of its error: every transient
    /// error must have one, as it reads.
    #[test]
    fn every_transient_error_has_a_copy_that_reads_the_same() {
        let request = || RequestLine {
            method: "POST".into(),
            path: "/token/authenticate".into(),
        };
        let errors = [
            Error::Busy {
                request: request(),
                status: 409,
                message: "busy".into(),
            },
            Error::RateLimited {
                request: request(),
                retry_after: Some(Duration::from_secs(3)),
            },
            Error::Server {
                request: request(),
                status: 503,
                message: "down".into(),
                retry_after: None,
            },
            Error::Transport {
                request: request(),
                kind: TransportKind::Broken,
                message: "reset".into(),
            },
            Error::Malformed {
                request: request(),
                source: runwait_core::TaskStatusBody::parse("{").unwrap_err(),
            },
            Error::Config("bad".into()),
            Error::Auth {
                request: request(),
                status: 401,
                message: "no".into(),
            },
        ];
        for error in &errors {
            let copy = error.transient_copy();
            assert_eq!(copy.is_some(), error.is_transient(), "{error}");
            if let Some(copy) = copy {
                assert_eq!(copy.to_string(), error.to_string());
            }
        }
    }
}
