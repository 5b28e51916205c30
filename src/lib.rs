//! mss-harness: load and conformance testing for the web services the Colombian
//! Ministry of Health and Social Protection (MSPS) exposes to pension
//! administrators — a token service and the report services
//! `ReportarAfiliaciontraslado` and `ReportarRetractoAfiliacion`.
//!
//! The binary is a thin shell over [`cli::run`]. The parts:
//! - [`domain`]: the protocol's vocabulary and rules (code lists, calendar and
//!   limits come from `mss-contract`, the contract as data);
//! - [`generator`]: deterministic valid payloads and the catalogue of invalid ones;
//! - [`cmd`]: one module per subcommand.

pub mod capacity;
pub mod cli;
pub mod cmd;
pub mod conform;
pub mod connect;
pub mod cpu;
pub mod credentials;
pub mod domain;
pub mod engine;
pub mod feeder;
pub mod generator;
pub mod hdr;
pub mod history;
pub mod hlog;
pub mod informe;
pub mod interrupt;
pub mod junit;
pub mod ledger;
pub mod live;
pub mod metrics;
pub mod outcome;
pub mod preflight;
pub mod report;
pub mod results;
pub mod retry_budget;
pub mod scenario;
pub mod schedule;
pub mod secret;
pub mod session;
pub mod setup;
pub mod stats;
pub mod target;
pub mod token;
pub mod trace;
pub mod transport;
pub mod usage;
pub mod verdict;
