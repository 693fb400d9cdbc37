//! The simulator's tests, one binary: auth, tasks, dumps, faults, scenarios and live-tenant
//! behaviour over real HTTP, and an unmodified third-party client against it.

mod auth;
mod common;
mod dumps;
mod faults;
mod scenarios;
mod tasks;
mod tenants;
mod third_party_client;
