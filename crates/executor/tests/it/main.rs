//! The engine's tests, one binary: every outcome, the wait's life (deadlines, aborts,
//! detach, reattach, crashes) and the shared budget, through the real client and the
//! simulator in paused time.

mod budget;
mod common;
mod faults;
mod history;
mod lease;
mod lifecycle;
mod outcomes;
mod stops;
