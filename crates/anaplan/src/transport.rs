//! The bottom of the stack: one attempt of one request over reqwest. It sends, maps a
//! non-2xx reply or a failed send to [`Error`] (see [`crate::reply`]) and reads bodies.
//! It knows nothing of tokens or retries; only this module and `reply` touch reqwest.
//!
//! It also bounds the connections per host: reqwest's pool opens a connection for every
//! request that finds no idle one and has no limit of its own (10,000 waits opened up to
//! 9,000), so each request holds one of its host's [`HostSlots`] from before it is sent
//! until its body is read. A request is built, reqwest's future made and its `http.client`
//! span opened only once it has its slot: a request queued for one holds a small future,
//! and its span times the request, not the queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;
use url::Url;

use crate::error::RequestLine;
use crate::reply::{broken, describe, error_type, retry_after, status_error, transport_error};
use crate::{Clock, Endpoints, Error, Secret};

/// The HTTP client, the endpoints it talks to, and the clock that reads `Retry-After`
/// dates.
pub(crate) struct Transport {
    client: reqwest::Client,
    endpoints: Endpoints,
    clock: Arc<dyn Clock>,
    /// The timeout of an auth-service request (a quick call, like a status).
    auth_timeout: Duration,
    slots: HostSlots,
}

/// The default of [`HostSlots`]: requests in flight (so connections) per host.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_HOST: usize = 64;

/// The requests in flight per host (host and port), each holding one permit from before
/// it is sent until its body is read, so one request is at most one connection. A
/// request waiting for a permit is cancelled by dropping it (tokio's semaphore is fair
/// and forgets a dropped waiter).
pub(crate) struct HostSlots {
    per_host: usize,
    /// A client talks to two or three hosts (API, auth, an OAuth provider): a list.
    hosts: Mutex<Vec<(String, u16, Arc<Semaphore>)>>,
}

impl HostSlots {
    pub(crate) fn new(per_host: usize) -> Self {
        HostSlots {
            per_host: per_host.max(1),
            hosts: Mutex::default(),
        }
    }

    /// The semaphore of `url`'s host, made at its first request.
    fn of(&self, url: &Url) -> Arc<Semaphore> {
        let host = url.host_str().unwrap_or("");
        let port = url.port_or_known_default().unwrap_or(0);
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, sem)) = hosts.iter().find(|(h, p, _)| h == host && *p == port) {
            return sem.clone();
        }
        let sem = Arc::new(Semaphore::new(self.per_host));
        hosts.push((host.to_owned(), port, sem.clone()));
        sem
    }

    /// Waits for a slot of `url`'s host.
    async fn acquire(&self, url: &Url) -> Slot {
        Slot {
            _permit: self
                .of(url)
                .acquire_owned()
                .await
                .expect("a host's semaphore is never closed"),
        }
    }
}

/// One of a host's [`HostSlots`]: a request may be sent while it is held.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// A reply whose body is still to be read: it holds its host's slot until then.
pub(crate) struct Reply {
    response: Response,
    _slot: Slot,
}

impl Reply {
    /// The announced length of the body.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }
}

/// An `Authorization` header value made once per token, not per request: marked
/// sensitive (never logged by the HTTP stack) and shared by every request that carries
/// it without a copy.
#[derive(Clone)]
pub(crate) struct Authorization(HeaderValue);

impl Authorization {
    /// The header for `value` (a token, or a login's credentials); an error that names
    /// no part of it when it holds what a header cannot (a control character, say).
    pub(crate) fn new(value: &str) -> Result<Self, Error> {
        let mut header = HeaderValue::from_str(value).map_err(|_| {
            Error::Config(
                "the access token or credentials hold characters an HTTP header cannot carry"
                    .to_owned(),
            )
        })?;
        header.set_sensitive(true);
        Ok(Authorization(header))
    }
}

/// A call to the Integration API.
#[derive(Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<serde_json::Value>,
    /// The `Accept` header: JSON for the API's envelopes, anything for a dump chunk
    /// (its body is the dump's text).
    pub(crate) accept: &'static str,
    /// This request's timeout; `None` is the client's request timeout (the start's).
    pub(crate) timeout: Option<Duration>,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, url: Url) -> Self {
        ApiRequest {
            method,
            url,
            body: None,
            accept: "application/json",
            timeout: None,
        }
    }

    /// How errors name this request.
    pub(crate) fn line(&self) -> Line<'_> {
        Line::new(&self.method, &self.url)
    }
}

/// How errors and logs name a request, borrowed from it: the owned [`RequestLine`]
/// (method and path, never host or query) is made only for an error, so a request
/// holds no copy of its path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    method: &'a Method,
    url: &'a Url,
}

/// The method of the auth service's calls, as a [`Line`] borrows it.
static POST: Method = Method::POST;

impl<'a> Line<'a> {
    pub(crate) fn new(method: &'a Method, url: &'a Url) -> Self {
        Line { method, url }
    }

    /// A `POST` to `url`.
    pub(crate) fn post(url: &'a Url) -> Self {
        Line::new(&POST, url)
    }

    /// The line as errors carry it.
    pub(crate) fn owned(self) -> RequestLine {
        RequestLine {
            method: self.method.to_string(),
            path: self.url.path().to_owned(),
        }
    }
}

impl Transport {
    /// A transport over `client`.
    pub(crate) fn new(
        client: reqwest::Client,
        endpoints: Endpoints,
        clock: Arc<dyn Clock>,
        auth_timeout: Duration,
        slots: HostSlots,
    ) -> Self {
        Transport {
            client,
            endpoints,
            clock,
            auth_timeout,
            slots,
        }
    }

    /// The endpoints requests go to.
    pub(crate) fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The clock of the client (expiry, `Retry-After`, retry sleeps).
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// Waits for a slot of `url`'s host, for a call to take before it makes its
    /// request (see [`crate::Client`]'s calls).
    pub(crate) async fn slot(&self, url: &Url) -> Slot {
        self.slots.acquire(url).await
    }

    /// One API request with this `Authorization` header, in `slot` when the caller
    /// already holds one of the host's.
    pub(crate) async fn send_api(
        &self,
        req: &ApiRequest,
        authorization: &Authorization,
        resend_count: usize,
        slot: Option<Slot>,
    ) -> Result<Reply, Error> {
        let build = || {
            let mut builder = self
                .client
                .request(req.method.clone(), req.url.clone())
                .header(AUTHORIZATION, authorization.0.clone())
                .header(ACCEPT, HeaderValue::from_static(req.accept));
            if let Some(timeout) = req.timeout {
                builder = builder.timeout(timeout);
            }
            if let Some(body) = &req.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            builder
        };
        self.send(build, req.line(), resend_count, slot).await
    }

    /// One `POST` to the auth service with this `Authorization` header and body.
    pub(crate) async fn post_auth(
        &self,
        line: Line<'_>,
        authorization: &Secret,
        body: Option<&[u8]>,
        resend_count: usize,
    ) -> Result<Reply, Error> {
        // Marked sensitive, as an API request's token.
        let authorization = Authorization::new(authorization.expose())?;
        let build = || {
            let builder = self
                .client
                .post(line.url.clone())
                .timeout(self.auth_timeout)
                .header(AUTHORIZATION, authorization.0.clone())
                .header(ACCEPT, "application/json");
            match body {
                Some(body) => builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_vec()),
                None => builder,
            }
        };
        self.send(build, line, resend_count, None).await
    }

    /// One `POST` without a token, to an OAuth token endpoint: a JSON body as Anaplan
    /// documents it, or a form body for a host's own provider.
    pub(crate) async fn post_token(
        &self,
        line: Line<'_>,
        body: TokenBody<'_>,
        resend_count: usize,
    ) -> Result<Reply, Error> {
        let build = || {
            let builder = self
                .client
                .post(line.url.clone())
                .timeout(self.auth_timeout);
            match body {
                TokenBody::Json(json) => builder
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "application/json")
                    .body(json.to_owned()),
                TokenBody::Form(form) => builder
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.to_owned()),
            }
        };
        self.send(build, line, resend_count, None).await
    }

    /// Sends one request inside an HTTP client span and maps a non-2xx reply to an error.
    ///
    /// The request is built, its (large) future made and its span opened only once its
    /// host has a free slot: thousands of waits queued on one host then each hold a small
    /// future, not a few kilobytes of reqwest's (10,000 starts at once peaked at 44 MB of
    /// them).
    ///
    /// `slot`: one of the host's, when the caller queued for it before it made the call.
    async fn send(
        &self,
        build: impl FnOnce() -> reqwest::RequestBuilder,
        line: Line<'_>,
        resend_count: usize,
        slot: Option<Slot>,
    ) -> Result<Reply, Error> {
        let url = line.url;
        // The span is made once the slot is free: a span's recorded fields are kept by
        // the subscriber (the CLI's log formats them at once), and thousands of queued
        // requests would each hold theirs. The queue's wait shows in the caller's span.
        let slot = match slot {
            Some(slot) => slot,
            None => self.slots.acquire(url).await,
        };
        let span = tracing::info_span!(
            "http.client",
            otel.name = line.method.as_str(),
            otel.kind = "client",
            http.request.method = line.method.as_str(),
            url.path = url.path(),
            server.address = url.host_str().unwrap_or(""),
            // i64: tracing-opentelemetry exports unsigned integers as strings.
            server.port = i64::from(url.port_or_known_default().unwrap_or(0)),
            http.request.resend_count = i64::try_from(resend_count).unwrap_or(i64::MAX),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let attempt = async {
            let response = build()
                .send()
                .await
                .map_err(|e| transport_error(line.owned(), &e));
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
                return Ok(Reply {
                    response,
                    _slot: slot,
                });
            }
            span.record("error.type", status.as_str());
            let wait = retry_after(response.headers(), self.clock.now());
            let body = response.text().await.unwrap_or_default();
            Err(status_error(line.owned(), status, wait, &body))
        };
        // Instrumented, not entered: the request awaits, and may resume on another thread.
        Box::pin(attempt.instrument(span.clone())).await
    }
}

/// The whole body as text; a body cut off half-way is a broken transport.
pub(crate) async fn read_text(line: Line<'_>, reply: Reply) -> Result<String, Error> {
    // Boxed, as the request in `send`: reqwest's reading future is large, and inline it
    // would be part of every queued request's future.
    Box::pin(reply.response.text())
        .await
        .map_err(|e| broken(line.owned(), &e))
}

/// The whole body as bytes; a body cut off half-way is a broken transport.
pub(crate) async fn read_bytes(line: Line<'_>, reply: Reply) -> Result<Vec<u8>, Error> {
    // `Vec::from` takes the buffer over without a copy when it is not shared.
    Ok(Box::pin(reply.response.bytes())
        .await
        .map_err(|e| broken(line.owned(), &e))?
        .into())
}

/// A JSON body's bytes as text, as `text()` would give them for Anaplan's UTF-8 replies:
/// a leading byte-order mark dropped (RFC 8259 section 8.1 lets a parser ignore one,
/// and reqwest's `text()` drops it), invalid sequences replaced.
pub(crate) fn utf8_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
}

/// Builds the reqwest client with the configured timeouts.
pub(crate) fn build_client(
    connect_timeout: Duration,
    request_timeout: Duration,
    pool_idle_timeout: Option<Duration>,
    max_idle_per_host: usize,
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
        // Never more idle than can be busy: the host's limit of requests in flight.
        .pool_max_idle_per_host(max_idle_per_host)
        // Never follow a redirect with the Authorization header to another host.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", describe(&e))))
}

/// The body of a token request, already encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenBody<'a> {
    /// `application/json`.
    Json(&'a str),
    /// `application/x-www-form-urlencoded`.
    Form(&'a str),
}

#[cfg(test)]
mod tests {
    use super::utf8_text;

    #[test]
    fn a_body_reads_as_text_without_its_byte_order_mark() {
        // (bytes, text)
        let cases: [(&[u8], &str); 3] = [
            (b"{\"a\":1}", "{\"a\":1}"),
            (b"\xEF\xBB\xBF{\"a\":1}", "{\"a\":1}"),
            (b"{\"a\":\"\xFF\"}", "{\"a\":\"\u{FFFD}\"}"),
        ];
        for (bytes, text) in cases {
            assert_eq!(utf8_text(bytes), text, "{bytes:?}");
        }
    }
}
