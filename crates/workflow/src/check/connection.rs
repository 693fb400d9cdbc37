//! `connection:`: a tenant or the simulator (`simulator.rs`), auth kinds and secrets;
//! exclusive keys.

use runwait_anaplan::{EncodedDataFormat, Endpoints, is_loopback};

use super::{Checker, Fields, auth_keys, auth_kinds, choices, list};
use crate::format::{self, fields_of};
use crate::model::{AuthSpec, Connection, SecretSource};
use crate::tree::{Node, Value};

impl Checker {
    /// `{ env: VAR }` or `{ file: PATH }`, never the secret itself (whose value is not
    /// echoed in the message).
    pub(super) fn secret(&mut self, node: &Node, path: &str) -> Option<SecretSource> {
        if !matches!(node.value, Value::Map(_)) {
            self.error(
                node,
                path,
                format!(
                    "secrets must come from env or file: write `{{ env: VARIABLE }}` or `{{ file: PATH }}`, not {}",
                    node.kind_name()
                ),
            );
            return None;
        }
        let f = self.fields(
            node,
            path,
            "a secret reference",
            fields_of::<format::SecretRef>(),
        )?;
        match (f.get("env"), f.get("file")) {
            (Some(_), Some(_)) => {
                let key = f.key("file").unwrap_or(node);
                self.error(key, path, "give `env` or `file`, not both");
                None
            }
            (None, None) => {
                self.error(
                    node,
                    path,
                    "expected `{ env: VARIABLE }` or `{ file: PATH }`",
                );
                None
            }
            (Some(var), None) => {
                let name = self.text(var, &f.path("env"))?;
                if crate::env::is_var_name(&name) {
                    Some(SecretSource::Env(name))
                } else {
                    self.error(
                        var,
                        &f.path("env"),
                        format!(
                            "`{}` is not an environment variable name: expected letters, digits and `_`",
                            name.escape_debug()
                        ),
                    );
                    None
                }
            }
            (None, Some(file)) => self
                .later_file(file, &f.path("file"))
                .map(SecretSource::File),
        }
    }

    // ---- connection ----

    /// The connection, and whether it is the simulator (which may poll faster).
    pub(super) fn connection(&mut self, node: &Node) -> (Option<Connection>, bool) {
        let Some(f) = self.fields(
            node,
            "connection",
            "a connection",
            fields_of::<format::ConnectionFile>(),
        ) else {
            return (None, false);
        };
        if let Some(sim) = f.get("simulator") {
            for (key, key_node, _) in &f.entries {
                if *key != "simulator" {
                    self.error(
                        key_node,
                        "connection",
                        format!("`{key}` cannot be combined with `simulator` (the simulator is on loopback, with its own users)"),
                    );
                }
            }
            #[cfg(feature = "simulator")]
            return (self.simulator(sim), true);
            #[cfg(not(feature = "simulator"))]
            {
                let key = f.key("simulator").unwrap_or(sim);
                self.error(
                    key,
                    "connection",
                    "the embedded simulator is not built in (the `simulator` feature of runwait-workflow)",
                );
                return (None, true);
            }
        }
        (self.anaplan(&f), false)
    }

    pub(super) fn anaplan(&mut self, f: &Fields<'_>) -> Option<Connection> {
        let region = f.get("region");
        let urls = (f.get("api_url"), f.get("auth_url"));
        let endpoints = match (region, urls) {
            (Some(_), (Some(_), _) | (_, Some(_))) => {
                let key = f.key("api_url").or(f.key("auth_url")).unwrap_or(f.node);
                self.error(
                    key,
                    "connection",
                    "`region` and `api_url`/`auth_url` are exclusive: give a region, or both URLs",
                );
                None
            }
            (Some(r), (None, None)) => {
                let name = self.text(r, "connection.region")?;
                self.endpoints(r, "connection.region", Endpoints::region(&name))
            }
            (None, (Some(api), Some(auth))) => {
                let api_text = self.text(api, "connection.api_url");
                let auth_text = self.text(auth, "connection.auth_url");
                let (api_text, auth_text) = (api_text?, auth_text?);
                self.endpoints(api, "connection", Endpoints::custom(&api_text, &auth_text))
            }
            (None, (Some(_), None)) => {
                self.error(f.node, "connection", "`api_url` needs `auth_url` too");
                None
            }
            (None, (None, Some(_))) => {
                self.error(f.node, "connection", "`auth_url` needs `api_url` too");
                None
            }
            (None, (None, None)) => {
                self.error(
                    f.node,
                    "connection",
                    "expected `simulator:`, `region:`, or `api_url:` with `auth_url:`",
                );
                None
            }
        };
        let auth = match self.required(f, "auth") {
            Some(n) => self.auth(n),
            None => None,
        };
        // From the text of `kind`, so that a broken `auth:` still gets this check.
        let oauth = f
            .get("auth")
            .and_then(|a| a.get("kind"))
            .and_then(Node::as_str)
            == Some("oauth");
        let oauth_token_url = match (f.get("oauth_token_url"), oauth) {
            (Some(n), false) => {
                if f.get("auth").and_then(|a| a.get("kind")).is_some() {
                    self.error(
                        f.key("oauth_token_url").unwrap_or(n),
                        "connection",
                        "`oauth_token_url` is only used with `auth.kind: oauth`",
                    );
                }
                None
            }
            (Some(n), true) => Some(self.url(n, "connection.oauth_token_url")?),
            (None, true) => match region.and_then(Node::as_str) {
                // Every known region makes a URL; an unknown one was reported above.
                Some(r) => Endpoints::oauth_token_url(r).ok(),
                None => {
                    self.error(
                        f.node,
                        "connection",
                        "`oauth_token_url` is required with `kind: oauth` and explicit `api_url`/`auth_url`",
                    );
                    None
                }
            },
            (None, false) => None,
        };
        Some(Connection::Anaplan {
            endpoints: endpoints?,
            auth: auth?,
            oauth_token_url,
        })
    }

    pub(super) fn endpoints(
        &mut self,
        node: &Node,
        path: &str,
        built: Result<Endpoints, runwait_anaplan::Error>,
    ) -> Option<Endpoints> {
        match built {
            Ok(e) => Some(e),
            Err(runwait_anaplan::Error::Config(message)) => {
                self.error(node, path, message);
                None
            }
            Err(other) => {
                self.error(node, path, other);
                None
            }
        }
    }

    pub(super) fn url(&mut self, node: &Node, path: &str) -> Option<url::Url> {
        let text = self.text(node, path)?;
        let problem = match url::Url::parse(&text) {
            Ok(u) if u.scheme() == "https" => return Some(u),
            Ok(u) if u.scheme() == "http" && is_loopback(&u) => return Some(u),
            Ok(_) => "expected an https:// URL (http:// only for loopback)".to_owned(),
            Err(e) => format!("`{}` is not a URL: {e}", text.escape_debug()),
        };
        self.error(node, path, problem);
        None
    }

    pub(super) fn auth(&mut self, node: &Node) -> Option<AuthSpec> {
        let path = "connection.auth";
        let f = self.fields(node, path, "an auth mapping", &auth_keys())?;
        let kinds = auth_kinds();
        let (kind, own) = match self.required(&f, "kind") {
            Some(n) => *self.entry(n, &f.path("kind"), &kinds)?,
            None => return None,
        };
        let mut stray = false;
        for (key, key_node, _) in &f.entries {
            if *key != "kind" && !own.contains(key) {
                self.error(
                    key_node,
                    path,
                    format!(
                        "`{key}` is not used with `kind: {kind}`, which takes {}",
                        list(own)
                    ),
                );
                stray = true;
            }
        }
        let spec = match kind {
            "basic" => {
                let user = self
                    .required(&f, "user")
                    .and_then(|n| self.text(n, &f.path("user")));
                let password = self
                    .required(&f, "password")
                    .and_then(|n| self.secret(n, &f.path("password")));
                AuthSpec::Basic {
                    user: user?,
                    password: password?,
                }
            }
            "certificate" => {
                let certificate = self
                    .required(&f, "certificate")
                    .and_then(|n| self.later_file(n, &f.path("certificate")));
                let private_key = self
                    .required(&f, "private_key")
                    .and_then(|n| self.later_file(n, &f.path("private_key")));
                let passphrase = match f.get("passphrase") {
                    Some(n) => Some(self.secret(n, &f.path("passphrase"))?),
                    None => None,
                };
                let format = match f.get("format") {
                    Some(n) => self.choice(
                        n,
                        &f.path("format"),
                        &choices::<format::CertificateFormat, _>(&[
                            EncodedDataFormat::V1,
                            EncodedDataFormat::V2,
                        ]),
                    ),
                    None => Some(EncodedDataFormat::V2),
                };
                AuthSpec::Certificate {
                    certificate: certificate?,
                    private_key: private_key?,
                    passphrase,
                    format: format?,
                }
            }
            "token" => AuthSpec::Token {
                token: self
                    .required(&f, "token")
                    .and_then(|n| self.secret(n, &f.path("token")))?,
            },
            _ => {
                let client_id = self
                    .required(&f, "client_id")
                    .and_then(|n| self.text(n, &f.path("client_id")));
                let refresh_token = self
                    .required(&f, "refresh_token")
                    .and_then(|n| self.secret(n, &f.path("refresh_token")));
                let client_secret = match f.get("client_secret") {
                    Some(n) => Some(self.secret(n, &f.path("client_secret"))?),
                    None => None,
                };
                AuthSpec::OAuth {
                    client_id: client_id?,
                    refresh_token: refresh_token?,
                    client_secret,
                }
            }
        };
        (!stray).then_some(spec)
    }
}
