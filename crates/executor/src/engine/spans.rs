//! The step's spans and what is recorded on them, and the [`TraceHook`] that links a
//! reattached wait to the run that started its task.

use runwait_core::target::TaskKind;

use crate::step::{StepOutcome, StepResult};

/// Reads and links trace context for reattached waits. The OpenTelemetry adapter
/// implements it; the engine itself stays free of OpenTelemetry.
pub trait TraceHook: Send + Sync {
    /// The W3C traceparent of `span`, to store with a started task.
    fn traceparent(&self, span: &tracing::Span) -> Option<String>;
    /// Links `span` to the span of the run that started the task.
    fn link(&self, span: &tracing::Span, traceparent: &str);
}

/// No tracing backend: nothing stored, nothing linked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTraceHook;

impl TraceHook for NoTraceHook {
    fn traceparent(&self, _span: &tracing::Span) -> Option<String> {
        None
    }

    fn link(&self, _span: &tracing::Span, _traceparent: &str) {}
}

/// Declares the step span under the kind's name (span names must be literals).
macro_rules! step_span {
    ($kind:expr, $($fields:tt)*) => {
        match $kind {
            TaskKind::Process => tracing::info_span!("anaplan.process", $($fields)*),
            TaskKind::Import => tracing::info_span!("anaplan.import", $($fields)*),
            TaskKind::Export => tracing::info_span!("anaplan.export", $($fields)*),
            TaskKind::Action => tracing::info_span!("anaplan.action", $($fields)*),
        }
    };
}

/// The span of one step run, its result fields still empty.
pub(super) fn step_span(
    kind: TaskKind,
    step_id: &str,
    target: &runwait_core::target::TaskTarget,
    object_name: Option<&str>,
) -> tracing::Span {
    use tracing::field::Empty;
    step_span!(
        kind,
        runwait.step.id = %step_id,
        anaplan.kind = %target.kind,
        anaplan.object.id = %target.object,
        anaplan.object.name = object_name.unwrap_or(""),
        anaplan.workspace.id = %target.workspace,
        anaplan.model.id = %target.model,
        anaplan.task.id = Empty,
        runwait.outcome = Empty,
        runwait.polls = Empty,
        runwait.dumps = Empty,
        runwait.reattached = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// Span attributes are recorded as `i64`: tracing-opentelemetry exports unsigned
/// integers as strings, so a backend could not compare or sum them.
pub(super) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records the result on the step's span, with one event per action and a last line.
pub(super) fn record_result(span: &tracing::Span, result: &StepResult) {
    span.record("runwait.outcome", result.outcome.name());
    span.record("runwait.polls", i64::from(result.polls));
    span.record(
        "runwait.dumps",
        int(result.dumps.iter().filter(|d| !d.gone).count() as u64),
    );
    span.record("runwait.reattached", result.reattached);
    if matches!(
        result.outcome,
        StepOutcome::Failed | StepOutcome::TimedOut | StepOutcome::Error
    ) {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", result.message.as_str());
    }
    let _entered = span.enter();
    for n in &result.nested {
        tracing::event!(
            target: "runwait::nested",
            tracing::Level::INFO,
            anaplan.object.id = n.object_id.as_ref().map(|o| o.as_str()).unwrap_or(""),
            anaplan.object.name = n.object_name.as_deref().unwrap_or(""),
            anaplan.successful = n.successful,
            anaplan.failure_dump_available = n.failure_dump_available,
            anaplan.rows.success = int(n.counts.success_row_count.unwrap_or(0)),
            anaplan.rows.failed = int(n.counts.failed_count.unwrap_or(0)),
            anaplan.rows.warnings = int(n.counts.warnings_row_count.unwrap_or(0)),
            anaplan.rows.ignored = int(n.counts.ignored_count.unwrap_or(0)),
            "anaplan.nested_result"
        );
    }
    tracing::info!(
        outcome = result.outcome.name(),
        polls = i64::from(result.polls),
        "{}",
        result.message
    );
}
