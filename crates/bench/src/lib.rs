//! Benchmarks of runwait measured from outside its processes: the simulator, the waiter
//! (runwait's library in a worker process, the `runwait` binary, or the Python
//! `anaplan-sdk`) each run as a process of their own, so one's memory and CPU are not
//! another's.
//!
//! - `cargo bench -p runwait-bench --bench concurrency`: N concurrent waits; peak RSS,
//!   memory per wait, CPU per 1,000 polls (over the whole run, and in the steady state:
//!   see [`steady`]), polls per second, file descriptors, timer stalls (library
//!   worker), and the ratios to anaplan-sdk.
//! - `cargo bench -p runwait-bench --bench shared_budget`: 1,000 waits against a
//!   simulator limited to 10 requests/s, with the budget and without: 429s and
//!   detection delays.
//!
//! The figures and what each column means are in `BENCHMARKS.md`. The benches print
//! tables and assert nothing. This library holds what they share; the `runwait-bench`
//! binary serves the simulator (`runwait-bench sim`) and runs the library worker
//! (`runwait-bench worker`).

pub mod args;
pub mod cli;
pub mod proc;
pub mod scenario;
pub mod sdk;
pub mod simproc;
pub mod steady;
pub mod table;
pub mod waiter;
pub mod worker;

use std::path::PathBuf;

/// The workspace of the bench's tenant (the built-in scenario's).
pub const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
/// The one action of every model of the bench's tenant.
pub const ACTION: &str = "117000000001";
/// The user the waiters log in as (the built-in scenario's).
pub const USER: &str = "demo@runwait.local";
/// That user's password (the built-in scenario's; loopback test tenant only).
pub const PASSWORD: &str = "demo";

/// The id of the bench tenant's model `i`: each wait has a model of its own, since a
/// model runs one task at a time (the others queue).
pub fn model_id(i: usize) -> String {
    format!("{i:032X}")
}

/// The workspace's `target/` directory (`CARGO_TARGET_DIR` if set), where the benches
/// keep their virtual environment and scratch directories.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

/// A fresh scratch directory `target/bench-runs/<name>` (emptied first).
pub fn scratch_dir(name: &str) -> std::io::Result<PathBuf> {
    let dir = target_dir().join("bench-runs").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
