//! The connections open now and the most open at once: a client's limit of connections
//! per host is only observable from the server's side (issue 13: 10,000 waits opened up
//! to 9,000 connections), so the simulator counts the ones it accepts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections of a simulator, as [`Simulator::connections`](crate::Simulator::connections)
/// reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connections {
    /// Open now.
    pub open: usize,
    /// The most open at once since the start.
    pub peak: usize,
}

/// The live counts.
#[derive(Debug, Default)]
pub(crate) struct ConnCount {
    open: AtomicUsize,
    peak: AtomicUsize,
}

impl ConnCount {
    /// Counts a connection open until the guard drops (taken when it is accepted, so a
    /// connection not yet served is counted too).
    pub(crate) fn opened(self: &Arc<Self>) -> OpenConn {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(open, Ordering::SeqCst);
        OpenConn(self.clone())
    }

    pub(crate) fn get(&self) -> Connections {
        Connections {
            open: self.open.load(Ordering::SeqCst),
            peak: self.peak.load(Ordering::SeqCst),
        }
    }
}

/// One open connection.
pub(crate) struct OpenConn(Arc<ConnCount>);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}
