//! Faults and the journal over real HTTP: what a client sees for each fault kind, how
//! `after`, `count` and `every` select calls, and that every call is journaled.

use std::time::Duration;

use crate::common::{MODEL, T, WS, advance, assert_envelope, scenario};
use reqwest::StatusCode;
use runwait_sim::{Answer, CallKind, Fault, FaultKind, JournalEntry, Scenario, SimConfig};
use serde_json::{Value, json};

/// A fault on the next matching call only.
fn fault(on: CallKind, fault: FaultKind) -> Fault {
    Fault::new(on, 0, 1, fault)
}

/// A JSON control route, `GET /__sim/{name}`.
async fn control(t: &T, name: &str) -> Value {
    let url = format!("{}/__sim/{name}", t.sim.auth_url());
    t.http.get(url).send().await.unwrap().json().await.unwrap()
}

async fn started(t: &T) -> (String, String) {
    let id = t.start_task("imports", "112000000001").await;
    let url = format!("{}/tasks/{id}", t.obj("imports", "112000000001"));
    (id, url)
}

fn answers(journal: &[JournalEntry], kind: CallKind) -> Vec<Answer> {
    journal
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.answer)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn http_faults_answer_with_the_envelope_and_retry_after() {
    let t = T::builtin().await;
    let (id, url) = started(&t).await;
    for status in [409u16, 429, 500, 502, 503, 504] {
        let retry_after = (status == 429).then(|| Duration::from_secs(7));
        t.sim
            .add_fault(fault(
                CallKind::Status,
                FaultKind::Http {
                    status,
                    retry_after,
                },
            ))
            .unwrap();
        let res = t.raw(t.http.get(&url)).await.unwrap();
        assert_eq!(res.status().as_u16(), status);
        let header = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref(), (status == 429).then_some("7"));
        assert_envelope(&res.json().await.unwrap(), status, &id);
        assert_eq!(
            t.get(&url).await.0,
            StatusCode::OK,
            "count 1: the next call passes"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn after_and_count_pick_the_matching_calls() {
    let t = T::builtin().await;
    let (_, url) = started(&t).await;
    t.sim
        .add_fault(Fault::new(CallKind::Status, 2, 2, FaultKind::http(503)))
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(t.get(&url).await.0.as_u16());
        // Calls of other kinds do not count.
        t.get(&t.url("/workspaces")).await;
    }
    assert_eq!(seen, [200, 200, 503, 503, 200]);
}

#[tokio::test(start_paused = true)]
async fn every_hits_one_matching_call_in_n_and_a_taken_journal_numbers_on() {
    let t = T::builtin().await;
    let (_, url) = started(&t).await;
    t.sim
        .add_fault(Fault::new(CallKind::Status, 1, 0, FaultKind::http(503)).every(3))
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(t.get(&url).await.0.as_u16());
    }
    assert_eq!(seen, [200, 503, 200, 200, 503, 200, 200]);

    let taken = t.sim.take_journal();
    assert!(t.sim.journal().is_empty());
    t.get(&url).await;
    let next = t.sim.journal();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].seq, taken.last().unwrap().seq + 1);
}

#[tokio::test(start_paused = true)]
async fn reset_closes_the_connection_and_creates_nothing() {
    let t = T::builtin().await;
    t.sim
        .add_fault(fault(CallKind::Start, FaultKind::Reset))
        .unwrap();
    let res = t.raw(t.start_request("imports", "112000000001")).await;
    assert!(res.is_err(), "the client sees a transport error");
    assert!(t.sim.tasks().is_empty());
    assert_eq!(answers(&t.sim.journal(), CallKind::Start), [Answer::Reset]);
    // The simulator keeps serving on new connections.
    t.start_task("imports", "112000000001").await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_start_response_still_creates_the_task() {
    let t = T::builtin().await;
    t.sim
        .add_fault(fault(CallKind::Start, FaultKind::LostStartResponse))
        .unwrap();
    let tasks = format!("{}/tasks", t.obj("imports", "112000000001"));
    let res = t.raw(t.start_request("imports", "112000000001")).await;
    assert!(res.is_err());
    // The client can find the task by listing.
    let (_, list) = t.get(&tasks).await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);

    t.sim
        .add_fault(fault(CallKind::Start, FaultKind::LostStartStatus(500)))
        .unwrap();
    let (code, err) = t.post(&tasks, json!({"localeName": "en_US"})).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert_envelope(&err, 500, "/tasks");
    assert_eq!(t.sim.tasks().len(), 2);
    assert_eq!(
        answers(&t.sim.journal(), CallKind::Start),
        [Answer::Reset, Answer::Status(500)]
    );
}

#[tokio::test(start_paused = true)]
async fn hang_never_answers_until_shutdown() {
    let t = T::builtin().await;
    let (_, url) = started(&t).await;
    t.sim
        .add_fault(fault(CallKind::Status, FaultKind::Hang))
        .unwrap();
    let call = t.raw(t.http.get(&url));
    // Half an hour: longer would outlive the token.
    let waited = tokio::time::timeout(Duration::from_secs(1800), call).await;
    assert!(waited.is_err(), "no answer within half an hour");
    assert_eq!(answers(&t.sim.journal(), CallKind::Status), [Answer::Hang]);
    assert_eq!(t.get(&url).await.0, StatusCode::OK);
    // Shutdown does not wait for the hanging call.
    tokio::time::timeout(Duration::from_secs(5), t.sim.shutdown())
        .await
        .expect("shutdown completes");
}

#[tokio::test(start_paused = true)]
async fn slow_delays_in_scenario_time() {
    let t = T::with(SimConfig::new(Scenario::builtin()).speed(10.0)).await;
    let tasks = format!("{}/tasks", t.obj("imports", "112000000001"));
    t.sim
        .add_fault(fault(
            CallKind::List,
            FaultKind::Slow(Duration::from_secs(50)),
        ))
        .unwrap();
    let before = tokio::time::Instant::now();
    assert_eq!(t.get(&tasks).await.0, StatusCode::OK);
    // 50 scenario seconds at speed 10 take 5 real seconds.
    assert_eq!(before.elapsed().as_secs(), 5);
}

#[tokio::test(start_paused = true)]
async fn malformed_sends_half_a_body() {
    let t = T::builtin().await;
    let (_, url) = started(&t).await;
    t.sim
        .add_fault(fault(CallKind::Status, FaultKind::Malformed))
        .unwrap();
    let res = t.raw(t.http.get(&url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.starts_with("{\""));
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test(start_paused = true)]
async fn short_cuts_a_line_off_and_frames_what_it_sends() {
    let t = T::builtin().await;
    let (_, url) = started(&t).await;
    let whole = t
        .raw(t.http.get(&url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    t.sim
        .add_fault(fault(CallKind::Status, FaultKind::Short))
        .unwrap();
    let res = t.raw(t.http.get(&url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let length = res.content_length();
    let short = res.bytes().await.unwrap();
    assert_eq!(length, Some(short.len() as u64), "framed as whole");
    let cut = whole
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap_or(whole.len() / 2);
    assert_eq!(&short[..], &whole[..cut]);
}

#[tokio::test(start_paused = true)]
async fn expire_tokens_mid_wait() {
    let t = T::builtin().await;
    let (id, url) = started(&t).await;
    t.sim
        .add_fault(Fault::new(CallKind::Status, 1, 1, FaultKind::ExpireTokens))
        .unwrap();
    assert_eq!(t.get(&url).await.0, StatusCode::OK);
    let (code, err) = t.get(&url).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_envelope(
        &err,
        401,
        &format!("/2/0/workspaces/{WS}/models/{MODEL}/imports/112000000001/tasks/{id}"),
    );
    assert_eq!(
        t.get(&url).await.0,
        StatusCode::UNAUTHORIZED,
        "the token stays dead"
    );
    // A new login works.
    let token = crate::common::login(&t.http, &t.sim, "demo@runwait.local", "demo").await;
    let t = T { token, ..t };
    assert_eq!(t.get(&url).await.0, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn faults_from_the_scenario_and_over_http() {
    let yaml = r#"
users: [{name: demo@runwait.local, password: demo}]
workspaces: []
faults:
  - on: auth
    after: 1
    fault: {http: {status: 503}}
"#;
    let t = T::start(scenario(yaml)).await; // the first login passes
    let login = || crate::common::authenticate(&t.http, &t.sim, "demo@runwait.local", "demo");
    assert_eq!(login().await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(login().await.status(), StatusCode::CREATED);

    let control = format!("{}/__sim/faults", t.sim.auth_url());
    let res = t
        .http
        .post(&control)
        .json(&json!({"on": "any", "count": 2, "fault": {"http": {"status": 502}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        t.get(&t.url("/workspaces")).await.0,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(login().await.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(t.get(&t.url("/workspaces")).await.0, StatusCode::OK);

    for bad in [
        json!({"fault": {"http": {"status": 200}}}),
        json!({"on": "status", "fault": "lost_start_response"}),
        json!({"fault": "explode"}),
    ] {
        let res = t.http.post(&control).json(&bad).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_journal_records_every_call() {
    let t = T::builtin().await;
    let (id, url) = started(&t).await;
    advance(2).await;
    t.get(&format!("{url}?x=1")).await;
    t.delete(&url).await;
    t.get(&t.url("/workspaces")).await;
    t.get(&t.url("/nowhere")).await;

    let journal = t.sim.journal();
    let summary: Vec<(&str, CallKind, Answer)> = journal
        .iter()
        .map(|e| (e.method.as_str(), e.kind, e.answer))
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", CallKind::Auth, Answer::Status(201)),
            ("POST", CallKind::Start, Answer::Status(200)),
            ("GET", CallKind::Status, Answer::Status(200)),
            ("DELETE", CallKind::Cancel, Answer::Status(200)),
            ("GET", CallKind::Discovery, Answer::Status(200)),
            ("GET", CallKind::Discovery, Answer::Status(404)),
        ]
    );
    assert!(journal[2].path.ends_with(&format!("/tasks/{id}?x=1")));
    assert_eq!(journal[2].at_ms, 2000);
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );

    // The same over HTTP; control calls are not journaled.
    let over_http: Value = control(&t, "journal").await;
    assert_eq!(over_http, serde_json::to_value(&journal).unwrap());
    assert_eq!(over_http[2]["kind"], "status");
    assert_eq!(over_http[2]["answer"], 200);
    assert_eq!(over_http[2]["atMs"], 2000);
    assert_eq!(t.sim.journal().len(), 6);

    let tasks: Value = control(&t, "tasks").await;
    assert_eq!(tasks[0]["taskId"], id.as_str());
    assert_eq!(tasks[0]["taskState"], "CANCELLING");
}

#[tokio::test(start_paused = true)]
async fn calls_above_the_tenants_rate_get_429_with_retry_after_and_are_journaled() {
    let mut s = Scenario::builtin();
    s.rate_limit = Some(5);
    let t = T::start(s).await;
    let (_, url) = started(&t).await;
    // One second's worth banked (the start took one): four more pass, the next is refused.
    for _ in 0..4 {
        assert_eq!(t.get(&url).await.0, StatusCode::OK);
    }
    let res = t.raw(t.http.get(&url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    // Spaced at the rate, nothing is refused.
    for _ in 0..10 {
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(t.get(&url).await.0, StatusCode::OK);
    }
    let journal = t.sim.journal();
    let refused = journal
        .iter()
        .filter(|e| e.answer == Answer::Status(429))
        .count();
    assert_eq!(refused, 1);
    assert_eq!(answers(&journal, CallKind::Status).len(), 15);
}
