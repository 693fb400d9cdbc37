//! `runwait run` end to end: the built binary against the embedded simulator or a
//! standalone `runwait sim`, for every exit code, both output modes, and the signals.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;
use common::{Sim, runwait, step};

// The signal tests share this file's helpers; their file sits with the fixtures.
#[path = "run/signals.rs"]
mod signals;

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
    output(&mut run_command(workflow, dir, extra))
}

/// Runs `cmd` to its end.
fn output(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
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
    // After the table and a blank line, a note for each step that did not simply
    // succeed, with its dumps; the summary ends there.
    let notes = r.stdout.rsplit("\n\n").next().unwrap();
    let noted: Vec<&str> = notes
        .lines()
        .filter(|l| !l.starts_with("    "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        noted,
        ["  sales", "  customers", "  after_success"],
        "{}",
        r.stdout
    );
    let retried = dir
        .path()
        .join("out/customers.retry1/1-112000000003-Customers_from_customers.csv");
    assert!(
        notes.contains(&format!("\n    dump: {}\n", retried.display())),
        "{}",
        r.stdout
    );
    assert!(
        notes.contains("\n  after_success: skipped: "),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("started task"),
        "progress lines on stderr: {}",
        r.stderr
    );
}

#[test]
fn log_lines_name_their_step_and_task() {
    let dir = tempfile::tempdir().unwrap();
    let r = output(run_command(&fixture("nightly.yaml"), dir.path(), &[]).env("RUST_LOG", "info"));
    let stderr = r.stderr;
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
fn a_timeout_whose_cancel_is_refused_exits_6_and_says_the_task_may_run() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fixture("uncancellable.yaml"),
        dir.path(),
        &["--output", "json"],
    );
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["outcome"], "timed_out");
    let long = step(&doc, "long");
    assert_eq!(long["outcome"], "timed_out");
    assert_eq!(long["cancel"], "failed");
    let message = long["message"].as_str().unwrap();
    assert!(message.contains("may still be running"), "{message}");
    assert!(message.contains("HTTP 400"), "{message}");
    // A cancel that worked is `done`, and the exit code stays 3.
    let r = run(&fixture("slow.yaml"), dir.path(), &["--output", "json"]);
    assert_eq!(step(&json(&r), "long")["cancel"], "done");
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
        .filter(|n| n != "history.jsonl")
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

/// The task states of each step's poll lines on stderr, in order; a new attempt
/// ("starting") begins a new list.
fn poll_states(stderr: &str) -> Vec<(String, Vec<String>)> {
    const STATES: [&str; 5] = [
        "NOT_STARTED",
        "IN_PROGRESS",
        "COMPLETE",
        "CANCELLING",
        "CANCELLED",
    ];
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in stderr.lines() {
        // `<timestamp> <step>: <text>`
        let Some((step, text)) = line.split_once(' ').and_then(|(_, l)| l.split_once(": ")) else {
            continue;
        };
        if text.starts_with("starting") {
            steps.push((step.to_owned(), Vec::new()));
        } else if let Some(state) = STATES.iter().find(|s| text.starts_with(*s))
            && let Some((_, states)) = steps.iter_mut().rev().find(|(s, _)| s == step)
        {
            states.push((*state).to_owned());
        }
    }
    steps
}

#[test]
fn without_a_terminal_a_poll_line_is_written_only_when_the_state_changes() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&fixture("polls.yaml"), dir.path(), &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let steps = poll_states(&r.stderr);
    assert!(steps.iter().any(|(_, s)| !s.is_empty()), "{}", r.stderr);
    for (step, states) in &steps {
        for pair in states.windows(2) {
            assert_ne!(pair[0], pair[1], "{step}: {states:?}\n{}", r.stderr);
        }
    }
    // Every poll is still a debug log line when asked for.
    let r = output(
        run_command(&fixture("polls.yaml"), dir.path(), &[]).env("RUST_LOG", "runwait::poll=debug"),
    );
    let stderr = r.stderr;
    let polls = stderr
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("IN_PROGRESS"))
        .count();
    let shown: usize = poll_states(&stderr)
        .iter()
        .map(|(_, s)| s.iter().filter(|s| *s == "IN_PROGRESS").count())
        .sum();
    assert!(
        polls > shown,
        "{polls} debug lines, {shown} shown:\n{stderr}"
    );
}

#[test]
fn the_rate_budget_can_be_set_or_turned_off_for_a_run() {
    // (flag, exit code, text on stderr)
    let table = [
        ("off", 1, ""),
        ("200", 1, ""),
        ("0", 2, "must be 1 or more, or `off` for no budget"),
        (
            "fast",
            2,
            "neither a number of requests per second nor `off`",
        ),
    ];
    for (flag, code, text) in table {
        let dir = tempfile::tempdir().unwrap();
        let r = run(
            &fixture("nightly.yaml"),
            dir.path(),
            &["--rate-per-second", flag],
        );
        assert_eq!(r.code, code, "{flag}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(text), "{flag}: {}", r.stderr);
        if code == 1 {
            assert!(
                r.stdout.contains("workflow nightly: failed"),
                "{}",
                r.stdout
            );
        }
    }
}
