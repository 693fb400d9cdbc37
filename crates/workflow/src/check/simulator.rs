//! `connection.simulator:` its speed and scenario (a file or inline), checked by the
//! simulator's own rules (the `simulator` feature).

use std::path::Path;

use runwait_sim::Scenario;

use super::{Checker, with_path};
use crate::format::{self, fields_of};
use crate::model::Connection;
use crate::tree::{Node, Value};
use crate::{Diagnostic, de};

impl Checker {
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

    pub(super) fn simulator(&mut self, node: &Node) -> Option<Connection> {
        let path = "connection.simulator";
        if node.value == Value::Null {
            return Some(Connection::Simulator {
                scenario: Box::new(Scenario::builtin()),
                speed: 1.0,
            });
        }
        let f = self.fields(
            node,
            path,
            "simulator settings",
            fields_of::<format::SimulatorFile>(),
        )?;
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
    pub(super) fn scenario_ref(&mut self, node: &Node, path: &str) -> Option<Scenario> {
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
