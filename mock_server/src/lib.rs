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
