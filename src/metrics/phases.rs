//! Where each report request's time went ([`crate::transport::Phases`]):
//! recorded into the sender's shard beside its latency, and read as the
//! run's totals per service, the shards added up.

use crate::domain::Service;
use crate::transport::{PhaseHistograms, Phases};

use super::{Metrics, index, lock};

impl Metrics {
    /// Record the phases of one exchange of `service` (a report request; a
    /// resend is an exchange of its own), which ended now. One uncontended
    /// lock on the sender's shard, as [`Metrics::record`]; the run's start is
    /// read only for an exchange that opened a connection (the second it is
    /// counted in), not for the many that reused one.
    pub fn record_phases(&self, shard: usize, service: Service, phases: &Phases) {
        let second = match phases.opened {
            Some(_) => lock(&self.started).elapsed().as_secs(),
            None => 0,
        };
        let mut guard = lock(&self.shards[shard % self.shards.len()]);
        guard.phases[index(service)].record(phases, second);
    }

    /// The phase timings of each service so far, in [`Service::ALL`] order:
    /// every shard's added up.
    pub fn phases(&self) -> [PhaseHistograms; 2] {
        let mut sum = [PhaseHistograms::new(), PhaseHistograms::new()];
        for shard in self.shards.iter() {
            let s = lock(shard);
            for (into, theirs) in sum.iter_mut().zip(&s.phases) {
                into.add(theirs);
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::results::phases::fixture::{opened, reused};
    use crate::transport::Phase;

    #[test]
    fn phases_recorded_on_any_shard_add_up_per_service() {
        let metrics = Metrics::new(Instant::now(), 3);
        for n in 0..10 {
            metrics.record_phases(n, Service::Retracto, &reused(30));
        }
        metrics.record_phases(7, Service::Retracto, &opened(120, 30));
        metrics.record_phases(1, Service::Afiliacion, &opened(120, 30));
        let [afiliacion, retracto] = metrics.phases();
        assert_eq!(
            (retracto.exchanges(), retracto.opened(), retracto.reused()),
            (11, 1, 10)
        );
        assert_eq!(retracto.histogram(Phase::Wait).len(), 11);
        assert_eq!(retracto.histogram(Phase::Tls).len(), 1);
        assert_eq!(retracto.histogram(Phase::Dns).len(), 0);
        assert_eq!(retracto.opened_per_second(), &[1]);
        assert_eq!((afiliacion.exchanges(), afiliacion.opened()), (1, 1));
    }
}
