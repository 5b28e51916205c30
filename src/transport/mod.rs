//! One HTTP exchange, timed by phase: where a request's time went (DNS,
//! connect, TLS, the request written, the time to the answer's first byte,
//! the body read). The report requests and the token requests go through it.

mod exchange;
mod open;
mod phases;
mod record;
mod redirect;
mod timed;

pub use exchange::{Answer, Body, Connection, Failure, Slot};
pub use open::Endpoint;
pub use phases::{Opening, Phase, Phases};
pub use record::PhaseHistograms;
pub use redirect::MAX_REDIRECTS;
