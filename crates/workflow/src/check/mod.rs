//! The second phase of loading: the parsed tree to the typed [`Workflow`], collecting every
//! problem with its position instead of stopping at the first. Each function checks one
//! part of the format and returns `None` when that part is unusable; the workflow is built
//! only when no error was found anywhere.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use runwait_core::{ModelId, OutcomePolicy, WorkspaceId};

use crate::Diagnostic;
use crate::format::{self, fields_of, variants_of};
use crate::model::{Connection, PollSettings, Settings, StepDefaults, TelemetrySettings, Workflow};
use crate::tree::{Node, Value};

mod connection;
mod defaults;
mod needs;
mod steps;
mod typed;

#[cfg(feature = "simulator")]
mod simulator;

#[cfg(feature = "simulator")]
pub(crate) use self::simulator::scenario;

/// The keys of each mapping, from the typed definitions (in declaration order).
fn top_keys() -> &'static [&'static str] {
    fields_of::<format::WorkflowFile>()
}

/// `auth.kind` and the keys each kind takes besides `kind`.
fn auth_kinds() -> [(&'static str, &'static [&'static str]); 4] {
    [
        ("basic", fields_of::<format::BasicAuthFile>()),
        ("certificate", fields_of::<format::CertificateAuthFile>()),
        ("token", fields_of::<format::TokenAuthFile>()),
        ("oauth", fields_of::<format::OAuthFile>()),
    ]
}

/// The keys of `auth:`: `kind` and those of every kind.
fn auth_keys() -> Vec<&'static str> {
    let kinds = auth_kinds();
    let own = kinds.iter().flat_map(|k| k.1.iter().copied());
    std::iter::once("kind").chain(own).collect()
}

/// The names of an enum's values as the file writes them, each with its value.
fn choices<'de, T: serde::Deserialize<'de>, V: Copy>(values: &[V]) -> Vec<(&'static str, V)> {
    variants_of::<T>()
        .iter()
        .copied()
        .zip(values.iter().copied())
        .collect()
}

const DEFAULT_RATE: u32 = 10;

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

/// The sections a workflow file and a connection file share, as read.
struct Common {
    connection: Option<Connection>,
    telemetry: Option<TelemetrySettings>,
    defaults: Defaults,
    poll: Option<PollSettings>,
    rate: Option<u32>,
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
        let f = self.top(root, "`name`, `connection` and `steps`", top_keys())?;
        let name = self.required(&f, "name").and_then(|n| self.text(n, "name"));
        let common = self.common(&f);
        let steps = match self.required(&f, "steps") {
            Some(n) => self.steps(n, &common.defaults),
            None => None,
        };
        if !self.errors.is_empty() {
            return None;
        }
        Some(Workflow {
            name: name?,
            source: self.file.clone(),
            connection: common.connection?,
            telemetry: common.telemetry?,
            steps: steps?,
            rate_per_second: common.rate?,
            poll: common.poll?,
        })
    }

    /// A connection file: a workflow file without `steps:` (and `name:` optional); `None`
    /// when anything is wrong.
    pub(crate) fn settings(&mut self, root: &Node) -> Option<Settings> {
        let keys: Vec<&str> = top_keys()
            .iter()
            .copied()
            .filter(|k| *k != "steps")
            .collect();
        let f = self.top(root, "`connection`", &keys)?;
        let name = match f.get("name") {
            Some(n) => Some(self.text(n, "name")?),
            None => None,
        };
        let common = self.common(&f);
        if !self.errors.is_empty() {
            return None;
        }
        let d = common.defaults;
        Some(Settings {
            name,
            source: self.file.clone(),
            connection: common.connection?,
            telemetry: common.telemetry?,
            defaults: StepDefaults {
                workspace: d.workspace.flatten(),
                model: d.model.flatten(),
                locale: d.locale,
                timeout: d.timeout,
                policy: d.policy,
            },
            rate_per_second: common.rate?,
            poll: common.poll?,
        })
    }

    /// The top-level mapping, with the keys it may have (`expected` names those it needs).
    fn top<'n>(&mut self, root: &'n Node, expected: &str, keys: &[&str]) -> Option<Fields<'n>> {
        if root.value == Value::Null {
            let message = format!("the file is empty: expected a mapping with {expected}");
            self.error(root, "", message);
            return None;
        }
        self.fields(root, "", "a workflow", keys)
    }

    /// What a workflow file and a connection file share: `connection:`, `telemetry:`,
    /// `defaults:`.
    fn common(&mut self, f: &Fields<'_>) -> Common {
        let (connection, simulator) = match self.required(f, "connection") {
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
        Common {
            connection,
            telemetry,
            defaults,
            poll,
            rate,
        }
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
}
