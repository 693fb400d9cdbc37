//! The errors of setting telemetry up. Nothing here fails once spans flow: export
//! problems are reported as one warning, never as an error of the workflow.

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// The gRPC exporter needs a tokio runtime to spawn its connection on.
    #[error("the OTLP gRPC exporter must be set up inside a tokio runtime")]
    NoRuntime,
    /// A header of `OTEL_EXPORTER_OTLP_HEADERS` is not a valid gRPC metadata entry.
    /// Only its name is kept: the value may be a secret.
    #[error("OTLP header {name:?} is not a valid gRPC metadata name or value")]
    BadHeader {
        /// The header's name.
        name: String,
    },
    /// The OTLP exporter rejected its configuration (endpoint, TLS, ...).
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialized,
}
