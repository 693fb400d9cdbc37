//! Secret hygiene: for every kind of auth, with known secret values, a whole `runwait run`
//! (a step whose dump is downloaded, a lookup by name) against a `runwait sim` process
//! leaves no secret, plain or in base64, in its log at trace level, its JSON summary,
//! the spans an OTLP receiver gets, or any file of its state and out directories.

mod common;
#[path = "common/otlp.rs"]
mod otlp;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::Sim;

const USER: &str = "keeper@runwait.local";
const PASSWORD: &str = "Pw-5ecret-Basic-9f3a51";
const REFRESH_TOKEN: &str = "Rt-5ecret-Refresh-77ab02";
const CLIENT_SECRET: &str = "Cs-5ecret-Client-0c1d93";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sim/tests/fixtures")
}

fn scenario() -> String {
    format!(
        r#"users:
  - {{name: {USER}, password: {PASSWORD}}}
  - name: robot@runwait.local
    certificate: {{subject: "CN=runwait test user,O=runwait test"}}
oauth_clients:
  - client_id: runwait-secrets
    user: {USER}
    refresh_token: {REFRESH_TOKEN}
    client_secret: {CLIENT_SECRET}
workspaces:
  - id: 8a81b09d5e8c6f27015e8d6c3f4a0b21
    name: Secret Workspace
    models:
      - id: 75A40874E6B64FA3AE0743278996850F
        name: Secret Model
        imports:
          - {{id: "112000000011", name: Customers 1, duration: 1s, outcome: failure, dump_rows: 5}}
          - {{id: "112000000012", name: Customers 2, duration: 1s, outcome: failure, dump_rows: 5}}
          - {{id: "112000000013", name: Customers 3, duration: 1s, outcome: failure, dump_rows: 5}}
          - {{id: "112000000014", name: Customers 4, duration: 1s, outcome: failure, dump_rows: 5}}
          - {{id: "112000000002", name: Products, duration: 1s}}
"#
    )
}

/// An auth kind: its `auth:` section and the secrets it hands runwait, and the import
/// whose dump it downloads (dumps are per user: runs as one user at once need their own).
struct Kind {
    name: &'static str,
    import: &'static str,
    auth: String,
    env: Vec<(&'static str, String)>,
    secrets: Vec<String>,
}

/// A token the simulator issued to the basic user, for `kind: token`.
fn token(sim: &Sim) -> String {
    let basic = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let (status, body) = sim.request(
        &format!("POST /token/authenticate HTTP/1.0\r\nAuthorization: Basic {basic}"),
        "",
    );
    assert!(
        status.contains(" 201") || status.contains(" 200"),
        "{status}: {body}"
    );
    let value = body.split("\"tokenValue\":\"").nth(1).unwrap();
    value[..value.find('"').unwrap()].to_owned()
}

fn kinds(sim: &Sim) -> Vec<Kind> {
    let key = std::fs::read_to_string(fixtures().join("test-user.key.pem")).unwrap();
    // The key's body, whole and line by line: any piece of it is the secret.
    let key_lines: Vec<String> = key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    let token = token(sim);
    vec![
        Kind {
            name: "basic",
            import: "112000000011",
            auth: format!("kind: basic\n    user: {USER}\n    password: {{ env: RUNWAIT_SECRET }}"),
            env: vec![("RUNWAIT_SECRET", PASSWORD.to_owned())],
            secrets: vec![
                PASSWORD.to_owned(),
                STANDARD.encode(format!("{USER}:{PASSWORD}")),
            ],
        },
        Kind {
            name: "certificate",
            import: "112000000012",
            auth: format!(
                "kind: certificate\n    certificate: {}\n    private_key: {}",
                fixtures().join("test-user.cert.pem").display(),
                fixtures().join("test-user.key.pem").display()
            ),
            env: Vec::new(),
            secrets: [vec![key_lines.concat()], key_lines].concat(),
        },
        Kind {
            name: "token",
            import: "112000000013",
            auth: "kind: token\n    token: { env: RUNWAIT_SECRET }".to_owned(),
            env: vec![("RUNWAIT_SECRET", token.clone())],
            secrets: vec![token],
        },
        Kind {
            name: "oauth",
            import: "112000000014",
            auth: "kind: oauth\n    client_id: runwait-secrets\n    refresh_token: { env: RUNWAIT_REFRESH }\n    client_secret: { env: RUNWAIT_SECRET }".to_owned(),
            env: vec![
                ("RUNWAIT_REFRESH", REFRESH_TOKEN.to_owned()),
                ("RUNWAIT_SECRET", CLIENT_SECRET.to_owned()),
            ],
            secrets: vec![REFRESH_TOKEN.to_owned(), CLIENT_SECRET.to_owned()],
        },
    ]
}

fn workflow(dir: &Path, addr: &str, kind: &Kind) -> PathBuf {
    let (auth, import) = (&kind.auth, kind.import);
    let file = dir.join("secrets.yaml");
    // The token endpoint is the simulator's, named only where it is used.
    let token_url = if auth.starts_with("kind: oauth") {
        format!("\n  oauth_token_url: http://{addr}/oauth/token")
    } else {
        String::new()
    };
    std::fs::write(
        &file,
        format!(
            r#"name: secrets
connection:
  api_url: http://{addr}/2/0
  auth_url: http://{addr}{token_url}
  auth:
    {auth}
defaults:
  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21
  model: 75A40874E6B64FA3AE0743278996850F
  poll: {{ min_interval: 5s, max_interval: 5s }}
steps:
  - id: customers
    uses: anaplan/import
    with: {{ id: "{import}" }}
    continue_on_error: true
  - id: products
    uses: anaplan/import
    with: {{ name: Products }}
"#
        ),
    )
    .unwrap();
    file
}

/// Every file under `dir`, with its path, as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path, text));
        }
    }
    out
}

#[test]
fn no_secret_of_any_auth_kind_leaves_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_file = dir.path().join("scenario.yaml");
    std::fs::write(&scenario_file, scenario()).unwrap();
    let sim = Sim::start("10", Some(&scenario_file));
    // The kinds run at once: each waits out Anaplan's 5 s poll floor.
    std::thread::scope(|scope| {
        for kind in kinds(&sim) {
            let (sim, dir) = (&sim, dir.path());
            scope.spawn(move || check_kind(&kind, sim, dir));
        }
    });
}

/// One run with `kind`'s auth, searched for its secrets.
fn check_kind(kind: &Kind, sim: &Sim, dir: &Path) {
    {
        let (endpoint, spans) = otlp::receiver();
        let run = dir.join(kind.name);
        std::fs::create_dir_all(&run).unwrap();
        let out = common::runwait()
            .args(["run", "--output", "json", "--state-dir"])
            .arg(run.join("state"))
            .arg("--out-dir")
            .arg(run.join("out"))
            .arg(workflow(&run, &sim.addr, kind))
            .envs(kind.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "trace")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let name = kind.name;
        // The run did its work: a failed step with its dump, a found name, a real trace.
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {stdout}\n{}",
            tail(&stderr)
        );
        assert!(stdout.contains("\"error_rows\": 5"), "{name}: {stdout}");
        assert!(stderr.contains("TRACE"), "{name}: logs at trace level");
        let spans = spans.lock().unwrap().clone();
        assert!(
            spans.iter().any(|s| s.name == "anaplan.task.poll"),
            "{name}: spans"
        );
        let state = files_under(&run.join("state"));
        let dumps = files_under(&run.join("out"));
        assert!(!state.is_empty() && !dumps.is_empty(), "{name}: files");

        let mut places: Vec<(String, String)> = vec![
            ("stdout".into(), stdout),
            ("stderr".into(), stderr),
            ("spans".into(), format!("{spans:?}")),
        ];
        places.extend(
            state
                .into_iter()
                .chain(dumps)
                .map(|(p, t)| (p.display().to_string(), t)),
        );
        for secret in &kind.secrets {
            let forms = [
                secret.clone(),
                STANDARD.encode(secret),
                URL_SAFE_NO_PAD.encode(secret),
            ];
            for (place, text) in &places {
                for form in &forms {
                    assert!(
                        !text.contains(form.as_str()),
                        "{name}: a secret ({} bytes) in {place}",
                        secret.len()
                    );
                }
            }
        }
    }
}

/// The end of a long log, for a failure message.
fn tail(text: &str) -> &str {
    &text[text.len().saturating_sub(3000)..]
}
