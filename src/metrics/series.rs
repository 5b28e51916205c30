//! The time series: one [`Interval`] per second and service, its counters
//! kept in memory and its latency histogram encoded (V2) into a [`Spill`],
//! a temporary file, so that a long run's memory stays flat.

use std::io::{self, Read, Seek, SeekFrom, Write};

use serde::Serialize;

use crate::domain::Service;

/// One second of one service.
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    /// Seconds since the start of the run.
    pub second: u64,
    /// The service.
    #[serde(serialize_with = "service_name")]
    pub service: Service,
    /// Requests that ended in this second.
    pub completed: u64,
    /// Of which stored (`ok`).
    pub stored: u64,
    /// Of which errors (neither stored nor rejected as expected), dropped
    /// ones included.
    pub errors: u64,
    /// Of which dropped (never sent: the in-flight cap was reached).
    #[serde(skip)]
    pub dropped: u64,
    /// Latency percentiles of those requests, µs.
    pub p50_us: u64,
    /// Latency percentiles of those requests, µs.
    pub p99_us: u64,
    /// Latency p90 of those requests, µs (the live dashboard's).
    #[serde(skip)]
    pub p90_us: u64,
    /// Service-time p50, p90 and p99 of those requests, µs (the live
    /// dashboard's).
    #[serde(skip)]
    pub service_us: [u64; 3],
    /// Send lag p99 of those requests, µs: how late the harness sent them
    /// (0 when none had one).
    #[serde(skip)]
    pub send_lag_p99_us: u64,
    /// Where its encoded histogram lies in the spill.
    #[serde(skip)]
    pub(super) spilled: (u64, usize),
}

/// Encoded interval histograms: a temporary file (deleted when the run's
/// metrics go), or memory when no temporary file can be made or written.
/// A failure to read them back is kept ([`Spill::failure`]): the results
/// must not stand on seconds that read as zeros.
#[derive(Debug)]
pub(super) struct Spill {
    store: Store,
    /// What went wrong first, naming the file.
    failure: Option<String>,
}

#[derive(Debug)]
enum Store {
    File {
        file: tempfile::NamedTempFile,
        len: u64,
    },
    Memory(Vec<u8>),
}

impl Spill {
    pub(super) fn new() -> Self {
        let store = match tempfile::Builder::new().prefix("mss-series-").tempfile() {
            Ok(file) => Store::File { file, len: 0 },
            Err(_) => Store::Memory(Vec::new()),
        };
        Spill {
            store,
            failure: None,
        }
    }

    /// Where the histograms lie, for a message.
    fn name(&self) -> String {
        match &self.store {
            Store::File { file, .. } => {
                format!("the spilled time series {}", file.path().display())
            }
            Store::Memory(_) => "the time series kept in memory".to_owned(),
        }
    }

    /// The file the histograms are spilled to, if any.
    #[cfg(test)]
    pub(super) fn path(&self) -> Option<&std::path::Path> {
        match &self.store {
            Store::File { file, .. } => Some(file.path()),
            Store::Memory(_) => None,
        }
    }

    /// The first failure to keep or read the histograms, naming the file.
    pub(super) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Append `bytes`; returns where they lie.
    pub(super) fn push(&mut self, bytes: &[u8]) -> (u64, usize) {
        match &mut self.store {
            Store::File { file, len } => {
                let at = *len;
                let file = file.as_file_mut();
                let written = file
                    .seek(SeekFrom::Start(at))
                    .and_then(|_| file.write_all(bytes));
                match written {
                    Ok(()) => {
                        *len += bytes.len() as u64;
                        (at, bytes.len())
                    }
                    Err(_) => {
                        // The disk refused: keep this and later seconds in memory.
                        let mut memory = vec![0; at as usize];
                        let copied = file
                            .seek(SeekFrom::Start(0))
                            .and_then(|_| file.read_exact(&mut memory));
                        if let Err(e) = copied {
                            self.failure.get_or_insert(format!(
                                "{}: its first {at} bytes could not be read back after a write failed: {e}",
                                self.name()
                            ));
                        }
                        self.store = Store::Memory(memory);
                        self.push(bytes)
                    }
                }
            }
            Store::Memory(memory) => {
                let at = memory.len() as u64;
                memory.extend_from_slice(bytes);
                (at, bytes.len())
            }
        }
    }

    /// Keep a failure found in what was read (second `second`): the bytes
    /// are not a histogram.
    pub(super) fn corrupt(&mut self, second: u64, e: impl std::fmt::Debug) {
        let message = format!("{}: second {second}: not a histogram: {e:?}", self.name());
        self.failure.get_or_insert(message);
    }

    /// The bytes at `(at, len)`. A failure names the file and is kept.
    pub(super) fn read(&mut self, (at, len): (u64, usize)) -> io::Result<Vec<u8>> {
        let read = match &mut self.store {
            Store::File { file, .. } => {
                let file = file.as_file_mut();
                let mut bytes = vec![0; len];
                file.seek(SeekFrom::Start(at))
                    .and_then(|_| file.read_exact(&mut bytes))
                    .map(|()| bytes)
            }
            Store::Memory(memory) => memory
                .get(at as usize..at as usize + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| io::Error::other("interval outside the spill")),
        };
        read.map_err(|e| {
            let message = format!("{}: bytes {at}..{}: {e}", self.name(), at + len as u64);
            self.failure.get_or_insert(message.clone());
            io::Error::new(e.kind(), message)
        })
    }
}

fn service_name<S: serde::Serializer>(s: &Service, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}
