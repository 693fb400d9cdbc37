//! An unmodified third-party Anaplan client (the Python package `anaplan-sdk`) runs a
//! process to completion against the simulator and reads its status.
//!
//! Needs a Python with `anaplan-sdk` installed, named by `RUNWAIT_ANAPLAN_SDK_PYTHON`;
//! without it the test says loudly that it skipped.

use std::process::Command;

use crate::common::{MODEL, WS};
use runwait_sim::{Answer, CallKind, Scenario, SimConfig, Simulator};
use serde_json::Value;

const PROCESS: &str = "118000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anaplan_sdk_runs_a_process_to_completion() {
    let Some(python) = std::env::var_os("RUNWAIT_ANAPLAN_SDK_PYTHON") else {
        eprintln!(
            "\n*** SKIPPED: third-party client test: set RUNWAIT_ANAPLAN_SDK_PYTHON to a Python \
             with `anaplan-sdk` installed to run it ***\n"
        );
        return;
    };
    // The process takes 30 scenario seconds: about 1.5 s of real time at speed 20, so
    // the client (which polls every second) sees it running before it completes.
    let sim = Simulator::start(SimConfig::new(Scenario::builtin()).speed(20.0))
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/anaplan_sdk_client.py");
    let base = sim.auth_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([
                script,
                &base,
                WS,
                MODEL,
                PROCESS,
                "demo@runwait.local",
                "demo",
            ])
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let status: Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(status["taskState"], "COMPLETE");
    assert_eq!(status["successful"], true);
    assert_eq!(status["progress"], 1.0);
    assert_eq!(status["nested"], 2);

    let journal = sim.journal();
    let starts: Vec<_> = journal
        .iter()
        .filter(|e| e.kind == CallKind::Start)
        .collect();
    assert_eq!(starts.len(), 1, "exactly one start POST");
    assert!(
        starts[0]
            .path
            .ends_with(&format!("/processes/{PROCESS}/tasks"))
    );
    let polls = journal
        .iter()
        .filter(|e| e.kind == CallKind::Status)
        .count();
    assert!(polls >= 2, "the client polled while the task ran: {polls}");
    assert!(
        journal
            .iter()
            .all(|e| e.answer == Answer::Status(200) || e.kind == CallKind::Auth)
    );
    assert_eq!(
        sim.tasks()[0].task_id.as_str(),
        status["taskId"].as_str().unwrap()
    );
    sim.shutdown().await;
}
