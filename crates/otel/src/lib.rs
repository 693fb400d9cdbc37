//! The OpenTelemetry adapter of runwait: it turns the plain `tracing` spans of the
//! executor and the client into OTLP traces, and sets up the human-readable log on stderr.
//!
//! It is the only crate that knows OpenTelemetry. The executor and the client emit
//! `tracing` spans (`runwait.workflow`, `anaplan.process`, `anaplan.task.poll`,
//! `http.client`, ...) and never depend on this crate; the host (the CLI, or an embedder)
//! calls [`init`] once, creates the workflow span, optionally gives it the caller's trace
//! context with [`set_parent_from_env`], and calls [`TelemetryGuard::shutdown`] on every
//! exit path:
//!
//! ```no_run
//! # async fn run() -> Result<(), runwait_otel::OtelError> {
//! let telemetry = runwait_otel::init(runwait_otel::TelemetryConfig::from_env())?;
//! let workflow = tracing::info_span!("runwait.workflow", workflow.name = "nightly");
//! runwait_otel::set_parent_from_env(&workflow); // before entering it
//! // ... run the steps inside `workflow` ...
//! drop(workflow);
//! telemetry.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What it guarantees:
//! - Off by default: without an endpoint (or with `OTEL_SDK_DISABLED=true`) no exporter
//!   is built and no OpenTelemetry layer is installed.
//! - Finished spans leave within about a second (see
//!   [`TelemetryConfig::with_scheduled_delay`]), so each poll of a long wait shows up in
//!   Jaeger while the step is still running.
//! - A collector that cannot be reached costs a bounded export timeout, at most one
//!   warning line, and never an error of the workflow.
//! - Header values of `OTEL_EXPORTER_OTLP_HEADERS` are never logged.
//!
//! What it is not: it defines no span of its own (the span contract lives with the code
//! that emits the spans), exports no metrics or logs over OTLP, and parses no workflow
//! file (the CLI maps its telemetry section onto [`TelemetryConfig`]'s setters).

mod config;
mod context;
mod error;
mod export;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

pub use config::{Protocol, Sampler, TelemetryConfig, WarningSink};
pub use context::{
    current_traceparent, link_to, set_parent, set_parent_from_env, set_parent_from_env_with,
};
pub use error::OtelError;

use export::Warner;

/// Installs the global subscriber: the log on stderr (filter from `RUST_LOG`, default
/// `info`; each line names its spans with their fields, so the step id and the task id)
/// and, when tracing is enabled, the OpenTelemetry layer. Configuration warnings are
/// logged once it is installed.
///
/// With the gRPC protocol, call it inside a tokio runtime.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, OtelError> {
    let mut warnings = config.warnings().to_vec();
    let log_filter = config.log_filter().unwrap_or("info");
    let log_filter = EnvFilter::try_new(log_filter).unwrap_or_else(|e| {
        warnings.push(format!("RUST_LOG is not a valid filter ({e}); using info"));
        EnvFilter::new("info")
    });
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(log_filter);
    let (otel, guard) = layer(&config)?;
    tracing_subscriber::registry()
        .with(log)
        .with(otel)
        .try_init()
        .map_err(|_| OtelError::AlreadyInitialized)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(guard)
}

/// The OpenTelemetry layer alone, for a subscriber the caller builds (tests use it with
/// `tracing::subscriber::set_default`), and the guard that flushes it. When tracing is
/// off the layer does nothing.
///
/// The layer records spans and events at `INFO` and above whatever `RUST_LOG` says, and
/// never those of the HTTP and gRPC stacks, which would otherwise trace the exporter's
/// own requests.
pub fn layer<S>(
    config: &TelemetryConfig,
) -> Result<(impl Layer<S> + Send + Sync + 'static, TelemetryGuard), OtelError>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let Some((provider, warner)) = export::provider(config)? else {
        return Ok((None, TelemetryGuard::off()));
    };
    let scope = InstrumentationScope::builder("runwait")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer_with_scope(scope))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(otel_filter());
    let guard = TelemetryGuard {
        provider: Some(provider),
        warner: Some(warner),
        // The batch thread may be inside one export when the final one is queued.
        timeout: config.export_timeout() * 2,
    };
    Ok((Some(layer), guard))
}

fn otel_filter() -> Targets {
    Targets::new().with_default(LevelFilter::INFO).with_targets(
        ["h2", "hyper", "tonic", "tower", "reqwest", "opentelemetry"]
            .map(|target| (target, LevelFilter::OFF)),
    )
}

/// Keeps the exporter alive; [`shutdown`](Self::shutdown) sends what is left.
///
/// Dropping it without `shutdown` flushes too, best effort: on a current-thread tokio
/// runtime the gRPC exporter cannot make progress while `drop` blocks that thread.
#[must_use = "dropping the guard shuts the exporter down; call `shutdown().await` on exit"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    warner: Option<Arc<Warner>>,
    timeout: Duration,
}

impl TelemetryGuard {
    fn off() -> Self {
        Self {
            provider: None,
            warner: None,
            timeout: Duration::ZERO,
        }
    }

    /// Whether spans are being exported.
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans not sent yet and stops the exporter, within about twice the
    /// export timeout. A collector that cannot be reached gives one warning, no error.
    /// Call it inside the tokio runtime on every exit path (success, failure, Ctrl-C).
    pub async fn shutdown(mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        let timeout = self.timeout;
        // Shutting down blocks until the batch thread has exported, and the gRPC
        // exporter needs this runtime to make progress meanwhile.
        let result =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(timeout)).await;
        let problem = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        self.warn(&problem);
    }

    fn warn(&self, problem: &str) {
        if let Some(warner) = &self.warner {
            warner.warn(problem);
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        let timeout = self.timeout;
        // On a thread of its own, so that a multi-thread runtime this drop runs on keeps
        // driving the exporter's connection.
        let result = std::thread::spawn(move || provider.shutdown_with_timeout(timeout)).join();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.warn(&e.to_string()),
            Err(_) => self.warn("the exporter panicked while shutting down"),
        }
    }
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exporting", &self.is_exporting())
            .finish_non_exhaustive()
    }
}
