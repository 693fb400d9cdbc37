//! The auth layer over the transport: every API request carries the client's one token,
//! and a 401 makes the manager forget it and the request go once more with a new one.

use url::Url;

use super::manager::TokenManager;
use super::service::AuthService;
use crate::Error;
use crate::retry::RetryPolicy;
use crate::transport::{ApiRequest, Reply, Slot, Transport};

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

    /// Waits for a slot of `url`'s host, for a call to give its first attempt (see
    /// [`Session::send`]). A call with no valid token waits here first for the login
    /// under way, holding little, and not with a slot it could not use.
    pub(crate) async fn slot(&self, url: &Url) -> Slot {
        if self.tokens.valid().is_none() {
            self.tokens.settled().await;
        }
        self.transport.slot(url).await
    }

    /// One attempt of an API call with the shared token. A 401 makes the token manager
    /// forget the token; the call is then tried once more with a new one.
    ///
    /// `slot`: one of the host's, taken by the caller before it made the call. It is
    /// given back before the call waits for a login, or renews the token or logs in
    /// itself: the auth service may share the API's host (the simulator, a proxy), and
    /// calls holding every slot meanwhile would leave the auth request none.
    pub(crate) async fn send(
        &self,
        req: &ApiRequest,
        resend_count: usize,
        slot: Option<Slot>,
    ) -> Result<Reply, Error> {
        let auth = AuthService {
            transport: &self.transport,
            retry: self.retry,
        };
        let mut slot = slot;
        let token = self.tokens.token(&auth, || drop(slot.take())).await?;
        match self
            .transport
            .send_api(req, token.header(), resend_count, slot)
            .await
        {
            // Boxed: rare, and inline it would double every call's future.
            Err(Error::Auth { status: 401, .. }) => {
                Box::pin(async {
                    self.tokens.rejected(&token);
                    let token = self.tokens.token(&auth, || ()).await?;
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
