//! The signals of `runwait run`: the first Ctrl-C cancels, a second Ctrl-C or SIGTERM
//! detaches. The runner only sees the two tokens.

use tokio_util::sync::CancellationToken;

/// First Ctrl-C: cancel; second Ctrl-C or SIGTERM: detach.
pub async fn watch(abort: CancellationToken, detach: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
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
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            abort.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            detach.cancel();
        }
    }
}
