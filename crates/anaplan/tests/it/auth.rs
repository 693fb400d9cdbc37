//! Every auth kind and the token's life against the simulator.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::common::*;
use runwait_anaplan::{
    BasicAuth, CertificateAuth, Client, EncodedDataFormat, Error, Secret, TaskKind, TokenAuth,
};
use runwait_core::TaskState;
use runwait_sim::{Answer, Scenario, SimConfig, Simulator};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn certificate(
    key: &str,
    passphrase: Option<&str>,
    format: EncodedDataFormat,
) -> Result<CertificateAuth, Error> {
    CertificateAuth::from_files(
        &fixture("test-user.cert.pem"),
        &fixture(key),
        passphrase.map(Secret::new).as_ref(),
        format,
    )
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_naming_the_request() {
    let sim = sim(1.0).await;
    let client = Client::builder(endpoints(&sim), BasicAuth::new(USER, Secret::new("wrong")))
        .build()
        .unwrap();
    let err = client.workspaces().await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("POST /token/authenticate: authentication failed (HTTP 401)"),
        "{err}"
    );
    assert_eq!(
        calls(&sim.journal(), "POST", "/token/authenticate").len(),
        1,
        "401 is not retried"
    );
}

#[tokio::test]
async fn certificate_logins_work_with_every_key_form_and_both_formats() {
    let sim = sim(1.0).await;
    let cases = [
        ("test-user.key.pem", None, EncodedDataFormat::V1),
        ("test-user.key.pem", None, EncodedDataFormat::V2),
        ("test-user.pkcs1.key.pem", None, EncodedDataFormat::V2),
        (
            "test-user.encrypted.key.pem",
            Some("test-passphrase"),
            EncodedDataFormat::V1,
        ),
    ];
    for (key, passphrase, format) in cases {
        let auth = certificate(key, passphrase, format).unwrap();
        let client = Client::builder(endpoints(&sim), auth).build().unwrap();
        let workspaces = client
            .workspaces()
            .await
            .unwrap_or_else(|e| panic!("{key} {format:?}: {e}"));
        assert_eq!(workspaces.len(), 1);
    }
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_refused() {
    let sim = sim(1.0).await;
    let auth = certificate("other.key.pem", None, EncodedDataFormat::V2).unwrap();
    let err = Client::builder(endpoints(&sim), auth)
        .build()
        .unwrap()
        .workspaces()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
}

#[test]
fn unreadable_keys_say_what_to_do() {
    let err = certificate("test-user.encrypted.key.pem", None, EncodedDataFormat::V2).unwrap_err();
    assert!(err.to_string().contains("a passphrase is needed"), "{err}");
    let err = certificate(
        "test-user.encrypted.key.pem",
        Some("nope"),
        EncodedDataFormat::V2,
    )
    .unwrap_err();
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    let err = CertificateAuth::from_pem("not pem", "", None, EncodedDataFormat::V2).unwrap_err();
    assert!(
        err.to_string().contains("no `BEGIN CERTIFICATE` block"),
        "{err}"
    );
}

#[tokio::test]
async fn a_ready_token_is_used_as_is_and_a_dead_one_is_an_auth_error() {
    let sim = sim(1.0).await;
    let token = raw_login(&sim, USER, PASSWORD).await;
    let client = Client::builder(endpoints(&sim), TokenAuth::anaplan(Secret::new(token)))
        .build()
        .unwrap();
    client.workspaces().await.unwrap();
    sim.expire_tokens();
    let err = client.workspaces().await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert_eq!(
        calls(&sim.journal(), "GET", "/workspaces").len(),
        3,
        "one call, then one retry after the 401"
    );
}

#[tokio::test]
async fn a_401_mid_wait_logs_in_again_once_and_the_caller_sees_nothing() {
    let sim = sim(1.0).await;
    let client = basic_client(&sim);
    client.workspaces().await.unwrap();
    sim.expire_tokens();
    client.workspaces().await.unwrap();
    let journal = sim.journal();
    assert_eq!(calls(&journal, "POST", "/token/authenticate").len(), 2);
    let answers: Vec<Answer> = calls(&journal, "GET", "/workspaces")
        .iter()
        .map(|e| e.answer)
        .collect();
    assert_eq!(
        answers,
        [
            Answer::Status(200),
            Answer::Status(401),
            Answer::Status(200)
        ]
    );
}

/// `n` calls of `client` started at once, each on its own task.
fn callers_at_once(
    client: &Client,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<Vec<runwait_core::catalog::Workspace>, Error>>> {
    (0..n)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.workspaces().await })
        })
        .collect()
}

#[tokio::test]
async fn concurrent_callers_share_one_login() {
    let sim = sim(1.0).await;
    let client = basic_client(&sim);
    for call in callers_at_once(&client, 20) {
        call.await.unwrap().unwrap();
    }
    assert_eq!(
        calls(&sim.journal(), "POST", "/token/authenticate").len(),
        1
    );
}

/// A 40-minute action waited on at 600 times speed (4 s), polled every 30 scenario
/// seconds by a client whose clock runs with the simulator's; returns the journal.
async fn forty_minute_wait(fault: Option<runwait_sim::Fault>) -> Vec<runwait_sim::JournalEntry> {
    let speed = 600.0;
    let epoch = SystemTime::now();
    let mut scenario = Scenario::builtin();
    scenario.workspaces[0].models[0].actions[0].duration = Duration::from_secs(40 * 60);
    let sim = Simulator::start(SimConfig::new(scenario).speed(speed).epoch(epoch))
        .await
        .unwrap();
    if let Some(fault) = fault {
        sim.add_fault(fault).unwrap();
    }
    let client = basic_builder(&sim)
        .clock(ScaledClock::new(epoch, speed))
        .build()
        .unwrap();
    let action = target(TaskKind::Action, "117000000001");
    let (_, task) = start_and_wait(&client, &action, Duration::from_millis(50)).await;
    assert_eq!(task.task_state, TaskState::Complete);
    assert!(sim.now() >= Duration::from_secs(40 * 60));
    sim.journal()
}

/// The 40-minute wait outlives the 35-minute token; the client renews it before it
/// expires, so no call is ever refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forty_minute_wait_renews_the_token_without_a_401() {
    let journal = forty_minute_wait(None).await;
    assert!(
        journal.iter().all(|e| e.answer != Answer::Status(401)),
        "no call was refused"
    );
    assert_eq!(calls(&journal, "POST", "/token/authenticate").len(), 1);
    let refreshes = calls(&journal, "POST", "/token/refresh");
    assert_eq!(
        refreshes.len(),
        1,
        "one renewal, 5 minutes before expiry: {refreshes:?}"
    );
    let at = Duration::from_millis(refreshes[0].at_ms);
    assert!(
        at >= Duration::from_secs(30 * 60) && at < Duration::from_secs(35 * 60),
        "renewed at {at:?}"
    );
}

/// `callers` clients calling `workspaces` until scenario time `until` on a simulator at
/// 600× speed with `fault`, through a client whose token is due for renewal at once (a
/// margin longer than the token's 35 minutes) and with `retry`; every call must succeed.
/// The simulator's journal.
async fn callers_while_the_token_is_due(
    fault: runwait_sim::Fault,
    retry: runwait_anaplan::RetryPolicy,
    callers: usize,
    until: Duration,
) -> Vec<runwait_sim::JournalEntry> {
    let speed = 600.0;
    let epoch = SystemTime::now();
    let sim = std::sync::Arc::new(
        Simulator::start(
            SimConfig::new(Scenario::builtin())
                .speed(speed)
                .epoch(epoch),
        )
        .await
        .unwrap(),
    );
    sim.add_fault(fault).unwrap();
    let client = basic_builder(&sim)
        .retry(retry)
        .refresh_margin(Duration::from_secs(36 * 60))
        .clock(ScaledClock::new(epoch, speed))
        .build()
        .unwrap();
    let callers: Vec<_> = (0..callers)
        .map(|_| {
            let (client, sim) = (client.clone(), sim.clone());
            tokio::spawn(async move {
                while sim.now() < until {
                    client.workspaces().await.expect("the token still works");
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    sim.journal()
}

/// While the token still works, a failing auth service holds no call up and is not
/// asked by every caller in turn: one caller refreshes while the others go on with the
/// token, and after a failed refresh none is tried for `REFRESH_BACKOFF`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_refresh_holds_up_no_call_and_is_asked_once_per_backoff() {
    // The login goes through; every refresh after it answers 503. One attempt per call,
    // so a refresh in the journal is one renewal.
    let journal = callers_while_the_token_is_due(
        runwait_sim::Fault::new(
            runwait_sim::CallKind::Auth,
            1,
            0,
            runwait_sim::FaultKind::http(503),
        ),
        runwait_anaplan::RetryPolicy::none(),
        10,
        Duration::from_secs(3 * 60),
    )
    .await;
    let refreshes = calls(&journal, "POST", "/token/refresh");
    assert!(refreshes.len() >= 2, "{refreshes:?}");
    // Scenario time between two refreshes; a few ms of real-time jitter are seconds here.
    let backoff = runwait_anaplan::auth::REFRESH_BACKOFF - Duration::from_secs(5);
    for pair in refreshes.windows(2) {
        let gap = Duration::from_millis(pair[1].at_ms - pair[0].at_ms);
        assert!(gap >= backoff, "refreshes {gap:?} apart: {refreshes:?}");
    }
    let api: Vec<_> = journal
        .iter()
        .filter(|e| e.path.starts_with("/2/0"))
        .collect();
    assert!(api.len() > 2 * refreshes.len(), "{} calls", api.len());
    assert!(api.iter().all(|e| e.answer == Answer::Status(200)));
}

/// A slow refresh holds up no call while the token works: the other callers go on with
/// it instead of waiting for the renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_on_with_the_valid_token_while_a_slow_refresh_runs() {
    // The login goes through; the first refresh takes a minute of scenario time.
    let journal = callers_while_the_token_is_due(
        runwait_sim::Fault::new(
            runwait_sim::CallKind::Auth,
            1,
            1,
            runwait_sim::FaultKind::Slow(Duration::from_secs(60)),
        ),
        quick_retries(),
        4,
        Duration::from_secs(2 * 60),
    )
    .await;
    let refresh = calls(&journal, "POST", "/token/refresh")[0].at_ms;
    let during = journal
        .iter()
        .filter(|e| e.path.starts_with("/2/0"))
        .filter(|e| e.at_ms > refresh + 5_000 && e.at_ms < refresh + 55_000)
        .count();
    assert!(during > 0, "no call was answered during the slow refresh");
}

/// When the auth service fails the first renewal (every retry of it), the still valid
/// token carries on and a call after `REFRESH_BACKOFF` renews it: the caller sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_renewal_keeps_the_valid_token_and_tries_again() {
    let fault = runwait_sim::Fault::new(
        runwait_sim::CallKind::Auth,
        1,
        5,
        runwait_sim::FaultKind::http(503),
    );
    let journal = forty_minute_wait(Some(fault)).await;
    let refreshes: Vec<Answer> = calls(&journal, "POST", "/token/refresh")
        .iter()
        .map(|e| e.answer)
        .collect();
    assert_eq!(&refreshes[..5], &[Answer::Status(503); 5]);
    // Live tenants answer a refresh with 200 (issue 11; the login answers 201).
    assert_eq!(refreshes[5..], [Answer::Status(200)]);
    let api_answers: Vec<Answer> = journal
        .iter()
        .filter(|e| e.path.starts_with("/2/0"))
        .map(|e| e.answer)
        .collect();
    assert!(
        api_answers.iter().all(|a| *a == Answer::Status(200)),
        "{api_answers:?}"
    );
}

#[tokio::test]
async fn oauth_refresh_tokens_rotate_and_are_stored_back() {
    use runwait_anaplan::OAuthRefreshAuth;
    use runwait_anaplan::auth::FileRefreshTokenStore;

    let sim = sim(1.0).await;
    let file = std::env::temp_dir().join(format!("runwait-oauth-{}", std::process::id()));
    let url = url::Url::parse(&format!("{}/oauth/token", sim.auth_url())).unwrap();
    let oauth =
        |token: &str| OAuthRefreshAuth::new(url.clone(), "runwait-demo", Secret::new(token));
    let client = Client::builder(
        endpoints(&sim),
        oauth("demo-refresh-token")
            .with_store(std::sync::Arc::new(FileRefreshTokenStore::new(&file))),
    )
    .build()
    .unwrap();
    client.workspaces().await.unwrap();
    let rotated = std::fs::read_to_string(&file).unwrap();
    assert_ne!(rotated, "demo-refresh-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner may read a refresh token");
    }

    // The first refresh token is retired: a client holding it is refused.
    let stale = Client::builder(endpoints(&sim), oauth("demo-refresh-token"))
        .build()
        .unwrap();
    let err = stale.workspaces().await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 400, .. }), "{err:?}");
    assert!(
        err.to_string().contains("invalid_grant") || err.to_string().contains("rotated"),
        "{err}"
    );

    // After the access token dies, the client uses the rotated refresh token.
    sim.expire_tokens();
    client.workspaces().await.unwrap();
    assert_ne!(std::fs::read_to_string(&file).unwrap(), rotated);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_refused_login_is_not_tried_again() {
    let sim = sim(1.0).await;
    let client = Client::builder(endpoints(&sim), BasicAuth::new(USER, Secret::new("wrong")))
        .build()
        .unwrap();
    for _ in 0..5 {
        assert!(matches!(
            client.workspaces().await,
            Err(Error::Auth { status: 401, .. })
        ));
    }
    assert_eq!(
        calls(&sim.journal(), "POST", "/token/authenticate").len(),
        1,
        "one refused login, not one per call: accounts get locked"
    );
}

/// When the auth service fails every login for now, the callers that waited for a login
/// get its error rather than each running the same retries in turn.
#[tokio::test]
async fn callers_that_waited_for_a_failed_login_share_its_error() {
    let sim = sim(1.0).await;
    sim.add_fault(runwait_sim::Fault::new(
        runwait_sim::CallKind::Auth,
        0,
        0,
        runwait_sim::FaultKind::http(503),
    ))
    .unwrap();
    let client = basic_client(&sim);
    for caller in callers_at_once(&client, 10) {
        let error = caller.await.unwrap().unwrap_err();
        assert!(
            matches!(error, Error::Server { status: 503, .. }),
            "{error:?}"
        );
    }
    // Each call is tried 5 times (`quick_retries`) and each try may log in with 5
    // attempts: one caller alone makes up to 25. Ten that waited for each other's logins
    // make about as many; ten that each ran their own would make 250.
    let attempts = 1 + quick_retries().max_retries;
    let logins = calls(&sim.journal(), "POST", "/token/authenticate").len();
    assert!(logins <= 2 * attempts * attempts, "{logins} logins");
}

/// A scenario with OAuth clients: an Authorization Code client (with a secret) whose
/// refresh tokens rotate, and a Device Grant client whose refresh token stays valid.
fn oauth_scenario() -> runwait_sim::Scenario {
    let mut s = runwait_sim::Scenario::builtin();
    let mut code = s.oauth_clients[0].clone();
    code.client_id = "code-client".into();
    code.refresh_token = "code-refresh".into();
    code.client_secret = Some("s3cret-value".into());
    let mut device = s.oauth_clients[0].clone();
    device.client_id = "device-client".into();
    device.refresh_token = "device-refresh".into();
    device.rotate = false;
    s.oauth_clients = vec![code, device];
    s
}

fn oauth_url(sim: &runwait_sim::Simulator) -> url::Url {
    url::Url::parse(&format!("{}/oauth/token", sim.auth_url())).unwrap()
}

#[tokio::test]
async fn an_authorization_code_client_sends_its_secret_in_a_json_body() {
    use runwait_anaplan::OAuthRefreshAuth;
    let sim = sim_with(oauth_scenario(), 1.0).await;
    let with_secret =
        OAuthRefreshAuth::new(oauth_url(&sim), "code-client", Secret::new("code-refresh"))
            .with_client_secret(Secret::new("s3cret-value"));
    let client = Client::builder(endpoints(&sim), with_secret)
        .build()
        .unwrap();
    client.workspaces().await.unwrap();

    // Without its secret the grant is refused, and the error says what to do, without
    // a secret in it.
    let sim = sim_with(oauth_scenario(), 1.0).await;
    let without =
        OAuthRefreshAuth::new(oauth_url(&sim), "code-client", Secret::new("code-refresh"));
    let err = Client::builder(endpoints(&sim), without)
        .build()
        .unwrap()
        .workspaces()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Auth { status: 400, .. }), "{err:?}");
    assert!(
        text.contains("invalid_grant") && text.contains("authorise runwait again"),
        "{text}"
    );
    assert!(
        !text.contains("code-refresh") && !text.contains("s3cret"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refresh_token_that_does_not_rotate_is_kept_and_reused() {
    use runwait_anaplan::OAuthRefreshAuth;
    use runwait_anaplan::auth::FileRefreshTokenStore;
    let sim = sim_with(oauth_scenario(), 1.0).await;
    let file = std::env::temp_dir().join(format!("runwait-oauth-fixed-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let device = OAuthRefreshAuth::new(
        oauth_url(&sim),
        "device-client",
        Secret::new("device-refresh"),
    )
    .with_store(std::sync::Arc::new(FileRefreshTokenStore::new(&file)));
    let client = Client::builder(endpoints(&sim), device).build().unwrap();
    client.workspaces().await.unwrap();
    sim.expire_tokens();
    client.workspaces().await.unwrap();
    assert!(!file.exists(), "nothing rotated, nothing to store");
    assert_eq!(calls(&sim.journal(), "POST", "/oauth/token").len(), 2);
}

#[tokio::test]
async fn a_rotating_refresh_token_is_never_sent_twice_after_a_lost_answer() {
    use runwait_anaplan::OAuthRefreshAuth;
    use runwait_anaplan::auth::FileRefreshTokenStore;
    let sim = sim(1.0).await;
    let file = std::env::temp_dir().join(format!("runwait-oauth-lost-{}", std::process::id()));
    std::fs::write(&file, "demo-refresh-token\n").unwrap();
    let oauth = OAuthRefreshAuth::new(
        oauth_url(&sim),
        "runwait-demo",
        Secret::new("demo-refresh-token"),
    )
    .with_store(std::sync::Arc::new(FileRefreshTokenStore::new(&file)));
    let client = basic_builder_with(&sim, oauth);
    // The token request's connection breaks: the server may have used the token up.
    sim.add_fault(runwait_sim::Fault::new(
        runwait_sim::CallKind::Auth,
        0,
        1,
        runwait_sim::FaultKind::Reset,
    ))
    .unwrap();
    // The call's own retry comes back for a token: the provider refuses to resend.
    for _ in 0..2 {
        let err = client.workspaces().await.unwrap_err().to_string();
        assert!(
            err.contains("not sent again") && err.contains("authorise runwait again"),
            "{err}"
        );
        assert!(!err.contains("demo-refresh-token"), "{err}");
    }
    assert_eq!(
        calls(&sim.journal(), "POST", "/oauth/token").len(),
        1,
        "the refresh token went out once"
    );

    // Another run rotated it meanwhile and stored the new one: that one is used.
    let reply: serde_json::Value = reqwest::Client::new()
        .post(oauth_url(&sim))
        .json(&serde_json::json!({"grant_type": "refresh_token", "client_id": "runwait-demo", "refresh_token": "demo-refresh-token"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newer = reply["refresh_token"].as_str().unwrap().to_owned();
    std::fs::write(&file, format!("{newer}\n")).unwrap();
    let fresh = OAuthRefreshAuth::new(
        oauth_url(&sim),
        "runwait-demo",
        Secret::new("demo-refresh-token"),
    )
    .with_store(std::sync::Arc::new(FileRefreshTokenStore::new(&file)));
    let client = basic_builder_with(&sim, fresh);
    sim.add_fault(runwait_sim::Fault::new(
        runwait_sim::CallKind::Auth,
        0,
        1,
        runwait_sim::FaultKind::Reset,
    ))
    .unwrap();
    // The call's retry finds the newer stored token and goes on with it.
    client.workspaces().await.unwrap();
    assert_ne!(
        std::fs::read_to_string(&file).unwrap().trim(),
        newer,
        "rotated and stored again"
    );
    std::fs::remove_file(file).unwrap();
}

fn basic_builder_with(
    sim: &runwait_sim::Simulator,
    provider: runwait_anaplan::OAuthRefreshAuth,
) -> Client {
    Client::builder(endpoints(sim), provider)
        .retry(quick_retries())
        .build()
        .unwrap()
}
