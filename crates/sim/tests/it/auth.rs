//! The auth service over real HTTP: basic and certificate logins, refresh, validate,
//! logout and expiry, and the API's 401 for dead tokens.

use std::collections::BTreeSet;

use crate::common::{MODEL, T, WS, advance, assert_envelope, authenticate, http, login, scenario};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA512, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use runwait_core::token::{AuthFailure, AuthReply, CertificateAuthRequest};
use runwait_sim::{Scenario, SimConfig, Simulator};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// The DER inside a one-block PEM file.
fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).unwrap()
}

/// A certificate login body: `data` signed with the key in `key_file`.
fn signed(key_file: &str, data: &[u8], format: Option<&str>) -> CertificateAuthRequest {
    let key = RsaKeyPair::from_pkcs8(&pem_der(&fixture(key_file))).unwrap();
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA512, &SystemRandom::new(), data, &mut sig)
        .unwrap();
    CertificateAuthRequest {
        encoded_data: STANDARD.encode(data),
        encoded_signed_data: STANDARD.encode(sig),
        encoded_data_format: format.map(str::to_owned),
    }
}

async fn cert_login(
    sim: &Simulator,
    cert_file: &str,
    body: &CertificateAuthRequest,
) -> (StatusCode, Value) {
    let res = http()
        .post(format!("{}/token/authenticate", sim.auth_url()))
        .header(
            "Authorization",
            format!("CACertificate {}", STANDARD.encode(fixture(cert_file))),
        )
        .json(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

async fn builtin() -> Simulator {
    Simulator::start(SimConfig::new(Scenario::builtin()))
        .await
        .unwrap()
}

/// Logs in with `cert_file`, signing `data` with `key_file`.
async fn cert_login_signed(
    sim: &Simulator,
    cert_file: &str,
    key_file: &str,
    data: &[u8],
    format: Option<&str>,
) -> (StatusCode, Value) {
    cert_login(sim, cert_file, &signed(key_file, data, format)).await
}

/// Logs in with the built-in scenario's test user's certificate and key.
async fn user_cert_login(
    sim: &Simulator,
    data: &[u8],
    format: Option<&str>,
) -> (StatusCode, Value) {
    cert_login_signed(sim, "test-user.cert.pem", "test-user.key.pem", data, format).await
}

/// What `GET /workspaces` answers with this token.
async fn api_status(sim: &Simulator, token: &str) -> StatusCode {
    http()
        .get(format!("{}/workspaces", sim.api_url()))
        .header("Authorization", format!("AnaplanAuthToken {token}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(start_paused = true)]
async fn basic_login_gives_a_token_the_api_accepts() {
    let sim = builtin().await;
    let res = authenticate(&http(), &sim, "demo@runwait.local", "demo").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let reply = AuthReply::parse(&res.text().await.unwrap()).unwrap();
    assert_eq!(reply.status, "SUCCESS");
    let info = reply.token_info;
    let now_ms = runwait_core::EpochMillis::from_system_time(std::time::SystemTime::now()).0;
    let ttl = info.expires_at.0.saturating_sub(now_ms);
    assert!((35 * 60_000 - 5_000..=35 * 60_000).contains(&ttl), "{ttl}");
    assert!(info.refresh_token_id.is_some());
    // Bearer works like AnaplanAuthToken.
    let res = http()
        .get(format!("{}/workspaces", sim.api_url()))
        .bearer_auth(info.token_value.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn bad_credentials_are_refused() {
    let sim = builtin().await;
    let url = format!("{}/token/authenticate", sim.auth_url());
    let res = authenticate(&http(), &sim, "demo@runwait.local", "wrong").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let failure = AuthFailure::parse(&res.text().await.unwrap()).unwrap();
    assert_eq!(failure.status, "FAILURE_BAD_CREDENTIAL");

    for header in [None, Some("Basic !!!"), Some("Token x")] {
        let mut req = http().post(&url);
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{header:?}");
        let failure = AuthFailure::parse(&res.text().await.unwrap()).unwrap();
        // The code live tenants send for a malformed header (issue 11).
        assert_eq!(failure.status, "FAILURE_BAD_HEADER", "{header:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_api_refuses_missing_and_unknown_tokens() {
    let t = T::builtin().await;
    let res = t.http.get(t.url("/workspaces")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_envelope(&res.json().await.unwrap(), 401, "/2/0/workspaces");
    assert_eq!(
        api_status(&t.sim, "made-up").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::OK);
}

/// Every API route asks for a live token before anything else, with the same envelope.
#[tokio::test(start_paused = true)]
async fn every_api_route_refuses_a_call_without_a_token() {
    let t = T::builtin().await;
    let task = t.start_task("imports", "112000000002").await;
    let import = t.obj("imports", "112000000002");
    let process = t.obj("processes", "118000000002");
    let model = t.url(&format!("/workspaces/{WS}/models/{MODEL}"));
    let calls = [
        ("GET", t.url("/workspaces")),
        ("GET", t.url(&format!("/workspaces/{WS}/models"))),
        ("GET", t.url(&format!("/models/{MODEL}"))),
        ("GET", model.clone()),
        ("POST", format!("{model}/status")),
        ("GET", format!("{model}/imports")),
        (
            "GET",
            t.url(&format!("/models/{MODEL}/processes/118000000001")),
        ),
        ("GET", process.clone()),
        ("POST", format!("{import}/tasks")),
        ("GET", format!("{import}/tasks")),
        ("GET", format!("{import}/tasks/{task}")),
        ("DELETE", format!("{import}/tasks/{task}")),
        ("GET", format!("{import}/tasks/{task}/dump/chunks")),
        ("GET", format!("{import}/tasks/{task}/dump/chunks/0")),
        (
            "GET",
            format!("{process}/tasks/{task}/dumps/112000000002/chunks"),
        ),
        (
            "GET",
            format!("{process}/tasks/{task}/dumps/112000000002/chunks/0"),
        ),
    ];
    for (method, url) in calls {
        let req = t.http.request(method.parse().unwrap(), &url);
        let req = if method == "POST" {
            req.json(&serde_json::json!({"localeName": "en_US"}))
        } else {
            req
        };
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {url}");
        let path = url.strip_prefix(&t.sim.auth_url()).unwrap().to_owned();
        assert_envelope(&res.json().await.unwrap(), 401, &path);
    }
    assert_eq!(t.sim.tasks().len(), 1, "a refused start starts nothing");
}

#[tokio::test(start_paused = true)]
async fn refresh_extends_the_token_and_keeps_its_value() {
    let t = T::builtin().await;
    advance(30 * 60).await;
    let res = t
        .http
        .post(format!("{}/token/refresh", t.sim.auth_url()))
        .header("Authorization", format!("AnaplanAuthToken {}", t.token))
        .send()
        .await
        .unwrap();
    // Live tenants: 200, the same token value, a later expiry (issue 11).
    assert_eq!(res.status(), StatusCode::OK);
    let reply = AuthReply::parse(&res.text().await.unwrap()).unwrap();
    assert_eq!(reply.status_message.as_deref(), Some("Token refreshed"));
    assert_eq!(reply.token_info.token_value.expose(), t.token);
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::OK);
    // It now lives 35 minutes from the refresh, past its first expiry.
    advance(34 * 60).await;
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::OK);
    advance(60).await;
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn tokens_expire_after_the_ttl_and_cannot_be_refreshed() {
    let yaml = r#"
users: [{name: demo@runwait.local, password: demo}]
token_ttl: 10m
workspaces: []
"#;
    let t = T::start(scenario(yaml)).await;
    advance(599).await;
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::OK);
    advance(1).await;
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::UNAUTHORIZED);
    let res = t
        .http
        .post(format!("{}/token/refresh", t.sim.auth_url()))
        .header("Authorization", format!("AnaplanAuthToken {}", t.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn validate_and_logout() {
    let t = T::builtin().await;
    let auth = |path: &str, token: &str| {
        let req = if path == "validate" {
            t.http.get(format!("{}/token/validate", t.sim.auth_url()))
        } else {
            t.http.post(format!("{}/token/{path}", t.sim.auth_url()))
        };
        req.header("Authorization", format!("AnaplanAuthToken {token}"))
            .send()
    };
    let res = auth("validate", &t.token).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let reply = AuthReply::parse(&res.text().await.unwrap()).unwrap();
    assert_eq!(reply.token_info.token_value.expose(), t.token);
    assert_eq!(
        auth("logout", &t.token).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        auth("validate", &t.token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api_status(&t.sim, &t.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth("logout", &t.token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(start_paused = true)]
async fn certificate_login_v1_and_v2() {
    let sim = builtin().await;
    let random = [7u8; 100];
    let (code, body) = user_cert_login(&sim, &random, None).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "SUCCESS");

    let mut v2 = 1_764_331_200u64.to_be_bytes().to_vec();
    v2.extend_from_slice(&random);
    let (code, body) = user_cert_login(&sim, &v2, Some("v2")).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let token = body["tokenInfo"]["tokenValue"].as_str().unwrap();
    assert_eq!(api_status(&sim, token).await, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn certificate_login_refuses_bad_signatures_and_unknown_certificates() {
    let sim = builtin().await;
    let random = [9u8; 128];
    // Signed with another key than the certificate's.
    let (code, body) = cert_login_signed(
        &sim,
        "test-user.cert.pem",
        "test-other.key.pem",
        &random,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(body["status"], "FAILURE_BAD_CREDENTIAL");
    // Signed over other bytes than those sent: 401. A v2 body needs the 8-byte
    // timestamp on top of 100 random bytes, v1 needs 100, other formats are unknown: 400.
    let mut tampered = signed("test-user.key.pem", &random, None);
    tampered.encoded_data = STANDARD.encode([8u8; 128]);
    let cases = [
        (tampered, StatusCode::UNAUTHORIZED),
        (
            signed("test-user.key.pem", &[1u8; 104], Some("v2")),
            StatusCode::BAD_REQUEST,
        ),
        (
            signed("test-user.key.pem", &[1u8; 99], None),
            StatusCode::BAD_REQUEST,
        ),
        (
            signed("test-user.key.pem", &random, Some("v9")),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, expected) in cases {
        let (code, _) = cert_login(&sim, "test-user.cert.pem", &body).await;
        assert_eq!(code, expected, "{body:?}");
    }
    // A valid signature by a certificate no user has.
    let (code, _) = cert_login_signed(
        &sim,
        "test-other.cert.pem",
        "test-other.key.pem",
        &random,
        None,
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // Garbage instead of a certificate.
    let res = http()
        .post(format!("{}/token/authenticate", sim.auth_url()))
        .header("Authorization", "CACertificate bm90IGEgY2VydA==")
        .json(&signed("test-user.key.pem", &random, None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(start_paused = true)]
async fn a_certificate_can_be_matched_by_fingerprint() {
    let fingerprint = {
        let der = pem_der(&fixture("test-other.cert.pem"));
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}:"))
            .collect::<String>()
    };
    let yaml = format!(
        "users: [{{name: robot, certificate: {{fingerprint: \"{}\"}}}}]\nworkspaces: []\n",
        fingerprint.trim_end_matches(':')
    );
    let sim = Simulator::start(SimConfig::new(scenario(&yaml)))
        .await
        .unwrap();
    for (cert, key, expected) in [
        (
            "test-other.cert.pem",
            "test-other.key.pem",
            StatusCode::CREATED,
        ),
        (
            "test-user.cert.pem",
            "test-user.key.pem",
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let (code, _) = cert_login_signed(&sim, cert, key, &[3u8; 100], None).await;
        assert_eq!(code, expected, "{cert}");
    }
}

#[tokio::test(start_paused = true)]
async fn logins_of_different_users_are_told_apart() {
    let yaml = r#"
users:
  - {name: a@x, password: pa}
  - {name: b@x, password: pb}
workspaces: []
"#;
    let sim = Simulator::start(SimConfig::new(scenario(yaml)))
        .await
        .unwrap();
    let client = http();
    let a = login(&client, &sim, "a@x", "pa").await;
    let b = login(&client, &sim, "b@x", "pb").await;
    assert_ne!(a, b);
    let res = authenticate(&client, &sim, "a@x", "pb").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn the_oauth_grant_rotates_the_refresh_token() {
    let sim = builtin().await;
    let grant = |refresh: &str| {
        http()
            .post(format!("{}/oauth/token", sim.auth_url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=refresh_token&client_id=runwait-demo&refresh_token={refresh}"
            ))
            .send()
    };
    let res = grant("demo-refresh-token").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"].into()
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 35 * 60);
    let access = body["access_token"].as_str().unwrap();
    let next = body["refresh_token"].as_str().unwrap();
    assert_ne!(next, "demo-refresh-token");
    let res = http()
        .get(format!("{}/workspaces", sim.api_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The used refresh token is retired; the new one works once.
    let res = grant("demo-refresh-token").await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(grant(next).await.unwrap().status(), StatusCode::OK);
}
