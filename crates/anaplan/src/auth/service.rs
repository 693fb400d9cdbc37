//! The auth-service calls a provider may make, each retried by the client's
//! [`RetryPolicy`] (a login or a refresh changes nothing to undo).

use runwait_core::token::AuthReply;
use url::Url;

use super::token::{AccessToken, token_from_reply};
use crate::retry::{Action, Outcome, Policy, Progress, RetryPolicy, drive, retry};
use crate::transport::{Line, TokenBody, Transport, read_text};
use crate::{Clock, Error, Secret};

/// The auth-service calls a provider may make. Providers talk to Anaplan only through
/// it, so they never see the HTTP stack.
pub struct AuthService<'a> {
    pub(crate) transport: &'a Transport,
    pub(crate) retry: RetryPolicy,
}

impl AuthService<'_> {
    /// `POST {auth}/token/authenticate` with the given `Authorization` header and body.
    pub async fn authenticate(
        &self,
        authorization: Secret,
        body: Option<Vec<u8>>,
    ) -> Result<AccessToken, Error> {
        let reply = self
            .auth_call(&["token", "authenticate"], &authorization, body.as_deref())
            .await?;
        Ok(token_from_reply(reply))
    }

    /// `POST {auth}/token/refresh` with the current token.
    pub async fn refresh(&self, current: &AccessToken) -> Result<AccessToken, Error> {
        let authorization = Secret::new(format!("AnaplanAuthToken {}", current.value().expose()));
        let reply = self
            .auth_call(&["token", "refresh"], &authorization, None)
            .await?;
        Ok(token_from_reply(reply))
    }

    /// `POST {url}` with a form body, for OAuth token endpoints; returns the JSON text.
    pub async fn post_form(&self, url: &Url, form: &[(&str, &str)]) -> Result<String, Error> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let line = Line::post(url);
        retry(self.clock(), self.retry, |resend| {
            let body = &body;
            async move {
                let response = self
                    .transport
                    .post_token(line, TokenBody::Form(body), resend)
                    .await?;
                read_text(line, response).await
            }
        })
        .await
    }

    /// `POST {url}` with a JSON body, for OAuth token endpoints; returns the JSON text.
    /// With `resend_ambiguous` false, a failure after which the server may have acted
    /// (a timeout, a broken connection, a 5xx) is returned at once instead of resent: a
    /// rotating refresh token must never be sent twice.
    pub async fn post_json(
        &self,
        url: &Url,
        body: &serde_json::Value,
        resend_ambiguous: bool,
    ) -> Result<String, Error> {
        let body = body.to_string();
        let line = Line::post(url);
        let mut policy = OnceIfAmbiguous {
            retry: self.retry,
            resend_ambiguous,
        };
        drive(
            self.clock(),
            &mut policy,
            |resend| {
                let body = &body;
                async move {
                    let response = self
                        .transport
                        .post_token(line, TokenBody::Json(body), resend)
                        .await?;
                    read_text(line, response).await
                }
            },
            || async { Ok(None) },
        )
        .await
    }

    /// The client's clock (OAuth turns `expires_in` into an expiry with it).
    pub(crate) fn clock(&self) -> &dyn Clock {
        self.transport.clock()
    }

    async fn auth_call(
        &self,
        segments: &[&str],
        authorization: &Secret,
        body: Option<&[u8]>,
    ) -> Result<AuthReply, Error> {
        let url = self.transport.endpoints().auth_url(segments);
        let line = Line::post(&url);
        retry(self.clock(), self.retry, |resend| async move {
            let response = self
                .transport
                .post_auth(line, authorization, body, resend)
                .await?;
            let text = read_text(line, response).await?;
            AuthReply::parse(&text).map_err(|source| Error::Malformed {
                request: line.owned(),
                source,
            })
        })
        .await
    }
}

/// The retry policy, except that an ambiguous failure stops at once unless resending
/// is known to be harmless.
struct OnceIfAmbiguous {
    retry: RetryPolicy,
    resend_ambiguous: bool,
}

impl Policy for OnceIfAmbiguous {
    fn decide(&mut self, outcome: Outcome<'_>, progress: &Progress) -> Action {
        match outcome {
            Outcome::Failed(e) | Outcome::NothingFound(e)
                if e.is_ambiguous() && !self.resend_ambiguous =>
            {
                Action::Stop
            }
            other => self.retry.decide(other, progress),
        }
    }
}
