//! The rules of single values, shared by the typed definitions' `Deserialize` (hosts) and
//! the workflow checker (which adds the field path and position): one text per rule.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use runwait_core::{ModelId, ObjectId, ObjectKind, WorkspaceId};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::step::Uses;

/// A string that is not empty.
pub(crate) fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    if text.is_empty() {
        return Err(de::Error::custom("expected a non-empty string"));
    }
    Ok(Some(text))
}

/// A required string that is not empty.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    non_empty(d).map(Option::unwrap_or_default)
}

/// Leaves the schema of an optional value as without its `deserialize_with` (whose
/// `serde(default)` would add `"default": null`).
pub(crate) fn no_default(schema: &mut Schema) {
    schema.remove("default");
}

/// A count of at least 1 (`rate_per_second`).
pub(crate) fn positive_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    count_from::<D, 1>(d)
}

/// A step id: letters, digits, `_` and `-` (`needs` names it).
pub(crate) fn step_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let id = non_empty(d)?.unwrap_or_default();
    if id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(Some(id))
    } else {
        Err(de::Error::custom(format!(
            "`{}` is not a step id: expected letters, digits, `_` and `-`",
            id.escape_debug()
        )))
    }
}

/// A count of 0 or more (`retries`).
pub(crate) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    count_from::<D, 0>(d).map(Option::unwrap_or_default)
}

/// An http:// or https:// URL (an OTLP collector is often on another host over http).
pub(crate) fn http_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = non_empty(d)?.unwrap_or_default();
    match url::Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(text)),
        _ => Err(de::Error::custom(format!(
            "`{}` is not an http:// or https:// URL",
            text.escape_debug()
        ))),
    }
}

/// How a duration is written.
pub(crate) const DURATION_HINT: &str = "a duration with a unit, like 90s, 2h or 1h30m";

/// The longest `timeout:`: 30 days. Anaplan tasks run for hours at most, and a deadline
/// computed from it (an `Instant` plus the timeout) must not overflow.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest poll interval: 1 hour. Polling less often only delays seeing the end of a
/// task, and the poll schedule multiplies its intervals (backoff, jitter).
pub(crate) const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3600);

/// A duration written with its unit (`90s`, `1h30m`), longer than zero and at most `max`:
/// the one place the bounds of a duration are checked.
pub(crate) fn parse_duration(text: &str, max: Duration) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err("must be longer than 0s".to_owned()),
        Ok(d) if d > max => Err(format!(
            "must be at most {}, found `{}`",
            humantime::format_duration(max),
            text.escape_debug()
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "`{}` is not a duration ({e}): expected {DURATION_HINT}",
            text.escape_debug()
        )),
    }
}

/// The message for a duration written as a bare number.
pub(crate) fn duration_without_unit(n: impl fmt::Display) -> String {
    format!("`{n}` has no unit: expected {DURATION_HINT}")
}

pub(crate) const WORKSPACE_HINT: &str = "a workspace id: 32 lowercase hex digits";
pub(crate) const MODEL_HINT: &str = "a model id: 32 uppercase hex digits";

fn article(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Import | ObjectKind::Export | ObjectKind::Action => "an",
        ObjectKind::File | ObjectKind::Process => "a",
    }
}

/// What an object id of a step that `uses` is expected to be.
pub(crate) fn object_id_hint(uses: Option<Uses>) -> String {
    match uses {
        Some(uses) => {
            let kind = uses.object_kind();
            format!(
                "{} {kind} id: 12 digits starting with {}",
                article(kind),
                kind.prefix()
            )
        }
        None => "an object id: 12 digits".to_owned(),
    }
}

/// An object id for a step that `uses` (when known): 12 digits with the kind's prefix.
/// `found` describes the value for the message of a malformed id.
pub(crate) fn check_object_id(
    id: &ObjectId,
    uses: Option<Uses>,
    found: &dyn Fn() -> String,
) -> Result<(), String> {
    let expected = object_id_hint(uses);
    if !id.is_well_formed() {
        return Err(format!("expected {expected}, found {}", found()));
    }
    match (uses, id.kind()) {
        (Some(uses), Some(kind)) if kind != uses.object_kind() => Err(format!(
            "`{id}` is {} {kind} id, but `uses: {}` runs {expected}",
            article(kind),
            uses.name()
        )),
        (_, None) => Err(format!("`{id}` has no known prefix: expected {expected}")),
        _ => Ok(()),
    }
}

/// A regular expression that also accepts any string with a `${VAR}` reference (replaced
/// before the workflow is checked).
macro_rules! or_var {
    ($pattern:literal) => {
        concat!(r"^(?:.*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*|", $pattern, r")$")
    };
}

/// The pattern of a string holding a `${VAR}` reference, for number and boolean fields.
const VAR_PATTERN: &str = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}";

/// A number or boolean field's schema, which also takes a `${VAR}` string.
pub(crate) fn or_var_string(mut schema: Schema) -> Schema {
    schema.remove("description");
    json_schema!({
        "anyOf": [schema, { "type": "string", "pattern": VAR_PATTERN }]
    })
}

/// `bool` or `${VAR}`.
pub(crate) fn bool_schema(generator: &mut SchemaGenerator) -> Schema {
    or_var_string(bool::json_schema(generator))
}

/// `u32` or `${VAR}`.
pub(crate) fn count_schema(generator: &mut SchemaGenerator) -> Schema {
    or_var_string(u32::json_schema(generator))
}

/// A positive `u32` or `${VAR}`.
pub(crate) fn positive_count_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = u32::json_schema(generator);
    schema.insert("minimum".to_owned(), 1.into());
    or_var_string(schema)
}

/// A number greater than 0 or `${VAR}`.
pub(crate) fn positive_number_schema(_: &mut SchemaGenerator) -> Schema {
    or_var_string(json_schema!({ "type": "number", "exclusiveMinimum": 0 }))
}

/// A duration with a unit.
pub(crate) fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A duration with a unit: `90s`, `2h`, `1h30m`.",
        "type": "string",
        "pattern": or_var!(r"\s*(?:[0-9]+\s*[A-Za-z]+\s*)+"),
    })
}

/// A timeout: a string with a unit, at most [`MAX_TIMEOUT`].
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_at_most(d, MAX_TIMEOUT)
}

/// A poll interval: a string with a unit, at most [`MAX_POLL_INTERVAL`].
pub(crate) fn poll_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_at_most(d, MAX_POLL_INTERVAL)
}

/// A duration field of at most `max`.
fn duration_at_most<'de, D: Deserializer<'de>>(
    d: D,
    max: Duration,
) -> Result<Option<Duration>, D::Error> {
    struct V(Duration);
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(DURATION_HINT)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v, self.0).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Err(E::custom(duration_without_unit(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            Err(E::custom(duration_without_unit(v)))
        }
    }
    // `any`: an integer must reach `visit_u64` to be told it has no unit.
    d.deserialize_any(V(max)).map(Some)
}

/// The slowest simulator: a hundred times slower than real time (a slower one would
/// leave a run that hardly ends).
pub(crate) const MIN_SPEED: f64 = 0.01;
/// The fastest simulator: a million scenario seconds per real second (scenario times
/// stay far from what a `Duration` holds).
pub(crate) const MAX_SPEED: f64 = 1_000_000.0;

/// `speed:` a number in [`MIN_SPEED`], [`MAX_SPEED`] (also from a string that `${VAR}`
/// produced).
pub(crate) fn speed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number greater than 0")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            // Very small or large numbers in exponent form (`1e-300`), others as written.
            let shown = if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
                format!("{v:e}")
            } else {
                v.to_string()
            };
            match v {
                v if v.is_nan() || v <= 0.0 => {
                    Err(E::custom(format!("must be greater than 0, found {shown}")))
                }
                v if v < MIN_SPEED => Err(E::custom(format!(
                    "must be at least {MIN_SPEED} (a slower simulator would hardly end a run), found {shown}"
                ))),
                v if v > MAX_SPEED => Err(E::custom(format!(
                    "must be at most {MAX_SPEED}, found {shown}"
                ))),
                v => Ok(v),
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "a message's number")]
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            self.visit_f64(v as f64)
        }
        #[allow(clippy::cast_precision_loss, reason = "a message's number")]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            self.visit_f64(v as f64)
        }
        #[allow(clippy::cast_precision_loss, reason = "a message's number")]
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<f64, E> {
            self.visit_f64(v as f64)
        }
    }
    d.deserialize_f64(V).map(Some)
}

/// A path: a non-empty string (resolved against the workflow file by the loader).
pub(crate) fn path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    non_empty(d).map(|text| text.map(PathBuf::from))
}

/// An environment variable's name.
pub(crate) fn var_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = non_empty(d)?.unwrap_or_default();
    if crate::env::is_var_name(&name) {
        Ok(Some(name))
    } else {
        Err(de::Error::custom(format!(
            "`{}` is not an environment variable name: expected letters, digits and `_`",
            name.escape_debug()
        )))
    }
}

/// An id that Anaplan would take: `new(text)` when `well_formed`, else "expected `hint`".
fn id<'de, D: Deserializer<'de>, T>(
    d: D,
    hint: &'static str,
    new: fn(String) -> T,
    well_formed: fn(&T) -> bool,
) -> Result<Option<T>, D::Error> {
    struct V(&'static str);
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
    }
    let text = d.deserialize_str(V(hint))?;
    let id = new(text.clone());
    if well_formed(&id) {
        Ok(Some(id))
    } else {
        Err(de::Error::custom(format!(
            "expected {hint}, found the string `{}`",
            text.escape_debug()
        )))
    }
}

/// An integer of at least `MIN` (also from a string that `${VAR}` produced, which the
/// workflow's tree types as an integer here).
pub(crate) fn count_from<'de, D: Deserializer<'de>, const MIN: i128>(
    d: D,
) -> Result<Option<u32>, D::Error> {
    struct V<const MIN: i128>;
    impl<const MIN: i128> Visitor<'_> for V<MIN> {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<u32, E> {
            if v < MIN {
                return Err(E::custom(format!("must be {MIN} or more, found {v}")));
            }
            u32::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
            self.visit_i128(v.into())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
            self.visit_i128(v.into())
        }
    }
    d.deserialize_u32(V::<MIN>).map(Some)
}

/// A workspace id field.
pub(crate) fn workspace<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WorkspaceId>, D::Error> {
    id(
        d,
        WORKSPACE_HINT,
        WorkspaceId::new,
        WorkspaceId::is_well_formed,
    )
}

/// A model id field.
pub(crate) fn model<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ModelId>, D::Error> {
    id(d, MODEL_HINT, ModelId::new, ModelId::is_well_formed)
}

/// The schema of an id field: a string matching `pattern` (or holding `${VAR}`).
pub(crate) fn workspace_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": or_var!("[0-9a-f]{32}") })
}

/// See [`workspace_schema`].
pub(crate) fn model_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": or_var!("[0-9A-F]{32}") })
}

/// An object id, quoted or a YAML integer; its prefix is checked against `uses` by the
/// step.
pub(crate) fn object_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ObjectId>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = ObjectId;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object id: 12 digits")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<ObjectId, E> {
            Ok(ObjectId::new(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<ObjectId, E> {
            Ok(ObjectId::new(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<ObjectId, E> {
            Ok(ObjectId::new(v.to_string()))
        }
    }
    let id = d.deserialize_any(V)?;
    check_object_id(&id, None, &|| format!("the string `{id}`"))
        .map(|()| Some(id))
        .map_err(de::Error::custom)
}

/// The schema of an object id: quoted or not.
pub(crate) fn object_id_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "The object's id: 12 digits with the prefix of its kind.",
        "anyOf": [
            { "type": "string", "pattern": or_var!("11[2678][0-9]{9}") },
            { "type": "integer", "minimum": 112_000_000_000_u64, "maximum": 118_999_999_999_u64 },
        ]
    })
}

/// `needs:` one step id or a list of them; repeats are dropped.
pub(crate) fn needs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Needs {
        One(String),
        Many(Vec<String>),
    }
    let all = match Needs::deserialize(d)? {
        Needs::One(one) => vec![one],
        Needs::Many(many) => many,
    };
    let mut out: Vec<String> = Vec::new();
    for id in all {
        if id.is_empty() {
            return Err(de::Error::custom("expected a non-empty string"));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The schema of `needs:`.
pub(crate) fn needs_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Steps that must finish first: a step id or a list of them.",
        "anyOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } },
        ]
    })
}

/// The schema of a policy of `runwait-core` (whose types know no schemars): its names.
pub(crate) fn names_schema<T: 'static>(names: &[(&str, T)]) -> Schema {
    let names: Vec<&str> = names.iter().map(|n| n.0).collect();
    json_schema!({ "type": "string", "enum": names })
}

/// `on_dump:`.
pub(crate) fn dump_policy_schema(_: &mut SchemaGenerator) -> Schema {
    let mut s = names_schema(&runwait_core::DumpPolicy::NAMES);
    s.insert(
        "description".to_owned(),
        "What a failure dump on a successful task means: warn (default), fail or ignore.".into(),
    );
    s
}

/// `on_unsuccessful_without_evidence:`.
pub(crate) fn evidence_policy_schema(_: &mut SchemaGenerator) -> Schema {
    let mut s = names_schema(&runwait_core::UnsuccessfulWithoutEvidencePolicy::NAMES);
    s.insert(
        "description".to_owned(),
        "What `successful: false` without any evidence means: warn or fail (default).".into(),
    );
    s
}

/// The names of `T`'s fields as serde reads them (renames applied), in declaration order:
/// the key lists of the format come from its types.
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut found = Introspect::default();
    let _ = T::deserialize(IntrospectDe(&mut found, PhantomData));
    found.fields
}

/// The names of a unit enum's variants as serde reads them.
pub(crate) fn variants_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut found = Introspect::default();
    let _ = T::deserialize(IntrospectDe(&mut found, PhantomData));
    found.variants
}

#[derive(Default)]
struct Introspect {
    fields: &'static [&'static str],
    variants: &'static [&'static str],
}

/// A deserializer that only records what a derived `Deserialize` asks for, then fails.
struct IntrospectDe<'a, 'de>(&'a mut Introspect, PhantomData<&'de ()>);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("introspection only")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for IntrospectDe<'_, 'de> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.fields = fields;
        Err(Stop)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.variants = variants;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(
            parse_duration("1h30m", MAX_TIMEOUT),
            Ok(Duration::from_secs(5400))
        );
        assert!(
            parse_duration("0s", MAX_TIMEOUT)
                .unwrap_err()
                .contains("longer than 0s")
        );
        assert!(
            parse_duration("soon", MAX_TIMEOUT)
                .unwrap_err()
                .starts_with("`soon` is not a duration")
        );
    }
}
