//! Race: every wait on the network (and on the tenant's budget) races the step's
//! detach, abort and deadline, so a hung call holds none of them up. The loser is
//! dropped: dropping a call's future drops its request.

use std::future::Future;

use tokio::time::Instant;

use super::Run;
use super::phase::Stop;

/// What a wait yields to besides its own end. A detach always stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stops {
    /// The user's abort stops it.
    pub(crate) abort: bool,
    /// It stops at this instant (the step's deadline, a cancel's grace end).
    pub(crate) until: Option<Instant>,
}

impl Stops {
    /// Only a detach: a wait the abort and the deadline must not cut (the start request,
    /// whose task must be known to be cancelled).
    pub(crate) const DETACH: Stops = Stops {
        abort: false,
        until: None,
    };

    /// A detach, or the end at `until`.
    pub(crate) fn detach_or(until: Instant) -> Stops {
        Stops {
            abort: false,
            until: Some(until),
        }
    }
}

impl Run<'_> {
    /// Detach, abort and the deadline: what stops a wait before the task is known or
    /// while it runs.
    pub(super) fn any_stop(&self) -> Stops {
        Stops {
            abort: true,
            until: self.ctx.deadline(),
        }
    }

    /// Runs the future `call` makes unless a stop comes first. Biased: a detach wins over
    /// an abort, an abort over the deadline, and any of them over an answer that comes at
    /// the same time (the user's signal is what the step must honour).
    ///
    /// `call` makes the future where the race keeps it: a future passed by value would
    /// be kept twice in the race's own (as its argument, and moved among the raced), and
    /// a sleeping wait holds its race for hours.
    pub(super) async fn race<F: Future>(
        &self,
        stops: Stops,
        call: impl FnOnce() -> F,
    ) -> Result<F::Output, Stop> {
        let abort = async {
            if stops.abort {
                self.ctx.cancel().cancelled().await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let until = async {
            match stops.until {
                Some(at) => self.step.env.sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            _ = self.ctx.detach().cancelled() => Err(Stop::Detach),
            _ = abort => Err(Stop::Abort),
            _ = until => Err(Stop::Deadline),
            value = call() => Ok(value),
        }
    }

    /// Waits for the tenant's budget (a request due at `due`) unless a stop comes first.
    pub(super) async fn admit_or(&self, due: Instant, stops: Stops) -> Result<(), Stop> {
        self.race(stops, || self.admit(due)).await
    }

    /// One request of the step: it waits for the tenant's budget, then is made (`call`)
    /// and sent, and a stop cuts either short. The request's future is made only once
    /// admitted: steps queued behind the budget hold no request (a client call's future
    /// is kilobytes).
    pub(super) async fn request<F: Future>(
        &self,
        stops: Stops,
        call: impl FnOnce() -> F,
    ) -> Result<F::Output, Stop> {
        self.admit_or(self.now(), stops).await?;
        self.race(stops, call).await
    }
}
