//! Where the time went: the phase timings of a run's exchanges (DNS,
//! connect, TLS, request written, time to first byte, body read), per report
//! service and for the token service — as a run's record holds them
//! ([`PhaseRecord`]), as `summary.json`'s `phases` section shows them
//! ([`ExchangePhases`]), and as the results folder keeps them so that
//! `merge` adds histograms, not percentiles: `phases.hlog` (one histogram per
//! service and phase over the run, tag `<service>/<phase>`, µs) and
//! `connections.csv` (the connections each service opened in each second).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::keys::{Nullable, nullable};
use crate::transport::{Phase, PhaseHistograms};

/// The name the token service's phases go by (beside the report services'
/// protocol names).
pub const TOKEN: &str = "token";

/// The file of the phase histograms.
pub const HLOG: &str = "phases.hlog";

/// The file of the connections opened per second.
pub const CONNECTIONS: &str = "connections.csv";

/// One service's exchanges over a run, timed by phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicePhases {
    /// Per phase, the histogram (µs) of the exchanges that went through it;
    /// a phase none went through is absent.
    pub histograms: BTreeMap<Phase, Histogram<u64>>,
    /// Exchanges timed.
    pub exchanges: u64,
    /// Of which opened a connection.
    pub opened: u64,
    /// Connections opened in each second of the run (index: the second).
    pub opened_per_second: Vec<u64>,
}

impl ServicePhases {
    /// What `h` accumulated.
    pub fn of(h: &PhaseHistograms) -> Self {
        ServicePhases {
            histograms: Phase::ALL
                .into_iter()
                .filter(|p| !h.histogram(*p).is_empty())
                .map(|p| (p, h.histogram(p).clone()))
                .collect(),
            exchanges: h.exchanges(),
            opened: h.opened(),
            opened_per_second: h
                .opened_per_second()
                .iter()
                .map(|n| u64::from(*n))
                .collect(),
        }
    }

    /// Add `other`'s (another worker's, its seconds shifted by `offset`).
    pub fn add(&mut self, other: &ServicePhases, offset: u64) -> anyhow::Result<()> {
        for (phase, h) in &other.histograms {
            match self.histograms.get_mut(phase) {
                Some(mine) => mine
                    .add(h)
                    .map_err(|e| anyhow::anyhow!("{} histogram addition: {e:?}", phase.name()))?,
                None => {
                    let mut h = h.clone();
                    // Read back from a file, a histogram is sized to what it
                    // holds: it must grow to take another worker's values.
                    h.auto(true);
                    self.histograms.insert(*phase, h);
                }
            }
        }
        self.exchanges += other.exchanges;
        self.opened += other.opened;
        let off = usize::try_from(offset).unwrap_or(usize::MAX).min(1 << 24);
        let len = other.opened_per_second.len() + off;
        if self.opened_per_second.len() < len {
            self.opened_per_second.resize(len, 0);
        }
        for (s, n) in other.opened_per_second.iter().enumerate() {
            self.opened_per_second[s + off] += n;
        }
        Ok(())
    }
}

/// A run's phase timings: per service (its protocol name, or [`TOKEN`]) that
/// timed any exchange.
pub type PhaseRecord = BTreeMap<String, ServicePhases>;

/// One service's exchanges in `summary.json`: how many, how many opened a
/// connection, and where their time went, phase by phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangePhases {
    /// Exchanges timed (a resend is an exchange of its own).
    pub exchanges: u64,
    /// Of which opened a connection (and went through DNS, connect, TLS).
    pub opened: u64,
    /// Of which reused a kept-alive connection.
    pub reused: u64,
    /// Connections opened per second of the load: a target that closes its
    /// connections shows a rate that follows the request rate.
    pub opened_per_second: OpenedRate,
    /// The name's resolution; null when no exchange looked a name up.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<PhaseStats>")]
    pub dns: Option<PhaseStats>,
    /// The TCP connection; null when every exchange reused one.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<PhaseStats>")]
    pub connect: Option<PhaseStats>,
    /// The TLS handshake; null on plain HTTP or when every exchange reused a
    /// connection.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<PhaseStats>")]
    pub tls: Option<PhaseStats>,
    /// The request written.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<PhaseStats>")]
    pub send: Option<PhaseStats>,
    /// Time to first byte after the request was written (the target's own
    /// time and the network's round trip).
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<PhaseStats>")]
    pub wait: Option<PhaseStats>,
    /// The body read.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<PhaseStats>")]
    pub receive: Option<PhaseStats>,
}

impl ExchangePhases {
    /// The statistics of `phase` (`None`: no exchange went through it).
    pub fn get(&self, phase: Phase) -> Option<&PhaseStats> {
        match phase {
            Phase::Dns => self.dns.as_ref(),
            Phase::Connect => self.connect.as_ref(),
            Phase::Tls => self.tls.as_ref(),
            Phase::Send => self.send.as_ref(),
            Phase::Wait => self.wait.as_ref(),
            Phase::Receive => self.receive.as_ref(),
        }
    }

    /// The section of `s`, over a load of `seconds`.
    pub fn of(s: &ServicePhases, seconds: f64) -> Self {
        let stats = |p: Phase| s.histograms.get(&p).and_then(PhaseStats::of);
        ExchangePhases {
            exchanges: s.exchanges,
            opened: s.opened,
            reused: s.exchanges - s.opened.min(s.exchanges),
            opened_per_second: OpenedRate {
                max: s.opened_per_second.iter().copied().max().unwrap_or(0),
                mean: if seconds > 0.0 {
                    (s.opened as f64 / seconds * 1000.0).round() / 1000.0
                } else {
                    0.0
                },
            },
            dns: stats(Phase::Dns),
            connect: stats(Phase::Connect),
            tls: stats(Phase::Tls),
            send: stats(Phase::Send),
            wait: stats(Phase::Wait),
            receive: stats(Phase::Receive),
        }
    }
}

/// Connections opened per second of the load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenedRate {
    /// The most opened in one second.
    pub max: u64,
    /// Opened over the load's seconds (`duration_s`), to a thousandth.
    #[schemars(range(min = 0))]
    pub mean: f64,
}

/// One phase over the exchanges that went through it, milliseconds to a
/// thousandth (the histograms hold µs at two significant digits).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseStats {
    /// Exchanges that went through the phase.
    pub count: u64,
    /// Mean, ms.
    #[schemars(range(min = 0))]
    pub mean_ms: f64,
    /// Median, ms.
    #[schemars(range(min = 0))]
    pub p50_ms: f64,
    /// 90th percentile, ms.
    #[schemars(range(min = 0))]
    pub p90_ms: f64,
    /// 99th percentile, ms.
    #[schemars(range(min = 0))]
    pub p99_ms: f64,
    /// The largest, ms.
    #[schemars(range(min = 0))]
    pub max_ms: f64,
}

fn ms(us: f64) -> f64 {
    (us).round() / 1000.0
}

impl PhaseStats {
    /// Of `h` (µs); `None` when empty.
    pub fn of(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let q = |q: f64| ms(h.value_at_quantile(q) as f64);
        Some(PhaseStats {
            count: h.len(),
            mean_ms: ms(h.mean()),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: ms(h.max() as f64),
        })
    }
}

/// One row of `connections.csv`: a service opened `opened` connections in
/// second `second` of the run (seconds it opened none have no row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ConnectionRow {
    second: u64,
    service: String,
    opened: u64,
}

/// Write `record` into the folder `dir` as `phases.hlog` and
/// `connections.csv`, the log starting at `started` and `seconds` long.
/// Nothing is written for a record without any exchange.
pub fn write(
    dir: &Path,
    record: &PhaseRecord,
    started: SystemTime,
    seconds: f64,
) -> anyhow::Result<()> {
    if record.is_empty() {
        return Ok(());
    }
    let length = Duration::from_secs_f64(seconds.max(0.0));
    let tags: Vec<(String, &Histogram<u64>)> = record
        .iter()
        .flat_map(|(service, s)| {
            s.histograms
                .iter()
                .map(move |(p, h)| (format!("{service}/{}", p.name()), h))
        })
        .collect();
    let entries: Vec<(&str, Duration, Duration, &Histogram<u64>)> = tags
        .iter()
        .map(|(tag, h)| (tag.as_str(), Duration::ZERO, length, *h))
        .collect();
    let mut log = Vec::new();
    crate::metrics::write_tagged_hlog(
        &mut log,
        started,
        "mss-harness phase timings over the run, microseconds: <service>/<phase> (dns, connect, tls, send, wait, receive); a phase holds only the exchanges that went through it",
        &entries,
    )
    .context(HLOG)?;
    super::write_file(dir, HLOG, &log)?;
    let rows: Vec<ConnectionRow> = record
        .iter()
        .flat_map(|(service, s)| {
            s.opened_per_second
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(second, n)| ConnectionRow {
                    second: second as u64,
                    service: service.clone(),
                    opened: *n,
                })
        })
        .collect();
    let csv = if rows.is_empty() {
        b"second,service,opened\n".to_vec()
    } else {
        super::rows::to_csv(&rows, CONNECTIONS)?
    };
    super::write_file(dir, CONNECTIONS, &csv)
}

/// The phase timings kept in the folder `dir`: `None` when it has no
/// `phases.hlog` (a run that timed no exchange, or a folder written before
/// phases were timed). A tag that names no phase, or a service whose
/// connections are not in its histograms, is an error naming the file.
pub fn read(dir: &Path) -> anyhow::Result<Option<PhaseRecord>> {
    let path = dir.join(HLOG);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut record = PhaseRecord::new();
    for (tag, _, mut h) in crate::hlog::read(&bytes, &path)? {
        h.auto(true);
        let phase = tag.rsplit_once('/').and_then(|(service, name)| {
            Phase::ALL
                .into_iter()
                .find(|p| p.name() == name)
                .map(|p| (service, p))
        });
        let Some((service, phase)) = phase else {
            bail!(
                "{}: tag {tag:?} is not <service>/<phase> (phases: dns, connect, tls, send, wait, receive)",
                path.display()
            );
        };
        let s = record.entry(service.to_owned()).or_default();
        // Every exchange waits for its answer; every opening connects.
        match phase {
            Phase::Wait => s.exchanges = h.len(),
            Phase::Connect => s.opened = h.len(),
            _ => {}
        }
        s.histograms.insert(phase, h);
    }
    let csv = dir.join(CONNECTIONS);
    for row in super::rows::read::<ConnectionRow>(&csv)? {
        let Some(s) = record.get_mut(&row.service) else {
            bail!(
                "{}: second {}: service {:?} has no phase histograms in {HLOG}",
                csv.display(),
                row.second,
                row.service
            );
        };
        let at = usize::try_from(row.second)
            .ok()
            .filter(|s| *s < 1 << 24)
            .with_context(|| format!("{}: second {} is too large", csv.display(), row.second))?;
        if s.opened_per_second.len() <= at {
            s.opened_per_second.resize(at + 1, 0);
        }
        s.opened_per_second[at] += row.opened;
    }
    for (service, s) in &record {
        let counted: u64 = s.opened_per_second.iter().sum();
        if counted != s.opened {
            bail!(
                "{}: {service} opened {counted} connections, and {} holds {} connect phases",
                csv.display(),
                path.display(),
                s.opened
            );
        }
    }
    Ok(Some(record))
}

/// Exchanges timed as the tests want them (every module's tests of the
/// phases start from these).
#[cfg(test)]
pub(crate) mod fixture {
    use std::time::Duration;

    use crate::transport::{Opening, PhaseHistograms, Phases};

    /// `n` milliseconds.
    pub(crate) fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An exchange on a kept-alive connection: written in 1 ms, its first
    /// byte `wait` ms later, its body read in 2 ms.
    pub(crate) fn reused(wait: u64) -> Phases {
        Phases {
            opened: None,
            send: ms(1),
            wait: ms(wait),
            receive: ms(2),
        }
    }

    /// The same, on a connection it opened: no name looked up, connected in
    /// 3 ms, its TLS handshake `tls` ms.
    pub(crate) fn opened(tls: u64, wait: u64) -> Phases {
        Phases {
            opened: Some(Opening {
                dns: None,
                connect: ms(3),
                tls: Some(ms(tls)),
            }),
            ..reused(wait)
        }
    }

    /// `n` exchanges, the first and every `every`-th after it opening a
    /// connection ([`opened`]), the others reusing one ([`reused`]); the
    /// `i`-th ends in second `second(i)`.
    pub(crate) fn timed(
        n: u64,
        every: u64,
        (tls, wait): (u64, u64),
        second: impl Fn(u64) -> u64,
    ) -> PhaseHistograms {
        let mut h = PhaseHistograms::new();
        for i in 0..n {
            let phases = if i % every == 0 {
                opened(tls, wait)
            } else {
                reused(wait)
            };
            h.record(&phases, second(i));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 90 exchanges on kept-alive connections (wait 40 ms) and 10 that
    /// opened one (connect 3 ms, TLS 200 ms), 50 in second 0 and 50 in second 2.
    fn timed() -> PhaseHistograms {
        fixture::timed(100, 10, (200, 40), |n| if n < 50 { 0 } else { 2 })
    }

    #[test]
    fn the_section_counts_openings_apart_and_averages_no_zeros_in() {
        let s = ExchangePhases::of(&ServicePhases::of(&timed()), 4.0);
        assert_eq!((s.exchanges, s.opened, s.reused), (100, 10, 90));
        assert_eq!(s.opened_per_second, OpenedRate { max: 5, mean: 2.5 });
        assert_eq!(s.dns, None, "nothing was looked up");
        let tls = s.tls.expect("tls");
        assert_eq!(tls.count, 10);
        // Only the 10 openings: no zero of a reused connection averaged in.
        assert!((199.0..=201.0).contains(&tls.mean_ms), "{tls:?}");
        assert!((199.0..=201.0).contains(&tls.p50_ms), "{tls:?}");
        let wait = s.wait.expect("wait");
        assert_eq!(wait.count, 100);
        assert!((39.5..=40.5).contains(&wait.p99_ms), "{wait:?}");
    }

    #[test]
    fn the_folder_keeps_histograms_that_read_back_and_add_up() {
        let dir = tempfile::tempdir().expect("dir");
        let mut record = PhaseRecord::new();
        record.insert(
            "ReportarAfiliaciontraslado".into(),
            ServicePhases::of(&timed()),
        );
        record.insert(TOKEN.into(), ServicePhases::of(&timed()));
        write(dir.path(), &record, SystemTime::now(), 4.0).expect("write");
        let read_back = read(dir.path()).expect("read").expect("kept");
        assert_eq!(read_back, record, "what was kept is what was timed");
        let csv = std::fs::read_to_string(dir.path().join(CONNECTIONS)).expect("csv");
        assert!(csv.starts_with("second,service,opened\n0,ReportarAfiliaciontraslado,5\n2,ReportarAfiliaciontraslado,5\n"), "{csv}");

        // Two workers, the second started 3 s later: histograms add, seconds shift.
        let mut sum = ServicePhases::default();
        sum.add(&read_back[TOKEN], 0).expect("add");
        sum.add(&read_back[TOKEN], 3).expect("add");
        assert_eq!((sum.exchanges, sum.opened), (200, 20));
        assert_eq!(sum.opened_per_second, [5, 0, 5, 5, 0, 5]);
        assert_eq!(sum.histograms[&Phase::Tls].len(), 20);
        // A worker whose target was far slower: the histograms read back
        // (sized to what they held) grow to take its values.
        let mut first = read(dir.path()).expect("read").expect("kept");
        let slow = ServicePhases::of(&fixture::timed(10, 5, (200, 90_000), |_| 0));
        let first = first.remove(TOKEN).expect("token");
        let mut merged = ServicePhases::default();
        merged.add(&first, 0).expect("add");
        merged.add(&slow, 0).expect("a slower worker adds");
        assert_eq!(merged.histograms[&Phase::Wait].len(), 110);

        // A file that does not add up is named.
        let wrong = csv.replace("0,token,5", "0,token,4");
        std::fs::write(dir.path().join(CONNECTIONS), wrong).expect("write");
        let e = format!("{:#}", read(dir.path()).expect_err("opened 4, 10 connects"));
        assert!(e.contains(CONNECTIONS) && e.contains("token"), "{e}");
        std::fs::write(
            dir.path().join(CONNECTIONS),
            "second,service,opened\n0,nobody,4\n",
        )
        .expect("write");
        let e = format!("{:#}", read(dir.path()).expect_err("unknown service"));
        assert!(e.contains("nobody"), "{e}");
    }

    #[test]
    fn nothing_timed_writes_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        write(dir.path(), &PhaseRecord::new(), SystemTime::now(), 1.0).expect("write");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
        assert_eq!(read(dir.path()).expect("read"), None);
    }
}
