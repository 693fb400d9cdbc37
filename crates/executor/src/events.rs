//! What a step tells its runner while it runs: [`StepEvent`]s through an [`EventSink`],
//! a callback or a channel.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use runwait_core::{TaskId, TaskState};
use tokio::sync::mpsc;

use crate::step::DumpFile;

/// What a step tells its runner while it runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StepEvent {
    /// A task was started (or a lost start adopted).
    Started {
        /// The task.
        task_id: TaskId,
        /// True when the start's reply was lost and the task found in the list.
        adopted: bool,
    },
    /// The step waits on a task an earlier run started.
    Reattached {
        /// The task.
        task_id: TaskId,
    },
    /// A status poll answered.
    Polled {
        /// The state seen.
        state: TaskState,
        /// The progress seen (0.0 to 1.0).
        progress: Option<f64>,
        /// Anaplan's free-text step ("Processing ...").
        current_step: Option<String>,
        /// When the next poll is due.
        next_poll_in: Duration,
    },
    /// A status poll failed for now; the wait goes on.
    PollFailed {
        /// Why.
        message: String,
    },
    /// The remote task is being cancelled (timeout or abort).
    Cancelling,
    /// A dump was written (or found gone).
    Dump(DumpFile),
}

/// Where a step sends its [`StepEvent`]s, with the step's id. Clones share the target.
#[derive(Clone)]
pub struct EventSink(Arc<EventFn>);

type EventFn = dyn Fn(&str, StepEvent) + Send + Sync;

impl EventSink {
    /// Calls `f(step_id, event)` for each event, on the step's task: keep it quick.
    pub fn new(f: impl Fn(&str, StepEvent) + Send + Sync + 'static) -> Self {
        EventSink(Arc::new(f))
    }

    /// Drops every event.
    pub fn none() -> Self {
        EventSink::new(|_, _| {})
    }

    /// A sink whose events (with the step's id) arrive on the returned receiver.
    ///
    /// Unbounded on purpose: a step sends a few events per poll (polls are seconds
    /// apart) and one per dump, so the queue stays small even if the receiver lags, and
    /// a step never waits on its runner's display. Events sent after the receiver is
    /// dropped are discarded.
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<(String, StepEvent)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = EventSink::new(move |step, event| {
            let _ = tx.send((step.to_owned(), event));
        });
        (sink, rx)
    }

    pub(crate) fn emit(&self, step_id: &str, event: StepEvent) {
        (self.0)(step_id, event)
    }
}

impl Default for EventSink {
    fn default() -> Self {
        EventSink::none()
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSink")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_sink_delivers_events_with_the_step_id() {
        let (sink, mut rx) = EventSink::channel();
        sink.clone().emit("load", StepEvent::Cancelling);
        assert_eq!(
            rx.try_recv().unwrap(),
            ("load".to_owned(), StepEvent::Cancelling)
        );
        drop(rx);
        sink.emit("load", StepEvent::Cancelling);
    }
}
