//! Deterministic synthetic payloads for both report services.
//!
//! [`AffiliationGenerator`] and [`RetractionGenerator`] draw every value from a
//! ChaCha8 stream seeded by the run's seed, so the same seed and configuration
//! give the same records, byte for byte. Records are valid by construction
//! against the contract and the rules of docs/protocol.md ("Rules"): realistic document types,
//! Colombian names of both sexes, ages 18–75, municipalities weighted by
//! population, dependents with an employer NIT and its check digit, all three
//! novelties (a regime transfer only below the age limit), dates on the
//! retraction window's side of today.
//!
//! Uniqueness within a run comes from two spaces keyed by the worker slot, so
//! that workers of a scaled-out run never collide: `numeroRadicado` is
//! `{prefix}{tag}{A|R}{worker:03}{seq:010}` and each person's document number is
//! a seeded permutation of `(worker, seq)`.

mod affiliation;
mod config;
mod draft;
mod identity;
pub mod invalid;
mod names;
pub mod payload;
mod records;
mod retraction;
mod tables;

pub use affiliation::AffiliationGenerator;
pub use config::{
    DEFAULT_PREFIX, FIRST_AS_OF, GeneratorConfig, LAST_AS_OF, MAX_PREFIX_LEN, MAX_WORKER,
};
pub use identity::{MAX_SEQ, RadicadoSpace, check_document_types};
pub use records::{
    AcceptedAffiliation, Afiliacion, CODIGO_ADMINISTRADORA, DrawnAffiliation, NUMERO_RADICADO,
    Persona, Retracto,
};
pub use retraction::RetractionGenerator;

use chrono::NaiveDate;

/// Why a generator could not be built or went on.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// The administrator code is not in the contract.
    #[error("unknown administrator code {0:?} (see contract/administradoras.csv)")]
    UnknownAdministradora(String),
    /// The day taken as today is outside the range the rules are defined for.
    #[error("--as-of {0} is outside {FIRST_AS_OF}..={LAST_AS_OF}")]
    AsOf(NaiveDate),
    /// The worker slot is out of range.
    #[error("worker slot {0} is out of range 0..={MAX_WORKER}")]
    Worker(u16),
    /// The radicado prefix is unusable.
    #[error("radicado prefix {0:?} must be 0–{MAX_PREFIX_LEN} characters of A–Z, a–z, 0–9 or '-'")]
    Prefix(String),
    /// More records than the identity space of one worker holds.
    #[error(
        "identity space of worker {worker} exhausted after {MAX_SEQ} records; use another worker slot or seed"
    )]
    Exhausted {
        /// The worker slot.
        worker: u16,
    },
    /// The invalid variant asked for does not exist.
    #[error("no invalid variant for codigo {0:?}; known: {1}")]
    UnknownInvalid(String, String),
    /// The invalid variant cannot be built for this administrator.
    #[error("{0}")]
    Unsupported(String),
}
