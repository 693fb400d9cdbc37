//! Authentication: the providers (basic, certificate, ready token, OAuth refresh token)
//! and the token manager that shares one token between every call of a client.
//!
//! The manager renews the token before it expires (when less than the refresh margin,
//! 5 minutes by default, remains), never per call: Anaplan warns that a new token per
//! call can fail. Renewal happens under a lock, so concurrent callers wait for one
//! renewal instead of each starting their own.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use runwait_core::token::{AuthReply, OAuthTokenReply, TokenValue};
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::error::RequestLine;
use crate::http::{AuthRequest, Http};
use crate::{Clock, Error, Secret};

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

/// A way to obtain tokens. Implementations talk to the auth service only through
/// [`AuthService`], so they never see the HTTP stack.
#[async_trait]
pub trait AuthProvider: Send + Sync + fmt::Debug {
    /// Obtains a new token from the credentials.
    async fn login(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error>;

    /// True when its tokens come from the Anaplan auth service and can be renewed with
    /// `/token/refresh`; otherwise a token about to expire is replaced by a new login.
    fn renews_with_refresh(&self) -> bool {
        false
    }
}

/// The auth-service calls a provider may make.
pub struct AuthService<'a> {
    pub(crate) http: &'a Http,
}

impl AuthService<'_> {
    /// `POST {auth}/token/authenticate` with the given `Authorization` header and body.
    pub async fn authenticate(
        &self,
        authorization: Secret,
        body: Option<Vec<u8>>,
    ) -> Result<AccessToken, Error> {
        let reply = self
            .http
            .auth_call(AuthRequest {
                segments: &["token", "authenticate"],
                authorization,
                body,
            })
            .await?;
        Ok(token_from_reply(reply))
    }

    /// `POST {auth}/token/refresh` with the current token.
    pub async fn refresh(&self, current: &AccessToken) -> Result<AccessToken, Error> {
        let authorization = Secret::new(format!("AnaplanAuthToken {}", current.value().expose()));
        let reply = self
            .http
            .auth_call(AuthRequest {
                segments: &["token", "refresh"],
                authorization,
                body: None,
            })
            .await?;
        Ok(token_from_reply(reply))
    }

    /// `POST {url}` with a form body, for OAuth token endpoints; returns the JSON text.
    pub async fn post_form(&self, url: &url::Url, form: &[(&str, &str)]) -> Result<String, Error> {
        self.http.form_call(url, form).await
    }
}

/// User name and password (`Authorization: Basic …`).
#[derive(Debug, Clone)]
pub struct BasicAuth {
    user: String,
    password: Secret,
}

impl BasicAuth {
    /// Credentials of one Anaplan user.
    pub fn new(user: impl Into<String>, password: Secret) -> Self {
        BasicAuth {
            user: user.into(),
            password,
        }
    }
}

#[async_trait]
impl AuthProvider for BasicAuth {
    async fn login(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        let pair = BASE64.encode(format!("{}:{}", self.user, self.password.expose()));
        auth.authenticate(Secret::new(format!("Basic {pair}")), None)
            .await
    }

    fn renews_with_refresh(&self) -> bool {
        true
    }
}

#[async_trait]
impl AuthProvider for crate::cert::CertificateAuth {
    async fn login(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        let (authorization, body) = self.login_request()?;
        auth.authenticate(authorization, Some(body)).await
    }

    fn renews_with_refresh(&self) -> bool {
        true
    }
}

/// A token obtained elsewhere, used as it is: it cannot be renewed, so a 401 is final.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    token: AccessToken,
}

impl TokenAuth {
    /// An Anaplan auth token (`AnaplanAuthToken`).
    pub fn anaplan(token: Secret) -> Self {
        TokenAuth {
            token: AccessToken::new(
                TokenValue::new(token.expose()),
                Scheme::AnaplanAuthToken,
                None,
            ),
        }
    }

    /// An OAuth access token (`Bearer`).
    pub fn bearer(token: Secret) -> Self {
        TokenAuth {
            token: AccessToken::new(TokenValue::new(token.expose()), Scheme::Bearer, None),
        }
    }
}

#[async_trait]
impl AuthProvider for TokenAuth {
    async fn login(&self, _auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        Ok(self.token.clone())
    }
}

/// Where an OAuth client keeps its refresh token, so a rotated one survives restarts.
pub trait RefreshTokenStore: Send + Sync + fmt::Debug {
    /// Saves the refresh token that replaces the previous one.
    fn save(&self, refresh_token: &Secret) -> Result<(), Error>;
}

/// A refresh-token store that is a file holding just the token (written atomically).
#[derive(Debug, Clone)]
pub struct FileRefreshTokenStore {
    path: std::path::PathBuf,
}

impl FileRefreshTokenStore {
    /// Stores into `path`.
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        FileRefreshTokenStore { path: path.into() }
    }
}

impl RefreshTokenStore for FileRefreshTokenStore {
    fn save(&self, refresh_token: &Secret) -> Result<(), Error> {
        let tmp = self.path.with_extension("tmp");
        let fail = |e: std::io::Error| {
            Error::Credentials(format!(
                "cannot store the rotated refresh token in {}: {e}",
                self.path.display()
            ))
        };
        // Readable by the owner only, before a byte of the token is in it.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(fail)?;
        std::io::Write::write_all(&mut file, refresh_token.expose().as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

/// OAuth 2.0 refresh-token grant: `POST {token_url}` with `grant_type=refresh_token`.
/// A rotated refresh token is kept for the next renewal and handed to the store.
#[derive(Debug)]
pub struct OAuthRefreshAuth {
    token_url: url::Url,
    client_id: String,
    refresh_token: std::sync::Mutex<Secret>,
    store: Option<Arc<dyn RefreshTokenStore>>,
}

impl OAuthRefreshAuth {
    /// A client of `token_url` (for a region: `https://{region}.app.anaplan.com/oauth/token`).
    pub fn new(token_url: url::Url, client_id: impl Into<String>, refresh_token: Secret) -> Self {
        OAuthRefreshAuth {
            token_url,
            client_id: client_id.into(),
            refresh_token: std::sync::Mutex::new(refresh_token),
            store: None,
        }
    }

    /// Saves rotated refresh tokens to `store`.
    pub fn with_store(mut self, store: Arc<dyn RefreshTokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    fn current_refresh_token(&self) -> Secret {
        self.refresh_token
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

#[async_trait]
impl AuthProvider for OAuthRefreshAuth {
    async fn login(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        let refresh = self.current_refresh_token();
        let body = auth
            .post_form(
                &self.token_url,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &self.client_id),
                    ("refresh_token", refresh.expose()),
                ],
            )
            .await?;
        let reply: OAuthTokenReply =
            runwait_core::wire::parse_json(&body).map_err(|source| Error::Malformed {
                request: crate::error::RequestLine {
                    method: "POST".into(),
                    path: self.token_url.path().to_owned(),
                },
                source,
            })?;
        if let Some(rotated) = reply.refresh_token {
            let rotated = Secret::new(rotated.expose());
            // The old token is already revoked: keep the new one in memory whatever
            // happens to the store, so this run can go on.
            if let Ok(mut slot) = self.refresh_token.lock() {
                *slot = rotated.clone();
            }
            if let Some(Err(e)) = self.store.as_ref().map(|store| store.save(&rotated)) {
                tracing::error!(error = %e, "the rotated OAuth refresh token was not stored: the next run must be authorised again");
            }
        }
        let expires_at = reply
            .expires_in
            // A year at most: an absurd lifetime must not overflow the clock.
            .map(|s| auth.http.clock.now() + Duration::from_secs(s.min(365 * 86_400)));
        Ok(AccessToken::new(
            reply.access_token,
            Scheme::Bearer,
            expires_at,
        ))
    }
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
    pub(crate) async fn token(&self, http: &Http) -> Result<AccessToken, Error> {
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        let auth = AuthService { http };
        let fresh = match current.as_ref() {
            Some(t) => match t.remaining(now) {
                None => return Ok(t.clone()),
                Some(left) if left > self.refresh_margin => return Ok(t.clone()),
                Some(left) if left > Duration::ZERO => {
                    let span = tracing::info_span!(
                        "anaplan.auth.refresh",
                        runwait.token.remaining_s = left.as_secs() as i64
                    );
                    match self.renew(&auth, t).instrument(span).await {
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
                Some(_) => self.login(&auth).await?,
            },
            None => self.login(&auth).await?,
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
