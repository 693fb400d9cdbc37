//! `runwait`: the command line of runwait, the run-and-wait executor for Anaplan.
//!
//! This crate only wires the others together and talks to the terminal: argument
//! parsing (clap), reading files, printing text or JSON, and exit codes. It holds no
//! Anaplan logic of its own; classification lives in `runwait-core`.
//!
//! Exit codes are the CLI-wide convention, see [`exit::Exit`].

mod display;
mod exec;
mod exit;
mod history;
mod inspect;
mod rate;
mod report;
mod run;
mod signals;
mod sim;
mod state;
mod summary_file;
mod tasks;
mod telemetry;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;

/// Run Anaplan processes, imports, exports and actions, and wait for them properly.
#[derive(Debug, Parser)]
#[command(name = "runwait", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workflow: start or reattach every step's task, wait, report.
    Run(run::Args),
    /// Run one step without a workflow file (for schedulers): as a one-step workflow.
    Exec(Box<exec::Args>),
    /// Classify a task-status response body (as returned by GET …/tasks/{taskId}).
    Inspect(inspect::Args),
    /// Check a workflow file without running it: every error, with its line and column.
    Validate(validate::Args),
    /// Print the JSON Schema of workflow files (for editors).
    Schema,
    /// Serve the simulator of the Anaplan API until Ctrl-C.
    Sim(sim::Args),
    /// List the tasks recorded in the state store for a workflow, with their live state.
    Tasks(tasks::Args),
}

/// A workflow file, or its errors printed (one per line) and the usage exit code.
fn load_workflow(path: &std::path::Path) -> Result<runwait_workflow::model::Workflow, Exit> {
    runwait_workflow::load(path).map_err(|errors| {
        eprintln!("{errors}");
        Exit::Usage
    })
}

/// The warnings `connect` returns, as `runwait: warning: …` lines on standard error.
fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("runwait: warning: {w}");
    }
}

/// The async runtime of the commands that talk to Anaplan: one thread (file-store work
/// still goes to tokio's blocking pool). A run waits on the network; its CPU work is
/// microseconds a poll. On one thread a poll wakes no idle second worker (0.7 context
/// switches a poll against 1.7 on two), and the steps' memory stays in one allocator
/// arena. Against two workers: 3–4 MiB less at the peak with 10,000 waits, and a fifth
/// less CPU a poll with 1,000 (BENCHMARKS.md, session 9).
fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    built(tokio::runtime::Builder::new_current_thread())
}

/// The runtime of `runwait sim`, a server for many clients: a worker per core.
fn server_runtime() -> Result<tokio::runtime::Runtime, Exit> {
    built(tokio::runtime::Builder::new_multi_thread())
}

fn built(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, Exit> {
    builder.enable_all().build().map_err(|e| {
        eprintln!("runwait: cannot start the async runtime: {e}");
        Exit::Unreachable
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let exit = match cli.command {
        Command::Run(args) => Ok(run::run(&args)),
        Command::Exec(args) => Ok(exec::run(&args)),
        Command::Inspect(args) => inspect::run(&args),
        Command::Validate(args) => Ok(validate::run(&args)),
        Command::Schema => Ok(validate::schema()),
        Command::Sim(args) => Ok(sim::run(&args)),
        Command::Tasks(args) => Ok(tasks::run(&args)),
    };
    exit.unwrap_or_else(|err| {
        eprintln!("runwait: {err}");
        Exit::Usage
    })
    .into()
}
