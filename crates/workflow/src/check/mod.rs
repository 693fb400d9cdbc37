//! The second phase of loading: the parsed tree to the typed [`Workflow`], collecting every
//! problem with its position instead of stopping at the first. Each part of the file is
//! read through its typed definition in [`format`](crate::format) (`typed.rs`); the files
//! here add the rules that span fields, one concern each, and build the model. A function
//! returns `None` when its part is unusable; the workflow is built only when no error was
//! found anywhere.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runwait_core::{ModelId, OutcomePolicy, WorkspaceId};

use crate::Diagnostic;
use crate::de::Hidden;
use crate::format::{TOP_REQUIRED, TopFile};
use crate::model::{
    PollSettings, Settings, StateLocation, StepDefaults, TelemetrySettings, Workflow,
};
use crate::tree::{Node, Value};

mod connection;
mod defaults;
mod needs;
mod secrets;
mod steps;
mod typed;

#[cfg(feature = "simulator")]
mod simulator;

#[cfg(feature = "simulator")]
pub(crate) use self::simulator::scenario;

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
        let top = self.top(root, "`name`, `connection` and `steps`", &TOP_REQUIRED)?;
        let common = self.common(root, &top);
        let steps = match section(root, top.steps, "steps") {
            Some(n) => self.steps(n, &common.defaults),
            None => None,
        };
        if !self.errors.is_empty() {
            return None;
        }
        Some(Workflow {
            name: top.name?,
            source: self.file.clone(),
            connection: common.connection?,
            state: common.state?,
            telemetry: common.telemetry?,
            steps: steps?,
            rate_per_second: common.rate?,
            poll: common.poll?,
        })
    }

    /// A connection file: a workflow file without `steps:` (and `name:` optional); `None`
    /// when anything is wrong.
    pub(crate) fn settings(&mut self, root: &Node) -> Option<Settings> {
        let top = self.top(root, "`connection`", &["connection"])?;
        if let Some(key) = key_node(root, "steps") {
            let keys = crate::format::fields_of::<crate::format::WorkflowFile>();
            let allowed: Vec<&str> = keys.iter().copied().filter(|k| *k != "steps").collect();
            let message = format!(
                "unknown key `steps`: expected one of {} (a connection file has no steps)",
                list(&allowed)
            );
            self.error(key, "", message);
        }
        let common = self.common(root, &top);
        if !self.errors.is_empty() {
            return None;
        }
        let d = common.defaults;
        Some(Settings {
            name: top.name,
            source: self.file.clone(),
            connection: common.connection?,
            state: common.state?,
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

    /// The top level read through its type, with the keys it needs (`expected` names
    /// them for an empty file).
    fn top(&mut self, root: &Node, expected: &str, required: &[&str]) -> Option<TopFile> {
        if root.value == Value::Null {
            let message = format!("the file is empty: expected a mapping with {expected}");
            self.error(root, "", message);
            return None;
        }
        let (top, _) = self.typed_partly::<TopFile>(root, "")?;
        for key in required {
            if root.get(key).is_none() {
                self.error(root, "", format!("missing required key `{key}`"));
            }
        }
        Some(top)
    }

    /// What a workflow file and a connection file share: `connection:`, `state:`,
    /// `telemetry:`, `defaults:`.
    fn common(&mut self, root: &Node, top: &TopFile) -> Common {
        let (connection, simulator) = match section(root, top.connection, "connection") {
            Some(n) => self.connection(n),
            None => (None, false),
        };
        let state = match (&top.state, root.get("state")) {
            (Some(state), Some(n)) => self.state(state.clone(), n).map(Some),
            // Given, but its problem was reported.
            (None, Some(_)) => None,
            (_, None) => Some(None),
        };
        let telemetry = match section(root, top.telemetry, "telemetry") {
            Some(n) => self.telemetry(n),
            None => Some(TelemetrySettings::default()),
        };
        let (defaults, poll, rate) = match section(root, top.defaults, "defaults") {
            Some(n) => self.defaults(n, simulator),
            None => (
                Defaults::default(),
                Some(PollSettings::default()),
                Some(DEFAULT_RATE),
            ),
        };
        Common {
            connection,
            state,
            telemetry,
            defaults,
            poll,
            rate,
        }
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    /// A file the runner reads later, resolved against the workflow file: warn now when it
    /// is missing, as the workflow may be validated on another machine than the one that
    /// runs it. `node` is where the file is named.
    fn later_file(&mut self, file: &Path, node: &Node, path: &str) -> PathBuf {
        let resolved = self.resolve(file);
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
        resolved
    }
}

/// What a workflow file and a connection file share, as read (`None`: reported).
struct Common {
    connection: Option<crate::model::Connection>,
    state: Option<Option<StateLocation>>,
    telemetry: Option<TelemetrySettings>,
    defaults: Defaults,
    poll: Option<PollSettings>,
    rate: Option<u32>,
}

/// A section the top level read (as a value passed over), at its node.
fn section<'n>(root: &'n Node, read: Option<serde::de::IgnoredAny>, key: &str) -> Option<&'n Node> {
    read.and(root.get(key))
}

/// The keys of the mapping `node`, each with its key node (the first of a repeated key).
fn keys(node: &Node) -> Vec<(&str, &Node)> {
    let mut out: Vec<(&str, &Node)> = Vec::new();
    if let Value::Map(entries) = &node.value {
        for (key, _) in entries {
            if let Some(name) = key.as_str().filter(|k| out.iter().all(|o| o.0 != *k)) {
                out.push((name, key));
            }
        }
    }
    out
}

/// The key node of `key` in the mapping `node`.
fn key_node<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    keys(node).into_iter().find(|k| k.0 == key).map(|k| k.1)
}

/// `key`'s entry in the mapping `node`, to be passed over by a typed read.
fn key_pos(node: &Node, key: &str) -> Option<Hidden> {
    key_node(node, key).map(|k| Hidden::Key(k.pos))
}
