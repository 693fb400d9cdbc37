//! `connection.simulator:` its speed and scenario (a file or inline), checked by the
//! simulator's own rules (the `simulator` feature).

use std::path::Path;

use runwait_sim::Scenario;

use super::{Checker, with_path};
use crate::format::SimulatorFile;
use crate::model::Connection;
use crate::tree::{Node, Value};
use crate::{Diagnostic, de};

impl Checker {
    /// `simulator:` as read (`file`, at `node`): the built-in scenario at speed 1 unless
    /// it says otherwise.
    pub(super) fn simulator(
        &mut self,
        file: Option<&SimulatorFile>,
        node: &Node,
    ) -> Option<Connection> {
        if node.value == Value::Null {
            return Some(Connection::Simulator {
                scenario: Box::new(Scenario::builtin()),
                speed: 1.0,
            });
        }
        // Unusable settings were reported.
        let file = file?;
        let speed = match (file.speed, node.get("speed")) {
            (Some(speed), _) => Some(speed),
            (None, Some(_)) => None,
            (None, None) => Some(1.0),
        };
        let scenario = match node.get("scenario") {
            None => Some(Scenario::builtin()),
            Some(n) => self.scenario_ref(n, "connection.simulator.scenario"),
        };
        Some(Connection::Simulator {
            scenario: Box::new(scenario?),
            speed: speed?,
        })
    }

    /// `scenario:` a file (relative to the workflow) or an inline mapping.
    pub(super) fn scenario_ref(&mut self, node: &Node, path: &str) -> Option<Scenario> {
        let (parsed, file) = match &node.value {
            Value::Map(_) => (scenario(node, &self.file, path, true), None),
            Value::Str { text, .. } => {
                let file = self.resolve(Path::new(text));
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
