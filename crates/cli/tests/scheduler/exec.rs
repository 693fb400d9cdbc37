//! `runwait exec` ends as the one-step workflow of the same step would: same exit code,
//! same JSON document (here read from its `--summary-file` while the workflow prints it).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::common::{Sim, runwait, wait_for_task};

fn scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scheduler/scenario.yaml")
}

/// One step, run both ways.
struct Case {
    uses: &'static str,
    /// `--id` or `--name`, and its value.
    object: (&'static str, &'static str),
    /// The step id exec derives, which the workflow's step is given.
    step_id: &'static str,
    /// Exec's flags, and the same options as the workflow step's YAML keys.
    flags: &'static [&'static str],
    options: &'static str,
    exit: i32,
}

const CASES: [Case; 4] = [
    Case {
        uses: "anaplan/process",
        object: ("id", "118000000001"),
        step_id: "process-118000000001",
        flags: &[],
        options: "",
        exit: 0,
    },
    Case {
        uses: "anaplan/process",
        object: ("name", "Nightly load"),
        step_id: "process-Nightly_load",
        flags: &["--locale", "en_GB"],
        options: "",
        exit: 0,
    },
    Case {
        uses: "anaplan/process",
        object: ("id", "118000000003"),
        step_id: "process-118000000003",
        flags: &["--on-dump", "fail"],
        options: "    on_dump: fail\n",
        exit: 1,
    },
    Case {
        uses: "anaplan/action",
        object: ("id", "117000000001"),
        step_id: "action-117000000001",
        flags: &["--timeout", "1s"],
        options: "    timeout: 1s\n",
        exit: 3,
    },
];

const PASSWORD: (&str, &str) = ("RUNWAIT_TEST_PASSWORD", "demo");

/// A `runwait` process with its state and dumps under `dir`, its output captured.
fn spawn(mut cmd: std::process::Command, dir: &Path) -> Child {
    cmd.arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out-dir")
        .arg(dir.join("out"))
        .env(PASSWORD.0, PASSWORD.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The exit code and the standard output, with the standard error for messages.
fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The document with what differs between two runs of one step made equal: the task
/// ids, the run's directory and the durations.
fn normalized(doc: &str, dir: &Path) -> Value {
    let mut doc: Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    let mut text = doc.to_string();
    for step in doc["steps"].as_array().unwrap() {
        if let Some(task) = step["task_id"].as_str() {
            text = text.replace(task, "<task>");
        }
    }
    doc = serde_json::from_str(&text.replace(&dir.display().to_string(), "<dir>")).unwrap();
    for step in doc["steps"].as_array_mut().unwrap() {
        step["duration_ms"] = Value::from(0);
    }
    doc
}

#[test]
fn exec_ends_as_the_one_step_workflow() {
    let sim = Sim::start("100", Some(&scenario()));
    let root = tempfile::tempdir().unwrap();
    let dir = |form: &str, i: usize| {
        let dir = root.path().join(format!("{form}{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    };
    // The workflows first, then exec: a newer task of an import replaces its dump, as in
    // Anaplan, so the two forms of a step must not run at the same time.
    let workflows: Vec<_> = CASES
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let locale = if case.flags.contains(&"--locale") {
                ", locale: en_GB"
            } else {
                ""
            };
            let step = format!(
                "  - id: {}\n    uses: {}\n    with: {{ {}: \"{}\"{locale} }}\n{}",
                case.step_id, case.uses, case.object.0, case.object.1, case.options
            );
            let dir = dir("workflow", i);
            let mut workflow = runwait();
            workflow.arg("run").arg(sim.workflow(&dir, &step)).args([
                "--output",
                "json",
                "--run-key",
                "key-1",
            ]);
            (spawn(workflow, &dir), dir)
        })
        .collect();
    let documents: Vec<_> = CASES
        .iter()
        .zip(workflows)
        .map(|(case, (workflow, dir))| {
            let (code, doc, stderr) = finish(workflow);
            assert_eq!(
                code, case.exit,
                "workflow {}: {doc}\n{stderr}",
                case.step_id
            );
            normalized(&doc, &dir)
        })
        .collect();
    let execs: Vec<_> = CASES
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let dir = dir("exec", i);
            let connection = dir.join("connection.yaml");
            std::fs::write(&connection, sim.connection()).unwrap();
            let mut exec = runwait();
            exec.args(["exec", case.uses, "--connection"])
                .arg(&connection)
                .arg(format!("--{}", case.object.0))
                .arg(case.object.1)
                .args(case.flags)
                .arg("--summary-file")
                .arg(dir.join("summary/summary.json"))
                .env("RUNWAIT_RUN_KEY", "key-1");
            (spawn(exec, &dir), dir)
        })
        .collect();
    for ((case, (exec, dir)), doc) in CASES.iter().zip(execs).zip(documents) {
        let (code, text, stderr) = finish(exec);
        assert_eq!(code, case.exit, "exec {}: {text}\n{stderr}", case.step_id);
        assert!(text.contains("workflow tenant: "), "a text summary: {text}");
        let file = dir.join("summary/summary.json");
        let summary = std::fs::read_to_string(&file).unwrap();
        assert_eq!(normalized(&summary, &dir), doc, "{}", case.step_id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the summary is its owner's only");
        }
    }
    let starts = sim.starts();
    assert_eq!(starts, 2 * CASES.len(), "one task per run");
}

/// A connection file for the embedded simulator, fast enough for checks of the flags.
fn embedded(dir: &Path) -> PathBuf {
    let file = dir.join("embedded.yaml");
    std::fs::write(
        &file,
        "connection:\n  simulator: { speed: 100 }\ndefaults:\n  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n  model: 75A40874E6B64FA3AE0743278996850F\n  poll: { min_interval: 50ms, max_interval: 200ms }\n",
    )
    .unwrap();
    file
}

#[test]
fn the_run_key_flag_wins_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = runwait();
    exec.args([
        "exec",
        "anaplan/action",
        "--id",
        "117000000001",
        "--connection",
    ])
    .arg(embedded(dir.path()))
    .args(["--output", "json", "--run-key", "from-flag"])
    .env("RUNWAIT_RUN_KEY", "from-env");
    let (code, doc, stderr) = finish(spawn(exec, dir.path()));
    assert_eq!(code, 0, "{doc}\n{stderr}");
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["run_key"], "from-flag");
    assert_eq!(doc["workflow"], "exec", "the default name");
    assert_eq!(doc["steps"][0]["id"], "action-117000000001");
}

#[test]
fn a_bad_flag_is_a_usage_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let connection = embedded(dir.path());
    for (args, message) in [
        (
            &["anaplan/process", "--id", "112000000001"][..],
            "--id: `112000000001` is an import id",
        ),
        (
            &["anaplan/process", "--name", "x", "--workspace", "abc"],
            "--workspace: expected a workspace id",
        ),
        (
            &["anaplan/process", "--id", "118000000001", "--timeout", "5"],
            "--timeout: `5` is not a duration",
        ),
        (
            &[
                "anaplan/export",
                "--id",
                "116000000001",
                "--mapping-parameter",
                "Version=Actual",
            ],
            "--mapping-parameter: mapping parameters apply to processes and imports only",
        ),
        (
            &[
                "anaplan/import",
                "--id",
                "112000000001",
                "--mapping-parameter",
                "Version",
            ],
            "--mapping-parameter: expected DIMENSION=ITEM",
        ),
        (
            &[
                "anaplan/import",
                "--id",
                "112000000001",
                "--on-dump",
                "maybe",
            ],
            "--on-dump: unknown variant `maybe`",
        ),
        (
            &["anaplan/flow", "--id", "112000000001"],
            "USES: unknown variant `anaplan/flow`",
        ),
        (
            &["anaplan/action", "--id", "117000000001", "--step-id", "a b"],
            "--step-id: `a b` is not a step id",
        ),
        (
            &[
                "anaplan/action",
                "--id",
                "117000000001",
                "--poll-min-interval",
                "1s",
                "--poll-max-interval",
                "500ms",
            ],
            "--poll-max-interval: must not be shorter than min_interval (1s)",
        ),
        (
            &["anaplan/action", "--id", "117000000001", "--name", "x"],
            "cannot be used with",
        ),
        (&["anaplan/action"], "required"),
    ] {
        let out = runwait()
            .arg("exec")
            .args(args)
            .arg("--connection")
            .arg(&connection)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn a_tenant_s_poll_floor_holds_for_exec_too() {
    let sim = Sim::start("1", None);
    let dir = tempfile::tempdir().unwrap();
    let connection = dir.path().join("connection.yaml");
    std::fs::write(&connection, sim.connection()).unwrap();
    let out = runwait()
        .args([
            "exec",
            "anaplan/action",
            "--id",
            "117000000001",
            "--poll-min-interval",
            "1s",
            "--connection",
        ])
        .arg(&connection)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--poll-min-interval: must be at least 5s"),
        "{stderr}"
    );
    assert!(sim.journal().is_empty(), "nothing was asked of the tenant");
}

/// What a pod deletion does: SIGTERM detaches (the summary file says so), and the retry
/// with the same run key reattaches to the task instead of starting another.
#[test]
fn sigterm_detaches_and_the_retry_reattaches() {
    let sim = Sim::start("100", Some(&scenario()));
    let dir = tempfile::tempdir().unwrap();
    let connection = dir.path().join("connection.yaml");
    std::fs::write(&connection, sim.connection()).unwrap();
    let summary = dir.path().join("summary.json");
    let attempt = |flags: &[&str]| {
        let mut exec = runwait();
        exec.args([
            "exec",
            "anaplan/action",
            "--id",
            "117000000001",
            "--connection",
        ])
        .arg(&connection)
        .arg("--summary-file")
        .arg(&summary)
        .args(flags)
        .env("RUNWAIT_RUN_KEY", "pod-retry");
        spawn(exec, dir.path())
    };
    let first = attempt(&[]);
    // The task is recorded before the first poll: then the pod is deleted.
    wait_for_task(dir.path());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (code, _, stderr) = finish(first);
    assert_eq!(code, 4, "{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(doc["steps"][0]["outcome"], "detached", "{doc}");
    let task = doc["steps"][0]["task_id"].clone();

    // The retry reattaches; its timeout then cancels the ten-hour task.
    let (code, _, stderr) = finish(attempt(&["--timeout", "1s"]));
    assert_eq!(code, 3, "{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(doc["steps"][0]["reattached"], true, "{doc}");
    assert_eq!(doc["steps"][0]["task_id"], task);
    let starts = sim.starts();
    assert_eq!(starts, 1, "never a second start");
}
