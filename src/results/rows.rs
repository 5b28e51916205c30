//! The rows of `timeseries.csv` and `errors.csv`, read and written by header
//! name through serde (the `csv` crate), never by column position.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize, Serializer};

use crate::metrics::ServiceTotals;

/// One second of one service in `timeseries.csv`. `sent` counts the requests
/// actually sent that ended in this second; `dropped` the ones the harness
/// dropped in it (never sent: the in-flight cap was reached). Folders written
/// before the `dropped` column counted dropped requests in `sent` (and read
/// with `dropped` 0); version 1 folders call `stored` `accepted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    /// Seconds from the start of the run.
    pub second: u64,
    /// The service's name.
    pub service: String,
    /// Requests sent that ended in this second.
    pub sent: u64,
    /// Of which stored by the target.
    #[serde(alias = "accepted")]
    pub stored: u64,
    /// Errors: requests neither stored nor rejected as expected, dropped ones
    /// included.
    pub errors: u64,
    /// Latency p50, ms.
    #[serde(serialize_with = "millis")]
    pub p50_ms: f64,
    /// Latency p99, ms.
    #[serde(serialize_with = "millis")]
    pub p99_ms: f64,
    /// Requests dropped in this second (0 in folders written before it).
    #[serde(default)]
    pub dropped: u64,
}

impl TimeseriesRow {
    /// Every request of the second: sent, or dropped.
    pub fn requests(&self) -> u64 {
        self.sent + self.dropped
    }
}

fn millis<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:.3}"))
}

/// One error class of one service in `errors.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRow {
    /// The service's name.
    pub service: String,
    /// The error class (docs/protocol.md).
    pub class: String,
    /// Requests in it.
    pub count: u64,
}

/// `errors.csv`'s rows: service, class, count of every request not `ok`.
pub fn error_rows(totals: &[ServiceTotals]) -> Vec<ErrorRow> {
    totals
        .iter()
        .flat_map(|t| {
            t.outcomes
                .iter()
                .filter(|(o, _)| !o.is_ok())
                .map(|(o, n)| ErrorRow {
                    service: t.service.name().to_owned(),
                    class: o.label().into_owned(),
                    count: *n,
                })
        })
        .collect()
}

/// Rows as CSV with a header line.
pub fn to_csv<T: Serialize>(rows: &[T], name: &str) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).with_context(|| name.to_owned())?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// `errors.csv` with only its header line (no row to make one from).
pub fn errors_csv(rows: &[ErrorRow]) -> anyhow::Result<Vec<u8>> {
    if rows.is_empty() {
        return Ok(b"service,class,count\n".to_vec());
    }
    to_csv(rows, "errors.csv")
}

/// `timeseries.csv` (with its header line even when empty).
pub fn timeseries_csv(rows: &[TimeseriesRow]) -> anyhow::Result<Vec<u8>> {
    if rows.is_empty() {
        return Ok(b"second,service,sent,stored,errors,p50_ms,p99_ms,dropped\n".to_vec());
    }
    to_csv(rows, "timeseries.csv")
}

/// Read the rows of the CSV file at `path`; an error names the file, the row
/// and the column.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, row) in reader.deserialize().enumerate() {
        rows.push(row.with_context(|| format!("{}: row {}", path.display(), n + 2))?);
    }
    Ok(rows)
}

/// One second's counts over every service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCounts {
    /// Requests sent that ended in this second.
    pub sent: u64,
    /// Requests dropped in it (never sent).
    pub dropped: u64,
    /// Of the sent, stored by the target.
    pub stored: u64,
    /// Errors (dropped included).
    pub errors: u64,
}

impl SecondCounts {
    /// Every request of the second: sent, or dropped.
    pub fn requests(&self) -> u64 {
        self.sent + self.dropped
    }
}

/// `timeseries.csv`'s counts per second of the folder `dir`, every service
/// added.
pub fn second_counts(dir: &Path) -> anyhow::Result<std::collections::BTreeMap<u64, SecondCounts>> {
    let mut counts: std::collections::BTreeMap<u64, SecondCounts> = Default::default();
    for r in read::<TimeseriesRow>(&dir.join("timeseries.csv"))? {
        let c = counts.entry(r.second).or_default();
        c.sent += r.sent;
        c.dropped += r.dropped;
        c.stored += r.stored;
        c.errors += r.errors;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_round_trips_and_old_headers_read() {
        let row = TimeseriesRow {
            second: 3,
            service: "ReportarAfiliaciontraslado".into(),
            sent: 10,
            stored: 9,
            errors: 2,
            p50_ms: 1.5,
            p99_ms: 12.25,
            dropped: 1,
        };
        let bytes = timeseries_csv(std::slice::from_ref(&row)).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text,
            "second,service,sent,stored,errors,p50_ms,p99_ms,dropped\n\
             3,ReportarAfiliaciontraslado,10,9,2,1.500,12.250,1\n"
        );
        let dir = tempfile::tempdir().expect("dir");
        let old = dir.path().join("timeseries.csv");
        std::fs::write(
            &old,
            "second,service,sent,accepted,errors,p50_ms,p99_ms\n0,X,5,4,1,6.119,11.919\n",
        )
        .expect("write");
        let rows: Vec<TimeseriesRow> = read(&old).expect("read");
        assert_eq!(
            (rows[0].stored, rows[0].dropped, rows[0].requests()),
            (4, 0, 5)
        );
        std::fs::write(&old, "second,service,sent,errors\n0,X,5,1\n").expect("write");
        let e = format!("{:#}", read::<TimeseriesRow>(&old).expect_err("no stored"));
        assert!(e.contains("timeseries.csv") && e.contains("stored"), "{e}");
    }
}
