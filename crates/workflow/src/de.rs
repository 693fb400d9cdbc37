//! Deserializes a typed value from a parsed [`Node`] tree, so that every error gets the
//! position of the node it is about: an error raised while visiting a node is stamped
//! with that node's position on its way out, innermost first.
//!
//! Two modes: the simulator's `Scenario` is read leniently (a plain scalar is a string
//! where a string is asked for) with serde's own words; a part of a workflow file is read
//! strictly ([`from_node_at`]), with the loader's words (`path: expected …, found …`,
//! `unknown key …`, `missing required key …`, duplicate keys), null as a value that must
//! be valid, and `${VAR}` strings typed where a boolean is asked for.

use std::fmt;
use std::rc::Rc;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::check::{join, with_path};
use super::tree::{Node, Pos, Value};

/// What a strict read passes over: a mapping entry by the position of its key, or a list
/// item by its own (the two can share a position: a block mapping starts at its first key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hidden {
    Key(Pos),
    Item(Pos),
}

/// A deserialization error and the node it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    pub message: String,
    pub pos: Option<Pos>,
    /// The loader's words for the strict mode, without the "found …" part.
    strict: Option<String>,
    /// ", found …" is added from the node the error is stamped with.
    found: bool,
    /// The required key whose absence this error reports.
    pub missing: Option<&'static str>,
}

impl DeError {
    /// Keeps the innermost position: only an error without one gets `node`'s position
    /// (and, in the strict mode, its path and the loader's words).
    fn at(mut self, node: &Node, cx: &Cx) -> Self {
        if self.pos.is_some() {
            return self;
        }
        self.pos = Some(node.pos);
        if let Some(path) = &cx.strict {
            let mut message = self.strict.take().unwrap_or(self.message);
            if self.found {
                message = format!("{message}, found {}", node.describe());
            }
            self.message = with_path(path, message);
        }
        self
    }

    /// serde's own words for an error, as the lenient mode reports them.
    fn serde(error: serde::de::value::Error, strict: String, found: bool) -> Self {
        DeError {
            message: error.to_string(),
            pos: None,
            strict: Some(strict),
            found,
            missing: None,
        }
    }
}

/// What a mapping of the workflow format is, by the name of its type.
fn described(name: &'static str) -> &'static str {
    match name {
        "TelemetryFile" => "telemetry settings",
        "DefaultsFile" => "defaults",
        "PollFile" => "poll settings",
        "StepFile" => "a step",
        "With" => "the object to run",
        "MappingParameterSpec" => "a mapping parameter",
        "TopFile" => "a workflow",
        "ConnectionFile" => "a connection",
        "SimulatorFile" => "simulator settings",
        "AuthFlat" => "an auth mapping",
        "SecretRef" => "a secret reference",
        _ => name,
    }
}

/// The loader's words for what serde's visitors expect.
fn expected_words(serde: String) -> String {
    match serde.as_str() {
        "a boolean" => "true or false".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" => "an integer".to_owned(),
        _ => serde,
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

type SerdeError = serde::de::value::Error;

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            pos: None,
            strict: None,
            found: false,
            missing: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let strict = format!("expected {}", expected_words(exp.to_string()));
        DeError::serde(
            <SerdeError as de::Error>::invalid_type(unexp, exp),
            strict,
            true,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let strict = format!("expected one of {}", expected.join(", "));
        DeError::serde(
            <SerdeError as de::Error>::unknown_variant(variant, expected),
            strict,
            true,
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let strict = format!(
            "unknown key `{}`: expected one of {}",
            field.escape_debug(),
            expected.join(", ")
        );
        DeError::serde(
            <SerdeError as de::Error>::unknown_field(field, expected),
            strict,
            false,
        )
    }

    fn missing_field(field: &'static str) -> Self {
        let strict = format!("missing required key `{field}`");
        DeError {
            missing: Some(field),
            ..DeError::serde(
                <SerdeError as de::Error>::missing_field(field),
                strict,
                false,
            )
        }
    }
}

/// `T` from `node`, leniently and in serde's words (the simulator's scenario).
#[cfg(feature = "simulator")]
pub(crate) fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node,
        cx: Cx {
            strict: None,
            hidden: Rc::from([]),
        },
    })
}

/// `T` from the part of a workflow file at `node`, whose field path is `path`: strictly
/// and in the loader's words; the error's message starts with its field path.
/// The mapping entries whose keys are at `hidden` are passed over (they still count for
/// duplicate keys), and so are the list items there.
pub(crate) fn from_node_at<T: de::DeserializeOwned>(
    node: &Node,
    path: &str,
    hidden: &[Hidden],
) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node,
        cx: Cx {
            strict: Some(path.to_owned()),
            hidden: Rc::from(hidden),
        },
    })
}

/// The mode, in the strict mode the field path of the node, and the hidden entries.
#[derive(Clone)]
struct Cx {
    strict: Option<String>,
    hidden: Rc<[Hidden]>,
}

impl Cx {
    fn child(&self, key: impl FnOnce(&str) -> String) -> Cx {
        Cx {
            strict: self.strict.as_deref().map(key),
            hidden: self.hidden.clone(),
        }
    }
}

#[derive(Clone)]
struct NodeDe<'a> {
    node: &'a Node,
    cx: Cx,
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let NodeDe { node, cx } = self;
        match &node.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => match (u64::try_from(*i), i64::try_from(*i)) {
                (Ok(u), _) => v.visit_u64(u),
                (_, Ok(s)) => v.visit_i64(s),
                _ => v.visit_i128(*i),
            },
            Value::Float(f) => v.visit_f64(*f),
            Value::Str { text, .. } => v.visit_str(text),
            Value::Seq(items) => {
                let mut seq = SeqDe {
                    items: items.iter().enumerate(),
                    cx: &cx,
                };
                let value = v.visit_seq(&mut seq)?;
                match seq.items.len() {
                    0 => Ok(value),
                    left => Err(de::Error::invalid_length(
                        items.len(),
                        &format!("{} elements", items.len() - left).as_str(),
                    )),
                }
            }
            Value::Map(entries) => v.visit_map(MapDe {
                entries: entries.iter(),
                seen: Vec::new(),
                value: None,
                cx: &cx,
            }),
        }
        .map_err(|e: DeError| e.at(node, &cx))
    }

    /// Null is `None`, except in the strict mode, where a key written with no value
    /// must still be a valid value (`protocol:` alone is an error, as before).
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let (node, cx) = (self.node, self.cx.clone());
        match node.value {
            Value::Null if cx.strict.is_none() => v.visit_none(),
            _ => v.visit_some(self),
        }
        .map_err(|e: DeError| e.at(node, &cx))
    }

    /// In the lenient mode a string field takes a plain scalar as written
    /// (`id: 112000000001`), as serde-saphyr does when it reads a file directly.
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let (node, cx) = (self.node, self.cx.clone());
        match (&node.value, &cx.strict) {
            (Value::Str { text, .. }, _) => v.visit_str(text),
            (_, Some(_)) => Err(de::Error::invalid_type(unexpected(node), &v)),
            (_, None) => match node.scalar_text() {
                Some(text) => v.visit_str(&text),
                None => return self.deserialize_any(v),
            },
        }
        .map_err(|e: DeError| e.at(node, &cx))
    }

    /// In the strict mode a string that `${VAR}` produced is a boolean too.
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let (node, cx) = (self.node, self.cx.clone());
        match (&node.value, &cx.strict) {
            (Value::Bool(b), _) => v.visit_bool(*b),
            (
                Value::Str {
                    text,
                    substituted: true,
                },
                Some(_),
            ) => match text.trim().parse() {
                Ok(b) => v.visit_bool(b),
                Err(_) => Err(de::Error::invalid_type(unexpected(node), &v)),
            },
            (_, Some(_)) => Err(de::Error::invalid_type(unexpected(node), &v)),
            (_, None) => return self.deserialize_any(v),
        }
        .map_err(|e: DeError| e.at(node, &cx))
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let NodeDe { node, cx } = self;
        match &node.value {
            Value::Str { text, .. } => {
                let variant: StrDeserializer<'_, DeError> = text.as_str().into_deserializer();
                v.visit_enum(variant)
            }
            // The loader's enums are names: anything else is not one of them.
            _ if cx.strict.is_some() => Err(DeError::serde(
                <SerdeError as de::Error>::invalid_type(unexpected(node), &v),
                format!("expected one of {}", variants.join(", ")),
                true,
            )),
            Value::Map(entries) if entries.len() == 1 => v.visit_enum(EnumDe {
                key: &entries[0].0,
                value: &entries[0].1,
                cx: cx.clone(),
            }),
            _ => Err(de::Error::invalid_type(unexpected(node), &v)),
        }
        .map_err(|e: DeError| e.at(node, &cx))
    }

    /// In the strict mode a string that `${VAR}` produced is an integer too.
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.substituted::<i128>() {
            Some(i) => v
                .visit_i128(i)
                .map_err(|e: DeError| e.at(self.node, &self.cx)),
            None => self.deserialize_any(v),
        }
    }

    /// In the strict mode a string that `${VAR}` produced is a number too.
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.substituted::<f64>() {
            Some(f) => v
                .visit_f64(f)
                .map_err(|e: DeError| e.at(self.node, &self.cx)),
            None => self.deserialize_any(v),
        }
    }

    /// A value passed over (a section the loader reads on its own) is not visited.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    /// A mapping; in the strict mode anything else is reported with the keys it takes.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let (node, cx) = (self.node, self.cx.clone());
        match (&node.value, &cx.strict) {
            (Value::Map(_), _) | (_, None) => self.deserialize_any(v),
            (_, Some(_)) => Err(DeError::serde(
                <SerdeError as de::Error>::invalid_type(unexpected(node), &v),
                format!(
                    "expected {} (a mapping with keys {})",
                    described(name),
                    fields.join(", ")
                ),
                true,
            )
            .at(node, &cx)),
        }
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u64 u128 f32 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map
    }
}

impl NodeDe<'_> {
    /// In the strict mode, the text that `${VAR}` produced here, read as a `T`.
    fn substituted<T: std::str::FromStr>(&self) -> Option<T> {
        match &self.node.value {
            Value::Str {
                text,
                substituted: true,
            } if self.cx.strict.is_some() => text.trim().parse().ok(),
            _ => None,
        }
    }
}

fn unexpected(node: &Node) -> de::Unexpected<'_> {
    match &node.value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => i64::try_from(*i).map_or(de::Unexpected::Other("integer"), |i| {
            de::Unexpected::Signed(i)
        }),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Str { text, .. } => de::Unexpected::Str(text),
        Value::Seq(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
    }
}

/// A value's error, stamped with the value's node in the strict mode: a
/// `deserialize_with` function's own error comes back after its node was visited.
fn value_of<'de, T: DeserializeSeed<'de>>(
    seed: T,
    node: &Node,
    cx: Cx,
) -> Result<T::Value, DeError> {
    let strict = cx.strict.is_some();
    seed.deserialize(NodeDe {
        node,
        cx: cx.clone(),
    })
    .map_err(|e| if strict { e.at(node, &cx) } else { e })
}

struct SeqDe<'a, 'c> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    cx: &'c Cx,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self
            .items
            .find(|(_, item)| !self.cx.hidden.contains(&Hidden::Item(item.pos)))
        else {
            return Ok(None);
        };
        let cx = self.cx.child(|path| format!("{path}[{i}]"));
        value_of(seed, node, cx).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a, 'c> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    /// The keys read so far, for duplicates (strict mode).
    seen: Vec<&'a Node>,
    value: Option<(&'a Node, Cx)>,
    cx: &'c Cx,
}

impl<'de> de::MapAccess<'de> for MapDe<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let (key, value) = loop {
            let Some((key, value)) = self.entries.next() else {
                return Ok(None);
            };
            if !self.cx.hidden.contains(&Hidden::Key(key.pos)) {
                break (key, value);
            }
            self.seen.push(key);
        };
        if self.cx.strict.is_some() {
            self.strict_key(key)?;
        }
        let name = key.as_str().unwrap_or_default();
        self.value = Some((value, self.cx.child(|path| join(path, name))));
        value_of(seed, key, self.cx.clone()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((value, cx)) => value_of(seed, value, cx),
            None => Err(de::Error::custom(
                "a mapping value was asked for before its key",
            )),
        }
    }
}

impl<'a> MapDe<'a, '_> {
    /// A key is a name, given once.
    fn strict_key(&mut self, key: &'a Node) -> Result<(), DeError> {
        let error = |message: String, found| {
            Err(DeError {
                strict: Some(message),
                found,
                ..de::Error::custom("")
            }
            .at(key, self.cx))
        };
        let Some(name) = key.as_str() else {
            return error("expected a key name".to_owned(), true);
        };
        if let Some(first) = self.seen.iter().find(|k| k.as_str() == Some(name)) {
            let (line, column) = (first.pos.line, first.pos.column);
            return error(
                format!("duplicate key `{name}` (first at line {line}, column {column})"),
                false,
            );
        }
        self.seen.push(key);
        Ok(())
    }
}

struct EnumDe<'a> {
    key: &'a Node,
    value: &'a Node,
    cx: Cx,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let (key, value, cx) = (self.key, self.value, self.cx);
        let variant = seed.deserialize(NodeDe {
            node: key,
            cx: cx.clone(),
        })?;
        Ok((variant, NodeDe { node: value, cx }))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.node.value {
            Value::Null => Ok(()),
            _ => Err(de::Error::invalid_type(unexpected(self.node), &"no value")),
        }
        .map_err(|e: DeError| e.at(self.node, &self.cx))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, v)
    }
}

#[cfg(all(test, feature = "simulator"))]
#[path = "de_tests.rs"]
mod tests;
