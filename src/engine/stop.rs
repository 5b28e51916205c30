//! The run's stop state: one [`Phase`] — running, capped, failed, resending,
//! finished, interrupted, abandoned — with its transitions, what waits on
//! them, and the requests in flight a graceful stop waits for.
//!
//! ```text
//!   Running ──▶ Capped                                       a production cap
//!   Running | Capped ──▶ Failed                              a data error
//!   Running | Capped | Failed ──▶ Resending                  the attack is over; lost reports are resent
//!   Running | Capped | Failed | Resending ──▶ Finished       nothing more is sent
//!   Running | Capped | Failed | Resending
//!                      ──▶ Interrupted ──▶ Abandoned          a signal; its grace is over
//! ```
//!
//! A production cap or a data error ends the sending (users idle until the
//! planned end; requests in flight end normally). A signal stops the run
//! gracefully ([`RunContext::interrupt`]): nothing new is sent, the requests
//! in flight get a grace period, those still unanswered after it are
//! abandoned and recorded as `interrupted`. The resends of lost reports after
//! the attack stop the same way; once they are over too a signal interrupts
//! nothing. Every other change is refused: a phase never goes back,
//! and an interrupted run stays interrupted (a later cap or data error only
//! leaves its trace: the limiter's cap, the fatal message).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::RunContext;
use crate::interrupt::Signal;

pin_project_lite::pin_project! {
    /// `future`, unless `stop` completes first ([`StopState::unless`]): polled
    /// in place, the answer first. An `async fn` taking the future would hold
    /// it twice (the argument, then the value `select!` moves it into), and
    /// each such layer doubled the state every user keeps while its request
    /// is in flight.
    pub(super) struct Unless<F, S> {
        #[pin]
        future: F,
        #[pin]
        stop: S,
    }
}

impl<F: Future, S: Future<Output = ()>> Future for Unless<F, S> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Some(out));
        }
        // Only now does the stop subscribe to the phase: a ready future costs
        // nothing more.
        this.stop.poll(cx).map(|()| None)
    }
}

/// How far a run has stopped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// Sending as planned.
    Running = 0,
    /// A production cap forbids more requests: no new work is taken; users
    /// idle until the planned end; requests in flight end normally.
    Capped = 1,
    /// A data error (the run ends with it): as `Capped`.
    Failed = 2,
    /// Nothing more is sent: a signal now interrupts nothing.
    Finished = 3,
    /// Told to stop by a signal: nothing new is sent; requests in flight may
    /// finish within the grace period.
    Interrupted = 4,
    /// The grace period is over: requests still in flight are abandoned.
    Abandoned = 5,
    /// The attack is over and reports whose answers were lost are being sent
    /// once more: a signal stops that as it stops a load.
    Resending = 6,
}

impl Phase {
    fn of(value: u8) -> Phase {
        match value {
            0 => Phase::Running,
            1 => Phase::Capped,
            2 => Phase::Failed,
            3 => Phase::Finished,
            4 => Phase::Interrupted,
            6 => Phase::Resending,
            _ => Phase::Abandoned,
        }
    }

    /// Whether a run in this phase may move to `to`.
    fn may_become(self, to: Phase) -> bool {
        use Phase::{Abandoned, Capped, Failed, Finished, Interrupted, Resending, Running};
        matches!(
            (self, to),
            (
                Running,
                Capped | Failed | Resending | Finished | Interrupted
            ) | (Capped, Failed | Resending | Finished | Interrupted)
                | (Failed, Resending | Finished | Interrupted)
                | (Resending, Finished | Interrupted)
                | (Interrupted, Abandoned)
        )
    }

    /// Whether a signal has stopped the run.
    pub(super) fn interrupted(self) -> bool {
        matches!(self, Phase::Interrupted | Phase::Abandoned)
    }
}

/// A run stopped by a signal.
#[derive(Debug, Clone)]
pub struct Interruption {
    /// The signal.
    pub signal: Signal,
    /// When it arrived.
    pub at: Instant,
    /// Requests in flight then.
    pub in_flight: usize,
    /// How long they were given.
    pub grace: Duration,
    /// When the load ended: every request answered, or the grace period over
    /// (`None` while the stop is under way).
    pub ended: Option<Instant>,
}

/// The stop state of a run, shared by its users.
#[derive(Debug)]
pub(super) struct StopState {
    /// The [`Phase`], read on every request. Written only under `changes`'
    /// lock, so the two always agree.
    phase: AtomicU8,
    /// The phase, for what waits on a change.
    changes: watch::Sender<Phase>,
    /// The data error that failed the run (the first one).
    fatal: OnceLock<String>,
    /// The signal that interrupted the run, once one has.
    interruption: Mutex<Option<Interruption>>,
    /// Requests in flight: raised before the phase is checked and a request
    /// goes out, so that a request either sees an interruption or is counted
    /// by it.
    in_flight: AtomicUsize,
    /// The most requests in flight at once since the last [`take_peak`](Self::take_peak).
    peak: AtomicUsize,
    /// Woken when the last request in flight of an interrupted run ends.
    settled: Notify,
}

impl StopState {
    /// A running run's state.
    pub(super) fn new() -> Self {
        StopState {
            phase: AtomicU8::new(Phase::Running as u8),
            changes: watch::Sender::new(Phase::Running),
            fatal: OnceLock::new(),
            interruption: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            settled: Notify::new(),
        }
    }

    /// The current phase.
    pub(super) fn phase(&self) -> Phase {
        Phase::of(self.phase.load(Ordering::SeqCst))
    }

    /// Whether a signal has stopped the run.
    pub(super) fn interrupted(&self) -> bool {
        self.phase().interrupted()
    }

    /// Move to `to` when the current phase allows it; whether it did.
    fn become_(&self, to: Phase) -> bool {
        self.changes.send_if_modified(|phase| {
            if !phase.may_become(to) {
                return false;
            }
            *phase = to;
            self.phase.store(to as u8, Ordering::SeqCst);
            true
        })
    }

    /// A production cap forbids more requests.
    pub(super) fn cap(&self) {
        self.become_(Phase::Capped);
    }

    /// A data error stops the run's sending; the run ends with `message` (the
    /// first such message), whatever its phase.
    pub(super) fn fail(&self, message: String) {
        self.become_(Phase::Failed);
        let _ = self.fatal.set(message);
    }

    /// The attack is over; lost reports are resent now.
    pub(super) fn resend(&self) {
        self.become_(Phase::Resending);
    }

    /// Nothing more is sent.
    pub(super) fn finish(&self) {
        self.become_(Phase::Finished);
    }

    /// The data error that stopped the run, if any.
    pub(super) fn fatal(&self) -> Option<String> {
        self.fatal.get().cloned()
    }

    /// The signal that stopped the run, if one did.
    pub(super) fn interruption(&self) -> Option<Interruption> {
        self.interruption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Requests now in flight.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A request is about to go out: counted in flight, unless the run has
    /// been interrupted (false: it must not be sent).
    pub(super) fn begin_flight(&self) -> bool {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if self.interrupted() {
            self.end_flight();
            return false;
        }
        true
    }

    /// The most requests in flight at once since the last call; the next
    /// period starts from those in flight now.
    pub(super) fn take_peak(&self) -> usize {
        self.peak
            .swap(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed)
    }

    /// A request in flight has ended; the last one of an interrupted run says so.
    pub(super) fn end_flight(&self) {
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && self.interrupted() {
            self.settled.notify_waiters();
        }
    }

    /// Interrupt the run after `signal`: nothing new is sent, the requests in
    /// flight get `grace` to finish, then the run is `Abandoned`. Returns once
    /// it is; false at once when the run was interrupted already or its
    /// attack is over.
    async fn interrupt(&self, signal: Signal, grace: Duration) -> bool {
        if !self.become_(Phase::Interrupted) {
            return false;
        }
        let at = Instant::now();
        let in_flight = self.in_flight.load(Ordering::SeqCst);
        *self
            .interruption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Interruption {
            signal,
            at,
            in_flight,
            grace,
            ended: None,
        });
        eprintln!(
            "mss-harness: {}: nothing more is sent; waiting up to {} for {in_flight} request(s) in flight",
            signal.name(),
            humantime::format_duration(grace)
        );
        let deadline = at + grace;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                () = settled => {}
            }
        }
        let ended = Instant::now();
        if let Some(i) = self
            .interruption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            i.ended = Some(ended);
        }
        self.become_(Phase::Abandoned);
        true
    }

    /// Return once `reached` holds of the phase (never while it does not).
    async fn reached(&self, reached: fn(Phase) -> bool) {
        let mut rx = self.changes.subscribe();
        if rx.wait_for(|p| reached(*p)).await.is_err() {
            // The sender lives as long as `self`.
            std::future::pending::<()>().await;
        }
    }

    /// Sleep until `t`; false when the run was interrupted first. Always
    /// through Tokio's timer, even for a moment already past: its cooperative
    /// budget is what makes users that loop on a past deadline (after the
    /// schedule's end) yield to Goose.
    pub(super) async fn sleep_until(&self, t: Instant) -> bool {
        if self.interrupted() {
            return false;
        }
        // Biased: the stop's future is only polled (and subscribed) once the
        // first branch is pending, which keeps ready futures cheap.
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(t) => !self.interrupted(),
            () = self.reached(Phase::interrupted) => false,
        }
    }

    /// `future`'s output, or `None` when `reached` holds first.
    fn unless<F: Future>(
        &self,
        reached: fn(Phase) -> bool,
        future: F,
    ) -> Unless<F, impl Future<Output = ()> + '_> {
        Unless {
            future,
            stop: self.reached(reached),
        }
    }

    /// `future`'s output, or `None` when the run is interrupted first.
    pub(super) async fn unless_interrupted<F: std::future::Future>(
        &self,
        future: F,
    ) -> Option<F::Output> {
        if self.interrupted() {
            return None;
        }
        self.unless(Phase::interrupted, future).await
    }

    /// `future`'s output, or `None` when the grace period of an interruption
    /// ends first.
    pub(super) fn unless_abandoned<F: Future>(
        &self,
        future: F,
    ) -> Unless<F, impl Future<Output = ()> + '_> {
        self.unless(|p| p == Phase::Abandoned, future)
    }

    /// An iteration of an interrupted run: wait until its grace period is
    /// over, then pace the calls Goose makes until it tells its users to exit.
    pub(super) async fn idle_until_exit(&self) {
        self.reached(|p| p == Phase::Abandoned).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl RunContext {
    /// The attack is over: what is sent from now on is the resending of lost
    /// reports ([`RunContext::resolve_after_load`]), which a signal stops as
    /// it stops a load.
    pub fn attack_over(&self) {
        self.stop.resend();
    }

    /// Nothing more is sent: a signal from now on interrupts nothing.
    pub fn finish(&self) {
        self.stop.finish();
    }

    /// Stop the run after `signal`: nothing new is sent (iterations waiting
    /// for a due time wake up and return), the requests in flight get `grace`
    /// to finish, those still in flight then are abandoned and recorded as
    /// `interrupted`, and Goose's killswitch ends the attack. Returns once the
    /// killswitch is triggered.
    ///
    /// The killswitch is process-global (it cancels every Goose attack in the
    /// process): call this only in reaction to a real signal, never from code
    /// that in-process tests share.
    pub async fn interrupt(&self, signal: Signal, grace: Duration) {
        if !self.stop.interrupt(signal, grace).await {
            return;
        }
        // Goose clears its killswitch when its attack starts; the run's clock
        // starts with the first iteration, after that.
        while self.started().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        goose::trigger_killswitch(&format!("{} received", signal.name()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_never_goes_back() {
        let stop = StopState::new();
        stop.cap();
        assert_eq!(stop.phase(), Phase::Capped);
        stop.fail("data: broken".into());
        assert_eq!(stop.phase(), Phase::Failed);
        stop.cap();
        assert_eq!(stop.phase(), Phase::Failed, "a cap after a data error");
        stop.fail("data: later".into());
        assert_eq!(stop.fatal().as_deref(), Some("data: broken"));
        stop.finish();
        assert_eq!(stop.phase(), Phase::Finished);
        stop.cap();
        assert_eq!(stop.phase(), Phase::Finished);
        assert!(!stop.interrupted());
    }

    #[tokio::test]
    async fn the_resending_after_the_attack_is_interrupted_then_nothing_is() {
        let stop = StopState::new();
        stop.resend();
        assert_eq!(stop.phase(), Phase::Resending);
        stop.cap();
        assert_eq!(stop.phase(), Phase::Resending, "no going back");
        assert!(stop.interrupt(Signal::Term, Duration::ZERO).await);
        assert_eq!(stop.phase(), Phase::Abandoned);
        let done = StopState::new();
        done.resend();
        done.finish();
        assert!(!done.interrupt(Signal::Int, Duration::ZERO).await);
    }

    #[tokio::test]
    async fn a_finished_attack_is_not_interrupted() {
        let stop = StopState::new();
        stop.finish();
        assert!(!stop.interrupt(Signal::Int, Duration::from_secs(1)).await);
        assert!(stop.interruption().is_none());
        assert!(stop.begin_flight());
    }

    #[tokio::test]
    async fn an_interruption_waits_out_its_grace_then_abandons_what_is_in_flight() {
        let grace = Duration::from_millis(200);
        let stop = std::sync::Arc::new(StopState::new());
        stop.cap();
        assert!(stop.begin_flight());
        let waiting = {
            let stop = stop.clone();
            tokio::spawn(async move {
                stop.unless_abandoned(std::future::pending::<()>())
                    .await
                    .is_none()
            })
        };
        let sleeper = {
            let stop = stop.clone();
            tokio::spawn(async move {
                stop.sleep_until(Instant::now() + Duration::from_secs(3600))
                    .await
            })
        };
        tokio::task::yield_now().await;
        let started = Instant::now();
        assert!(stop.interrupt(Signal::Int, grace).await);
        assert_eq!(stop.phase(), Phase::Abandoned);
        assert!(started.elapsed() >= grace);
        assert!(!sleeper.await.unwrap(), "a sleep ends with the signal");
        assert!(waiting.await.unwrap(), "a request in flight is abandoned");
        let i = stop.interruption().unwrap();
        assert_eq!(i.in_flight, 1);
        assert!(i.ended.is_some_and(|e| e >= i.at + grace));
        assert!(!stop.begin_flight(), "nothing new goes out");
        stop.fail("data: late".into());
        stop.finish();
        assert_eq!(stop.phase(), Phase::Abandoned);
        assert_eq!(stop.fatal().as_deref(), Some("data: late"));
        assert!(!stop.interrupt(Signal::Term, Duration::ZERO).await);
    }

    #[tokio::test]
    async fn an_interruption_ends_with_the_last_request_in_flight() {
        let stop = std::sync::Arc::new(StopState::new());
        assert!(stop.begin_flight());
        let ender = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                stop.end_flight();
            })
        };
        let started = Instant::now();
        assert!(stop.interrupt(Signal::Int, Duration::from_secs(60)).await);
        assert!(started.elapsed() < Duration::from_secs(30));
        ender.await.unwrap();
        assert_eq!(stop.in_flight(), 0);
        assert_eq!(stop.phase(), Phase::Abandoned);
    }
}
