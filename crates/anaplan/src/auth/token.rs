//! The token: how it goes into a request, and the manager that shares one token between
//! every call of a client.
//!
//! The manager renews the token before it expires (when less than the refresh margin,
//! 5 minutes by default, remains), never per call: Anaplan warns that a new token per
//! call can fail. Renewal happens under a lock, so concurrent callers wait for one
//! renewal instead of each starting their own.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use runwait_core::token::{AuthReply, TokenValue};
use tokio::sync::Mutex;
use tracing::Instrument;

use super::providers::AuthProvider;
use super::service::AuthService;
use crate::error::RequestLine;
use crate::{Clock, Error};

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
    serial: u64,
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

    fn remaining(&self, now: SystemTime) -> Option<Duration> {
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

/// Holds the client's one token and renews it in time.
pub(crate) struct TokenManager {
    provider: Arc<dyn AuthProvider>,
    current: Mutex<Option<AccessToken>>,
    serial: AtomicU64,
    refresh_margin: Duration,
    clock: Arc<dyn Clock>,
    /// A login the auth service refused: not tried again by this client, so parallel
    /// steps cannot lock the account with a wrong password.
    refused: std::sync::Mutex<Option<(RequestLine, u16, String)>>,
}

impl TokenManager {
    pub(crate) fn new(
        provider: Arc<dyn AuthProvider>,
        refresh_margin: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TokenManager {
            provider,
            current: Mutex::new(None),
            serial: AtomicU64::new(0),
            refresh_margin,
            clock,
            refused: std::sync::Mutex::new(None),
        }
    }

    /// A token valid for at least the refresh margin (when its expiry is known).
    pub(crate) async fn token(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        let fresh = match current.as_ref() {
            Some(t) => match t.remaining(now) {
                None => return Ok(t.clone()),
                Some(left) if left > self.refresh_margin => return Ok(t.clone()),
                Some(left) if left > Duration::ZERO => {
                    let span = tracing::info_span!(
                        "anaplan.auth.refresh",
                        runwait.token.remaining_s = left.as_secs() as i64
                    );
                    match self.renew(auth, t).instrument(span).await {
                        Ok(fresh) => fresh,
                        // The token still works: a refresh that failed for now is tried
                        // again on the next call, not turned into this call's failure.
                        Err(e) if e.is_transient() => {
                            tracing::warn!(error = %e, "token refresh failed; using the current token while it lasts");
                            return Ok(t.clone());
                        }
                        Err(e) => return Err(e),
                    }
                }
                Some(_) => self.login(auth).await?,
            },
            None => self.login(auth).await?,
        };
        let fresh = AccessToken {
            serial: self.serial.fetch_add(1, Ordering::Relaxed) + 1,
            ..fresh
        };
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// `/token/refresh` where the provider allows it; a refresh the service refuses
    /// falls back to a new login.
    async fn renew(
        &self,
        auth: &AuthService<'_>,
        current: &AccessToken,
    ) -> Result<AccessToken, Error> {
        if !self.provider.renews_with_refresh() {
            return self.login(auth).await;
        }
        match auth.refresh(current).await {
            Err(Error::Auth { .. }) => self.login(auth).await,
            other => other,
        }
    }

    async fn login(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        let refused = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((request, status, message)) = refused {
            return Err(Error::Auth {
                request,
                status,
                message,
            });
        }
        let span = tracing::info_span!("anaplan.auth.login");
        let result = self.provider.login(auth).instrument(span).await;
        if let Err(Error::Auth {
            request,
            status,
            message,
        }) = &result
        {
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((request.clone(), *status, message.clone()));
        }
        result
    }

    /// Forgets `token` after the API refused it, so the next call logs in again. A token
    /// already replaced by another caller is left alone.
    pub(crate) async fn rejected(&self, token: &AccessToken) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| t.serial == token.serial) {
            *current = None;
        }
    }
}
