//! A part of the file read through its typed definition (serde, strictly, from the tree),
//! with every problem of that part reported: after an error, the entry it is in is hidden
//! and the part read again, until it reads or the error is the mapping's own.

use serde::de::DeserializeOwned;

use super::Checker;
use crate::de::{Hidden, from_node_at};
use crate::tree::{Node, Pos, Value};

impl Checker {
    /// `T` from the mapping at `node` (field path `path`); `None` when anything in it is
    /// wrong (the errors say what).
    pub(super) fn typed<T: DeserializeOwned>(&mut self, node: &Node, path: &str) -> Option<T> {
        match self.typed_partly(node, path) {
            Some((value, false)) => Some(value),
            _ => None,
        }
    }

    /// `T` from the mapping at `node`, read with every entry that has a problem hidden
    /// (each reported), and whether one had; `None` when the mapping itself is wrong.
    pub(super) fn typed_partly<T: DeserializeOwned>(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<(T, bool)> {
        self.typed_hiding(node, path, Vec::new())
    }

    /// [`typed_partly`](Self::typed_partly) with the entries whose keys are at `hidden`
    /// passed over from the start (read by hand, by a rule across fields).
    pub(super) fn typed_hiding<T: DeserializeOwned>(
        &mut self,
        node: &Node,
        path: &str,
        mut hidden: Vec<Hidden>,
    ) -> Option<(T, bool)> {
        // Each hidden key with the mapping it is in.
        let mut hidden_keys: Vec<(Pos, &str)> = Vec::new();
        let mut failed = false;
        loop {
            let error = match from_node_at::<T>(node, path, &hidden) {
                Ok(value) => return Some((value, failed)),
                Err(error) => error,
            };
            let pos = error.pos.unwrap_or(node.pos);
            let at = (pos.line, pos.column);
            // A required key whose entry was hidden was reported there already.
            let hidden_key = error
                .missing
                .is_some_and(|key| hidden_keys.contains(&(pos, key)));
            let again = self
                .errors
                .iter()
                .any(|d| d.line_col == Some(at) && d.message == error.message);
            if !hidden_key && !again && !self.reported.contains(&at) {
                self.error_at(at, error.message);
            }
            failed = true;
            let (entry, key) = hide(node, pos, error.missing.is_some())?;
            // An entry passed over already cannot be the cause again: hiding it anew
            // would read the same part forever.
            if hidden.contains(&entry) {
                return None;
            }
            hidden.push(entry);
            hidden_keys.extend(key);
        }
    }
}

/// The key of the innermost mapping entry, or the list item, that the error at `pos` is
/// about: the entry whose key or value is there, or for a missing key (`missing`) the
/// entry whose value is the mapping that lacks it; a list item that is there (or lacks
/// the key) itself.
fn hide(node: &Node, pos: Pos, missing: bool) -> Option<(Hidden, Option<(Pos, &str)>)> {
    match &node.value {
        Value::Map(entries) => entries.iter().find_map(|(key, value)| {
            let this = if missing {
                value.pos == pos && matches!(value.value, Value::Map(_))
            } else {
                key.pos == pos
            };
            let entry = (Hidden::Key(key.pos), key.as_str().map(|k| (node.pos, k)));
            if this {
                return Some(entry);
            }
            hide(value, pos, missing).or((!missing && value.pos == pos).then_some(entry))
        }),
        Value::Seq(items) => items.iter().find_map(|item| {
            hide(item, pos, missing).or((item.pos == pos).then_some((Hidden::Item(item.pos), None)))
        }),
        _ => None,
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
    fn an_error_whose_entry_is_already_passed_over_ends_the_reading() {
        // Found by the property test: this once read `connection:` again and again.
        let text = "name: nightly\nconnection:\n  simulator:\n  - efaults:\n  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\nsteps: []\n";
        let err = crate::load_str(text, Path::new("w.yaml"))
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines,
            [
                "w.yaml:4:5: connection.simulator: expected simulator settings (a mapping with keys scenario, speed), found a list",
                "w.yaml:6:8: steps: expected at least one step",
            ]
        );
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

    /// The messages of a workflow whose `defaults:` is `defaults` and whose only step
    /// gives no workspace or model.
    fn defaults_errors(defaults: &str) -> Vec<String> {
        let text = format!(
            "name: t\nconnection: {{region: eu1, auth: {{kind: token, token: {{env: RW_T}}}}}}\ndefaults:\n{defaults}\nsteps:\n  - {{id: a, uses: anaplan/process, with: {{id: \"118000000001\"}}}}\n"
        );
        let err = crate::load_str(&text, Path::new("t.yaml")).unwrap_err();
        err.to_string().lines().map(str::to_owned).collect()
    }

    #[test]
    fn defaults_report_each_problem_once_and_the_rules_across_fields() {
        assert_eq!(
            defaults_errors(
                "  poll: {min_interval: x, colour: 1}\n  timeout: soon\n  timeout: 1s\n  model: 75A40874E6B64FA3AE0743278996850F"
            ),
            [
                "t.yaml:4:24: defaults.poll.min_interval: `x` is not a duration (expected number at 0): expected a duration with a unit, like 90s, 2h or 1h30m",
                "t.yaml:4:27: defaults.poll: unknown key `colour`: expected one of min_interval, max_interval, history",
                "t.yaml:5:12: defaults.timeout: `soon` is not a duration (expected number at 0): expected a duration with a unit, like 90s, 2h or 1h30m",
                "t.yaml:6:3: defaults: duplicate key `timeout` (first at line 5, column 3)",
                "t.yaml:9:42: steps[0].with: no workspace: set `with.workspace` or `defaults.workspace`",
            ]
        );
        // An invalid default workspace is not reported again by every step; the poll
        // floor (no simulator) and the rate's minimum are.
        assert_eq!(
            defaults_errors(
                "  workspace: nope\n  poll: {min_interval: 1s}\n  rate_per_second: 0\n  on_dump: boom"
            ),
            [
                "t.yaml:4:14: defaults.workspace: expected a workspace id: 32 lowercase hex digits, found the string `nope`",
                "t.yaml:5:24: defaults.poll.min_interval: must be at least 5s: Anaplan asks clients not to poll more often (shorter intervals are for the simulator)",
                "t.yaml:6:20: defaults.rate_per_second: must be 1 or more, found 0",
                "t.yaml:7:12: defaults.on_dump: expected one of warn, fail, ignore, found the string `boom`",
                "t.yaml:9:42: steps[0].with: no model: set `with.model` or `defaults.model`",
            ]
        );
    }
}
