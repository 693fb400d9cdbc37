//! `runwait inspect` as a user runs it: the built binary, real files, stdout, stderr and
//! the exit code.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn inspect(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("runwait")
        .unwrap()
        .arg("inspect")
        .args(args)
        .assert()
}

fn json_of(file: &str) -> (Value, i32) {
    let path = fixtures().join("task-status").join(file);
    let out = inspect(&["--output", "json", path.to_str().unwrap()])
        .get_output()
        .clone();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{file}: {e}"));
    (json, out.status.code().unwrap())
}

#[test]
fn exit_code_follows_the_outcome() {
    let cases = [
        ("import-succeeded.json", "succeeded", 0),
        (
            "import-succeeded-with-dump.json",
            "succeeded_with_warnings",
            0,
        ),
        ("process-failed-upload-gone.json", "failed", 1),
        ("cancelled-by-user.json", "cancelled", 4),
        ("in-progress.json", "pending", 10),
        ("unknown-state.json", "pending", 10),
    ];
    for (file, outcome, code) in cases {
        let (json, exit) = json_of(file);
        assert_eq!(json["outcome"], outcome, "{file}");
        assert_eq!(exit, code, "{file}");
    }
}

#[test]
fn json_report_has_reasons_and_nested_results() {
    let (json, _) = json_of("process-failed-upload-gone.json");
    assert_eq!(json["terminal"], true);
    assert_eq!(json["task_state"], "COMPLETE");
    assert_eq!(json["successful"], false);
    assert_eq!(json["progress"], 0.0);
    assert_eq!(
        json["reasons"],
        serde_json::json!([{
            "object_id": "112000000050",
            "object_name": "Sales from S3",
            "type": "importFailedGeneralError",
            "message": "The uploaded file is no longer available; please upload the file again"
        }])
    );
    let nested = json["nested"].as_array().unwrap();
    assert_eq!(nested.len(), 2);
    assert_eq!(nested[1]["object_id"], "116000000015");
    assert_eq!(nested[1]["successful"], false);
    assert_eq!(nested[1]["failure_dump_available"], false);

    let (json, _) = json_of("process-succeeded-nested-dump.json");
    assert_eq!(json["nested"][1]["counts"]["warnings_row_count"], 2);
    assert_eq!(json["nested"][1]["failure_dump_available"], true);
    assert_eq!(json["warnings"][0]["object_id"], "112000000048");

    let (json, _) = json_of("in-progress.json");
    assert_eq!(json["terminal"], false);
    assert_eq!(json["progress"], 0.42);
    assert_eq!(json["successful"], Value::Null);
}

#[test]
fn policies_are_flags() {
    let file = fixtures().join("task-status/import-succeeded-with-dump.json");
    inspect(&["--on-dump", "fail", file.to_str().unwrap()]).code(1);
    let file = fixtures().join("task-status/process-unsuccessful-without-evidence.json");
    inspect(&[file.to_str().unwrap()]).code(1);
    inspect(&[
        "--on-unsuccessful-without-evidence",
        "warn",
        file.to_str().unwrap(),
    ])
    .code(0);
    inspect(&["--on-dump", "sometimes", file.to_str().unwrap()])
        .code(2)
        .stderr(predicates::str::contains(
            "expected one of warn, fail, ignore",
        ));
}

#[test]
fn text_output_names_the_reason() {
    let file = fixtures().join("task-status/process-failed-upload-gone.json");
    inspect(&[file.to_str().unwrap()]).code(1).stdout(predicates::str::contains(
        "reason:  112000000050 (Sales from S3) importFailedGeneralError: The uploaded file is no longer available",
    ));
}

#[test]
fn reads_standard_input() {
    let body = std::fs::read(fixtures().join("task-status/cancelled-by-user.json")).unwrap();
    Command::cargo_bin("runwait")
        .unwrap()
        .args(["inspect", "-"])
        .write_stdin(body)
        .assert()
        .code(4)
        .stdout(predicates::str::contains("cancelled by ops@example.com"));
}

#[test]
fn unreadable_input_is_one_line_naming_file_and_position() {
    let cases = [
        (
            "wrong-type.json",
            "at `task.result.successful` (line 6, column 25): invalid type: string \"yes\", expected a boolean",
        ),
        ("truncated.json", "not valid JSON at line 5"),
        (
            "not-json.txt",
            "not valid JSON at line 1, column 2: expected ident",
        ),
        ("auth-reply.json", "not a task status"),
        ("empty-object.json", "not a task status"),
    ];
    for (file, message) in cases {
        let path = fixtures().join("invalid").join(file);
        let out = inspect(&[path.to_str().unwrap()])
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{file}: {stderr}");
        assert!(
            stderr.starts_with(&format!("runwait: {}: ", path.display())),
            "{file}: {stderr}"
        );
        assert!(stderr.contains(message), "{file}: {stderr}");
        assert!(out.stdout.is_empty(), "{file}");
    }
    inspect(&["/no/such/file.json"])
        .code(2)
        .stderr(predicates::str::contains("/no/such/file.json: cannot read"));
}

#[test]
fn a_utf8_byte_order_mark_is_read_past() {
    let body = std::fs::read(fixtures().join("task-status/cancelled-by-user.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bom.json");
    std::fs::write(&file, [b"\xEF\xBB\xBF".as_slice(), &body].concat()).unwrap();
    inspect(&[file.to_str().unwrap()])
        .code(4)
        .stdout(predicates::str::contains("cancelled by ops@example.com"));
    Command::cargo_bin("runwait")
        .unwrap()
        .args(["inspect", "-"])
        .write_stdin([b"\xEF\xBB\xBF".as_slice(), &body].concat())
        .assert()
        .code(4);
}
