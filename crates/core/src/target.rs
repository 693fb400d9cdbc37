//! The vocabulary of a task call: which object (`TaskTarget`), how to start it
//! (`StartOptions`), what a start returned (`Started`), the tasks seen before a start
//! (`KnownTasks`) and which dump to fetch (`DumpSource`). Plain data shared by the client,
//! the executor and the state store; the client alone turns it into URLs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{EpochMillis, ModelId, ObjectId, TaskId, WorkspaceId};

/// What kind of object a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// A process: a chain of actions.
    Process,
    /// An import.
    Import,
    /// An export.
    Export,
    /// An action (delete by selection, …).
    Action,
}

impl TaskKind {
    /// Only processes and imports take mapping parameters.
    pub fn accepts_mapping_parameters(self) -> bool {
        matches!(self, TaskKind::Process | TaskKind::Import)
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TaskKind::Process => "process",
            TaskKind::Import => "import",
            TaskKind::Export => "export",
            TaskKind::Action => "action",
        })
    }
}

/// The object whose tasks a call is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskTarget {
    /// Its workspace.
    pub workspace: WorkspaceId,
    /// Its model.
    pub model: ModelId,
    /// Process, import, export or action.
    pub kind: TaskKind,
    /// Its id.
    pub object: ObjectId,
}

impl TaskTarget {
    /// A target from its ids.
    pub fn new(
        workspace: impl Into<WorkspaceId>,
        model: impl Into<ModelId>,
        kind: TaskKind,
        object: impl Into<ObjectId>,
    ) -> Self {
        TaskTarget {
            workspace: workspace.into(),
            model: model.into(),
            kind,
            object: object.into(),
        }
    }
}

/// One mapping parameter of a start request: `{entityType, entityName}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingParameter {
    /// The dimension (`Version`, …).
    pub entity_type: String,
    /// The item (`Actual`, …).
    pub entity_name: String,
}

/// The body of a start request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartOptions {
    /// The locale of messages (default `en_US`).
    pub locale_name: String,
    /// Mapping parameters (processes and imports only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapping_parameters: Vec<MappingParameter>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            locale_name: "en_US".to_owned(),
            mapping_parameters: Vec::new(),
        }
    }
}

/// A started task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The task.
    pub task_id: TaskId,
    /// True when the start request's reply was lost and the task was found in the list.
    pub adopted: bool,
}

/// The tasks an object had before a start, and when that start's attempt began: a task
/// beyond them, created since then, may be the one the start created. Persist it before
/// starting to recover from a crash in between.
///
/// Stored as the list of task ids alone when the time is unknown (the form of earlier
/// versions, still read), else as `{"tasks": [...], "since": <epoch ms>}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownTasks {
    tasks: BTreeSet<TaskId>,
    since: Option<EpochMillis>,
}

impl KnownTasks {
    /// True when `task` was there before.
    pub fn contains(&self, task: &TaskId) -> bool {
        self.tasks.contains(task)
    }

    /// The same tasks, with the time the attempt began (by the client's clock).
    pub fn since(mut self, began: EpochMillis) -> Self {
        self.since = Some(began);
        self
    }

    /// When the attempt began, if known (records of earlier versions do not say).
    pub fn began(&self) -> Option<EpochMillis> {
        self.since
    }
}

impl FromIterator<TaskId> for KnownTasks {
    fn from_iter<I: IntoIterator<Item = TaskId>>(iter: I) -> Self {
        KnownTasks {
            tasks: iter.into_iter().collect(),
            since: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum KnownTasksForm {
    Ids(BTreeSet<TaskId>),
    Since {
        tasks: BTreeSet<TaskId>,
        since: EpochMillis,
    },
}

impl Serialize for KnownTasks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.since {
            None => KnownTasksForm::Ids(self.tasks.clone()),
            Some(since) => KnownTasksForm::Since {
                tasks: self.tasks.clone(),
                since,
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for KnownTasks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match KnownTasksForm::deserialize(d)? {
            KnownTasksForm::Ids(tasks) => KnownTasks { tasks, since: None },
            KnownTasksForm::Since { tasks, since } => KnownTasks {
                tasks,
                since: Some(since),
            },
        })
    }
}

/// Which dump of a task to download.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DumpSource {
    /// The dump of an import task (`…/imports/{i}/tasks/{t}/dump`).
    Import,
    /// The dump of one action of a process task (`…/processes/{p}/tasks/{t}/dumps/{objectId}`).
    ProcessAction(ObjectId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tasks_read_the_old_form_and_keep_the_time() {
        let old: KnownTasks = serde_json::from_str(r#"["A1","B2"]"#).unwrap();
        assert!(old.contains(&TaskId::new("A1")) && old.began().is_none());
        assert_eq!(serde_json::to_string(&old).unwrap(), r#"["A1","B2"]"#);
        let new = old.since(EpochMillis(42));
        let text = serde_json::to_string(&new).unwrap();
        assert_eq!(text, r#"{"tasks":["A1","B2"],"since":42}"#);
        assert_eq!(serde_json::from_str::<KnownTasks>(&text).unwrap(), new);
    }
}
