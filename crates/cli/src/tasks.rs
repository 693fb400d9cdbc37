//! `runwait tasks FILE`: the tasks a workflow's runs recorded in the state store, with
//! their live state in Anaplan.

use std::path::PathBuf;

use runwait_executor::HistoryQuery;

use crate::exit::Exit;
use crate::state::StateArgs;
use runwait_postgres::OpenStore;
use runwait_workflow::connect::connect;
use runwait_workflow::model::{Connection, Workflow};

/// Arguments of `runwait tasks`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow file.
    file: PathBuf,
    /// The state store of `runwait run`.
    #[command(flatten)]
    state: StateArgs,
    /// Also list the workflow's finished steps, newest first (this many at most).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "20")]
    history: Option<usize>,
}

/// Runs the command.
pub fn run(args: &Args) -> Exit {
    let workflow = match crate::load_workflow(&args.file) {
        Ok(w) => w,
        Err(exit) => return exit,
    };
    let runtime = match crate::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let state = match runtime.block_on(args.state.open(
        runwait_postgres::PgOptions::default().lease,
        workflow.state.as_ref(),
    )) {
        Ok(state) => state,
        Err((exit, message)) => {
            eprintln!("runwait: {message}");
            return exit;
        }
    };
    let exit = show_records(&runtime, &workflow, &state);
    let Some(limit) = args.history else {
        return exit;
    };
    let query = HistoryQuery::newest(limit).workflow(workflow.name.clone());
    match runtime.block_on(state.store.history(&query)) {
        Ok(entries) => {
            crate::history::print(&workflow.name, &state.shown, &entries);
            exit
        }
        Err(e) => {
            eprintln!("runwait: {e}");
            Exit::Usage
        }
    }
}

/// The workflow's recorded step runs, with their live state when Anaplan can be asked.
fn show_records(runtime: &tokio::runtime::Runtime, workflow: &Workflow, state: &OpenStore) -> Exit {
    let records = match runtime.block_on(state.store.list()) {
        Ok(records) => records,
        Err(e) => {
            eprintln!("runwait: {e}");
            return Exit::Usage;
        }
    };
    let mut records: Vec<_> = records
        .into_iter()
        .filter_map(|r| match r {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("runwait: warning: {e}");
                None
            }
        })
        .filter(|r| r.workflow == workflow.name)
        .collect();
    records.sort_by(|a, b| (a.run_key.as_str(), &a.step_id).cmp(&(b.run_key.as_str(), &b.step_id)));
    if records.is_empty() {
        println!(
            "no tasks recorded for workflow {} in {}",
            workflow.name, state.shown
        );
        return Exit::Success;
    }
    runtime.block_on(async {
        // An embedded simulator lives only as long as its run: nothing to ask.
        let live = match &workflow.connection {
            Connection::Simulator { .. } => None,
            other => match connect(other).await {
                Ok(c) => {
                    crate::print_warnings(&c.warnings);
                    Some(c.client)
                }
                Err(e) => {
                    eprintln!("runwait: cannot reach Anaplan for the live state: {e}");
                    None
                }
            },
        };
        println!(
            "{:<24} {:<28} {:<34} {:<14} {:>8}",
            "STEP", "RUN KEY", "TASK", "STATE", "PROGRESS"
        );
        for r in &records {
            let task = r
                .task_id
                .as_ref()
                .map_or("(start not confirmed)".to_owned(), |t| t.to_string());
            let (state, progress) = match (&live, &r.task_id) {
                (Some(client), Some(task_id)) => match client.status(&r.target, task_id).await {
                    Ok(t) => (
                        t.task_state.to_string(),
                        t.progress
                            .map_or(String::new(), |p| format!("{:.0}%", p * 100.0)),
                    ),
                    Err(e) => (
                        format!(
                            "? ({})",
                            e.http_status()
                                .map_or("unreachable".to_owned(), |s| s.to_string())
                        ),
                        String::new(),
                    ),
                },
                _ => ("-".to_owned(), String::new()),
            };
            println!(
                "{:<24} {:<28} {:<34} {:<14} {:>8}",
                r.step_id,
                r.run_key.as_str(),
                task,
                state,
                progress
            );
        }
        Exit::Success
    })
}
