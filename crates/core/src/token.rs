//! Bodies of the auth service (`/token/authenticate`, `/token/refresh`, `/token/validate`).
//!
//! The token value is a secret: [`TokenValue`] prints as `***` in `Debug` and `Display`
//! so it cannot leak into logs, and only serialization writes the real value.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::task::EpochMillis;
use crate::wire::{ParseError, parse_json};

/// An auth token value, sent as `Authorization: AnaplanAuthToken {value}`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenValue(String);

impl TokenValue {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenValue(***)")
    }
}

impl fmt::Display for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `tokenInfo` of an auth reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token to send on API calls.
    pub token_value: TokenValue,
    /// The token's id (not secret).
    #[serde(default)]
    pub token_id: String,
    /// When the token expires.
    pub expires_at: EpochMillis,
    /// The id of the refresh token, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_id: Option<String>,
}

/// `meta` of an auth reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthMeta {
    /// Where the token can be validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_url: Option<String>,
}

/// A successful auth reply: `{meta, status: "SUCCESS", statusMessage, tokenInfo}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthReply {
    /// `meta`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<AuthMeta>,
    /// `"SUCCESS"`.
    pub status: String,
    /// "Login successful", "Token refreshed", …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// The token.
    pub token_info: TokenInfo,
}

impl AuthReply {
    /// Reads a reply of `/token/authenticate`, `/token/refresh` or `/token/validate`.
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        parse_json(body)
    }
}

/// A failed auth reply: `{"status":"FAILURE_BAD_CREDENTIAL","statusMessage":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthFailure {
    /// `FAILURE_BAD_CREDENTIAL`, … (kept verbatim).
    pub status: String,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

impl AuthFailure {
    /// Reads a failed auth reply.
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        parse_json(body)
    }
}

/// The reply of an OAuth token endpoint to a refresh-token grant
/// (`POST /oauth/token`): the access token is sent as `Bearer`; a rotating server also
/// returns the refresh token that replaces the one it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthTokenReply {
    /// The access token.
    pub access_token: TokenValue,
    /// `bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Seconds the access token lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The next refresh token, when the server rotates them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<TokenValue>,
}

/// The body of a certificate login: base64 of random bytes and of their SHA512withRSA
/// signature; `encodedDataFormat: "v2"` means the bytes start with an 8-byte big-endian
/// timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAuthRequest {
    /// Base64 of the signed bytes.
    pub encoded_data: String,
    /// Base64 of the signature over the decoded bytes.
    pub encoded_signed_data: String,
    /// `"v2"` for the timestamped format; absent for v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_data_format: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_value_never_prints_but_serializes() {
        let reply = AuthReply::parse(
            r#"{"meta":{"validationUrl":"https://auth/x"},"status":"SUCCESS",
                "statusMessage":"Login successful","refreshToken":"new-field",
                "tokenInfo":{"tokenId":"id","tokenValue":"s3cret","expiresAt":1505177912858,
                             "refreshTokenId":"r"}}"#,
        )
        .unwrap();
        let value = &reply.token_info.token_value;
        assert_eq!(value.expose(), "s3cret");
        assert_eq!(value.to_string(), "***");
        assert!(!format!("{reply:?}").contains("s3cret"));
        assert!(
            serde_json::to_string(&reply)
                .unwrap()
                .contains("\"s3cret\"")
        );
    }

    #[test]
    fn failure_reads() {
        let f = AuthFailure::parse(r#"{"status":"FAILURE_BAD_CREDENTIAL","statusMessage":"no"}"#)
            .unwrap();
        assert_eq!(f.status, "FAILURE_BAD_CREDENTIAL");
    }
}
