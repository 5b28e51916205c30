//! `ArrivalSchedule`: the open model's timetable, shared by every sender.
//!
//! Stages ramp the rate linearly (`start_rate` → `stages[0].rate` over its
//! duration, then to `stages[1].rate`, …). The n-th request (from 0) is due at
//! the time t where the cumulative arrivals ∫₀ᵗ rate = n, so a constant rate r
//! gives t = n / r. Senders take tickets in order from one atomic counter;
//! latency is measured from a ticket's due time, never from when a busy sender
//! got round to it, so a stalled target shows in the tail.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::scenario::Stage;

/// One stage, precomputed.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Seconds from the start of the schedule to the start of the stage.
    start: f64,
    /// Length in seconds.
    length: f64,
    /// Rate at its start and end.
    from: f64,
    to: f64,
    /// Arrivals before the stage.
    before: f64,
}

impl Segment {
    fn arrivals(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.length
    }

    /// Seconds into the segment at which `m` arrivals have happened.
    fn time_of(&self, m: f64) -> f64 {
        let slope = (self.to - self.from) / self.length;
        if slope.abs() < 1e-12 {
            return if self.from > 0.0 {
                m / self.from
            } else {
                self.length
            };
        }
        // from·τ + slope·τ²/2 = m
        let disc = self.from * self.from + 2.0 * slope * m;
        ((disc.max(0.0)).sqrt() - self.from) / slope
    }
}

/// The open model's timetable. A capacity search's timetable is written as
/// the run goes ([`ArrivalSchedule::open_ended`], [`ArrivalSchedule::extend`]):
/// a sender whose ticket lies beyond what is written waits for it.
#[derive(Debug)]
pub struct ArrivalSchedule {
    segments: RwLock<Vec<Segment>>,
    total: AtomicU64,
    duration: Duration,
    next: AtomicU64,
    share: (u64, u64),
    /// No more segments will come.
    closed: AtomicBool,
    extended: tokio::sync::Notify,
}

/// A due request: its sequence number and when it is due, from the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    /// 0-based, in due order.
    pub n: u64,
    /// Due time from the start of the schedule.
    pub due: Duration,
}

impl ArrivalSchedule {
    /// A timetable for `stages`, starting at `start_rate`.
    pub fn new(start_rate: f64, stages: &[Stage]) -> Self {
        let mut segments = Vec::with_capacity(stages.len());
        let (mut start, mut before, mut from) = (0.0, 0.0, start_rate.max(0.0));
        for s in stages {
            let length = s.duration.0.as_secs_f64();
            let seg = Segment {
                start,
                length,
                from,
                to: s.rate.max(0.0),
                before,
            };
            before += seg.arrivals();
            start += length;
            from = seg.to;
            segments.push(seg);
        }
        ArrivalSchedule {
            total: AtomicU64::new(before.floor() as u64),
            duration: Duration::from_secs_f64(start),
            segments: RwLock::new(segments),
            next: AtomicU64::new(0),
            share: (0, 1),
            closed: AtomicBool::new(true),
            extended: tokio::sync::Notify::new(),
        }
    }

    /// A timetable written as the run goes, planned to last `duration`: it
    /// holds nothing until [`ArrivalSchedule::extend`] adds to it, and ends
    /// with [`ArrivalSchedule::close`].
    pub fn open_ended(duration: Duration) -> Self {
        ArrivalSchedule {
            total: AtomicU64::new(0),
            duration,
            segments: RwLock::new(Vec::new()),
            next: AtomicU64::new(0),
            share: (0, 1),
            closed: AtomicBool::new(false),
            extended: tokio::sync::Notify::new(),
        }
    }

    /// Add `length` at a constant `rate` (0: a pause) after what is written.
    pub fn extend(&self, rate: f64, length: Duration) {
        let mut segments = self
            .segments
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Whole arrivals: a fraction left by the segment before is due in
        // this one, never at the end of one already past.
        let (start, before) = segments.last().map_or((0.0, 0.0), |s| {
            (s.start + s.length, (s.before + s.arrivals()).floor())
        });
        let rate = if rate.is_finite() { rate.max(0.0) } else { 0.0 };
        let seg = Segment {
            start,
            length: length.as_secs_f64(),
            from: rate,
            to: rate,
            before,
        };
        self.total
            .store((before + seg.arrivals()).floor() as u64, Ordering::SeqCst);
        segments.push(seg);
        drop(segments);
        self.extended.notify_waiters();
    }

    /// Nothing more will be added: senders waiting for a ticket beyond it stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.extended.notify_waiters();
    }

    /// Keep only every `count`-th request starting at `index` (a worker's share
    /// of a scaled-out run).
    pub fn with_share(mut self, index: u64, count: u64) -> Self {
        self.share = (index.min(count.saturating_sub(1)), count.max(1));
        self
    }

    /// Requests the whole schedule holds (before any share).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// How long it lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Due time of request `n`, or `None` past the end.
    pub fn due(&self, n: u64) -> Option<Duration> {
        if n >= self.total() {
            return None;
        }
        let target = n as f64;
        let segments = self
            .segments
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seg = segments
            .iter()
            .rev()
            .find(|s| s.before <= target && s.arrivals() > 0.0)?;
        let t = seg.start + seg.time_of(target - seg.before).min(seg.length);
        // A rate so small that its square underflows (1e-200 req/s) puts the
        // first arrival a hair before 0.
        Some(Duration::from_secs_f64(t.max(0.0)))
    }

    /// The next ticket of this sender's share, or `None` when the schedule is done.
    pub fn next_ticket(&self) -> Option<Ticket> {
        let (index, count) = self.share;
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let n = k.checked_mul(count)?.checked_add(index)?;
        self.due(n).map(|due| Ticket { n, due })
    }

    /// The next ticket; beyond what is written of an open-ended timetable,
    /// wait until it is extended (or closed: `None`).
    pub async fn next_ticket_waiting(&self) -> Option<Ticket> {
        let (index, count) = self.share;
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let n = k.checked_mul(count)?.checked_add(index)?;
        // A written ticket (every ticket of a static timetable): no waiting.
        if let Some(due) = self.due(n) {
            return Some(Ticket { n, due });
        }
        loop {
            let extended = self.extended.notified();
            tokio::pin!(extended);
            extended.as_mut().enable();
            if let Some(due) = self.due(n) {
                return Some(Ticket { n, due });
            }
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            extended.await;
        }
    }

    /// The due times of this sender's share of the schedule, in order (the
    /// plan, ticket by ticket, as far as it is written).
    pub fn dues(&self) -> impl Iterator<Item = Duration> + '_ {
        let (index, count) = self.share;
        (0u64..)
            .map_while(move |k| k.checked_mul(count)?.checked_add(index))
            .map_while(|n| self.due(n))
    }

    /// Tickets of this sender's share due by `t` (as far as the timetable is
    /// written): what the plan has asked for so far.
    pub fn due_by(&self, t: Duration) -> u64 {
        let (index, count) = self.share;
        let total = self.total();
        let mine = if index < total {
            (total - index).div_ceil(count)
        } else {
            0
        };
        // Due times rise with n: the first of the share due after `t`.
        let (mut lo, mut hi) = (0u64, mine);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match mid
                .checked_mul(count)
                .and_then(|n| n.checked_add(index))
                .and_then(|n| self.due(n))
            {
                Some(due) if due <= t => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// The due times of this sender's share's tickets never taken, in order.
    pub fn untaken_dues(&self) -> impl Iterator<Item = Duration> + '_ {
        let (index, count) = self.share;
        let from = self.next.load(Ordering::Relaxed);
        (from..)
            .map_while(move |k| k.checked_mul(count)?.checked_add(index))
            .map_while(|n| self.due(n))
    }

    /// Tickets of this sender's share never taken (every sender was still
    /// busy when the run ended): requests the schedule planned and nobody sent.
    pub fn untaken(&self) -> u64 {
        let (index, count) = self.share;
        let total = self.total();
        let mine = if index < total {
            (total - index).div_ceil(count)
        } else {
            0
        };
        mine.saturating_sub(self.next.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Span;

    fn stage(rate: f64, secs: u64) -> Stage {
        Stage {
            rate,
            duration: Span(Duration::from_secs(secs)),
        }
    }

    #[test]
    fn untaken_tickets_are_counted_per_share() {
        let s = ArrivalSchedule::new(10.0, &[stage(10.0, 1)]).with_share(1, 3);
        assert_eq!(s.untaken(), 3, "tickets 1, 4, 7 of 10");
        assert!(s.next_ticket().is_some());
        assert_eq!(s.untaken(), 2);
        while s.next_ticket().is_some() {}
        assert_eq!(s.untaken(), 0);
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s = ArrivalSchedule::new(1000.0, &[stage(1000.0, 30)]);
        assert_eq!(s.total(), 30_000);
        assert_eq!(s.due(0), Some(Duration::ZERO));
        assert_eq!(s.due(1), Some(Duration::from_millis(1)));
        assert_eq!(s.due(29_999).map(|d| d.as_millis()), Some(29_999));
        assert_eq!(s.due(30_000), None);
        // Every 1-second interval holds exactly 1000 due times.
        let mut per_second = vec![0u32; 30];
        while let Some(t) = s.next_ticket() {
            per_second[t.due.as_secs() as usize] += 1;
        }
        assert!(per_second.iter().all(|&n| n == 1000), "{per_second:?}");
    }

    #[test]
    fn linear_ramp_integrates() {
        // 0 → 100 req/s over 10 s: 500 arrivals; half of them in the last 2.93 s.
        let s = ArrivalSchedule::new(0.0, &[stage(100.0, 10), stage(100.0, 5)]);
        assert_eq!(s.total(), 1000);
        let t250 = s.due(250).expect("due").as_secs_f64();
        assert!((t250 - 50f64.sqrt()).abs() < 1e-6, "{t250}");
        assert_eq!(s.due(500).map(|d| d.as_secs_f64()), Some(10.0));
        assert!((s.due(750).expect("due").as_secs_f64() - 12.5).abs() < 1e-9);
        // Due times never go backwards.
        let mut last = Duration::ZERO;
        for n in 0..1000 {
            let d = s.due(n).expect("due");
            assert!(d >= last);
            last = d;
        }
    }

    #[test]
    fn shares_split_the_same_timetable() {
        let stages = [stage(50.0, 4)];
        let all = ArrivalSchedule::new(50.0, &stages);
        let a = ArrivalSchedule::new(50.0, &stages).with_share(0, 2);
        let b = ArrivalSchedule::new(50.0, &stages).with_share(1, 2);
        let mut merged: Vec<u64> = std::iter::from_fn(|| a.next_ticket())
            .chain(std::iter::from_fn(|| b.next_ticket()))
            .map(|t| t.n)
            .collect();
        merged.sort_unstable();
        assert_eq!(merged, (0..all.total()).collect::<Vec<_>>());
    }

    #[test]
    fn due_by_counts_what_the_timetable_has_asked_for_so_far() {
        // A ramp 0 -> 40 req/s over 5 s then 40 req/s for 3 s, and shares.
        for (index, count) in [(0, 1), (1, 3), (2, 3)] {
            let s = ArrivalSchedule::new(0.0, &[stage(40.0, 5), stage(40.0, 3)])
                .with_share(index, count);
            let dues: Vec<Duration> = s.dues().collect();
            for ms in [0, 1, 250, 999, 1000, 2500, 4999, 5000, 6123, 8000, 9000] {
                let t = Duration::from_millis(ms);
                let expected = dues.iter().filter(|d| **d <= t).count() as u64;
                assert_eq!(s.due_by(t), expected, "share {index}/{count} at {ms} ms");
            }
            assert_eq!(s.due_by(Duration::MAX), dues.len() as u64);
        }
        // An open-ended timetable: as far as it is written.
        let s = ArrivalSchedule::open_ended(Duration::from_secs(10));
        assert_eq!(s.due_by(Duration::from_secs(5)), 0);
        s.extend(10.0, Duration::from_secs(2));
        assert_eq!(s.due_by(Duration::from_secs(5)), 20);
        assert_eq!(s.due_by(Duration::from_millis(950)), 10);
    }

    #[test]
    fn a_tiny_start_rate_is_due_at_zero() {
        // Found by tests/fuzz.rs: from 5e-324 req/s, the first arrival came out
        // at -5e-324/slope seconds and Duration::from_secs_f64 panicked.
        for start in [5e-324, 1e-200] {
            let s = ArrivalSchedule::new(start, &[stage(50.0, 20)]);
            assert_eq!(s.due(0), Some(Duration::ZERO), "{start}");
            assert!(s.next_ticket().is_some());
        }
    }

    #[tokio::test]
    async fn an_open_ended_timetable_makes_senders_wait_for_what_is_written() {
        let s = std::sync::Arc::new(ArrivalSchedule::open_ended(Duration::from_secs(4)));
        s.extend(10.0, Duration::from_secs(1));
        let mut taken = Vec::new();
        for _ in 0..10 {
            taken.push(s.next_ticket_waiting().await.expect("ticket"));
        }
        assert_eq!(taken[9].due, Duration::from_millis(900));
        // The 11th waits for the next segment: a pause, then 5 req/s.
        let waiting = tokio::spawn({
            let s = s.clone();
            async move { s.next_ticket_waiting().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        s.extend(0.0, Duration::from_secs(1));
        s.extend(5.0, Duration::from_secs(1));
        let t = waiting.await.expect("join").expect("ticket");
        assert_eq!((t.n, t.due), (10, Duration::from_secs(2)));
        assert_eq!(s.total(), 15);
        // A fraction of an arrival left by a segment is due in the next one,
        // not at the end of the one before (already past: a dropped request).
        s.extend(2.5, Duration::from_secs(1));
        s.extend(0.0, Duration::from_secs(1));
        assert_eq!(s.total(), 17);
        s.extend(1.0, Duration::from_secs(1));
        assert_eq!(s.due(17), Some(Duration::from_secs(5)));
        // Closed: a sender beyond the end stops instead of waiting.
        for _ in 0..7 {
            s.next_ticket_waiting().await.expect("ticket");
        }
        s.close();
        assert_eq!(s.next_ticket_waiting().await, None);
    }

    #[test]
    fn zero_rate_stages_hold_no_requests() {
        let s = ArrivalSchedule::new(0.0, &[stage(0.0, 5), stage(10.0, 0), stage(10.0, 1)]);
        assert_eq!(s.total(), 10);
        assert!(s.due(0).expect("due") >= Duration::from_secs(5));
    }
}
