//! Waits that end on time to the microsecond: a request due at `t` leaves at
//! `t`, not at the next millisecond tick of Tokio's timer wheel (which would
//! add ~1 ms to every latency measured from the intended time and, against a
//! fast target, bias the median by a quarter).
//!
//! A wait is a Linux `timerfd` (a kernel high-resolution timer) registered
//! with Tokio's reactor: the worker thread sleeps in `epoll` until the timer
//! fires, so a precise wait costs two system calls and no spinning — a run at
//! 10 requests/s stays idle between them. A longer wait first sleeps on
//! Tokio's timer and takes a kernel timer only for its last 2 ms; timers are
//! kept in a small pool and reused.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[cfg(target_os = "linux")]
use kernel::Timer;

/// Timers kept for reuse; beyond this, a finished wait's timer is closed.
const KEPT: usize = 64;

/// A longer wait sleeps on Tokio's timer until this long before its end and
/// takes a kernel timer only for the rest: the timers open at once are then
/// the waits ending within this window (a few at 1,000 requests/s), not one
/// per waiting user (a thousand users would hold a thousand descriptors).
const LAST_STRETCH: Duration = Duration::from_millis(2);

#[cfg(target_os = "linux")]
mod kernel {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::unix::AsyncFd;

    /// One kernel timer, registered with the reactor.
    #[derive(Debug)]
    pub(super) struct Timer(AsyncFd<OwnedFd>);

    impl Timer {
        pub(super) fn new() -> io::Result<Self> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            Ok(Timer(Self::register(fd)?))
        }

        /// One of the project's two `unsafe` blocks (the other maps the
        /// ledger, `ledger::file`): Tokio asks the caller of
        /// `AsyncFd::register*` to promise that the descriptor stays open and
        /// is not replaced while registered.
        #[allow(unsafe_code)]
        fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
            // SAFETY: the `OwnedFd` moves into the `AsyncFd`, which alone owns
            // it and never hands it out mutably: it stays open and the same
            // until the `AsyncFd` is dropped, which deregisters it first.
            let registered =
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) };
            registered.map_err(|e| e.into_parts().1)
        }

        /// Fire once, `after` from now (at least a nanosecond: zero disarms).
        pub(super) fn arm(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1));
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(after.subsec_nanos()),
                },
            };
            timerfd_settime(self.0.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
            Ok(())
        }

        /// Until the armed timer has fired.
        pub(super) async fn fired(&self) -> io::Result<()> {
            let mut expirations = [0u8; 8];
            loop {
                let mut ready = self.0.readable().await?;
                match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut expirations)?)) {
                    Ok(result) => return result.map(|_| ()),
                    // Woken without an expiration to read: wait again.
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

/// Elsewhere no kernel timer: every wait goes through Tokio's timer.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
struct Timer;

#[cfg(not(target_os = "linux"))]
impl Timer {
    fn new() -> io::Result<Self> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn arm(&self, _after: std::time::Duration) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn fired(&self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// The run's precise waits.
#[derive(Debug, Default)]
pub(super) struct PreciseTimers {
    idle: Mutex<Vec<Timer>>,
}

impl PreciseTimers {
    /// Sleep until `t`, waking within microseconds of it; through Tokio's own
    /// timer when no kernel timer can be had (off Linux, or out of file
    /// descriptors).
    pub(super) async fn sleep_until(&self, t: Instant) {
        if t.saturating_duration_since(Instant::now()) > LAST_STRETCH {
            // Tokio's wheel wakes up to a millisecond late: still early.
            tokio::time::sleep_until(t - LAST_STRETCH).await;
        }
        let now = Instant::now();
        if t <= now {
            return;
        }
        let timer = self.take();
        let waited = match &timer {
            Ok(timer) => match timer.arm(t - now) {
                Ok(()) => timer.fired().await.is_ok(),
                Err(_) => false,
            },
            Err(_) => false,
        };
        if !waited {
            tokio::time::sleep_until(t).await;
        }
        if let Ok(timer) = timer {
            self.give_back(timer);
        }
    }

    fn take(&self) -> io::Result<Timer> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match kept {
            Some(timer) => Ok(timer),
            None => Timer::new(),
        }
    }

    fn give_back(&self, timer: Timer) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < KEPT {
            idle.push(timer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_precise_wait_ends_sooner_after_its_due_time_than_tokio_s_timer() {
        // Side by side, interleaved: a precise wait and a plain Tokio sleep to
        // the same kind of due times, so that a loaded machine delays both
        // alike. The precise wait's own figure is a run's `send_lag_us`, not
        // a unit test's; here the precise wait must never wake early and beat the
        // wheel, which wakes after its next millisecond tick (about 1.1 ms
        // late in the median on the machine this was written on).
        let timers = PreciseTimers::default();
        let (mut precise, mut plain) = (Vec::new(), Vec::new());
        for i in 0..60u64 {
            // Below and above the last stretch: some waits start on Tokio's timer.
            let due = Instant::now() + Duration::from_micros(1_000 + 97 * i);
            timers.sleep_until(due).await;
            let woke = Instant::now();
            assert!(woke >= due, "woke {:?} early", due - woke);
            precise.push(woke - due);
            let due = Instant::now() + Duration::from_micros(1_000 + 97 * i);
            tokio::time::sleep_until(due).await;
            plain.push(Instant::now() - due);
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (precise, plain) = (median(&mut precise), median(&mut plain));
        assert!(
            precise + Duration::from_micros(200) < plain,
            "median lag: precise {precise:?}, Tokio's timer {plain:?}"
        );
        // The timers came back to the pool and were reused.
        assert_eq!(timers.idle.lock().map(|v| v.len()).unwrap_or(0), 1);
    }

    #[tokio::test]
    async fn waiting_users_hold_a_kernel_timer_only_for_their_last_stretch() {
        // A hundred users wait for tickets due one millisecond apart: only the
        // waits within 2 ms of their end hold a timer at once, so the pool
        // (which keeps every timer made, up to 64) ends with a handful.
        let timers = std::sync::Arc::new(PreciseTimers::default());
        let start = Instant::now() + Duration::from_millis(20);
        let waits: Vec<_> = (0..100u64)
            .map(|i| {
                let timers = timers.clone();
                tokio::spawn(async move {
                    timers.sleep_until(start + Duration::from_millis(i)).await;
                })
            })
            .collect();
        for w in waits {
            w.await.expect("wait");
        }
        let made = timers.idle.lock().map(|v| v.len()).unwrap_or(usize::MAX);
        assert!((1..=10).contains(&made), "{made} timers made");
    }

    #[tokio::test]
    async fn a_past_due_time_returns_at_once() {
        let timers = PreciseTimers::default();
        let before = Instant::now();
        timers.sleep_until(before - Duration::from_millis(5)).await;
        assert!(before.elapsed() < Duration::from_millis(5));
    }
}
