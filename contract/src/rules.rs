//! The legal rules of the protocol as numbers and date arithmetic (docs/protocol.md, "Rules").
//!
//! Each side applies them its own way (the mock rejects, the generator builds
//! records that pass); what they share is the definition of each limit and of the
//! dates it is counted between, so that "the day a woman turns 47" means the same
//! thing in both.

use chrono::{Datelike, Months, NaiveDate};

/// Pension age for women (Ley 797/2003 art. 9).
pub const PENSION_AGE_WOMEN: u32 = 57;
/// Pension age for men (Ley 797/2003 art. 9).
pub const PENSION_AGE_MEN: u32 = 62;
/// No regime transfer when this many years or fewer remain to pension age
/// (Ley 100/1993 art. 13(e), as amended by Ley 797/2003 art. 2).
pub const YEARS_BEFORE_PENSION_WITHOUT_TRANSFER: u32 = 10;
/// Minimum years between two regime selections (same article).
pub const YEARS_BETWEEN_REGIME_TRANSFERS: u32 = 5;
/// Minimum months with an administrator before switching to another one.
pub const MONTHS_BEFORE_ADMINISTRATOR_SWITCH: u32 = 6;
/// Business days after `fechaSolicitud` within which a retraction is accepted
/// (Decreto 1161/1994 art. 3).
pub const RETRACTION_BUSINESS_DAYS: u32 = 5;
/// Token lifetime fixed by the protocol, in seconds ("vigencia de 5 minutos").
pub const TOKEN_TTL_SECONDS: u64 = 300;
/// Youngest age at `fechaSolicitud` a member may be reported with (inferred: the
/// minimum working age, 15).
pub const MIN_AGE_AT_REQUEST: u32 = 15;
/// Earliest `fechaSolicitud`: the general pension system of Ley 100/1993 began
/// on 1 April 1994 (inferred bound).
pub const EARLIEST_REQUEST: NaiveDate =
    NaiveDate::from_ymd_opt(1994, 4, 1).expect("1 April 1994 is a date");
/// Earliest `fechaNacimiento` accepted (inferred bound).
pub const EARLIEST_BIRTH: NaiveDate =
    NaiveDate::from_ymd_opt(1900, 1, 1).expect("1 January 1900 is a date");
/// `fechaEfectividad` at most this many months after `fechaSolicitud` (inferred).
pub const MAX_MONTHS_TO_EFFECTIVE_DATE: u32 = 12;

/// The member's sex (`sexo`; its spelling is the contract's,
/// [`crate::enumerations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sexo {
    /// A woman (`female` in `x-roles`).
    F,
    /// A man (`male` in `x-roles`).
    M,
}

impl Sexo {
    /// Pension age for this sex.
    pub fn pension_age(self) -> u32 {
        match self {
            Self::F => PENSION_AGE_WOMEN,
            Self::M => PENSION_AGE_MEN,
        }
    }

    /// The age from which a regime transfer is refused: 47 for women, 52 for men.
    pub fn regime_transfer_age_limit(self) -> u32 {
        self.pension_age() - YEARS_BEFORE_PENSION_WITHOUT_TRANSFER
    }
}

/// Completed years of age on `on` for someone born on `birth`. Someone born on
/// 29 February completes a year on 1 March in common years.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    if on < birth {
        return 0;
    }
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The first day on which someone born on `birth` has completed `years` years.
pub fn birthday(birth: NaiveDate, years: u32) -> Option<NaiveDate> {
    let year = birth.year().checked_add(i32::try_from(years).ok()?)?;
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
}

/// The first date on which a new regime transfer is allowed after a selection made
/// on `last_selection`: its 5th anniversary, counted like a birthday (a selection
/// on 29 February completes its years on 1 March in common years).
pub fn earliest_regime_transfer(last_selection: NaiveDate) -> NaiveDate {
    birthday(last_selection, YEARS_BETWEEN_REGIME_TRANSFERS).unwrap_or(NaiveDate::MAX)
}

/// The first date on which someone who joined an administrator on `joined` may
/// switch to another: six calendar months later, the last day of the month when
/// the day does not exist (31 August → 28 or 29 February).
pub fn earliest_administrator_switch(joined: NaiveDate) -> NaiveDate {
    joined
        .checked_add_months(Months::new(MONTHS_BEFORE_ADMINISTRATOR_SWITCH))
        .unwrap_or(NaiveDate::MAX)
}

/// The last day on which a retraction of a request made on `fecha_solicitud` is
/// accepted: the 5th business day after it.
pub fn retraction_deadline(fecha_solicitud: NaiveDate) -> NaiveDate {
    crate::calendar::add_business_days(fecha_solicitud, RETRACTION_BUSINESS_DAYS)
}

/// Check digit (dígito de verificación) of a NIT by the DIAN's modulo-11 method.
/// `None` when `nit` is empty, longer than 15 digits, or not all digits.
pub fn nit_check_digit(nit: &str) -> Option<u8> {
    const WEIGHTS: [u32; 15] = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];
    if nit.is_empty() || nit.len() > WEIGHTS.len() {
        return None;
    }
    let mut sum = 0u32;
    for (digit, weight) in nit.bytes().rev().zip(WEIGHTS) {
        if !digit.is_ascii_digit() {
            return None;
        }
        sum += u32::from(digit - b'0') * weight;
    }
    let r = sum % 11;
    Some(if r >= 2 { (11 - r) as u8 } else { r as u8 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::d;

    #[test]
    fn age_counts_completed_years() {
        assert_eq!(age_on(d("1980-06-15"), d("2027-06-14")), 46);
        assert_eq!(age_on(d("1980-06-15"), d("2027-06-15")), 47);
        assert_eq!(age_on(d("1980-02-29"), d("2027-02-28")), 46);
        assert_eq!(age_on(d("1980-02-29"), d("2027-03-01")), 47);
        assert_eq!(birthday(d("1980-02-29"), 47), Some(d("2027-03-01")));
        assert_eq!(birthday(d("1980-06-15"), 47), Some(d("2027-06-15")));
    }

    #[test]
    fn limits_by_sex() {
        assert_eq!(Sexo::F.regime_transfer_age_limit(), 47);
        assert_eq!(Sexo::M.regime_transfer_age_limit(), 52);
    }

    #[test]
    fn nit_check_digits_of_known_entities() {
        // DIAN 800197268-4, Bancolombia 890903938-8, Ecopetrol 899999068-1.
        assert_eq!(nit_check_digit("800197268"), Some(4));
        assert_eq!(nit_check_digit("890903938"), Some(8));
        assert_eq!(nit_check_digit("899999068"), Some(1));
        assert_eq!(nit_check_digit("8001972a8"), None);
        assert_eq!(nit_check_digit(""), None);
    }

    #[test]
    fn windows() {
        assert_eq!(earliest_regime_transfer(d("2020-02-29")), d("2025-03-01"));
        assert_eq!(earliest_regime_transfer(d("2020-06-15")), d("2025-06-15"));
        assert_eq!(
            earliest_administrator_switch(d("2024-08-31")),
            d("2025-02-28")
        );
    }
}
