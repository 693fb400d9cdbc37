//! The JSON Schema of the workflow format (`runwait schema`), for editors.
//!
//! The types below only describe the file: the loader reads it through the checked tree
//! (`check`), which reports every error with its position, something a schema validator
//! cannot do. A test holds the two to the same keys.
#![allow(
    dead_code,
    reason = "the types are described (derive JsonSchema), never built"
)]

use schemars::JsonSchema;

/// The JSON Schema (draft 2020-12) of a runwait workflow file.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkflowFile)).unwrap_or_default()
}

/// Accepts the text of a `${VAR}` reference anywhere in a string as well as `pattern`.
macro_rules! or_var {
    ($pattern:literal) => {
        concat!(r"^(?:.*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*|", $pattern, r")$")
    };
}

/// A runwait workflow: Anaplan processes, imports, exports and actions run as steps, each
/// started and then waited on. `${VAR}` in a string value is replaced by the environment
/// variable (`$${` writes a literal `${`).
#[derive(JsonSchema)]
#[schemars(title = "runwait workflow", deny_unknown_fields)]
struct WorkflowFile {
    /// The workflow's name, shown in progress, summaries and traces.
    #[schemars(length(min = 1))]
    name: String,
    /// Where Anaplan is: the embedded simulator, or a real tenant.
    connection: ConnectionFile,
    /// OpenTelemetry overrides (the `OTEL_*` variables apply first).
    telemetry: Option<Telemetry>,
    /// Defaults of every step.
    defaults: Option<Defaults>,
    /// The steps; they run as a graph of `needs`, independent steps in parallel.
    #[schemars(length(min = 1))]
    steps: Vec<Step>,
}

/// `simulator:`, or `region:` (or `api_url:` with `auth_url:`) with `auth:`.
#[derive(JsonSchema)]
#[serde(untagged)]
enum ConnectionFile {
    /// The embedded simulator on loopback.
    #[schemars(extend("additionalProperties" = false))]
    Simulator {
        /// Simulator settings (all optional).
        simulator: Option<Simulator>,
    },
    /// A tenant by its region.
    #[schemars(extend("additionalProperties" = false))]
    Region {
        /// The Anaplan region: us1, us2, us5, us7, us9, eu1, eu2, eu3, eu4, eu5, gb1, ap1,
        /// au1, ca1, sg1, ae1, in1, id1, me1.
        region: String,
        /// How to log in.
        auth: Auth,
        /// OAuth token endpoint for `kind: oauth`; default
        /// `https://{region}.app.anaplan.com/oauth/token`.
        oauth_token_url: Option<String>,
    },
    /// A tenant by explicit URLs.
    #[schemars(extend("additionalProperties" = false))]
    Urls {
        /// The Integration API base, e.g. `https://api.anaplan.com/2/0`.
        api_url: String,
        /// The auth service base, e.g. `https://auth.anaplan.com`.
        auth_url: String,
        /// How to log in.
        auth: Auth,
        /// OAuth token endpoint, required for `kind: oauth`.
        oauth_token_url: Option<String>,
    },
}

/// The embedded simulator.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Simulator {
    /// A scenario file (relative to the workflow file) or an inline scenario; the built-in
    /// scenario when absent.
    scenario: Option<ScenarioRef>,
    /// Scenario seconds per real second (default 1).
    #[schemars(extend("exclusiveMinimum" = 0))]
    speed: Option<f64>,
}

/// A scenario file path or an inline scenario (the simulator's scenario format).
#[derive(JsonSchema)]
#[serde(untagged)]
enum ScenarioRef {
    /// A path relative to the workflow file.
    File(String),
    /// The scenario itself.
    Inline(serde_json::Map<String, serde_json::Value>),
}

/// How to log in; every secret comes from an environment variable or a file.
#[derive(JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Auth {
    /// User name and password.
    #[schemars(extend("additionalProperties" = false))]
    Basic {
        /// The user's email address.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A CA certificate and its private key (PEM files, relative to the workflow file).
    #[schemars(extend("additionalProperties" = false))]
    Certificate {
        /// The certificate PEM file.
        certificate: String,
        /// The private key PEM file.
        private_key: String,
        /// The passphrase of an encrypted key.
        passphrase: Option<Secret>,
        /// The signed-data format (default v2).
        format: Option<CertificateFormat>,
    },
    /// A ready Anaplan token.
    #[schemars(extend("additionalProperties" = false))]
    Token {
        /// The token.
        token: Secret,
    },
    /// OAuth refresh-token grant; a rotated token is written back to its file.
    #[schemars(extend("additionalProperties" = false))]
    Oauth {
        /// The OAuth client id.
        client_id: String,
        /// The refresh token.
        refresh_token: Secret,
    },
}

/// The certificate login's signed-data format.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum CertificateFormat {
    /// 100 random bytes.
    V1,
    /// A timestamp and 100 random bytes.
    V2,
}

/// Where a secret comes from: never the workflow file itself.
#[derive(JsonSchema)]
#[serde(untagged)]
enum Secret {
    /// An environment variable.
    #[schemars(extend("additionalProperties" = false))]
    Env {
        /// The variable's name.
        #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
        env: String,
    },
    /// A file (relative to the workflow file); a trailing newline is ignored.
    #[schemars(extend("additionalProperties" = false))]
    File {
        /// The file's path.
        file: String,
    },
}

/// OpenTelemetry overrides.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Telemetry {
    /// The OTLP endpoint, e.g. `http://localhost:4317`.
    endpoint: Option<String>,
    /// The OTLP protocol.
    protocol: Option<Protocol>,
    /// `service.name` of the spans.
    service_name: Option<String>,
    /// Export spans at all.
    enabled: Option<bool>,
}

/// The OTLP protocol.
#[derive(JsonSchema)]
enum Protocol {
    /// OTLP over gRPC.
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Defaults of every step.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Defaults {
    /// Workspace id: 32 lowercase hex digits.
    #[schemars(regex(pattern = or_var!("[0-9a-f]{32}")))]
    workspace: Option<String>,
    /// Model id: 32 uppercase hex digits.
    #[schemars(regex(pattern = or_var!("[0-9A-F]{32}")))]
    model: Option<String>,
    /// Locale of Anaplan's messages (default en_US).
    locale: Option<String>,
    /// How long a step may run before it is cancelled; none by default.
    timeout: Option<HumanDuration>,
    /// Poll schedule limits.
    poll: Option<Poll>,
    /// Requests per second to the tenant, all steps together (default 10).
    #[schemars(range(min = 1))]
    rate_per_second: Option<u32>,
    /// What a failure dump on a successful task means (default warn).
    on_dump: Option<DumpPolicy>,
    /// What `successful: false` without any evidence means (default fail).
    on_unsuccessful_without_evidence: Option<EvidencePolicy>,
}

/// A duration with a unit: `90s`, `2h`, `1h30m`.
#[derive(JsonSchema)]
#[schemars(transparent)]
struct HumanDuration(
    #[schemars(regex(pattern = or_var!(r"\s*(?:[0-9]+\s*[A-Za-z]+\s*)+")))] String,
);

/// Poll schedule limits.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Poll {
    /// The shortest interval between polls (default 5s; below 5s only with the simulator).
    min_interval: Option<HumanDuration>,
    /// The longest interval between polls (default 60s).
    max_interval: Option<HumanDuration>,
}

/// What a failure dump on a successful task means.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum DumpPolicy {
    /// Success with warnings.
    Warn,
    /// A failure.
    Fail,
    /// Plain success.
    Ignore,
}

/// What `successful: false` without failure details, failed rows or a dump means.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum EvidencePolicy {
    /// Success with warnings.
    Warn,
    /// A failure.
    Fail,
}

/// One step: an Anaplan object run and waited on.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Step {
    /// Unique id of the step, referred to by `needs`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    id: String,
    /// What kind of object the step runs.
    uses: Uses,
    /// The object and where it is.
    with: With,
    /// Steps that must finish first.
    needs: Option<Needs>,
    /// When the step runs, from the outcome of the steps it needs (default success()).
    #[serde(rename = "if")]
    condition: Option<Condition>,
    /// How long the step may run before it is cancelled.
    timeout: Option<HumanDuration>,
    /// A failure of this step does not fail the workflow.
    continue_on_error: Option<bool>,
    /// How often a failed step is run again (not transient HTTP errors; default 0).
    #[schemars(range(min = 0))]
    retries: Option<u32>,
    /// What a failure dump on a successful task means.
    on_dump: Option<DumpPolicy>,
    /// What `successful: false` without any evidence means.
    on_unsuccessful_without_evidence: Option<EvidencePolicy>,
}

/// The kind of object a step runs.
#[derive(JsonSchema)]
enum Uses {
    /// A process (ids start with 118).
    #[serde(rename = "anaplan/process")]
    Process,
    /// An import (112).
    #[serde(rename = "anaplan/import")]
    Import,
    /// An export (116).
    #[serde(rename = "anaplan/export")]
    Export,
    /// An action (117).
    #[serde(rename = "anaplan/action")]
    Action,
}

/// `success()`, `failure()` or `always()`.
#[derive(JsonSchema)]
enum Condition {
    /// Every step it needs succeeded.
    #[serde(rename = "success()")]
    Success,
    /// Some step it needs failed.
    #[serde(rename = "failure()")]
    Failure,
    /// Whatever happened.
    #[serde(rename = "always()")]
    Always,
}

/// A step id or a list of them.
#[derive(JsonSchema)]
#[serde(untagged)]
enum Needs {
    /// One step.
    One(String),
    /// Several steps.
    Many(Vec<String>),
}

/// The object to run (by `id` or by `name`, not both) and where it is.
#[derive(JsonSchema)]
#[schemars(
    deny_unknown_fields,
    extend("oneOf" = [{"required": ["id"]}, {"required": ["name"]}])
)]
struct With {
    /// The object's id: 12 digits with the prefix of its kind.
    id: Option<ObjectIdValue>,
    /// The object's name, looked up in the model when the step runs.
    name: Option<String>,
    /// Workspace id (else `defaults.workspace`).
    #[schemars(regex(pattern = or_var!("[0-9a-f]{32}")))]
    workspace: Option<String>,
    /// Model id (else `defaults.model`).
    #[schemars(regex(pattern = or_var!("[0-9A-F]{32}")))]
    model: Option<String>,
    /// Locale of Anaplan's messages.
    locale: Option<String>,
    /// Mapping parameters (processes and imports only).
    mapping_parameters: Option<Vec<MappingParameter>>,
}

/// An object id, quoted or not.
#[derive(JsonSchema)]
#[serde(untagged)]
enum ObjectIdValue {
    /// As a string.
    Text(#[schemars(regex(pattern = or_var!("11[2678][0-9]{9}")))] String),
    /// As a YAML integer.
    Number(#[schemars(range(min = 112_000_000_000_u64, max = 118_999_999_999_u64))] u64),
}

/// A mapping parameter of a process or import.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct MappingParameter {
    /// The dimension, e.g. `Version`.
    entity_type: String,
    /// The item, e.g. `Actual`.
    entity_name: String,
}

#[cfg(test)]
mod tests {
    use runwait_core::{DumpPolicy, UnsuccessfulWithoutEvidencePolicy};
    use serde_json::Value;

    use crate::check;

    /// The property names of the object schema at `pointer` (following one `$ref`).
    fn keys(schema: &Value, pointer: &str) -> Vec<String> {
        let mut node = schema
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer}"));
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            node = schema.pointer(r.trim_start_matches('#')).unwrap();
        }
        let mut keys: Vec<String> = node["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{pointer}: {node}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// How many alternatives the `anyOf`/`oneOf` at `pointer` has.
    fn alternatives(schema: &Value, pointer: &str) -> usize {
        schema
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{pointer} is not a list of alternatives"))
            .len()
    }

    /// The keys of every alternative at `pointer`, together.
    fn union_keys(schema: &Value, pointer: &str) -> Vec<String> {
        let all: std::collections::BTreeSet<String> = (0..alternatives(schema, pointer))
            .flat_map(|i| keys(schema, &format!("{pointer}/{i}")))
            .collect();
        all.into_iter().collect()
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn schema_has_the_keys_the_loader_accepts() {
        let s = super::schema();
        assert_eq!(keys(&s, ""), sorted(check::TOP_KEYS));
        assert_eq!(keys(&s, "/$defs/Step"), sorted(check::STEP_KEYS));
        assert_eq!(keys(&s, "/$defs/With"), sorted(check::WITH_KEYS));
        assert_eq!(keys(&s, "/$defs/Defaults"), sorted(check::DEFAULTS_KEYS));
        assert_eq!(keys(&s, "/$defs/Poll"), sorted(check::POLL_KEYS));
        assert_eq!(keys(&s, "/$defs/Telemetry"), sorted(check::TELEMETRY_KEYS));
        assert_eq!(keys(&s, "/$defs/Simulator"), sorted(check::SIMULATOR_KEYS));
        assert_eq!(
            keys(&s, "/$defs/MappingParameter"),
            sorted(check::MAPPING_KEYS)
        );
        assert_eq!(
            union_keys(&s, "/$defs/ConnectionFile/anyOf"),
            sorted(check::CONNECTION_KEYS)
        );
        let auth = union_keys(&s, "/$defs/Auth/oneOf");
        assert_eq!(auth, sorted(&check::auth_keys()));
    }

    /// The `const` values of a `oneOf` enum definition.
    fn consts(schema: &Value, def: &str) -> Vec<String> {
        schema["$defs"][def]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{def}"))
            .iter()
            .map(|v| v["const"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The names of a table of choices, in its order.
    fn names<T>(choices: &[(&str, T)]) -> Vec<String> {
        choices.iter().map(|c| c.0.to_owned()).collect()
    }

    #[test]
    fn schema_enums_match_the_loader() {
        let s = super::schema();
        let uses: Vec<&str> = check::USES.iter().map(|u| u.0).collect();
        assert_eq!(consts(&s, "Uses"), uses);
        assert_eq!(consts(&s, "Condition"), names(check::CONDITIONS));
        assert_eq!(consts(&s, "DumpPolicy"), names(&DumpPolicy::NAMES));
        assert_eq!(
            consts(&s, "EvidencePolicy"),
            names(&UnsuccessfulWithoutEvidencePolicy::NAMES)
        );
        assert_eq!(consts(&s, "Protocol"), names(check::PROTOCOLS));
        assert_eq!(consts(&s, "CertificateFormat"), names(check::FORMATS));
    }

    #[test]
    fn schema_auth_kinds_take_the_loader_keys() {
        let s = super::schema();
        let pointer = "/$defs/Auth/oneOf";
        let in_schema: Vec<(String, Vec<String>)> = (0..alternatives(&s, pointer))
            .map(|i| {
                let alternative = format!("{pointer}/{i}");
                let kind = s
                    .pointer(&format!("{alternative}/properties/kind/const"))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{alternative}: no `kind` const"));
                let mut own = keys(&s, &alternative);
                own.retain(|k| k != "kind");
                (kind.to_owned(), own)
            })
            .collect();
        let in_loader: Vec<(String, Vec<String>)> = check::AUTH_KINDS
            .iter()
            .map(|(kind, own)| ((*kind).to_owned(), sorted(own)))
            .collect();
        assert_eq!(in_schema, in_loader);
    }
}
