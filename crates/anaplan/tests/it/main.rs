//! The client's tests, one binary: every call, auth kind, retry, dump and secret against
//! the simulator over real HTTP.

mod auth;
mod common;
mod connections;
mod dumps;
mod retries;
mod secrets;
mod sleeps;
mod tasks;
mod tenants;
