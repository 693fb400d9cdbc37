//! What the end-to-end tests of `runwait run` share: the built binary, a standalone
//! `runwait sim` process with its journal, signals, and reading the JSON summary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub fn runwait() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runwait"))
}

pub fn step<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

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

pub fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// A `runwait sim` process: it outlives the runs, so they can reattach.
pub struct Sim {
    child: Child,
    pub addr: String,
    /// Kept open: the simulator prints more lines, and a closed pipe would kill it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Sim {
    /// `runwait sim` at `speed`, with a scenario file and more arguments.
    pub fn start(speed: &str, scenario: Option<&Path>, extra: &[&str]) -> Sim {
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

    /// A workflow file in `dir` against this simulator with `steps`.
    pub fn workflow(&self, dir: &Path, steps: &str) -> PathBuf {
        self.workflow_with(dir, "", steps)
    }

    /// Like [`Sim::workflow`], with more `defaults:` lines (indented by two spaces).
    pub fn workflow_with(&self, dir: &Path, defaults: &str, steps: &str) -> PathBuf {
        let file = dir.join("tenant.yaml");
        std::fs::write(
            &file,
            format!(
                "name: tenant\nconnection:\n  api_url: http://{a}/2/0\n  auth_url: http://{a}\n  auth:\n    kind: basic\n    user: demo@runwait.local\n    password: {{ env: RUNWAIT_TEST_PASSWORD }}\ndefaults:\n  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n  model: 75A40874E6B64FA3AE0743278996850F\n  poll: {{ min_interval: 5s, max_interval: 5s }}\n{defaults}steps:\n{steps}",
                a = self.addr
            ),
        )
        .unwrap();
        file
    }

    /// How many tasks were started (start requests in the journal).
    pub fn starts(&self) -> usize {
        self.journal()
            .iter()
            .filter(|e| e["method"] == "POST" && e["path"].as_str().unwrap().ends_with("/tasks"))
            .count()
    }

    /// `GET /__sim/journal`, over a plain socket.
    pub fn journal(&self) -> Vec<Value> {
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
