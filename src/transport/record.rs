//! Phase timings accumulated: one histogram per phase, the exchanges that
//! opened a connection counted apart from those that reused one, and the
//! connections opened in each second (a target that closes its connections
//! shows up as a rate that follows the request rate).

use hdrhistogram::Histogram;

use super::{Phase, Phases};

/// Significant digits of the phase histograms: two (1% resolution) keeps
/// six histograms per service small; a phase is read to the millisecond.
const DIGITS: u8 = 2;

/// Phase timings of many exchanges. A phase's histogram holds only the
/// exchanges that went through it (µs): a reused connection adds nothing to
/// DNS, connect or TLS, so no zero is averaged in.
#[derive(Debug, Clone)]
pub struct PhaseHistograms {
    histograms: [Histogram<u64>; 6],
    exchanges: u64,
    opened: u64,
    opened_per_second: Vec<u32>,
}

impl Default for PhaseHistograms {
    fn default() -> Self {
        Self::new()
    }
}

fn empty() -> Histogram<u64> {
    Histogram::new(DIGITS).unwrap_or_else(|_| unreachable!("2 significant digits is valid"))
}

impl PhaseHistograms {
    /// Nothing recorded yet.
    pub fn new() -> Self {
        PhaseHistograms {
            histograms: std::array::from_fn(|_| empty()),
            exchanges: 0,
            opened: 0,
            opened_per_second: Vec::new(),
        }
    }

    /// Record one exchange, which ended in second `second` of the run
    /// (counted from the run's start).
    pub fn record(&mut self, phases: &Phases, second: u64) {
        self.exchanges += 1;
        for (i, phase) in Phase::ALL.iter().enumerate() {
            if let Some(d) = phases.get(*phase) {
                let us = u64::try_from(d.as_micros())
                    .unwrap_or(u64::MAX)
                    .clamp(1, crate::hdr::MAX_US);
                if self.histograms[i].record(us).is_err() {
                    self.histograms[i].saturating_record(us);
                }
            }
        }
        if phases.opened.is_some() {
            self.opened += 1;
            let s = usize::try_from(second).unwrap_or(usize::MAX).min(1 << 24);
            if self.opened_per_second.len() <= s {
                self.opened_per_second.resize(s + 1, 0);
            }
            self.opened_per_second[s] = self.opened_per_second[s].saturating_add(1);
        }
    }

    /// Add what `other` recorded (another shard, another worker).
    pub fn add(&mut self, other: &PhaseHistograms) {
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            // Both auto-resize: adding cannot fail on range.
            let _ = mine.add(theirs);
        }
        self.exchanges += other.exchanges;
        self.opened += other.opened;
        if self.opened_per_second.len() < other.opened_per_second.len() {
            self.opened_per_second
                .resize(other.opened_per_second.len(), 0);
        }
        for (mine, theirs) in self
            .opened_per_second
            .iter_mut()
            .zip(&other.opened_per_second)
        {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The histogram (µs) of `phase`: only the exchanges that went through it.
    pub fn histogram(&self, phase: Phase) -> &Histogram<u64> {
        &self.histograms[phase as usize]
    }

    /// Exchanges recorded.
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    /// Exchanges that opened a connection.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Exchanges that reused a kept-alive connection.
    pub fn reused(&self) -> u64 {
        self.exchanges - self.opened
    }

    /// Connections opened in each second of the run (index: the second).
    pub fn opened_per_second(&self) -> &[u32] {
        &self.opened_per_second
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Opening;
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn reused_exchanges_add_nothing_to_the_opening_phases() {
        let mut h = PhaseHistograms::new();
        let reused = Phases {
            opened: None,
            send: ms(1),
            wait: ms(20),
            receive: ms(1),
        };
        let opened = Phases {
            opened: Some(Opening {
                dns: Some(ms(5)),
                connect: ms(2),
                tls: Some(ms(200)),
            }),
            ..reused
        };
        for _ in 0..9 {
            h.record(&reused, 0);
        }
        h.record(&opened, 3);
        assert_eq!((h.exchanges(), h.opened(), h.reused()), (10, 1, 9));
        assert_eq!(h.histogram(Phase::Tls).len(), 1);
        let tls = h.histogram(Phase::Tls).value_at_quantile(0.5);
        assert!((198_000..=202_000).contains(&tls), "{tls}");
        assert_eq!(h.histogram(Phase::Wait).len(), 10);
        assert_eq!(h.opened_per_second(), &[0, 0, 0, 1]);

        let mut sum = PhaseHistograms::new();
        sum.add(&h);
        sum.add(&h);
        assert_eq!((sum.exchanges(), sum.opened()), (20, 2));
        assert_eq!(sum.opened_per_second(), &[0, 0, 0, 2]);
        assert_eq!(sum.histogram(Phase::Dns).len(), 2);
    }
}
