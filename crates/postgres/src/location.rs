//! Which state store a location names, and opening it: a plain path is a
//! [`FileStore`] directory, `postgres://` or `postgresql://` a [`PgStore`]. With
//! PostgreSQL the tenant's rate budget is shared in the same database.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use runwait_executor::{FileStore, RateBudget, StateStore, TokioEnv};

use crate::{PgError, PgOptions, PgSlots, PgStore, PgUrl, UrlError};

/// Where step runs are remembered. Its `Display` and `Debug` mask a URL's password.
#[derive(Clone)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A file store in this directory.
    Dir(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgUrl>),
}

/// Why a location names no store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// A URL of another kind than PostgreSQL.
    #[error("unknown kind of store in {scheme}://…: give a directory or a postgres:// URL")]
    UnknownScheme {
        /// The URL's scheme.
        scheme: String,
    },
    /// A PostgreSQL URL that does not parse.
    #[error(transparent)]
    Url(#[from] UrlError),
}

impl FromStr for StoreLocation {
    type Err = LocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if PgUrl::is_postgres(s) {
            return Ok(StoreLocation::Postgres(Box::new(s.parse()?)));
        }
        match s.split_once("://") {
            Some((scheme, _)) => Err(LocationError::UnknownScheme {
                scheme: scheme.to_owned(),
            }),
            None => Ok(StoreLocation::Dir(PathBuf::from(s))),
        }
    }
}

impl Default for StoreLocation {
    /// The file store's default directory.
    fn default() -> Self {
        StoreLocation::Dir(PathBuf::from(FileStore::DEFAULT_DIR))
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Dir(dir) => write!(f, "{}", dir.display()),
            StoreLocation::Postgres(url) => write!(f, "{url}"),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StoreLocation {
    /// Opens the store: a database is connected to and migrated (`options` apply to it).
    pub async fn open(&self, options: PgOptions) -> Result<OpenStore, PgError> {
        match self {
            StoreLocation::Dir(dir) => Ok(OpenStore {
                shown: dir.display().to_string(),
                store: Arc::new(FileStore::new(dir)),
                pg: None,
            }),
            StoreLocation::Postgres(url) => {
                let pg = PgStore::connect(url, options).await?;
                Ok(OpenStore {
                    shown: url.location(),
                    store: Arc::new(pg.clone()),
                    pg: Some(pg),
                })
            }
        }
    }
}

/// An open store.
#[derive(Debug)]
#[non_exhaustive]
pub struct OpenStore {
    /// The store.
    pub store: Arc<dyn StateStore>,
    /// Where it is, for messages (no credentials).
    pub shown: String,
    pg: Option<PgStore>,
}

impl OpenStore {
    /// The tenant's rate budget: shared in the database with PostgreSQL, else this
    /// process's own. `tenant` names the tenant (its API host and who logs in).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_names_its_store_and_prints_without_the_password() {
        for (given, shown) in [
            ("x", "x"),
            ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
            ("postgresql://h/db", "postgresql://h/db"),
        ] {
            let location: StoreLocation = given.parse().unwrap();
            assert_eq!(location.to_string(), shown);
            assert_eq!(format!("{location:?}"), shown);
        }
        let err = "mysql://h/db".parse::<StoreLocation>().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown kind of store in mysql"),
            "{err}"
        );
    }
}
