//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the
//! `traceparent` header a report request carries, so that an AP can find a
//! slow request in its own logs and the ministry in its own.
//!
//! `traceparent: 00-<trace id, 32 hex>-<parent id, 16 hex>-01`: version 00,
//! the sampled flag set. A report keeps one trace id over all its attempts
//! (a retry after a lost answer or a 401, the end-of-run resend), and each
//! HTTP request gets its own parent (span) id, as the recommendation asks of
//! one operation sent several times. Ids are random (`rand`'s thread-local
//! generator: no lock, no allocation); an all-zero id, which the
//! recommendation forbids, is never produced.
//!
//! The header is written into a stack buffer: the only allocation is the
//! header value's own.

use std::fmt;

use reqwest::header::{HeaderName, HeaderValue};

/// The header's name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A trace id: 16 random bytes, never all zero. Displayed as 32 lowercase
/// hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// A new random trace id.
    pub fn random() -> Self {
        TraceId(nonzero(rand::random::<u128>()).to_be_bytes())
    }

    /// The id's 32 hex digits, without allocating.
    pub fn hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex_into(&self.0, &mut out);
        out
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

/// One HTTP request's place in a trace: the report's trace id and the
/// request's own parent id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The report's trace id (the same on every attempt).
    pub trace_id: TraceId,
    /// This request's id (new on every attempt).
    pub parent_id: [u8; 8],
}

impl TraceParent {
    /// A request of trace `trace` (a new trace when `None`) with a new
    /// parent id.
    pub fn new(trace: Option<TraceId>) -> Self {
        TraceParent {
            trace_id: trace.unwrap_or_else(TraceId::random),
            parent_id: nonzero64(rand::random::<u64>()).to_be_bytes(),
        }
    }

    /// The `traceparent` header's value: `00-<trace id>-<parent id>-01`.
    pub fn header(&self) -> HeaderValue {
        let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-01";
        hex_into(&self.trace_id.0, &mut buf[3..35]);
        hex_into(&self.parent_id, &mut buf[36..52]);
        // Only ASCII hex digits and dashes: always a valid header value.
        HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn nonzero(n: u128) -> u128 {
    if n == 0 { 1 } else { n }
}

fn nonzero64(n: u64) -> u64 {
    if n == 0 { 1 } else { n }
}

/// `bytes` as lowercase hex into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_version_00_with_both_ids_in_lowercase_hex() {
        let t = TraceParent {
            trace_id: TraceId([
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36,
            ]),
            parent_id: [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
        };
        // The recommendation's own example.
        assert_eq!(
            t.header().to_str().expect("ascii"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(t.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn an_attempt_keeps_its_reports_trace_and_takes_a_new_parent() {
        let first = TraceParent::new(None);
        let retry = TraceParent::new(Some(first.trace_id));
        assert_eq!(retry.trace_id, first.trace_id);
        assert_ne!(retry.parent_id, first.parent_id);
        assert_ne!(TraceParent::new(None).trace_id, first.trace_id);
    }
}
