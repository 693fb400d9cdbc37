//! Newtypes for Anaplan's ids.
//!
//! Anaplan ids are case-sensitive strings (task ids are 32 uppercase hex digits, object
//! ids 12 digits), so they are kept as strings and never parsed into numbers. The
//! newtypes stop a task id from being passed where a model id is expected. An id is
//! shared, not copied: a wait keeps its target and task ids for hours, in its step and
//! its record, and a clone is a reference count.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Reads an id's text straight into its shared form, with the one allocation a `String`
/// took (serde's own `Arc<str>` reads a `String` and copies it): a status poll reads
/// the task's id every time.
struct IdText;

impl Visitor<'_> for IdText {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arc<str>, E> {
        Ok(Arc::from(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Arc<str>, E> {
        std::str::from_utf8(v)
            .map(Arc::from)
            .map_err(|_| E::invalid_value(Unexpected::Bytes(v), &self))
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        /// As its text, as a plain string.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_string(IdText).map(Self)
            }
        }

        impl $name {
            /// Wraps an id as Anaplan spells it (ids are case-sensitive: no normalisation).
            pub fn new(id: impl Into<String>) -> Self {
                Self(Arc::from(id.into()))
            }

            /// The id exactly as Anaplan spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(Arc::from(id))
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self::new(id)
            }
        }
    };
}

string_id!(
    /// A task id (32 uppercase hex digits), one per run of an import, export, action or process.
    TaskId
);
string_id!(
    /// An object id (12 digits): an import, file, export, action or process of a model.
    ObjectId
);
string_id!(
    /// A model id (32 uppercase hex digits).
    ModelId
);
string_id!(
    /// A workspace id (32 lowercase hex digits).
    WorkspaceId
);

/// What an object id names, read from its three-digit prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// Prefix 112.
    Import,
    /// Prefix 113.
    File,
    /// Prefix 116 (an export's output file has the same id).
    Export,
    /// Prefix 117.
    Action,
    /// Prefix 118.
    Process,
}

impl ObjectKind {
    /// The lowercase name Anaplan uses for this kind in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Import => "import",
            ObjectKind::File => "file",
            ObjectKind::Export => "export",
            ObjectKind::Action => "action",
            ObjectKind::Process => "process",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Each kind's object-id prefix: the one table both directions read.
const PREFIXES: [(&str, ObjectKind); 5] = [
    ("112", ObjectKind::Import),
    ("113", ObjectKind::File),
    ("116", ObjectKind::Export),
    ("117", ObjectKind::Action),
    ("118", ObjectKind::Process),
];

impl ObjectKind {
    /// The three digits its object ids start with (`118` for a process).
    pub fn prefix(self) -> &'static str {
        PREFIXES
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(p, _)| p)
    }
}

impl ObjectId {
    /// The kind of object, when the id carries a known prefix.
    pub fn kind(&self) -> Option<ObjectKind> {
        let prefix = self.0.get(..3)?;
        PREFIXES.iter().find(|(p, _)| *p == prefix).map(|(_, k)| *k)
    }

    /// Twelve digits, as Anaplan's object ids are (the prefix is checked by [`kind`](Self::kind)).
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == 12 && self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

/// 32 hex digits, the letters in the given case.
fn is_hex32(s: &str, upper: bool) -> bool {
    let letters = if upper { b'A'..=b'F' } else { b'a'..=b'f' };
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || letters.contains(&b))
}

impl WorkspaceId {
    /// 32 lowercase hex digits, as Anaplan's workspace ids are.
    pub fn is_well_formed(&self) -> bool {
        is_hex32(&self.0, false)
    }
}

impl ModelId {
    /// 32 uppercase hex digits, as Anaplan's model ids are.
    pub fn is_well_formed(&self) -> bool {
        is_hex32(&self.0, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_know_their_form() {
        assert!(WorkspaceId::new("8a81b09d5e8c6f27015e8d6c3f4a0b21").is_well_formed());
        assert!(!WorkspaceId::new("8A81B09D5E8C6F27015E8D6C3F4A0B21").is_well_formed());
        assert!(ModelId::new("75A40874E6B64FA3AE0743278996850F").is_well_formed());
        assert!(!ModelId::new("75a40874e6b64fa3ae0743278996850f").is_well_formed());
        assert!(!ModelId::new("75A4").is_well_formed());
        assert!(ObjectId::new("118000000001").is_well_formed());
        assert!(!ObjectId::new("11800000000x").is_well_formed());
        assert_eq!(ObjectKind::Process.prefix(), "118");
        assert_eq!(ObjectKind::File.prefix(), "113");
    }

    #[test]
    fn ids_are_read_from_plain_strings_only() {
        let id: TaskId = serde_json::from_str(r#""9A1C7B2E4F6D48A0B3C5E7F9A1B3C5D7""#).unwrap();
        assert_eq!(id.as_str(), "9A1C7B2E4F6D48A0B3C5E7F9A1B3C5D7");
        // An escaped one is read too (its text is not borrowed from the input).
        let escaped: ObjectId = serde_json::from_str(r#""11800000000\u0031""#).unwrap();
        assert_eq!(escaped, ObjectId::new("118000000001"));
        let wrong = serde_json::from_str::<WorkspaceId>("12").unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "invalid type: integer `12`, expected a string at line 1 column 2"
        );
    }

    #[test]
    fn object_kind_comes_from_the_prefix() {
        assert_eq!(
            ObjectId::new("112000000000").kind(),
            Some(ObjectKind::Import)
        );
        assert_eq!(
            ObjectId::new("118000000001").kind(),
            Some(ObjectKind::Process)
        );
        assert_eq!(ObjectId::new("999000000001").kind(), None);
        assert_eq!(ObjectId::new("1").kind(), None);
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = TaskId::new("B7EA9FEC0FF2488B9A9E6040B6B26753");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"B7EA9FEC0FF2488B9A9E6040B6B26753\""
        );
    }
}
