//! Graceful stop on Ctrl-C (SIGINT) or SIGTERM, for `mss-harness run`.
//!
//! The binary's `run` command calls [`install`] before Goose starts: one
//! handler per signal, for the whole process. The first signal is published
//! to [`subscribe`]rs (the run in progress stops sending, waits a grace period
//! for the requests in flight, records the rest as `interrupted` and writes
//! every output); a second signal, of either kind, exits at once with the
//! signal's code (130 for SIGINT, 143 for SIGTERM).
//!
//! Why two mechanisms: Goose installs its own Ctrl-C handler with the `ctrlc`
//! crate when an attack initialises (first SIGINT: its killswitch, which ends
//! the attack without a grace period; second: `exit(1)`), and `ctrlc` allows
//! one handler per process, so owning that one handler first is what keeps
//! Goose's out. `ctrlc` cannot tell SIGTERM from SIGINT, though, so SIGTERM
//! comes through `tokio::signal` (Goose does not touch it).
//!
//! Nothing here triggers anything by itself: without a real signal the
//! subscribers never hear from it, so in-process runs (tests) are unaffected.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C.
    Int,
    /// `kill`, a container runtime or Kubernetes stopping the process.
    Term,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// The exit code of a run it stopped: 128 + the signal's number, as a
    /// shell reports a process the signal ended.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }

    /// The signal a [`name`](Self::name) names.
    pub fn from_name(name: &str) -> Option<Signal> {
        match name {
            "SIGINT" => Some(Signal::Int),
            "SIGTERM" => Some(Signal::Term),
            _ => None,
        }
    }
}

/// Signals received so far.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

fn channel() -> &'static watch::Sender<Option<Signal>> {
    static CHANNEL: OnceLock<watch::Sender<Option<Signal>>> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::Sender::new(None))
}

/// The first signal received, once there is one (`None` until then).
pub fn subscribe() -> watch::Receiver<Option<Signal>> {
    channel().subscribe()
}

/// Wait for the first signal (forever when none comes).
pub async fn first() -> Signal {
    let mut rx = subscribe();
    // The sender is a static: it is never dropped, so `None` means never.
    let signal = rx.wait_for(Option::is_some).await.ok().and_then(|s| *s);
    match signal {
        Some(s) => s,
        None => std::future::pending().await,
    }
}

/// A signal arrived: the first is published; any later one ends the process now.
fn received(signal: Signal) {
    if RECEIVED.fetch_add(1, Ordering::SeqCst) == 0 {
        eprintln!(
            "\nmss-harness: {}: stopping (send it again to exit at once)",
            signal.name()
        );
        channel().send_replace(Some(signal));
    } else {
        eprintln!(
            "\nmss-harness: {} again: exiting at once; the results folder is incomplete",
            signal.name()
        );
        std::process::exit(i32::from(signal.exit_code()));
    }
}

/// Catch SIGINT and SIGTERM for the rest of the process's life. Call it once,
/// from within a Tokio runtime, before Goose initialises an attack.
pub fn install() -> anyhow::Result<()> {
    use anyhow::Context as _;
    ctrlc::set_handler(|| received(Signal::Int))
        .context("cannot install the Ctrl-C handler (one is already set in this process)")?;
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        tokio::spawn(async move {
            while term.recv().await.is_some() {
                received(Signal::Term);
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_name_themselves_and_exit_as_a_shell_reports_them() {
        for s in [Signal::Int, Signal::Term] {
            assert_eq!(Signal::from_name(s.name()), Some(s));
        }
        assert_eq!(Signal::Int.exit_code(), 128 + 2);
        assert_eq!(Signal::Term.exit_code(), 128 + 15);
        assert_eq!(Signal::from_name("SIGHUP"), None);
    }

    #[test]
    fn without_a_signal_subscribers_hear_nothing() {
        assert_eq!(*subscribe().borrow(), None);
    }
}
