//! From a workflow's `connection:` to a client: the embedded simulator or a real tenant,
//! with secrets read from where the workflow says, at the last moment.

use std::sync::Arc;

use runwait_anaplan::auth::FileRefreshTokenStore;
use runwait_anaplan::{
    AuthProvider, BasicAuth, CertificateAuth, Client, OAuthRefreshAuth, Secret, TokenAuth,
};
#[cfg(feature = "simulator")]
use runwait_sim::Simulator;

use crate::model::{AuthSpec, Connection, SecretSource, StateError, StateLocation};

/// Why the runner could not connect: a secret is missing or the simulator did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// An environment variable named by the workflow is not set.
    #[error("secret from environment variable {0} is not set")]
    MissingEnv(String),
    /// A secret file could not be read.
    #[error("secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The client could not be set up (credentials, endpoints).
    #[error(transparent)]
    Client(#[from] runwait_anaplan::Error),
    /// The embedded simulator did not start.
    #[cfg(feature = "simulator")]
    #[error("embedded simulator: {0}")]
    Simulator(#[from] runwait_sim::SimError),
    /// The scenario has no user who can log in with a password.
    #[cfg(feature = "simulator")]
    #[error("the simulator scenario has no user with a password to log in as")]
    NoSimUser,
}

/// A connected tenant: the client, the simulator when it is embedded, and what the caller
/// should tell its user (the library prints nothing).
#[non_exhaustive]
pub struct Connected {
    /// The client every step shares (one token).
    pub client: Client,
    /// The embedded simulator, shut down when the run ends.
    #[cfg(feature = "simulator")]
    pub simulator: Option<Simulator>,
    /// Warnings about the connection (an OAuth refresh token that cannot be stored when
    /// Anaplan rotates it), one sentence each, for the caller to show.
    pub warnings: Vec<String>,
}

impl SecretSource {
    /// Reads the secret now.
    pub fn resolve(&self) -> Result<Secret, ConnectError> {
        self.read().map(Secret::new)
    }

    /// The value now: the variable, or the file without its trailing newline.
    fn read(&self) -> Result<String, ConnectError> {
        match self {
            SecretSource::Env(var) => {
                std::env::var(var).map_err(|_| ConnectError::MissingEnv(var.clone()))
            }
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|source| ConnectError::SecretFile {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

impl StateLocation {
    /// The location now: as written, or read from its variable or file.
    pub fn resolve(&self) -> Result<String, StateError> {
        let source = match self {
            StateLocation::Literal(text) => return Ok(text.clone()),
            StateLocation::From(source) => source,
        };
        let value = source.read().map_err(|e| match e {
            ConnectError::SecretFile { path, source } => StateError::File { path, source },
            _ => match source {
                SecretSource::Env(var) => StateError::MissingEnv(var.clone()),
                SecretSource::File(path) => StateError::Empty(path.display().to_string()),
            },
        })?;
        if value.trim().is_empty() {
            return Err(StateError::Empty(match source {
                SecretSource::Env(var) => format!("environment variable {var}"),
                SecretSource::File(path) => format!("the file {}", path.display()),
            }));
        }
        Ok(value)
    }
}

/// Connects as the workflow says.
pub async fn connect(connection: &Connection) -> Result<Connected, ConnectError> {
    match connection {
        #[cfg(feature = "simulator")]
        Connection::Simulator { scenario, speed } => {
            crate::simulator::connect(scenario, *speed).await
        }
        Connection::Anaplan {
            endpoints,
            auth,
            oauth_token_url,
        } => {
            let mut warnings = Vec::new();
            let provider = provider(auth, oauth_token_url.as_ref(), &mut warnings)?;
            let client = Client::builder_shared(endpoints.clone(), provider).build()?;
            Ok(Connected {
                client,
                #[cfg(feature = "simulator")]
                simulator: None,
                warnings,
            })
        }
    }
}

fn provider(
    auth: &AuthSpec,
    oauth_token_url: Option<&url::Url>,
    warnings: &mut Vec<String>,
) -> Result<Arc<dyn AuthProvider>, ConnectError> {
    Ok(match auth {
        AuthSpec::Basic { user, password } => {
            Arc::new(BasicAuth::new(user.clone(), password.resolve()?))
        }
        AuthSpec::Certificate {
            certificate,
            private_key,
            passphrase,
            format,
        } => {
            let passphrase = passphrase.as_ref().map(SecretSource::resolve).transpose()?;
            Arc::new(CertificateAuth::from_files(
                certificate,
                private_key,
                passphrase.as_ref(),
                *format,
            )?)
        }
        AuthSpec::Token { token } => Arc::new(TokenAuth::anaplan(token.resolve()?)),
        AuthSpec::OAuth {
            client_id,
            refresh_token,
            client_secret,
        } => {
            // The checker sets it for every `kind: oauth`, from the region when not given.
            let url = oauth_token_url.cloned().ok_or_else(|| {
                ConnectError::Client(runwait_anaplan::Error::Config(
                    "`auth.kind: oauth` needs `connection.oauth_token_url` (or a `region` to derive it from)".to_owned(),
                ))
            })?;
            let mut oauth = OAuthRefreshAuth::new(url, client_id.clone(), refresh_token.resolve()?);
            if let Some(secret) = client_secret {
                oauth = oauth.with_client_secret(secret.resolve()?);
            }
            // A rotated refresh token goes back where it came from, when that is a file.
            match refresh_token {
                SecretSource::File(path) => {
                    oauth = oauth.with_store(Arc::new(FileRefreshTokenStore::new(path.clone())));
                }
                SecretSource::Env(var) => warnings.push(format!(
                    "the OAuth refresh token comes from ${var}: if Anaplan rotates it, \
                     the new one cannot be stored and the next run needs a new token; use {{ file: PATH }}"
                )),
            }
            Arc::new(oauth)
        }
    })
}
