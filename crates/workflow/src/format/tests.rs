//! The typed definitions are the one source: the schema and the loader's key lists agree
//! by construction; these tests hold the schema to what the loader accepts.

use serde_json::Value;

use super::values::variants_of;
use super::*;

/// The property names of the object schema at `pointer` (following one `$ref`), sorted.
fn keys(schema: &Value, pointer: &str) -> Vec<String> {
    let mut node = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer}"));
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        node = schema.pointer(r.trim_start_matches('#')).unwrap();
    }
    node["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{pointer}: {node}"))
        .keys()
        .cloned()
        .collect()
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    keys.sort();
    keys
}

#[test]
fn schema_keys_are_the_loader_keys() {
    let s = schema();
    assert_eq!(keys(&s, ""), sorted(fields_of::<WorkflowFile>()));
    assert_eq!(
        keys(&s, "/$defs/With"),
        sorted(&[
            "id",
            "name",
            "workspace",
            "model",
            "locale",
            "mapping_parameters"
        ])
    );
    let mut step = sorted(fields_of::<StepSpec>());
    step.push("id".to_owned());
    step.sort();
    assert_eq!(keys(&s, "/$defs/WorkflowStep"), step);
    assert_eq!(
        keys(&s, "/$defs/ConnectionFile"),
        sorted(fields_of::<ConnectionFile>())
    );
}

/// Reads a [`Condition`](super::Condition) and forgets it, for its names.
struct ConditionName;

impl<'de> serde::Deserialize<'de> for ConditionName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::step::ConditionDef::deserialize(d).map(|_| ConditionName)
    }
}

#[test]
fn enum_names_come_from_serde() {
    assert_eq!(
        variants_of::<Uses>(),
        [
            "anaplan/process",
            "anaplan/import",
            "anaplan/export",
            "anaplan/action"
        ]
    );
    assert_eq!(Uses::Export.name(), "anaplan/export");
    assert_eq!(
        variants_of::<ConditionName>(),
        ["success()", "failure()", "always()"]
    );
    let s = schema();
    let consts: Vec<&str> = s["$defs"]["Uses"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["const"].as_str().unwrap())
        .collect();
    assert_eq!(consts, variants_of::<Uses>());
}

#[test]
fn schema_takes_variables_in_number_and_boolean_fields() {
    let s = schema().to_string();
    let retries = schema()["$defs"]["WorkflowStep"]["properties"]["retries"].clone();
    let alternatives = retries["anyOf"].as_array().unwrap_or_else(|| panic!("{s}"));
    assert_eq!(alternatives[0]["type"], "integer");
    assert_eq!(alternatives[1]["type"], "string");
}

#[test]
fn the_schema_is_the_cli_contract() {
    let s = schema();
    for def in [
        "WorkflowStep",
        "DefaultsFile",
        "SimulatorFile",
        "TelemetryFile",
    ] {
        let required = &s["$defs"][def]["required"];
        assert!(
            required.is_null() || required == &serde_json::json!(["id", "uses", "with"]),
            "{def}: {required}"
        );
    }
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(
        s["required"],
        serde_json::json!(["name", "connection", "steps"])
    );
}

#[test]
fn uses_parses_from_its_name() {
    for uses in Uses::ALL {
        assert_eq!(uses.name().parse::<Uses>(), Ok(uses));
    }
    let err = "anaplan/proc".parse::<Uses>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown `uses` `anaplan/proc`: expected one of anaplan/process, anaplan/import, \
         anaplan/export, anaplan/action"
    );
}

#[test]
fn a_step_from_its_parts_is_checked_like_a_read_one() {
    let options: StepOptions = serde_saphyr::from_str(
        "needs: load\nif: always()\ntimeout: 2m\nretries: 3\non_dump: fail\n",
    )
    .unwrap();
    let id = runwait_core::ObjectId::new("118000000001");
    let spec = StepSpec::from_parts(Uses::Process, With::id(id.clone()), options).unwrap();
    assert_eq!(spec.needs, ["load"]);
    assert_eq!(spec.condition, Condition::Always);
    assert_eq!(spec.timeout, Some(std::time::Duration::from_secs(120)));
    assert_eq!(spec.retries, 3);

    let err = StepSpec::from_parts(Uses::Import, With::id(id), StepOptions::default());
    let err = err.unwrap_err();
    assert!(
        err.starts_with("with.id: `118000000001` is a process id, but `uses: anaplan/import`"),
        "{err}"
    );
    let unknown = serde_saphyr::from_str::<StepOptions>("uses: anaplan/process\n");
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `uses`")
    );
}

#[test]
fn the_outcome_policy_of_a_step_falls_back_on_the_base() {
    use runwait_core::{DumpPolicy, OutcomePolicy, UnsuccessfulWithoutEvidencePolicy};
    let base = OutcomePolicy {
        on_dump: DumpPolicy::Fail,
        on_unsuccessful_without_evidence: UnsuccessfulWithoutEvidencePolicy::Warn,
    };
    let mut spec = StepSpec::new(Uses::Process, With::name("Load"));
    assert_eq!(spec.outcome_policy(base), base);
    spec.on_dump = Some(DumpPolicy::Warn);
    assert_eq!(spec.outcome_policy(base).on_dump, DumpPolicy::Warn);
}

#[test]
fn a_workflow_step_deserializes_with_its_keys_at_one_level() {
    let step: WorkflowStep = serde_json::from_value(serde_json::json!({
        "id": "load", "uses": "anaplan/import", "retries": 2, "needs": "a",
        "with": { "id": "112000000001" }
    }))
    .unwrap();
    assert_eq!(step.id, "load");
    assert_eq!((step.spec.uses, step.spec.retries), (Uses::Import, 2));
    assert_eq!(step.spec.needs, ["a"]);
    let missing = serde_json::from_value::<WorkflowStep>(serde_json::json!({
        "uses": "anaplan/import", "with": { "id": "112000000001" }
    }));
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("missing field `id`")
    );
    let prefix = serde_json::from_value::<WorkflowStep>(serde_json::json!({
        "id": "x", "uses": "anaplan/process", "with": { "id": "112000000001" }
    }));
    assert!(prefix.unwrap_err().to_string().starts_with("with.id: "));
}

#[test]
fn the_loaders_top_level_is_the_workflow_file() {
    assert_eq!(fields_of::<TopFile>(), fields_of::<WorkflowFile>());
    let s = schema();
    let required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(required, TOP_REQUIRED);
    assert_eq!(
        keys(&s, "/$defs/Auth/oneOf/0"),
        sorted(&["kind", "user", "password"])
    );
}
