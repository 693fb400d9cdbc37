//! Newtypes for Anaplan's ids.
//!
//! Anaplan ids are case-sensitive strings (task ids are 32 uppercase hex digits, object
//! ids 12 digits), so they are kept as strings and never parsed into numbers. The
//! newtypes stop a task id from being passed where a model id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id as Anaplan spells it (ids are case-sensitive: no normalisation).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
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
                Self::new(id)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
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

impl ObjectId {
    /// The kind of object, when the id carries a known prefix.
    pub fn kind(&self) -> Option<ObjectKind> {
        match self.0.get(..3)? {
            "112" => Some(ObjectKind::Import),
            "113" => Some(ObjectKind::File),
            "116" => Some(ObjectKind::Export),
            "117" => Some(ObjectKind::Action),
            "118" => Some(ObjectKind::Process),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
