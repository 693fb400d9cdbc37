//! The executor's span contract, emitted with plain `tracing` macros as the executor and
//! the client emit it: what a run of three steps looks like.

use tracing::field::Empty;

pub const TASK: &str = "20000000000000000000000000000001";
/// The traceparent the state store kept for the step span that started the task the
/// `calc` step reattaches to.
pub const STARTED_BY: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

macro_rules! step_span {
    ($name:literal, $id:expr, $kind:expr, $object:expr, $object_name:expr) => {
        tracing::info_span!(
            $name,
            runwait.step.id = $id,
            anaplan.kind = $kind,
            anaplan.object.id = $object,
            anaplan.object.name = $object_name,
            anaplan.workspace.id = "8a81b09d5e8c6f27015e8c7a1b2c0001",
            anaplan.model.id = "75A40874E6B64FA3AE0743278996850F",
            anaplan.task.id = Empty,
            runwait.outcome = Empty,
            runwait.polls = Empty,
            runwait.dumps = Empty,
            runwait.reattached = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        )
    };
}

/// The workflow span, as the host creates it.
pub fn workflow_span() -> tracing::Span {
    tracing::info_span!(
        "runwait.workflow",
        workflow.name = "nightly",
        runwait.run_key = "2026-11-28",
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// One HTTP attempt, as `crates/anaplan/src/transport.rs` emits it.
pub fn http(method: &str, path: &str, status: i64) {
    let span = tracing::info_span!(
        "http.client",
        otel.name = %method,
        otel.kind = "client",
        http.request.method = %method,
        url.path = path,
        server.address = "127.0.0.1",
        server.port = 8443i64,
        http.request.resend_count = 0i64,
        http.response.status_code = Empty,
        error.type = Empty,
    );
    let _e = span.enter();
    span.record("http.response.status_code", status);
    if status >= 400 {
        span.record("error.type", status.to_string());
    }
}

/// A poll span, recorded as the executor records it.
pub fn poll_span(attempt: i64) -> tracing::Span {
    tracing::info_span!(
        "anaplan.task.poll",
        runwait.poll.attempt = attempt,
        anaplan.task.state = Empty,
        anaplan.task.progress = Empty,
        http.response.status_code = Empty,
        runwait.retries = Empty,
        runwait.next_poll_delay_ms = Empty,
    )
}

pub fn poll(attempt: i64, state: &str, progress: f64) {
    let span = poll_span(attempt);
    let _e = span.enter();
    http("GET", "/2/0/workspaces/w/models/m/imports/i/tasks/t", 200);
    span.record("anaplan.task.state", state);
    span.record("anaplan.task.progress", progress);
    span.record("http.response.status_code", 200i64);
    span.record("runwait.retries", 0i64);
    span.record("runwait.next_poll_delay_ms", 1000i64);
}

/// Records a step's result as the executor does: integers as `i64`.
fn finish(
    step: &tracing::Span,
    outcome: &str,
    polls: i64,
    dumps: i64,
    reattached: bool,
    error: Option<&str>,
) {
    step.record("runwait.outcome", outcome);
    step.record("runwait.polls", polls);
    step.record("runwait.dumps", dumps);
    step.record("runwait.reattached", reattached);
    if let Some(description) = error {
        step.record("otel.status_code", "ERROR");
        step.record("otel.status_description", description);
    }
}

/// The import step: started here, two polls, a nested result, a dump, failed.
pub fn failed_import() {
    let step = step_span!(
        "anaplan.import",
        "load",
        "import",
        "112000000001",
        "Load Sales"
    );
    let _s = step.enter();
    {
        let start = tracing::info_span!(
            "anaplan.task.start",
            anaplan.task.id = Empty,
            runwait.adopted = Empty
        );
        let _e = start.enter();
        http("POST", "/2/0/workspaces/w/models/m/imports/i/tasks", 200);
        start.record("anaplan.task.id", TASK);
        start.record("runwait.adopted", false);
    }
    step.record("anaplan.task.id", TASK);
    poll(1, "IN_PROGRESS", 0.5);
    poll(2, "COMPLETE", 1.0);
    {
        let dump = tracing::info_span!(
            "anaplan.dump.download",
            anaplan.object.id = "112000000001",
            runwait.dump.bytes = Empty,
            runwait.dump.gone = Empty
        );
        let _e = dump.enter();
        http(
            "GET",
            "/2/0/workspaces/w/models/m/imports/i/tasks/t/dump",
            200,
        );
        dump.record("runwait.dump.bytes", 1234i64);
        dump.record("runwait.dump.gone", false);
    }
    finish(&step, "failed", 2, 1, false, Some("10 rows failed"));
    tracing::event!(
        target: "runwait::nested",
        tracing::Level::INFO,
        anaplan.object.id = "112000000001",
        anaplan.object.name = "Load Sales",
        anaplan.successful = false,
        anaplan.failure_dump_available = true,
        anaplan.rows.success = 90i64,
        anaplan.rows.failed = 10i64,
        anaplan.rows.warnings = 2i64,
        anaplan.rows.ignored = 0i64,
        "anaplan.nested_result"
    );
}

/// The process step: reattached to a task an earlier run started, so it links to that
/// run's step span; one poll, success.
pub fn reattached_process(link: impl Fn(&tracing::Span)) {
    let step = step_span!(
        "anaplan.process",
        "calc",
        "process",
        "118000000002",
        "Recalc"
    );
    link(&step);
    let _s = step.enter();
    step.record("anaplan.task.id", TASK);
    poll(1, "COMPLETE", 1.0);
    finish(&step, "success", 1, 0, true, None);
}

/// The export step: past its deadline, so cancelled; timed out.
pub fn timed_out_export() {
    let step = step_span!(
        "anaplan.export",
        "extract",
        "export",
        "116000000003",
        "Extract"
    );
    let _s = step.enter();
    step.record("anaplan.task.id", TASK);
    poll(1, "IN_PROGRESS", 0.1);
    {
        let cancel = tracing::info_span!("anaplan.task.cancel", anaplan.task.id = TASK);
        let _e = cancel.enter();
        http(
            "DELETE",
            "/2/0/workspaces/w/models/m/exports/e/tasks/t",
            200,
        );
    }
    finish(
        &step,
        "timed_out",
        1,
        0,
        false,
        Some("deadline of 2h passed"),
    );
}

/// A whole run inside `workflow`: login, three steps, the workflow marked failed.
pub fn run(workflow: &tracing::Span, link: impl Fn(&tracing::Span)) {
    let _w = workflow.enter();
    {
        let login = tracing::info_span!("anaplan.auth.login");
        let _e = login.enter();
        http("POST", "/token/authenticate", 201);
    }
    failed_import();
    reattached_process(link);
    timed_out_export();
    workflow.record("otel.status_code", "ERROR");
    workflow.record("otel.status_description", "2 of 3 steps failed");
}
