//! `runwait-workflow`: the runwait workflow format as a library, for the `runwait` CLI and
//! for host runners that embed runwait steps in their own YAML.
//!
//! # Embedding contract (public API, stable for hosts)
//!
//! - [`StepSpec`] (with [`format::Uses`], [`format::With`], [`format::Condition`] — the
//!   runner's own `runwait_runner::Condition` — and [`format::MappingParameterSpec`]):
//!   what `uses` + `with` + the step options mean. It implements `serde::Deserialize` for
//!   any deserializer and checks the rules that span its fields, so a host puts it as a
//!   field of its own types. With serde-saphyr an error carries the line and column in the
//!   host's file. A host whose own key names the kind of step parses it as a
//!   [`format::Uses`] (`FromStr`) and reads the options as one [`format::StepOptions`];
//!   [`StepSpec::from_parts`] puts them together and checks them.
//! - [`step`]: a [`StepSpec`] and a connected [`runwait_anaplan::Client`] to a runnable
//!   [`runwait_executor::RunAndWait`] (an object given by `name` is looked up); errors
//!   are [`StepError`]. [`step_with`] takes the host's base
//!   [`runwait_executor::WaitConfig`] (poll schedule, …).
//! - [`nodes`]: a whole [`model::Workflow`] to the runner's [`runwait_runner::Node`]s
//!   (names looked up, poll limits, outcome policies, one rate budget, the host's
//!   [`runwait_executor::TraceHook`]; [`nodes_with_budget`] with a budget shared across
//!   processes); errors are [`NodeError`].
//! - [`connect::connect`]: a workflow `connection:` (embedded simulator, or a tenant with
//!   its auth kind and secrets read from the environment or files) to a
//!   [`connect::Connected`] client; it prints nothing and returns its warnings.
//! - [`load`] / [`load_str`] (and `*_with_warnings`, [`load_bytes_with_warnings`]),
//!   [`Diagnostic`], [`WorkflowErrors`], the typed [`model::Workflow`] (its `state:` a
//!   [`model::StateLocation`], read by [`model::StateLocation::resolve`]); [`schema`], the JSON Schema. The typed definitions of
//!   the whole file are in [`format`](mod@format); the key lists of the loader and the
//!   schema both come from them.
//!
//! Internal (not public): the YAML tree with positions, the checker, `${VAR}`
//! substitution, the tree deserializer.
//!
//! # Cargo features
//!
//! - `simulator` (default): `connection: simulator:`, its scenario format and
//!   `load_scenario`, with the embedded simulator (an HTTP server, axum). Without it such a
//!   workflow is reported as an error and neither axum nor the simulator is compiled.
//!
//! Public types that will grow are `#[non_exhaustive]`.
//!
//! # Errors
//!
//! A workflow file's problems are all collected, one [`Diagnostic`] each, displayed as
//! `FILE:LINE:COL: field.path: message` ([`WorkflowErrors`] prints one per line). A
//! `StepSpec` read by a host fails at its first problem, with the deserializer's location.
//!
//! # Example: a host's own YAML
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct HostFile {
//!     jobs: BTreeMap<String, runwait_workflow::StepSpec>,
//! }
//!
//! let yaml = "\
//! jobs:
//!   load:
//!     uses: anaplan/import
//!     with: { id: 112000000001, workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21,
//!             model: 75A40874E6B64FA3AE0743278996850F }
//!     retries: 2
//! ";
//! let host: HostFile = serde_saphyr::from_str(yaml).unwrap();
//! assert_eq!(host.jobs["load"].retries, 2);
//!
//! let bad = yaml.replace("112000000001", "118000000001");
//! let err = serde_saphyr::from_str::<HostFile>(&bad).unwrap_err();
//! assert!(err.to_string().contains("is a process id, but `uses: anaplan/import`"));
//! ```
//!
//! # Loading a workflow file
//!
//! 1. serde-saphyr parses the text into a tree whose every node knows its line and column;
//!    a YAML syntax error stops here, as it leaves nothing to check.
//! 2. The tree is checked and every problem is collected, so that one run of
//!    `runwait validate` lists all of them. Each section (the top level, `connection:`,
//!    `telemetry:`, `defaults:`, each step) is deserialized from the tree into its typed
//!    definition in [`format`](mod@format); after an error, the entry it is in is passed
//!    over and the section read again. The rules that span fields (needs and cycles, the
//!    id prefix against `uses`, exclusive keys, the keys of an auth kind, secret sources,
//!    the poll floor) are hand-written on the typed values, one concern per file.
//!
//! A file that is not UTF-8 is an error at its first bad byte; a value out of its bounds
//! (a simulator `speed` outside 0.01..=1000000, a timeout over 30 days, a poll interval
//! over an hour) is an error at the value.
//!
//! `${VAR}` is substituted in string values between the two phases. Secrets are only
//! referenced (`{ env: VAR }` / `{ file: PATH }`) and read by [`connect`] when it
//! connects, so a file validates without them.

mod check;
pub mod connect;
mod de;
mod env;
pub mod format;
pub mod model;
mod nodes;
mod runnable;
#[cfg(feature = "simulator")]
mod simulator;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

use self::model::{Settings, Workflow};

pub use self::format::{StepSpec, schema};
pub use self::nodes::{NodeError, nodes, nodes_with_budget};
pub use self::runnable::{StepError, step, step_with, target};

/// One problem of a workflow (or scenario) file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in, as given on the command line (or resolved from it).
    pub file: PathBuf,
    /// Line and column (1-based) when the problem has a place in the file.
    pub line_col: Option<(u32, u32)>,
    /// What is wrong and what was expected, starting with the field path when there is one.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message)
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every error found in a workflow file, in file order; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WorkflowErrors {
    /// The errors, sorted by file, line and column.
    pub errors: Vec<Diagnostic>,
}

impl fmt::Display for WorkflowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A workflow that loaded, with what is suspicious but not wrong (a secret file that does
/// not exist yet).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated workflow.
    pub workflow: Workflow,
    /// Warnings, in file order.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates a workflow file; relative paths in it are resolved against its
/// directory.
pub fn load(path: &Path) -> Result<Workflow, WorkflowErrors> {
    load_str(&read(path)?, path)
}

/// [`load`] for text that did not come from a file (tests, standard input); `source`
/// names it in messages and its directory resolves relative paths.
pub fn load_str(text: &str, source: &Path) -> Result<Workflow, WorkflowErrors> {
    load_str_with_warnings(text, source).map(|loaded| loaded.workflow)
}

/// [`load`], keeping the warnings.
pub fn load_with_warnings(path: &Path) -> Result<Loaded, WorkflowErrors> {
    load_str_with_warnings(&read(path)?, path)
}

/// [`load_str_with_warnings`] for bytes (standard input): text that is not UTF-8 is an
/// error at its first bad byte.
pub fn load_bytes_with_warnings(bytes: &[u8], source: &Path) -> Result<Loaded, WorkflowErrors> {
    load_str_with_warnings(utf8(bytes, source)?, source)
}

/// [`load_str`], keeping the warnings.
pub fn load_str_with_warnings(text: &str, source: &Path) -> Result<Loaded, WorkflowErrors> {
    check(text, source, check::Checker::workflow)
        .map(|(workflow, warnings)| Loaded { workflow, warnings })
}

/// Reads and validates a connection file: a workflow file without `steps:` (`connection:`,
/// and optionally `name:`, `telemetry:`, `defaults:`), for a host that brings its own step
/// ([`model::Settings::one_step`]). Relative paths in it are resolved against its
/// directory, and `${VAR}` is substituted as in a workflow file.
pub fn load_settings(path: &Path) -> Result<Settings, WorkflowErrors> {
    check(&read(path)?, path, check::Checker::settings).map(|(settings, _)| settings)
}

/// Parses `text`, substitutes `${VAR}` and reads the tree with `read`, collecting every
/// problem; the value with the warnings when there was none.
fn check<T>(
    text: &str,
    source: &Path,
    read: impl FnOnce(&mut check::Checker, &tree::Node) -> Option<T>,
) -> Result<(T, Vec<Diagnostic>), WorkflowErrors> {
    let mut root = parse(text, source)?;
    let mut problems = Vec::new();
    env::substitute_tree(&mut root, "", text, &env::process_env, &mut problems);
    let mut checker = check::Checker::new(source);
    for p in problems {
        checker.node_error(p.node_at, p.line_col, p.message);
    }
    let value = read(&mut checker, &root);
    let (errors, warnings) = checker.finish();
    match value {
        Some(value) if errors.is_empty() => Ok((value, warnings)),
        _ => Err(WorkflowErrors { errors }),
    }
}

#[cfg(feature = "simulator")]
/// Reads a simulator scenario file (`runwait sim --scenario`, `connection.simulator.scenario`)
/// and checks it. Scenario files take no `${VAR}`: they are test data, used as written.
pub fn load_scenario(path: &Path) -> Result<runwait_sim::Scenario, WorkflowErrors> {
    let text = read(path)?;
    let root = parse(&text, path)?;
    check::scenario(&root, path, "", false).map_err(|errors| WorkflowErrors { errors })
}

fn read(path: &Path) -> Result<String, WorkflowErrors> {
    let bytes = std::fs::read(path).map_err(|e| WorkflowErrors {
        errors: vec![Diagnostic {
            file: path.to_owned(),
            line_col: None,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    utf8(&bytes, path).map(str::to_owned)
}

/// The text of `bytes`, or an error at the line and column (in characters, as the YAML
/// positions) of the first byte that is not UTF-8.
fn utf8<'b>(bytes: &'b [u8], source: &Path) -> Result<&'b str, WorkflowErrors> {
    let e = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
    let good = std::str::from_utf8(good).unwrap_or_default();
    let line_start = good.rfind('\n').map_or(0, |i| i + 1);
    let line = good.matches('\n').count() + 1;
    let column = good.get(line_start..).unwrap_or_default().chars().count() + 1;
    let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let byte = bytes.get(e.valid_up_to()).copied().unwrap_or_default();
    Err(WorkflowErrors {
        errors: vec![Diagnostic {
            file: source.to_owned(),
            line_col: Some((at(line), at(column))),
            message: format!(
                "the file is not UTF-8 text: byte 0x{byte:02X} is not valid UTF-8 (save the file as UTF-8)"
            ),
        }],
    })
}

fn parse(text: &str, source: &Path) -> Result<tree::Node, WorkflowErrors> {
    tree::parse(text).map_err(|e| WorkflowErrors {
        errors: vec![Diagnostic {
            file: source.to_owned(),
            line_col: e.line_col,
            message: format!("invalid YAML: {}", e.message),
        }],
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use runwait_anaplan::TaskKind;
    use runwait_core::{DumpPolicy, ObjectId};

    use super::model::{AuthSpec, Condition, Connection, ObjectRef, SecretSource};
    use super::*;

    const IDS: &str =
        "workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n  model: 75A40874E6B64FA3AE0743278996850F";

    #[cfg_attr(
        not(feature = "simulator"),
        expect(
            irrefutable_let_patterns,
            reason = "a tenant is the only connection then"
        )
    )]
    #[test]
    fn defaults_apply_and_paths_resolve_against_the_file() {
        let text = format!(
            "name: n\nconnection:\n  region: EU3\n  auth:\n    kind: certificate\n    certificate: certs/me.pem\n    private_key: /abs/me.key\n    passphrase: {{file: pass}}\ndefaults:\n  {IDS}\n  locale: fr_FR\n  timeout: 1h30m\n  on_dump: fail\n  rate_per_second: 3\nsteps:\n  - {{id: a, uses: anaplan/import, with: {{id: 112000000001}}}}\n  - {{id: b, uses: anaplan/process, with: {{name: Load, locale: en_GB}}, needs: a, if: always(), timeout: 90s, retries: 2, continue_on_error: true, on_dump: ignore}}\n"
        );
        let w = load_str(&text, Path::new("/base/dir/wf.yaml")).unwrap();
        assert_eq!(w.rate_per_second, 3);
        assert_eq!(w.poll.min_interval, Duration::from_secs(5));
        assert_eq!(w.poll.max_interval, Duration::from_secs(15 * 60));
        assert!(w.poll.history, "learning from past runs is on by default");
        let Connection::Anaplan {
            endpoints,
            auth,
            oauth_token_url,
        } = &w.connection
        else {
            panic!("{:?}", w.connection)
        };
        assert_eq!(endpoints.api().as_str(), "https://eu3.api.anaplan.com/2/0");
        assert_eq!(*oauth_token_url, None, "only for kind: oauth");
        let AuthSpec::Certificate {
            certificate,
            private_key,
            passphrase,
            ..
        } = auth
        else {
            panic!("{auth:?}")
        };
        assert_eq!(certificate, Path::new("/base/dir/certs/me.pem"));
        assert_eq!(private_key, Path::new("/abs/me.key"));
        assert_eq!(
            passphrase,
            &Some(SecretSource::File("/base/dir/pass".into()))
        );
        let (a, b) = (&w.steps[0], &w.steps[1]);
        assert_eq!(a.kind, TaskKind::Import);
        assert_eq!(a.object, ObjectRef::Id(ObjectId::new("112000000001")));
        assert_eq!(a.locale, "fr_FR");
        assert_eq!(a.timeout, Some(Duration::from_secs(5400)));
        assert_eq!(a.policy.on_dump, DumpPolicy::Fail);
        assert_eq!(
            (a.condition, a.retries, a.continue_on_error),
            (Condition::Success, 0, false)
        );
        assert_eq!(b.object, ObjectRef::Name("Load".into()));
        assert_eq!(b.needs, ["a"]);
        assert_eq!(
            (b.condition, b.retries, b.continue_on_error),
            (Condition::Always, 2, true)
        );
        assert_eq!(b.locale, "en_GB");
        assert_eq!(b.timeout, Some(Duration::from_secs(90)));
        assert_eq!(b.policy.on_dump, DumpPolicy::Ignore);
        assert_eq!(b.workspace.as_str(), "8a81b09d5e8c6f27015e8d6c3f4a0b21");
    }

    #[cfg_attr(
        not(feature = "simulator"),
        expect(
            irrefutable_let_patterns,
            reason = "a tenant is the only connection then"
        )
    )]
    #[test]
    fn oauth_token_url_defaults_from_the_region() {
        let text = format!(
            "name: n\nconnection:\n  region: us1\n  auth: {{kind: oauth, client_id: c, refresh_token: {{env: RT}}, client_secret: {{env: CS}}}}\ndefaults:\n  {IDS}\nsteps: [{{id: a, uses: anaplan/action, with: {{id: '117000000001'}}}}]\n"
        );
        let w = load_str(&text, Path::new("wf.yaml")).unwrap();
        let Connection::Anaplan {
            oauth_token_url,
            auth,
            ..
        } = &w.connection
        else {
            panic!()
        };
        assert_eq!(
            oauth_token_url.as_ref().map(url::Url::as_str),
            // us1's OAuth host is us1a (issue 11: Anaplan's allowlist page).
            Some("https://us1a.app.anaplan.com/oauth/token")
        );
        assert!(
            matches!(auth, AuthSpec::OAuth { refresh_token: SecretSource::Env(v), client_secret: Some(SecretSource::Env(s)), .. } if v == "RT" && s == "CS")
        );
    }

    #[cfg(feature = "simulator")]
    #[test]
    fn simulator_defaults_to_the_built_in_scenario() {
        let text = format!(
            "name: n\nconnection: {{simulator: }}\ndefaults:\n  {IDS}\n  poll: {{min_interval: 50ms}}\nsteps: [{{id: a, uses: anaplan/action, with: {{id: '117000000001'}}}}]\n"
        );
        let w = load_str(&text, Path::new("wf.yaml")).unwrap();
        let Connection::Simulator { scenario, speed } = &w.connection else {
            panic!()
        };
        assert_eq!(*speed, 1.0);
        assert_eq!(
            scenario.workspaces.len(),
            runwait_sim::Scenario::builtin().workspaces.len()
        );
        assert_eq!(w.poll.min_interval, Duration::from_millis(50));
    }

    #[test]
    fn learning_from_past_runs_can_be_turned_off() {
        for (poll, history) in [("{history: false}", false), ("{history: true}", true)] {
            let text = format!(
                "connection:\n  region: eu3\n  auth: {{kind: token, token: {{env: T}}}}\ndefaults:\n  {IDS}\n  poll: {poll}\n"
            );
            let (_dir, settings) = settings_file(&text);
            let settings = settings.unwrap();
            assert_eq!(settings.poll.history, history, "{poll}");
            let settings = settings
                .with_poll(None, Some(Duration::from_secs(90)))
                .unwrap();
            assert_eq!(settings.poll.history, history, "{poll}: kept by with_poll");
        }
        // A step may say otherwise than the defaults.
        let text = format!(
            "name: n\nconnection: {{region: eu3, auth: {{kind: token, token: {{env: T}}}}}}\ndefaults:\n  {IDS}\n  poll: {{history: false}}\nsteps:\n  - {{id: a, uses: anaplan/action, with: {{id: '117000000001'}}, poll: {{history: true}}}}\n  - {{id: b, uses: anaplan/action, with: {{id: '117000000001'}}}}\n"
        );
        let w = load_str(&text, Path::new("wf.yaml")).unwrap();
        assert!(!w.poll.history);
        let steps: Vec<_> = w.steps.iter().map(|s| s.poll_history).collect();
        assert_eq!(steps, [Some(true), None]);
        let spec: StepSpec = serde_json::from_str(
            r#"{"uses": "anaplan/action", "with": {"id": "117000000001"}, "poll": {"history": false}}"#,
        )
        .unwrap();
        assert!(!spec.poll_history(true), "a host's step");
        assert!(StepSpec::new(spec.uses, spec.with.clone()).poll_history(true));
    }

    /// A connection file written to a temporary directory, and the directory.
    fn settings_file(text: &str) -> (tempfile::TempDir, Result<Settings, WorkflowErrors>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connection.yaml");
        std::fs::write(&path, text).unwrap();
        let settings = load_settings(&path);
        (dir, settings)
    }

    #[test]
    fn a_connection_file_gives_one_step_workflows_its_defaults() {
        let text = format!(
            "connection:\n  region: eu3\n  auth: {{kind: token, token: {{env: T}}}}\ndefaults:\n  {IDS}\n  locale: fr_FR\n  timeout: 2h\n  on_dump: fail\n  poll: {{min_interval: 10s}}\n"
        );
        let (_dir, settings) = settings_file(&text);
        let settings = settings.unwrap();
        assert_eq!(settings.name, None);
        assert_eq!(settings.poll.min_interval, Duration::from_secs(10));
        let spec = StepSpec::new(
            format::Uses::Process,
            format::With::id(ObjectId::new("118000000001")),
        );
        let w = settings.one_step("exec", "load", &spec).unwrap();
        let step = &w.steps[0];
        assert_eq!((w.name.as_str(), step.id.as_str()), ("exec", "load"));
        assert_eq!(step.workspace.as_str(), "8a81b09d5e8c6f27015e8d6c3f4a0b21");
        assert_eq!(step.locale, "fr_FR");
        assert_eq!(step.timeout, Some(Duration::from_secs(7200)));
        assert_eq!(step.policy.on_dump, DumpPolicy::Fail);
        let mut own = spec.clone();
        own.timeout = Some(Duration::from_secs(60));
        own.on_dump = Some(DumpPolicy::Ignore);
        let step = &settings.one_step("exec", "load", &own).unwrap().steps[0];
        assert_eq!(step.timeout, Some(Duration::from_secs(60)));
        assert_eq!(step.policy.on_dump, DumpPolicy::Ignore);
    }

    #[test]
    fn a_connection_file_without_defaults_needs_the_step_to_say_where() {
        let (_dir, settings) = settings_file(
            "name: n\nconnection: {region: us1, auth: {kind: token, token: {env: T}}}\n",
        );
        let settings = settings.unwrap();
        assert_eq!(settings.name.as_deref(), Some("n"));
        let spec = StepSpec::new(
            format::Uses::Action,
            format::With::id(ObjectId::new("117000000001")),
        );
        let err = settings.one_step("n", "a", &spec).unwrap_err();
        assert!(matches!(err, StepError::NoWorkspace), "{err}");
    }

    #[test]
    fn a_connection_file_is_checked_like_a_workflow_file() {
        for (text, expected) in [
            (
                "",
                "the file is empty: expected a mapping with `connection`",
            ),
            (
                "connection: {region: us1, auth: {kind: token, token: {env: T}}}\nsteps: []\n",
                "unknown key `steps`: expected one of name, connection, telemetry, defaults, state",
            ),
            ("name: n\n", "missing required key `connection`"),
            (
                "connection: {region: us1, auth: {kind: token, token: {env: T}}}\ndefaults: {poll: {min_interval: 1s}}\n",
                "defaults.poll.min_interval: must be at least 5s",
            ),
        ] {
            let (_dir, settings) = settings_file(text);
            let err = settings.unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn poll_limits_given_later_are_checked_as_the_file_s() {
        let (_dir, settings) =
            settings_file("connection: {region: us1, auth: {kind: token, token: {env: T}}}\n");
        let settings = settings.unwrap();
        let secs = Duration::from_secs;
        let err = settings.clone().with_poll(Some(secs(1)), None).unwrap_err();
        assert_eq!(err, model::PollError::BelowFloor);
        assert_eq!(err.key(), "min_interval");
        let err = (settings.clone().with_poll(Some(secs(30)), Some(secs(10)))).unwrap_err();
        assert_eq!(err, model::PollError::MaxBelowMin(secs(30)));
        assert_eq!(err.key(), "max_interval");
        let poll = settings.with_poll(Some(secs(1200)), None).unwrap().poll;
        assert_eq!(
            (poll.min_interval, poll.max_interval),
            (secs(1200), secs(1200))
        );
    }

    #[test]
    fn errors_display_one_per_line() {
        let err = load_str("name: [x]\nsteps: {}\n", Path::new("w.yaml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "w.yaml:1:1: missing required key `connection`\nw.yaml:1:7: name: expected a string, found a list\nw.yaml:2:8: steps: expected a list of steps, found a mapping"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "~",
            "[",
            "{a: *b}",
            "- - - -",
            "name: \0",
            ":",
            "? [a]\n: b",
            "steps: [[[[[]]]]]",
            "a: &x [*x]",
            "\u{feff}name: x",
            "steps:\n  - needs: [a, a, a]\n    id: a",
        ] {
            assert!(load_str(text, Path::new("g.yaml")).is_err(), "{text:?}");
        }
    }
}
