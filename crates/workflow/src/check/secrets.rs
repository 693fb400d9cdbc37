//! Secrets and files the runner reads later: each secret names exactly one source (`env`
//! or `file`), a file that is not there yet is a warning, and `state:` holds no password
//! (the typed reading refuses a literal secret; the message never repeats it).

use std::path::Path;

use super::{Checker, join, key_node};
use crate::format::{SecretProblem, SecretRef, StateFile};
use crate::model::{SecretSource, StateLocation};
use crate::tree::Node;

impl Checker {
    /// The secret of `key` in the mapping `node` (field path `path`), which the kind
    /// requires.
    pub(super) fn required_secret(
        &mut self,
        secret: Option<SecretRef>,
        node: &Node,
        path: &str,
        key: &str,
    ) -> Option<SecretSource> {
        let secret = self.required(secret, node, path, key)?;
        self.secret(secret, node.get(key).unwrap_or(node), &join(path, key))
    }

    /// An optional secret: `Some(None)` when not given, `None` when given but unusable.
    pub(super) fn optional_secret(
        &mut self,
        secret: Option<SecretRef>,
        node: &Node,
        path: &str,
        key: &str,
    ) -> Option<Option<SecretSource>> {
        match (secret, node.get(key)) {
            (Some(secret), Some(at)) => self.secret(secret, at, &join(path, key)).map(Some),
            (None, Some(_)) => None,
            (_, None) => Some(None),
        }
    }

    /// A file the kind requires, resolved against the workflow file.
    pub(super) fn required_file(
        &mut self,
        file: Option<&Path>,
        node: &Node,
        path: &str,
        key: &str,
    ) -> Option<std::path::PathBuf> {
        let file = self.required(file, node, path, key)?;
        let at = node.get(key).unwrap_or(node);
        Some(self.later_file(file, at, &join(path, key)))
    }

    /// Where the secret read at `node` comes from: `env` or `file`, not both.
    fn secret(&mut self, secret: SecretRef, node: &Node, path: &str) -> Option<SecretSource> {
        match secret.check() {
            Err(SecretProblem::Both) => {
                let key = key_node(node, "file").unwrap_or(node);
                self.error(key, path, SecretProblem::Both);
                None
            }
            Err(problem) => {
                // A source written but invalid was reported where it is.
                if node.get("env").or(node.get("file")).is_none() {
                    self.error(node, path, problem);
                }
                None
            }
            Ok(()) => match (secret.env, secret.file) {
                (Some(var), _) => Some(SecretSource::Env(var)),
                (None, file) => {
                    let file = file?;
                    let at = node.get("file").unwrap_or(node);
                    Some(SecretSource::File(self.later_file(
                        &file,
                        at,
                        &join(path, "file"),
                    )))
                }
            },
        }
    }

    /// `state:` (read at `node`): a literal directory is resolved against the workflow
    /// file; a URL and a value read later are kept as they are.
    pub(super) fn state(&mut self, state: StateFile, node: &Node) -> Option<StateLocation> {
        match state {
            StateFile::Literal(text) if text.contains("://") => Some(StateLocation::Literal(text)),
            StateFile::Literal(dir) => {
                let resolved = self.resolve(Path::new(&dir));
                Some(StateLocation::Literal(
                    resolved.to_string_lossy().into_owned(),
                ))
            }
            StateFile::From(secret) => self.secret(secret, node, "state").map(StateLocation::From),
        }
    }
}
