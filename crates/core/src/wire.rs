//! The response bodies around tasks, and a parser whose errors say where a body is wrong.
//!
//! Anaplan wraps most replies in an envelope `{meta, status, <payload>}`, but not always:
//! the official Postman collection shows `{task: …}` without `meta`, the help pages show a
//! bare task object, and some docs show a start reply as a bare `{taskId}`. The parsers
//! here accept every one of those shapes.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize, Serializer};

use crate::ids::TaskId;
use crate::task::{EpochMillis, Task, TaskState};

/// Why a body could not be read. Messages name the JSON path and the line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What serde_json found.
        message: String,
    },
    /// The JSON does not have the expected shape.
    #[error("at `{path}` (line {line}, column {column}): {message}")]
    Shape {
        /// The JSON path of the offending value, such as `task.result.successful`.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What was found and what was expected.
        message: String,
    },
    /// Valid JSON, but none of the shapes this body may take.
    #[error("{0}")]
    NotA(&'static str),
}

/// Deserializes `body`, reporting the JSON path, line and column of the first problem.
pub fn parse_json<T: DeserializeOwned>(body: &str) -> Result<T, ParseError> {
    parse_borrowed(body)
}

/// [`parse_json`] for a value that may borrow from `body`.
///
/// The fast path is plain serde_json: path tracking costs allocations on every body
/// (about a quarter of a poll's), and is only needed to say where a body is wrong. So a
/// body that fails is read a second time with it, to build the located error.
fn parse_borrowed<'a, T: Deserialize<'a>>(body: &'a str) -> Result<T, ParseError> {
    serde_json::from_str(body).or_else(|_| parse_located(body))
}

/// [`parse_borrowed`]'s slow path: the same parse, tracking the JSON path.
#[cold]
fn parse_located<'a, T: Deserialize<'a>>(body: &'a str) -> Result<T, ParseError> {
    let de = &mut serde_json::Deserializer::from_str(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let path = err.path().to_string();
        from_serde_json(err.into_inner(), Some(path))
    })?;
    de.end().map_err(|err| from_serde_json(err, None))?;
    Ok(value)
}

fn from_serde_json(err: serde_json::Error, path: Option<String>) -> ParseError {
    let (line, column) = (err.line(), err.column());
    let message = strip_position(&err.to_string());
    match (err.classify(), path) {
        (serde_json::error::Category::Data, Some(path)) => ParseError::Shape {
            path,
            line,
            column,
            message,
        },
        _ => ParseError::Syntax {
            line,
            column,
            message,
        },
    }
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// `meta` of an envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The schema URL Anaplan names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Paging of a listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

/// `meta.paging` of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    /// Items on this page.
    #[serde(default)]
    pub current_page_size: u64,
    /// Items in all pages.
    #[serde(default)]
    pub total_size: u64,
    /// Index of this page's first item.
    #[serde(default)]
    pub offset: u64,
}

/// `status` of an API envelope: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStatus {
    /// The HTTP status code, repeated.
    pub code: u16,
    /// "Success", "Not Found", …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ApiStatus {
    /// `{"code": 200, "message": "Success"}`.
    pub fn success() -> Self {
        ApiStatus {
            code: 200,
            message: Some("Success".to_owned()),
        }
    }
}

/// The reply of `GET …/tasks/{taskId}`: the task, in an envelope or bare.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStatusBody {
    /// `meta`, when the envelope has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// `status`, when the envelope has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ApiStatus>,
    /// The task.
    pub task: Task,
}

impl TaskStatusBody {
    /// Reads `{meta?, status?, task}` or a bare task object.
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw<'a> {
            meta: Option<Meta>,
            // Informational only: a body whose `status` has another shape (the auth
            // service's is a string) is judged by its `task`, not by its status. Read
            // as a slice of the body, never as a tree, so a huge one costs no memory.
            #[serde(borrow)]
            status: Option<&'a serde_json::value::RawValue>,
            task: Option<Task>,
            task_id: Option<IgnoredAny>,
            task_state: Option<IgnoredAny>,
        }
        let raw: Raw<'_> = parse_borrowed(body)?;
        let task = match raw.task {
            Some(task) => task,
            None if raw.task_id.is_some() || raw.task_state.is_some() => parse_json(body)?,
            None => {
                return Err(ParseError::NotA(
                    "not a task status: expected a `task` object, or a bare task with `taskId` and `taskState`",
                ));
            }
        };
        Ok(TaskStatusBody {
            meta: raw.meta,
            status: raw.status.and_then(|s| serde_json::from_str(s.get()).ok()),
            task,
        })
    }
}

/// The reply of a start request (`POST …/tasks`): `{meta, status, task: {taskId}}`, where
/// imports add `taskState` and `creationTime`, or a bare `{taskId}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTaskReply {
    /// The new task.
    pub task_id: TaskId,
    /// Its state, when the reply says.
    pub task_state: Option<TaskState>,
    /// When it was created, when the reply says.
    pub creation_time: Option<EpochMillis>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct StartedTask {
    task_id: TaskId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_state: Option<TaskState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creation_time: Option<EpochMillis>,
}

impl StartTaskReply {
    /// Reads either shape of the reply.
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        #[derive(Deserialize)]
        struct Raw {
            task: Option<StartedTask>,
        }
        let raw: Raw = parse_json(body)?;
        let task = match raw.task {
            Some(task) => task,
            None => parse_json::<StartedTask>(body).map_err(|_| {
                ParseError::NotA("not a start-task reply: expected `task.taskId` or `taskId`")
            })?,
        };
        Ok(StartTaskReply {
            task_id: task.task_id,
            task_state: task.task_state,
            creation_time: task.creation_time,
        })
    }
}

/// Written in the enveloped shape, `{meta, status, task: {taskId, …}}`.
impl Serialize for StartTaskReply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            meta: Meta,
            status: ApiStatus,
            task: &'a StartedTask,
        }
        let task = StartedTask {
            task_id: self.task_id.clone(),
            task_state: self.task_state.clone(),
            creation_time: self.creation_time,
        };
        Envelope {
            meta: Meta::default(),
            status: ApiStatus::success(),
            task: &task,
        }
        .serialize(s)
    }
}

/// One entry of a task list: `{taskId, taskState, creationTime}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    /// The task.
    pub task_id: TaskId,
    /// Its state.
    pub task_state: TaskState,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<EpochMillis>,
    /// Who started it, when the listing says (`userId`; not in Anaplan's published
    /// examples, so optional): adoption matches it against the client's own user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// The reply of `GET …/tasks`: the tasks of one object, of all users.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    /// `meta`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// `status`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApiStatus>,
    /// The tasks; Anaplan leaves the key out when there are none.
    #[serde(default, deserialize_with = "crate::lenient::null_as_empty")]
    pub tasks: Vec<TaskSummary>,
}

impl TaskList {
    /// Reads a task list.
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        parse_json(body)
    }

    /// The tasks, newest first (tasks without a creation time last).
    pub fn newest_first(&self) -> Vec<&TaskSummary> {
        let mut tasks: Vec<&TaskSummary> = self.tasks.iter().collect();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.creation_time));
        tasks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_reply_accepts_both_shapes() {
        let enveloped =
            r#"{"meta":{},"status":{"code":200,"message":"Success"},"task":{"taskId":"AB12"}}"#;
        let bare = r#"{"taskId":"AB12"}"#;
        assert_eq!(
            StartTaskReply::parse(enveloped).unwrap().task_id.as_str(),
            "AB12"
        );
        assert_eq!(
            StartTaskReply::parse(bare).unwrap().task_id.as_str(),
            "AB12"
        );
        assert!(matches!(
            StartTaskReply::parse("{}"),
            Err(ParseError::NotA(_))
        ));
    }

    #[test]
    fn start_reply_round_trips_through_the_enveloped_shape() {
        let reply = StartTaskReply {
            task_id: TaskId::new("AB12"),
            task_state: Some(TaskState::NotStarted),
            creation_time: Some(EpochMillis(1_700_000_000_000)),
        };
        let body = serde_json::to_string(&reply).unwrap();
        assert!(
            body.contains(r#""task":{"taskId":"AB12","taskState":"NOT_STARTED""#),
            "{body}"
        );
        assert_eq!(StartTaskReply::parse(&body).unwrap(), reply);
    }

    #[test]
    fn task_list_without_the_key_is_empty_and_sorts_newest_first() {
        assert!(
            TaskList::parse(r#"{"meta":{},"status":{"code":200}}"#)
                .unwrap()
                .tasks
                .is_empty()
        );
        let list = TaskList::parse(
            r#"{"tasks":[{"taskId":"OLD","taskState":"COMPLETE","creationTime":1},
                        {"taskId":"NEW","taskState":"IN_PROGRESS","creationTime":2}]}"#,
        )
        .unwrap();
        let ids: Vec<&str> = list
            .newest_first()
            .iter()
            .map(|t| t.task_id.as_str())
            .collect();
        assert_eq!(ids, ["NEW", "OLD"]);
    }

    #[test]
    fn shape_errors_name_path_line_and_column() {
        let body = "{\n  \"task\": {\n    \"taskId\": \"X\",\n    \"taskState\": 7\n  }\n}";
        let err = TaskStatusBody::parse(body).unwrap_err();
        assert_eq!(
            err.to_string(),
            "at `task.taskState` (line 4, column 18): invalid type: integer `7`, expected a string"
        );
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = TaskStatusBody::parse("{\"task\": ").unwrap_err();
        assert!(matches!(err, ParseError::Syntax { line: 1, .. }), "{err:?}");
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        let err = TaskList::parse("{} x").unwrap_err();
        assert!(matches!(err, ParseError::Syntax { .. }), "{err:?}");
    }
}
