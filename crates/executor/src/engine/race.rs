//! Race: every wait on the network (and on the tenant's budget) races the step's
//! detach, abort and deadline, so a hung call holds none of them up. The loser is
//! dropped: dropping a call's future drops its request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tokio_util::sync::WaitForCancellationFuture;

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
    /// be kept twice (as the argument, and moved into the race), and a sleeping wait
    /// holds its race for hours.
    pub(super) fn race<F: Future>(&self, stops: Stops, call: impl FnOnce() -> F) -> Race<'_, F> {
        Race {
            detach: self.ctx.detach().cancelled(),
            abort: stops.abort.then(|| self.ctx.cancel().cancelled()),
            until: stops.until.map(|at| self.step.env.sleep_until(at)),
            call: call(),
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

pin_project_lite::pin_project! {
    /// A call raced against the step's stops ([`Run::race`]). A future of its own rather
    /// than an `async` body, which kept room for its stops twice and for each stop's
    /// state beside its future: a sleeping wait holds one for hours.
    pub(super) struct Race<'a, F> {
        #[pin]
        detach: WaitForCancellationFuture<'a>,
        #[pin]
        abort: Option<WaitForCancellationFuture<'a>>,
        until: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
        #[pin]
        call: F,
    }
}

impl<F: Future> Future for Race<'_, F> {
    type Output = Result<F::Output, Stop>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // As `tokio::select!` does: with the task's budget spent, the deadline's timer
        // stays pending even when due, and the call could win in its place.
        if !tokio::task::coop::has_budget_remaining() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let this = self.project();
        if this.detach.poll(cx).is_ready() {
            return Poll::Ready(Err(Stop::Detach));
        }
        if let Some(abort) = this.abort.as_pin_mut()
            && abort.poll(cx).is_ready()
        {
            return Poll::Ready(Err(Stop::Abort));
        }
        if let Some(until) = this.until
            && until.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(Stop::Deadline));
        }
        this.call.poll(cx).map(Ok)
    }
}
