//! W3C trace context in and out, as plain strings, so that the executor and the CLI never
//! see an OpenTelemetry type: the caller's `TRACEPARENT` as the workflow span's parent,
//! and the traceparent of a step span kept in the state store for a later run to link to.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn extract(traceparent: &str, tracestate: Option<&str>) -> opentelemetry::Context {
    let mut carrier = HashMap::from([("traceparent".to_owned(), traceparent.trim().to_owned())]);
    if let Some(state) = tracestate {
        carrier.insert("tracestate".to_owned(), state.trim().to_owned());
    }
    TraceContextPropagator::new().extract(&carrier)
}

fn span_context(traceparent: &str) -> Option<SpanContext> {
    let cx = extract(traceparent, None);
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// The W3C `traceparent` of `span` (`00-<trace id>-<span id>-<flags>`), or `None` when
/// tracing is off or the span is not recorded.
///
/// This starts the OpenTelemetry span: call [`set_parent`] before it, not after.
pub fn current_traceparent(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// Adds to `span` a link to the span a `traceparent` names (for a reattached wait, the
/// step span of the run that started the task). A malformed `traceparent` is ignored:
/// a missing link must not fail a step.
pub fn link_to(span: &tracing::Span, traceparent: &str) {
    if let Some(sc) = span_context(traceparent) {
        span.add_link(sc);
    }
}

/// Makes `span` a child of the remote span a `traceparent` (and `tracestate`) names.
/// Call it right after creating the span, before entering it or creating children.
/// A malformed `traceparent` is ignored, as W3C asks: the span starts a new trace.
pub fn set_parent(span: &tracing::Span, traceparent: &str, tracestate: Option<&str>) {
    let cx = extract(traceparent, tracestate);
    if cx.span().span_context().is_valid() {
        // Fails only if tracing is off or the span has started; both leave it a root.
        let _ = span.set_parent(cx);
    }
}

/// [`set_parent`] from the `TRACEPARENT` and `TRACESTATE` environment variables, as an
/// orchestrator that runs the CLI sets them.
pub fn set_parent_from_env(span: &tracing::Span) {
    set_parent_from_env_with(span, |name| std::env::var(name).ok());
}

/// [`set_parent_from_env`] with the variables looked up by `lookup`.
pub fn set_parent_from_env_with(span: &tracing::Span, lookup: impl Fn(&str) -> Option<String>) {
    if let Some(parent) = lookup("TRACEPARENT") {
        set_parent(span, &parent, lookup("TRACESTATE").as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_malformed_traceparents() {
        let sc = span_context("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled() && sc.is_remote());
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(span_context(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn without_an_otel_layer_nothing_happens() {
        let span = tracing::info_span!("x");
        assert_eq!(current_traceparent(&span), None);
        link_to(
            &span,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        set_parent(
            &span,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        );
    }
}
