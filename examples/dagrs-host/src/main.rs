//! `dagrs-host`: a pipeline runner built on dagrs, a DAG runner nobody at runwait wrote,
//! with runwait steps embedded as jobs of its own YAML file. See the README.
//!
//! Usage: `dagrs-host PIPELINE.yaml [--out DIR]`. It starts runwait's Anaplan simulator
//! on loopback (scenario time 60 times faster), runs the jobs against it, prints one line
//! per job as it ends and a summary line, and exits 0 when every job passed (succeeded,
//! or failed with `allow_failure: true`), 1 when one did not, 2 when the pipeline could
//! not run at all.

mod graph;
mod pipeline;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use runwait_executor::MemoryStore;
use runwait_sim::Scenario;
use runwait_workflow::connect::connect;
use runwait_workflow::model::Connection;

use crate::graph::Shared;
use crate::pipeline::Pipeline;
use crate::report::JobReport;

/// Scenario seconds per real second: the demo processes take half a second.
const SPEED: f64 = 60.0;

fn main() -> ExitCode {
    let (file, out_dir) = match args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let pipeline = match Pipeline::load(&file) {
        Ok(pipeline) => pipeline,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(pipeline, out_dir)) {
        Ok(reports) => summary(&reports),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn args() -> Result<(PathBuf, PathBuf), String> {
    const USAGE: &str = "usage: dagrs-host PIPELINE.yaml [--out DIR]";
    let mut args = std::env::args_os().skip(1);
    let file = args.next().ok_or(USAGE)?;
    let out_dir = match (args.next(), args.next(), args.next()) {
        (None, ..) => PathBuf::from(runwait_executor::StepContext::DEFAULT_OUT_DIR),
        (Some(flag), Some(dir), None) if flag == "--out" => PathBuf::from(dir),
        _ => return Err(USAGE.to_owned()),
    };
    Ok((file.into(), out_dir))
}

/// Why the pipeline could not run.
#[derive(Debug, thiserror::Error)]
enum HostError {
    #[error("cannot start the simulator: {0}")]
    Connect(#[from] runwait_workflow::connect::ConnectError),
    #[error("dagrs: {0:?}")]
    Dagrs(dagrs::DagrsError),
}

async fn run(pipeline: Pipeline, out_dir: PathBuf) -> Result<Vec<JobReport>, HostError> {
    let connected = connect(&Connection::Simulator {
        scenario: Box::new(Scenario::builtin()),
        speed: SPEED,
    })
    .await?;
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let shared = Arc::new(Shared {
        client: Arc::new(connected.client),
        store: Arc::new(MemoryStore::new()),
        run_key: format!("{}-{}", pipeline.pipeline, started.as_millis()),
        workflow: pipeline.pipeline.clone(),
        out_dir,
        poll: graph::simulator_poll(),
    });
    let reports = graph::run(pipeline, shared).await.map_err(HostError::Dagrs);
    if let Some(simulator) = connected.simulator {
        simulator.shutdown().await;
    }
    reports
}

fn summary(reports: &[JobReport]) -> ExitCode {
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() {
        println!("pipeline passed: {} jobs", reports.len());
        ExitCode::SUCCESS
    } else {
        println!("pipeline failed: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}
