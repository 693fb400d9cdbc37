//! The pipeline as a dagrs graph: one `DefaultNode` per job, `after:` as edges. Each
//! node's [`Action`] waits for the reports of the jobs it comes after (dagrs passes them
//! along the edges), runs its job unless one of them did not pass, and sends its own
//! report on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dagrs::{
    Action, Content, DagrsError, DefaultNode, EnvVar, Graph, InChannels, NodeId, NodeTable,
    OutChannels, Output,
};
use runwait_anaplan::Client;
use runwait_executor::{MemoryStore, PollPolicy, Step, StepContext, WaitConfig};
use runwait_workflow::StepSpec;

use crate::pipeline::{Job, Pipeline, Work};
use crate::report::{JobReport, Outcome};

/// What every runwait step of one run shares.
pub struct Shared {
    /// The client of the tenant (here: the embedded simulator).
    pub client: Arc<Client>,
    /// Where steps record their tasks; in memory, as this host never resumes a run.
    pub store: Arc<MemoryStore>,
    /// The pipeline's name: the workflow name of its steps.
    pub workflow: String,
    /// This run's key.
    pub run_key: String,
    /// Where failure dumps go.
    pub out_dir: PathBuf,
    /// How often tasks are polled.
    pub poll: PollPolicy,
}

/// Runs the pipeline's jobs as a dagrs graph; the reports come back in the file's order.
pub async fn run(pipeline: Pipeline, shared: Arc<Shared>) -> Result<Vec<JobReport>, DagrsError> {
    let mut table = NodeTable::new();
    let mut graph = Graph::new();
    let mut ids: HashMap<String, NodeId> = HashMap::new();
    let mut order = Vec::new();
    let mut edges = Vec::new();
    for job in pipeline.jobs {
        let name = job.name.clone();
        edges.extend(job.after.iter().map(|a| (a.clone(), name.clone())));
        let action = JobAction {
            job,
            shared: shared.clone(),
        };
        let node = DefaultNode::with_action(name.clone(), action, &mut table);
        ids.insert(name.clone(), graph.add_node(node)?);
        order.push(name);
    }
    // `Pipeline::load` checked that every `after:` names a job.
    for (from, to) in edges {
        graph.add_edge(ids[&from], [ids[&to]])?;
    }
    graph.set_env(EnvVar::new(table));
    graph.async_start().await?;
    let mut results = graph.get_results::<JobReport>();
    Ok(order
        .iter()
        .map(|name| {
            results
                .remove(&ids[name])
                .flatten()
                .map_or_else(|| not_reported(name), |r| (*r).clone())
        })
        .collect())
}

fn not_reported(name: &str) -> JobReport {
    JobReport::without_task(
        name,
        Outcome::Skipped,
        false,
        "dagrs did not run it".to_owned(),
    )
}

/// A job as a dagrs node's action.
struct JobAction {
    job: Job,
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl Action for JobAction {
    async fn run(
        &self,
        in_channels: &mut InChannels,
        out_channels: &mut OutChannels,
        _env: Arc<EnvVar>,
    ) -> Output {
        let before: Vec<Option<Arc<JobReport>>> = in_channels
            .map(|content| content.ok().and_then(Content::into_inner::<JobReport>))
            .await;
        let blocked: Vec<String> = before
            .iter()
            .filter_map(|r| match r {
                Some(r) if r.passed => None,
                Some(r) => Some(r.name.clone()),
                None => Some("(a job whose report did not arrive)".to_owned()),
            })
            .collect();
        let report = if blocked.is_empty() {
            self.run_job().await
        } else {
            JobReport::without_task(
                &self.job.name,
                Outcome::Skipped,
                self.job.allow_failure,
                format!("not run: {} did not pass", blocked.join(", ")),
            )
        };
        // One line per job as it ends: the order on the terminal is the order of the run.
        println!("{report}");
        out_channels.broadcast(Content::new(report.clone())).await;
        Output::new(report)
    }
}

impl JobAction {
    async fn run_job(&self) -> JobReport {
        let job = &self.job;
        match &job.work {
            Work::Echo { message } => JobReport::without_task(
                &job.name,
                Outcome::Done,
                job.allow_failure,
                message.clone(),
            ),
            // Boxed: the engine's future is deep, too deep to lay out inline in dagrs's.
            Work::Runwait(spec) => Box::pin(self.run_step(spec)).await,
        }
    }

    async fn run_step(&self, spec: &StepSpec) -> JobReport {
        let (job, shared) = (&self.job, &self.shared);
        // This host polls the sped-up simulator more often than Anaplan's 5 s floor: its
        // poll policy is the base of every step's wait (the step's policies apply on top).
        let base = WaitConfig::default().with_poll(shared.poll);
        let step = match runwait_workflow::step_with(spec, shared.client.clone(), None, base).await
        {
            Ok(step) => step,
            Err(e) => {
                return JobReport::without_task(
                    &job.name,
                    Outcome::NotRunnable,
                    job.allow_failure,
                    e.to_string(),
                );
            }
        };
        let mut ctx = StepContext::builder(job.name.as_str(), shared.run_key.as_str())
            .workflow(shared.workflow.as_str())
            .state(shared.store.clone())
            .out_dir(shared.out_dir.clone());
        if let Some(timeout) = spec.timeout {
            ctx = ctx.timeout(timeout);
        }
        let result = step.run(ctx.build()).await;
        JobReport::of_step(&job.name, job.allow_failure, result)
    }
}

/// The poll policy for the simulator at the speed this host runs it.
pub fn simulator_poll() -> PollPolicy {
    PollPolicy::default()
        .with_min_interval(Duration::from_millis(100))
        .with_max_interval(Duration::from_secs(1))
}
