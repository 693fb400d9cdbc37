//! A part of the file read through its typed definition (serde, strictly, from the tree),
//! with every problem of that part reported: after an error, the entry it is in is hidden
//! and the part read again, until it reads or the error is the mapping's own.

use serde::de::DeserializeOwned;

use super::{Checker, fields_of, list};
use crate::de::from_node_at;
use crate::tree::{Node, Pos, Value};

impl Checker {
    /// `T` from the mapping at `node` (field path `path`, described as `what` when it is
    /// not a mapping); `None` when anything in it is wrong (the errors say what).
    pub(super) fn typed<T: DeserializeOwned>(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
    ) -> Option<T> {
        let Value::Map(_) = &node.value else {
            let keys = list(fields_of::<T>());
            let message = format!(
                "expected {what} (a mapping with keys {keys}), found {}",
                node.describe()
            );
            self.error(node, path, message);
            return None;
        };
        let mut current = node.clone();
        let mut hidden: Vec<String> = Vec::new();
        let mut failed = false;
        loop {
            let error = match from_node_at::<T>(&current, path) {
                Ok(value) => return (!failed).then_some(value),
                Err(error) => error,
            };
            let pos = error.pos.unwrap_or(node.pos);
            let at = (pos.line, pos.column);
            // A missing key is the mapping's own error, found after every entry was read;
            // a required key whose entry was hidden was reported there already.
            let hidden_key = error
                .missing
                .is_some_and(|key| hidden.iter().any(|h| h == key));
            if !hidden_key && !self.reported.contains(&at) {
                self.error_at(at, error.message);
            }
            failed = true;
            let Value::Map(entries) = &mut current.value else {
                return None;
            };
            let entry = entries
                .iter()
                .position(|(k, v)| k.pos == pos || contains(v, pos))
                .filter(|_| error.missing.is_none())?;
            let (key, _) = entries.remove(entry);
            hidden.extend(key.as_str().map(str::to_owned));
        }
    }
}

/// Whether `pos` is that of `node` or of a node under it.
fn contains(node: &Node, pos: Pos) -> bool {
    node.pos == pos
        || match &node.value {
            Value::Seq(items) => items.iter().any(|n| contains(n, pos)),
            Value::Map(entries) => entries
                .iter()
                .any(|(k, v)| k.pos == pos || contains(v, pos)),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The messages of `telemetry:` (read through its typed definition) as the checker
    /// wrote them by hand before.
    fn errors(telemetry: &str) -> Vec<String> {
        let text = format!(
            "name: t\nconnection: {{region: eu1, auth: {{kind: token, token: {{env: RW_T}}}}}}\n#\nsteps:\n  - {{id: a, uses: anaplan/process, with: {{name: A, workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F}}}}\n{telemetry}\n"
        );
        let err = crate::load_str(&text, Path::new("t.yaml")).unwrap_err();
        err.to_string().lines().map(str::to_owned).collect()
    }

    #[test]
    fn every_problem_of_a_section_with_the_loaders_words() {
        assert_eq!(
            errors("telemetry: 3"),
            [
                "t.yaml:6:12: telemetry: expected telemetry settings (a mapping with keys endpoint, protocol, service_name, enabled), found the integer `3`"
            ]
        );
        assert_eq!(
            errors(
                "telemetry: {endpoint: 3, protocol: udp, service_name: \"\", enabled: yes, colour: red}"
            ),
            [
                "t.yaml:6:23: telemetry.endpoint: expected a string, found the integer `3`",
                "t.yaml:6:36: telemetry.protocol: expected one of grpc, http/protobuf, found the string `udp`",
                "t.yaml:6:55: telemetry.service_name: expected a non-empty string",
                "t.yaml:6:68: telemetry.enabled: expected true or false, found the string `yes`",
                "t.yaml:6:73: telemetry: unknown key `colour`: expected one of endpoint, protocol, service_name, enabled",
            ]
        );
        assert_eq!(
            errors("telemetry: {endpoint: ftp://x, protocol: ~, service_name: [a], enabled: 1}"),
            [
                "t.yaml:6:23: telemetry.endpoint: `ftp://x` is not an http:// or https:// URL",
                "t.yaml:6:42: telemetry.protocol: expected one of grpc, http/protobuf, found nothing (null)",
                "t.yaml:6:59: telemetry.service_name: expected a string, found a list",
                "t.yaml:6:73: telemetry.enabled: expected true or false, found the integer `1`",
            ]
        );
        assert_eq!(
            errors(
                "telemetry:\n  endpoint: http://a\n  endpoint: http://b\n  3: x\n  protocol: {grpc: 1}"
            ),
            [
                "t.yaml:8:3: telemetry: duplicate key `endpoint` (first at line 7, column 3)",
                "t.yaml:9:3: telemetry: expected a key name, found the integer `3`",
                "t.yaml:10:13: telemetry.protocol: expected one of grpc, http/protobuf, found a mapping",
            ]
        );
        assert_eq!(
            errors("telemetry: {endpoint: \"\", enabled: \"${RW_TYPED_TEST_UNSET}\"}"),
            [
                "t.yaml:6:23: telemetry.endpoint: expected a non-empty string",
                "t.yaml:6:37: telemetry.enabled: environment variable `RW_TYPED_TEST_UNSET` is not set (write `$${RW_TYPED_TEST_UNSET}` for a literal `${RW_TYPED_TEST_UNSET}`)",
            ]
        );
    }
}
