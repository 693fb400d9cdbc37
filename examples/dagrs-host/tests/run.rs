//! Runs the built example on its committed pipeline, as a user would, and checks what they
//! see: one line per job in the order of the run, the dump written, the exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pipeline_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipeline.yaml")
}

fn run(file: &Path, out: &Path) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dagrs-host"))
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8(output.stdout.clone()).expect("utf-8");
    (output, stdout)
}

/// The line of `job`, and where it is among the lines.
fn line_of<'a>(stdout: &'a str, job: &str) -> (usize, &'a str) {
    stdout
        .lines()
        .enumerate()
        .find(|(_, line)| line.starts_with(&format!("{job} ")))
        .unwrap_or_else(|| panic!("no line for {job} in:\n{stdout}"))
}

#[test]
fn the_committed_pipeline_runs_its_jobs_in_order_and_passes() {
    let out = tempfile::tempdir().unwrap();
    let (output, stdout) = run(&pipeline_file(), out.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let (actuals_at, actuals) = line_of(&stdout, "load_actuals");
    assert!(
        actuals.starts_with("load_actuals succeeded task="),
        "{actuals}"
    );
    let (customers_at, customers) = line_of(&stdout, "load_customers");
    assert!(
        customers.starts_with("load_customers failed task="),
        "{customers}"
    );
    assert!(customers.contains("(allowed to fail)"), "{customers}");
    assert!(customers.contains("5 failed"), "{customers}");
    let (notify_at, notify) = line_of(&stdout, "notify");
    assert_eq!(notify, "notify succeeded: nightly load done");
    assert!(
        actuals_at < customers_at && customers_at < notify_at,
        "after: orders the run:\n{stdout}"
    );
    assert!(stdout.ends_with("pipeline passed: 3 jobs\n"), "{stdout}");

    let dump = out
        .path()
        .join("load_customers/1-112000000003-Customers_from_customers.csv");
    assert!(
        stdout.contains(&format!("\n  dump {}\n", dump.display())),
        "{stdout}"
    );
    assert!(std::fs::metadata(&dump).unwrap().len() > 0);
}

#[test]
fn a_failure_not_allowed_skips_the_jobs_after_it_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(pipeline_file()).unwrap();
    let strict = text.replace("allow_failure: true", "allow_failure: false");
    assert_ne!(strict, text);
    let file = dir.path().join("strict.yaml");
    std::fs::write(&file, strict).unwrap();

    let (output, stdout) = run(&file, &dir.path().join("out"));
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let (_, customers) = line_of(&stdout, "load_customers");
    assert!(
        customers.starts_with("load_customers failed task="),
        "{customers}"
    );
    assert!(!customers.contains("allowed"), "{customers}");
    let (_, notify) = line_of(&stdout, "notify");
    assert_eq!(
        notify,
        "notify skipped: not run: load_customers did not pass"
    );
    assert!(
        stdout.ends_with("pipeline failed: load_customers, notify\n"),
        "{stdout}"
    );
}

#[test]
fn a_bad_value_in_with_is_reported_at_its_place_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(pipeline_file()).unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, text.replace("\"118000000001\"", "\"118000000001x\"")).unwrap();

    let (output, stdout) = run(&file, &dir.path().join("out"));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout, "");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected = format!(
        "{}: error: line 10 column 17: expected an object id: 12 digits",
        file.display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
}
