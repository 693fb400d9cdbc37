//! `telemetry:` and `defaults:`, with the poll floor.

use runwait_core::OutcomePolicy;

use super::{Checker, DEFAULT_RATE, Defaults};
use crate::format;
use crate::model::{PollSettings, TelemetrySettings};
use crate::tree::Node;

impl Checker {
    pub(super) fn telemetry(&mut self, node: &Node) -> Option<TelemetrySettings> {
        let file: format::TelemetryFile = self.typed(node, "telemetry")?;
        Some(TelemetrySettings {
            endpoint: file.endpoint,
            protocol: file.protocol,
            service_name: file.service_name,
            enabled: file.enabled,
        })
    }

    /// `defaults:`: the valid values (each invalid one is reported here), the poll
    /// settings and the rate.
    pub(super) fn defaults(
        &mut self,
        node: &Node,
        simulator: bool,
    ) -> (Defaults, Option<PollSettings>, Option<u32>) {
        let Some((file, _)) = self.typed_partly::<format::DefaultsFile>(node, "defaults") else {
            // Unusable defaults are reported once; the steps must not each add theirs.
            let unknown = Defaults {
                workspace: Some(None),
                model: Some(None),
                ..Defaults::default()
            };
            return (unknown, None, None);
        };
        // A key given but left out of `file` had a problem, reported already.
        let given = |key: &str| node.get(key).is_some();
        let d = Defaults {
            workspace: (given("workspace")).then_some(file.workspace),
            model: (given("model")).then_some(file.model),
            locale: file.locale,
            timeout: file.timeout,
            policy: OutcomePolicy {
                on_dump: file.on_dump.unwrap_or_default(),
                on_unsuccessful_without_evidence: file
                    .on_unsuccessful_without_evidence
                    .unwrap_or_default(),
            },
        };
        let poll = match (file.poll, node.get("poll")) {
            (Some(p), Some(n)) => self.poll(&p, n, simulator),
            (None, Some(_)) => None,
            (_, None) => Some(PollSettings::default()),
        };
        let rate = match (file.rate_per_second, given("rate_per_second")) {
            (Some(rate), _) => Some(rate),
            (None, given) => (!given).then_some(DEFAULT_RATE),
        };
        (d, poll, rate)
    }

    /// The poll limits of `poll` (at `node`): the floor, and the ceiling not below it.
    fn poll(
        &mut self,
        poll: &format::PollFile,
        node: &Node,
        simulator: bool,
    ) -> Option<PollSettings> {
        PollSettings::new(poll.min_interval, poll.max_interval, simulator)
            .map(|p| {
                let history = poll.history.unwrap_or(p.history);
                p.with_history(history)
            })
            .map_err(|e| {
                let key = e.key();
                let at = node.get(key).unwrap_or(node);
                self.error(at, &format!("defaults.poll.{key}"), e);
            })
            .ok()
    }
}
