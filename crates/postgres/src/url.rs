//! [`PgUrl`]: a `postgres://` or `postgresql://` connection string whose password never
//! shows: `Debug` and `Display` print `***` in its place.

use std::fmt;
use std::str::FromStr;

/// A PostgreSQL connection string (`postgres://user:password@host:port/db?options`, the
/// libpq URL form). Prints with its password masked.
#[derive(Clone)]
pub struct PgUrl {
    raw: String,
    config: tokio_postgres::Config,
}

/// A connection string that is not a PostgreSQL URL.
#[derive(Debug, thiserror::Error)]
#[error("not a PostgreSQL URL ({masked}): {reason}")]
pub struct UrlError {
    masked: String,
    reason: String,
}

impl PgUrl {
    /// Whether `s` names a PostgreSQL database (`postgres://` or `postgresql://`).
    pub fn is_postgres(s: &str) -> bool {
        s.starts_with("postgres://") || s.starts_with("postgresql://")
    }

    /// The connection settings.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Where it points, for messages: `host:port/database`, no user, no password.
    pub fn location(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self
            .config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres");
        format!("postgres://{host}:{port}/{db}")
    }

    /// The same URL with another database name (tests give each its own database).
    pub fn with_dbname(&self, dbname: &str) -> PgUrl {
        let mut config = self.config.clone();
        config.dbname(dbname);
        let raw = match self.raw.split_once('?') {
            Some((base, query)) => format!("{}?{query}", replace_path(base, dbname)),
            None => replace_path(&self.raw, dbname),
        };
        PgUrl { raw, config }
    }

    /// The URL as given, password included: only for a child process's environment,
    /// never for output.
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

/// `scheme://authority/<dbname>`.
fn replace_path(base: &str, dbname: &str) -> String {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) => format!("{}/{dbname}", &base[..after_scheme + i]),
        None => format!("{base}/{dbname}"),
    }
}

/// `scheme://user:***@rest`: the password (between the first `:` of the user info and the
/// last `@` before the path) replaced.
fn mask(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return "***".into();
    };
    let rest = &raw[start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return mask_query(raw);
    };
    let userinfo = &authority[..at];
    let masked_userinfo = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    mask_query(&format!(
        "{}{masked_userinfo}{}",
        &raw[..start],
        &rest[at..]
    ))
}

/// A `password=` option in the query string, masked too.
fn mask_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

impl FromStr for PgUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| UrlError {
            masked: mask(s),
            reason,
        };
        if !PgUrl::is_postgres(s) {
            return Err(error(
                "it must start with postgres:// or postgresql://".into(),
            ));
        }
        // tokio-postgres' messages quote no part of the string, so no password leaks.
        let config = s
            .parse::<tokio_postgres::Config>()
            .map_err(|e| error(e.to_string()))?;
        Ok(PgUrl {
            raw: s.to_owned(),
            config,
        })
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.raw))
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({})", mask(&self.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (URL, how it prints).
    const MASKED: [(&str, &str); 5] = [
        (
            "postgres://runwait:s3cr%40t@db.example.com:5433/state",
            "postgres://runwait:***@db.example.com:5433/state",
        ),
        (
            "postgresql://u:p@w@host/db?sslmode=disable",
            "postgresql://u:***@host/db?sslmode=disable",
        ),
        ("postgres://u@host/db", "postgres://u@host/db"),
        (
            "postgres://host/db?user=u&password=hunter2",
            "postgres://host/db?user=u&password=***",
        ),
        ("postgres://host", "postgres://host"),
    ];

    #[test]
    fn the_password_never_prints() {
        for (raw, shown) in MASKED {
            let url: PgUrl = raw.parse().unwrap();
            assert_eq!(url.to_string(), shown);
            assert_eq!(format!("{url:?}"), format!("PgUrl({shown})"));
            for secret in ["s3cr", "p@w", "hunter2"] {
                assert!(!url.location().contains(secret), "{}", url.location());
            }
        }
    }

    #[test]
    fn a_bad_url_is_refused_without_its_password() {
        let err = "postgres://u:topsecret@host:notaport/db"
            .parse::<PgUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgres://u:***@host:notaport/db"), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
        let err = "mysql://u:topsecret@h/db"
            .parse::<PgUrl>()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("topsecret"), "{err}");
    }

    #[test]
    fn the_location_and_another_database() {
        let url: PgUrl = "postgres://u:pw@127.0.0.1:5499/a?connect_timeout=3"
            .parse()
            .unwrap();
        assert_eq!(url.location(), "postgres://127.0.0.1:5499/a");
        let b = url.with_dbname("b");
        assert_eq!(
            b.to_string(),
            "postgres://u:***@127.0.0.1:5499/b?connect_timeout=3"
        );
        assert_eq!(b.config().get_dbname(), Some("b"));
    }
}
