//! Deserializes a typed value (the simulator's `Scenario`) from a parsed [`Node`] tree, so
//! that an inline scenario gets the workflow's `${VAR}` substitution and every error the
//! position of the node it is about: an error raised while visiting a node is stamped
//! with that node's position on its way out, innermost first.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::tree::{Node, Pos, Value};

/// A deserialization error and the node it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    pub message: String,
    pub pos: Option<Pos>,
}

impl DeError {
    /// Keeps the innermost position: only an error without one gets `pos`.
    fn at(mut self, pos: Pos) -> Self {
        self.pos.get_or_insert(pos);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            pos: None,
        }
    }
}

/// `T` from `node`.
pub(crate) fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node))
}

#[derive(Clone, Copy)]
struct NodeDe<'a>(&'a Node);

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let node = self.0;
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
                let mut seq = SeqDe(items.iter());
                let value = v.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    left => Err(de::Error::invalid_length(
                        items.len(),
                        &format!("{} elements", items.len() - left).as_str(),
                    )),
                }
            }
            Value::Map(entries) => v.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
            }),
        }
        .map_err(|e| e.at(node.pos))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
        .map_err(|e| e.at(self.0.pos))
    }

    /// A string field takes a plain scalar as written (`id: 112000000001`), as serde-saphyr
    /// does when it reads a file directly.
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.scalar_text() {
            Some(text) if !matches!(self.0.value, Value::Str { .. }) => {
                v.visit_str(&text).map_err(|e: DeError| e.at(self.0.pos))
            }
            _ => self.deserialize_any(v),
        }
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
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let node = self.0;
        match &node.value {
            Value::Str { text, .. } => {
                let variant: StrDeserializer<'_, DeError> = text.as_str().into_deserializer();
                v.visit_enum(variant)
            }
            Value::Map(entries) if entries.len() == 1 => v.visit_enum(EnumDe {
                key: &entries[0].0,
                value: &entries[0].1,
            }),
            _ => Err(de::Error::invalid_type(unexpected(node), &v)),
        }
        .map_err(|e| e.at(node.pos))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct ignored_any
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

struct SeqDe<'a>(std::slice::Iter<'a, Node>);

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.0
            .next()
            .map(|n| seed.deserialize(NodeDe(n)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(NodeDe(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(value) => seed.deserialize(NodeDe(value)),
            None => Err(de::Error::custom(
                "a mapping value was asked for before its key",
            )),
        }
    }
}

struct EnumDe<'a> {
    key: &'a Node,
    value: &'a Node,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        Ok((seed.deserialize(NodeDe(self.key))?, NodeDe(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.0.value {
            Value::Null => Ok(()),
            _ => Err(de::Error::invalid_type(unexpected(self.0), &"no value")),
        }
        .map_err(|e: DeError| e.at(self.0.pos))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    #[test]
    fn scenario_from_a_tree() {
        let tree = parse(
            "workspaces:\n  - id: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n    name: W\n    models:\n      - id: 75A40874E6B64FA3AE0743278996850F\n        name: M\n        imports:\n          - {id: 112000000001, name: I, duration: 2s, progress: {steps: 4}}\n",
        )
        .unwrap();
        let scenario: runwait_sim::Scenario = from_node(&tree).unwrap();
        scenario.validate().unwrap();
        let import = &scenario.workspaces[0].models[0].imports[0];
        assert_eq!(import.id.as_str(), "112000000001");
        assert_eq!(import.progress, runwait_sim::Curve::Steps(4));
    }

    #[test]
    fn errors_carry_the_innermost_position() {
        let tree = parse("workspaces:\n  - id: w\n    name: W\n    colour: red\n").unwrap();
        let err = from_node::<runwait_sim::Scenario>(&tree).unwrap_err();
        assert!(err.message.contains("unknown field `colour`"), "{err}");
        let pos = err.pos.unwrap();
        assert_eq!((pos.line, pos.column), (4, 5));
        let tree = parse("workspaces: 3\n").unwrap();
        let pos = from_node::<runwait_sim::Scenario>(&tree)
            .unwrap_err()
            .pos
            .unwrap();
        assert_eq!((pos.line, pos.column), (1, 13));
    }
}
