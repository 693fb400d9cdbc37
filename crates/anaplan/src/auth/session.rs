//! The auth layer over the transport: every API request carries the client's one token,
//! and a 401 makes the manager forget it and the request go once more with a new one.

use super::manager::TokenManager;
use super::service::AuthService;
use crate::Error;
use crate::retry::RetryPolicy;
use crate::transport::{ApiRequest, Reply, Transport};

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

    /// One attempt of an API call with the shared token. A 401 makes the token manager
    /// forget the token; the call is then tried once more with a new one.
    pub(crate) async fn send(&self, req: &ApiRequest, resend_count: usize) -> Result<Reply, Error> {
        let auth = AuthService {
            transport: &self.transport,
            retry: self.retry,
        };
        let token = self.tokens.token(&auth).await?;
        match self
            .transport
            .send_api(req, token.header(), resend_count)
            .await
        {
            // Boxed: rare, and inline it would double every call's future.
            Err(Error::Auth { status: 401, .. }) => {
                Box::pin(async {
                    self.tokens.rejected(&token);
                    let token = self.tokens.token(&auth).await?;
                    self.transport
                        .send_api(req, token.header(), resend_count)
                        .await
                })
                .await
            }
            other => other,
        }
    }
}
