//! Integration tests, one binary: a module per concern, shared helpers in `util`.

mod util;

mod annex;
mod calendar;
mod capacity;
mod caps;
mod ci_templates;
mod cli;
mod compare;
mod compare_stats;
mod conform;
mod contracts;
mod delivery;
mod deploy;
mod faults;
mod feeder;
mod fuzz;
mod garbage;
mod history;
mod hlog;
mod informe;
mod init;
mod interrupt;
mod invalid_variants;
mod layering;
mod ledger;
mod live;
mod load_acceptance;
mod merge;
mod mock_controls;
mod mock_roundtrip;
mod overload;
mod phases;
mod production;
mod resend;
mod retry_budget;
mod rules;
mod run;
mod schemathesis;
mod sources;
mod token;
mod token_cache;
mod trace;
mod workers;
mod xsd;

// Helpers the modules above share, beside `util`.
mod scenario_file;
