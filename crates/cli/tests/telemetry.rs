//! `runwait run` exports its trace to a real receiver on 127.0.0.1, over OTLP/HTTP
//! (protobuf) and over OTLP/gRPC: the caller's TRACEPARENT is the parent, every step is
//! a child of the workflow span, and every status request is a poll span.

mod common;
#[path = "common/otlp.rs"]
mod otlp;
#[path = "common/otlp_grpc.rs"]
mod otlp_grpc;

use std::path::PathBuf;

use opentelemetry_proto::tonic::trace::v1::Span;
use otlp::{Spans, receiver};
use otlp_grpc::grpc_receiver;
use serde_json::Value;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(
    span: &'a Span,
    key: &str,
) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[test]
fn a_run_is_one_trace_under_the_callers_span() {
    // The gRPC exporter's requests are driven by the CLI's runtime, a current-thread one.
    let (endpoint, spans) = receiver();
    one_trace_under_the_callers_span("http/protobuf", &endpoint, &spans);
    let (endpoint, spans, _served) = grpc_receiver();
    one_trace_under_the_callers_span("grpc", &endpoint, &spans);
}

fn one_trace_under_the_callers_span(protocol: &str, endpoint: &str, spans: &Spans) {
    let dir = tempfile::tempdir().unwrap();
    let workflow = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/run/nightly.yaml");
    let out = common::runwait()
        .args(["run", "--output", "json", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--out-dir")
        .arg(dir.path().join("out"))
        .arg(&workflow)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("TRACEPARENT", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{protocol}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The exporter has flushed before the process exited.
    let spans = spans.lock().unwrap().clone();

    let workflow_span = spans
        .iter()
        .find(|s| s.name == "runwait.workflow")
        .unwrap_or_else(|| panic!("{protocol}: a workflow span"));
    assert_eq!(hex(&workflow_span.trace_id), TRACE_ID);
    assert_eq!(hex(&workflow_span.parent_span_id), CALLER_SPAN);
    let strays: Vec<(&str, String)> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) != TRACE_ID)
        .map(|s| (s.name.as_str(), hex(&s.parent_span_id)))
        .collect();
    assert!(strays.is_empty(), "{protocol}: one trace: {strays:?}");

    for step in doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] != "skipped")
    {
        // The report is the last attempt's; a retry runs as `<id>.retry<n>`.
        let id = match step["attempts"].as_u64().unwrap() {
            1 => step["id"].as_str().unwrap().to_owned(),
            n => format!("{}.retry{}", step["id"].as_str().unwrap(), n - 1),
        };
        let id = id.as_str();
        let step_span = spans
            .iter()
            .find(|s| s.name.starts_with("anaplan.") && text(s, "runwait.step.id") == id)
            .unwrap_or_else(|| panic!("{protocol}: no span for step {id}"));
        assert_eq!(
            step_span.parent_span_id, workflow_span.span_id,
            "{id} is a child of the workflow"
        );
        assert_eq!(
            text(step_span, "runwait.outcome"),
            step["outcome"].as_str().unwrap()
        );
        assert_eq!(
            text(step_span, "anaplan.task.id"),
            step["task_id"].as_str().unwrap()
        );
        let polls = spans
            .iter()
            .filter(|s| s.name == "anaplan.task.poll" && s.parent_span_id == step_span.span_id)
            .count();
        assert_eq!(
            polls as u64,
            step["polls"].as_u64().unwrap(),
            "{id}: one span per poll"
        );
        let failed = step["outcome"] == "failed";
        // Status code 2 is ERROR in OTLP.
        assert_eq!(
            step_span.status.as_ref().map(|s| s.code) == Some(2),
            failed,
            "{id}"
        );
    }
}
