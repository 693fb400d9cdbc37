//! Shared helpers of the client tests: a simulator on loopback and a client pointed at it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runwait_anaplan::{
    BasicAuth, Client, ClientBuilder, Clock, Endpoints, RetryPolicy, Secret, TaskKind, TaskTarget,
};
use runwait_core::{Task, TaskId};
use runwait_sim::{JournalEntry, Scenario, SimConfig, Simulator};

pub const WORKSPACE: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
pub const MODEL: &str = "75A40874E6B64FA3AE0743278996850F";
pub const USER: &str = "demo@runwait.local";
pub const PASSWORD: &str = "demo";

pub fn target(kind: TaskKind, object: &str) -> TaskTarget {
    TaskTarget::new(WORKSPACE, MODEL, kind, object)
}

pub async fn sim(speed: f64) -> Simulator {
    sim_with(Scenario::builtin(), speed).await
}

pub async fn sim_with(scenario: Scenario, speed: f64) -> Simulator {
    Simulator::start(
        SimConfig::new(scenario)
            .speed(speed)
            .epoch(SystemTime::now()),
    )
    .await
    .unwrap()
}

pub fn endpoints(sim: &Simulator) -> Endpoints {
    Endpoints::custom(&sim.api_url(), &sim.auth_url()).unwrap()
}

/// Fast retries, so fault tests take milliseconds (a `Retry-After` still rules).
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        budget: Duration::from_secs(30),
        jitter_seed: Some(1),
    }
}

pub fn basic_builder(sim: &Simulator) -> ClientBuilder {
    Client::builder(endpoints(sim), BasicAuth::new(USER, Secret::new(PASSWORD)))
        .retry(quick_retries())
}

pub fn basic_client(sim: &Simulator) -> Client {
    basic_builder(sim).build().unwrap()
}

/// The simulator's wall clock: scenario time runs `speed` times faster than real time.
#[derive(Debug)]
pub struct ScaledClock {
    epoch: SystemTime,
    start: tokio::time::Instant,
    speed: f64,
}

impl ScaledClock {
    pub fn new(epoch: SystemTime, speed: f64) -> Arc<Self> {
        Arc::new(ScaledClock {
            epoch,
            start: tokio::time::Instant::now(),
            speed,
        })
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> SystemTime {
        self.epoch + self.start.elapsed().mul_f64(self.speed)
    }
}

/// Polls until the task is terminal (real time, every `every`).
pub async fn wait_terminal(
    client: &Client,
    target: &TaskTarget,
    task: &TaskId,
    every: Duration,
) -> Task {
    for _ in 0..2000 {
        let t = client.status(target, task).await.unwrap();
        if t.is_terminal() {
            return t;
        }
        tokio::time::sleep(every).await;
    }
    panic!("task {task} never finished");
}

pub fn calls<'a>(
    journal: &'a [JournalEntry],
    method: &str,
    path_contains: &str,
) -> Vec<&'a JournalEntry> {
    journal
        .iter()
        .filter(|e| e.method == method && e.path.contains(path_contains))
        .collect()
}

/// A token from the simulator, fetched without the client.
pub async fn raw_login(sim: &Simulator, user: &str, password: &str) -> String {
    let reply = reqwest::Client::new()
        .post(format!("{}/token/authenticate", sim.auth_url()))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    runwait_core::token::AuthReply::parse(&reply)
        .unwrap()
        .token_info
        .token_value
        .expose()
        .to_owned()
}

/// Starts a task and polls it to its end.
pub async fn start_and_wait(
    client: &Client,
    target: &TaskTarget,
    every: Duration,
) -> (TaskId, Task) {
    let started = client
        .start(target, &runwait_anaplan::StartOptions::default())
        .await
        .unwrap();
    let task = wait_terminal(client, target, &started.task_id, every).await;
    (started.task_id, task)
}
