//! Which state store a command uses: `--state URL` (or `RUNWAIT_STATE_URL`): a plain
//! path is a file store directory, `postgres://` or `postgresql://` a PostgreSQL
//! database; `--state-dir DIR` (the older flag, kept) is a file store directory. With
//! PostgreSQL, the tenant's rate budget is shared in the same database.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runwait_executor::{FileStore, RateBudget, StateStore, TokioEnv};
use runwait_postgres::{PgOptions, PgSlots, PgStore, PgUrl};
use runwait_workflow::model::{AuthSpec, Connection, StateLocation};

use crate::exit::Exit;

/// The environment variable of `--state`.
const STATE_ENV: &str = "RUNWAIT_STATE_URL";

/// Where a command keeps its state. Its `Debug` masks a URL's password.
#[derive(clap::Args)]
pub struct StateArgs {
    /// The state store: a directory (the file store) or a PostgreSQL URL
    /// (`postgres://user@host/db`, shared by runs on several machines; its password is
    /// never printed). Default: the directory `.runwait/state`.
    #[arg(long, env = STATE_ENV, value_name = "URL")]
    state: Option<String>,
    /// The file store's directory (the same as `--state DIR`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl std::fmt::Debug for StateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.as_deref().map(|s| match s.parse::<PgUrl>() {
            Ok(url) => url.to_string(),
            Err(_) if s.contains("://") => "***".to_owned(),
            Err(_) => s.to_owned(),
        });
        f.debug_struct("StateArgs")
            .field("state", &state)
            .field("state_dir", &self.state_dir)
            .finish()
    }
}

/// The store chosen.
#[derive(Debug)]
pub enum Choice {
    /// A file store in this directory.
    Dir(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgUrl>),
}

impl StateArgs {
    /// The store the arguments choose; without them, the workflow file's `state:`
    /// (`file`), else the default directory.
    pub fn choice(&self, file: Option<&StateLocation>) -> Result<Choice, String> {
        // An explicit `--state-dir` beats the environment's URL, not a `--state` flag.
        let from_env = std::env::var(STATE_ENV).ok();
        let from_file = match (&self.state_dir, &self.state, file) {
            (None, None, Some(location)) => Some(location.resolve().map_err(|e| e.to_string())?),
            _ => None,
        };
        match (&self.state_dir, self.state.as_ref().or(from_file.as_ref())) {
            (Some(_), Some(url)) if from_env.as_ref() != Some(url) => {
                Err("--state and --state-dir both name the state store: give one".into())
            }
            (Some(dir), _) => Ok(Choice::Dir(dir.clone())),
            // `--state-dir` with a `RUNWAIT_STATE_URL` is the case above.
            (None, Some(url)) if PgUrl::is_postgres(url) => url
                .parse()
                .map(|u| Choice::Postgres(Box::new(u)))
                .map_err(|e: runwait_postgres::UrlError| e.to_string()),
            (None, Some(url)) if url.contains("://") => Err(format!(
                "--state: unknown kind of store in {}: give a directory or a postgres:// URL",
                url.split("://").next().unwrap_or_default()
            )),
            (None, Some(dir)) => Ok(Choice::Dir(PathBuf::from(dir))),
            (None, None) => Ok(Choice::Dir(PathBuf::from(FileStore::DEFAULT_DIR))),
        }
    }

    /// Opens the store (connecting to and migrating a database); on failure, the exit
    /// code and the message to print. `file` is the workflow file's `state:`.
    pub async fn open(
        &self,
        lease: Duration,
        file: Option<&StateLocation>,
    ) -> Result<Opened, (Exit, String)> {
        match self.choice(file) {
            Err(e) => Err((Exit::Usage, e)),
            Ok(Choice::Dir(dir)) => Ok(Opened {
                shown: dir.display().to_string(),
                store: Arc::new(FileStore::new(dir)),
                pg: None,
            }),
            Ok(Choice::Postgres(url)) => {
                match PgStore::connect(&url, PgOptions::default().lease(lease)).await {
                    Ok(pg) => Ok(Opened {
                        shown: url.location(),
                        store: Arc::new(pg.clone()),
                        pg: Some(pg),
                    }),
                    Err(e) => Err((Exit::Unreachable, e.to_string())),
                }
            }
        }
    }
}

/// An open store.
pub struct Opened {
    /// The store.
    pub store: Arc<dyn StateStore>,
    /// Where it is, for messages (no credentials).
    pub shown: String,
    pg: Option<PgStore>,
}

impl Opened {
    /// The tenant's rate budget: shared in the database with PostgreSQL, else this
    /// process's own.
    pub fn budget(&self, per_second: u32, tenant: &str) -> RateBudget {
        match &self.pg {
            Some(pg) => RateBudget::shared(
                per_second,
                Arc::new(TokioEnv::new()),
                Arc::new(PgSlots::new(pg, tenant)),
            ),
            None => RateBudget::per_second(per_second),
        }
    }
}

/// The tenant a rate budget is counted for: the API host and who logs in.
pub fn tenant(connection: &Connection, api_url: &str) -> String {
    let who = match connection {
        Connection::Anaplan { auth, .. } => match auth {
            AuthSpec::Basic { user, .. } => user.clone(),
            AuthSpec::Certificate { certificate, .. } => {
                format!("certificate {}", certificate.display())
            }
            AuthSpec::Token { .. } => "token".to_owned(),
            AuthSpec::OAuth { client_id, .. } => format!("oauth {client_id}"),
        },
        _ => "simulator".to_owned(),
    };
    let host = api_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(api_url);
    format!("{host} {who}")
}

/// A lease time given on the command line (`90s`, `2m`).
pub fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("a lease of less than a second cannot be renewed in time".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        state: StateArgs,
    }

    fn choice(args: &[&str]) -> Result<String, String> {
        let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.kind().to_string())?;
        cli.state.choice(None).map(|c| match c {
            Choice::Dir(d) => format!("dir {}", d.display()),
            Choice::Postgres(u) => format!("pg {u}"),
        })
    }

    /// (arguments, the store chosen or the error's start).
    const CHOICES: [(&[&str], &str); 7] = [
        (&[], "dir .runwait/state"),
        (&["--state-dir", "x"], "dir x"),
        (&["--state", "y"], "dir y"),
        (
            &["--state", "postgres://u:pw@h/db"],
            "pg postgres://u:***@h/db",
        ),
        (&["--state", "postgresql://h/db"], "pg postgresql://h/db"),
        (
            &["--state", "mysql://h/db"],
            "--state: unknown kind of store in mysql",
        ),
        (
            &["--state", "a", "--state-dir", "b"],
            "--state and --state-dir both",
        ),
    ];

    #[test]
    fn the_store_is_chosen_by_its_url() {
        for (args, expected) in CHOICES {
            let got = choice(args).unwrap_or_else(|e| e);
            assert!(got.starts_with(expected), "{args:?}: {got}");
        }
    }

    #[test]
    fn the_arguments_print_without_the_password() {
        let cli = Cli::try_parse_from(["t", "--state", "postgres://u:hunter2@h/db"]).unwrap();
        let shown = format!("{cli:?}");
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn the_tenant_is_the_api_host_and_the_user() {
        let connection = Connection::Anaplan {
            endpoints: runwait_anaplan::Endpoints::custom(
                "https://api.anaplan.com/2/0",
                "https://auth.anaplan.com",
            )
            .unwrap(),
            auth: AuthSpec::Basic {
                user: "ops@example.com".into(),
                password: runwait_workflow::model::SecretSource::Env("PW".into()),
            },
            oauth_token_url: None,
        };
        assert_eq!(
            tenant(&connection, "https://api.anaplan.com/2/0"),
            "api.anaplan.com ops@example.com"
        );
    }

    #[test]
    fn the_workflow_file_s_state_is_used_without_a_flag() {
        let file = StateLocation::Literal("postgres://u:pw@h/db".into());
        let chosen = |args: &[&str]| {
            let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()));
            match cli.unwrap().state.choice(Some(&file)).unwrap() {
                Choice::Dir(d) => format!("dir {}", d.display()),
                Choice::Postgres(u) => format!("pg {u}"),
            }
        };
        assert_eq!(chosen(&[]), "pg postgres://u:***@h/db");
        assert_eq!(chosen(&["--state-dir", "x"]), "dir x", "a flag wins");
    }
}
