//! Bad input: every malformed workflow file and task-status body of the corpus
//! (`tests/workflows/invalid/`, `tests/workflows/malformed/`, `tests/fixtures/invalid/`,
//! `tests/fixtures/malformed/` at the root) and a few huge ones made here is refused with
//! a located error and exit 2: no panic, and within a bounded address space (`ulimit -v`),
//! so no input can make the binary blow up its memory.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The address space a refusal must fit in. A body of 50 MB took 334 MB of resident
/// memory before `inspect` was bounded; now any refusal stays well under this.
const ADDRESS_SPACE_KIB: u32 = 256 * 1024;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `runwait ARGS` in an address space of [`ADDRESS_SPACE_KIB`], reading `stdin` from
/// a file when given.
fn bounded(args: &[&Path], stdin: Option<&Path>) -> Output {
    let mut script = format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\"");
    for n in 1..=args.len() {
        script.push_str(&format!(" \"${n}\""));
    }
    if stdin.is_some() {
        script.push_str(&format!(" < \"${}\"", args.len() + 1));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_runwait"))
        .args(args)
        .args(stdin)
        .output()
        .unwrap()
}

/// Exit 2, no panic, and stderr as `check` wants it.
fn assert_refused(what: &str, out: &Output, check: impl Fn(&str) -> bool) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    assert!(check(&stderr), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what}: nothing on stdout");
}

/// `FILE:LINE:COL: message`, the form of every workflow error.
fn located(line: &str) -> bool {
    let parts: Vec<&str> = line.split(':').collect();
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    parts
        .windows(3)
        .skip(1)
        .any(|w| number(w[0]) && number(w[1]) && w[2].starts_with(' '))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}", dir.display());
    files
}

#[test]
fn every_malformed_workflow_is_a_located_error() {
    let dirs = ["tests/workflows/invalid", "tests/workflows/malformed"];
    let mut seen = 0;
    for dir in dirs {
        for file in files(&manifest().join(dir)) {
            let out = bounded(&[Path::new("validate"), &file], None);
            assert_refused(&file.display().to_string(), &out, |stderr| {
                stderr.lines().count() >= 1 && stderr.lines().all(located)
            });
            seen += 1;
        }
    }
    assert!(seen >= 35, "{seen} files");
}

#[test]
fn a_huge_workflow_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.yaml");
    let text = format!("name: {}\nsteps: []\n", "x".repeat(20 << 20));
    std::fs::write(&file, text).unwrap();
    let out = bounded(&[Path::new("validate"), &file], None);
    assert_refused("20 MB name", &out, |stderr| stderr.lines().all(located));
}

/// Each malformed body with what its one line of error says: a position in the text
/// (`line L, column C`), or a verdict on the whole body.
const BODIES: [(&str, &str); 25] = [
    ("invalid/auth-reply.json", "not a task status"),
    ("invalid/empty-object.json", "not a task status"),
    ("invalid/not-json.txt", "line 1, column 2"),
    ("invalid/truncated.json", "not valid JSON at line 5"),
    ("invalid/wrong-type.json", "line 6, column 25"),
    ("malformed/array.json", "line 1, column 2"),
    ("malformed/comment.json", "line 1, column 1"),
    ("malformed/control-character.json", "line 1, column 23"),
    ("malformed/deep-nesting.json", "recursion limit exceeded"),
    ("malformed/duplicate-key.json", "duplicate field `task`"),
    ("malformed/empty.json", "line 1, column 0"),
    ("malformed/lone-surrogate.json", "line 1, column 28"),
    ("malformed/nan.json", "line 1, column 63"),
    (
        "malformed/nested-results-string.json",
        "at `task.result.nestedResults` (line 1, column 104)",
    ),
    (
        "malformed/not-utf8.json",
        "not UTF-8 text: invalid utf-8 sequence of 1 bytes from index 21",
    ),
    ("malformed/null.json", "line 1, column 4"),
    (
        "malformed/number-overflow.json",
        "line 1, column 67: number out of range",
    ),
    ("malformed/number.json", "line 1, column 2"),
    (
        "malformed/task-id-number.json",
        "at `task.taskId` (line 1, column 21)",
    ),
    ("malformed/task-null.json", "not a task status"),
    (
        "malformed/trailing-comma.json",
        "line 1, column 50: trailing comma",
    ),
    (
        "malformed/two-documents.json",
        "line 2, column 1: trailing characters",
    ),
    (
        "malformed/values-object.json",
        "at `task.result.details[0].values` (line 1, column 127)",
    ),
    ("malformed/whitespace.json", "line 3, column 0"),
    ("malformed/xml.json", "line 1, column 1"),
];

#[test]
fn every_malformed_body_is_a_located_error() {
    let root = manifest().join("../../tests/fixtures");
    let on_disk = ["invalid", "malformed"]
        .iter()
        .map(|d| files(&root.join(d)).len())
        .sum::<usize>();
    assert_eq!(
        on_disk,
        BODIES.len(),
        "every file of the corpus has its row"
    );
    for (file, said) in BODIES {
        let path = root.join(file);
        let out = bounded(&[Path::new("inspect"), &path], None);
        assert_refused(file, &out, |stderr| {
            stderr.lines().count() == 1
                && stderr.starts_with(&format!("runwait: {}: ", path.display()))
                && stderr.contains(said)
        });
    }
}

#[test]
fn huge_bodies_are_refused_in_bounded_memory_from_a_file_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // 50 MB of short values: parsed whole, it took 334 MB.
    let values: Vec<String> = (0..5_000_000).map(|i| format!("\"k{i}\"")).collect();
    let bodies = [
        (
            "values.json",
            format!(
                r#"{{"task": {{"taskId": "T", "taskState": "COMPLETE", "result": {{"successful": true, "details": [{{"type": "x", "values": [{}]}}]}}}}}}"#,
                values.join(",")
            ),
        ),
        (
            "status.json",
            format!(
                r#"{{"status": [{}], "task": {{"taskId": "T", "taskState": "COMPLETE"}}}}"#,
                vec!["[1]"; 10_000_000].join(",")
            ),
        ),
    ];
    for (name, body) in bodies {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let larger = |stderr: &str| stderr.contains("larger than 8 MiB");
        assert_refused(name, &bounded(&[Path::new("inspect"), &file], None), larger);
        let out = bounded(&[Path::new("inspect"), Path::new("-")], Some(&file));
        assert_refused(name, &out, larger);
    }
}
