//! The auth layer over the transport: every API request carries the client's one token,
//! and a 401 makes the manager forget it and the request go once more with a new one.

use url::Url;

use super::manager::TokenManager;
use super::service::AuthService;
use crate::Error;
use crate::retry::RetryPolicy;
use crate::transport::{ApiRequest, Reply, Slot, Transport};

/// A call's place in its host's queue, taken before the call is made: the slot its first
/// attempt sends in, and, when it waited for a login first, the count of failed logins
/// from before (a login that failed meanwhile is replayed, not run again).
pub(crate) struct Turn {
    slot: Slot,
    failed_before: Option<u64>,
}

/// The transport with the client's token.
pub(crate) struct Session {
    transport: Transport,
    tokens: TokenManager,
    /// The policy of the auth service's calls.
    retry: RetryPolicy,
}

impl Session {
    pub(crate) fn new(transport: Transport, tokens: TokenManager, retry: RetryPolicy) -> Self {
        Session {
            transport,
            tokens,
            retry,
        }
    }

    /// The transport underneath.
    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Waits for a call's turn on `url`'s host, for its first attempt (see
    /// [`Session::send`]). A call with no valid token waits here first for the login
    /// under way, holding little, and not with a slot it could not use.
    pub(crate) async fn turn(&self, url: &Url) -> Turn {
        let failed_before = match self.tokens.valid() {
            Some(_) => None,
            None => Some(self.tokens.settled().await),
        };
        Turn {
            slot: self.transport.slot(url).await,
            failed_before,
        }
    }

    /// One attempt of an API call with the shared token. A 401 makes the token manager
    /// forget the token; the call is then tried once more with a new one.
    ///
    /// `turn`: the caller's, taken before it made the call. Its slot is
    /// given back before the call waits for a login, or renews the token or logs in
    /// itself: the auth service may share the API's host (the simulator, a proxy), and
    /// calls holding every slot meanwhile would leave the auth request none.
    pub(crate) async fn send(
        &self,
        req: &ApiRequest,
        resend_count: usize,
        turn: Option<Turn>,
    ) -> Result<Reply, Error> {
        let auth = AuthService {
            transport: &self.transport,
            retry: self.retry,
        };
        let (mut slot, failed_before) = match turn {
            Some(turn) => (Some(turn.slot), turn.failed_before),
            None => (None, None),
        };
        let token = self
            .tokens
            .token(&auth, || drop(slot.take()), failed_before)
            .await?;
        match self
            .transport
            .send_api(req, token.header(), resend_count, slot)
            .await
        {
            // Boxed: rare, and inline it would double every call's future.
            Err(Error::Auth { status: 401, .. }) => {
                Box::pin(async {
                    self.tokens.rejected(&token);
                    let token = self.tokens.token(&auth, || (), None).await?;
                    self.transport
                        .send_api(req, token.header(), resend_count, None)
                        .await
                })
                .await
            }
            other => other,
        }
    }
}
