//! The span contract over OTLP/gRPC to a real `TraceService` server: the exact tree, and
//! poll spans arriving while their step is still open.

use std::time::Duration;

use crate::common::contract::{self, STARTED_BY};
use crate::common::expect::assert_contract;
use crate::common::{API_KEY_HEADER, grpc_receiver, one};
use runwait_otel::{Protocol, TelemetryConfig};
use tracing_subscriber::layer::SubscriberExt;

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn config(endpoint: &str) -> TelemetryConfig {
    TelemetryConfig::default()
        .with_endpoint(endpoint)
        .with_protocol(Protocol::Grpc)
        .with_service_name("runwait-test")
        .with_scheduled_delay(Duration::from_millis(200))
        .with_header(API_KEY_HEADER, "grpc-secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_the_exact_span_tree() {
    let (endpoint, received) = grpc_receiver().await;
    let (layer, guard) = runwait_otel::layer(&config(&endpoint)).unwrap();
    assert!(guard.is_exporting());
    {
        let _d = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let workflow = contract::workflow_span();
        runwait_otel::set_parent(&workflow, CALLER, Some("vendor=opaque"));
        contract::run(&workflow, |step| runwait_otel::link_to(step, STARTED_BY));
    }
    guard.shutdown().await;
    assert_contract(
        &received.spans(),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "runwait-test",
    );
    let keys = received.api_keys();
    assert!(!keys.is_empty() && keys.iter().all(|k| k == "grpc-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_spans_arrive_while_the_step_is_still_open() {
    let (endpoint, received) = grpc_receiver().await;
    let (layer, guard) = runwait_otel::layer(&config(&endpoint)).unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let _d = tracing::dispatcher::set_default(&dispatch);

    let workflow = contract::workflow_span();
    let step = tracing::info_span!(parent: &workflow, "anaplan.process", runwait.step.id = "long");
    for attempt in 1..=3 {
        let _s = step.enter();
        contract::poll(attempt, "IN_PROGRESS", 0.25 * attempt as f64);
    }
    let polls_arrived = received
        .wait_for(Duration::from_secs(5), |spans| {
            spans
                .iter()
                .filter(|s| s.name == "anaplan.task.poll")
                .count()
                == 3
        })
        .await;
    assert!(polls_arrived, "{:#?}", received.spans());
    assert!(
        received
            .spans()
            .iter()
            .all(|s| s.name != "anaplan.process" && s.name != "runwait.workflow"),
        "the step and the workflow are still open"
    );

    drop(step);
    drop(workflow);
    guard.shutdown().await;
    let spans = received.spans();
    let step = one(&spans, "anaplan.process");
    let polls: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "anaplan.task.poll")
        .collect();
    assert!(polls.iter().all(|p| p.parent_span_id == step.span_id));
    assert_eq!(step.parent_span_id, one(&spans, "runwait.workflow").span_id);
}
