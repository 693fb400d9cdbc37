//! `connection:` read through [`ConnectionFile`] (and `auth:` through its flat shape),
//! then the rules across its fields: `simulator` alone, `region` or both URLs, the keys
//! of the auth kind, the OAuth token URL.

use runwait_anaplan::{EncodedDataFormat, Endpoints, is_loopback};

use super::{Checker, key_node, key_pos, keys};
use crate::de::Hidden;
use crate::format::{AuthFlat, AuthKind, CertificateFormat, ConnectionFile, fields_of};
use crate::model::{AuthSpec, Connection};
use crate::tree::{Node, Value};

impl Checker {
    /// The connection, and whether it is the simulator (which may poll faster).
    pub(super) fn connection(&mut self, node: &Node) -> (Option<Connection>, bool) {
        let path = "connection";
        // Read on their own: `auth` (with the keys of its kind), the simulator's scenario
        // (the simulator's own format), and `simulator:` with no settings at all.
        let mut hidden: Vec<Hidden> = key_pos(node, "auth").into_iter().collect();
        let sim = node.get("simulator");
        match sim {
            Some(s) if s.value == Value::Null => hidden.extend(key_pos(node, "simulator")),
            Some(s) => hidden.extend(key_pos(s, "scenario")),
            None => {}
        }
        let Some((file, _)) = self.typed_hiding::<ConnectionFile>(node, path, hidden) else {
            return (None, false);
        };
        let Some(sim) = sim else {
            return (self.anaplan(&file, node), false);
        };
        for (key, key_node) in keys(node) {
            if key != "simulator" && fields_of::<ConnectionFile>().contains(&key) {
                self.error(
                    key_node,
                    path,
                    format!("`{key}` cannot be combined with `simulator` (the simulator is on loopback, with its own users)"),
                );
            }
        }
        #[cfg(feature = "simulator")]
        return (self.simulator(file.simulator.as_ref(), sim), true);
        #[cfg(not(feature = "simulator"))]
        {
            let key = key_node(node, "simulator").unwrap_or(sim);
            self.error(
                key,
                path,
                "the embedded simulator is not built in (the `simulator` feature of runwait-workflow)",
            );
            (None, true)
        }
    }

    fn anaplan(&mut self, file: &ConnectionFile, node: &Node) -> Option<Connection> {
        let path = "connection";
        let at = |key| node.get(key).unwrap_or(node);
        let given = |key| node.get(key).is_some();
        let endpoints = match (given("region"), given("api_url"), given("auth_url")) {
            (true, true, _) | (true, _, true) => {
                let key = key_node(node, "api_url")
                    .or(key_node(node, "auth_url"))
                    .unwrap_or(node);
                self.error(
                    key,
                    path,
                    "`region` and `api_url`/`auth_url` are exclusive: give a region, or both URLs",
                );
                None
            }
            (true, false, false) => file.region.as_deref().and_then(|region| {
                self.endpoints(at("region"), "connection.region", Endpoints::region(region))
            }),
            (false, true, true) => match (&file.api_url, &file.auth_url) {
                (Some(api), Some(auth)) => {
                    self.endpoints(at("api_url"), path, Endpoints::custom(api, auth))
                }
                _ => None,
            },
            (false, true, false) => {
                self.error(node, path, "`api_url` needs `auth_url` too");
                None
            }
            (false, false, true) => {
                self.error(node, path, "`auth_url` needs `api_url` too");
                None
            }
            (false, false, false) => {
                self.error(
                    node,
                    path,
                    "expected `simulator:`, `region:`, or `api_url:` with `auth_url:`",
                );
                None
            }
        };
        let auth = match node.get("auth") {
            Some(n) => self.auth(n),
            None => {
                self.error(node, path, "missing required key `auth`");
                None
            }
        };
        // From the text of `kind`, so that a broken `auth:` still gets this check.
        let kind = node.get("auth").and_then(|a| a.get("kind"));
        let oauth = kind.and_then(Node::as_str) == Some(AuthKind::Oauth.name());
        let oauth_token_url = match (given("oauth_token_url"), oauth) {
            (true, false) => {
                if kind.is_some() {
                    self.error(
                        key_node(node, "oauth_token_url").unwrap_or(node),
                        path,
                        "`oauth_token_url` is only used with `auth.kind: oauth`",
                    );
                }
                None
            }
            (true, true) => {
                let url = file.oauth_token_url.as_deref()?;
                Some(self.url(url, at("oauth_token_url"), "connection.oauth_token_url")?)
            }
            // Every known region makes a URL; an unknown one was reported above.
            (false, true) if given("region") => file
                .region
                .as_deref()
                .and_then(|r| Endpoints::oauth_token_url(r).ok()),
            (false, true) => {
                self.error(
                    node,
                    path,
                    "`oauth_token_url` is required with `kind: oauth` and explicit `api_url`/`auth_url`",
                );
                None
            }
            (false, false) => None,
        };
        Some(Connection::Anaplan {
            endpoints: endpoints?,
            auth: auth?,
            oauth_token_url,
        })
    }

    fn endpoints(
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

    /// An https:// URL (http:// only for loopback).
    fn url(&mut self, text: &str, node: &Node, path: &str) -> Option<url::Url> {
        let problem = match url::Url::parse(text) {
            Ok(u) if u.scheme() == "https" => return Some(u),
            Ok(u) if u.scheme() == "http" && is_loopback(&u) => return Some(u),
            Ok(_) => "expected an https:// URL (http:// only for loopback)".to_owned(),
            Err(e) => format!("`{}` is not a URL: {e}", text.escape_debug()),
        };
        self.error(node, path, problem);
        None
    }

    /// `auth:` through [`AuthFlat`]; the keys of another kind than the one written are
    /// reported here, and not read.
    fn auth(&mut self, node: &Node) -> Option<AuthSpec> {
        let path = "connection.auth";
        let kind = node
            .get("kind")
            .and_then(Node::as_str)
            .and_then(AuthKind::named);
        let mut hidden = Vec::new();
        if let Some(kind) = kind {
            for (key, key_node) in keys(node) {
                let flat_key = fields_of::<AuthFlat>().contains(&key);
                if key != "kind" && flat_key && !kind.keys().contains(&key) {
                    self.error(key_node, path, kind.stray_message(key));
                    hidden.push(Hidden::Key(key_node.pos));
                }
            }
        }
        let stray = !hidden.is_empty();
        let (flat, _) = self.typed_hiding::<AuthFlat>(node, path, hidden)?;
        let spec = self.auth_spec(flat, node, path);
        spec.filter(|_| !stray)
    }

    /// The [`AuthSpec`] of the kind read, its required keys given.
    fn auth_spec(&mut self, flat: AuthFlat, node: &Node, path: &str) -> Option<AuthSpec> {
        Some(match flat.kind {
            AuthKind::Basic => {
                let user = self.required(flat.user, node, path, "user");
                let password = self.required_secret(flat.password, node, path, "password");
                AuthSpec::Basic {
                    user: user?,
                    password: password?,
                }
            }
            AuthKind::Certificate => {
                let certificate =
                    self.required_file(flat.certificate.as_deref(), node, path, "certificate");
                let private_key =
                    self.required_file(flat.private_key.as_deref(), node, path, "private_key");
                let passphrase = self.optional_secret(flat.passphrase, node, path, "passphrase");
                let format = match (flat.format, node.get("format")) {
                    (Some(CertificateFormat::V1), _) => Some(EncodedDataFormat::V1),
                    (Some(CertificateFormat::V2), _) | (None, None) => Some(EncodedDataFormat::V2),
                    (None, Some(_)) => None,
                };
                AuthSpec::Certificate {
                    certificate: certificate?,
                    private_key: private_key?,
                    passphrase: passphrase?,
                    format: format?,
                }
            }
            AuthKind::Token => AuthSpec::Token {
                token: self.required_secret(flat.token, node, path, "token")?,
            },
            AuthKind::Oauth => {
                let client_id = self.required(flat.client_id, node, path, "client_id");
                let refresh_token =
                    self.required_secret(flat.refresh_token, node, path, "refresh_token");
                let client_secret =
                    self.optional_secret(flat.client_secret, node, path, "client_secret");
                AuthSpec::OAuth {
                    client_id: client_id?,
                    refresh_token: refresh_token?,
                    client_secret: client_secret?,
                }
            }
        })
    }

    /// A key the kind requires: missing when not written (a value written but invalid
    /// was reported where it is).
    pub(super) fn required<T>(
        &mut self,
        value: Option<T>,
        node: &Node,
        path: &str,
        key: &str,
    ) -> Option<T> {
        if value.is_none() && node.get(key).is_none() {
            self.error(node, path, format!("missing required key `{key}`"));
        }
        value
    }
}
