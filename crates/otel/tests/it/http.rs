//! The span contract over OTLP/HTTP (protobuf) to a real `POST /v1/traces` endpoint,
//! configured from the standard variables, with the caller's trace context from
//! `TRACEPARENT`/`TRACESTATE`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::common::contract::{self, STARTED_BY};
use crate::common::expect::assert_contract;
use crate::common::{API_KEY_HEADER, Value, http_receiver};
use runwait_otel::TelemetryConfig;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_the_exact_span_tree_configured_from_the_environment() {
    let (endpoint, received) = http_receiver().await;
    let env: HashMap<&str, String> = HashMap::from([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("{API_KEY_HEADER}=http%20secret"),
        ),
        ("OTEL_SERVICE_NAME", "runwait-env".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test".to_owned(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        (
            "TRACEPARENT",
            "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01".to_owned(),
        ),
        ("TRACESTATE", "vendor=opaque".to_owned()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let config = TelemetryConfig::from_env_with(lookup);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());

    let (layer, guard) = runwait_otel::layer(&config).unwrap();
    let started_calc = Mutex::new(None);
    {
        let _d = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let workflow = contract::workflow_span();
        runwait_otel::set_parent_from_env_with(&workflow, lookup);
        contract::run(&workflow, |step| {
            runwait_otel::link_to(step, STARTED_BY);
            // What the executor keeps in its state store for a later run to link to.
            *started_calc.lock().unwrap() = runwait_otel::current_traceparent(step);
        });
    }
    guard.shutdown().await;

    let spans = received.spans();
    assert_contract(
        &spans,
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef",
        "runwait-env",
    );
    let calc = spans
        .iter()
        .find(|s| s.attributes.get("runwait.step.id") == Some(&Value::from("calc")))
        .unwrap();
    assert_eq!(
        started_calc.into_inner().unwrap().as_deref(),
        Some(format!("00-{}-{}-01", calc.trace_id, calc.span_id).as_str())
    );
    assert_eq!(
        calc.resource["deployment.environment.name"],
        Value::from("test")
    );

    // The header reached the collector and nothing else: no attribute holds it.
    let keys = received.api_keys();
    assert!(!keys.is_empty() && keys.iter().all(|k| k == "http secret"));
    let everything = format!("{spans:?}");
    assert!(!everything.contains("secret"));
}
