//! The HTTP layer: one attempt of a request, the mapping of replies to [`Error`], and the
//! retry loop for idempotent calls. Only this module touches reqwest.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use runwait_core::catalog::ApiError;
use runwait_core::token::{AuthFailure, AuthReply};
use tracing::Instrument;
use url::Url;

use crate::auth::TokenManager;
use crate::error::{RequestLine, TransportKind};
use crate::retry::{RetryPolicy, retry_after};
use crate::{Clock, Endpoints, Error, Secret};

pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) endpoints: Endpoints,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
}

/// A call to the auth service.
pub(crate) struct AuthRequest<'a> {
    pub(crate) segments: &'a [&'a str],
    pub(crate) authorization: Secret,
    pub(crate) body: Option<Vec<u8>>,
}

/// A call to the Integration API.
#[derive(Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<serde_json::Value>,
    /// How errors name the call, built once rather than per attempt.
    pub(crate) line: RequestLine,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, url: Url) -> Self {
        let line = request_line(&method, &url);
        ApiRequest {
            method,
            url,
            body: None,
            line,
        }
    }
}

fn request_line(method: &Method, url: &Url) -> RequestLine {
    RequestLine {
        method: method.to_string(),
        path: url.path().to_owned(),
    }
}

impl Http {
    /// Runs `attempt` until it succeeds, fails permanently, or the retry policy gives up.
    /// Only idempotent calls come here.
    pub(crate) async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut retrier = self.retry.start();
        loop {
            match attempt(retrier.retries()).await {
                Err(e) if e.is_transient() => match retrier.next_delay(&e) {
                    Some(delay) => {
                        tracing::debug!(error = %e, delay_ms = delay.as_millis() as u64, "retrying");
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// One attempt of an API call with the shared token. A 401 makes the token manager
    /// forget the token; the call is then tried once more with a new one.
    pub(crate) async fn api_attempt(
        &self,
        tokens: &TokenManager,
        req: &ApiRequest,
        resend_count: usize,
    ) -> Result<Response, Error> {
        let token = tokens.token(self).await?;
        match self.send_api(req, &token.header(), resend_count).await {
            Err(Error::Auth { status: 401, .. }) => {
                tokens.rejected(&token).await;
                let token = tokens.token(self).await?;
                self.send_api(req, &token.header(), resend_count).await
            }
            other => other,
        }
    }

    async fn send_api(
        &self,
        req: &ApiRequest,
        authorization: &str,
        resend_count: usize,
    ) -> Result<Response, Error> {
        let mut builder = self
            .client
            .request(req.method.clone(), req.url.clone())
            .header(AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = &req.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.send(builder, &req.line, &req.url, resend_count).await
    }

    /// Sends one request inside an HTTP client span and maps a non-2xx reply to an error.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        line: &RequestLine,
        url: &Url,
        resend_count: usize,
    ) -> Result<Response, Error> {
        let span = tracing::info_span!(
            "http.client",
            otel.name = %line.method,
            otel.kind = "client",
            http.request.method = %line.method,
            url.path = url.path(),
            server.address = url.host_str().unwrap_or(""),
            // i64: tracing-opentelemetry exports unsigned integers as strings.
            server.port = i64::from(url.port_or_known_default().unwrap_or(0)),
            http.request.resend_count = i64::try_from(resend_count).unwrap_or(i64::MAX),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        // Instrumented, not entered: the request awaits, and may resume on another thread.
        let attempt = async {
            let response = builder
                .send()
                .await
                .map_err(|e| transport_error(line.clone(), &e));
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    span.record("error.type", error_type(&e));
                    return Err(e);
                }
            };
            let status = response.status();
            span.record("http.response.status_code", i64::from(status.as_u16()));
            if status.is_success() {
                return Ok(response);
            }
            span.record("error.type", status.as_str());
            let wait = retry_after(response.headers(), self.clock.now());
            let body = response.text().await.unwrap_or_default();
            Err(status_error(line.clone(), status, wait, &body))
        };
        attempt.instrument(span.clone()).await
    }

    /// A call to the auth service (retried: a login or refresh changes nothing to undo).
    pub(crate) async fn auth_call(&self, req: AuthRequest<'_>) -> Result<AuthReply, Error> {
        let url = self.endpoints.auth_url(req.segments);
        let line = request_line(&Method::POST, &url);
        self.with_retries(|resend| {
            let mut builder = self
                .client
                .post(url.clone())
                .header(AUTHORIZATION, req.authorization.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &req.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (line, url) = (&line, &url);
            async move {
                let response = self.send(builder, line, url, resend).await?;
                let text = read_text(line, response).await?;
                AuthReply::parse(&text).map_err(|source| Error::Malformed {
                    request: line.clone(),
                    source,
                })
            }
        })
        .await
    }

    /// A form POST (OAuth token endpoint), retried like auth calls.
    pub(crate) async fn form_call(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<String, Error> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let line = request_line(&Method::POST, url);
        self.with_retries(|resend| {
            let builder = self
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone());
            let line = &line;
            async move {
                let response = self.send(builder, line, url, resend).await?;
                read_text(line, response).await
            }
        })
        .await
    }
}

/// The whole body as text; a body cut off half-way is a broken transport.
pub(crate) async fn read_text(line: &RequestLine, response: Response) -> Result<String, Error> {
    response.text().await.map_err(|e| broken(line, &e))
}

/// A reply whose body broke off: a transport error, named without the URL.
pub(crate) fn broken(line: &RequestLine, e: &reqwest::Error) -> Error {
    Error::Transport {
        request: line.clone(),
        kind: TransportKind::Broken,
        message: describe(e),
    }
}

fn error_type(e: &Error) -> &'static str {
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
fn describe(e: &reqwest::Error) -> String {
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
        409 | 423 => Error::Busy {
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
        },
        _ => Error::Rejected {
            request,
            status: code,
            message,
        },
    }
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

/// Builds the reqwest client with the configured timeouts.
pub(crate) fn build_client(
    connect_timeout: Duration,
    request_timeout: Duration,
    pool_idle_timeout: Option<Duration>,
) -> Result<reqwest::Client, Error> {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(concat!("runwait/", env!("CARGO_PKG_VERSION"))),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .pool_idle_timeout(pool_idle_timeout)
        // Never follow a redirect with the Authorization header to another host.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", describe(&e))))
}
