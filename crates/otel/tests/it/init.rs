//! `init` installs the global subscriber: spans from any thread of the runtime are
//! exported, and `shutdown` delivers them before returning. One test per process, since
//! the global subscriber can be set once.

use std::time::Duration;

use crate::common::http_receiver;
use runwait_otel::{OtelError, TelemetryConfig};
use tracing::Instrument;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_exports_spans_from_every_thread_and_shutdown_delivers_them() {
    let (endpoint, received) = http_receiver().await;
    let config = TelemetryConfig::default()
        .with_endpoint(endpoint)
        .with_service_name("runwait-init")
        // A long delay: only the shutdown can have sent the spans.
        .with_scheduled_delay(Duration::from_secs(60))
        .with_log_filter("warn");
    let guard = runwait_otel::init(config.clone()).unwrap();
    assert!(matches!(
        runwait_otel::init(config),
        Err(OtelError::AlreadyInitialized)
    ));

    let workflow = tracing::info_span!("runwait.workflow", workflow.name = "global");
    let steps: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(
                async move {
                    let poll = tracing::info_span!("anaplan.task.poll", runwait.poll.attempt = 1);
                    poll.in_scope(|| tracing::info!("polled"));
                    tokio::task::yield_now().await;
                }
                .instrument(tracing::info_span!(
                    parent: &workflow,
                    "anaplan.process",
                    runwait.step.id = i
                )),
            )
        })
        .collect();
    for step in steps {
        step.await.unwrap();
    }
    drop(workflow);
    guard.shutdown().await;

    let spans = received.spans();
    let workflow = spans.iter().find(|s| s.name == "runwait.workflow").unwrap();
    let steps: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "anaplan.process")
        .collect();
    assert_eq!(steps.len(), 4);
    assert!(steps.iter().all(|s| s.parent_span_id == workflow.span_id));
    let polls: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "anaplan.task.poll")
        .collect();
    assert_eq!(polls.len(), 4);
    assert!(
        polls
            .iter()
            .all(|p| steps.iter().any(|s| s.span_id == p.parent_span_id))
    );
    assert_eq!(
        workflow.resource["service.name"],
        crate::common::Value::from("runwait-init")
    );
}
