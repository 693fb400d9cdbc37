//! The request journal: what every call asked and what it got, in arrival order.

use serde::{Serialize, Serializer};

use crate::fault::CallKind;

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Position in the journal, from 0.
    pub seq: u64,
    /// `GET`, `POST`, …
    pub method: String,
    /// Path with query string.
    pub path: String,
    /// What kind of call it was.
    pub kind: CallKind,
    /// Scenario time of arrival, in milliseconds since the simulator started.
    pub at_ms: u64,
    /// What the client got.
    pub answer: Answer,
}

/// What a request got: a status, a closed connection, or nothing yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP response with this status.
    Status(u16),
    /// The connection was closed without a response.
    Reset,
    /// No response is ever sent.
    Hang,
}

/// Written as the status number, or `"reset"` / `"hang"`.
impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Status(code) => s.serialize_u16(*code),
            Answer::Reset => s.serialize_str("reset"),
            Answer::Hang => s.serialize_str("hang"),
        }
    }
}
