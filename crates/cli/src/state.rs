//! Which state store a command uses: `--state URL` (or `RUNWAIT_STATE_URL`, or else the
//! workflow file's `state:`): a plain path is a file store directory, `postgres://` or
//! `postgresql://` a PostgreSQL database (`runwait_postgres::StoreLocation`);
//! `--state-dir DIR` (the older flag, kept) is a file store directory.

use std::path::PathBuf;
use std::time::Duration;

use runwait_postgres::{OpenStore, PgOptions, StoreLocation};
use runwait_workflow::model::StateLocation;

use crate::exit::Exit;

/// The environment variable of `--state`.
const STATE_ENV: &str = "RUNWAIT_STATE_URL";

/// Where a command keeps its state. Its `Debug` masks a URL's password.
#[derive(clap::Args)]
pub struct StateArgs {
    /// The state store: a directory (the file store) or a PostgreSQL URL
    /// (`postgres://user@host/db`, shared by runs on several machines; its password is
    /// never printed). Default: the workflow file's `state:`, else the directory
    /// `.runwait/state`.
    #[arg(long, env = STATE_ENV, value_name = "URL")]
    state: Option<String>,
    /// The file store's directory (the same as `--state DIR`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl std::fmt::Debug for StateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self
            .state
            .as_deref()
            .map(|s| match s.parse::<StoreLocation>() {
                Ok(location) => location.to_string(),
                Err(_) if s.contains("://") => "***".to_owned(),
                Err(_) => s.to_owned(),
            });
        f.debug_struct("StateArgs")
            .field("state", &state)
            .field("state_dir", &self.state_dir)
            .finish()
    }
}

impl StateArgs {
    /// The store the arguments choose; without them, the workflow file's `state:`
    /// (`file`), else the default directory.
    pub fn choice(&self, file: Option<&StateLocation>) -> Result<StoreLocation, String> {
        // An explicit `--state-dir` beats the environment's URL, not a `--state` flag.
        let from_env = std::env::var(STATE_ENV).ok();
        match (&self.state_dir, &self.state) {
            (Some(_), Some(url)) if from_env.as_ref() != Some(url) => {
                Err("--state and --state-dir both name the state store: give one".into())
            }
            (Some(dir), _) => Ok(StoreLocation::Dir(dir.clone())),
            (None, Some(given)) => given.parse().map_err(|e| format!("--state: {e}")),
            (None, None) => match file {
                Some(location) => {
                    let given = location.resolve().map_err(|e| e.to_string())?;
                    given.parse().map_err(|e| format!("state: {e}"))
                }
                None => Ok(StoreLocation::default()),
            },
        }
    }

    /// Opens the store (connecting to and migrating a database); on failure, the exit
    /// code and the message to print. `file` is the workflow file's `state:`.
    pub async fn open(
        &self,
        lease: Duration,
        file: Option<&StateLocation>,
    ) -> Result<OpenStore, (Exit, String)> {
        let location = self.choice(file).map_err(|e| (Exit::Usage, e))?;
        location
            .open(PgOptions::default().lease(lease))
            .await
            .map_err(|e| (Exit::Unreachable, e.to_string()))
    }
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

    fn shown(location: StoreLocation) -> String {
        match location {
            StoreLocation::Dir(d) => format!("dir {}", d.display()),
            other => format!("pg {other}"),
        }
    }

    fn choice(args: &[&str]) -> Result<String, String> {
        let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.kind().to_string())?;
        cli.state.choice(None).map(shown)
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
    fn the_workflow_file_s_state_is_used_without_a_flag() {
        let file = StateLocation::Literal("postgres://u:pw@h/db".into());
        let chosen = |args: &[&str]| {
            let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()));
            shown(cli.unwrap().state.choice(Some(&file)).unwrap())
        };
        assert_eq!(chosen(&[]), "pg postgres://u:***@h/db");
        assert_eq!(chosen(&["--state-dir", "x"]), "dir x", "a flag wins");
    }
}
