//! Telemetry for a run: the `OTEL_*` variables, then the workflow's `telemetry:` section.

use runwait_otel::{Protocol, TelemetryConfig, TelemetryGuard};
use runwait_workflow::model::{self, TelemetrySettings};

/// Installs logging and tracing. A failure is a warning: a run never stops for telemetry.
pub fn start(settings: &TelemetrySettings) -> Option<TelemetryGuard> {
    let mut config = TelemetryConfig::from_env()
        // Progress has its own display; logs only for warnings unless RUST_LOG asks.
        .with_log_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()));
    if let Some(endpoint) = &settings.endpoint {
        config = config.with_endpoint(endpoint.clone()).with_enabled(true);
    }
    if let Some(protocol) = settings.protocol {
        config = config.with_protocol(match protocol {
            model::Protocol::Grpc => Protocol::Grpc,
            // The format's enum grows only with the otel adapter's.
            _ => Protocol::HttpProtobuf,
        });
    }
    if let Some(name) = &settings.service_name {
        config = config.with_service_name(name.clone());
    }
    if let Some(enabled) = settings.enabled {
        config = config.with_enabled(enabled);
    }
    match runwait_otel::init(config) {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("runwait: warning: telemetry is off: {e}");
            None
        }
    }
}

/// Trace context for reattached waits, through the OpenTelemetry adapter.
pub struct OtelHook;

impl runwait_executor::TraceHook for OtelHook {
    fn traceparent(&self, span: &tracing::Span) -> Option<String> {
        runwait_otel::current_traceparent(span)
    }

    fn link(&self, span: &tracing::Span, traceparent: &str) {
        runwait_otel::link_to(span, traceparent);
    }
}
