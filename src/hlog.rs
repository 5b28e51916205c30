//! HdrHistogram interval logs (`.hlog`), written as HdrHistogram's own
//! `HistogramLogWriter` writes them, so that its tools read ours:
//! `HistogramLogProcessor`, `HistogramLogReader`, HistogramLogAnalyzer, the
//! Python `hdrhistogram` package.
//!
//! A log is a header — a comment, `#[Histogram log format version 1.3]`,
//! `#[StartTime: …]`, `#[BaseTime: …]`, `#[MaxValueDivisor: 1000.000]` (values
//! are microseconds, the interval maximum is printed in milliseconds) and the
//! legend line — then one line per interval histogram: `Tag=<tag>,<start>,
//! <length>,<max>,<histogram>`, the histogram in the *compressed* V2 encoding
//! (cookie `0x1c849314`, `HISTFAAA…` in base64).
//!
//! Every interval is written twice over: an untagged line with the total of
//! the interval (what HdrHistogram's tools show when no `-tag` is given), then
//! one tagged line per part (a service, a service's latency or service time).
//! [`read`] returns the tagged lines; it reads the compressed encoding and the
//! uncompressed V2 one that release 0.1.0 wrote, so older results folders still
//! merge, compare and report.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use base64::Engine;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// The legend line of HdrHistogram's `HistogramLogWriter`.
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// Values are recorded in microseconds; `Interval_Max` is shown in milliseconds.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// One interval histogram of a log: its tag, start (from the log's start) and
/// length.
#[derive(Debug, Clone)]
pub struct Entry<'h> {
    /// What the histogram holds (`ReportarAfiliaciontraslado`,
    /// `ReportarAfiliaciontraslado/service_time`, `token/latency`).
    pub tag: String,
    /// Start of the interval, from the log's start.
    pub start: Duration,
    /// Length of the interval.
    pub length: Duration,
    /// The values, in microseconds.
    pub histogram: std::borrow::Cow<'h, Histogram<u64>>,
}

/// Writes an interval log line by line.
struct Writer<W: Write> {
    out: W,
    serializer: V2DeflateSerializer,
    bytes: Vec<u8>,
    text: String,
}

impl<W: Write> Writer<W> {
    fn begin(mut out: W, started: SystemTime, comment: &str) -> io::Result<Self> {
        for line in comment.lines() {
            writeln!(out, "#{line}")?;
        }
        let at = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let date: DateTime<Utc> = started.into();
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[StartTime: {at:.3} (seconds since epoch), {}]",
            date.format("%a %b %d %H:%M:%S UTC %Y")
        )?;
        writeln!(out, "#[BaseTime: {at:.3} (seconds since epoch)]")?;
        writeln!(out, "#[MaxValueDivisor: {MAX_VALUE_DIVISOR:.3}]")?;
        writeln!(out, "{LEGEND}")?;
        Ok(Writer {
            out,
            serializer: V2DeflateSerializer::new(),
            bytes: Vec::new(),
            text: String::new(),
        })
    }

    fn line(
        &mut self,
        tag: Option<&str>,
        start: Duration,
        length: Duration,
        h: &Histogram<u64>,
    ) -> io::Result<()> {
        if let Some(tag) = tag {
            if tag.is_empty() || tag.contains([',', ' ', '\n', '\r']) {
                return Err(io::Error::other(format!(
                    "tag {tag:?}: HdrHistogram's tags hold no comma, space or line break"
                )));
            }
            write!(self.out, "Tag={tag},")?;
        }
        self.bytes.clear();
        self.text.clear();
        self.serializer
            .serialize(h, &mut self.bytes)
            .map_err(|e| io::Error::other(format!("{tag:?}: {e:?}")))?;
        base64::engine::general_purpose::STANDARD.encode_string(&self.bytes, &mut self.text);
        writeln!(
            self.out,
            "{:.3},{:.3},{:.3},{}",
            start.as_secs_f64(),
            length.as_secs_f64(),
            h.max() as f64 / MAX_VALUE_DIVISOR,
            self.text
        )
    }
}

/// Write `entries`, in order of start, as an interval log that starts at
/// `started`, headed by `comment`. Before each run of entries with the same
/// start and length goes an untagged line: the sum of those whose tag
/// `in_total` selects (the services' latency, not their service time).
pub fn write<'h>(
    out: impl Write,
    started: SystemTime,
    comment: &str,
    entries: impl IntoIterator<Item = io::Result<Entry<'h>>>,
    in_total: impl Fn(&str) -> bool,
) -> io::Result<()> {
    let mut writer = Writer::begin(out, started, comment)?;
    let mut group: Vec<Entry<'h>> = Vec::new();
    let mut flush = |group: &mut Vec<Entry<'h>>| -> io::Result<()> {
        let Some(first) = group.first() else {
            return Ok(());
        };
        let (start, length) = (first.start, first.length);
        let mut total = crate::hdr::histogram();
        for e in group.iter().filter(|e| in_total(&e.tag)) {
            total
                .add(e.histogram.as_ref())
                .map_err(|err| io::Error::other(format!("{}: {err:?}", e.tag)))?;
        }
        writer.line(None, start, length, &total)?;
        for e in group.drain(..) {
            writer.line(Some(&e.tag), e.start, e.length, &e.histogram)?;
        }
        Ok(())
    };
    for entry in entries {
        let entry = entry?;
        if group
            .first()
            .is_some_and(|g| (g.start, g.length) != (entry.start, entry.length))
        {
            flush(&mut group)?;
        }
        group.push(entry);
    }
    flush(&mut group)?;
    writer.out.flush()
}

/// The start time in a log's header (`#[StartTime: …]`), if it has one.
pub fn start_time(text: &[u8]) -> Option<SystemTime> {
    IntervalLogIterator::new(text)
        .flatten()
        .find_map(|e| match e {
            LogEntry::StartTime(t) => Some(SystemTime::UNIX_EPOCH + t),
            _ => None,
        })
}

/// The tagged entries of an interval log (`path` names it in errors): tag,
/// start in seconds from the log's start, histogram. Both V2 encodings are
/// read, compressed (this release) and uncompressed (0.1.0); untagged lines —
/// the totals of the tagged ones — are left out.
pub fn read(text: &[u8], path: &Path) -> anyhow::Result<Vec<(String, f64, Histogram<u64>)>> {
    let mut out = Vec::new();
    for_each(text, path, |tag, start, h| {
        out.push((tag.to_owned(), start, h));
        Ok(())
    })?;
    Ok(out)
}

/// [`read`] one entry at a time: `visit` gets each tagged entry (tag, start,
/// histogram) as it is decoded, so a reader that keeps a few numbers of each
/// second holds one histogram at a time, not a long run's thousands of them
/// (a decoded histogram is tens of kilobytes). The first error, the log's or
/// `visit`'s, ends the reading.
pub fn for_each(
    text: &[u8],
    path: &Path,
    mut visit: impl FnMut(&str, f64, Histogram<u64>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut deserializer = Deserializer::new();
    let mut bytes = Vec::new();
    for (n, entry) in IntervalLogIterator::new(text).enumerate() {
        let entry = entry.map_err(|e| anyhow::anyhow!("{}: entry {n}: {e:?}", path.display()))?;
        let LogEntry::Interval(i) = entry else {
            continue;
        };
        let Some(tag) = i.tag() else {
            continue;
        };
        bytes.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(i.encoded_histogram(), &mut bytes)
            .with_context(|| format!("{}: entry {n}: bad base64", path.display()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("{}: entry {n}: {e:?}", path.display()))?;
        visit(tag.as_str(), i.start_timestamp().as_secs_f64(), h)?;
    }
    Ok(())
}

/// [`read`] a log file.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<(String, f64, Histogram<u64>)>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    read(&text, path)
}

/// [`for_each`] entry of a log file.
pub fn for_each_in_file(
    path: &Path,
    visit: impl FnMut(&str, f64, Histogram<u64>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    for_each(&text, path, visit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::V2Serializer;
    use std::borrow::Cow;

    fn h(values: &[u64]) -> Histogram<u64> {
        let mut h = crate::hdr::histogram();
        for v in values {
            h.record(*v).expect("record");
        }
        h
    }

    fn entry(tag: &str, second: u64, h: Histogram<u64>) -> io::Result<Entry<'static>> {
        Ok(Entry {
            tag: tag.to_owned(),
            start: Duration::from_secs(second),
            length: Duration::from_secs(1),
            histogram: Cow::Owned(h),
        })
    }

    /// A log of three entries: A and B in second 0, A in second 1.
    fn three_entries(started: SystemTime, comment: &str) -> Vec<u8> {
        let mut log = Vec::new();
        write(
            &mut log,
            started,
            comment,
            [
                entry("A", 0, h(&[1000, 2000])),
                entry("B", 0, h(&[3000])),
                entry("A", 1, h(&[5000])),
            ],
            |_| true,
        )
        .expect("write");
        log
    }

    #[test]
    fn compressed_lines_with_totals_and_the_writers_header() {
        let log = three_entries(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            "a test",
        );
        let text = String::from_utf8(log).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#a test");
        assert_eq!(lines[1], "#[Histogram log format version 1.3]");
        assert_eq!(
            lines[2],
            "#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]"
        );
        assert_eq!(lines[5], LEGEND);
        assert!(lines[6].starts_with("0.000,1.000,3.001,HISTFAAA"), "{text}");
        assert!(
            lines[7].starts_with("Tag=A,0.000,1.000,2.000,HISTFAAA"),
            "{text}"
        );
        assert!(lines[9].starts_with("1.000,1.000,5.003,HISTFAAA"), "{text}");
        assert_eq!(lines.len(), 11);
        let read = read(text.as_bytes(), Path::new("t.hlog")).expect("read");
        let tags: Vec<(&str, f64, u64)> = read
            .iter()
            .map(|(t, s, h)| (t.as_str(), *s, h.len()))
            .collect();
        assert_eq!(tags, [("A", 0.0, 2), ("B", 0.0, 1), ("A", 1.0, 1)]);
        assert_eq!(
            start_time(text.as_bytes()),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    #[test]
    fn the_uncompressed_encoding_of_0_1_0_still_reads() {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&h(&[1000, 2000, 3000]), &mut bytes)
            .expect("serialize");
        let line = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert!(line.starts_with("HISTEw"), "{line}");
        let text =
            format!("#[StartTime: 1.000 (seconds since epoch)]\nTag=X,2.000,1.000,3.001,{line}\n");
        let read = read(text.as_bytes(), Path::new("old.hlog")).expect("read");
        assert_eq!(read.len(), 1);
        assert_eq!((read[0].0.as_str(), read[0].2.len()), ("X", 3));
    }

    #[test]
    fn a_tag_with_a_comma_is_refused() {
        let err = write(
            Vec::new(),
            SystemTime::UNIX_EPOCH,
            "x",
            [entry("a,b", 0, h(&[1]))],
            |_| true,
        )
        .expect_err("comma");
        assert!(err.to_string().contains("comma"), "{err}");
    }

    #[test]
    fn entries_are_visited_in_order_and_a_visits_error_ends_the_reading() {
        let log = three_entries(SystemTime::UNIX_EPOCH, "x");
        let mut seen = Vec::new();
        for_each(&log, Path::new("t.hlog"), |tag, start, h| {
            seen.push((tag.to_owned(), start, h.max()));
            Ok(())
        })
        .expect("read");
        let max = |v| h(&[v]).max();
        assert_eq!(
            seen,
            [
                ("A".to_owned(), 0.0, max(2000)),
                ("B".to_owned(), 0.0, max(3000)),
                ("A".to_owned(), 1.0, max(5000))
            ]
        );
        let mut visits = 0;
        let err = for_each(&log, Path::new("t.hlog"), |tag, _, _| {
            visits += 1;
            anyhow::ensure!(tag != "B", "no B here");
            Ok(())
        })
        .expect_err("the visit's error");
        assert_eq!((visits, err.to_string()), (2, "no B here".to_owned()));
    }
}
