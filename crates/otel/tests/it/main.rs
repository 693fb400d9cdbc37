//! The OpenTelemetry adapter's tests, one binary: spans reach real OTLP receivers (gRPC
//! and HTTP) in the shape of the span contract, from the executor too, and an unreachable
//! collector costs bounded time and one warning.

mod common;
mod executor;
mod grpc;
mod http;
mod init;
mod resilience;
