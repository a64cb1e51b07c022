//! Turns SIGTERM or SIGINT into the cancellation of one token that every component watches,
//! and SIGHUP into reading again what is read from files (the staff roster).

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Cancels `token` on the first SIGTERM or SIGINT.
pub(crate) fn on_signal(token: CancellationToken) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => info!("SIGTERM: shutting down"),
            _ = interrupt.recv() => info!("SIGINT: shutting down"),
            () = token.cancelled() => return,
        }
        token.cancel();
    });
    Ok(())
}

/// Calls `reread` on every SIGHUP until `token` is cancelled (without it, SIGHUP would end
/// the process).
pub(crate) fn on_hangup(
    token: CancellationToken,
    reread: impl Fn() + Send + 'static,
) -> std::io::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                received = hangup.recv() => {
                    if received.is_none() {
                        return;
                    }
                    info!("SIGHUP: reading files again");
                    reread();
                }
                () = token.cancelled() => return,
            }
        }
    });
    Ok(())
}
