use super::*;

const FILE: &str = include_str!("../pipeline.yaml");

#[test]
fn the_committed_pipeline_parses() {
    let p = Pipeline::parse(FILE, "pipeline.yaml").unwrap();
    assert_eq!(p.pipeline, "nightly");
    let names: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["load_actuals", "load_customers", "notify"]);
    let Work::Runwait(spec) = &p.jobs[0].work else {
        panic!("{:?}", p.jobs[0])
    };
    assert_eq!(spec.uses, Uses::Process);
    assert_eq!(spec.timeout, Some(Duration::from_secs(120)));
    assert_eq!(
        spec.with.workspace.as_ref().map(WorkspaceId::as_str),
        Some("8a81b09d5e8c6f27015e8d6c3f4a0b21"),
        "filled from `anaplan:`"
    );
    assert!(p.jobs[1].allow_failure);
    assert_eq!(p.jobs[2].after, ["load_actuals", "load_customers"]);
    assert!(matches!(&p.jobs[2].work, Work::Echo { message } if message == "nightly load done"));
}

fn error_of(text: &str) -> String {
    Pipeline::parse(text, "p.yaml").unwrap_err().to_string()
}

#[test]
fn a_bad_value_inside_with_has_its_line_and_column_in_the_host_file() {
    let text = FILE.replace(r#"{ id: "118000000001" }"#, r#"{ id: "11800000001" }"#);
    let err = error_of(&text);
    assert!(
        err.starts_with(
            "p.yaml: error: line 10 column 17: expected an object id: 12 digits, found the string `11800000001`"
        ),
        "{err}"
    );
}

#[test]
fn runwaits_rule_across_kind_and_with_points_at_the_job() {
    let text = FILE.replace(r#"{ id: "118000000001" }"#, r#"{ id: "112000000001" }"#);
    let err = error_of(&text);
    assert!(
        err.starts_with("p.yaml: error: line 8 column 5: with.id: `112000000001` is an import id"),
        "{err}"
    );
}

#[test]
fn an_unknown_kind_lists_runwaits_and_the_hosts() {
    let err = error_of(&FILE.replace("kind: shell/echo", "kind: shell/exec"));
    assert!(
        err.starts_with("p.yaml: error: line 18 column 11: unknown kind `shell/exec`, expected one of anaplan/process, anaplan/import, anaplan/export, anaplan/action, shell/echo"),
        "{err}"
    );
}

#[test]
fn keys_of_the_other_kind_are_refused() {
    let err = error_of(&FILE.replace("    timeout: 2m\n", "    timeout: 2m\n    message: hi\n"));
    assert!(
        err.contains("`message` is for `kind: shell/echo` only"),
        "{err}"
    );
    let err = error_of(&FILE.replace(
        "message: \"nightly load done\"",
        "with: { id: '118000000001' }",
    ));
    assert!(err.contains("for runwait kinds"), "{err}");
}

#[test]
fn after_names_only_earlier_jobs() {
    assert_eq!(
        error_of(&FILE.replace("after: [load_actuals]", "after: [notify]")),
        "p.yaml: job `load_customers`: after: `notify` is not a job listed before it"
    );
    assert_eq!(
        error_of(&FILE.replace("name: notify", "name: load_actuals")),
        "p.yaml: two jobs are named `load_actuals`"
    );
}
