//! The first phase of loading: YAML text to a tree of nodes that each know their line and
//! column. serde-saphyr parses (syntax, anchors, merge keys, resource budgets); the tree
//! keeps every entry of a mapping, duplicates included, so that the second phase can
//! report every problem of a file instead of stopping at the first.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned};

/// A line and column (1-based, in characters) and, when known, the byte range of the node
/// in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
    /// Byte offset and length of the scalar's text (quotes included) in the source.
    pub bytes: Option<(usize, usize)>,
}

/// One YAML node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// What a node holds. Plain scalars are typed by the YAML core schema (`true`, `12`, `1.5`,
/// `~`); with `strict_booleans`, `yes`/`no`/`on`/`off` stay strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A string; `substituted` when `${VAR}` was replaced in it, which lets a number or
    /// boolean field accept `${RETRIES}`.
    Str {
        text: String,
        substituted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a string node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value of `key` when this node is a mapping that has it (the first, if repeated).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A scalar as text (integers, floats and booleans as written by the core schema);
    /// `None` for null and collections.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str { text, .. } => Some(text.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// "a string `x`", "an integer `3`", … for "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_owned(),
            Value::Bool(b) => format!("the boolean `{b}`"),
            Value::Int(i) => format!("the integer `{i}`"),
            Value::Float(f) => format!("the number `{f}`"),
            Value::Str { text, .. } => format!("the string `{}`", text.escape_debug()),
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// A YAML syntax (or resource budget) error with its position when serde-saphyr gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line_col: Option<(u32, u32)>,
    pub message: String,
}

/// Parses one YAML document into a tree. An empty document is a null node at 1:1.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        // Duplicates go to the tree, where they are reported with both positions.
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        // `on: yes` must not silently become a boolean, nor `no` a `false`.
        strict_booleans: true,
        // `0118…` stays the string it looks like.
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let message = serde_saphyr::UserMessageFormatter.format_message(&e);
        SyntaxError {
            line_col: e
                .location()
                .filter(|l| l.line() > 0)
                .map(|l| (narrow(l.line()), narrow(l.column()))),
            // The formatter's text may carry control characters from the input.
            message: message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        }
    })
}

/// Lines and columns beyond `u32` saturate (such a file is over the parse budget anyway).
fn narrow(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let at = spanned.referenced;
        let span = at.span();
        let bytes = span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(o, l)| Some((usize::try_from(o).ok()?, usize::try_from(l).ok()?)));
        Ok(Node {
            pos: Pos {
                line: narrow(at.line()),
                column: narrow(at.column()),
                bytes,
            },
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str {
            text: v.to_owned(),
            substituted: false,
        })
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str {
            text: v,
            substituted: false,
        })
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        String::from_utf8(v.to_vec())
            .map(|text| Value::Str {
                text,
                substituted: false,
            })
            .map_err(|_| E::custom("binary data is not supported here"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        // The tree of a large file is held whole while it is checked: no spare room.
        items.shrink_to_fit();
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        entries.shrink_to_fit();
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str_node(n: &Node) -> &str {
        n.as_str().unwrap()
    }

    #[test]
    fn keeps_positions_types_and_duplicates() {
        let root = parse("a: 1\nb:\n  - \"x\"\n  - yes\na: ~\n").unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map: {root:?}")
        };
        assert_eq!(entries.len(), 3, "the duplicate `a` is kept");
        assert_eq!(str_node(&entries[2].0), "a");
        assert_eq!((entries[2].0.pos.line, entries[2].0.pos.column), (5, 1));
        assert_eq!(entries[0].1.value, Value::Int(1));
        let Value::Seq(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(str_node(&items[0]), "x");
        assert_eq!((items[0].pos.line, items[0].pos.column), (3, 5));
        assert_eq!(str_node(&items[1]), "yes", "strict booleans");
        assert_eq!(entries[2].1.value, Value::Null);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert_eq!(err.line_col, Some((3, 2)));
        assert!(!err.message.is_empty());
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("# nothing\n").unwrap().value, Value::Null);
    }
}
