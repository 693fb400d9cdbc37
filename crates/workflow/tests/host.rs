//! A host runner embeds a runwait step in its own YAML, of its own shape: serde-saphyr
//! reads runwait's `StepSpec` inside the host's struct and locates errors in the host file.

use std::collections::BTreeMap;

use runwait_workflow::StepSpec;
use runwait_workflow::format::{Condition, Uses};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct HostFile {
    jobs: BTreeMap<String, HostJob>,
}

#[derive(Debug, Deserialize)]
struct HostJob {
    runner: String,
    step: StepSpec,
}

const GOOD: &str = "\
jobs:
  load:
    runner: anaplan
    step:
      uses: anaplan/process
      with:
        id: 118000000001
        workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21
        model: 75A40874E6B64FA3AE0743278996850F
      timeout: 1h30m
      if: always()
";

#[test]
fn a_host_yaml_holds_a_runwait_step() {
    let file: HostFile = serde_saphyr::from_str(GOOD).unwrap();
    let job = &file.jobs["load"];
    assert_eq!(job.runner, "anaplan");
    assert_eq!(job.step.uses, Uses::Process);
    assert_eq!(job.step.with.id.as_ref().unwrap().as_str(), "118000000001");
    assert_eq!(job.step.condition, Condition::Always);
    assert_eq!(job.step.timeout, Some(std::time::Duration::from_secs(5400)));
}

#[test]
fn a_bad_value_inside_with_is_located_in_the_host_file() {
    let bad = GOOD.replace(
        "workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21",
        "workspace: NOT-A-WORKSPACE",
    );
    let err = serde_saphyr::from_str::<HostFile>(&bad).unwrap_err();
    let location = err.location().expect("a location");
    assert_eq!((location.line(), location.column()), (8, 20), "{err}");
    assert!(
        err.to_string()
            .contains("expected a workspace id: 32 lowercase hex digits"),
        "{err}"
    );
}

#[test]
fn rules_across_fields_hold_for_hosts_too() {
    let bad = GOOD.replace("id: 118000000001", "id: 112000000001");
    let err = serde_saphyr::from_str::<HostFile>(&bad).unwrap_err();
    assert!(
        err.to_string().contains(
            "`112000000001` is an import id, but `uses: anaplan/process` runs a process id"
        ),
        "{err}"
    );
    assert!(err.location().is_some(), "{err}");
    let unknown = GOOD.replace("if: always()", "iff: always()");
    let err = serde_saphyr::from_str::<HostFile>(&unknown).unwrap_err();
    assert_eq!(err.location().map(|l| l.line()), Some(11), "{err}");
}
