//! `mss-mock`: the bundled mock of the Ministry's token and report services.
//!
//! It implements the protocol as `contract/` describes it (docs/protocol.md):
//! `POST /token` (OAuth2 password grant, RFC 6749 errors), the two report
//! services with full field validation and the business rules, stateful (people,
//! affiliations, retractions), case-insensitive routes, a body limit, 405 and 404
//! with the envelope, and an admin API under `/__admin/` (stats, metrics, records, reset,
//! clock). It shares the contract's data with the harness, never its validation
//! code, so that the conformance suite can catch a mock that is wrong.
//!
//! Embed it with [`serve`] (or [`Mock::serve`]) on a listener you bound, or drive
//! [`Mock::app`] in-process with `tower::ServiceExt::oneshot`.
//!
//! The crate, one idea a module: [`state`](Mock) (the shared state and its
//! accessors), `server` (accept loop, TLS), `router` (routes, 404/405),
//! `oauth` (`/token` and bearer tokens), `report` (the two services),
//! `admin` (`/__admin/`), `pace` (capacity gate, faults, latency, stall),
//! `refusal` (every refusal, one type), `answer` (the envelope and shared
//! headers), `sharded` (the store's tables), `timing` (handler time);
//! `validate`, `store`, `deviate`, `faults`, `latency`, `clock`, `config`,
//! `metrics` and `cli` as their docs say.

mod admin;
mod answer;
pub mod cli;
pub mod clock;
pub mod codes;
pub mod config;
pub mod deviate;
pub mod faults;
pub mod latency;
pub mod metrics;
mod oauth;
mod pace;
mod refusal;
mod report;
mod router;
mod server;
mod sharded;
mod state;
mod store;
mod timing;
pub mod validate;

pub use clock::MockClock;
pub use config::{CapacityConfig, ClientConfig, ConfigError, MockConfig};
pub use deviate::Deviations;
pub use faults::{FaultSet, FaultSpec};
pub use latency::LatencyProfile;
pub use router::App;
pub use server::{serve, tls_config};
pub use state::{Mock, MockError};

/// Turn transparent huge pages off for this process (and its children); call
/// it first thing in `main`, before anything allocates much.
///
/// Where THP is "always" (or "madvise", for memory advised for huge pages,
/// as mimalloc's arenas were before its `no_thp` feature), each first touch
/// of the allocator's memory makes 2 MB resident and may wait for the kernel
/// to find (compact) a free 2 MB block. Measured on the reference machine
/// (README, Performance): a 10-user harness run peaked at 35 MB with them and
/// 23 MB without; the mock under `wrk` (10 connections, each request a new
/// affiliation) answered at the same rate or faster without them, its p99
/// went from 27–33 ms to 2.6–3.4 ms and its longest handler from 45–63 ms to
/// 2.4–3.0 ms; under twice its capacity its RSS held 26–27 MB instead of
/// moving between 36 and 53 MB in 2 MB steps (tests/overload.rs). Where the kernel
/// refuses (not Linux, an old kernel) nothing changes.
pub fn huge_pages_off() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}
