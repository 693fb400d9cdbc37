//! Discovery and listing bodies of the Integration API v2, and its error envelope.
//!
//! Shared by the simulator (which writes them) and the client (which reads them), so both
//! agree on one model. Reading is tolerant like the rest of `core`: unknown fields are
//! ignored, optional fields may be missing, and an empty collection key may be absent.

use serde::{Deserialize, Serialize};

use crate::ids::{ModelId, ObjectId, TaskId, WorkspaceId};
use crate::task::EpochMillis;
use crate::wire::{ApiStatus, Meta, ParseError, parse_json};

/// A workspace, as `GET /workspaces` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    /// Its id (32 lowercase hex digits).
    pub id: WorkspaceId,
    /// Its display name.
    pub name: String,
    /// Whether the workspace is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Allowed size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_allowance: Option<u64>,
    /// Used size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_size: Option<u64>,
}

/// A model, as `GET /workspaces/{ws}/models` and `GET /models/{m}` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// Its id (32 uppercase hex digits).
    pub id: ModelId,
    /// Its display name.
    pub name: String,
    /// `UNLOCKED`, `ARCHIVED`, … (kept verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_state: Option<String>,
    /// The workspace the model lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_workspace_id: Option<WorkspaceId>,
    /// That workspace's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_workspace_name: Option<String>,
    /// Whether a task holds the model's lock; only with `?modelDetails=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_transaction_running: Option<bool>,
}

/// An import, export, action or process in a listing: `{id, name}` (actions add
/// `actionType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedObject {
    /// The object's id (12 digits; the prefix tells the kind).
    pub id: ObjectId,
    /// Its display name.
    pub name: String,
    /// `IMPORT`, `EXPORT`, `DELETE_BY_SELECTION`, … when the listing says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
}

/// One chunk of a dump or file: `{id, name}`, ids counting from `"0"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The chunk's id, used in `…/chunks/{id}`.
    pub id: String,
    /// Its display name ("Chunk 0").
    #[serde(default)]
    pub name: String,
}

/// Declares an enveloped listing `{meta, status, <key>: [...]}` whose key may be missing.
macro_rules! listing {
    ($(#[$doc:meta])* $name:ident, $key:literal, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// `meta`, with paging, when present.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<Meta>,
            /// `status`, when present.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<ApiStatus>,
            #[doc = concat!("The items under `", $key, "`; a missing key means none.")]
            #[serde(rename = $key, default, deserialize_with = "crate::lenient::null_as_empty")]
            pub items: Vec<$item>,
        }

        impl $name {
            /// Reads the listing.
            pub fn parse(body: &str) -> Result<Self, ParseError> {
                parse_json(body)
            }
        }
    };
}

listing!(
    /// The reply of `GET /workspaces`.
    WorkspaceList, "workspaces", Workspace
);
listing!(
    /// The reply of `GET /workspaces/{ws}/models`.
    ModelList, "models", Model
);
listing!(
    /// The reply of `GET …/processes`.
    ProcessList, "processes", NamedObject
);
listing!(
    /// The reply of `GET …/imports`.
    ImportList, "imports", NamedObject
);
listing!(
    /// The reply of `GET …/exports`.
    ExportList, "exports", NamedObject
);
listing!(
    /// The reply of `GET …/actions`.
    ActionList, "actions", NamedObject
);
listing!(
    /// The reply of `GET …/dump/chunks` or `…/dumps/{objectId}/chunks`.
    ChunkList, "chunks", Chunk
);

/// The reply of `GET /models/{m}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReply {
    /// `meta`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// `status`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApiStatus>,
    /// The model.
    pub model: Model,
}

/// The reply of `GET /models/{m}/processes/{p}`: `{meta, status, processMetadata}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessMetadataReply {
    /// `meta`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// `status`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApiStatus>,
    /// The process's definition.
    pub process_metadata: ProcessMetadata,
}

/// A process's definition: its actions in execution order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessMetadata {
    /// The process's name, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The actions, in the order the process runs them (each with `actionType`).
    #[serde(default, deserialize_with = "crate::lenient::null_as_empty")]
    pub actions: Vec<NamedObject>,
}

/// The reply of `POST /workspaces/{ws}/models/{m}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatusReply {
    /// `meta`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// `status`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApiStatus>,
    /// What the model is doing.
    pub request_status: RequestStatus,
}

/// `requestStatus` of a model: the running task, or `progress: -1` when idle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStatus {
    /// The task holding the model, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Free text ("Processing ...", "Idle"): for logs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    /// Human description of what runs and who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// 0.0 to 1.0 while busy; -1 when idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// When the running task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<EpochMillis>,
}

/// The body of an API error: `{"status":{"code":404,"message":"Not Found"},"path":…,"timestamp":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP status, repeated, with its reason.
    pub status: ApiStatus,
    /// The request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// When the error happened (ISO 8601 text, kept verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

impl ApiError {
    /// Reads an error body.
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        parse_json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_reads_paging_and_missing_key() {
        let list = ActionList::parse(
            r#"{"meta":{"paging":{"currentPageSize":1,"offset":0,"totalSize":1}},
                "status":{"code":200,"message":"Success"},
                "actions":[{"id":"117000000011","actionType":"DELETE_BY_SELECTION","name":"Del","x":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            list.items[0].action_type.as_deref(),
            Some("DELETE_BY_SELECTION")
        );
        assert_eq!(list.meta.unwrap().paging.unwrap().total_size, 1);
        assert!(
            ProcessList::parse(r#"{"meta":{}}"#)
                .unwrap()
                .items
                .is_empty()
        );
    }

    #[test]
    fn listing_serializes_under_its_key() {
        let list = ChunkList {
            meta: None,
            status: Some(ApiStatus::success()),
            items: vec![Chunk {
                id: "0".into(),
                name: "Chunk 0".into(),
            }],
        };
        let body = serde_json::to_string(&list).unwrap();
        assert!(
            body.contains(r#""chunks":[{"id":"0","name":"Chunk 0"}]"#),
            "{body}"
        );
    }

    #[test]
    fn error_envelope_reads() {
        let err = ApiError::parse(
            r#"{"status":{"code":404,"message":"Not Found"},"path":"/2/0/x","timestamp":"t"}"#,
        )
        .unwrap();
        assert_eq!(err.status.code, 404);
        assert_eq!(err.path.as_deref(), Some("/2/0/x"));
    }
}
