//! `connection.auth:` the four ways to log in, and the secrets they reference. A file
//! writes one flat mapping with a `kind`; [`AuthFile`] is read through that flat shape
//! ([`AuthFlat`], every key at one level, so that each key keeps its position) and the
//! keys each kind takes are a rule across its fields.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, de};

use super::secret::SecretRef;
use super::values::{self, fields_of};

/// How to log in; every secret comes from an environment variable or a file.
// Read through `AuthFlat` (below); the `serde` attributes shape the schema.
#[derive(Debug, Clone, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[schemars(rename = "Auth")]
#[non_exhaustive]
pub enum AuthFile {
    /// User name and password.
    Basic(BasicAuthFile),
    /// A CA certificate and its private key (PEM files, relative to the workflow file).
    Certificate(CertificateAuthFile),
    /// A ready Anaplan token.
    Token(TokenAuthFile),
    /// OAuth refresh-token grant; a rotated token is written back to its file.
    Oauth(OAuthFile),
}

/// `kind: basic`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BasicAuthFile {
    /// The user's email address.
    pub user: String,
    /// The password.
    pub password: SecretRef,
}

/// `kind: certificate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CertificateAuthFile {
    /// The certificate PEM file.
    pub certificate: PathBuf,
    /// The private key PEM file.
    pub private_key: PathBuf,
    /// The passphrase of an encrypted key.
    pub passphrase: Option<SecretRef>,
    /// The signed-data format (default v2).
    pub format: Option<CertificateFormat>,
}

/// `kind: token`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenAuthFile {
    /// The token.
    pub token: SecretRef,
}

/// `kind: oauth`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OAuthFile {
    /// The OAuth client id.
    pub client_id: String,
    /// The refresh token.
    pub refresh_token: SecretRef,
    /// The client secret of an Authorization Code client (Device Grant clients have
    /// none).
    #[serde(default)]
    pub client_secret: Option<SecretRef>,
}

/// The certificate login's signed-data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CertificateFormat {
    /// 100 random bytes.
    V1,
    /// A timestamp and 100 random bytes.
    V2,
}

/// `auth.kind`: the names of [`AuthFile`]'s variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthKind {
    Basic,
    Certificate,
    Token,
    Oauth,
}

impl AuthKind {
    /// The name as the file writes it.
    pub(crate) fn name(self) -> &'static str {
        values::variants_of::<AuthKind>()[self as usize]
    }

    /// The kind named `name`, if any.
    pub(crate) fn named(name: &str) -> Option<AuthKind> {
        let names = values::variants_of::<AuthKind>();
        let i = names.iter().position(|n| *n == name)?;
        [
            AuthKind::Basic,
            AuthKind::Certificate,
            AuthKind::Token,
            AuthKind::Oauth,
        ]
        .get(i)
        .copied()
    }

    /// The keys this kind takes besides `kind`: its variant's fields.
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            AuthKind::Basic => fields_of::<BasicAuthFile>(),
            AuthKind::Certificate => fields_of::<CertificateAuthFile>(),
            AuthKind::Token => fields_of::<TokenAuthFile>(),
            AuthKind::Oauth => fields_of::<OAuthFile>(),
        }
    }

    /// The message for `key`, given with this kind but not one of its keys.
    pub(crate) fn stray_message(self, key: &str) -> String {
        format!(
            "`{key}` is not used with `kind: {}`, which takes {}",
            self.name(),
            self.keys().join(", ")
        )
    }
}

/// `auth:` as written: `kind` and the keys of every kind, each optional (which ones a
/// kind requires and takes is checked across fields). The keys are `kind`, then those of
/// each variant of [`AuthFile`] in order (a test holds them to it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthFlat {
    pub kind: AuthKind,
    #[serde(default, deserialize_with = "values::non_empty")]
    pub user: Option<String>,
    pub password: Option<SecretRef>,
    #[serde(default, deserialize_with = "values::path")]
    pub certificate: Option<PathBuf>,
    #[serde(default, deserialize_with = "values::path")]
    pub private_key: Option<PathBuf>,
    pub passphrase: Option<SecretRef>,
    pub format: Option<CertificateFormat>,
    pub token: Option<SecretRef>,
    #[serde(default, deserialize_with = "values::non_empty")]
    pub client_id: Option<String>,
    pub refresh_token: Option<SecretRef>,
    pub client_secret: Option<SecretRef>,
}

impl AuthFlat {
    /// The keys given (in [`fields_of`] order, which a test holds this list to).
    fn given(&self) -> Vec<&'static str> {
        let given = [
            true,
            self.user.is_some(),
            self.password.is_some(),
            self.certificate.is_some(),
            self.private_key.is_some(),
            self.passphrase.is_some(),
            self.format.is_some(),
            self.token.is_some(),
            self.client_id.is_some(),
            self.refresh_token.is_some(),
            self.client_secret.is_some(),
        ];
        fields_of::<AuthFlat>()
            .iter()
            .zip(given)
            .filter_map(|(key, given)| given.then_some(*key))
            .collect()
    }

    /// The [`AuthFile`] of its kind: every key given is one the kind takes, its required
    /// keys are given, and each secret names one source. The error starts with the field
    /// path under `auth` when there is one.
    pub(crate) fn into_file(self) -> Result<AuthFile, String> {
        let kind = self.kind;
        if let Some(stray) = self
            .given()
            .into_iter()
            .find(|key| *key != "kind" && !kind.keys().contains(key))
        {
            return Err(kind.stray_message(stray));
        }
        let secret = |value: Option<SecretRef>, key: &str| match value {
            Some(s) => s
                .check()
                .map(|()| Some(s))
                .map_err(|e| format!("{key}: {e}")),
            None => Ok(None),
        };
        Ok(match kind {
            AuthKind::Basic => AuthFile::Basic(BasicAuthFile {
                user: required(self.user, "user")?,
                password: required(secret(self.password, "password")?, "password")?,
            }),
            AuthKind::Certificate => AuthFile::Certificate(CertificateAuthFile {
                certificate: required(self.certificate, "certificate")?,
                private_key: required(self.private_key, "private_key")?,
                passphrase: secret(self.passphrase, "passphrase")?,
                format: self.format,
            }),
            AuthKind::Token => AuthFile::Token(TokenAuthFile {
                token: required(secret(self.token, "token")?, "token")?,
            }),
            AuthKind::Oauth => AuthFile::Oauth(OAuthFile {
                client_id: required(self.client_id, "client_id")?,
                refresh_token: required(
                    secret(self.refresh_token, "refresh_token")?,
                    "refresh_token",
                )?,
                client_secret: secret(self.client_secret, "client_secret")?,
            }),
        })
    }
}

/// A key the kind requires.
fn required<T>(value: Option<T>, key: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing required key `{key}`"))
}

impl<'de> Deserialize<'de> for AuthFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AuthFlat::deserialize(d)?
            .into_file()
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flat_keys_are_kind_and_those_of_each_variant() {
        let mut keys = vec!["kind"];
        for kind in ["basic", "certificate", "token", "oauth"] {
            let kind = AuthKind::named(kind).unwrap();
            keys.extend(kind.keys());
        }
        assert_eq!(fields_of::<AuthFlat>(), keys);
        assert_eq!(
            values::variants_of::<AuthKind>(),
            ["basic", "certificate", "token", "oauth"]
        );
        assert_eq!(AuthKind::Oauth.name(), "oauth");
    }

    #[test]
    fn a_host_reads_an_auth_with_the_rules_of_its_kind() {
        let read = |yaml: &str| serde_saphyr::from_str::<AuthFile>(yaml).map_err(|e| e.to_string());
        let ok = read("kind: oauth\nclient_id: c\nrefresh_token: {env: RT}\n").unwrap();
        assert!(matches!(
            ok,
            AuthFile::Oauth(OAuthFile {
                client_secret: None,
                ..
            })
        ));
        for (yaml, message) in [
            (
                "kind: oauth\nclient_id: c\nrefresh_token: {env: RT}\npassword: {env: P}\n",
                "`password` is not used with `kind: oauth`, which takes client_id, refresh_token, client_secret",
            ),
            ("kind: basic\nuser: u\n", "missing required key `password`"),
            (
                "kind: token\ntoken: {env: T, file: t}\n",
                "token: give `env` or `file`, not both",
            ),
            (
                "kind: token\ntoken: hunter2\n",
                "secrets must come from env or file",
            ),
            ("kind: fancy\n", "unknown variant `fancy`"),
        ] {
            let err = read(yaml).unwrap_err();
            // serde-saphyr quotes the host's line after its first; the message is ours.
            let first = err.lines().next().unwrap_or_default();
            assert!(first.contains(message), "{yaml}: {err}");
            assert!(!first.contains("hunter2"), "{err}");
        }
    }
}
