//! The production caps' limiter: against a target that is not this machine,
//! every report request waits here for its slot before it is sent, and a cap
//! reached stops the run's sending.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::scenario::Caps;

/// The production caps, enforced on every report request before it is sent:
/// requests are spaced at least `1 / max_rate` apart, none starts after
/// `max_duration`, and no more than `max_requests` are sent.
#[derive(Debug)]
pub struct Limiter {
    caps: Caps,
    sent: AtomicU64,
    next: Mutex<Option<Instant>>,
    reached: OnceLock<String>,
}

impl Limiter {
    /// A limiter for `caps`.
    pub fn new(caps: Caps) -> Self {
        Limiter {
            caps,
            sent: AtomicU64::new(0),
            next: Mutex::new(None),
            reached: OnceLock::new(),
        }
    }

    /// Requests admitted so far.
    pub fn sent(&self) -> u64 {
        self.sent
            .load(Ordering::Relaxed)
            .min(self.caps.max_requests)
    }

    /// Which cap stopped the run, if one did (`max_requests 100`).
    pub fn reached(&self) -> Option<&str> {
        self.reached.get().map(String::as_str)
    }

    /// The name of the cap that stopped the run (`max_requests`), if one did.
    pub fn reached_cap(&self) -> Option<&str> {
        self.reached()
            .map(|r| r.split_once(' ').map_or(r, |(name, _)| name))
    }

    fn stop_at_duration(&self) {
        let _ = self.reached.set(format!(
            "max_duration {}",
            humantime::format_duration(self.caps.max_duration)
        ));
    }

    /// Wait for the slot of `n` more requests of a run that started at
    /// `start`; false when a cap forbids them (the run stops sending). Once
    /// false, false for every later call: the clock and the count only rise.
    pub async fn admit(&self, start: Instant, n: u64) -> bool {
        let end = start + self.caps.max_duration;
        if Instant::now() >= end {
            self.stop_at_duration();
            return false;
        }
        let before = self.sent.fetch_add(n, Ordering::SeqCst);
        if before + n > self.caps.max_requests {
            let _ = self
                .reached
                .set(format!("max_requests {}", self.caps.max_requests));
            return false;
        }
        let gap = Duration::from_secs_f64(n as f64 / self.caps.max_rate);
        let slot = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.map_or(now, |t| t.max(now));
            *next = Some(slot + gap);
            slot
        };
        if slot >= end {
            self.stop_at_duration();
            return false;
        }
        tokio::time::sleep_until(slot).await;
        true
    }
}
