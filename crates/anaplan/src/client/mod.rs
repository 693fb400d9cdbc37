//! The client: its builder, its shared state, and the helpers every call goes through
//! (a request for a path, an idempotent call retried by the one policy). The calls
//! themselves are in the submodules, one job each.

mod adopt;

pub use adopt::CLOCK_SKEW_MARGIN;
mod catalog;
mod dumps;
mod start;
mod tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use runwait_core::{ParseError, TaskId, TaskKind, TaskTarget};
use url::Url;

use crate::auth::{AuthProvider, Session, TokenManager, Turn};
use crate::retry::{RetryPolicy, retry};
use crate::transport::{
    ApiRequest, DEFAULT_MAX_CONNECTIONS_PER_HOST, HostSlots, Transport, build_client, read_bytes,
    read_text, utf8_text,
};
use crate::{Clock, Endpoints, Error, SystemClock};

/// The path segment of a kind (`processes`, …).
pub(crate) fn segment(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Process => "processes",
        TaskKind::Import => "imports",
        TaskKind::Export => "exports",
        TaskKind::Action => "actions",
    }
}

/// The path of `target`.
fn target_path(target: &TaskTarget) -> [&str; 6] {
    [
        "workspaces",
        target.workspace.as_str(),
        "models",
        target.model.as_str(),
        segment(target.kind),
        target.object.as_str(),
    ]
}

/// The path of `target` followed by `rest`.
fn segments<'a>(target: &'a TaskTarget, rest: &[&'a str]) -> Vec<&'a str> {
    let mut s = target_path(target).to_vec();
    s.extend_from_slice(rest);
    s
}

/// The path of `task` of `target` (its status, its cancel), made without allocating:
/// a wait builds its status request from it at every poll.
fn task_path<'a>(target: &'a TaskTarget, task: &'a TaskId) -> [&'a str; 8] {
    let [w, workspace, m, model, kind, object] = target_path(target);
    [w, workspace, m, model, kind, object, "tasks", task.as_str()]
}

/// The default timeout of a quick call: well under the retry policy's default budget
/// (120 s), so a hung status, listing or cancel is sent again instead of ending the call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`Client`].
pub struct ClientBuilder {
    endpoints: Endpoints,
    provider: Arc<dyn AuthProvider>,
    connect_timeout: Duration,
    request_timeout: Duration,
    call_timeout: Duration,
    chunk_timeout: Duration,
    refresh_margin: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    page_size: usize,
    start_attempts: usize,
    pool_idle_timeout: Option<Duration>,
    max_connections_per_host: usize,
}

impl ClientBuilder {
    /// Requests in flight per host at most, so connections per host (default 64; at
    /// least 1). Further requests wait for a free one, in order; dropping a waiting
    /// request leaves the line. Idle connections kept are bounded by it too.
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.max_connections_per_host = n.max(1);
        self
    }

    /// How long an idle connection is kept (default 90 s). `None` keeps it forever and
    /// runs no pool timer, which tests on tokio's paused clock need: an idle timer would
    /// let paused time jump while a request is in flight.
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Timeout of one start request, reply body included (default 120 s: a dormant model
    /// answers its first start slowly, and a start is never resent after a timeout).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Timeout of one quick call: a status, a listing (tasks, objects, chunk lists), a
    /// lookup, a cancel, an auth-service call (default 30 s). These are idempotent, so a
    /// hung one is sent again within the retry policy's budget, which must exceed it.
    pub fn call_timeout(mut self, t: Duration) -> Self {
        self.call_timeout = t;
        self
    }

    /// Timeout of one dump chunk, body included (default 60 s: a chunk is a few
    /// megabytes; a hung one is fetched again within the retry budget).
    pub fn chunk_timeout(mut self, t: Duration) -> Self {
        self.chunk_timeout = t;
        self
    }

    /// Renew the token when less than this remains (default 5 minutes). A refresh that
    /// fails for now is tried again after [`crate::auth::REFRESH_BACKOFF`] (30 s), so a
    /// margin under that gets one try before the token expires and a login replaces it.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Retries of idempotent calls (and the delays of the start's looks and resends).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock that decides token expiry and sleeps every retry delay.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Items per page of listings (default 5000, Anaplan's largest).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Start requests sent at most, each after checking that the previous one created
    /// no task (default 3).
    pub fn start_attempts(mut self, n: usize) -> Self {
        self.start_attempts = n.max(1);
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client, Error> {
        let client = build_client(
            self.connect_timeout,
            self.request_timeout,
            self.pool_idle_timeout,
            self.max_connections_per_host,
        )?;
        let transport = Transport::new(
            client,
            self.endpoints,
            self.clock.clone(),
            self.call_timeout,
            HostSlots::new(self.max_connections_per_host),
        );
        let tokens = TokenManager::new(self.provider, self.refresh_margin, self.clock);
        Ok(Client {
            inner: Arc::new(Inner {
                session: Session::new(transport, tokens, self.retry),
                retry: self.retry,
                call_timeout: self.call_timeout,
                chunk_timeout: self.chunk_timeout,
                page_size: self.page_size,
                start_attempts: self.start_attempts,
                me: tokio::sync::OnceCell::new(),
            }),
        })
    }
}

struct Inner {
    session: Session,
    retry: RetryPolicy,
    call_timeout: Duration,
    chunk_timeout: Duration,
    page_size: usize,
    start_attempts: usize,
    /// The id of the user the client acts as, once asked (adoption compares it).
    me: tokio::sync::OnceCell<String>,
}

/// The Anaplan client. Cheap to clone; clones share one token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", self.inner.session.transport().endpoints())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder for `endpoints` with these credentials.
    pub fn builder(endpoints: Endpoints, provider: impl AuthProvider + 'static) -> ClientBuilder {
        Self::builder_shared(endpoints, Arc::new(provider))
    }

    /// A builder with a shared provider.
    pub fn builder_shared(endpoints: Endpoints, provider: Arc<dyn AuthProvider>) -> ClientBuilder {
        ClientBuilder {
            endpoints,
            provider,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            chunk_timeout: Duration::from_secs(60),
            refresh_margin: Duration::from_secs(5 * 60),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            page_size: 5000,
            start_attempts: 3,
            pool_idle_timeout: Some(Duration::from_secs(90)),
            max_connections_per_host: DEFAULT_MAX_CONNECTIONS_PER_HOST,
        }
    }

    /// The endpoints this client talks to.
    pub fn endpoints(&self) -> &Endpoints {
        self.inner.session.transport().endpoints()
    }

    /// A quick call (the call timeout); the start and a chunk set their own.
    fn request(&self, method: Method, segments: &[&str], query: &[(&str, &str)]) -> ApiRequest {
        let mut url = self.endpoints().api_url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = ApiRequest::new(method, url);
        req.timeout = Some(self.inner.call_timeout);
        req
    }

    /// The clock every retry delay sleeps through.
    fn clock(&self) -> &dyn Clock {
        self.inner.session.transport().clock()
    }

    /// Waits for a call's turn on `url`'s host (a slot), to give its first attempt.
    ///
    /// A call queues for it before it is made: queued, it holds only its caller's small
    /// future, and its own (the token, the request, the retries: kilobytes) is made
    /// once the slot is free. 10,000 steps that list and start at once each held one
    /// queued call's.
    async fn turn(&self, url: &Url) -> Turn {
        self.inner.session.turn(url).await
    }

    /// Waits for a turn on the API's host (every API call's), for a call that waits for
    /// it before it builds its own future: see [`Client::turn`].
    async fn api_turn(&self) -> Turn {
        self.turn(self.endpoints().api()).await
    }

    /// Runs an idempotent `attempt` under the retry policy, once `req`'s host has a free
    /// slot (the first attempt takes its turn, see [`Client::turn`]; `turn`, when the
    /// caller took it already).
    async fn retrying<T, F, Fut>(
        &self,
        req: &ApiRequest,
        turn: Option<Turn>,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut(usize, Option<Turn>) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut first = Some(match turn {
            Some(turn) => turn,
            None => self.turn(&req.url).await,
        });
        let attempts = retry(self.clock(), self.inner.retry, move |resend| {
            attempt(resend, first.take())
        });
        Box::pin(attempts).await
    }

    /// An idempotent call (GET, DELETE) returning the reply's text, with retries.
    async fn idempotent(&self, req: &ApiRequest) -> Result<String, Error> {
        self.retrying(req, None, |resend, turn| async move {
            let response = self.inner.session.send(req, resend, turn).await?;
            read_text(req.line(), response).await
        })
        .await
    }

    /// An idempotent GET whose body is parsed within the retries: a body that cannot be
    /// read is fetched again like any transient failure. `turn`: see
    /// [`Client::retrying`].
    async fn get<T>(
        &self,
        req: &ApiRequest,
        turn: Option<Turn>,
        parse: fn(&str) -> Result<T, ParseError>,
    ) -> Result<T, Error> {
        self.retrying(req, turn, |resend, turn| async move {
            let response = self.inner.session.send(req, resend, turn).await?;
            // Read as bytes and borrowed as text: a UTF-8 body (JSON is, RFC 8259) is
            // parsed where it lies, without the copy `text()` makes.
            let bytes = read_bytes(req.line(), response).await?;
            parse(&utf8_text(&bytes)).map_err(|source| Error::Malformed {
                request: req.line().owned(),
                source,
            })
        })
        .await
    }
}
