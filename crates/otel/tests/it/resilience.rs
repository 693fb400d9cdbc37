//! Telemetry never costs a workflow: off means nothing exported, and a collector that
//! cannot be reached gives one warning and a bounded shutdown.

use std::time::{Duration, Instant};

use crate::common::contract::{self, STARTED_BY};
use crate::common::{captured_warnings, closed_port, grpc_receiver, http_receiver};
use runwait_otel::{Protocol, TelemetryConfig};
use tracing_subscriber::layer::SubscriberExt;

/// Runs the contract under `config`'s layer and shuts down; returns how long the
/// shutdown took and whether the workflow span had a trace context.
async fn run_contract(config: &TelemetryConfig) -> (Duration, bool) {
    let (layer, guard) = runwait_otel::layer(config).unwrap();
    let traced = {
        let _d = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let workflow = contract::workflow_span();
        contract::run(&workflow, |step| runwait_otel::link_to(step, STARTED_BY));
        runwait_otel::current_traceparent(&workflow).is_some()
    };
    // Let the batch thread try at least one export on its own.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    guard.shutdown().await;
    (began.elapsed(), traced)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_disabled_exports_nothing() {
    let (grpc, grpc_received) = grpc_receiver().await;
    let (http, http_received) = http_receiver().await;
    for (endpoint, protocol) in [(grpc, "grpc"), (http, "http/protobuf")] {
        let config = TelemetryConfig::from_env_with(|name| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some(protocol.to_owned()),
            "OTEL_SDK_DISABLED" => Some("true".to_owned()),
            _ => None,
        });
        assert!(!config.is_enabled());
        let (_, traced) = run_contract(&config).await;
        assert!(!traced, "no OpenTelemetry layer, no trace context");
    }
    assert_eq!(grpc_received.requests(), 0);
    assert_eq!(http_received.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_means_no_exporter() {
    let config = TelemetryConfig::from_env_with(|_| None);
    let (_layer, guard) = runwait_otel::layer::<tracing_subscriber::Registry>(&config).unwrap();
    assert!(!guard.is_exporting());
    let (_, traced) = run_contract(&config).await;
    assert!(!traced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_gives_one_warning_and_a_bounded_shutdown() {
    let timeout = Duration::from_millis(500);
    // A listener that never accepts: connections hang instead of being refused.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    for (protocol, addr) in [
        (Protocol::Grpc, closed_port()),
        (Protocol::HttpProtobuf, closed_port()),
        (Protocol::Grpc, silent_addr),
        (Protocol::HttpProtobuf, silent_addr),
    ] {
        let (sink, warnings) = captured_warnings();
        let config = TelemetryConfig::default()
            .with_endpoint(format!("http://{addr}"))
            .with_protocol(protocol)
            .with_header("x-api-key", "never-shown")
            .with_export_timeout(timeout)
            .with_scheduled_delay(Duration::from_millis(100))
            .with_warning_sink(sink);
        let (shutdown, traced) = run_contract(&config).await;
        assert!(traced);
        assert!(
            shutdown < timeout * 2 + Duration::from_millis(500),
            "{protocol:?}: shutdown took {shutdown:?}"
        );
        let warnings = warnings.lock().unwrap();
        assert_eq!(warnings.len(), 1, "{protocol:?}: {warnings:#?}");
        assert!(!warnings[0].contains('\n'));
        assert!(
            warnings[0].starts_with("warning: runwait cannot export traces to http://127.0.0.1:"),
            "{}",
            warnings[0]
        );
        assert!(!warnings[0].contains("never-shown"));
    }
}
