//! The codigos the mock answers with. The mock names a codigo by its role
//! ([`Role`]); its spelling and HTTP status come from the contract's
//! `errores.csv` (column `rol`), so an annex that renames a codigo changes that
//! file, not the mock.

pub use mss_contract::Role;

/// The codigo of the internal error only a deviation (`FUZ-001`) fakes: a
/// 500 outside the contract, which a conforming target never answers.
pub const INTERNAL_ERROR: &str = "ERR500";
