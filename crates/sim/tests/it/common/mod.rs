//! Helpers shared by the integration tests: a plain HTTP client against a simulator.

use std::time::Duration;

use reqwest::StatusCode;
use runwait_core::{Task, TaskStatusBody};
use runwait_sim::{Scenario, SimConfig, Simulator};
use serde_json::{Value, json};

pub const WS: &str = "8a81b09d5e8c6f27015e8d6c3f4a0b21";
pub const MODEL: &str = "75A40874E6B64FA3AE0743278996850F";

/// A scenario from YAML text (the CLI's job in production; here only for readability).
pub fn scenario(yaml: &str) -> Scenario {
    serde_saphyr::from_str(yaml).expect("test scenario parses")
}

/// Scenario YAML: the top-level keys `top` (users, chunk size…), then workspace `WS`
/// holding the one model `MODEL` with `objects` (its `imports:`, `exports:`…, written
/// unindented).
pub fn one_model(top: &str, objects: &str) -> String {
    let objects: String = objects
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("        {l}\n"))
        .collect();
    format!(
        "{top}\nworkspaces:\n  - id: {WS}\n    name: W\n    models:\n      - id: {MODEL}\n        name: M\n{objects}"
    )
}

/// A client without proxies or pool timers: a pool timer would let paused tokio time
/// jump while a request is in flight.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}

pub struct T {
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub token: String,
}

/// A basic-auth login, answered however the simulator answers it.
pub async fn authenticate(
    http: &reqwest::Client,
    sim: &Simulator,
    user: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{}/token/authenticate", sim.auth_url()))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
}

/// A basic-auth login that must succeed; its token.
pub async fn login(http: &reqwest::Client, sim: &Simulator, user: &str, password: &str) -> String {
    let res = authenticate(http, sim, user, password).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    body["tokenInfo"]["tokenValue"].as_str().unwrap().to_owned()
}

impl T {
    pub async fn start(scenario: Scenario) -> T {
        Self::with(SimConfig::new(scenario)).await
    }

    pub async fn builtin() -> T {
        Self::start(Scenario::builtin()).await
    }

    pub async fn with(config: SimConfig) -> T {
        let sim = Simulator::start(config).await.unwrap();
        let http = http();
        let token = login(&http, &sim, "demo@runwait.local", "demo").await;
        T { sim, http, token }
    }

    pub fn url(&self, rest: &str) -> String {
        format!("{}{rest}", self.sim.api_url())
    }

    /// `…/workspaces/WS/models/MODEL/{kind}/{id}`.
    pub fn obj(&self, kind: &str, id: &str) -> String {
        self.url(&format!("/workspaces/{WS}/models/{MODEL}/{kind}/{id}"))
    }

    /// Sends with the token and returns what the transport gave: faults may break it.
    pub async fn raw(&self, req: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
        req.header("Authorization", format!("AnaplanAuthToken {}", self.token))
            .send()
            .await
    }

    /// A start request for an object, not yet sent.
    pub fn start_request(&self, kind: &str, id: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/tasks", self.obj(kind, id)))
            .json(&json!({"localeName": "en_US"}))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = self.raw(req).await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, url: &str) -> (StatusCode, Value) {
        self.send(self.http.get(url)).await
    }

    pub async fn delete(&self, url: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(url)).await
    }

    pub async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(url).json(&body)).await
    }

    /// Starts a task and returns its id.
    pub async fn start_task(&self, kind: &str, id: &str) -> String {
        let (status, body) = self.send(self.start_request(kind, id)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["task"]["taskId"].as_str().unwrap().to_owned()
    }

    /// The task's status, read through the core parser.
    pub async fn task(&self, kind: &str, id: &str, task: &str) -> Task {
        let url = format!("{}/tasks/{task}", self.obj(kind, id));
        let (status, body) = self.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        TaskStatusBody::parse(&body.to_string()).unwrap().task
    }
}

/// Advances paused tokio time.
pub async fn advance(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// Asserts an error envelope with this status and path.
pub fn assert_envelope(body: &Value, code: u16, path_suffix: &str) {
    assert_eq!(body["status"]["code"], code, "{body}");
    assert!(body["status"]["message"].is_string(), "{body}");
    assert!(
        body["path"].as_str().unwrap().ends_with(path_suffix),
        "{body}"
    );
    assert!(
        body["timestamp"].as_str().unwrap().ends_with("+0000"),
        "{body}"
    );
}
