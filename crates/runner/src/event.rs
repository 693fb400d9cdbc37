//! What a run tells its host's display while it goes: [`RunEvent`]s, delivered through a
//! [`RunEventSink`] to a channel or a callback.

use std::fmt;
use std::sync::Arc;

use runwait_executor::{StepEvent, StepResult};
use tokio::sync::mpsc;

use crate::node::NodeId;

/// Something a running DAG reports. Every `id` is the node's id, whatever the attempt:
/// a display keyed by node id follows a retried step from its first attempt to its last.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// An attempt of a node began (attempts count from 1).
    StepStarted {
        /// The node.
        id: NodeId,
        /// The attempt.
        attempt: u32,
    },
    /// An event of a running attempt.
    Step {
        /// The node.
        id: NodeId,
        /// The attempt it belongs to.
        attempt: u32,
        /// What the step reported.
        event: StepEvent,
    },
    /// An attempt ended with a retryable result and another attempt follows.
    StepRetrying {
        /// The node.
        id: NodeId,
        /// The attempt that ended.
        attempt: u32,
        /// What it ended with.
        result: StepResult,
    },
    /// A node ran to its final result (its last attempt, or a crash).
    StepFinished {
        /// The node.
        id: NodeId,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's result.
        result: StepResult,
    },
    /// A node did not run.
    StepSkipped {
        /// The node.
        id: NodeId,
        /// Why.
        reason: String,
    },
}

impl RunEvent {
    /// The node the event is about.
    pub fn id(&self) -> &NodeId {
        match self {
            RunEvent::StepStarted { id, .. }
            | RunEvent::Step { id, .. }
            | RunEvent::StepRetrying { id, .. }
            | RunEvent::StepFinished { id, .. }
            | RunEvent::StepSkipped { id, .. } => id,
        }
    }
}

/// Where a run sends its [`RunEvent`]s: a channel ([`RunEventSink::channel`]), a
/// callback ([`RunEventSink::callback`]) or nowhere ([`RunEventSink::none`]). Cheap to
/// clone; the callback is called from the runner's tasks, so it must be quick.
#[derive(Clone)]
pub struct RunEventSink(Arc<dyn Fn(RunEvent) + Send + Sync>);

impl RunEventSink {
    /// Calls `f` for each event.
    pub fn callback(f: impl Fn(RunEvent) + Send + Sync + 'static) -> Self {
        RunEventSink(Arc::new(f))
    }

    /// A sink and the receiving end of its unbounded channel. The channel closes when
    /// the runner given the sink (and every clone) is dropped.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<RunEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        // A receiver dropped early only means nobody watches any more.
        let sink = RunEventSink::callback(move |event| {
            let _ = tx.send(event);
        });
        (sink, rx)
    }

    /// Drops every event.
    pub fn none() -> Self {
        RunEventSink::callback(|_| {})
    }

    /// Delivers one event.
    pub(crate) fn emit(&self, event: RunEvent) {
        (self.0)(event)
    }
}

impl Default for RunEventSink {
    fn default() -> Self {
        RunEventSink::none()
    }
}

impl fmt::Debug for RunEventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunEventSink")
    }
}
