//! Authentication, the middle layer of the client's stack: the providers (basic,
//! certificate, ready token, OAuth refresh token), the token manager that shares one
//! token between every call of a client and renews it before it expires, and the
//! session that puts the token on each API request and logs in again once on a 401.
//!
//! It sits on the transport and uses the retry policy for its own calls (a login or a
//! refresh is idempotent); nothing here knows the calls above it.

mod manager;
mod providers;
mod service;
mod session;
mod token;

pub use manager::REFRESH_BACKOFF;
pub(crate) use manager::TokenManager;
pub use providers::{
    AuthProvider, BasicAuth, FileRefreshTokenStore, OAuthRefreshAuth, RefreshTokenStore, TokenAuth,
};
pub use service::AuthService;
pub(crate) use session::{Session, Turn};
pub use token::{AccessToken, Scheme};
