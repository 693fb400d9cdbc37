//! Values that may be secret: [`SecretRef`] (`{ env: NAME }` / `{ file: PATH }`, never
//! the secret itself) and [`StateFile`] (`state:`, written as it is unless it holds a
//! password).

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::values;

/// Where a secret comes from: never the workflow file itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(
    rename = "Secret",
    extend("oneOf" = [{"required": ["env"]}, {"required": ["file"]}])
)]
#[non_exhaustive]
pub struct SecretRef {
    /// An environment variable's name.
    #[serde(default, deserialize_with = "values::var_name")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"), transform = values::no_default)]
    pub env: Option<String>,
    /// A file (relative to the workflow file); a trailing newline is ignored.
    #[serde(default, deserialize_with = "values::path")]
    #[schemars(transform = values::no_default)]
    pub file: Option<PathBuf>,
}

/// What is wrong with a [`SecretRef`] across its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretProblem {
    /// `env` and `file` (reported at `file`).
    Both,
    /// Neither.
    Neither,
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretProblem::Both => "give `env` or `file`, not both",
            SecretProblem::Neither => "expected `{ env: VARIABLE }` or `{ file: PATH }`",
        })
    }
}

impl SecretRef {
    /// Exactly one of `env` and `file`.
    pub(crate) fn check(&self) -> Result<(), SecretProblem> {
        match (&self.env, &self.file) {
            (Some(_), Some(_)) => Err(SecretProblem::Both),
            (None, None) => Err(SecretProblem::Neither),
            _ => Ok(()),
        }
    }
}

/// The message for a secret written in the file; it names the kind of value, never the
/// value.
fn literal_secret(kind: &str) -> String {
    format!(
        "secrets must come from env or file: write `{{ env: VARIABLE }}` or `{{ file: PATH }}`, not {kind}"
    )
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

/// A secret reference: a mapping, or an error that names what was written instead.
struct SecretVisitor;

/// The kinds of values that are not a mapping, by the visitor method that meets them.
macro_rules! refuse_scalars {
    ($message:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($message("a boolean")))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($message("a number")))
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
            Err(E::custom($message("a number")))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($message("a number")))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($message("a number")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($message("nothing (null)")))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($message("nothing (null)")))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($message("a list")))
        }
    };
}

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`{ env: VARIABLE }` or `{ file: PATH }`")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretRef, A::Error> {
        SecretRef::deserialize(MapAccessDeserializer::new(map))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(E::custom(literal_secret("a string")))
    }

    refuse_scalars!(literal_secret);
}

/// `state:` where runwait keeps what it knows of each step run (the task it started, so
/// that a rerun reattaches): a directory, or a `postgres://` URL. Written as it is, or
/// read when the workflow runs from an environment variable or a file (`{ env: NAME }` /
/// `{ file: PATH }`), which a URL with a password must be.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
#[non_exhaustive]
pub enum StateFile {
    /// A directory (relative to the workflow file) or a URL without a password.
    Literal(#[schemars(length(min = 1))] String),
    /// Read from an environment variable or a file when the workflow runs.
    From(SecretRef),
}

/// The message for a literal `state:` that holds a password (which it never repeats).
pub(crate) const STATE_PASSWORD: &str = "a password is a secret, and secrets must come from env or file: write `{ env: VARIABLE }` or `{ file: PATH }` for a value with a password";

/// Whether a location written in the file holds a password: a URL's `user:password@`, or
/// a `password=` of a PostgreSQL connection string.
pub(crate) fn holds_password(text: &str) -> bool {
    let url_password = url::Url::parse(text).is_ok_and(|u| u.password().is_some());
    url_password || text.to_ascii_lowercase().contains("password=")
}

impl<'de> Deserialize<'de> for StateFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StateFile;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a directory, a postgres:// URL, `{ env: VARIABLE }` or `{ file: PATH }`",
                )
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StateFile, A::Error> {
                SecretRef::deserialize(MapAccessDeserializer::new(map)).map(StateFile::From)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<StateFile, E> {
                if text.is_empty() {
                    return Err(E::custom("expected a non-empty string"));
                }
                if holds_password(text) {
                    return Err(E::custom(STATE_PASSWORD));
                }
                Ok(StateFile::Literal(text.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}
