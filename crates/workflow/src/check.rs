//! The second phase of loading: the parsed tree to the typed [`Workflow`], collecting every
//! problem with its position instead of stopping at the first. Each function checks one
//! part of the format and returns `None` when that part is unusable; the workflow is built
//! only when no error was found anywhere.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use runwait_anaplan::{EncodedDataFormat, Endpoints, MappingParameter, TaskKind, is_loopback};
use runwait_core::{
    DumpPolicy, ModelId, ObjectId, ObjectKind, OutcomePolicy, UnsuccessfulWithoutEvidencePolicy,
    WorkspaceId,
};
use runwait_sim::Scenario;

use super::Diagnostic;
use super::de;
use super::env::is_var_name;
use super::model::{
    AuthSpec, Condition, Connection, ObjectRef, PollSettings, Protocol, SecretSource, StepSpec,
    TelemetrySettings, Workflow,
};
use super::tree::{Node, Value};

/// The keys of each mapping of the format (the schema test holds the schema to them).
pub(crate) const TOP_KEYS: &[&str] = &["name", "connection", "telemetry", "defaults", "steps"];
pub(crate) const CONNECTION_KEYS: &[&str] = &[
    "simulator",
    "region",
    "api_url",
    "auth_url",
    "auth",
    "oauth_token_url",
];
pub(crate) const SIMULATOR_KEYS: &[&str] = &["scenario", "speed"];
pub(crate) const TELEMETRY_KEYS: &[&str] = &["endpoint", "protocol", "service_name", "enabled"];
pub(crate) const DEFAULTS_KEYS: &[&str] = &[
    "workspace",
    "model",
    "locale",
    "timeout",
    "poll",
    "rate_per_second",
    "on_dump",
    "on_unsuccessful_without_evidence",
];
pub(crate) const POLL_KEYS: &[&str] = &["min_interval", "max_interval"];
pub(crate) const STEP_KEYS: &[&str] = &[
    "id",
    "uses",
    "with",
    "needs",
    "if",
    "timeout",
    "continue_on_error",
    "retries",
    "on_dump",
    "on_unsuccessful_without_evidence",
];
pub(crate) const WITH_KEYS: &[&str] = &[
    "id",
    "name",
    "workspace",
    "model",
    "locale",
    "mapping_parameters",
];
pub(crate) const MAPPING_KEYS: &[&str] = &["entity_type", "entity_name"];
pub(crate) const SECRET_KEYS: &[&str] = &["env", "file"];

/// `auth.kind` and the keys each kind takes besides `kind`.
pub(crate) const AUTH_KINDS: &[(&str, &[&str])] = &[
    ("basic", &["user", "password"]),
    (
        "certificate",
        &["certificate", "private_key", "passphrase", "format"],
    ),
    ("token", &["token"]),
    ("oauth", &["client_id", "refresh_token"]),
];

/// The keys of `auth:`: `kind` and those of every kind.
pub(crate) fn auth_keys() -> Vec<&'static str> {
    let own = AUTH_KINDS.iter().flat_map(|k| k.1.iter().copied());
    std::iter::once("kind").chain(own).collect()
}

/// `uses:` and the object kind it runs.
pub(crate) const USES: &[(&str, TaskKind, ObjectKind)] = &[
    ("anaplan/process", TaskKind::Process, ObjectKind::Process),
    ("anaplan/import", TaskKind::Import, ObjectKind::Import),
    ("anaplan/export", TaskKind::Export, ObjectKind::Export),
    ("anaplan/action", TaskKind::Action, ObjectKind::Action),
];

pub(crate) const CONDITIONS: &[(&str, Condition)] = &[
    ("success()", Condition::Success),
    ("failure()", Condition::Failure),
    ("always()", Condition::Always),
];

pub(crate) const PROTOCOLS: &[(&str, Protocol)] = &[
    ("grpc", Protocol::Grpc),
    ("http/protobuf", Protocol::HttpProtobuf),
];

pub(crate) const FORMATS: &[(&str, EncodedDataFormat)] =
    &[("v1", EncodedDataFormat::V1), ("v2", EncodedDataFormat::V2)];

/// Anaplan asks clients not to poll more often than this; only the simulator may.
const MIN_POLL_FLOOR: Duration = Duration::from_secs(5);
const DEFAULT_RATE: u32 = 10;
const DEFAULT_LOCALE: &str = "en_US";
const DURATION_HINT: &str = "a duration with a unit, like 90s, 2h or 1h30m";

/// Collects the diagnostics of one workflow file.
pub(crate) struct Checker {
    file: PathBuf,
    base: PathBuf,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Nodes already reported (a `${VAR}` that is not set): checking their unreplaced
    /// text would only add a misleading second error.
    reported: HashSet<(u32, u32)>,
}

/// The entries of a mapping that passed the key checks, with the mapping's path.
struct Fields<'n> {
    node: &'n Node,
    path: String,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.0 == key).map(|e| e.2)
    }

    fn key(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.0 == key).map(|e| e.1)
    }

    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn with_path(path: &str, message: impl std::fmt::Display) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

fn list(items: &[&str]) -> String {
    items.join(", ")
}

/// A step's own facts that `needs` checking uses after every step was read.
struct StepRef<'n> {
    id: Option<(String, &'n Node)>,
    needs: Vec<(String, &'n Node)>,
    path: String,
}

/// `defaults:` as read.
#[derive(Default)]
struct Defaults {
    /// `Some(None)`: given but invalid, which is reported once, there.
    workspace: Option<Option<WorkspaceId>>,
    model: Option<Option<ModelId>>,
    locale: Option<String>,
    timeout: Option<Duration>,
    policy: OutcomePolicy,
}

impl Checker {
    pub(crate) fn new(file: &Path) -> Self {
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        Checker {
            file: file.to_owned(),
            base,
            errors: Vec::new(),
            warnings: Vec::new(),
            reported: HashSet::new(),
        }
    }

    /// The errors and warnings, each in file order.
    pub(crate) fn finish(self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let file = self.file;
        let order = |d: &Diagnostic| (d.file != file, d.line_col);
        let mut errors = self.errors;
        let mut warnings = self.warnings;
        errors.sort_by_key(order);
        warnings.sort_by_key(order);
        (errors, warnings)
    }

    /// An error about the node at `node_at` (which then gets no further errors), found at
    /// `line_col`.
    pub(crate) fn node_error(
        &mut self,
        node_at: (u32, u32),
        line_col: (u32, u32),
        message: String,
    ) {
        self.reported.insert(node_at);
        self.error_at(line_col, message);
    }

    fn error_at(&mut self, line_col: (u32, u32), message: String) {
        self.errors.push(Diagnostic {
            file: self.file.clone(),
            line_col: Some(line_col),
            message,
        });
    }

    fn error(&mut self, node: &Node, path: &str, message: impl std::fmt::Display) {
        let at = (node.pos.line, node.pos.column);
        if !self.reported.contains(&at) {
            self.error_at(at, with_path(path, message));
        }
    }

    fn warn(&mut self, node: &Node, path: &str, message: impl std::fmt::Display) {
        self.warnings.push(Diagnostic {
            file: self.file.clone(),
            line_col: Some((node.pos.line, node.pos.column)),
            message: format!("warning: {}", with_path(path, message)),
        });
    }

    /// The whole file; `None` when anything is wrong (the errors say what).
    pub(crate) fn workflow(&mut self, root: &Node) -> Option<Workflow> {
        if root.value == Value::Null {
            self.error(
                root,
                "",
                "the file is empty: expected a mapping with `name`, `connection` and `steps`",
            );
            return None;
        }
        let f = self.fields(root, "", "a workflow", TOP_KEYS)?;
        let name = self.required(&f, "name").and_then(|n| self.text(n, "name"));
        let (connection, simulator) = match self.required(&f, "connection") {
            Some(n) => self.connection(n),
            None => (None, false),
        };
        let telemetry = match f.get("telemetry") {
            Some(n) => self.telemetry(n),
            None => Some(TelemetrySettings::default()),
        };
        let (defaults, poll, rate) = match f.get("defaults") {
            Some(n) => self.defaults(n, simulator),
            None => (
                Defaults::default(),
                Some(PollSettings::default()),
                Some(DEFAULT_RATE),
            ),
        };
        let steps = match self.required(&f, "steps") {
            Some(n) => self.steps(n, &defaults),
            None => None,
        };
        if !self.errors.is_empty() {
            return None;
        }
        Some(Workflow {
            name: name?,
            source: self.file.clone(),
            connection: connection?,
            telemetry: telemetry?,
            steps: steps?,
            rate_per_second: rate?,
            poll: poll?,
        })
    }

    // ---- mappings and scalars ----

    /// Checks that `node` is a mapping whose keys are all in `allowed`, each once.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node,
                path,
                format!(
                    "expected {what} (a mapping with keys {}), found {}",
                    list(allowed),
                    node.describe()
                ),
            );
            return None;
        };
        let mut seen: HashMap<&str, &Node> = HashMap::new();
        let mut kept = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                self.error(
                    key,
                    path,
                    format!("expected a key name, found {}", key.describe()),
                );
                continue;
            };
            if let Some(first) = seen.get(name) {
                let at = format!(
                    "duplicate key `{name}` (first at line {}, column {})",
                    first.pos.line, first.pos.column
                );
                self.error(key, path, at);
                continue;
            }
            seen.insert(name, key);
            if !allowed.contains(&name) {
                self.error(
                    key,
                    path,
                    format!(
                        "unknown key `{}`: expected one of {}",
                        name.escape_debug(),
                        list(allowed)
                    ),
                );
                continue;
            }
            kept.push((name, key, value));
        }
        Some(Fields {
            node,
            path: path.to_owned(),
            entries: kept,
        })
    }

    fn required<'n>(&mut self, f: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let found = f.get(key);
        if found.is_none() {
            self.error(f.node, &f.path, format!("missing required key `{key}`"));
        }
        found
    }

    /// A non-empty string.
    fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.as_str() {
            Some("") => {
                self.error(node, path, "expected a non-empty string");
                None
            }
            Some(s) => Some(s.to_owned()),
            None => {
                self.error(
                    node,
                    path,
                    format!("expected a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, node: &Node, path: &str, choices: &[(&str, T)]) -> Option<T> {
        self.entry(node, path, choices).map(|c| c.1)
    }

    /// [`choice`](Self::choice), with the name that was chosen.
    fn entry<'c, T>(
        &mut self,
        node: &Node,
        path: &str,
        choices: &'c [(&str, T)],
    ) -> Option<&'c (&'c str, T)> {
        let found = node
            .as_str()
            .and_then(|s| choices.iter().find(|c| c.0 == s));
        if found.is_none() {
            let expected: Vec<&str> = choices.iter().map(|c| c.0).collect();
            self.error(
                node,
                path,
                format!(
                    "expected one of {}, found {}",
                    list(&expected),
                    node.describe()
                ),
            );
        }
        found
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let problem = match &node.value {
            Value::Str { text, .. } => match humantime::parse_duration(text.trim()) {
                Ok(d) if d.is_zero() => "must be longer than 0s".to_owned(),
                Ok(d) => return Some(d),
                Err(e) => format!(
                    "`{}` is not a duration ({e}): expected {DURATION_HINT}",
                    text.escape_debug()
                ),
            },
            Value::Int(i) => format!("`{i}` has no unit: expected {DURATION_HINT}"),
            _ => format!("expected {DURATION_HINT}, found {}", node.describe()),
        };
        self.error(node, path, problem);
        None
    }

    /// An integer, also from a string that `${VAR}` produced.
    fn integer(&mut self, node: &Node, path: &str, min: i128) -> Option<u32> {
        let value = match &node.value {
            Value::Int(i) => Some(*i),
            Value::Str {
                text,
                substituted: true,
            } => text.trim().parse::<i128>().ok(),
            _ => None,
        };
        let Some(value) = value else {
            self.error(
                node,
                path,
                format!("expected an integer, found {}", node.describe()),
            );
            return None;
        };
        if value < min {
            self.error(node, path, format!("must be {min} or more, found {value}"));
            return None;
        }
        u32::try_from(value).ok().or_else(|| {
            self.error(node, path, format!("{value} is too large"));
            None
        })
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        let value = match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str {
                text,
                substituted: true,
            } => text.trim().parse().ok(),
            _ => None,
        };
        if value.is_none() {
            self.error(
                node,
                path,
                format!("expected true or false, found {}", node.describe()),
            );
        }
        value
    }

    /// A finite number greater than 0.
    fn positive(&mut self, node: &Node, path: &str) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        let value = match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str {
                text,
                substituted: true,
            } => text.trim().parse().ok(),
            _ => None,
        };
        match value {
            Some(v) if v.is_finite() && v > 0.0 => Some(v),
            Some(v) => {
                self.error(node, path, format!("must be greater than 0, found {v}"));
                None
            }
            None => {
                self.error(
                    node,
                    path,
                    format!(
                        "expected a number greater than 0, found {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// `new(text)` when Anaplan would take it (`well_formed`); else an error expecting `what`.
    fn id<T>(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        new: fn(String) -> T,
        well_formed: fn(&T) -> bool,
    ) -> Option<T> {
        let id = node.as_str().map(|s| new(s.to_owned())).filter(well_formed);
        if id.is_none() {
            self.error(
                node,
                path,
                format!("expected {what}, found {}", node.describe()),
            );
        }
        id
    }

    fn workspace_id(&mut self, node: &Node, path: &str) -> Option<WorkspaceId> {
        let what = "a workspace id: 32 lowercase hex digits";
        self.id(
            node,
            path,
            what,
            WorkspaceId::new,
            WorkspaceId::is_well_formed,
        )
    }

    fn model_id(&mut self, node: &Node, path: &str) -> Option<ModelId> {
        let what = "a model id: 32 uppercase hex digits";
        self.id(node, path, what, ModelId::new, ModelId::is_well_formed)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    /// A file the runner reads later: warn now when it is missing, as the workflow may be
    /// validated on another machine than the one that runs it.
    fn later_file(&mut self, node: &Node, path: &str) -> Option<PathBuf> {
        let text = self.text(node, path)?;
        let resolved = self.resolve(&text);
        if !resolved.exists() {
            self.warn(
                node,
                path,
                format!(
                    "file `{}` does not exist (yet); it is read when the workflow runs",
                    resolved.display()
                ),
            );
        }
        Some(resolved)
    }

    /// `{ env: VAR }` or `{ file: PATH }`, never the secret itself (whose value is not
    /// echoed in the message).
    fn secret(&mut self, node: &Node, path: &str) -> Option<SecretSource> {
        if !matches!(node.value, Value::Map(_)) {
            self.error(
                node,
                path,
                format!(
                    "secrets must come from env or file: write `{{ env: VARIABLE }}` or `{{ file: PATH }}`, not {}",
                    node.kind_name()
                ),
            );
            return None;
        }
        let f = self.fields(node, path, "a secret reference", SECRET_KEYS)?;
        match (f.get("env"), f.get("file")) {
            (Some(_), Some(_)) => {
                let key = f.key("file").unwrap_or(node);
                self.error(key, path, "give `env` or `file`, not both");
                None
            }
            (None, None) => {
                self.error(
                    node,
                    path,
                    "expected `{ env: VARIABLE }` or `{ file: PATH }`",
                );
                None
            }
            (Some(var), None) => {
                let name = self.text(var, &f.path("env"))?;
                if is_var_name(&name) {
                    Some(SecretSource::Env(name))
                } else {
                    self.error(
                        var,
                        &f.path("env"),
                        format!(
                            "`{}` is not an environment variable name: expected letters, digits and `_`",
                            name.escape_debug()
                        ),
                    );
                    None
                }
            }
            (None, Some(file)) => self
                .later_file(file, &f.path("file"))
                .map(SecretSource::File),
        }
    }

    // ---- connection ----

    /// The connection, and whether it is the simulator (which may poll faster).
    fn connection(&mut self, node: &Node) -> (Option<Connection>, bool) {
        let Some(f) = self.fields(node, "connection", "a connection", CONNECTION_KEYS) else {
            return (None, false);
        };
        if let Some(sim) = f.get("simulator") {
            for (key, key_node, _) in &f.entries {
                if *key != "simulator" {
                    self.error(
                        key_node,
                        "connection",
                        format!("`{key}` cannot be combined with `simulator` (the simulator is on loopback, with its own users)"),
                    );
                }
            }
            return (self.simulator(sim), true);
        }
        (self.anaplan(&f), false)
    }

    fn simulator(&mut self, node: &Node) -> Option<Connection> {
        let path = "connection.simulator";
        if node.value == Value::Null {
            return Some(Connection::Simulator {
                scenario: Box::new(Scenario::builtin()),
                speed: 1.0,
            });
        }
        let f = self.fields(node, path, "simulator settings", SIMULATOR_KEYS)?;
        let speed = match f.get("speed") {
            Some(n) => self.positive(n, &f.path("speed")),
            None => Some(1.0),
        };
        let scenario = match f.get("scenario") {
            None => Some(Scenario::builtin()),
            Some(n) => self.scenario_ref(n, &f.path("scenario")),
        };
        Some(Connection::Simulator {
            scenario: Box::new(scenario?),
            speed: speed?,
        })
    }

    /// `scenario:` a file (relative to the workflow) or an inline mapping.
    fn scenario_ref(&mut self, node: &Node, path: &str) -> Option<Scenario> {
        let (parsed, file) = match &node.value {
            Value::Map(_) => (scenario(node, &self.file, path, true), None),
            Value::Str { text, .. } => {
                let file = self.resolve(text);
                let text = match std::fs::read_to_string(&file) {
                    Ok(text) => text,
                    Err(e) => {
                        self.error(
                            node,
                            path,
                            format!("cannot read the scenario file `{}`: {e}", file.display()),
                        );
                        return None;
                    }
                };
                let parsed = match crate::parse(&text, &file) {
                    Ok(root) => scenario(&root, &file, "", false),
                    Err(e) => Err(e.errors),
                };
                (parsed, Some(file))
            }
            _ => {
                self.error(
                    node,
                    path,
                    format!(
                        "expected a scenario file path or an inline scenario mapping, found {}",
                        node.describe()
                    ),
                );
                return None;
            }
        };
        match parsed {
            Ok(s) => Some(s),
            Err(errors) => {
                if let Some(file) = file {
                    self.error(
                        node,
                        path,
                        format!("the scenario file `{}` is invalid", file.display()),
                    );
                }
                self.errors.extend(errors);
                None
            }
        }
    }

    fn anaplan(&mut self, f: &Fields<'_>) -> Option<Connection> {
        let region = f.get("region");
        let urls = (f.get("api_url"), f.get("auth_url"));
        let endpoints = match (region, urls) {
            (Some(_), (Some(_), _) | (_, Some(_))) => {
                let key = f.key("api_url").or(f.key("auth_url")).unwrap_or(f.node);
                self.error(
                    key,
                    "connection",
                    "`region` and `api_url`/`auth_url` are exclusive: give a region, or both URLs",
                );
                None
            }
            (Some(r), (None, None)) => {
                let name = self.text(r, "connection.region")?;
                self.endpoints(r, "connection.region", Endpoints::region(&name))
            }
            (None, (Some(api), Some(auth))) => {
                let api_text = self.text(api, "connection.api_url");
                let auth_text = self.text(auth, "connection.auth_url");
                let (api_text, auth_text) = (api_text?, auth_text?);
                self.endpoints(api, "connection", Endpoints::custom(&api_text, &auth_text))
            }
            (None, (Some(_), None)) => {
                self.error(f.node, "connection", "`api_url` needs `auth_url` too");
                None
            }
            (None, (None, Some(_))) => {
                self.error(f.node, "connection", "`auth_url` needs `api_url` too");
                None
            }
            (None, (None, None)) => {
                self.error(
                    f.node,
                    "connection",
                    "expected `simulator:`, `region:`, or `api_url:` with `auth_url:`",
                );
                None
            }
        };
        let auth = match self.required(f, "auth") {
            Some(n) => self.auth(n),
            None => None,
        };
        // From the text of `kind`, so that a broken `auth:` still gets this check.
        let oauth = f
            .get("auth")
            .and_then(|a| a.get("kind"))
            .and_then(Node::as_str)
            == Some("oauth");
        let oauth_token_url = match (f.get("oauth_token_url"), oauth) {
            (Some(n), false) => {
                if f.get("auth").and_then(|a| a.get("kind")).is_some() {
                    self.error(
                        f.key("oauth_token_url").unwrap_or(n),
                        "connection",
                        "`oauth_token_url` is only used with `auth.kind: oauth`",
                    );
                }
                None
            }
            (Some(n), true) => Some(self.url(n, "connection.oauth_token_url")?),
            (None, true) => match region.and_then(Node::as_str) {
                // Every known region makes a URL; an unknown one was reported above.
                Some(r) => Endpoints::oauth_token_url(r).ok(),
                None => {
                    self.error(
                        f.node,
                        "connection",
                        "`oauth_token_url` is required with `kind: oauth` and explicit `api_url`/`auth_url`",
                    );
                    None
                }
            },
            (None, false) => None,
        };
        Some(Connection::Anaplan {
            endpoints: endpoints?,
            auth: auth?,
            oauth_token_url,
        })
    }

    fn endpoints(
        &mut self,
        node: &Node,
        path: &str,
        built: Result<Endpoints, runwait_anaplan::Error>,
    ) -> Option<Endpoints> {
        match built {
            Ok(e) => Some(e),
            Err(runwait_anaplan::Error::Config(message)) => {
                self.error(node, path, message);
                None
            }
            Err(other) => {
                self.error(node, path, other);
                None
            }
        }
    }

    fn url(&mut self, node: &Node, path: &str) -> Option<url::Url> {
        let text = self.text(node, path)?;
        let problem = match url::Url::parse(&text) {
            Ok(u) if u.scheme() == "https" => return Some(u),
            Ok(u) if u.scheme() == "http" && is_loopback(&u) => return Some(u),
            Ok(_) => "expected an https:// URL (http:// only for loopback)".to_owned(),
            Err(e) => format!("`{}` is not a URL: {e}", text.escape_debug()),
        };
        self.error(node, path, problem);
        None
    }

    fn auth(&mut self, node: &Node) -> Option<AuthSpec> {
        let path = "connection.auth";
        let f = self.fields(node, path, "an auth mapping", &auth_keys())?;
        let (kind, own) = match self.required(&f, "kind") {
            Some(n) => *self.entry(n, &f.path("kind"), AUTH_KINDS)?,
            None => return None,
        };
        let mut stray = false;
        for (key, key_node, _) in &f.entries {
            if *key != "kind" && !own.contains(key) {
                self.error(
                    key_node,
                    path,
                    format!(
                        "`{key}` is not used with `kind: {kind}`, which takes {}",
                        list(own)
                    ),
                );
                stray = true;
            }
        }
        let spec = match kind {
            "basic" => {
                let user = self
                    .required(&f, "user")
                    .and_then(|n| self.text(n, &f.path("user")));
                let password = self
                    .required(&f, "password")
                    .and_then(|n| self.secret(n, &f.path("password")));
                AuthSpec::Basic {
                    user: user?,
                    password: password?,
                }
            }
            "certificate" => {
                let certificate = self
                    .required(&f, "certificate")
                    .and_then(|n| self.later_file(n, &f.path("certificate")));
                let private_key = self
                    .required(&f, "private_key")
                    .and_then(|n| self.later_file(n, &f.path("private_key")));
                let passphrase = match f.get("passphrase") {
                    Some(n) => Some(self.secret(n, &f.path("passphrase"))?),
                    None => None,
                };
                let format = match f.get("format") {
                    Some(n) => self.choice(n, &f.path("format"), FORMATS),
                    None => Some(EncodedDataFormat::V2),
                };
                AuthSpec::Certificate {
                    certificate: certificate?,
                    private_key: private_key?,
                    passphrase,
                    format: format?,
                }
            }
            "token" => AuthSpec::Token {
                token: self
                    .required(&f, "token")
                    .and_then(|n| self.secret(n, &f.path("token")))?,
            },
            _ => {
                let client_id = self
                    .required(&f, "client_id")
                    .and_then(|n| self.text(n, &f.path("client_id")));
                let refresh_token = self
                    .required(&f, "refresh_token")
                    .and_then(|n| self.secret(n, &f.path("refresh_token")));
                AuthSpec::OAuth {
                    client_id: client_id?,
                    refresh_token: refresh_token?,
                }
            }
        };
        (!stray).then_some(spec)
    }

    // ---- telemetry and defaults ----

    fn telemetry(&mut self, node: &Node) -> Option<TelemetrySettings> {
        let f = self.fields(node, "telemetry", "telemetry settings", TELEMETRY_KEYS)?;
        let mut settings = TelemetrySettings::default();
        let mut ok = true;
        if let Some(n) = f.get("endpoint") {
            settings.endpoint = self.url_text(n, &f.path("endpoint"));
            ok &= settings.endpoint.is_some();
        }
        if let Some(n) = f.get("protocol") {
            settings.protocol = self.choice(n, &f.path("protocol"), PROTOCOLS);
            ok &= settings.protocol.is_some();
        }
        if let Some(n) = f.get("service_name") {
            settings.service_name = self.text(n, &f.path("service_name"));
            ok &= settings.service_name.is_some();
        }
        if let Some(n) = f.get("enabled") {
            settings.enabled = self.boolean(n, &f.path("enabled"));
            ok &= settings.enabled.is_some();
        }
        ok.then_some(settings)
    }

    /// An OTLP endpoint: any http(s) URL (a collector is often on another host over http).
    fn url_text(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = self.text(node, path)?;
        match url::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(text),
            _ => {
                self.error(
                    node,
                    path,
                    format!(
                        "`{}` is not an http:// or https:// URL",
                        text.escape_debug()
                    ),
                );
                None
            }
        }
    }

    /// `defaults:`: the valid values (each invalid one is reported here), the poll
    /// settings and the rate.
    fn defaults(
        &mut self,
        node: &Node,
        simulator: bool,
    ) -> (Defaults, Option<PollSettings>, Option<u32>) {
        let Some(f) = self.fields(node, "defaults", "defaults", DEFAULTS_KEYS) else {
            // Unusable defaults are reported once; the steps must not each add theirs.
            let unknown = Defaults {
                workspace: Some(None),
                model: Some(None),
                ..Defaults::default()
            };
            return (unknown, None, None);
        };
        let mut d = Defaults {
            workspace: f
                .get("workspace")
                .map(|n| self.workspace_id(n, &f.path("workspace"))),
            model: f.get("model").map(|n| self.model_id(n, &f.path("model"))),
            // An invalid one is reported here; the steps' fallback does not matter then.
            policy: self
                .policy(&f, OutcomePolicy::default())
                .unwrap_or_default(),
            ..Defaults::default()
        };
        if let Some(n) = f.get("locale") {
            d.locale = self.text(n, &f.path("locale"));
        }
        if let Some(n) = f.get("timeout") {
            d.timeout = self.duration(n, &f.path("timeout"));
        }
        let poll = match f.get("poll") {
            Some(n) => self.poll(n, simulator),
            None => Some(PollSettings::default()),
        };
        let rate = match f.get("rate_per_second") {
            Some(n) => self.integer(n, &f.path("rate_per_second"), 1),
            None => Some(DEFAULT_RATE),
        };
        (d, poll, rate)
    }

    /// `on_dump` and `on_unsuccessful_without_evidence` of a step or the defaults, those of
    /// `fallback` when absent; `None` when one is invalid.
    fn policy(&mut self, f: &Fields<'_>, fallback: OutcomePolicy) -> Option<OutcomePolicy> {
        let on_dump = match f.get("on_dump") {
            Some(n) => self.choice(n, &f.path("on_dump"), &DumpPolicy::NAMES),
            None => Some(fallback.on_dump),
        };
        let key = "on_unsuccessful_without_evidence";
        let evidence = match f.get(key) {
            Some(n) => self.choice(n, &f.path(key), &UnsuccessfulWithoutEvidencePolicy::NAMES),
            None => Some(fallback.on_unsuccessful_without_evidence),
        };
        Some(OutcomePolicy {
            on_dump: on_dump?,
            on_unsuccessful_without_evidence: evidence?,
        })
    }

    fn poll(&mut self, node: &Node, simulator: bool) -> Option<PollSettings> {
        let f = self.fields(node, "defaults.poll", "poll settings", POLL_KEYS)?;
        let fallback = PollSettings::default();
        let min = match f.get("min_interval") {
            Some(n) => {
                let min = self.duration(n, &f.path("min_interval"))?;
                if min < MIN_POLL_FLOOR && !simulator {
                    self.error(
                        n,
                        &f.path("min_interval"),
                        "must be at least 5s: Anaplan asks clients not to poll more often (shorter intervals are for the simulator)",
                    );
                    return None;
                }
                min
            }
            None => fallback.min_interval,
        };
        let max = match f.get("max_interval") {
            Some(n) => {
                let max = self.duration(n, &f.path("max_interval"))?;
                if max < min {
                    self.error(
                        n,
                        &f.path("max_interval"),
                        format!(
                            "must not be shorter than min_interval ({})",
                            humantime::format_duration(min)
                        ),
                    );
                    return None;
                }
                max
            }
            None => fallback.max_interval.max(min),
        };
        Some(PollSettings {
            min_interval: min,
            max_interval: max,
        })
    }

    // ---- steps ----

    fn steps(&mut self, node: &Node, defaults: &Defaults) -> Option<Vec<StepSpec>> {
        let Value::Seq(items) = &node.value else {
            self.error(
                node,
                "steps",
                format!("expected a list of steps, found {}", node.describe()),
            );
            return None;
        };
        if items.is_empty() {
            self.error(node, "steps", "expected at least one step");
            return None;
        }
        let mut specs = Vec::new();
        let mut refs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("steps[{i}]");
            let (spec, step_ref) = self.step(item, &path, defaults);
            specs.push(spec);
            refs.push(step_ref);
        }
        self.check_needs(&refs);
        specs.into_iter().collect()
    }

    fn step<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        defaults: &Defaults,
    ) -> (Option<StepSpec>, StepRef<'n>) {
        let mut step_ref = StepRef {
            id: None,
            needs: Vec::new(),
            path: path.to_owned(),
        };
        let Some(f) = self.fields(node, path, "a step", STEP_KEYS) else {
            return (None, step_ref);
        };
        let id = self.required(&f, "id").and_then(|n| {
            let id = self.text(n, &f.path("id"))?;
            if id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                step_ref.id = Some((id.clone(), n));
                Some(id)
            } else {
                self.error(
                    n,
                    &f.path("id"),
                    format!(
                        "`{}` is not a step id: expected letters, digits, `_` and `-`",
                        id.escape_debug()
                    ),
                );
                None
            }
        });
        let uses_names: Vec<(&str, usize)> =
            USES.iter().enumerate().map(|(i, u)| (u.0, i)).collect();
        let uses = self
            .required(&f, "uses")
            .and_then(|n| self.choice(n, &f.path("uses"), &uses_names))
            .map(|i| USES[i]);
        let target = match self.required(&f, "with") {
            Some(n) => self.with(n, &f.path("with"), uses, defaults),
            None => None,
        };
        if let Some(n) = f.get("needs") {
            step_ref.needs = self.needs(n, &f.path("needs"));
        }
        let condition = match f.get("if") {
            Some(n) => self.choice(n, &f.path("if"), CONDITIONS),
            None => Some(Condition::Success),
        };
        let timeout = match f.get("timeout") {
            Some(n) => self.duration(n, &f.path("timeout")).map(Some),
            None => Some(defaults.timeout),
        };
        let continue_on_error = match f.get("continue_on_error") {
            Some(n) => self.boolean(n, &f.path("continue_on_error")),
            None => Some(false),
        };
        let retries = match f.get("retries") {
            Some(n) => self.integer(n, &f.path("retries"), 0),
            None => Some(0),
        };
        let policy = self.policy(&f, defaults.policy);
        let spec = (|| {
            let target = target?;
            Some(StepSpec {
                id: id?,
                kind: uses?.1,
                workspace: target.workspace,
                model: target.model,
                object: target.object,
                locale: target.locale,
                mapping_parameters: target.mapping_parameters,
                needs: step_ref.needs.iter().map(|n| n.0.clone()).collect(),
                condition: condition?,
                timeout: timeout?,
                continue_on_error: continue_on_error?,
                retries: retries?,
                policy: policy?,
            })
        })();
        (spec, step_ref)
    }

    fn with(
        &mut self,
        node: &Node,
        path: &str,
        uses: Option<(&str, TaskKind, ObjectKind)>,
        defaults: &Defaults,
    ) -> Option<Target> {
        let f = self.fields(node, path, "the object to run", WITH_KEYS)?;
        let object = match (f.get("id"), f.get("name")) {
            (Some(_), Some(_)) => {
                let key = f.key("name").unwrap_or(node);
                self.error(key, path, "`id` and `name` are exclusive: give one of them");
                None
            }
            (None, None) => {
                self.error(node, path, "missing `id` or `name` of the object to run");
                None
            }
            (Some(n), None) => self.object_id(n, &f.path("id"), uses).map(ObjectRef::Id),
            (None, Some(n)) => self.text(n, &f.path("name")).map(ObjectRef::Name),
        };
        let workspace = match f.get("workspace") {
            Some(n) => self.workspace_id(n, &f.path("workspace")),
            None => defaults.workspace.clone().unwrap_or_else(|| {
                self.error(
                    node,
                    path,
                    "no workspace: set `with.workspace` or `defaults.workspace`",
                );
                None
            }),
        };
        let model = match f.get("model") {
            Some(n) => self.model_id(n, &f.path("model")),
            None => defaults.model.clone().unwrap_or_else(|| {
                self.error(node, path, "no model: set `with.model` or `defaults.model`");
                None
            }),
        };
        let locale = match f.get("locale") {
            Some(n) => self.text(n, &f.path("locale")),
            None => Some(
                defaults
                    .locale
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
            ),
        };
        let mapping_parameters = match (f.get("mapping_parameters"), uses) {
            (None, _) => Some(Vec::new()),
            (Some(_), Some((name, kind, ..))) if !kind.accepts_mapping_parameters() => {
                let key = f.key("mapping_parameters").unwrap_or(node);
                self.error(
                    key,
                    path,
                    format!(
                        "mapping parameters apply to processes and imports only, not to `{name}`"
                    ),
                );
                None
            }
            (Some(n), _) => self.mapping_parameters(n, &f.path("mapping_parameters")),
        };
        Some(Target {
            workspace: workspace?,
            model: model?,
            object: object?,
            locale: locale?,
            mapping_parameters: mapping_parameters?,
        })
    }

    /// 12 digits with the prefix of the step's kind; YAML integers are accepted.
    fn object_id(
        &mut self,
        node: &Node,
        path: &str,
        uses: Option<(&str, TaskKind, ObjectKind)>,
    ) -> Option<ObjectId> {
        let id = ObjectId::new(match &node.value {
            Value::Str { text, .. } => text.clone(),
            Value::Int(i) => i.to_string(),
            _ => String::new(),
        });
        let expected = match uses {
            Some((_, _, kind)) => format!(
                "{} {kind} id: 12 digits starting with {}",
                article(kind),
                kind.prefix()
            ),
            None => "an object id: 12 digits".to_owned(),
        };
        if !id.is_well_formed() {
            self.error(
                node,
                path,
                format!("expected {expected}, found {}", node.describe()),
            );
            return None;
        }
        match (uses, id.kind()) {
            (Some((name, _, want)), Some(found)) if found != want => {
                self.error(
                    node,
                    path,
                    format!(
                        "`{id}` is {} {found} id, but `uses: {name}` runs {expected}",
                        article(found)
                    ),
                );
                None
            }
            (_, None) => {
                self.error(
                    node,
                    path,
                    format!("`{id}` has no known prefix: expected {expected}"),
                );
                None
            }
            _ => Some(id),
        }
    }

    fn mapping_parameters(&mut self, node: &Node, path: &str) -> Option<Vec<MappingParameter>> {
        let Value::Seq(items) = &node.value else {
            self.error(
                node,
                path,
                format!(
                    "expected a list of {{ entity_type, entity_name }}, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut out = Some(Vec::new());
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let parameter = self
                .fields(item, &p, "a mapping parameter", MAPPING_KEYS)
                .and_then(|f| {
                    let entity_type = self
                        .required(&f, "entity_type")
                        .and_then(|n| self.text(n, &f.path("entity_type")));
                    let entity_name = self
                        .required(&f, "entity_name")
                        .and_then(|n| self.text(n, &f.path("entity_name")));
                    Some(MappingParameter {
                        entity_type: entity_type?,
                        entity_name: entity_name?,
                    })
                });
            match (parameter, out.as_mut()) {
                (Some(p), Some(list)) => list.push(p),
                _ => out = None,
            }
        }
        out
    }

    /// `needs:` a step id or a list of them, with their nodes for later messages.
    fn needs<'n>(&mut self, node: &'n Node, path: &str) -> Vec<(String, &'n Node)> {
        let items: Vec<&Node> = match &node.value {
            Value::Str { .. } => vec![node],
            Value::Seq(items) => items.iter().collect(),
            _ => {
                self.error(
                    node,
                    path,
                    format!(
                        "expected a step id or a list of step ids, found {}",
                        node.describe()
                    ),
                );
                return Vec::new();
            }
        };
        let mut out: Vec<(String, &Node)> = Vec::new();
        for item in items {
            if let Some(id) = self.text(item, path)
                && !out.iter().any(|(seen, _)| *seen == id)
            {
                out.push((id, item));
            }
        }
        out
    }

    /// Unique step ids, `needs` that name a step, and no cycles (each cycle named once).
    fn check_needs(&mut self, steps: &[StepRef<'_>]) {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            let Some((id, node)) = &s.id else { continue };
            match index.get(id.as_str()) {
                Some(&first) => {
                    let line = steps[first].id.as_ref().map_or(0, |f| f.1.pos.line);
                    self.error(
                        node,
                        &format!("{}.id", s.path),
                        format!("duplicate step id `{id}` (first at line {line})"),
                    );
                }
                None => {
                    index.insert(id, i);
                }
            }
        }
        let known: Vec<&str> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.id.as_ref().map(|id| (i, id.0.as_str())))
            .filter(|(i, id)| index.get(id) == Some(i))
            .map(|(_, id)| id)
            .collect();
        // Edges of the `needs` graph, each with the node that declares it.
        let mut edges: Vec<Vec<(usize, &Node)>> = vec![Vec::new(); steps.len()];
        for (i, s) in steps.iter().enumerate() {
            for (need, node) in &s.needs {
                match index.get(need.as_str()) {
                    Some(&j) => edges[i].push((j, node)),
                    None => self.error(
                        node,
                        &format!("{}.needs", s.path),
                        format!(
                            "unknown step `{}`: expected one of {}",
                            need.escape_debug(),
                            list(&known)
                        ),
                    ),
                }
            }
        }
        for cycle in cycles(&edges) {
            let names: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| steps[i].id.as_ref().map_or("?", |id| id.0.as_str()))
                .collect();
            let first = cycle[0];
            let next = cycle.get(1).copied().unwrap_or(first);
            let Some(&(_, node)) = edges[first].iter().find(|e| e.0 == next) else {
                continue;
            };
            self.error(
                node,
                &format!("{}.needs", steps[first].path),
                format!("cycle in needs: {}", names.join(" -> ")),
            );
        }
    }
}

/// What `with:` resolves to, with the defaults applied.
struct Target {
    workspace: WorkspaceId,
    model: ModelId,
    object: ObjectRef,
    locale: String,
    mapping_parameters: Vec<MappingParameter>,
}

fn article(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Import | ObjectKind::Export | ObjectKind::Action => "an",
        ObjectKind::File | ObjectKind::Process => "a",
    }
}

/// One cycle per group of steps that need each other, each starting at its first step in
/// file order. Iterative depth-first search, so a long chain of steps cannot overflow the
/// stack.
fn cycles(edges: &[Vec<(usize, &Node)>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut found = Vec::new();
    for start in 0..edges.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&(to, _)) = edges[node].get(*next) else {
                mark[node] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match mark[to] {
                Mark::New => {
                    mark[to] = Mark::Open;
                    stack.push((to, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|e| e.0 == to).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|e| e.0).collect();
                    let lowest = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|e| e.1)
                        .map_or(0, |e| e.0);
                    cycle.rotate_left(lowest);
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if seen.insert(key) {
                        found.push(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
    }
    found
}

/// A scenario from its tree (a file's root or the inline mapping), deserialized and
/// checked by the simulator's own rules. `at_node`: the simulator's rule violations
/// (which have no position of their own) point at `node`; otherwise they name the file.
pub(crate) fn scenario(
    node: &Node,
    file: &Path,
    path: &str,
    at_node: bool,
) -> Result<Scenario, Vec<Diagnostic>> {
    let diagnostic = |line_col, message: String| Diagnostic {
        file: file.to_owned(),
        line_col,
        message: with_path(path, message),
    };
    match de::from_node::<Scenario>(node) {
        Ok(s) => match s.validate() {
            Ok(()) => Ok(s),
            Err(e) => Err(vec![diagnostic(
                at_node.then_some((node.pos.line, node.pos.column)),
                e.to_string(),
            )]),
        },
        Err(e) => Err(vec![diagnostic(
            e.pos.map(|p| (p.line, p.column)),
            format!("invalid scenario: {}", e.message),
        )]),
    }
}
