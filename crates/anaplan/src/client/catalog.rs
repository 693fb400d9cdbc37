//! Listings and lookups: workspaces, models, a model's objects by kind, an object's id
//! by name, and a process's actions.

use reqwest::Method;
use runwait_core::catalog::{
    ActionList, ExportList, ImportList, Model, ModelList, NamedObject, ProcessList,
    ProcessMetadata, ProcessMetadataReply, Workspace, WorkspaceList,
};
use runwait_core::wire::Meta;
use runwait_core::{ModelId, ObjectId, ParseError, TaskKind, WorkspaceId};

use super::segment;
use crate::auth::Turn;
use crate::{Client, Error};

impl Client {
    /// A process's actions in execution order, with their names and types.
    pub async fn process_metadata(
        &self,
        model: &ModelId,
        process: &ObjectId,
    ) -> Result<ProcessMetadata, Error> {
        let req = self.request(
            Method::GET,
            &["models", model.as_str(), "processes", process.as_str()],
            &[],
        );
        let reply: ProcessMetadataReply =
            self.get(&req, None, runwait_core::wire::parse_json).await?;
        Ok(reply.process_metadata)
    }

    /// All pages of a listing (`extra` goes into every page's query).
    pub(super) async fn paged<L, T>(
        &self,
        turn: Option<Turn>,
        segments: &[&str],
        extra: &[(&str, &str)],
        parse: fn(&str) -> Result<L, ParseError>,
        split: fn(L) -> (Option<Meta>, Vec<T>),
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        // The first page in the caller's turn, if it took one; the others each wait for
        // their own.
        let mut first = turn;
        loop {
            let offset = items.len().to_string();
            let limit = self.inner.page_size.to_string();
            let mut query = vec![("offset", offset.as_str()), ("limit", limit.as_str())];
            query.extend_from_slice(extra);
            let req = self.request(Method::GET, segments, &query);
            let (meta, page) = split(self.get(&req, first.take(), parse).await?);
            let got = page.len();
            items.extend(page);
            let total = meta.and_then(|m| m.paging).map(|p| p.total_size as usize);
            match total {
                Some(total) if got > 0 && items.len() < total => continue,
                _ => return Ok(items),
            }
        }
    }

    /// The workspaces the user can see.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, Error> {
        self.paged(None, &["workspaces"], &[], WorkspaceList::parse, |l| {
            (l.meta, l.items)
        })
        .await
    }

    /// The models of a workspace.
    pub async fn models(&self, workspace: &WorkspaceId) -> Result<Vec<Model>, Error> {
        self.paged(
            None,
            &["workspaces", workspace.as_str(), "models"],
            &[],
            ModelList::parse,
            |l| (l.meta, l.items),
        )
        .await
    }

    /// The processes, imports, exports or actions of a model.
    pub async fn objects(
        &self,
        workspace: &WorkspaceId,
        model: &ModelId,
        kind: TaskKind,
    ) -> Result<Vec<NamedObject>, Error> {
        let segments = [
            "workspaces",
            workspace.as_str(),
            "models",
            model.as_str(),
            segment(kind),
        ];
        match kind {
            TaskKind::Process => {
                self.paged(None, &segments, &[], ProcessList::parse, |l| {
                    (l.meta, l.items)
                })
                .await
            }
            TaskKind::Import => {
                self.paged(None, &segments, &[], ImportList::parse, |l| {
                    (l.meta, l.items)
                })
                .await
            }
            TaskKind::Export => {
                self.paged(None, &segments, &[], ExportList::parse, |l| {
                    (l.meta, l.items)
                })
                .await
            }
            TaskKind::Action => {
                self.paged(None, &segments, &[], ActionList::parse, |l| {
                    (l.meta, l.items)
                })
                .await
            }
        }
    }

    /// The id of the object of `kind` named `name` (exact match). None or several is an
    /// error naming the candidates.
    pub async fn find_object(
        &self,
        workspace: &WorkspaceId,
        model: &ModelId,
        kind: TaskKind,
        name: &str,
    ) -> Result<ObjectId, Error> {
        let objects = self.objects(workspace, model, kind).await?;
        let matching: Vec<&NamedObject> = objects.iter().filter(|o| o.name == name).collect();
        match matching.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => {
                let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).take(20).collect();
                Err(Error::Config(format!(
                    "no {kind} named `{name}` in model {model}; it has: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )))
            }
            several => Err(Error::Config(format!(
                "{} {kind}s are named `{name}` in model {model} ({}): use the id",
                several.len(),
                several
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}
