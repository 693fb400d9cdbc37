//! The span tree the contract of `contract::run` must arrive as, whatever the protocol.

use crate::attrs;
use crate::common::contract::TASK;
use crate::common::{Attrs, Span, Value, one, tree};

const SPAN_KIND_INTERNAL: i32 = 1;
const SPAN_KIND_CLIENT: i32 = 3;
const STATUS_UNSET: i32 = 0;
const STATUS_ERROR: i32 = 2;

const EXPECTED_TREE: &str = "\
runwait.workflow
  anaplan.auth.login
    POST
  anaplan.export [extract]
    anaplan.task.cancel
      DELETE
    anaplan.task.poll [1]
      GET
  anaplan.import [load]
    anaplan.dump.download
      GET
    anaplan.task.poll [1]
      GET
    anaplan.task.poll [2]
      GET
    anaplan.task.start
      POST
  anaplan.process [calc]
    anaplan.task.poll [1]
      GET
";

fn step_attrs(id: &str, kind: &str, object: &str, name: &str) -> Attrs {
    attrs! {
        "runwait.step.id" => id,
        "anaplan.kind" => kind,
        "anaplan.object.id" => object,
        "anaplan.object.name" => name,
        "anaplan.workspace.id" => "8a81b09d5e8c6f27015e8c7a1b2c0001",
        "anaplan.model.id" => "75A40874E6B64FA3AE0743278996850F",
        "anaplan.task.id" => TASK,
    }
}

fn by_step<'a>(spans: &'a [Span], id: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.attributes.get("runwait.step.id") == Some(&Value::from(id)))
        .unwrap_or_else(|| panic!("no step {id}"))
}

fn children<'a>(spans: &'a [Span], parent: &Span, name: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id && s.name == name)
        .collect()
}

/// Asserts the exact tree of `contract::run` under a workflow span whose parent is the
/// caller's span `caller_span_id` in trace `trace_id`, with `service` as service name.
pub fn assert_contract(spans: &[Span], trace_id: &str, caller_span_id: &str, service: &str) {
    assert_eq!(tree(spans), EXPECTED_TREE, "{spans:#?}");

    // One trace, the caller's; the workflow span is the child of the caller's span.
    assert!(spans.iter().all(|s| s.trace_id == trace_id));
    let workflow = one(spans, "runwait.workflow");
    assert_eq!(workflow.parent_span_id, caller_span_id);
    assert_eq!(
        workflow.attributes,
        attrs! { "workflow.name" => "nightly", "runwait.run_key" => "2026-11-28" }
    );
    assert_eq!(
        (workflow.status_code, workflow.status_message.as_str()),
        (STATUS_ERROR, "2 of 3 steps failed")
    );
    assert_eq!(workflow.resource["service.name"], Value::from(service));
    assert_eq!(
        workflow.resource["service.version"],
        Value::from(env!("CARGO_PKG_VERSION"))
    );

    // The failed import: attributes, status, the nested result as an event.
    let import = by_step(spans, "load");
    assert_eq!(import.name, "anaplan.import");
    let mut expected = step_attrs("load", "import", "112000000001", "Load Sales");
    expected.extend(attrs! {
        "runwait.outcome" => "failed",
        "runwait.polls" => 2i64,
        "runwait.dumps" => 1i64,
        "runwait.reattached" => false,
    });
    assert_eq!(import.attributes, expected);
    assert_eq!(
        (import.status_code, import.status_message.as_str()),
        (STATUS_ERROR, "10 rows failed")
    );
    assert_eq!(
        import.events,
        vec![(
            "anaplan.nested_result".to_owned(),
            attrs! {
                "anaplan.object.id" => "112000000001",
                "anaplan.object.name" => "Load Sales",
                "anaplan.successful" => false,
                "anaplan.failure_dump_available" => true,
                "anaplan.rows.success" => 90i64,
                "anaplan.rows.failed" => 10i64,
                "anaplan.rows.warnings" => 2i64,
                "anaplan.rows.ignored" => 0i64,
                // tracing-opentelemetry puts these on every event.
                "level" => "INFO",
                "target" => "runwait::nested",
            }
        )]
    );
    assert!(import.links.is_empty());
    let start = children(spans, import, "anaplan.task.start")[0];
    assert_eq!(
        start.attributes,
        attrs! { "anaplan.task.id" => TASK, "runwait.adopted" => false }
    );
    let polls = children(spans, import, "anaplan.task.poll");
    let first = polls
        .iter()
        .find(|p| p.attributes["runwait.poll.attempt"] == Value::Int(1))
        .unwrap_or_else(|| panic!("{polls:#?}"));
    assert_eq!(
        first.attributes,
        attrs! {
            "runwait.poll.attempt" => 1i64,
            "anaplan.task.state" => "IN_PROGRESS",
            "anaplan.task.progress" => 0.5,
            "http.response.status_code" => 200i64,
            "runwait.retries" => 0i64,
            "runwait.next_poll_delay_ms" => 1000i64,
        }
    );
    let dump = children(spans, import, "anaplan.dump.download")[0];
    assert_eq!(
        dump.attributes,
        attrs! {
            "anaplan.object.id" => "112000000001",
            "runwait.dump.bytes" => 1234i64,
            "runwait.dump.gone" => false,
        }
    );

    // The reattached process: success, no status, a link to the span that started it.
    let process = by_step(spans, "calc");
    let mut expected = step_attrs("calc", "process", "118000000002", "Recalc");
    expected.extend(attrs! {
        "runwait.outcome" => "success",
        "runwait.polls" => 1i64,
        "runwait.dumps" => 0i64,
        "runwait.reattached" => true,
    });
    assert_eq!(process.attributes, expected);
    assert_eq!(process.status_code, STATUS_UNSET);
    assert_eq!(
        process.links,
        vec![(
            "0af7651916cd43dd8448eb211c80319c".to_owned(),
            "b7ad6b7169203331".to_owned()
        )]
    );

    // The timed-out export: cancelled, status Error.
    let export = by_step(spans, "extract");
    assert_eq!(
        (export.status_code, export.status_message.as_str()),
        (STATUS_ERROR, "deadline of 2h passed")
    );
    assert_eq!(
        children(spans, export, "anaplan.task.cancel")[0].attributes,
        attrs! { "anaplan.task.id" => TASK }
    );

    // HTTP attempts: client spans named by method with the semconv attributes; all other
    // spans internal.
    for s in spans {
        let is_http = ["GET", "POST", "DELETE"].contains(&s.name.as_str());
        let kind = if is_http {
            SPAN_KIND_CLIENT
        } else {
            SPAN_KIND_INTERNAL
        };
        assert_eq!(s.kind, kind, "{}", s.name);
    }
    let login = one(spans, "anaplan.auth.login");
    let post = children(spans, login, "POST")[0];
    assert_eq!(
        post.attributes,
        attrs! {
            "http.request.method" => "POST",
            "url.path" => "/token/authenticate",
            "server.address" => "127.0.0.1",
            "server.port" => 8443i64,
            "http.request.resend_count" => 0i64,
            "http.response.status_code" => 201i64,
        }
    );
}
