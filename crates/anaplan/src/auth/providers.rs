//! The providers: basic, certificate, ready token and OAuth refresh token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use runwait_core::token::{OAuthTokenReply, TokenValue};

use super::service::AuthService;
use super::token::{AccessToken, Scheme};
use crate::{Error, Secret};

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
            .map(|s| auth.clock().now() + Duration::from_secs(s.min(365 * 86_400)));
        Ok(AccessToken::new(
            reply.access_token,
            Scheme::Bearer,
            expires_at,
        ))
    }
}
