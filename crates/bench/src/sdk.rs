//! anaplan-sdk's async client as a waiter: a virtual environment under `target/` with
//! `anaplan-sdk==0.5.22` (made by the bench on its first run, with `python3 -m venv` and
//! pip from PyPI), and `python/sdk_waiter.py`, which runs N waits at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The version the benches measure (the one the simulator's third-party test runs).
pub const VERSION: &str = "0.5.22";

/// How often its `run_action` polls: `status_poll_delay`, 1 s by default (the script
/// keeps the default).
pub const POLL: Duration = Duration::from_secs(1);

/// The Python of `target/bench-venv`, with anaplan-sdk installed (made now if missing).
pub fn python() -> Result<PathBuf, String> {
    let venv = crate::target_dir().join("bench-venv");
    let python = venv.join("bin/python");
    if has_sdk(&python) {
        return Ok(python);
    }
    eprintln!(
        "installing anaplan-sdk=={VERSION} into {} (python3 -m venv, pip)",
        venv.display()
    );
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        &format!("anaplan-sdk=={VERSION}"),
    ]))?;
    if has_sdk(&python) {
        Ok(python)
    } else {
        Err(format!(
            "{} cannot import anaplan_sdk {VERSION}",
            python.display()
        ))
    }
}

/// The waiter script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/sdk_waiter.py")
}

fn has_sdk(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            &format!(
                "import importlib.metadata as m, sys; sys.exit(m.version('anaplan-sdk') != '{VERSION}')"
            ),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?}: {status}"))
    }
}
