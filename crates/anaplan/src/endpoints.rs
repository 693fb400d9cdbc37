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

/// The hosts of one Anaplan region: where its Integration API, its auth service and its
/// OAuth token endpoint live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Region {
    /// The region's names, lower case; the first is the canonical one (`ca1` also answers
    /// to `ca1a`, `au1` to `au1a`).
    pub names: &'static [&'static str],
    /// The Integration API host (the base is `https://{api_host}/2/0`).
    pub api_host: &'static str,
    /// The auth service host (`https://{auth_host}/token/…`).
    pub auth_host: &'static str,
    /// The OAuth host (`https://{oauth_host}/oauth/token`): not always named after the
    /// region.
    pub oauth_host: &'static str,
}

impl Region {
    /// The region's canonical name (`us1`, `ca1`, …).
    pub fn name(&self) -> &'static str {
        self.names[0]
    }

    /// The OAuth token endpoint, `https://{oauth_host}/oauth/token`.
    pub fn oauth_token_url(&self) -> Url {
        https(self.oauth_host, "/oauth/token")
    }
}

/// A legacy region: the global API and auth hosts, OAuth on `us1a`.
const fn legacy(names: &'static [&'static str]) -> Region {
    Region {
        names,
        api_host: "api.anaplan.com",
        auth_host: "auth.anaplan.com",
        oauth_host: "us1a.app.anaplan.com",
    }
}

macro_rules! regional {
    ($name:literal) => {
        Region {
            names: &[$name],
            api_host: concat!($name, ".api.anaplan.com"),
            auth_host: concat!($name, ".auth.anaplan.com"),
            oauth_host: concat!($name, ".app.anaplan.com"),
        }
    };
}

/// Every Anaplan region with its hosts. Source: Anaplan's help page "URL, IP, and
/// allowlist requirements" (the hosts per region, the OAuth hosts among them), as
/// summarised in the project's API reference; the OAuth hosts of us1 and au1 were
/// confirmed by live tests (setikites/anaplan-openapi, `oauth/README.md`). The legacy
/// regions share the global API and auth hosts and the `us1a` OAuth host; Canada's hosts
/// are `ca1a.`; Australia's are on `app2`/`api2`.
pub const REGIONS: &[Region] = &[
    legacy(&["us1"]),
    legacy(&["us2"]),
    legacy(&["us5"]),
    legacy(&["us7"]),
    legacy(&["eu1"]),
    legacy(&["eu2"]),
    legacy(&["eu4"]),
    legacy(&["ap1"]),
    Region {
        names: &["ca1", "ca1a"],
        api_host: "ca1a.api.anaplan.com",
        auth_host: "ca1a.auth.anaplan.com",
        oauth_host: "ca1a.app.anaplan.com",
    },
    Region {
        names: &["au1", "au1a"],
        api_host: "au1a.api2.anaplan.com",
        auth_host: "au1a.app2.anaplan.com",
        oauth_host: "au1a.app2.anaplan.com",
    },
    regional!("us9"),
    regional!("eu3"),
    regional!("eu5"),
    regional!("gb1"),
    regional!("sg1"),
    regional!("ae1"),
    regional!("in1"),
    regional!("id1"),
    regional!("me1"),
];

/// The region of this name (case-insensitive, surrounding blanks ignored).
pub fn region(name: &str) -> Result<&'static Region, Error> {
    let wanted = name.trim().to_ascii_lowercase();
    REGIONS
        .iter()
        .find(|r| r.names.contains(&wanted.as_str()))
        .ok_or_else(|| {
            let names: Vec<&str> = REGIONS.iter().map(Region::name).collect();
            Error::Config(format!(
                "unknown Anaplan region `{name}`: expected one of {}, or explicit api_url and auth_url",
                names.join(", ")
            ))
        })
}

fn https(host: &str, path: &str) -> Url {
    // The table's hosts are constants: parsing cannot fail.
    Url::parse(&format!("https://{host}{path}")).expect("a valid host in the region table")
}

impl Endpoints {
    /// The endpoints of an Anaplan region (`us1`, `us9`, `eu3`, `au1`, …; case-insensitive).
    pub fn region(name: &str) -> Result<Self, Error> {
        let r = region(name)?;
        Ok(Endpoints {
            api: https(r.api_host, "/2/0"),
            auth: https(r.auth_host, "/"),
        })
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

    /// The OAuth token endpoint of a region, from [`REGIONS`] (e.g. `us1` →
    /// `https://us1a.app.anaplan.com/oauth/token`).
    pub fn oauth_token_url(region_name: &str) -> Result<Url, Error> {
        Ok(region(region_name)?.oauth_token_url())
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
        assert!(err.contains("us1, us2"), "{err}");
        assert!(err.contains("unknown Anaplan region `mars1`"), "{err}");
    }

    #[test]
    fn oauth_hosts_follow_the_allowlist_page_not_the_region_name() {
        let url = |r| Endpoints::oauth_token_url(r).unwrap().to_string();
        for r in ["us1", "us2", "us5", "us7", "eu1", "eu2", "eu4", "AP1"] {
            assert_eq!(url(r), "https://us1a.app.anaplan.com/oauth/token", "{r}");
        }
        assert_eq!(url("ca1"), "https://ca1a.app.anaplan.com/oauth/token");
        assert_eq!(url("ca1a"), "https://ca1a.app.anaplan.com/oauth/token");
        assert_eq!(url("au1"), "https://au1a.app2.anaplan.com/oauth/token");
        for r in [
            "us9", "eu3", "eu5", "gb1", "sg1", "ae1", "in1", "id1", "me1",
        ] {
            assert_eq!(url(r), format!("https://{r}.app.anaplan.com/oauth/token"));
        }
        assert!(Endpoints::oauth_token_url("mars1").is_err());
        // Every region's hosts parse, and each name is listed once.
        let mut names: Vec<&str> = REGIONS
            .iter()
            .flat_map(|r| r.names.iter().copied())
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
        for r in REGIONS {
            Endpoints::region(r.name()).unwrap();
            let _ = r.oauth_token_url();
        }
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
