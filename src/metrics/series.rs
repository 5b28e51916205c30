//! The time series: one [`Interval`] per second and service, its counters
//! kept in memory and its latency histogram encoded (V2) into a [`Spill`],
//! an unlinked temporary file, so that a long run's memory stays flat.

use std::fs::File;
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
    /// Where its encoded histogram lies in the spill.
    #[serde(skip)]
    pub(super) spilled: (u64, usize),
}

/// Encoded interval histograms: an unlinked temporary file, or memory when
/// no temporary file can be made.
#[derive(Debug)]
pub(super) enum Spill {
    File { file: File, len: u64 },
    Memory(Vec<u8>),
}

impl Spill {
    pub(super) fn new() -> Self {
        match tempfile::tempfile() {
            Ok(file) => Spill::File { file, len: 0 },
            Err(_) => Spill::Memory(Vec::new()),
        }
    }

    /// Append `bytes`; returns where they lie.
    pub(super) fn push(&mut self, bytes: &[u8]) -> (u64, usize) {
        match self {
            Spill::File { file, len } => {
                let at = *len;
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
                        if copied.is_err() {
                            memory.clear();
                            memory.resize(at as usize, 0);
                        }
                        *self = Spill::Memory(memory);
                        self.push(bytes)
                    }
                }
            }
            Spill::Memory(memory) => {
                let at = memory.len() as u64;
                memory.extend_from_slice(bytes);
                (at, bytes.len())
            }
        }
    }

    pub(super) fn read(&mut self, (at, len): (u64, usize)) -> io::Result<Vec<u8>> {
        match self {
            Spill::File { file, .. } => {
                let mut bytes = vec![0; len];
                file.seek(SeekFrom::Start(at))?;
                file.read_exact(&mut bytes)?;
                Ok(bytes)
            }
            Spill::Memory(memory) => memory
                .get(at as usize..at as usize + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| io::Error::other("interval outside the spill")),
        }
    }
}

fn service_name<S: serde::Serializer>(s: &Service, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}
