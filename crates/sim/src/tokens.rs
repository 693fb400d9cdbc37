//! Tokens: issued at login, refreshed, validated, revoked, and the rotating refresh
//! tokens of OAuth clients.

use std::collections::HashMap;
use std::time::Duration;

use runwait_core::token::{TokenInfo, TokenValue};

use crate::clock::Clock;
use crate::ids::IdGen;
use crate::scenario::Scenario;

#[derive(Debug)]
struct TokenRec {
    user: String,
    token_id: String,
    refresh_token_id: String,
    expires: Duration,
    revoked: bool,
}

/// What an OAuth refresh-token grant carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OAuthGrant<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: Option<&'a str>,
    pub(crate) refresh_token: &'a str,
}

/// Every token issued, live or not, by value.
#[derive(Debug, Default)]
pub(crate) struct TokenBook {
    tokens: HashMap<String, TokenRec>,
    /// The refresh token each OAuth client may use next, once it has rotated.
    refresh_tokens: HashMap<String, String>,
}

impl TokenBook {
    /// A new token for `user`, living `ttl` from now.
    pub(crate) fn issue(
        &mut self,
        ids: &mut IdGen,
        user: &str,
        clock: &Clock,
        ttl: Duration,
    ) -> TokenInfo {
        let value = ids.secret();
        let expires = clock.now().saturating_add(ttl);
        let rec = TokenRec {
            user: user.to_owned(),
            token_id: ids.uuid(),
            refresh_token_id: ids.uuid(),
            expires,
            revoked: false,
        };
        let info = token_info(&value, &rec, clock);
        self.tokens.insert(value, rec);
        info
    }

    /// The user of a live token.
    pub(crate) fn user(&self, value: &str, now: Duration) -> Option<&str> {
        self.tokens
            .get(value)
            .filter(|t| !t.revoked && now < t.expires)
            .map(|t| t.user.as_str())
    }

    /// `tokenInfo` of a live token.
    pub(crate) fn info(&self, value: &str, clock: &Clock) -> Option<TokenInfo> {
        self.user(value, clock.now())?;
        self.tokens
            .get(value)
            .map(|rec| token_info(value, rec, clock))
    }

    /// Extends a live token by `ttl` from now, keeping its value (as live tenants do on
    /// `/token/refresh`); `None` for a token that is not live.
    pub(crate) fn extend(
        &mut self,
        value: &str,
        clock: &Clock,
        ttl: Duration,
    ) -> Option<TokenInfo> {
        self.user(value, clock.now())?;
        let rec = self.tokens.get_mut(value)?;
        rec.expires = clock.now().saturating_add(ttl);
        Some(token_info(value, rec, clock))
    }

    pub(crate) fn revoke(&mut self, value: &str) {
        if let Some(t) = self.tokens.get_mut(value) {
            t.revoked = true;
        }
    }

    pub(crate) fn revoke_all(&mut self) {
        self.tokens.values_mut().for_each(|t| t.revoked = true);
    }

    /// Trades an OAuth client's current refresh token (and its secret, if it has one)
    /// for an access token and the refresh token to use next: a new one when the
    /// client's tokens rotate, the same one otherwise. `None` for an unknown client, a
    /// wrong or missing secret, or a retired refresh token.
    pub(crate) fn oauth_grant(
        &mut self,
        ids: &mut IdGen,
        scenario: &Scenario,
        grant: &OAuthGrant<'_>,
        clock: &Clock,
    ) -> Option<(TokenInfo, String)> {
        let OAuthGrant {
            client_id,
            client_secret,
            refresh_token,
        } = *grant;
        let client = scenario
            .oauth_clients
            .iter()
            .find(|c| c.client_id == client_id)?;
        if client.client_secret.is_some() && client.client_secret.as_deref() != client_secret {
            return None;
        }
        let current = self
            .refresh_tokens
            .get(client_id)
            .unwrap_or(&client.refresh_token);
        if current != refresh_token {
            return None;
        }
        if !client.rotate {
            let same = current.clone();
            let info = self.issue(ids, &client.user, clock, scenario.token_ttl);
            return Some((info, same));
        }
        let next = ids.secret();
        self.refresh_tokens
            .insert(client_id.to_owned(), next.clone());
        let info = self.issue(ids, &client.user, clock, scenario.token_ttl);
        Some((info, next))
    }
}

fn token_info(value: &str, rec: &TokenRec, clock: &Clock) -> TokenInfo {
    TokenInfo {
        token_value: TokenValue::new(value),
        token_id: rec.token_id.clone(),
        expires_at: clock.wall(rec.expires),
        refresh_token_id: Some(rec.refresh_token_id.clone()),
    }
}
