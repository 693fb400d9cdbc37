//! What the end-to-end tests of the binary share: the built binary, a `runwait sim`
//! process with its journal, signals, and reading the JSON summary and `runwait tasks`.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The built `runwait` binary, without the settings it reads from the environment
/// (`OTEL_*`, `RUNWAIT_*`, `RUST_LOG`, `TRACEPARENT`, `TRACESTATE`) that the machine
/// running the tests may have: an exporter, a state URL or a run key of the developer's
/// own would change what a run does. A test sets the ones it needs.
pub fn runwait() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runwait"));
    for (name, _) in std::env::vars_os() {
        let read = name.to_str().is_some_and(|name| {
            name.starts_with("OTEL_")
                || name.starts_with("RUNWAIT_")
                || ["RUST_LOG", "TRACEPARENT", "TRACESTATE"].contains(&name)
        });
        if read {
            command.env_remove(name);
        }
    }
    command
}

/// A `runwait sim` process: it outlives the runs, so they can reattach.
pub struct Sim {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Kept open: the simulator prints more lines, and a closed pipe would kill it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Sim {
    /// Starts `runwait sim` at `speed` with a scenario file (the built-in one when `None`).
    pub fn start(speed: &str, scenario: Option<&Path>) -> Sim {
        Sim::start_with(speed, scenario, &[])
    }

    /// [`Sim::start`] with more arguments (`--rate-limit N`).
    pub fn start_with(speed: &str, scenario: Option<&Path>, extra: &[&str]) -> Sim {
        let mut cmd = runwait();
        cmd.args(["sim", "--listen", "127.0.0.1:0", "--speed", speed])
            .args(extra)
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

    /// A workflow file named `tenant` in `dir` with these `steps` (YAML list items), on
    /// this simulator's tenant with the password from `RUNWAIT_TEST_PASSWORD`.
    pub fn workflow(&self, dir: &Path, steps: &str) -> PathBuf {
        self.workflow_with(dir, "", steps)
    }

    /// Like [`Sim::workflow`], with more `defaults:` lines (indented by two spaces).
    pub fn workflow_with(&self, dir: &Path, defaults: &str, steps: &str) -> PathBuf {
        let file = dir.join("tenant.yaml");
        let text = format!("{}{defaults}steps:\n{steps}", self.connection());
        std::fs::write(&file, text).unwrap();
        file
    }

    /// A connection file (a workflow file without steps) for this simulator, as `tenant`.
    pub fn connection(&self) -> String {
        format!(
            "name: tenant\nconnection:\n  api_url: http://{a}/2/0\n  auth_url: http://{a}\n  auth:\n    kind: basic\n    user: demo@runwait.local\n    password: {{ env: RUNWAIT_TEST_PASSWORD }}\ndefaults:\n  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n  model: 75A40874E6B64FA3AE0743278996850F\n  poll: {{ min_interval: 5s, max_interval: 5s }}\n",
            a = self.addr
        )
    }

    /// `GET /__sim/journal`, over a plain socket.
    pub fn journal(&self) -> Vec<Value> {
        let reply = self.control("GET", "journal", "");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("journal: {e}: {reply}"))
    }

    /// Arms one fault (`POST /__sim/faults`, the scenario's JSON shape).
    pub fn add_fault(&self, fault: &str) {
        let reply = self.control("POST", "faults", fault);
        assert!(reply.contains("armed"), "{reply}");
    }

    /// One request to a control route (`/__sim/…`), over a plain socket; the reply's body.
    pub fn control(&self, method: &str, route: &str, body: &str) -> String {
        let head = format!("{method} /__sim/{route} HTTP/1.0\r\nContent-Type: application/json");
        self.request(&head, body).1
    }

    /// One HTTP/1.0 request over a plain socket (`head`: the request line and any
    /// headers): the status line, and the body.
    pub fn request(&self, head: &str, body: &str) -> (String, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{head}\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let (status, rest) = reply.split_once("\r\n").unwrap_or_default();
        let body = rest.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status.to_owned(), body.to_owned())
    }

    /// How many tasks were started (`POST …/tasks`).
    pub fn starts(&self) -> usize {
        self.journal()
            .iter()
            .filter(|e| e["method"] == "POST" && e["path"].as_str().unwrap().ends_with("/tasks"))
            .count()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the state store under `dir` (`dir/state`) records a started task.
pub fn wait_for_task(dir: &Path) {
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

/// Waits until the simulator's journal satisfies `done` (the journal is the only witness
/// of a request in flight); panics after a minute, naming the test `name`.
pub fn wait_for_journal(sim: &Sim, name: &str, done: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if done(&sim.journal()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{name}: the journal never showed it: {:?}", sim.journal());
}

/// The step `id` of a JSON summary.
pub fn step<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

/// Waits for a run started with piped output: its exit code and JSON summary.
pub fn finish(child: Child) -> (i32, Value) {
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

/// Sends `sig` (`-INT`, `-TERM`, `-KILL`) to a child process.
pub fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// What `runwait tasks FILE ARGS…` prints on stdout.
pub fn tasks(file: &Path, args: &[&str]) -> String {
    let out = runwait()
        .arg("tasks")
        .args(args)
        .arg(file)
        .env("RUNWAIT_TEST_PASSWORD", "demo")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows of `runwait tasks --history`'s table, each split at whitespace: step, run
/// key, end, object kind, object id, duration, outcome, polls.
pub fn history_rows(listed: &str) -> Vec<Vec<&str>> {
    listed
        .lines()
        .skip_while(|l| !l.contains("DURATION"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect()
}
