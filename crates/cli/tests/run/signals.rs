//! The signals of `runwait run`, from one table: Ctrl-C cancels (a DELETE, exit 4), a
//! second Ctrl-C detaches, SIGTERM detaches without a DELETE and a rerun with the same
//! run key reattaches; each also while a status request hangs in a standalone
//! simulator. The hang never ends, and the process's call timeout is 30 s: a process
//! that exits at all, with no status answered after the hung one, did not wait for it.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

use super::common::{
    Sim, finish, history_rows, signal, step, tasks, wait_for_journal, wait_for_task,
};
use super::{LONG_ACTION, fixture, run_command};

/// One row: what hangs, which signals, and how the run must end.
struct Case {
    name: &'static str,
    /// Status requests that hang: `None` none, `Some(0)` every one, `Some(n)` the first n.
    hang: Option<u32>,
    signals: &'static [Signal],
    outcome: &'static str,
    deletes: usize,
    /// A rerun with the same run key waits on the same task to the end.
    rerun_reattaches: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Term,
}

impl Signal {
    fn arg(self) -> &'static str {
        match self {
            Signal::Int => "-INT",
            Signal::Term => "-TERM",
        }
    }
}

const CASES: &[Case] = &[
    Case {
        name: "ctrl-c cancels",
        hang: None,
        signals: &[Signal::Int],
        outcome: "cancelled",
        deletes: 1,
        rerun_reattaches: false,
    },
    Case {
        name: "ctrl-c cancels while a poll hangs",
        hang: Some(1),
        signals: &[Signal::Int],
        outcome: "cancelled",
        deletes: 1,
        rerun_reattaches: false,
    },
    Case {
        name: "a second ctrl-c detaches while the cancel's poll hangs",
        hang: Some(0),
        signals: &[Signal::Int, Signal::Int],
        outcome: "detached",
        deletes: 1,
        rerun_reattaches: false,
    },
    Case {
        name: "sigterm detaches",
        hang: None,
        signals: &[Signal::Term],
        outcome: "detached",
        deletes: 0,
        rerun_reattaches: true,
    },
    Case {
        name: "sigterm detaches while a poll hangs",
        hang: Some(1),
        signals: &[Signal::Term],
        outcome: "detached",
        deletes: 0,
        rerun_reattaches: true,
    },
];

#[test]
fn signals_cancel_or_detach_even_while_a_call_hangs() {
    // The rows are independent (each its own simulator and directories): in parallel.
    std::thread::scope(|scope| {
        for case in CASES {
            scope.spawn(move || run_case(case));
        }
    });
}

fn run_case(case: &Case) {
    let name = case.name;
    let sim = Sim::start("20", Some(&fixture("long-action.yaml")));
    let dir = tempfile::tempdir().unwrap();
    let file = sim.workflow(dir.path(), LONG_ACTION);
    if let Some(count) = case.hang {
        sim.add_fault(&json!({"on": "status", "count": count, "fault": "hang"}).to_string());
    }
    let child = spawn_run(&file, dir.path(), "k1");
    wait_for_task(dir.path());
    let mut last_signal = Instant::now();
    for (i, sig) in case.signals.iter().enumerate() {
        if case.hang.is_some() {
            // Signal while a status request hangs: the n-th hung one for the n-th signal.
            wait_for_journal(&sim, name, |j| hung_polls(j) > i);
        }
        last_signal = Instant::now();
        signal(&child, sig.arg());
    }
    let (code, doc) = finish(child);
    let took = last_signal.elapsed();
    eprintln!("{name}: exited {took:?} after the last signal");
    assert_eq!(code, 4, "{name}: {doc}");
    let rebuild = step(&doc, "rebuild");
    assert_eq!(rebuild["outcome"], case.outcome, "{name}: {doc}");
    let journal = sim.journal();
    let deletes: Vec<usize> = positions(&journal, |e| e["method"] == "DELETE");
    assert_eq!(deletes.len(), case.deletes, "{name}: {journal:?}");
    if case.hang.is_some() {
        // No status was answered after the first hung one before the signal's effect:
        // the process did not wait for the hung request to time out and be retried.
        let hung = positions(&journal, is_hung_poll)[0];
        let answered_after = positions(&journal, |e| e["kind"] == "status" && e["answer"].is_u64())
            .into_iter()
            .filter(|&p| p > hung)
            .filter(|&p| deletes.first().is_none_or(|&d| p < d))
            .count();
        assert_eq!(answered_after, 0, "{name}: {journal:?}");
    }
    if case.rerun_reattaches {
        rerun_reattaches(&sim, &file, dir.path(), &rebuild["task_id"], name);
    }
}

/// `runwait tasks` lists the detached task, and a rerun with the same run key waits on
/// it to the end without a second start.
fn rerun_reattaches(
    sim: &Sim,
    file: &std::path::Path,
    dir: &std::path::Path,
    task: &Value,
    name: &str,
) {
    let state = dir.join("state");
    let state = state.to_str().unwrap();
    let listed = tasks(file, &["--state-dir", state]);
    let row = listed
        .lines()
        .find(|l| l.starts_with("rebuild"))
        .unwrap_or_else(|| panic!("{name}: {listed}"));
    assert!(
        row.contains("k1") && row.contains(task.as_str().unwrap()),
        "{name}: {row}"
    );
    assert!(row.contains("IN_PROGRESS"), "{name}: {row}");

    let (code, doc) = finish(spawn_run(file, dir, "k1"));
    assert_eq!(code, 0, "{name}: {doc}");
    let rebuild = step(&doc, "rebuild");
    assert_eq!(rebuild["reattached"], true, "{name}");
    assert_eq!(&rebuild["task_id"], task, "{name}");
    assert_eq!(sim.starts(), 1, "{name}: never a second start");

    // The history keeps both ends: the detached wait and the reattached one.
    let listed = tasks(file, &["--history", "--state-dir", state]);
    let outcomes: Vec<&str> = history_rows(&listed).iter().map(|r| r[6]).collect();
    assert_eq!(
        outcomes,
        ["succeeded", "detached"],
        "{name}: newest first: {listed}"
    );
}

fn is_hung_poll(e: &Value) -> bool {
    e["kind"] == "status" && e["answer"] == "hang"
}

fn hung_polls(journal: &[Value]) -> usize {
    positions(journal, is_hung_poll).len()
}

fn positions(journal: &[Value], matches: impl Fn(&Value) -> bool) -> Vec<usize> {
    journal
        .iter()
        .enumerate()
        .filter(|(_, e)| matches(e))
        .map(|(i, _)| i)
        .collect()
}

fn spawn_run(file: &Path, dir: &Path, run_key: &str) -> Child {
    run_command(file, dir, &["--output", "json", "--run-key", run_key])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
