//! Integration tests, one binary: a module per concern, shared helpers in `util`.

mod util;

mod calendar;
mod capacity;
mod cli;
mod compare;
mod conform;
mod deploy;
mod faults;
mod fuzz;
mod garbage;
mod informe;
mod interrupt;
mod invalid_variants;
mod load_acceptance;
mod merge;
mod mock_controls;
mod mock_roundtrip;
mod overload;
mod production;
mod rules;
mod run;
mod token;
mod token_cache;
mod workers;
