//! runwait as a step of a scheduler, end to end with the built binary and a `runwait sim`
//! process: `runwait exec` against one-step workflows, the summary file, the run key from
//! the environment, and the definitions in `deploy/` run as their containers would.

#[path = "../common/mod.rs"]
mod common;
mod deploy;
mod exec;
