//! What every generator of a run shares: [`GeneratorConfig`] (the contract,
//! seed, administrator, worker slot, the day taken as today, the radicado
//! prefix), its limits and checks, and the seeded streams and tags derived
//! from it.

use std::sync::Arc;

use chrono::NaiveDate;
use mss_contract::Contract;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::GeneratorError;
use crate::domain;

/// Largest worker slot (three digits in the radicado, ten bits of identity).
pub const MAX_WORKER: u16 = 999;
/// Earliest day the generator accepts as "today" (a year after the general
/// pension system of Ley 100/1993 began, so set-up dates stay after it).
pub const FIRST_AS_OF: NaiveDate =
    NaiveDate::from_ymd_opt(1995, 4, 1).expect("1 April 1995 is a date");
/// Last day the generator accepts as "today" (the calendar's table ends in 2100).
pub const LAST_AS_OF: NaiveDate =
    NaiveDate::from_ymd_opt(2100, 12, 31).expect("31 December 2100 is a date");
/// Default `numeroRadicado` prefix.
pub const DEFAULT_PREFIX: &str = "MSSH";
/// Longest prefix that still leaves room for tag, kind, worker and sequence.
pub const MAX_PREFIX_LEN: usize = 12;

/// What every generator of a run shares.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// The contract the records follow (fields, code lists, spellings).
    pub contract: Arc<Contract>,
    /// The run's seed.
    pub seed: u64,
    /// Code of the administrator that reports (the AP under test).
    pub administradora: String,
    /// Worker slot, 0 for a single process.
    pub worker: u16,
    /// The day taken as "today" (Bogotá); request dates are on or before it.
    pub as_of: NaiveDate,
    /// Prefix of every `numeroRadicado` (lets the ministry find test records).
    pub radicado_prefix: String,
}

impl GeneratorConfig {
    /// The contract, seed and administrator; worker 0, today, the default
    /// prefix.
    pub fn new(contract: &Arc<Contract>, seed: u64, administradora: &str) -> Self {
        GeneratorConfig {
            contract: Arc::clone(contract),
            seed,
            administradora: administradora.to_owned(),
            worker: 0,
            as_of: domain::today_bogota(),
            radicado_prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// Check the configuration (administrator, worker slot, prefix, day) and
    /// that the contract's weights can be drawn by.
    pub fn validate(&self) -> Result<(), GeneratorError> {
        self.check()?;
        super::tables::Tables::new(&self.contract).map(|_| ())
    }

    /// The reporting administrator's index in the contract, once the
    /// administrator, worker slot, prefix and day are checked.
    pub(super) fn check(&self) -> Result<usize, GeneratorError> {
        if self.worker > MAX_WORKER {
            return Err(GeneratorError::Worker(self.worker));
        }
        if !(FIRST_AS_OF..=LAST_AS_OF).contains(&self.as_of) {
            return Err(GeneratorError::AsOf(self.as_of));
        }
        let p = &self.radicado_prefix;
        if p.len() > MAX_PREFIX_LEN || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(GeneratorError::Prefix(p.clone()));
        }
        self.contract
            .administradoras
            .iter()
            .position(|a| a.codigo == self.administradora)
            .ok_or_else(|| GeneratorError::UnknownAdministradora(self.administradora.clone()))
    }

    /// A stream seeded from the run seed, the worker and a purpose, so that
    /// generators of one run do not replay each other's numbers.
    pub(super) fn rng(&self, purpose: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(self.seed
            ^ mix(purpose)
            ^ (u64::from(self.worker) << 48)))
    }

    /// Four base-36 characters derived from the seed: different seeds give
    /// different radicados against the same target.
    pub(super) fn tag(&self) -> String {
        const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut h = mix(self.seed);
        (0..4)
            .map(|_| {
                let c = DIGITS[(h % 36) as usize];
                h /= 36;
                char::from(c)
            })
            .collect()
    }
}

/// splitmix64's finaliser: a bijective mix of 64 bits.
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::generator::AffiliationGenerator;

    /// Administrator 230301, the seed, 25 November 2026 as today.
    pub(in crate::generator) fn config(seed: u64) -> GeneratorConfig {
        let mut c = GeneratorConfig::new(Contract::embedded(), seed, "230301");
        c.as_of = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        c
    }

    #[test]
    fn bad_configuration_is_refused() {
        let mut c = config(1);
        c.administradora = "999".into();
        assert!(matches!(
            AffiliationGenerator::new(c),
            Err(GeneratorError::UnknownAdministradora(_))
        ));
        let mut c = config(1);
        c.radicado_prefix = "con espacio".into();
        assert!(matches!(
            AffiliationGenerator::new(c),
            Err(GeneratorError::Prefix(_))
        ));
        let mut c = config(1);
        c.worker = 1000;
        assert!(matches!(
            AffiliationGenerator::new(c),
            Err(GeneratorError::Worker(1000))
        ));
    }
}
