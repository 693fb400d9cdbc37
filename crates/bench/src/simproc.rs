//! The simulator as a separate process (`runwait-bench sim`): it serves the bench's
//! tenant on 127.0.0.1 port 0 until its standard input closes, then prints the
//! [`Summary`] of its journal as one JSON line and exits.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::scenario::Summary;

/// What the simulator process serves.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    /// Models (one wait each).
    pub models: usize,
    /// How long each task runs, scenario time (speed 1: real time).
    pub task: Duration,
    /// The tenant's calls per second, if limited.
    pub rate_limit: Option<u32>,
}

impl SimOptions {
    /// The arguments of `runwait-bench sim` for these options.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "sim".to_owned(),
            "--models".to_owned(),
            self.models.to_string(),
            "--task".to_owned(),
            format!("{}ms", self.task.as_millis()),
        ];
        if let Some(limit) = self.rate_limit {
            args.extend(["--rate-limit".to_owned(), limit.to_string()]);
        }
        args
    }
}

/// A running simulator process.
#[derive(Debug)]
pub struct SimProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl SimProcess {
    /// Starts `bin sim` (the `runwait-bench` binary) and waits until it listens.
    pub fn start(bin: &Path, options: &SimOptions) -> std::io::Result<SimProcess> {
        let mut child = Command::new(bin)
            .args(options.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| std::io::Error::other(format!("simulator said {line:?}")))?
            .to_owned();
        Ok(SimProcess {
            child,
            stdin,
            stdout,
            addr,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Closes its input, reads its summary and waits for its exit.
    pub fn finish(mut self) -> std::io::Result<Summary> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        self.child.wait()?;
        let value: serde_json::Value = serde_json::from_str(line.trim())
            .map_err(|e| std::io::Error::other(format!("simulator summary {line:?}: {e}")))?;
        Ok(Summary::from_json(&value))
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // Only when `finish` was not reached (a bench that failed half-way).
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
