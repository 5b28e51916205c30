//! The harness's domain model: the protocol's vocabulary and the rules a valid
//! report obeys, as the generator and the conformance checks see them.
//!
//! Code lists (administrators, document types, DIVIPOLA), the enumerations
//! ([`Novedad`], [`TipoAfiliado`], their spelling in `contract/openapi.json`'s
//! `x-roles`), the rule limits and the business-day calendar come from
//! `mss-contract`, the one home of the contract;
//! this module adds the harness's own view of the rules: what makes a record
//! valid, expressed as predicates the generator builds records to satisfy.

use chrono::NaiveDate;
pub use mss_contract::calendar;
pub use mss_contract::rules::{self, Sexo};
pub use mss_contract::{
    Administradora, Contract, Municipio, Novedad, Regimen, Role, Service, SiNo, TipoAfiliado,
    TipoDocumento,
};

/// Whether someone of `sexo` born on `nacimiento` may change regime on `fecha`:
/// more than 10 years must remain to pension age (so under 47 for women and 52
/// for men).
pub fn may_transfer_regime(sexo: Sexo, nacimiento: NaiveDate, fecha: NaiveDate) -> bool {
    rules::age_on(nacimiento, fecha) < sexo.regime_transfer_age_limit()
}

/// The days on which a retraction of a request made on `fecha_solicitud` is
/// accepted: from that day to the 5th business day after it, inclusive.
pub fn retraction_window(fecha_solicitud: NaiveDate) -> (NaiveDate, NaiveDate) {
    (fecha_solicitud, rules::retraction_deadline(fecha_solicitud))
}

/// Whether a retraction dated `fecha_retracto` is within the window of a request
/// made on `fecha_solicitud`.
pub fn retraction_in_window(fecha_solicitud: NaiveDate, fecha_retracto: NaiveDate) -> bool {
    let (first, last) = retraction_window(fecha_solicitud);
    (first..=last).contains(&fecha_retracto)
}

/// Today's date in Bogotá (UTC−5, no daylight saving time) on the system clock.
pub fn today_bogota() -> NaiveDate {
    (chrono::Utc::now() - chrono::TimeDelta::hours(5)).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn regime_transfer_age_limit() {
        // (sex, born, fechaSolicitud, may transfer): the day before the
        // limit (47 for women, 52 for men), and the day itself.
        for (sexo, born, on, may) in [
            (Sexo::F, "1980-06-15", "2027-06-14", true),
            (Sexo::F, "1980-06-15", "2027-06-15", false),
            (Sexo::M, "1975-06-15", "2027-06-14", true),
            (Sexo::M, "1975-06-15", "2027-06-15", false),
        ] {
            assert_eq!(
                may_transfer_regime(sexo, d(born), d(on)),
                may,
                "{sexo:?} {born} {on}"
            );
        }
    }

    #[test]
    fn window_spans_five_business_days() {
        // Friday 2024-03-22, Monday 2024-03-25 a holiday, then Holy Thursday and
        // Good Friday: business days 26, 27, 1 Apr, 2 Apr, 3 Apr (the 5th).
        assert_eq!(retraction_window(d("2024-03-22")).1, d("2024-04-03"));
        assert!(retraction_in_window(d("2024-03-22"), d("2024-04-03")));
        assert!(!retraction_in_window(d("2024-03-22"), d("2024-04-04")));
        assert!(!retraction_in_window(d("2024-03-22"), d("2024-03-21")));
    }
}
