//! The `runwait` binary as a waiter: the release build of the workspace's own, and a
//! generated workflow of N steps on the bench's tenant.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{ACTION, USER, WORKSPACE, model_id};

/// The environment variable the generated workflow reads the password from.
pub const PASSWORD_ENV: &str = "RUNWAIT_BENCH_PASSWORD";

/// Builds `runwait` in release mode (`cargo build --release -p runwait-cli`, quick when
/// it is up to date) and returns its path.
pub fn runwait() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "runwait-cli"])
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release -p runwait-cli: {status}"));
    }
    let binary = crate::target_dir().join("release/runwait");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{} is missing after the build", binary.display()))
    }
}

/// A workflow of `n` independent steps (one per model from `first`), each running the
/// bench action; polls every `poll` (fixed) or on runwait's default schedule (the rate
/// budget is given on the command line, `--rate-per-second`).
pub fn workflow(addr: &str, first: usize, n: usize, poll: Option<Duration>) -> String {
    let mut text = format!(
        "name: bench\n\
         connection:\n  api_url: http://{addr}/2/0\n  auth_url: http://{addr}\n  \
         auth:\n    kind: basic\n    user: {USER}\n    password: {{ env: {PASSWORD_ENV} }}\n\
         defaults:\n  workspace: {WORKSPACE}\n"
    );
    if let Some(every) = poll {
        let ms = every.as_millis();
        let _ = writeln!(
            text,
            "  poll: {{ min_interval: {ms}ms, max_interval: {ms}ms }}"
        );
    }
    text.push_str("steps:\n");
    for i in first..first + n {
        let _ = writeln!(
            text,
            "  - {{ id: w{i}, uses: anaplan/action, with: {{ model: \"{}\", id: \"{ACTION}\" }} }}",
            model_id(i)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_has_a_step_per_model() {
        let text = workflow("127.0.0.1:1", 5, 2, Some(Duration::from_secs(5)));
        assert!(text.contains("min_interval: 5000ms"), "{text}");
        assert!(text.contains(&format!(
            "id: w6, uses: anaplan/action, with: {{ model: \"{}\"",
            model_id(6)
        )));
        assert_eq!(text.matches("uses:").count(), 2);
    }

    #[test]
    fn the_workflow_loads_with_model_ids_that_read_as_numbers_unquoted() {
        // Model 224 is `0…0E0`: unquoted, YAML reads it as the number 0.
        let text = workflow("127.0.0.1:1", 220, 10, Some(Duration::from_secs(5)));
        let loaded = runwait_workflow::load_str(&text, Path::new("bench.yaml"));
        let workflow = loaded.unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(workflow.steps.len(), 10);
    }
}
