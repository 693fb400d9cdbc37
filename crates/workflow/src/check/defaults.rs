//! `telemetry:` and `defaults:`, with the poll floor.

use runwait_core::{DumpPolicy, OutcomePolicy, UnsuccessfulWithoutEvidencePolicy};

use super::{Checker, DEFAULT_RATE, Defaults, Fields, MIN_POLL_FLOOR};
use crate::format::{self, fields_of};
use crate::model::{PollSettings, TelemetrySettings};
use crate::tree::Node;

impl Checker {
    pub(super) fn telemetry(&mut self, node: &Node) -> Option<TelemetrySettings> {
        let file: format::TelemetryFile = self.typed(node, "telemetry", "telemetry settings")?;
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
        let Some(f) = self.fields(
            node,
            "defaults",
            "defaults",
            fields_of::<format::DefaultsFile>(),
        ) else {
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
    pub(super) fn policy(
        &mut self,
        f: &Fields<'_>,
        fallback: OutcomePolicy,
    ) -> Option<OutcomePolicy> {
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

    pub(super) fn poll(&mut self, node: &Node, simulator: bool) -> Option<PollSettings> {
        let f = self.fields(
            node,
            "defaults.poll",
            "poll settings",
            fields_of::<format::PollFile>(),
        )?;
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
}
