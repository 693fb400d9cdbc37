//! The three waiters as processes, run against a simulator process and measured from
//! outside: runwait's library (the `runwait-bench worker`), the `runwait` binary, and
//! anaplan-sdk's async client.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::proc::{Usage, watch};
use crate::{PASSWORD, WORKSPACE, cli};

/// Which waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// runwait's library: `RunAndWait` steps in the bench's worker process.
    Library,
    /// The `runwait` binary: `runwait run` of a generated workflow.
    Cli,
    /// The Python anaplan-sdk's `AsyncClient`.
    Sdk,
}

impl Kind {
    /// Its key in `--waiters` and in scratch directories' names.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Library => "library",
            Kind::Cli => "cli",
            Kind::Sdk => "sdk",
        }
    }

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Library => "runwait library",
            Kind::Cli => "runwait CLI",
            Kind::Sdk => "anaplan-sdk",
        }
    }
}

/// The programs the waiters need: the bench's own binary, the release `runwait`, the
/// Python with anaplan-sdk (a waiter whose program is missing is left out).
#[derive(Debug, Clone)]
pub struct Programs {
    /// `runwait-bench` (simulator and library worker).
    pub bench: PathBuf,
    /// `runwait`, release build.
    pub runwait: Option<PathBuf>,
    /// The virtual environment's Python.
    pub python: Option<PathBuf>,
}

/// How a run of one waiter went.
#[derive(Debug, Clone)]
pub struct Run {
    /// What the process cost.
    pub usage: Usage,
    /// How it exited.
    pub status: Option<ExitStatus>,
    /// Its standard output (the worker's and the SDK script's report).
    pub stdout: String,
}

impl Run {
    /// The report line of the worker or the SDK script, as JSON (null if none).
    pub fn report(&self) -> serde_json::Value {
        self.stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null)
    }
}

/// What one waiter waits on: the worker's options, which the CLI's workflow and the
/// SDK script's arguments are made from too.
pub use crate::worker::Options as Job;

/// Starts `kind` on `job`; `None` when its program is missing.
pub fn spawn(kind: Kind, programs: &Programs, job: &Job) -> std::io::Result<Option<Spawned>> {
    std::fs::create_dir_all(&job.dir)?;
    let mut command = match kind {
        Kind::Library => {
            let mut c = Command::new(&programs.bench);
            c.args(job.args());
            c
        }
        Kind::Cli => {
            let Some(runwait) = &programs.runwait else {
                return Ok(None);
            };
            let file = job.dir.join("bench.yaml");
            std::fs::write(
                &file,
                cli::workflow(&job.addr, job.first, job.n, job.fixed_poll),
            )?;
            let rate = job
                .budget
                .map_or_else(|| "off".to_owned(), |r| r.to_string());
            let mut c = Command::new(runwait);
            c.arg("run")
                .arg(&file)
                .args(["--rate-per-second", &rate])
                .args(["--max-parallel", &job.n.to_string()])
                .arg("--state-dir")
                .arg(job.dir.join("state"))
                .arg("--out-dir")
                .arg(job.dir.join("out"))
                .env(cli::PASSWORD_ENV, PASSWORD);
            c
        }
        Kind::Sdk => {
            let Some(python) = &programs.python else {
                return Ok(None);
            };
            let mut c = Command::new(python);
            c.arg(crate::sdk::script()).args([
                job.addr.as_str(),
                &job.first.to_string(),
                &job.n.to_string(),
                WORKSPACE,
                crate::ACTION,
                crate::USER,
                PASSWORD,
            ]);
            c
        }
    };
    // Files, not pipes: a full pipe would stall a waiter until the bench reads it.
    let stdout = job.dir.join("stdout");
    command
        .current_dir(&job.dir)
        .env("NO_PROXY", "127.0.0.1")
        .stdout(File::create(&stdout)?)
        .stderr(File::create(job.dir.join("stderr"))?);
    let child = command.spawn()?;
    let watch = watch(child.id());
    Ok(Some(Spawned {
        child,
        watch,
        stdout,
    }))
}

/// A waiter process being watched.
#[derive(Debug)]
pub struct Spawned {
    child: std::process::Child,
    watch: crate::proc::Watch,
    stdout: PathBuf,
}

impl Spawned {
    /// Waits for its exit: what it cost, its status and output.
    pub fn finish(mut self) -> Run {
        let usage = self.watch.finish();
        let status = self.child.wait().ok();
        Run {
            usage,
            status,
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
        }
    }
}

/// Where a waiter's standard error went (for a failed run's message).
pub fn stderr_of(dir: &Path) -> PathBuf {
    dir.join("stderr")
}
