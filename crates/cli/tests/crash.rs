//! Crash and reattach, from one table: `runwait run` killed with SIGKILL while a request
//! of a given kind hangs in a standalone `runwait sim` (the journal shows it hung, so the
//! moment of the kill is observed, never guessed), once or several times in a row, then
//! rerun with the same run key to the end. Each row ends with one task in the
//! simulator, the step's own outcome and exit code, the dumps byte-equal to those of a
//! run without a crash, and no temporary file in the state or out directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Instant;

use serde_json::Value;

mod common;
use common::{Sim, finish, runwait, signal, step, wait_for_journal, wait_for_task};

/// One row: the step, the runs killed one after the other, how the last run ends.
struct Case {
    name: &'static str,
    step: Target,
    kills: &'static [Kill],
    outcome: &'static str,
}

/// One run killed with SIGKILL: the faults armed before it starts, and the hung call
/// the journal must show before the kill.
struct Kill {
    /// Faults as `POST /__sim/faults` takes them.
    faults: &'static [&'static str],
    /// Ctrl-C once the task is recorded (so the hung call can be the cancel).
    interrupt: bool,
    /// The call kind (as the journal writes it) whose hang the kill waits for.
    hung: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The import `Customers`, by name: fails with a dump of eight chunks.
    Import,
    /// An action of ten minutes (six seconds at the simulator's speed): time to cancel.
    Action,
}

impl Target {
    fn step(self) -> &'static str {
        match self {
            Target::Import => {
                "  - id: load\n    uses: anaplan/import\n    with: { name: Customers }\n"
            }
            Target::Action => {
                "  - id: load\n    uses: anaplan/action\n    with: { id: \"117000000001\" }\n"
            }
        }
    }
}

/// A run killed with the call of kind `hung` hanging, by `faults`.
const fn kill(hung: &'static str, faults: &'static [&'static str]) -> Kill {
    Kill {
        faults,
        interrupt: false,
        hung,
    }
}

const HANG_AUTH: &str = r#"{"on": "auth", "fault": "hang"}"#;
const HANG_LOOKUP: &str = r#"{"on": "discovery", "fault": "hang"}"#;
const HANG_LIST: &str = r#"{"on": "list", "fault": "hang"}"#;
/// The listing after an unanswered start (the first listing, before it, is answered).
const HANG_RECOVERY_LIST: &str = r#"{"on": "list", "after": 1, "fault": "hang"}"#;
const HANG_START: &str = r#"{"on": "start", "fault": "hang"}"#;
const LOST_START: &str = r#"{"on": "start", "fault": "lost_start_response"}"#;
const LOST_START_503: &str = r#"{"on": "start", "fault": {"lost_start_status": 503}}"#;
const HANG_STATUS: &str = r#"{"on": "status", "fault": "hang"}"#;
const STATUS_503: &str = r#"{"on": "status", "fault": {"http": {"status": 503}}}"#;
const HANG_SECOND_STATUS: &str = r#"{"on": "status", "after": 1, "fault": "hang"}"#;
const EXPIRE_ON_STATUS: &str = r#"{"on": "status", "fault": "expire_tokens"}"#;
/// The login after the first one (its token expired).
const HANG_RELOGIN: &str = r#"{"on": "auth", "after": 1, "fault": "hang"}"#;
const HANG_CANCEL: &str = r#"{"on": "cancel", "fault": "hang"}"#;
/// The dump's chunk list; then its chunks one by one (`after` 1 is chunk 0).
const HANG_CHUNK_LIST: &str = r#"{"on": "dump", "fault": "hang"}"#;
const HANG_CHUNK_0: &str = r#"{"on": "dump", "after": 1, "fault": "hang"}"#;
const HANG_CHUNK_1: &str = r#"{"on": "dump", "after": 2, "fault": "hang"}"#;
const HANG_CHUNK_4: &str = r#"{"on": "dump", "after": 5, "fault": "hang"}"#;
const HANG_CHUNK_7: &str = r#"{"on": "dump", "after": 8, "fault": "hang"}"#;
const SHORT_CHUNK_0: &str = r#"{"on": "dump", "after": 1, "fault": "short"}"#;
/// After a short chunk 0, the chunk fetched next (chunk 0 again or chunk 1).
const HANG_AFTER_SHORT: &str = r#"{"on": "dump", "after": 2, "fault": "hang"}"#;
const DUMP_503: &str = r#"{"on": "dump", "after": 1, "fault": {"http": {"status": 503}}}"#;

const CASES: &[Case] = &[
    Case {
        name: "during the first login",
        step: Target::Import,
        kills: &[kill("auth", &[HANG_AUTH])],
        outcome: "failed",
    },
    Case {
        name: "during the lookup by name",
        step: Target::Import,
        kills: &[kill("discovery", &[HANG_LOOKUP])],
        outcome: "failed",
    },
    Case {
        name: "during the listing before the start",
        step: Target::Import,
        kills: &[kill("list", &[HANG_LIST])],
        outcome: "failed",
    },
    Case {
        name: "after the start request is sent",
        step: Target::Import,
        kills: &[kill("start", &[HANG_START])],
        outcome: "failed",
    },
    Case {
        name: "after a start whose answer was lost, during the recovery listing",
        step: Target::Import,
        kills: &[kill("list", &[LOST_START, HANG_RECOVERY_LIST])],
        outcome: "failed",
    },
    Case {
        name: "after a start answered 503 that created the task, during the recovery listing",
        step: Target::Import,
        kills: &[kill("list", &[LOST_START_503, HANG_RECOVERY_LIST])],
        outcome: "failed",
    },
    Case {
        name: "during the first poll",
        step: Target::Import,
        kills: &[kill("status", &[HANG_STATUS])],
        outcome: "failed",
    },
    Case {
        name: "during the retry of a poll answered 503",
        step: Target::Import,
        kills: &[kill("status", &[STATUS_503, HANG_SECOND_STATUS])],
        outcome: "failed",
    },
    Case {
        name: "during the login after a token expired while polling",
        step: Target::Import,
        kills: &[kill("auth", &[EXPIRE_ON_STATUS, HANG_RELOGIN])],
        outcome: "failed",
    },
    Case {
        name: "while polling a long action",
        step: Target::Action,
        kills: &[kill("status", &[HANG_STATUS])],
        outcome: "succeeded",
    },
    Case {
        name: "during a cancel after ctrl-c",
        step: Target::Action,
        kills: &[Kill {
            faults: &[HANG_CANCEL],
            interrupt: true,
            hung: "cancel",
        }],
        outcome: "succeeded",
    },
    Case {
        name: "after the task ended, before the dumps (chunk list)",
        step: Target::Import,
        kills: &[kill("dump", &[HANG_CHUNK_LIST])],
        outcome: "failed",
    },
    Case {
        name: "during the first chunk of the dump",
        step: Target::Import,
        kills: &[kill("dump", &[HANG_CHUNK_0])],
        outcome: "failed",
    },
    Case {
        name: "in the middle of the dump (second chunk)",
        step: Target::Import,
        kills: &[kill("dump", &[HANG_CHUNK_1])],
        outcome: "failed",
    },
    Case {
        name: "in the middle of the dump (fifth chunk)",
        step: Target::Import,
        kills: &[kill("dump", &[HANG_CHUNK_4])],
        outcome: "failed",
    },
    Case {
        name: "during the last chunk of the dump",
        step: Target::Import,
        kills: &[kill("dump", &[HANG_CHUNK_7])],
        outcome: "failed",
    },
    Case {
        name: "during the fetch after a short chunk",
        step: Target::Import,
        kills: &[kill("dump", &[SHORT_CHUNK_0, HANG_AFTER_SHORT])],
        outcome: "failed",
    },
    Case {
        name: "during the retry of a chunk answered 503",
        step: Target::Import,
        kills: &[kill("dump", &[DUMP_503, HANG_AFTER_SHORT])],
        outcome: "failed",
    },
    Case {
        name: "during a reattach check, after a kill while polling",
        step: Target::Import,
        kills: &[
            kill("status", &[HANG_STATUS]),
            kill("status", &[HANG_STATUS]),
        ],
        outcome: "failed",
    },
    Case {
        name: "during a reattach check, after a kill in the middle of the dump",
        step: Target::Import,
        kills: &[
            kill("dump", &[HANG_CHUNK_1]),
            kill("status", &[HANG_STATUS]),
        ],
        outcome: "failed",
    },
    Case {
        name: "in the middle of the dump twice",
        step: Target::Import,
        kills: &[kill("dump", &[HANG_CHUNK_1]), kill("dump", &[HANG_CHUNK_4])],
        outcome: "failed",
    },
    Case {
        name: "during the rerun's login, after a kill before the start's answer",
        step: Target::Import,
        kills: &[kill("start", &[HANG_START]), kill("auth", &[HANG_AUTH])],
        outcome: "failed",
    },
    Case {
        name: "during the rerun's listing, after a kill before the start's answer",
        step: Target::Import,
        kills: &[kill("start", &[HANG_START]), kill("list", &[HANG_LIST])],
        outcome: "failed",
    },
    Case {
        name: "at every stage in turn: lost start, reattach check, dump",
        step: Target::Import,
        kills: &[
            kill("list", &[LOST_START, HANG_RECOVERY_LIST]),
            kill("status", &[HANG_STATUS]),
            kill("dump", &[HANG_CHUNK_1]),
        ],
        outcome: "failed",
    },
];

#[test]
fn a_run_killed_anywhere_reruns_to_one_task_and_complete_dumps() {
    let began = Instant::now();
    // The rows and the run without a crash are independent (each its own simulator
    // and directories): in parallel.
    let (clean, rows) = std::thread::scope(|scope| {
        let clean = scope.spawn(|| {
            run_case(&Case {
                name: "without a crash",
                step: Target::Import,
                kills: &[],
                outcome: "failed",
            })
        });
        let rows: Vec<_> = CASES
            .iter()
            .map(|case| (case, scope.spawn(move || run_case(case))))
            .collect();
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(case, row)| (case, row.join().unwrap()))
            .collect();
        (clean.join().unwrap(), rows)
    });
    assert_eq!(clean.len(), 1, "one dump: {:?}", clean.keys());
    for (case, files) in rows {
        let expected = match case.step {
            Target::Import => &clean,
            Target::Action => &BTreeMap::new(),
        };
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{}",
            case.name
        );
        assert!(
            files == *expected,
            "{}: the dump differs from a run without a crash",
            case.name
        );
    }
    eprintln!("{} rows in {:?}", CASES.len(), began.elapsed());
}

/// Runs `case`'s killed runs, then the last one; checks it; returns the out directory's
/// files (path under it, content).
fn run_case(case: &Case) -> BTreeMap<PathBuf, Vec<u8>> {
    let name = case.name;
    let sim = Sim::start("100", Some(&fixture("crash.yaml")));
    let dir = tempfile::tempdir().unwrap();
    let file = sim.workflow(dir.path(), case.step.step());
    for (i, k) in case.kills.iter().enumerate() {
        let before = hung(&sim.journal(), k.hung);
        for fault in k.faults {
            sim.add_fault(fault);
        }
        let mut child = spawn_run(&file, dir.path());
        if k.interrupt {
            wait_for_task(dir.path());
            signal(&child, "-INT");
        }
        wait_for_journal(&sim, &format!("{name} (kill {i})"), |j| {
            hung(j, k.hung) > before
        });
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // A task the killed runs created (answered or not) is the one the rerun waits on.
    let created_before = !sim_tasks(&sim).is_empty();
    let (code, doc) = finish(spawn_run(&file, dir.path()));
    let load = step(&doc, "load");
    assert_eq!(load["outcome"], case.outcome, "{name}: {doc}");
    assert_eq!(load["reattached"], created_before, "{name}: {doc}");
    let want_code = if case.outcome == "succeeded" { 0 } else { 1 };
    assert_eq!(code, want_code, "{name}: {doc}");
    let tasks = sim_tasks(&sim);
    assert_eq!(tasks.len(), 1, "{name}: one task: {tasks:?}");
    for leftover in ["state", "out"]
        .iter()
        .flat_map(|d| files(&dir.path().join(d)))
    {
        let file_name = leftover
            .0
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            !file_name.ends_with(".tmp") && !file_name.ends_with(".incomplete"),
            "{name}: left behind: {}",
            leftover.0.display()
        );
    }
    files(&dir.path().join("out"))
}

/// The simulator's tasks (`GET /__sim/tasks`).
fn sim_tasks(sim: &Sim) -> Vec<Value> {
    serde_json::from_str(&sim.control("GET", "tasks", "")).unwrap()
}

/// Every file under `root`, by its path under `root`, with its content.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let content = std::fs::read(&path).unwrap();
                found.insert(path.strip_prefix(root).unwrap().to_path_buf(), content);
            }
        }
    }
    found
}

/// How many calls of `kind` hang in the journal.
fn hung(journal: &[Value], kind: &str) -> usize {
    journal
        .iter()
        .filter(|e| e["kind"] == kind && e["answer"] == "hang")
        .count()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/crash")
        .join(name)
}

/// `runwait run` with the run key `k1`, its state and dumps under `dir`, JSON piped.
fn spawn_run(file: &Path, dir: &Path) -> Child {
    runwait()
        .arg("run")
        .arg(file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out-dir")
        .arg(dir.join("out"))
        .args(["--output", "json", "--run-key", "k1"])
        .env("RUNWAIT_TEST_PASSWORD", "demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
