//! One item of `steps:` with every key at one level: what [`WorkflowStep`] deserializes
//! through (serde's `flatten` would lose the positions of the step's keys), and what the
//! loader reads each step through before it checks the rules across fields.

use std::time::Duration;

use runwait_core::{DumpPolicy, UnsuccessfulWithoutEvidencePolicy};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, de};

use super::step::{Condition, ConditionDef, StepPoll, StepSpec, Uses, With, with_step_options};
use super::values;
use super::workflow::WorkflowStep;

with_step_options! {
    /// A step as written, each key optional so that a reader can report every missing one.
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct StepFile {
        #[serde(default, deserialize_with = "values::step_id")]
        pub id: Option<String>,
        pub uses: Option<Uses>,
        pub with: Option<With>,
    }
}

impl StepFile {
    /// The step's [`StepSpec`] once `uses` and `with` were given (not checked across
    /// fields).
    pub(crate) fn spec(self, uses: Uses, with: With) -> StepSpec {
        let mut spec = StepSpec::new(uses, with);
        spec.needs = self.needs;
        spec.condition = self.condition;
        spec.timeout = self.timeout;
        spec.continue_on_error = self.continue_on_error;
        spec.retries = self.retries;
        spec.on_dump = self.on_dump;
        spec.on_unsuccessful_without_evidence = self.on_unsuccessful_without_evidence;
        spec.poll = self.poll;
        spec
    }
}

impl<'de> Deserialize<'de> for WorkflowStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut file = StepFile::deserialize(d)?;
        let id = file
            .id
            .take()
            .ok_or_else(|| de::Error::missing_field("id"))?;
        let uses = file
            .uses
            .take()
            .ok_or_else(|| de::Error::missing_field("uses"))?;
        let with = file
            .with
            .take()
            .ok_or_else(|| de::Error::missing_field("with"))?;
        let spec = file.spec(uses, with);
        spec.check().map_err(de::Error::custom)?;
        Ok(WorkflowStep { id, spec })
    }
}
