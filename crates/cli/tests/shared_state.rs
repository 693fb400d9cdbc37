//! Several `runwait` processes, each in its own working directory, sharing one
//! PostgreSQL state store (a real server from `runwait_postgres::testing`, one database
//! per test) and one `runwait sim`: a killed run is taken over elsewhere and reattaches,
//! two live runs of one run key never both start, and their tenant budget is shared.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Sim, finish, history_rows, runwait, signal, step, tasks};
use runwait_postgres::PgUrl;
use runwait_postgres::testing::TestServer;
use serde_json::Value;

const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";

const LONG_ACTION: &str =
    "  - id: rebuild\n    uses: anaplan/action\n    with: { id: \"117000000001\" }\n";

/// A simulator whose action runs 3 scenario minutes (9 s), a fresh database, two nodes
/// (working directories) and the workflow file.
fn two_nodes() -> (Sim, PgUrl, [tempfile::TempDir; 2], PathBuf) {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/long-action.yaml");
    let sim = Sim::start_with("20", Some(&scenario), &[]);
    let nodes = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let file = sim.workflow(nodes[0].path(), LONG_ACTION);
    (sim, TestServer::shared().database(), nodes, file)
}

/// `runwait run FILE` in `dir` (its own working directory) on the database `db`, given
/// through the environment as a scheduler would.
fn run_in(dir: &Path, file: &Path, db: &PgUrl, run_key: &str, extra: &[&str]) -> Command {
    let mut cmd = runwait();
    cmd.current_dir(dir)
        .arg("run")
        .arg(file)
        .args(["--output", "json", "--run-key", run_key])
        .args(extra)
        .env("RUNWAIT_STATE_URL", db.expose())
        .env("RUNWAIT_TEST_PASSWORD", "demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits until `runwait tasks` (from a third directory) shows the step's task recorded.
fn wait_for_recorded_task(file: &Path, db: &PgUrl) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let listed = tasks(file, &["--state", db.expose()]);
        if let Some(row) = listed.lines().find(|l| l.starts_with("rebuild")) {
            let task = row.split_whitespace().nth(2).unwrap_or_default();
            if task.len() == 32 {
                return task.to_owned();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no task was recorded in the database");
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_run_killed_mid_wait_is_taken_over_on_another_node_and_reattaches() {
    let (sim, db, [node_a, node_b], file) = two_nodes();
    let lease = ["--state-lease", "3s"];

    let a = run_in(node_a.path(), &file, &db, "nightly-7", &lease)
        .spawn()
        .unwrap();
    let task = wait_for_recorded_task(&file, &db);
    signal(&a, "-KILL");
    let _ = a.wait_with_output().unwrap();

    // The rerun on another node is refused while the dead run's lease lasts (starting
    // nothing), then takes it over and reattaches.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut refused = 0;
    let doc = loop {
        let out = run_in(node_b.path(), &file, &db, "nightly-7", &lease)
            .output()
            .unwrap();
        if out.status.code() == Some(0) {
            break serde_json::from_slice::<Value>(&out.stdout).unwrap();
        }
        let said = text(&out);
        assert_eq!(out.status.code(), Some(5), "{said}");
        assert!(said.contains("another run with the same run key"), "{said}");
        refused += 1;
        assert!(Instant::now() < deadline, "the lease was never taken over");
        std::thread::sleep(Duration::from_millis(300));
    };
    let rebuild = step(&doc, "rebuild");
    assert_eq!(rebuild["reattached"], true, "{doc}");
    assert_eq!(rebuild["task_id"], task.as_str());
    assert_eq!(
        sim.starts(),
        1,
        "exactly one task in the journal ({refused} refusals)"
    );
    assert!(
        !node_b.path().join(".runwait/state").exists(),
        "nothing kept on the node's disk"
    );
    // The finished step is in the database's history (the killed run left none).
    let listed = tasks(&file, &["--history", "--state", db.expose()]);
    let history = history_rows(&listed);
    assert_eq!(history.len(), 1, "{listed}");
    assert_eq!(history[0][..2], ["rebuild", "nightly-7"], "{listed}");
    assert_eq!(history[0][6], "succeeded", "{listed}");
    assert!(
        !listed.contains("hunter2") && !listed.contains(db.expose()),
        "{listed}"
    );
}

#[test]
fn two_live_runs_with_one_run_key_never_both_start() {
    let (sim, db, nodes, file) = two_nodes();
    let both: Vec<Child> = nodes
        .iter()
        .map(|node| {
            run_in(node.path(), &file, &db, "twice", &[])
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes: Vec<(i32, Value)> = both.into_iter().map(finish).collect();
    codes.sort_by_key(|(code, _)| *code);
    assert_eq!(codes[0].0, 0, "{}", codes[0].1);
    assert_eq!(codes[1].0, 5, "{}", codes[1].1);
    let refused = step(&codes[1].1, "rebuild")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        refused.contains("another run with the same run key"),
        "{refused}"
    );
    assert!(refused.contains("held by "), "{refused}");
    assert_eq!(sim.starts(), 1);
}

/// Processes, waits per process, the tenant's limit (requests per second) and the
/// processes' shared budget: the 4 x 250 waits at 10/s take minutes; this keeps
/// four processes and many waits each within about half a minute.
const PROCESSES: usize = 4;
const WAITS: usize = 40;
const RATE: u32 = 20;

/// One model per wait (a model runs one task at a time), each with a short action.
fn many_models(dir: &Path) -> PathBuf {
    let mut yaml = format!(
        "users:\n  - {{name: demo@runwait.local, password: demo}}\nworkspaces:\n  - id: {WORKSPACE}\n    name: Demo\n    models:\n"
    );
    for i in 0..PROCESSES * WAITS {
        yaml.push_str(&format!(
            "      - id: {i:032X}\n        name: Model {i}\n        actions:\n          - {{id: \"117000000001\", name: Refresh, duration: 2s, outcome: success}}\n"
        ));
    }
    let file = dir.join("many.yaml");
    std::fs::write(&file, yaml).unwrap();
    file
}

fn steps_of(process: usize) -> String {
    (0..WAITS)
        .map(|j| {
            let model = process * WAITS + j;
            format!(
                "  - id: wait-{j}\n    uses: anaplan/action\n    with: {{ id: \"117000000001\", model: {model:032X} }}\n"
            )
        })
        .collect()
}

#[test]
fn processes_on_one_database_share_the_tenants_budget() {
    let scratch = tempfile::tempdir().unwrap();
    let sim = Sim::start_with(
        "1",
        Some(&many_models(scratch.path())),
        &["--rate-limit", &RATE.to_string()],
    );
    let db = TestServer::shared().database();
    let nodes: Vec<_> = (0..PROCESSES)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let began = Instant::now();
    let runs: Vec<Child> = nodes
        .iter()
        .enumerate()
        .map(|(p, node)| {
            let file = sim.workflow_with(
                node.path(),
                &format!("  rate_per_second: {RATE}\n"),
                &steps_of(p),
            );
            run_in(
                node.path(),
                &file,
                &db,
                &format!("p{p}"),
                &["--max-parallel", &WAITS.to_string()],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for run in runs {
        let (code, doc) = finish(run);
        assert_eq!(code, 0, "{doc}");
    }
    let took = began.elapsed();
    let journal = sim.journal();
    let calls = journal.iter().filter(|e| e["kind"] != "auth").count();
    let refused = journal.iter().filter(|e| e["answer"] == 429).count();
    assert!(
        calls >= 3 * PROCESSES * WAITS,
        "list, start, poll each: {calls}"
    );
    assert_eq!(refused, 0, "{calls} calls in {took:?}");
    // Together they kept the tenant's rate: the calls took at least calls / RATE.
    let floor = Duration::from_secs_f64((calls - RATE as usize) as f64 / f64::from(RATE));
    assert!(took >= floor, "{calls} calls in {took:?}");
}
