//! No secret in any log line, error or debug output: every call runs with known
//! secrets, and everything captured is searched for them and their base64 forms.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use runwait_anaplan::{
    BasicAuth, CertificateAuth, Client, DumpSource, EncodedDataFormat, Secret, StartOptions,
    TaskKind, TokenAuth,
};
use runwait_sim::{CallKind, Fault, FaultKind, Scenario, User};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRET_USER: &str = "secret-keeper@runwait.local";
const SECRET_PASSWORD: &str = "Tr0ub4dor&3-never-print-me";

#[tokio::test]
async fn no_secret_reaches_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut scenario = Scenario::builtin();
    scenario.users.push(User {
        name: SECRET_USER.into(),
        password: Some(SECRET_PASSWORD.into()),
        certificate: None,
    });
    let sim = sim_with(scenario, 500.0).await;
    let mut shown = String::new();

    // Basic auth through every call, with a retry, a 401 and a lost start on the way.
    let basic = Client::builder(
        endpoints(&sim),
        BasicAuth::new(SECRET_USER, Secret::new(SECRET_PASSWORD)),
    )
    .retry(quick_retries())
    .build()
    .unwrap();
    sim.add_fault(Fault::new(CallKind::Status, 1, 1, FaultKind::http(503)))
        .unwrap();
    sim.add_fault(Fault::new(
        CallKind::Start,
        0,
        1,
        FaultKind::LostStartResponse,
    ))
    .unwrap();
    let import = target(TaskKind::Import, "112000000003");
    let started = basic
        .start(&import, &StartOptions::default())
        .await
        .unwrap();
    sim.expire_tokens();
    wait_terminal(&basic, &import, &started.task_id, Duration::from_millis(10)).await;
    basic
        .download_dump(
            &import,
            &started.task_id,
            &DumpSource::Import,
            &mut Vec::new(),
        )
        .await
        .unwrap();
    basic.cancel(&import, &started.task_id).await.ok();
    shown.push_str(&format!("{basic:?}"));

    // A ready token, used until it dies.
    let token = raw_login(&sim, SECRET_USER, SECRET_PASSWORD).await;
    let ready = Client::builder(
        endpoints(&sim),
        TokenAuth::anaplan(Secret::new(token.clone())),
    )
    .build()
    .unwrap();
    ready.workspaces().await.unwrap();
    sim.expire_tokens();
    let err = ready.workspaces().await.unwrap_err();
    shown.push_str(&format!("{err}\n{err:?}\n{ready:?}"));

    // Wrong password: the error must not echo it.
    let wrong = Client::builder(
        endpoints(&sim),
        BasicAuth::new(SECRET_USER, Secret::new("wrong-but-secret-pw")),
    )
    .build()
    .unwrap();
    let err = wrong.workspaces().await.unwrap_err();
    shown.push_str(&format!("{err}\n{err:?}"));

    // A certificate key, encrypted, with its passphrase.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let passphrase = Secret::new("test-passphrase");
    let cert = CertificateAuth::from_files(
        &dir.join("test-user.cert.pem"),
        &dir.join("test-user.encrypted.key.pem"),
        Some(&passphrase),
        EncodedDataFormat::V2,
    )
    .unwrap();
    shown.push_str(&format!("{cert:?} {passphrase:?} {passphrase}"));
    Client::builder(endpoints(&sim), cert)
        .build()
        .unwrap()
        .workspaces()
        .await
        .unwrap();

    drop(_guard);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("http.client"), "the capture works: {logs}");
    let everything = format!("{logs}\n{shown}");

    let key_pem = std::fs::read_to_string(dir.join("test-user.key.pem")).unwrap();
    let key_line = key_pem.lines().nth(5).unwrap();
    let secrets = [
        SECRET_PASSWORD.to_owned(),
        BASE64.encode(format!("{SECRET_USER}:{SECRET_PASSWORD}")),
        "wrong-but-secret-pw".to_owned(),
        token.clone(),
        BASE64.encode(&token),
        "test-passphrase".to_owned(),
        key_line.to_owned(),
    ];
    for secret in secrets {
        assert!(
            !everything.contains(&secret),
            "secret `{secret}` leaked:\n{everything}"
        );
    }
}
