//! From a workflow's `connection:` to a client: the embedded simulator or a real tenant,
//! with secrets read from where the workflow says, at the last moment.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runwait_anaplan::auth::FileRefreshTokenStore;
use runwait_anaplan::{
    AuthProvider, BasicAuth, CertificateAuth, Client, Clock, Endpoints, OAuthRefreshAuth, Secret,
    TokenAuth,
};
use runwait_sim::{SimConfig, Simulator};
use tokio::time::Instant;

use crate::model::{AuthSpec, Connection, SecretSource};

/// Why the runner could not connect: a secret is missing or the simulator did not start.
#[derive(Debug, thiserror::Error)]
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
    #[error("embedded simulator: {0}")]
    Simulator(#[from] runwait_sim::SimError),
    /// The scenario has no user who can log in with a password.
    #[error("the simulator scenario has no user with a password to log in as")]
    NoSimUser,
}

/// A connected tenant: the client, and the simulator when it is embedded.
pub struct Connected {
    /// The client every step shares (one token).
    pub client: Client,
    /// The embedded simulator, shut down when the run ends.
    pub simulator: Option<Simulator>,
}

impl SecretSource {
    /// Reads the secret now.
    pub fn resolve(&self) -> Result<Secret, ConnectError> {
        match self {
            SecretSource::Env(var) => std::env::var(var)
                .map(Secret::new)
                .map_err(|_| ConnectError::MissingEnv(var.clone())),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| Secret::new(s.trim_end_matches(['\r', '\n'])))
                .map_err(|source| ConnectError::SecretFile {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

/// Connects as the workflow says.
pub async fn connect(connection: &Connection) -> Result<Connected, ConnectError> {
    match connection {
        Connection::Simulator { scenario, speed } => {
            let user = scenario
                .users
                .iter()
                .find_map(|u| u.password.clone().map(|p| (u.name.clone(), p)))
                .ok_or(ConnectError::NoSimUser)?;
            let epoch = SystemTime::now();
            let simulator = Simulator::start(
                SimConfig::new((**scenario).clone())
                    .speed(*speed)
                    .epoch(epoch),
            )
            .await?;
            let endpoints = Endpoints::custom(&simulator.api_url(), &simulator.auth_url())?;
            let client = Client::builder(endpoints, BasicAuth::new(user.0, Secret::new(user.1)))
                .clock(Arc::new(ScenarioClock {
                    epoch,
                    start: Instant::now(),
                    speed: *speed,
                }))
                .build()?;
            Ok(Connected {
                client,
                simulator: Some(simulator),
            })
        }
        Connection::Anaplan {
            endpoints,
            auth,
            oauth_token_url,
        } => {
            let provider = provider(auth, oauth_token_url.as_ref())?;
            let client = Client::builder_shared(endpoints.clone(), provider).build()?;
            Ok(Connected {
                client,
                simulator: None,
            })
        }
    }
}

fn provider(
    auth: &AuthSpec,
    oauth_token_url: Option<&url::Url>,
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
                SecretSource::Env(var) => eprintln!(
                    "runwait: warning: the OAuth refresh token comes from ${var}: if Anaplan rotates it, \
                     the new one cannot be stored and the next run needs a new token; use {{ file: PATH }}"
                ),
            }
            Arc::new(oauth)
        }
    })
}

/// The simulator's wall clock (scenario time runs `speed` times faster), so the client
/// renews its token before the simulator expires it.
#[derive(Debug)]
struct ScenarioClock {
    epoch: SystemTime,
    start: Instant,
    speed: f64,
}

impl Clock for ScenarioClock {
    fn now(&self) -> SystemTime {
        // An absurd speed saturates (at a century) instead of overflowing.
        let century = Duration::from_secs(100 * 365 * 86_400);
        let scenario = Duration::try_from_secs_f64(self.start.elapsed().as_secs_f64() * self.speed)
            .unwrap_or(century);
        self.epoch + scenario.min(century)
    }
}
