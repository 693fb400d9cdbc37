//! The token: what a login yields and how it goes into a request's `Authorization`.

use std::fmt;
use std::time::{Duration, SystemTime};

use runwait_core::token::{AuthReply, TokenValue};

/// How the token goes into the `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `AnaplanAuthToken {token}`: tokens of the Anaplan auth service.
    AnaplanAuthToken,
    /// `Bearer {token}`: OAuth access tokens.
    Bearer,
}

/// A token that API calls can carry.
#[derive(Clone)]
pub struct AccessToken {
    value: TokenValue,
    scheme: Scheme,
    expires_at: Option<SystemTime>,
    /// Which renewal of the manager made it (0 before the manager has it).
    pub(super) serial: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"***")
            .field("scheme", &self.scheme)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl AccessToken {
    /// A token of the given scheme; `expires_at` is unknown for ready-made tokens.
    pub fn new(value: TokenValue, scheme: Scheme, expires_at: Option<SystemTime>) -> Self {
        AccessToken {
            value,
            scheme,
            expires_at,
            serial: 0,
        }
    }

    /// The value of the `Authorization` header.
    pub(crate) fn header(&self) -> String {
        match self.scheme {
            Scheme::AnaplanAuthToken => format!("AnaplanAuthToken {}", self.value.expose()),
            Scheme::Bearer => format!("Bearer {}", self.value.expose()),
        }
    }

    /// The token value, for the refresh call.
    pub(crate) fn value(&self) -> &TokenValue {
        &self.value
    }

    /// When the token expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    pub(super) fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at
            .map(|t| t.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// What an auth reply's `tokenInfo` becomes.
pub(crate) fn token_from_reply(reply: AuthReply) -> AccessToken {
    AccessToken::new(
        reply.token_info.token_value,
        Scheme::AnaplanAuthToken,
        Some(reply.token_info.expires_at.to_system_time()),
    )
}
