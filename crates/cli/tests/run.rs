//! `runwait run` end to end: the built binary against the embedded simulator or a
//! standalone `runwait sim`, for every exit code, both output modes, and the signals.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn runwait() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runwait"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run")
        .join(name)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `runwait run WORKFLOW` with its state and dumps under `dir` and the tenant's password
/// in the environment.
fn run_command(workflow: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = runwait();
    cmd.arg("run")
        .arg(workflow)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out-dir")
        .arg(dir.join("out"))
        .args(extra)
        .env("RUNWAIT_TEST_PASSWORD", "demo");
    cmd
}

fn run(workflow: &Path, dir: &Path, extra: &[&str]) -> Run {
    let out = run_command(workflow, dir, extra).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}\nstdout: {}\nstderr: {}", run.stdout, run.stderr))
}

fn step<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

#[test]
fn a_failing_workflow_prints_its_summary_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&fixture("nightly.yaml"), dir.path(), &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let row = |id: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {}", r.stdout))
            .to_owned()
    };
    assert!(row("load ").contains(" succeeded "), "{}", r.stdout);
    assert!(
        row("sales ").contains("succeeded_with_warnings"),
        "{}",
        r.stdout
    );
    assert!(row("customers ").contains("failed"), "{}", r.stdout);
    assert!(row("on_failure ").contains(" succeeded "), "{}", r.stdout);
    assert!(row("after_success ").contains("skipped"), "{}", r.stdout);
    assert!(
        r.stdout.contains("workflow nightly: failed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("customers: failed: 112000000003"),
        "{}",
        r.stdout
    );
    let dump = dir
        .path()
        .join("out/customers/1-112000000003-Customers_from_customers.csv");
    assert!(dump.exists(), "{}", r.stdout);
    assert!(
        r.stderr.contains("started task"),
        "progress lines on stderr: {}",
        r.stderr
    );
}

#[test]
fn log_lines_name_their_step_and_task() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_command(&fixture("nightly.yaml"), dir.path(), &[])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| {
            l.contains(" INFO ") && l.contains("runwait.step.id=customers") && l.contains("failed:")
        })
        .unwrap_or_else(|| panic!("no log line of the customers step's outcome:\n{stderr}"));
    assert!(line.contains("anaplan.task.id=\""), "{line}");
    assert_eq!(line.matches("anaplan.task.id=").count(), 1, "{line}");
}

#[test]
fn json_output_is_one_document_with_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fixture("nightly.yaml"),
        dir.path(),
        &["--output", "json", "--run-key", "k1"],
    );
    assert_eq!(r.code, 1);
    let doc = json(&r);
    assert_eq!(doc["workflow"], "nightly");
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["run_key"], "k1");
    let sales = step(&doc, "sales");
    assert_eq!(sales["uses"], "anaplan/process");
    assert_eq!(sales["outcome"], "succeeded_with_warnings");
    assert_eq!(sales["task_state"], "COMPLETE");
    assert_eq!(sales["successful"], true);
    assert!(sales["polls"].as_u64().unwrap() >= 1);
    assert!(sales["task_id"].as_str().unwrap().len() == 32);
    assert!(sales["duration_ms"].is_u64());
    assert_eq!(sales["dumps"][0]["warning_rows"], 3, "{sales}");
    assert_eq!(sales["nested"].as_array().unwrap().len(), 2);
    assert!(sales["message"].is_string());
    let customers = step(&doc, "customers");
    assert_eq!(customers["outcome"], "failed");
    assert_eq!(customers["attempts"], 2, "a failed step is retried");
    assert_eq!(customers["successful"], false);
    assert_eq!(step(&doc, "after_success")["outcome"], "skipped");
}

#[test]
fn a_timeout_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&fixture("slow.yaml"), dir.path(), &["--output", "json"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["outcome"], "timed_out");
    assert_eq!(step(&doc, "long")["outcome"], "timed_out");
    // The timeout as configured (`timeout: 1s`), not the time left when the step began.
    let message = step(&doc, "long")["message"].as_str().unwrap();
    assert!(message.starts_with("timed out after 1s;"), "{message}");
}

#[test]
fn an_invalid_workflow_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: x\nsteps: 3\n").unwrap();
    let r = run(&file, dir.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bad.yaml:"), "{}", r.stderr);
}

/// A `runwait sim` process: it outlives the runs, so they can reattach.
struct Sim {
    child: Child,
    addr: String,
    /// Kept open: the simulator prints more lines, and a closed pipe would kill it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Sim {
    fn start(speed: &str, scenario: Option<&Path>) -> Sim {
        let mut cmd = runwait();
        cmd.args(["sim", "--listen", "127.0.0.1:0", "--speed", speed])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(s) = scenario {
            cmd.arg("--scenario").arg(s);
        }
        let mut child = cmd.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
        Sim {
            child,
            addr,
            _stdout: stdout,
        }
    }

    fn workflow(&self, dir: &Path, steps: &str) -> PathBuf {
        let file = dir.join("tenant.yaml");
        std::fs::write(
            &file,
            format!(
                "name: tenant\nconnection:\n  api_url: http://{a}/2/0\n  auth_url: http://{a}\n  auth:\n    kind: basic\n    user: demo@runwait.local\n    password: {{ env: RUNWAIT_TEST_PASSWORD }}\ndefaults:\n  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n  model: 75A40874E6B64FA3AE0743278996850F\n  poll: {{ min_interval: 5s, max_interval: 5s }}\nsteps:\n{steps}",
                a = self.addr
            ),
        )
        .unwrap();
        file
    }

    /// `GET /__sim/journal`, over a plain socket.
    fn journal(&self) -> Vec<Value> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "GET /__sim/journal HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("journal: {e}: {reply}"))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LONG_ACTION: &str =
    "  - id: rebuild\n    uses: anaplan/action\n    with: { id: \"117000000001\" }\n";

#[test]
fn bad_credentials_exit_5() {
    let sim = Sim::start("1", None);
    let dir = tempfile::tempdir().unwrap();
    let file = sim.workflow(dir.path(), LONG_ACTION);
    let out = run_command(&file, dir.path(), &["--output", "json"])
        .env("RUNWAIT_TEST_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(step(&doc, "rebuild")["outcome"], "error");
    assert!(
        step(&doc, "rebuild")["message"]
            .as_str()
            .unwrap()
            .contains("authentication failed")
    );
}

fn spawn_run(file: &Path, dir: &Path, run_key: &str) -> Child {
    run_command(file, dir, &["--output", "json", "--run-key", run_key])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the state store records a started task.
fn wait_for_task(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let started = std::fs::read_dir(dir.join("state"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("\"task_id\": \""))
            });
        if started {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no task was recorded");
}

fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

fn finish(child: Child) -> (i32, Value) {
    let out = child.wait_with_output().unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

#[test]
fn ctrl_c_cancels_the_remote_task_and_exits_4() {
    let sim = Sim::start("20", Some(&fixture("long-action.yaml")));
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_run(&sim.workflow(dir.path(), LONG_ACTION), dir.path(), "c1");
    wait_for_task(dir.path());
    signal(&child, "-INT");
    let (code, doc) = finish(child);
    assert_eq!(code, 4);
    assert_eq!(doc["outcome"], "cancelled");
    assert_eq!(step(&doc, "rebuild")["outcome"], "cancelled");
    let deletes = sim
        .journal()
        .iter()
        .filter(|e| e["method"] == "DELETE")
        .count();
    assert_eq!(deletes, 1);
}

#[test]
fn sigterm_detaches_and_a_rerun_reattaches() {
    let sim = Sim::start("20", Some(&fixture("long-action.yaml")));
    let dir = tempfile::tempdir().unwrap();
    let file = sim.workflow(dir.path(), LONG_ACTION);
    let child = spawn_run(&file, dir.path(), "nightly-1");
    wait_for_task(dir.path());
    signal(&child, "-TERM");
    let (code, doc) = finish(child);
    assert_eq!(code, 4);
    assert_eq!(step(&doc, "rebuild")["outcome"], "detached");
    let task = step(&doc, "rebuild")["task_id"].clone();
    assert!(
        sim.journal().iter().all(|e| e["method"] != "DELETE"),
        "detach does not cancel"
    );

    // `runwait tasks` shows the recorded task, still running in Anaplan.
    let listed = runwait()
        .args(["tasks", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg(&file)
        .env("RUNWAIT_TEST_PASSWORD", "demo")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    let row = listed
        .lines()
        .find(|l| l.starts_with("rebuild"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        row.contains("nightly-1") && row.contains(task.as_str().unwrap()),
        "{row}"
    );
    assert!(row.contains("IN_PROGRESS"), "{row}");

    let (code, doc) = finish(spawn_run(&file, dir.path(), "nightly-1"));
    assert_eq!(code, 0, "{doc}");
    let rebuild = step(&doc, "rebuild");
    assert_eq!(rebuild["reattached"], true);
    assert_eq!(rebuild["task_id"], task);
    let starts = sim
        .journal()
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"].as_str().unwrap().ends_with("/tasks"))
        .count();
    assert_eq!(starts, 1, "never a second start");
}

impl Sim {
    /// `POST /__sim/faults` with one fault as JSON.
    fn add_fault(&self, fault: &str) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "POST /__sim/faults HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{fault}",
            self.addr,
            fault.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.contains(" 201 "), "{reply}");
    }
}

#[test]
fn json_output_is_one_document_when_a_lookup_by_name_fails_before_any_task() {
    // (case, the action's name, password, fault, exit code, in the failed step's message)
    let cases = [
        (
            "auth",
            "Rebuild everything",
            "wrong",
            None,
            5,
            "authentication failed",
        ),
        (
            "lookup",
            "Rebuild everything",
            "demo",
            Some(r#"{"on": "discovery", "count": 0, "fault": {"http": {"status": 403}}}"#),
            5,
            "permission denied",
        ),
        (
            "unknown name",
            "No such action",
            "demo",
            None,
            2,
            "No such action",
        ),
    ];
    for (case, name, password, fault, code, said) in cases {
        let sim = Sim::start("1", None);
        if let Some(fault) = fault {
            sim.add_fault(fault);
        }
        let dir = tempfile::tempdir().unwrap();
        let file = sim.workflow(
            dir.path(),
            &format!(
                "  - id: by_id\n    uses: anaplan/action\n    with: {{ id: \"117000000001\" }}\n  - id: by_name\n    uses: anaplan/action\n    with: {{ name: {name} }}\n"
            ),
        );
        let out = run_command(&file, dir.path(), &["--output", "json", "--run-key", "j1"])
            .env("RUNWAIT_TEST_PASSWORD", password)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{case}: {stderr}");
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{case}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(doc["outcome"], "error", "{case}: {doc}");
        assert_eq!(doc["run_key"], "j1", "{case}");
        let by_name = step(&doc, "by_name");
        assert_eq!(by_name["outcome"], "error", "{case}: {doc}");
        let message = by_name["message"].as_str().unwrap();
        assert!(message.contains(said), "{case}: {message}");
        assert_eq!(step(&doc, "by_id")["outcome"], "error", "{case}: {doc}");
        assert!(
            sim.journal()
                .iter()
                .all(|e| e["method"] != "POST" || !e["path"].as_str().unwrap().ends_with("/tasks")),
            "{case}: no task started"
        );
    }
}

#[test]
fn a_workflow_named_in_thirty_japanese_characters_runs_and_records_its_tasks() {
    let name = "夜間ロード実績計画予算売上原価在庫人員配置需要予測月次締め処";
    assert_eq!(name.chars().count(), 30);
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("nightly.yaml")).unwrap();
    let file = dir.path().join("japanese.yaml");
    std::fs::write(
        &file,
        text.replacen("name: nightly", &format!("name: {name}"), 1),
    )
    .unwrap();
    let run_key = "k".repeat(200);
    let args = ["--output", "json", "--run-key", run_key.as_str()];
    let r = run(&file, dir.path(), &args);
    assert_eq!(
        r.code, 1,
        "as the nightly workflow: {}\n{}",
        r.stdout, r.stderr
    );
    let doc = json(&r);
    assert_eq!(doc["workflow"], name);
    assert_eq!(step(&doc, "load")["outcome"], "succeeded", "{doc}");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.len() <= 170 && n.contains('~')),
        "{names:?}"
    );
    // Every started step's record is on disk under its bounded name, whole.
    let records: Vec<Value> = names
        .iter()
        .filter(|n| n.ends_with(".json"))
        .map(|n| {
            let text = std::fs::read_to_string(dir.path().join("state").join(n)).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    assert_eq!(records.len(), 5, "{names:?}");
    for record in records {
        assert_eq!(record["workflow"], name);
        assert_eq!(record["run_key"], run_key.as_str());
        assert!(record["task_id"].is_string(), "{record}");
    }
}
