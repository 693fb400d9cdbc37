//! The signals of `runwait run`: the first Ctrl-C cancels, a second Ctrl-C or SIGTERM
//! detaches. The runner only sees the two tokens.

use tokio_util::sync::CancellationToken;

/// First Ctrl-C: cancel; second Ctrl-C or SIGTERM: detach. On Unix the handlers are
/// in place once this returns, before its future is first polled: on the CLI's one
/// thread that first poll waits for the runner's first yield, and a Ctrl-C before it
/// would otherwise kill the process without a cancel.
pub fn watch(abort: CancellationToken, detach: CancellationToken) -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut int), Ok(mut term)) = handlers else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {
                        if abort.is_cancelled() {
                            eprintln!("runwait: second interrupt: detaching; the tasks keep running");
                            detach.cancel();
                        } else {
                            eprintln!("runwait: interrupt: cancelling the running tasks (interrupt again to detach)");
                            abort.cancel();
                        }
                    }
                    _ = term.recv() => {
                        eprintln!("runwait: terminated: detaching; rerun with the same --run-key to reattach");
                        detach.cancel();
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                abort.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                detach.cancel();
            }
        }
    }
}
