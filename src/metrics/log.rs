//! The metrics as HdrHistogram interval logs (the format is [`crate::hlog`]'s):
//! a run's seconds (`latency.hlog`), its totals (`totals.hlog`), and any
//! tagged histograms (what `merge` writes of several workers).

use std::borrow::Cow;
use std::io;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

use super::{Metrics, ServiceTotals, lock};
use crate::hlog;

impl Metrics {
    /// Write the intervals as an HdrHistogram interval log (see
    /// [`crate::hlog`]): per second, the services' total, then one tagged
    /// histogram per service.
    pub fn write_hlog(&self, out: &mut impl io::Write) -> io::Result<()> {
        let mut deserializer = Deserializer::new();
        let entries = self.intervals().into_iter().map(|i| {
            let bytes = lock(&self.aggregate).spill.read(i.spilled)?;
            let h: Histogram<u64> = deserializer
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| io::Error::other(format!("interval {}: {e:?}", i.second)))?;
            Ok(hlog::Entry {
                tag: i.service.name().to_owned(),
                start: Duration::from_secs(i.second),
                length: Duration::from_secs(1),
                histogram: Cow::Owned(h),
            })
        });
        hlog::write(
            out,
            self.started_wall(),
            "mss-harness latency from the intended send time, microseconds; untagged: all services",
            entries,
            |_| true,
        )
    }
}

/// Write `entries` (tag, start from `started`, length, histogram), in order of
/// start, as an HdrHistogram interval log (see [`crate::hlog`]); each
/// interval's untagged total adds the entries whose tag is a service or ends
/// in `/latency`.
pub fn write_tagged_hlog(
    out: &mut impl io::Write,
    started: SystemTime,
    comment: &str,
    entries: &[(&str, Duration, Duration, &Histogram<u64>)],
) -> io::Result<()> {
    let entries = entries.iter().map(|(tag, start, length, h)| {
        Ok(hlog::Entry {
            tag: (*tag).to_owned(),
            start: *start,
            length: *length,
            histogram: Cow::Borrowed(*h),
        })
    });
    hlog::write(out, started, comment, entries, is_latency)
}

/// Whether a tag names a latency (a service, `<service>/latency`,
/// `token/latency`), not a service time.
fn is_latency(tag: &str) -> bool {
    !tag.contains('/') || tag.ends_with("/latency")
}

/// Write the totals of a run as an HdrHistogram interval log (see
/// [`crate::hlog`]): for each service with requests, its latency from the
/// intended time (tag `<service>/latency`), its service time
/// (`<service>/service_time`) and its send lag (`<service>/send_lag`, when it
/// sent anything), over the whole run — what the report's
/// percentile distribution is drawn from; untagged, every service's latency.
pub fn write_totals_hlog(
    totals: &[ServiceTotals],
    started: SystemTime,
    seconds: f64,
    out: &mut impl io::Write,
) -> io::Result<()> {
    let length = Duration::from_secs_f64(seconds.max(0.0));
    let entries = totals
        .iter()
        .filter(|t| !t.latency.is_empty())
        .flat_map(|t| {
            [
                ("latency", &t.latency),
                ("service_time", &t.service_time),
                ("send_lag", &t.send_lag),
            ]
            .into_iter()
            .filter(|(kind, h)| *kind != "send_lag" || !h.is_empty())
            .map(|(kind, h)| {
                Ok(hlog::Entry {
                    tag: format!("{}/{kind}", t.service.name()),
                    start: Duration::ZERO,
                    length,
                    histogram: Cow::Borrowed(h),
                })
            })
        });
    hlog::write(
        out,
        started,
        "mss-harness run totals, microseconds: <service>/latency, <service>/service_time and <service>/send_lag; untagged: every service's latency",
        entries,
        is_latency,
    )
}
