//! The retry budget: how many report requests a run may send again.
//!
//! A report is sent again when its answer was lost (to learn whether the
//! target stored it) and after a 401 (with a fresh token). Against a target
//! that loses every answer, unbounded retries multiply the load — the harness
//! must never do that to a misbehaving target. So retries draw on a budget:
//! in any window of [`WINDOW`] they may add at most `ratio` (10% by default,
//! `[http] retry_budget`) to the report requests first sent in that window, the
//! way gRPC's retry throttling lets retries through only while they stay a
//! fraction of the traffic. The window slides in [`SLOTS`] steps; a retry the
//! budget refuses is not sent (the report stays unresolved and is listed as
//! such). After the load, when no first sends remain to earn budget, retries
//! may spend what the whole run left: at most `ratio` of all first sends, less
//! the retries already sent.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The sliding window over which retries are a fraction of first sends.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Steps the window slides in (100 ms each).
pub const SLOTS: usize = 100;

/// Counts of one slot of the window.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Index of the step this slot holds (steps since the budget's start).
    step: u64,
    originals: u64,
    retries: u64,
}

#[derive(Debug)]
struct State {
    slots: [Slot; SLOTS],
    originals: u64,
    retries: u64,
    refused: u64,
}

/// A run's retry budget (shared by every sender).
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    start: Instant,
    state: Mutex<State>,
}

impl RetryBudget {
    /// A budget letting retries add at most `ratio` (0–1) of the first sends.
    pub fn new(ratio: f64) -> Self {
        RetryBudget {
            ratio: ratio.clamp(0.0, 1.0),
            start: Instant::now(),
            state: Mutex::new(State {
                slots: [Slot::default(); SLOTS],
                originals: 0,
                retries: 0,
                refused: 0,
            }),
        }
    }

    /// The ratio (0–1).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    fn step(&self, now: Instant) -> u64 {
        let slot = WINDOW.as_nanos() / SLOTS as u128;
        u64::try_from(now.saturating_duration_since(self.start).as_nanos() / slot)
            .unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The slot of `step`, emptied if it held an older step.
    fn slot(state: &mut State, step: u64) -> &mut Slot {
        let slot = &mut state.slots[(step % SLOTS as u64) as usize];
        if slot.step != step {
            *slot = Slot {
                step,
                ..Slot::default()
            };
        }
        slot
    }

    /// A report request was sent for the first time.
    pub fn original(&self) {
        self.original_at(Instant::now());
    }

    fn original_at(&self, now: Instant) {
        let step = self.step(now);
        let mut s = self.lock();
        s.originals += 1;
        Self::slot(&mut s, step).originals += 1;
    }

    /// May one more retry go out now? Counts it when it may, counts a refusal
    /// when not.
    pub fn try_retry(&self) -> bool {
        self.try_retry_at(Instant::now())
    }

    fn try_retry_at(&self, now: Instant) -> bool {
        let step = self.step(now);
        let mut s = self.lock();
        let (originals, retries) = s
            .slots
            .iter()
            .filter(|x| x.step + (SLOTS as u64) > step && x.step <= step)
            .fold((0, 0), |(o, r), x| (o + x.originals, r + x.retries));
        let window_ok = (retries + 1) as f64 <= self.ratio * originals as f64;
        let total_ok = (s.retries + 1) as f64 <= self.ratio * s.originals as f64;
        if window_ok && total_ok {
            s.retries += 1;
            Self::slot(&mut s, step).retries += 1;
            true
        } else {
            s.refused += 1;
            false
        }
    }

    /// After the load: may one more retry go out? Only the run's total budget
    /// applies (no first sends remain to earn a window's).
    pub fn try_retry_after_load(&self) -> bool {
        let mut s = self.lock();
        if (s.retries + 1) as f64 <= self.ratio * s.originals as f64 {
            s.retries += 1;
            true
        } else {
            s.refused += 1;
            false
        }
    }

    /// (first sends, retries sent, retries refused) so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        let s = self.lock();
        (s.originals, s.retries, s.refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stay_within_the_ratio_of_any_window() {
        let b = RetryBudget::new(0.1);
        let t0 = b.start;
        // No first sends: nothing to retry with.
        assert!(!b.try_retry_at(t0));
        for _ in 0..100 {
            b.original_at(t0);
        }
        let allowed = (0..50).filter(|_| b.try_retry_at(t0)).count();
        assert_eq!(allowed, 10);
        assert_eq!(b.counts(), (100, 10, 41));
        // Eleven seconds later the window is empty: the old first sends no
        // longer pay for new retries.
        let t1 = t0 + Duration::from_secs(11);
        assert!(!b.try_retry_at(t1));
        for _ in 0..20 {
            b.original_at(t1);
        }
        assert!(b.try_retry_at(t1));
        assert!(b.try_retry_at(t1));
        assert!(!b.try_retry_at(t1));
        // Within the window, first sends of its earlier part still count.
        let t2 = t1 + Duration::from_secs(9);
        for _ in 0..10 {
            b.original_at(t2);
        }
        assert!(b.try_retry_at(t2));
        assert!(!b.try_retry_at(t2));
    }

    #[test]
    fn after_the_load_only_the_total_counts() {
        let b = RetryBudget::new(0.1);
        for _ in 0..100 {
            b.original_at(b.start);
        }
        assert_eq!((0..5).filter(|_| b.try_retry_at(b.start)).count(), 5);
        assert_eq!((0..20).filter(|_| b.try_retry_after_load()).count(), 5);
        let (o, r, _) = b.counts();
        assert!(r as f64 <= 0.1 * o as f64);
    }

    #[test]
    fn a_zero_ratio_refuses_every_retry() {
        let b = RetryBudget::new(0.0);
        b.original();
        assert!(!b.try_retry());
        assert!(!b.try_retry_after_load());
    }
}
