//! The vocabulary of a task call: which object (`TaskTarget`), how to start it
//! (`StartOptions`), what a start returned (`Started`), the tasks seen before a start
//! (`KnownTasks`) and which dump to fetch (`DumpSource`). Plain data shared by the client,
//! the executor and the state store; the client alone turns it into URLs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{ModelId, ObjectId, TaskId, WorkspaceId};

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

/// The tasks an object had before a start: whatever appears beyond them was created by
/// (or since) that start. Persist it before starting to recover from a crash in between.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownTasks(BTreeSet<TaskId>);

impl KnownTasks {
    /// True when `task` was there before.
    pub fn contains(&self, task: &TaskId) -> bool {
        self.0.contains(task)
    }
}

impl FromIterator<TaskId> for KnownTasks {
    fn from_iter<I: IntoIterator<Item = TaskId>>(iter: I) -> Self {
        KnownTasks(iter.into_iter().collect())
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
