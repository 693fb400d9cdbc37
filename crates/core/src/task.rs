//! The task object of the Integration API v2, as `GET …/tasks/{taskId}` returns it.
//!
//! Same shape for imports, exports, actions and processes. Field names follow the wire
//! (`camelCase`); everything the API may leave out is optional, unknown fields are
//! ignored, and the loose spots (`taskState` values nobody documented, detail types,
//! numbers sent as strings, `null` inside `values`) are kept rather than rejected.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{ObjectId, TaskId};
use crate::lenient;

/// Where a task is in its life. Only [`Complete`](TaskState::Complete) and
/// [`Cancelled`](TaskState::Cancelled) end a wait.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Queued: created, waiting for the model (another task may hold its lock).
    NotStarted,
    /// Running.
    InProgress,
    /// Finished, successfully or not: read `result.successful`.
    Complete,
    /// A cancel was requested; changes are being rolled back. Not terminal.
    Cancelling,
    /// Cancelled and rolled back. Terminal.
    Cancelled,
    /// A state this version does not know, kept verbatim. Never terminal.
    Unknown(String),
}

impl TaskState {
    /// The state as Anaplan spells it (`IN_PROGRESS`, …).
    pub fn as_str(&self) -> &str {
        match self {
            TaskState::NotStarted => "NOT_STARTED",
            TaskState::InProgress => "IN_PROGRESS",
            TaskState::Complete => "COMPLETE",
            TaskState::Cancelling => "CANCELLING",
            TaskState::Cancelled => "CANCELLED",
            TaskState::Unknown(s) => s,
        }
    }

    /// True for the two states that end a wait: `COMPLETE` and `CANCELLED`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskState::Complete | TaskState::Cancelled)
    }
}

impl From<&str> for TaskState {
    fn from(s: &str) -> Self {
        match s {
            "NOT_STARTED" => TaskState::NotStarted,
            "IN_PROGRESS" => TaskState::InProgress,
            "COMPLETE" => TaskState::Complete,
            "CANCELLING" => TaskState::Cancelling,
            "CANCELLED" => TaskState::Cancelled,
            other => TaskState::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TaskState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than a `String`: a known state (every poll's) costs no
        // allocation.
        struct State;
        impl serde::de::Visitor<'_> for State {
            type Value = TaskState;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TaskState, E> {
                Ok(TaskState::from(v))
            }
        }
        d.deserialize_str(State)
    }
}

/// A point in time as Anaplan sends it: milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochMillis(pub u64);

impl EpochMillis {
    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// The instant as milliseconds since the Unix epoch (before 1970 is clamped to 0).
    pub fn from_system_time(t: SystemTime) -> Self {
        let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        EpochMillis(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

/// Serialized as a JSON number (`creationTime`); read from a number or a string.
impl Serialize for EpochMillis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::millis(d).map(EpochMillis)
    }
}

/// `startTime` travels as a string of milliseconds, unlike `creationTime`.
mod epoch_ms_string {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        v: &Option<EpochMillis>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&t.0.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<EpochMillis>, D::Error> {
        Option::<EpochMillis>::deserialize(d)
    }
}

/// A task: `{type, taskId, currentStep, progress, creationTime, taskState, result?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// `"taskInformation"` when present.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    /// The task's id.
    pub task_id: TaskId,
    /// Free text such as "Complete." or "Processing ...": for logs only, never parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    /// 0.0 to 1.0; may sit at 0 for a long time while a dormant model loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// When the task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<EpochMillis>,
    /// Where the task is in its life.
    pub task_state: TaskState,
    /// Present once the task is terminal. Boxed: a wait keeps the last status it saw for
    /// hours, and while the task runs this is `None`, so inline it would only take room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<TaskResult>>,
    /// Who cancelled the task: Anaplan Connect reads it from the task object, the
    /// result may carry it too ([`TaskResult::cancelled_by`]); either is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

impl Task {
    /// True when the state ends a wait (`COMPLETE` or `CANCELLED`).
    pub fn is_terminal(&self) -> bool {
        self.task_state.is_terminal()
    }
}

/// The result of a task, or of one action inside a process (`nestedResults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// Whether Anaplan considers the run successful. `COMPLETE` alone is not success.
    pub successful: bool,
    /// A failure dump can be downloaded. For a process this is an aggregate: the dumps
    /// belong to the nested results that carry the flag themselves.
    #[serde(default)]
    pub failure_dump_available: bool,
    /// The import, export, action or process this result is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<ObjectId>,
    /// The object's name, when Anaplan includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    /// Messages with their counts (`hierarchyRowsProcessed`, `importFailedGeneralError`, …).
    #[serde(
        default,
        deserialize_with = "lenient::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub details: Vec<Detail>,
    /// One result per action of a process, in execution order.
    #[serde(
        default,
        deserialize_with = "lenient::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub nested_results: Vec<TaskResult>,
    /// How long the run took (with `includeProcessDetails=true`).
    #[serde(
        default,
        with = "lenient::duration_ms_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// When the run started (with `includeProcessDetails=true`).
    #[serde(
        default,
        with = "epoch_ms_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<EpochMillis>,
    /// Who cancelled the task, when Anaplan says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

impl TaskResult {
    /// The row counts of all this result's own details, added up.
    pub fn counts(&self) -> RowCounts {
        self.details
            .iter()
            .fold(RowCounts::default(), |mut acc, d| {
                acc.add(&d.counts());
                acc
            })
    }
}

/// One message of a result: `{type, localMessageText, occurrences, values[]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    /// What the message is about; unknown types are kept as they are.
    #[serde(rename = "type", default)]
    pub detail_type: DetailType,
    /// The human message, in the locale of the start request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_message_text: Option<String>,
    /// How often the message occurred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u64>,
    /// A flat key/value list: `["successRowCount", "13", "serverAlert", null, …]`.
    #[serde(
        default,
        deserialize_with = "lenient::values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<Option<String>>,
}

impl Detail {
    /// The `values` list as key/value pairs (a trailing key without a value is dropped;
    /// a `null` key is skipped).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.values
            .chunks_exact(2)
            .filter_map(|kv| Some((kv[0].as_deref()?, kv[1].as_deref())))
    }

    /// The value for `key`, if present and not `null`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.pairs().find(|(k, _)| *k == key).and_then(|(_, v)| v)
    }

    /// The numeric values, decoded into named counts. A count is a whole number of rows,
    /// written as digits or as an integral number (`"5.0"`, `5e2`); a known count
    /// (`failedCount`, …) written otherwise (`"-5"`, `"5.5"`, beyond 2^64, text) is kept
    /// in [`RowCounts::unreadable`] so it is not silently taken for none.
    pub fn counts(&self) -> RowCounts {
        let mut counts = RowCounts::default();
        for (key, value) in self.pairs() {
            let Some(value) = value else { continue };
            match read_count(value) {
                Some(n) => counts.record(key, n),
                None if RowCounts::is_known(key) => counts.record_unreadable(key, value),
                // Not a count (`hierarchyName`, `errorMessage`): not ours to read.
                None => {}
            }
        }
        counts
    }

    /// The message to show a user: the text, else an `errorMessage` value, else the type.
    pub fn message(&self) -> String {
        self.local_message_text
            .as_deref()
            .or_else(|| self.value("errorMessage"))
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| self.detail_type.as_str().to_owned())
    }
}

/// A count as Anaplan writes it: digits (a string or a JSON number's text), or an
/// integral, non-negative number below 2^64 in any float form (`5.0`, `5e2`).
fn read_count(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    // `u64::MAX as f64` is 2^64 exactly, one past the largest count.
    let limit = u64::MAX as f64;
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && *v < limit)
        .map(|v| v as u64)
}

/// A detail's `type`, kept verbatim so unknown types pass through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DetailType(String);

/// What a detail type says about the run, as far as the name tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailKind {
    /// The action did its work (`exportSucceeded`, `hierarchyRowsProcessed`, …).
    Completion,
    /// The action ran but some rows failed (`…WithFailures`).
    CompletionWithFailures,
    /// The action did not run or failed (`importFailedGeneralError`, `internalError`, …).
    Failure,
    /// A type this version does not recognise.
    Unknown,
}

impl DetailType {
    /// Wraps a type name as Anaplan spells it.
    pub fn new(t: impl Into<String>) -> Self {
        Self(t.into())
    }

    /// The type name as Anaplan spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Classifies the type by its name. Documented failure types and names that say
    /// "failed", "error" or "cancelled" are failures; `…WithFailures` is a completion
    /// with failed rows; `…Succeeded`, `…RowsProcessed` and `…NoChanges` are completions.
    pub fn kind(&self) -> DetailKind {
        let t = self.0.as_str();
        let lower = t.to_ascii_lowercase();
        if t.ends_with("WithFailures") {
            DetailKind::CompletionWithFailures
        } else if matches!(t, "notAuthorised" | "uploadedFileNoLongerAvailable")
            || lower.starts_with("failedto")
            || lower.contains("failed")
            || lower.contains("error")
            || lower.contains("cancelled")
        {
            DetailKind::Failure
        } else if t.ends_with("Succeeded")
            || t.ends_with("RowsProcessed")
            || t.ends_with("NoChanges")
        {
            DetailKind::Completion
        } else {
            DetailKind::Unknown
        }
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Declares [`RowCounts`] from one table of (field, wire name), so the struct, the
/// lookup by wire name and the list of entries cannot drift apart.
macro_rules! row_counts {
    ($($field:ident => $wire:literal),* $(,)?) => {
        /// Row counts read from a detail's `values`. Known keys get a field; any other
        /// numeric value (such as `fileSize`) is kept in [`other`](RowCounts::other)
        /// under its wire name.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct RowCounts {
            $(
                #[doc = concat!("`", $wire, "`")]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<u64>,
            )*
            /// Known counts whose value is not a whole number of rows (`"-5"`, text,
            /// beyond 2^64), by wire name, with the value as sent.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub unreadable: BTreeMap<String, String>,
            /// Other numeric values, by wire name.
            #[serde(flatten)]
            pub other: BTreeMap<String, u64>,
        }

        impl RowCounts {
            fn slot(&mut self, key: &str) -> Option<&mut Option<u64>> {
                match key {
                    $($wire => Some(&mut self.$field),)*
                    _ => None,
                }
            }

            /// True for the wire name of a count this type has a field for.
            pub fn is_known(key: &str) -> bool {
                matches!(key, $($wire)|*)
            }

            /// Every count present, by wire name.
            pub fn entries(&self) -> Vec<(String, u64)> {
                let mut out = Vec::new();
                $(
                    if let Some(n) = self.$field {
                        out.push(($wire.to_owned(), n));
                    }
                )*
                out.extend(self.other.iter().map(|(k, v)| (k.clone(), *v)));
                out
            }
        }
    };
}

row_counts! {
    success_row_count => "successRowCount",
    warnings_row_count => "warningsRowCount",
    failed_count => "failedCount",
    ignored_count => "ignoredCount",
    total_row_count => "totalRowCount",
    created_count => "createdCount",
    updated_count => "updatedCount",
    invalid_count => "invalidCount",
    renamed_count => "renamedCount",
    success_create_count => "successCreateCount",
    success_update_count => "successUpdateCount",
    warnings_create_count => "warningsCreateCount",
    warnings_update_count => "warningsUpdateCount",
    total_create_count => "totalCreateCount",
    total_update_count => "totalUpdateCount",
}

impl RowCounts {
    /// Adds `n` to the count named `key` (a wire name such as `failedCount`).
    pub fn record(&mut self, key: &str, n: u64) {
        match self.slot(key) {
            Some(slot) => *slot = Some(slot.unwrap_or(0).saturating_add(n)),
            None => {
                let v = self.other.entry(key.to_owned()).or_insert(0);
                *v = v.saturating_add(n);
            }
        }
    }

    /// Notes that the count named `key` came as `value`, which is not a count.
    pub fn record_unreadable(&mut self, key: &str, value: &str) {
        self.unreadable.insert(key.to_owned(), value.to_owned());
    }

    /// Adds every count of `other` to this one.
    pub fn add(&mut self, other: &RowCounts) {
        for (key, n) in other.entries() {
            self.record(&key, n);
        }
        for (key, value) in &other.unreadable {
            self.record_unreadable(key, value);
        }
    }

    /// Rows Anaplan did not take as they were: warnings, ignored, failed or invalid,
    /// counted or given as a count that cannot be read (which may hide any number).
    pub fn has_problem_rows(&self) -> bool {
        [
            self.warnings_row_count,
            self.warnings_create_count,
            self.warnings_update_count,
            self.ignored_count,
            self.failed_count,
            self.invalid_count,
        ]
        .into_iter()
        .any(|c| c.unwrap_or(0) > 0)
            || Self::PROBLEM_KEYS
                .iter()
                .any(|k| self.unreadable.contains_key(*k))
    }

    /// True when the failed or invalid count is given but cannot be read.
    pub fn has_unreadable_failures(&self) -> bool {
        ["failedCount", "invalidCount"]
            .iter()
            .any(|k| self.unreadable.contains_key(*k))
    }

    /// The wire names of the counts of rows Anaplan did not take as they were.
    const PROBLEM_KEYS: [&'static str; 6] = [
        "warningsRowCount",
        "warningsCreateCount",
        "warningsUpdateCount",
        "ignoredCount",
        "failedCount",
        "invalidCount",
    ];

    /// True when no count is present, readable or not.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty() && self.unreadable.is_empty()
    }
}
