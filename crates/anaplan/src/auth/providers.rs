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

    /// The refresh token stored now, if the store can tell (another run may have
    /// rotated it). Read after a token request whose answer was lost.
    fn load(&self) -> Result<Option<Secret>, Error> {
        Ok(None)
    }
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

    fn load(&self) -> Result<Option<Secret>, Error> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(Secret::new(text.trim_end_matches(['\r', '\n'])))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Credentials(format!(
                "cannot read the refresh token in {}: {e}",
                self.path.display()
            ))),
        }
    }
}

/// OAuth 2.0 refresh-token grant: `POST {token_url}` with a JSON body
/// `{grant_type: refresh_token, client_id, client_secret?, refresh_token}`, as Anaplan
/// documents it. Authorization Code clients have a client secret; Device Grant clients
/// have none. A rotated refresh token is kept for the next renewal and handed to the
/// store.
///
/// A rotating refresh token is single-use, so it is never sent twice: after a request
/// whose answer was lost (a timeout, a broken connection, a 5xx) the server may already
/// have used it up. The stored token is read again then (another run may have rotated
/// it); when it is the same one, the client stops with a clear error instead of sending
/// it again. Once a grant has shown that the tokens do not rotate, a lost answer is
/// simply retried.
#[derive(Debug)]
pub struct OAuthRefreshAuth {
    token_url: url::Url,
    client_id: String,
    client_secret: Option<Secret>,
    state: std::sync::Mutex<RefreshState>,
    store: Option<Arc<dyn RefreshTokenStore>>,
}

#[derive(Debug)]
struct RefreshState {
    token: Secret,
    /// Learnt from the grants: do the refresh tokens rotate? Unknown counts as yes.
    rotates: Option<bool>,
    /// A request carrying `token` lost its answer: the token may be used up.
    maybe_spent: bool,
}

impl OAuthRefreshAuth {
    /// A client of `token_url` (for a region: [`crate::Endpoints::oauth_token_url`]).
    pub fn new(token_url: url::Url, client_id: impl Into<String>, refresh_token: Secret) -> Self {
        OAuthRefreshAuth {
            token_url,
            client_id: client_id.into(),
            client_secret: None,
            state: std::sync::Mutex::new(RefreshState {
                token: refresh_token,
                rotates: None,
                maybe_spent: false,
            }),
            store: None,
        }
    }

    /// The client secret of an Authorization Code client, sent with each grant.
    pub fn with_client_secret(mut self, secret: Secret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Saves rotated refresh tokens to `store`.
    pub fn with_store(mut self, store: Arc<dyn RefreshTokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn line(&self) -> crate::error::RequestLine {
        crate::error::RequestLine {
            method: "POST".into(),
            path: self.token_url.path().to_owned(),
        }
    }

    /// The refresh token to send, or why none may be sent.
    fn token_to_send(&self) -> Result<Secret, Error> {
        let mut state = self.state();
        if !state.maybe_spent {
            return Ok(state.token.clone());
        }
        // The last request's answer was lost: use a token stored since, if any.
        if let Some(stored) = self.store.as_ref().map(|s| s.load()).transpose()?.flatten()
            && stored.expose() != state.token.expose()
        {
            state.token = stored;
            state.maybe_spent = false;
            return Ok(state.token.clone());
        }
        Err(Error::Auth {
            request: self.line(),
            status: 0,
            message: "an OAuth token request lost its answer, so the refresh token it carried may have been used up (rotating refresh tokens are single-use); it is not sent again and no newer one is stored: authorise runwait again and store the new refresh token".into(),
        })
    }
}

#[async_trait]
impl AuthProvider for OAuthRefreshAuth {
    async fn login(&self, auth: &AuthService<'_>) -> Result<AccessToken, Error> {
        let refresh = self.token_to_send()?;
        let resend_ambiguous = self.state().rotates == Some(false);
        let mut body = serde_json::json!({
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": refresh.expose(),
        });
        if let Some(secret) = &self.client_secret {
            body["client_secret"] = secret.expose().into();
        }
        let text = match auth
            .post_json(&self.token_url, &body, resend_ambiguous)
            .await
        {
            Ok(text) => text,
            Err(e) if e.is_ambiguous() && !resend_ambiguous => {
                self.state().maybe_spent = true;
                tracing::error!(error = %e, "the OAuth token request lost its answer; its refresh token is not sent again");
                return Err(e);
            }
            Err(Error::Auth {
                request,
                status,
                message,
            }) => {
                return Err(Error::Auth {
                    request,
                    status,
                    message: format!(
                        "{message}; the OAuth refresh token was refused: it has expired, been revoked, or been rotated by another run: authorise runwait again and store the new refresh token"
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        let reply: OAuthTokenReply =
            runwait_core::wire::parse_json(&text).map_err(|source| Error::Malformed {
                request: self.line(),
                source,
            })?;
        let rotated = reply
            .refresh_token
            .map(|t| Secret::new(t.expose()))
            .filter(|t| t.expose() != refresh.expose());
        {
            let mut state = self.state();
            state.rotates = Some(rotated.is_some());
            if let Some(rotated) = &rotated {
                // The old token is already revoked: keep the new one in memory whatever
                // happens to the store, so this run can go on.
                state.token = rotated.clone();
            }
        }
        if let Some(Err(e)) = rotated
            .as_ref()
            .and_then(|t| self.store.as_ref().map(|store| store.save(t)))
        {
            tracing::error!(error = %e, "the rotated OAuth refresh token was not stored: the next run must be authorised again");
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
