//! The example scenario files in `workflows/scenarios/` parse, validate and behave as
//! their comments say, and `--speed` scales scenario time.

use std::path::Path;
use std::time::Duration;

use crate::common::{T, scenario};
use reqwest::StatusCode;
use runwait_core::TaskState;
use runwait_sim::{Scenario, SimConfig, Simulator};

fn example(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../workflows/scenarios")
        .join(name);
    scenario(&std::fs::read_to_string(path).unwrap())
}

#[tokio::test(start_paused = true)]
async fn every_example_scenario_starts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "certificates.yaml",
            "default.yaml",
            "dumps.yaml",
            "faults.yaml",
            "long-running.yaml"
        ]
    );
    for name in names {
        let s = example(&name);
        s.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        Simulator::start(SimConfig::new(s))
            .await
            .unwrap()
            .shutdown()
            .await;
    }
}

#[test]
fn default_yaml_is_the_builtin_scenario() {
    assert_eq!(
        format!("{:?}", example("default.yaml")),
        format!("{:?}", Scenario::builtin())
    );
}

#[test]
fn unknown_keys_are_rejected() {
    let err = serde_saphyr::from_str::<Scenario>("workspaces: []\nspeed: 3\n").unwrap_err();
    assert!(err.to_string().contains("speed"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn faults_yaml_loses_the_first_start_and_limits_the_first_poll() {
    let t = T::start(example("faults.yaml")).await;
    let tasks = format!("{}/tasks", t.obj("processes", "118000000001"));
    let lost = t.raw(t.start_request("processes", "118000000001")).await;
    assert!(lost.is_err());
    let (_, list) = t.get(&tasks).await;
    let id = list["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let res = t.raw(t.http.get(format!("{tasks}/{id}"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "10");
    assert_eq!(
        t.get(&format!("{tasks}/{id}")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn speed_runs_a_two_hour_process_in_a_minute() {
    let t = T::with(SimConfig::new(example("long-running.yaml")).speed(120.0)).await;
    let id = t.start_task("processes", "118000000010").await;
    // Read through the state API: the token (35 scenario minutes) dies on the way.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let task = &t.sim.tasks()[0];
    assert_eq!(task.task_id.as_str(), id);
    assert_eq!(
        (&task.task_state, task.progress),
        (&TaskState::InProgress, 0.5)
    );
    assert_eq!(t.sim.now(), Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(t.sim.tasks()[0].task_state, TaskState::Complete);
}

#[tokio::test(start_paused = true)]
async fn fractional_speed_slows_time_down() {
    let t = T::with(SimConfig::new(Scenario::builtin()).speed(0.5)).await;
    let id = t.start_task("actions", "117000000001").await; // 5 s of scenario time
    tokio::time::sleep(Duration::from_millis(9_999)).await;
    assert_eq!(
        t.task("actions", "117000000001", &id).await.task_state,
        TaskState::InProgress
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        t.task("actions", "117000000001", &id).await.task_state,
        TaskState::Complete
    );
}

#[tokio::test]
async fn bad_speeds_and_scenarios_are_refused() {
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            Simulator::start(SimConfig::new(Scenario::builtin()).speed(speed))
                .await
                .is_err()
        );
    }
    let mut s = Scenario::builtin();
    s.workspaces[0].id = runwait_core::WorkspaceId::new("NOT-HEX");
    let err = Simulator::start(SimConfig::new(s)).await.unwrap_err();
    assert!(err.to_string().contains("NOT-HEX"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_absurd_speed_saturates_instead_of_panicking() {
    let t = T::with(SimConfig::new(Scenario::builtin()).speed(1e300)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(t.sim.now(), Duration::MAX);
    // Every token has long expired; the server still answers.
    assert_eq!(
        t.get(&t.url("/workspaces")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(t.sim.tasks().is_empty());
}
