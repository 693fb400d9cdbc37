//! The library worker: one process that runs N `RunAndWait` steps at once through the
//! real client (`runwait-anaplan`) with a [`FileStore`] (as `runwait run --state-dir`
//! does), beside a 10 ms ticker that measures how late the runtime wakes it while the
//! waits start their tasks (the timer stalls of issue 13, target 5). The ticker stops
//! once every wait has started, so its own wakes cost the polling phase no CPU.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runwait_anaplan::{BasicAuth, Client, Endpoints, Secret, TaskKind, TaskTarget};
use runwait_core::{ObjectId, WorkspaceId};
use runwait_executor::{
    EventSink, FileStore, PollPolicy, RateBudget, RunAndWait, Step, StepContext, StepEvent,
    TokioEnv, WaitConfig,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::args::Args;
use crate::{ACTION, PASSWORD, USER, WORKSPACE, model_id};

/// The ticker's period.
const TICK: Duration = Duration::from_millis(10);

/// What the worker runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The simulator, `127.0.0.1:PORT`.
    pub addr: String,
    /// The first model waited on.
    pub first: usize,
    /// How many waits, one per model from `first` on.
    pub n: usize,
    /// A fixed delay between two polls of a task; `None`: runwait's default schedule.
    pub fixed_poll: Option<Duration>,
    /// The rate budget, requests per second; `None`: no budget
    /// ([`RateBudget::unlimited`]).
    pub budget: Option<u32>,
    /// The run's scratch directory: the file store in `state/`, dumps in `out/`.
    pub dir: PathBuf,
}

impl Options {
    /// From `--addr ADDR --n N [--first K] [--poll 5s|default] [--budget R|off]
    /// --dir DIR` (the scratch directory).
    pub fn from_args(args: &Args) -> Result<Options, Box<dyn std::error::Error>> {
        let poll = args.text("poll").unwrap_or("default");
        let budget = args.text("budget").unwrap_or("off");
        Ok(Options {
            addr: args.text("addr").ok_or("--addr is required")?.to_owned(),
            first: args.number("first", 0),
            n: args.number("n", 1),
            fixed_poll: (poll != "default").then(|| args.duration("poll", Duration::ZERO)),
            budget: (budget != "off").then(|| args.number("budget", 10)),
            dir: args.text("dir").ok_or("--dir is required")?.into(),
        })
    }

    /// The arguments of `runwait-bench worker` for these options.
    pub fn args(&self) -> Vec<String> {
        vec![
            "worker".to_owned(),
            "--addr".to_owned(),
            self.addr.clone(),
            "--first".to_owned(),
            self.first.to_string(),
            "--n".to_owned(),
            self.n.to_string(),
            "--poll".to_owned(),
            self.fixed_poll
                .map_or("default".to_owned(), |d| format!("{}ms", d.as_millis())),
            "--budget".to_owned(),
            self.budget.map_or("off".to_owned(), |r| r.to_string()),
            "--dir".to_owned(),
            self.dir.display().to_string(),
        ]
    }
}

/// Runs the waits; the report (outcomes by name, the largest timer stall while the
/// waits started, in ms, and how long they took to start, in s) as one JSON value.
pub async fn run(options: Options) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let began = Instant::now();
    let endpoints = Endpoints::custom(
        &format!("http://{}/2/0", options.addr),
        &format!("http://{}", options.addr),
    )?;
    let client = Client::builder(endpoints, BasicAuth::new(USER, Secret::new(PASSWORD))).build()?;
    let api = Arc::new(client);
    let budget = options
        .budget
        .map_or_else(RateBudget::unlimited, RateBudget::per_second);
    let store = Arc::new(FileStore::new(options.dir.join("state")));
    let mut config = WaitConfig::default();
    if let Some(every) = options.fixed_poll {
        let poll = PollPolicy::default()
            .with_min_interval(every)
            .with_blind_min_interval(every)
            .with_max_interval(every)
            .with_jitter(0.0);
        config = config.with_poll(poll);
    }
    // One config for every wait, as the workflow loader shares one between steps.
    let config = Arc::new(config);

    // The start phase ends when every wait has started its task.
    let started = Arc::new(AtomicUsize::new(0));
    let counted = started.clone();
    let events = EventSink::new(move |_, event| {
        if matches!(event, StepEvent::Started { .. }) {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let stalls = Arc::new(Stalls::default());
    let ticker = tokio::spawn(tick(stalls.clone(), started.clone(), options.n));

    // One cancel and one detach for every wait, as a host wires its signals once (and
    // as the runner passes its own tokens to each step): a context built without them
    // makes two of its own, 256 bytes a wait.
    let (cancel, detach) = (CancellationToken::new(), CancellationToken::new());
    let mut waits = tokio::task::JoinSet::new();
    // The ids every wait shares are made once, as the workflow loader shares a
    // default workspace between steps; each model's id is its own.
    let (workspace, action) = (WorkspaceId::from(WORKSPACE), ObjectId::from(ACTION));
    for i in options.first..options.first + options.n {
        let target = TaskTarget::new(
            workspace.clone(),
            model_id(i),
            TaskKind::Action,
            action.clone(),
        );
        let step = RunAndWait::new(api.clone(), target)
            .config(config.clone())
            .budget(budget.clone())
            .env(Arc::new(TokioEnv::seeded(i as u64)));
        let (store, out_dir, events) = (store.clone(), options.dir.join("out"), events.clone());
        let (cancel, detach) = (cancel.clone(), detach.clone());
        // The context is built inside the task, as a runner builds it for each attempt:
        // a context moved into the task would keep its room there for the whole wait.
        waits.spawn(async move {
            let ctx = StepContext::builder(format!("wait-{i}"), "bench")
                .workflow("bench")
                .state(store)
                .out_dir(out_dir)
                .events(events)
                .cancel(cancel)
                .detach(detach)
                .build();
            step.run(ctx).await
        });
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(result) = waits.join_next().await {
        let name = result.map_or("panicked", |r| r.outcome.name());
        *outcomes.entry(name.to_owned()).or_default() += 1;
    }
    // A wait that ended before it started a task leaves the ticker running until now.
    ticker.abort();
    let started_in = match ticker.await {
        Ok(at) => at.duration_since(began).as_secs_f64(),
        Err(_) => f64::NAN,
    };
    Ok(json!({
        "outcomes": outcomes,
        "stall_start_ms": stalls.start_us.load(Ordering::Relaxed) as f64 / 1000.0,
        "started_in_s": started_in,
        "wall_s": began.elapsed().as_secs_f64(),
    }))
}

/// The largest lateness of the ticker, µs.
#[derive(Debug, Default)]
struct Stalls {
    start_us: AtomicU64,
}

/// Sleeps 10 ms at a time, recording how much later than asked each wake came, until
/// all `n` waits have started; when that was.
async fn tick(stalls: Arc<Stalls>, started: Arc<AtomicUsize>, n: usize) -> Instant {
    while started.load(Ordering::Relaxed) < n {
        let asked = Instant::now();
        tokio::time::sleep(TICK).await;
        let late = asked.elapsed().saturating_sub(TICK).as_micros() as u64;
        stalls.start_us.fetch_max(late, Ordering::Relaxed);
    }
    Instant::now()
}
