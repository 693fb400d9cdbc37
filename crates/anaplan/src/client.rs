//! The client and its calls: tasks, dumps, listings.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use runwait_core::catalog::{
    ActionList, Chunk, ChunkList, ExportList, ImportList, Model, ModelList, NamedObject,
    ProcessList, ProcessMetadata, ProcessMetadataReply, Workspace, WorkspaceList,
};
use runwait_core::wire::Meta;
use runwait_core::{
    DumpSource, KnownTasks, ModelId, ObjectId, ParseError, StartOptions, StartTaskReply, Started,
    Task, TaskId, TaskKind, TaskList, TaskStatusBody, TaskSummary, TaskTarget, WorkspaceId,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::auth::{AuthProvider, TokenManager};
use crate::error::{RequestLine, TransportKind};
use crate::http::{ApiRequest, Http, broken, build_client, read_text};
use crate::{Clock, Endpoints, Error, RetryPolicy, SystemClock};

/// The path segment of a kind (`processes`, …).
pub(crate) fn segment(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Process => "processes",
        TaskKind::Import => "imports",
        TaskKind::Export => "exports",
        TaskKind::Action => "actions",
    }
}

/// The path of `target` followed by `rest`.
fn segments<'a>(target: &'a TaskTarget, rest: &[&'a str]) -> Vec<&'a str> {
    let mut s = vec![
        "workspaces",
        target.workspace.as_str(),
        "models",
        target.model.as_str(),
        segment(target.kind),
        target.object.as_str(),
    ];
    s.extend_from_slice(rest);
    s
}

/// How often the task list is read after an ambiguous start failure before deciding that
/// no task was created.
const ADOPTION_LOOKS: usize = 3;

/// After a timeout or a gateway error (502, 504) the server may still be handling the
/// start: it is never sent again.
fn may_still_be_processing(error: &Error) -> bool {
    matches!(
        error,
        Error::Transport {
            kind: TransportKind::Timeout,
            ..
        } | Error::Server {
            status: 502 | 504,
            ..
        }
    )
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    endpoints: Endpoints,
    provider: Arc<dyn AuthProvider>,
    connect_timeout: Duration,
    request_timeout: Duration,
    refresh_margin: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    page_size: usize,
    start_attempts: usize,
    pool_idle_timeout: Option<Duration>,
}

impl ClientBuilder {
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

    /// Timeout of one request, reply body included (default 120 s: dormant models answer slowly).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Renew the token when less than this remains (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Retries of idempotent calls.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock that decides token expiry.
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
        let http = Http {
            client: build_client(
                self.connect_timeout,
                self.request_timeout,
                self.pool_idle_timeout,
            )?,
            endpoints: self.endpoints,
            retry: self.retry,
            clock: self.clock.clone(),
        };
        let tokens = TokenManager::new(self.provider, self.refresh_margin, self.clock);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                tokens,
                page_size: self.page_size,
                start_attempts: self.start_attempts,
            }),
        })
    }
}

struct Inner {
    http: Http,
    tokens: TokenManager,
    page_size: usize,
    start_attempts: usize,
}

/// The Anaplan client. Cheap to clone; clones share one token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.http.endpoints)
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
            refresh_margin: Duration::from_secs(5 * 60),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            page_size: 5000,
            start_attempts: 3,
            pool_idle_timeout: Some(Duration::from_secs(90)),
        }
    }

    /// The endpoints this client talks to.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.http.endpoints
    }

    fn request(&self, method: Method, segments: &[&str], query: &[(&str, &str)]) -> ApiRequest {
        let mut url = self.inner.http.endpoints.api_url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        ApiRequest::new(method, url)
    }

    /// An idempotent call (GET, DELETE) returning the reply's text, with retries.
    async fn idempotent(&self, req: &ApiRequest) -> Result<String, Error> {
        self.inner
            .http
            .with_retries(|resend| async move {
                let response = self
                    .inner
                    .http
                    .api_attempt(&self.inner.tokens, req, resend)
                    .await?;
                read_text(&req.line, response).await
            })
            .await
    }

    async fn get<T>(
        &self,
        req: &ApiRequest,
        parse: fn(&str) -> Result<T, ParseError>,
    ) -> Result<T, Error> {
        let text = self.idempotent(req).await?;
        parse(&text).map_err(|source| Error::Malformed {
            request: req.line.clone(),
            source,
        })
    }

    /// Starts a task. The POST is never repeated blindly: the object's tasks are listed
    /// first, and after an ambiguous failure (broken connection, timeout, 5xx) the list is
    /// read again, a few times, and a task that was not there before is adopted instead
    /// of starting another. After a timeout, 502 or 504 the start is never sent again
    /// (the server may still create the task); after a reset, 500 or 503 it is, once no
    /// new task showed up. A busy (409) or rate-limited (429) refusal created nothing and
    /// is retried with backoff.
    pub async fn start(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
    ) -> Result<Started, Error> {
        let known = self.known_tasks(target).await?;
        self.start_after(target, options, &known).await
    }

    /// The tasks `target` has now, to pass to [`Client::start_after`] or
    /// [`Client::adopt_new`] later.
    pub async fn known_tasks(&self, target: &TaskTarget) -> Result<KnownTasks, Error> {
        let tasks = self.list_tasks(target).await?;
        Ok(tasks.into_iter().map(|t| t.task_id).collect())
    }

    /// The newest task of `target` that is not in `known`, if any: a task created by a
    /// start whose reply never arrived.
    pub async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, Error> {
        let tasks = self.list_tasks(target).await?;
        Ok(tasks.into_iter().find(|t| !known.contains(&t.task_id)))
    }

    /// [`Client::start`] with the tasks known before, e.g. restored after a crash.
    pub async fn start_after(
        &self,
        target: &TaskTarget,
        options: &StartOptions,
        known: &KnownTasks,
    ) -> Result<Started, Error> {
        if !options.mapping_parameters.is_empty() && !target.kind.accepts_mapping_parameters() {
            return Err(Error::Config(format!(
                "mapping parameters are accepted by processes and imports only, not by {} {}",
                target.kind, target.object
            )));
        }
        let mut req = self.request(Method::POST, &segments(target, &["tasks"]), &[]);
        req.body = Some(serde_json::to_value(options).map_err(|e| Error::Config(e.to_string()))?);
        let mut retrier = self.inner.http.retry.start();
        let mut sent = 0;
        loop {
            sent += 1;
            let error = match self
                .inner
                .http
                .api_attempt(&self.inner.tokens, &req, sent - 1)
                .await
            {
                Ok(response) => {
                    let text = read_text(&req.line, response).await;
                    match text.and_then(|t| {
                        StartTaskReply::parse(&t).map_err(|source| Error::Malformed {
                            request: req.line.clone(),
                            source,
                        })
                    }) {
                        Ok(reply) => {
                            return Ok(Started {
                                task_id: reply.task_id,
                                adopted: false,
                            });
                        }
                        // A 2xx whose body is lost or unreadable may still have created the task.
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            let ambiguous = error.is_ambiguous() || matches!(error, Error::Malformed { .. });
            if ambiguous {
                tracing::warn!(error = %error, "start request failed ambiguously; looking for the task it may have created");
                if let Some(task) = self.look_for_new_task(target, known, &error).await? {
                    tracing::info!(task_id = %task.task_id, "adopted the task created by the lost start request");
                    return Ok(Started {
                        task_id: task.task_id,
                        adopted: true,
                    });
                }
                if may_still_be_processing(&error) {
                    // The server may create the task after we stop looking: sending the
                    // start again could run it twice. A rerun adopts it from `known`.
                    return Err(error);
                }
            } else if !matches!(error, Error::Busy { .. } | Error::RateLimited { .. }) {
                return Err(error);
            }
            if sent >= self.inner.start_attempts {
                return Err(error);
            }
            match retrier.next_delay(&error) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }

    /// Lists the tasks a few times, with backoff, for one not in `known`: a task whose
    /// start answer was lost may show up in the list a moment later.
    async fn look_for_new_task(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
        error: &Error,
    ) -> Result<Option<TaskSummary>, Error> {
        let mut backoff = self.inner.http.retry.start();
        for _ in 0..ADOPTION_LOOKS {
            if let Some(task) = self.adopt_new(target, known).await? {
                return Ok(Some(task));
            }
            match backoff.next_delay(error) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => break,
            }
        }
        Ok(None)
    }

    /// The tasks of `target`, newest first (of all users).
    pub async fn list_tasks(&self, target: &TaskTarget) -> Result<Vec<TaskSummary>, Error> {
        let list = self
            .get(
                &self.request(Method::GET, &segments(target, &["tasks"]), &[]),
                TaskList::parse,
            )
            .await?;
        Ok(list.newest_first().into_iter().cloned().collect())
    }

    /// The status of a task (processes include the per-action details).
    pub async fn status(&self, target: &TaskTarget, task: &TaskId) -> Result<Task, Error> {
        let query: &[(&str, &str)] = if target.kind == TaskKind::Process {
            &[("includeProcessDetails", "true")]
        } else {
            &[]
        };
        let req = self.request(
            Method::GET,
            &segments(target, &["tasks", task.as_str()]),
            query,
        );
        Ok(self.get(&req, TaskStatusBody::parse).await?.task)
    }

    /// Asks Anaplan to cancel a task; it goes CANCELLING, then CANCELLED (or completes
    /// when it cannot roll back).
    pub async fn cancel(&self, target: &TaskTarget, task: &TaskId) -> Result<(), Error> {
        let req = self.request(
            Method::DELETE,
            &segments(target, &["tasks", task.as_str()]),
            &[],
        );
        self.idempotent(&req).await.map(|_| ())
    }

    fn dump_segments<'a>(
        target: &'a TaskTarget,
        task: &'a TaskId,
        source: &'a DumpSource,
    ) -> Vec<&'a str> {
        match source {
            DumpSource::Import => segments(target, &["tasks", task.as_str(), "dump", "chunks"]),
            DumpSource::ProcessAction(object) => segments(
                target,
                &["tasks", task.as_str(), "dumps", object.as_str(), "chunks"],
            ),
        }
    }

    /// The chunks of a dump. A dump that is gone answers [`Error::NotFound`].
    pub async fn dump_chunks(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
    ) -> Result<Vec<Chunk>, Error> {
        let req = self.request(Method::GET, &Self::dump_segments(target, task, source), &[]);
        Ok(self.get(&req, ChunkList::parse).await?.items)
    }

    /// Downloads every chunk of a dump in order into `out`, streaming (never the whole
    /// dump in memory). Returns the bytes written. A chunk whose body breaks off is an
    /// error; write to a temporary file and retry the whole download.
    pub async fn download_dump<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        source: &DumpSource,
        out: &mut W,
    ) -> Result<u64, Error> {
        let chunks = self.dump_chunks(target, task, source).await?;
        let mut written = 0u64;
        for chunk in chunks {
            let mut segments = Self::dump_segments(target, task, source);
            segments.push(chunk.id.as_str());
            let req = self.request(Method::GET, &segments, &[]);
            let line = &req.line;
            let mut response = self
                .inner
                .http
                .with_retries(|resend| {
                    let req = &req;
                    async move {
                        self.inner
                            .http
                            .api_attempt(&self.inner.tokens, req, resend)
                            .await
                    }
                })
                .await?;
            loop {
                let piece = response.chunk().await.map_err(|e| broken(line, &e))?;
                let Some(piece) = piece else { break };
                out.write_all(&piece).await.map_err(|source| Error::Write {
                    request: line.clone(),
                    source,
                })?;
                written += piece.len() as u64;
            }
        }
        out.flush().await.map_err(|source| Error::Write {
            request: RequestLine {
                method: "GET".into(),
                path: "dump".into(),
            },
            source,
        })?;
        Ok(written)
    }

    /// A process's actions in execution order, with their names and types.
    pub async fn process_metadata(
        &self,
        model: &ModelId,
        process: &ObjectId,
    ) -> Result<ProcessMetadata, Error> {
        let req = self.request(
            Method::GET,
            &["models", model.as_str(), "processes", process.as_str()],
            &[],
        );
        let reply: ProcessMetadataReply = self.get(&req, runwait_core::wire::parse_json).await?;
        Ok(reply.process_metadata)
    }

    /// All pages of a listing.
    async fn paged<L, T>(
        &self,
        segments: &[&str],
        parse: fn(&str) -> Result<L, ParseError>,
        split: fn(L) -> (Option<Meta>, Vec<T>),
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        loop {
            let offset = items.len().to_string();
            let limit = self.inner.page_size.to_string();
            let req = self.request(
                Method::GET,
                segments,
                &[("offset", &offset), ("limit", &limit)],
            );
            let (meta, page) = split(self.get(&req, parse).await?);
            let got = page.len();
            items.extend(page);
            let total = meta.and_then(|m| m.paging).map(|p| p.total_size as usize);
            match total {
                Some(total) if got > 0 && items.len() < total => continue,
                _ => return Ok(items),
            }
        }
    }

    /// The workspaces the user can see.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, Error> {
        self.paged(&["workspaces"], WorkspaceList::parse, |l| (l.meta, l.items))
            .await
    }

    /// The models of a workspace.
    pub async fn models(&self, workspace: &WorkspaceId) -> Result<Vec<Model>, Error> {
        self.paged(
            &["workspaces", workspace.as_str(), "models"],
            ModelList::parse,
            |l| (l.meta, l.items),
        )
        .await
    }

    /// The processes, imports, exports or actions of a model.
    pub async fn objects(
        &self,
        workspace: &WorkspaceId,
        model: &ModelId,
        kind: TaskKind,
    ) -> Result<Vec<NamedObject>, Error> {
        let segments = [
            "workspaces",
            workspace.as_str(),
            "models",
            model.as_str(),
            segment(kind),
        ];
        match kind {
            TaskKind::Process => {
                self.paged(&segments, ProcessList::parse, |l| (l.meta, l.items))
                    .await
            }
            TaskKind::Import => {
                self.paged(&segments, ImportList::parse, |l| (l.meta, l.items))
                    .await
            }
            TaskKind::Export => {
                self.paged(&segments, ExportList::parse, |l| (l.meta, l.items))
                    .await
            }
            TaskKind::Action => {
                self.paged(&segments, ActionList::parse, |l| (l.meta, l.items))
                    .await
            }
        }
    }

    /// The id of the object of `kind` named `name` (exact match). None or several is an
    /// error naming the candidates.
    pub async fn find_object(
        &self,
        workspace: &WorkspaceId,
        model: &ModelId,
        kind: TaskKind,
        name: &str,
    ) -> Result<ObjectId, Error> {
        let objects = self.objects(workspace, model, kind).await?;
        let matching: Vec<&NamedObject> = objects.iter().filter(|o| o.name == name).collect();
        match matching.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => {
                let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).take(20).collect();
                Err(Error::Config(format!(
                    "no {kind} named `{name}` in model {model}; it has: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )))
            }
            several => Err(Error::Config(format!(
                "{} {kind}s are named `{name}` in model {model} ({}): use the id",
                several.len(),
                several
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}
