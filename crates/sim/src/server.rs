//! The listener: a hand-written accept loop (so a fault can close a connection without
//! answering), the fault and journal gate around every call, and graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::fault::{CallKind, FaultKind};
use crate::journal::{Answer, JournalEntry};
use crate::reply::api_error;
use crate::state::{AppState, Sh};

/// Lets a request's handler close its own connection.
#[derive(Debug, Clone)]
struct ConnControl {
    kill: CancellationToken,
}

/// Serves `router` on `listener` until the simulator shuts down, then lets open calls
/// finish.
pub(crate) async fn serve(listener: TcpListener, router: Router, sh: Arc<AppState>) {
    let shutdown = sh.shutdown.clone();
    let mut conns = JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        let sh = sh.clone();
        let open = sh.conns.opened();
        conns.spawn(async move {
            let _open = open;
            let ctl = ConnControl {
                kill: CancellationToken::new(),
            };
            let kill = ctl.kill.clone();
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ctl.clone());
                let router = router.clone();
                async move {
                    Ok::<_, Infallible>(router.oneshot(req.map(Body::new)).await.into_response())
                }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            // Dropping `conn` closes the socket: that is how a reset fault answers.
            tokio::select! {
                _ = conn.as_mut() => {}
                () = kill.cancelled() => {}
                () = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = kill.cancelled() => {}
                    }
                }
            }
        });
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

/// Which kind of call a request is, for faults and the journal.
pub(crate) fn classify(method: &Method, path: &str) -> CallKind {
    if path.starts_with("/token/") || path.starts_with("/oauth/") {
        return CallKind::Auth;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let Some(i) = segments.iter().position(|s| *s == "tasks") else {
        return CallKind::Discovery;
    };
    match (method, segments.len() - i - 1) {
        (&Method::POST, 0) => CallKind::Start,
        (_, 0) => CallKind::List,
        (&Method::DELETE, 1) => CallKind::Cancel,
        (_, 1) => CallKind::Status,
        _ => CallKind::Dump,
    }
}

/// Journals every call and applies the fault, if any, that it hits.
async fn gate(State(sh): Sh, req: Request, next: Next) -> Response {
    let kind = classify(req.method(), req.uri().path());
    let mut entry = JournalEntry {
        seq: 0,
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        kind,
        at_ms: u64::try_from(sh.clock.now().as_millis()).unwrap_or(u64::MAX),
        answer: Answer::Hang,
    };
    let path = req.uri().path().to_owned();
    let conn = req.extensions().get::<ConnControl>().cloned();
    // Over the tenant's rate: a 429 (journaled like any answer), before any fault.
    let limited = match (&sh.limit, kind) {
        (Some(limit), k) if k != CallKind::Auth => limit.take().err(),
        _ => None,
    };
    if let Some(wait) = limited {
        let mut r = api_error(&sh, StatusCode::TOO_MANY_REQUESTS, &path);
        // Whole seconds, rounded up: the header has no fractions.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        entry.answer = Answer::Status(429);
        sh.record(entry);
        return r;
    }
    let fault = sh.world().faults.hit(kind);
    let response = match fault {
        None => next.run(req).await,
        Some(FaultKind::Http {
            status,
            retry_after,
        }) => {
            let mut r = api_error(&sh, status_code(status), &path);
            if let Some(after) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
            }
            r
        }
        Some(FaultKind::Reset) => return never(&sh, entry, conn, Answer::Reset).await,
        Some(FaultKind::Hang) => return never(&sh, entry, conn, Answer::Hang).await,
        Some(FaultKind::Slow(delay)) => {
            tokio::time::sleep(sh.clock.real(delay)).await;
            next.run(req).await
        }
        Some(FaultKind::Malformed) => truncate(next.run(req).await).await,
        Some(FaultKind::Short) => shorten(next.run(req).await).await,
        Some(FaultKind::ExpireTokens) => {
            sh.world().revoke_all();
            next.run(req).await
        }
        Some(FaultKind::LostStartResponse) => {
            let r = next.run(req).await;
            if !r.status().is_success() {
                r
            } else {
                return never(&sh, entry, conn, Answer::Reset).await;
            }
        }
        Some(FaultKind::LostStartStatus(status)) => {
            let r = next.run(req).await;
            if r.status().is_success() {
                api_error(&sh, status_code(status), &path)
            } else {
                r
            }
        }
    };
    entry.answer = Answer::Status(response.status().as_u16());
    sh.record(entry);
    response
}

fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Never answers: closes the connection at once (`Reset`) or at shutdown (`Hang`).
async fn never(
    sh: &AppState,
    entry: JournalEntry,
    conn: Option<ConnControl>,
    answer: Answer,
) -> Response {
    sh.record(JournalEntry { answer, ..entry });
    if answer == Answer::Hang {
        sh.shutdown.cancelled().await;
    }
    if let Some(conn) = conn {
        conn.kill.cancel();
    }
    std::future::pending().await
}

/// The first half of the body, with the real status and headers.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// The body cut at its last line break short of the final byte (to half without
/// one), framed as whole.
async fn shorten(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    // Before the last line break short of the final byte: at least one row is lost.
    let body = &bytes[..bytes.len().saturating_sub(1)];
    let keep = match body.iter().rposition(|&b| b == b'\n') {
        Some(at) => at,
        None => bytes.len() / 2,
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(keep));
    Response::from_parts(parts, Body::from(bytes.slice(..keep)))
}

/// The whole application: auth and API behind the gate, control routes beside it.
pub(crate) fn router(sh: Arc<AppState>) -> Router {
    let gated = crate::auth::routes()
        .merge(crate::api::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sh.clone(), gate));
    crate::control::routes().merge(gated).with_state(sh)
}

async fn method_not_allowed(State(sh): Sh, req: Request) -> Response {
    api_error(&sh, StatusCode::METHOD_NOT_ALLOWED, req.uri().path())
}

async fn not_found(State(sh): Sh, req: Request) -> Response {
    api_error(&sh, StatusCode::NOT_FOUND, req.uri().path())
}
