//! The token manager: shares one token between every call of a client.
//!
//! It renews the token before it expires (when less than the refresh margin, 5 minutes
//! by default, remains), never per call: Anaplan warns that a new token per call can
//! fail. Calls read the token without waiting (every poll of every wait reads it);
//! renewal happens under an async lock, so one caller renews. While the token still
//! works nobody waits for that renewal, and a refresh that failed for now is not tried
//! again for [`REFRESH_BACKOFF`]: a failing auth service neither holds up ten thousand
//! polls nor is asked by each of them in turn. Only a caller with no valid token waits
//! for the login; when that login fails for now, the callers that waited for it get its
//! error instead of each trying their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;
use tracing::Instrument;

use super::providers::AuthProvider;
use super::service::AuthService;
use super::token::AccessToken;
use crate::error::RequestLine;
use crate::transport::Authorization;
use crate::{Clock, Error};

/// After a refresh fails for now ([`Error::is_transient`]: a 5xx, 429 or 409, a broken
/// connection, a malformed reply), the current token is used this long (by the client's
/// clock) before a refresh is tried again, as long as it has not expired: an expired
/// token is replaced by a login at once. Not configurable.
pub const REFRESH_BACKOFF: Duration = Duration::from_secs(30);

/// Holds the client's one token and renews it in time.
pub(crate) struct TokenManager {
    provider: Arc<dyn AuthProvider>,
    /// The token calls carry, read without waiting: every poll of every wait reads it.
    current: std::sync::Mutex<Option<Arc<Issued>>>,
    /// Held while the token is renewed or a login made: one caller renews; callers
    /// without a valid token wait for it.
    renewing: Mutex<()>,
    serial: AtomicU64,
    /// How many logins failed for now so far, and the last one's error, read together:
    /// callers that waited for a login that failed get its error rather than each
    /// trying their own.
    failed_logins: std::sync::Mutex<(u64, Option<Error>)>,
    /// The token whose refresh last failed for now (its serial), and when.
    refresh_failed: std::sync::Mutex<Option<(u64, SystemTime)>>,
    refresh_margin: Duration,
    clock: Arc<dyn Clock>,
    /// A login the auth service refused: not tried again by this client, so parallel
    /// steps cannot lock the account with a wrong password.
    refused: std::sync::Mutex<Option<(RequestLine, u16, String)>>,
}

/// A token as the manager hands it out: with its `Authorization` header, made once.
pub(crate) struct Issued {
    token: AccessToken,
    header: Authorization,
}

impl Issued {
    /// The `Authorization` header that carries the token.
    pub(crate) fn header(&self) -> &Authorization {
        &self.header
    }
}

impl TokenManager {
    pub(crate) fn new(
        provider: Arc<dyn AuthProvider>,
        refresh_margin: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TokenManager {
            provider,
            current: std::sync::Mutex::new(None),
            renewing: Mutex::new(()),
            serial: AtomicU64::new(0),
            failed_logins: std::sync::Mutex::new((0, None)),
            refresh_failed: std::sync::Mutex::new(None),
            refresh_margin,
            clock,
            refused: std::sync::Mutex::new(None),
        }
    }

    fn failed_logins(&self) -> std::sync::MutexGuard<'_, (u64, Option<Error>)> {
        self.failed_logins.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current(&self) -> Option<Arc<Issued>> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until no login or renewal runs. Returns the count of failed logins from
    /// before the wait, for [`TokenManager::token`] to replay a login that failed
    /// meanwhile.
    pub(crate) async fn settled(&self) -> u64 {
        let failed_before = self.failed_logins().0;
        drop(self.renewing.lock().await);
        failed_before
    }

    /// The current token while it works: its expiry not passed, a renewal due or not.
    /// Without one, a call waits for a login.
    pub(crate) fn valid(&self) -> Option<Arc<Issued>> {
        self.current().filter(|t| {
            t.token
                .remaining(self.clock.now())
                .is_none_or(|left| left > Duration::ZERO)
        })
    }

    /// The current token if no renewal is due: valid for at least the refresh margin, of
    /// unknown expiry, or still valid with a refresh of it failed less than
    /// [`REFRESH_BACKOFF`] ago.
    fn fresh(&self) -> Option<Arc<Issued>> {
        let now = self.clock.now();
        let backing_off = |t: &Issued| {
            let failed = *self
                .refresh_failed
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            failed.is_some_and(|(serial, at)| {
                serial == t.token.serial
                    // A clock stepped back ends the backoff rather than stretching it.
                    && now.duration_since(at).unwrap_or(REFRESH_BACKOFF) < REFRESH_BACKOFF
            })
        };
        self.current().filter(|t| match t.token.remaining(now) {
            None => true,
            Some(left) => left > self.refresh_margin || (left > Duration::ZERO && backing_off(t)),
        })
    }

    /// A token valid for at least the refresh margin (when its expiry is known), or the
    /// current one while it works and a renewal is under way or failed for now.
    /// `before_auth` runs first when this caller waits for a login, or renews the token
    /// or logs in itself (not when it goes on with a valid token another one renews).
    /// `failed_before`: the count [`TokenManager::settled`] returned, when the caller
    /// already waited there for a login.
    pub(crate) async fn token(
        &self,
        auth: &AuthService<'_>,
        before_auth: impl FnOnce(),
        failed_before: Option<u64>,
    ) -> Result<Arc<Issued>, Error> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _renewing = match self.valid() {
            // Another caller renews it: this one goes on with the token that still works.
            Some(valid) => match self.renewing.try_lock() {
                Ok(guard) => {
                    before_auth();
                    guard
                }
                Err(_) => return Ok(valid),
            },
            None => {
                before_auth();
                let failed_before = failed_before.unwrap_or_else(|| self.failed_logins().0);
                let guard = self.renewing.lock().await;
                // A later login may have worked while this caller queued: its token
                // first, before any earlier failure is replayed.
                if let Some(fresh) = self.fresh() {
                    return Ok(fresh);
                }
                // The login this caller waited for failed for now: its error, rather
                // than one more login of the same retries (ten thousand waits would
                // each run theirs in turn).
                let replay = match &*self.failed_logins() {
                    (failed, Some(error)) if *failed != failed_before => error.transient_copy(),
                    _ => None,
                };
                if let Some(error) = replay {
                    return Err(error);
                }
                guard
            }
        };
        // Another caller may have renewed it while this one waited (checked above on
        // the path that waited; `try_lock` does not wait, but a renewal may have ended
        // between `fresh` and it).
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let current = self.current();
        let now = self.clock.now();
        let renewed = match current
            .as_ref()
            .and_then(|t| Some((t, t.token.remaining(now)?)))
        {
            Some((t, left)) if left > Duration::ZERO => {
                let span = tracing::info_span!(
                    "anaplan.auth.refresh",
                    runwait.token.remaining_s = left.as_secs() as i64
                );
                // Boxed, as the login below: a renewal is rare, and inline it would
                // make every call's future kilobytes larger.
                match Box::pin(self.renew(auth, &t.token)).instrument(span).await {
                    Ok(fresh) => fresh,
                    // A refresh that failed for now is tried again after the backoff,
                    // not turned into this call's failure while the token still works.
                    Err(e) if e.is_transient() => {
                        let now = self.clock.now();
                        *self
                            .refresh_failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some((t.token.serial, now));
                        if t.token.remaining(now).is_some_and(|l| l > Duration::ZERO) {
                            tracing::warn!(error = %e, "token refresh failed; using the current token while it lasts");
                            return Ok(t.clone());
                        }
                        // It expired during the refresh's retries.
                        Box::pin(self.login(auth)).await?
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => Box::pin(self.login(auth)).await?,
        };
        let mut renewed = renewed;
        renewed.serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let issued = Arc::new(Issued {
            header: Authorization::new(&renewed.header())?,
            token: renewed,
        });
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(issued.clone());
        Ok(issued)
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
        if let Err(e) = &result
            && let Some(copy) = e.transient_copy()
        {
            let mut failed = self.failed_logins();
            *failed = (failed.0 + 1, Some(copy));
        }
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
    pub(crate) fn rejected(&self, token: &Issued) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current
            .as_ref()
            .is_some_and(|t| t.token.serial == token.token.serial)
        {
            *current = None;
        }
    }
}
