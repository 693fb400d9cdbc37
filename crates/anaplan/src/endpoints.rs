//! Where the API and the auth service live: a region name or explicit URLs.

use std::net::IpAddr;

use url::Url;

use crate::Error;

/// The base URLs of one Anaplan tenant: the Integration API (`…/2/0`) and the auth
/// service (`/token/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    api: Url,
    auth: Url,
}

/// Regions whose API and auth hosts carry the region's name.
const REGIONAL: &[&str] = &[
    "us9", "eu3", "eu5", "gb1", "ca1a", "sg1", "ae1", "in1", "id1", "me1",
];
/// Regions served by the legacy global hosts.
const LEGACY: &[&str] = &["us1", "us2", "us5", "us7", "eu1", "eu2", "eu4", "ap1"];

impl Endpoints {
    /// The endpoints of an Anaplan region (`us1`, `us9`, `eu3`, `au1`, …; case-insensitive).
    pub fn region(name: &str) -> Result<Self, Error> {
        let region = name.trim().to_ascii_lowercase();
        let (api, auth) = match region.as_str() {
            r if LEGACY.contains(&r) => (
                "https://api.anaplan.com/2/0".to_owned(),
                "https://auth.anaplan.com".to_owned(),
            ),
            "au1" | "au1a" => (
                "https://au1a.api2.anaplan.com/2/0".to_owned(),
                "https://au1a.app2.anaplan.com".to_owned(),
            ),
            // Canada's hosts are `ca1a.`; accept the region's plain name too.
            "ca1" => (
                "https://ca1a.api.anaplan.com/2/0".to_owned(),
                "https://ca1a.auth.anaplan.com".to_owned(),
            ),
            r if REGIONAL.contains(&r) => (
                format!("https://{r}.api.anaplan.com/2/0"),
                format!("https://{r}.auth.anaplan.com"),
            ),
            _ => {
                return Err(Error::Config(format!(
                    "unknown Anaplan region `{name}`: expected one of {}, au1, or explicit api_url and auth_url",
                    [LEGACY, REGIONAL].concat().join(", ")
                )));
            }
        };
        Self::custom(&api, &auth)
    }

    /// Explicit URLs. `api` is the Integration API base; a bare host gets `/2/0`
    /// appended. `http://` is refused except for loopback addresses (a local simulator).
    pub fn custom(api: &str, auth: &str) -> Result<Self, Error> {
        let mut api = parse_base("api_url", api)?;
        if api.path() == "/" || api.path().is_empty() {
            api.set_path("/2/0");
        }
        let auth = parse_base("auth_url", auth)?;
        Ok(Endpoints { api, auth })
    }

    /// The OAuth token endpoint of a region: `https://{region}.app.anaplan.com/oauth/token`.
    pub fn oauth_token_url(region: &str) -> Result<Url, Error> {
        let region = region.trim().to_ascii_lowercase();
        Url::parse(&format!("https://{region}.app.anaplan.com/oauth/token"))
            .map_err(|e| Error::Config(format!("no OAuth token URL for region `{region}`: {e}")))
    }

    /// The Integration API base, e.g. `https://api.anaplan.com/2/0`.
    pub fn api(&self) -> &Url {
        &self.api
    }

    /// The auth service base, e.g. `https://auth.anaplan.com`.
    pub fn auth(&self) -> &Url {
        &self.auth
    }

    /// `{api}/{segments…}` with each segment percent-encoded.
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        join(&self.api, segments)
    }

    /// `{auth}/{segments…}`.
    pub(crate) fn auth_url(&self, segments: &[&str]) -> Url {
        join(&self.auth, segments)
    }
}

fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

fn parse_base(field: &str, text: &str) -> Result<Url, Error> {
    let url = Url::parse(text.trim())
        .map_err(|e| Error::Config(format!("{field} `{text}` is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "{field} `{text}` uses http://, which is refused except for loopback addresses: use https://"
            )));
        }
        other => {
            return Err(Error::Config(format!(
                "{field} `{text}`: unsupported scheme `{other}`"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Error::Config(format!("{field} `{text}` has no host")));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "{field} must not carry a query or credentials"
        )));
    }
    Ok(url)
}

/// True for `localhost` and loopback addresses: the only hosts `http://` is allowed for.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_region_resolves() {
        for r in ["us1", "US2", "us5", "us7", "eu1", "eu2", "eu4", "ap1"] {
            let e = Endpoints::region(r).unwrap();
            assert_eq!(e.api().as_str(), "https://api.anaplan.com/2/0");
            assert_eq!(e.auth().as_str(), "https://auth.anaplan.com/");
        }
        let e = Endpoints::region("us9").unwrap();
        assert_eq!(e.api().as_str(), "https://us9.api.anaplan.com/2/0");
        assert_eq!(e.auth().as_str(), "https://us9.auth.anaplan.com/");
        for r in [
            "eu3", "eu5", "gb1", "ca1a", "sg1", "ae1", "in1", "id1", "me1",
        ] {
            assert!(
                Endpoints::region(r)
                    .unwrap()
                    .api()
                    .as_str()
                    .starts_with(&format!("https://{r}.api."))
            );
        }
        assert_eq!(
            Endpoints::region("ca1").unwrap().api().host_str(),
            Some("ca1a.api.anaplan.com")
        );
        let au = Endpoints::region("au1").unwrap();
        assert_eq!(au.api().as_str(), "https://au1a.api2.anaplan.com/2/0");
        assert_eq!(au.auth().as_str(), "https://au1a.app2.anaplan.com/");
        let err = Endpoints::region("mars1").unwrap_err().to_string();
        assert!(err.contains("unknown Anaplan region `mars1`"), "{err}");
    }

    #[test]
    fn http_only_for_loopback() {
        assert!(Endpoints::custom("http://127.0.0.1:8080", "http://127.0.0.1:8080").is_ok());
        assert!(Endpoints::custom("http://[::1]:1/2/0", "http://localhost:1").is_ok());
        let err =
            Endpoints::custom("http://api.example.com", "https://auth.example.com").unwrap_err();
        assert!(
            err.to_string().contains("refused except for loopback"),
            "{err}"
        );
        assert!(Endpoints::custom("ftp://127.0.0.1", "https://a").is_err());
    }

    #[test]
    fn urls_are_joined_with_encoding() {
        let e = Endpoints::custom("http://127.0.0.1:9", "http://127.0.0.1:9").unwrap();
        assert_eq!(
            e.api_url(&["workspaces", "a b"]).as_str(),
            "http://127.0.0.1:9/2/0/workspaces/a%20b"
        );
        assert_eq!(
            e.auth_url(&["token", "refresh"]).as_str(),
            "http://127.0.0.1:9/token/refresh"
        );
    }
}
