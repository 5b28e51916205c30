//! Deviations: switches that make the mock break exactly one rule of the
//! protocol, so that the conformance suite (`mss-harness conform`) can prove that
//! each of its checks fails when the behaviour it enforces is broken.
//!
//! A deviation has the id of the check it breaks. Fixed ones are listed in
//! [`FIXED`]; the others are generated from the contract, like the checks:
//! `REQ-{AFI|RET}-{field}` (a missing required field is reported as VAL02, not
//! VAL01), `LEN-{svc}-{field}-{MIN-1|MIN|MAX|MAX+1}` (a value of exactly that
//! length is accepted when it should be refused, or refused when it should be
//! accepted), `ENUM-{svc}-{field}-{value}` (that value is refused),
//! `ENUM-{svc}-{field}-CASE` (the enumeration is matched ignoring case) and
//! `TYP-{svc}-{NUMBER|BOOLEAN|ARRAY|OBJECT|NULL}`.
//!
//! The `BND-` deviations move one numeric rule's boundary by one unit (a day,
//! a business day, a year) or count the retraction window the wrong way; the
//! boundary pairs of the suite (`BND-` checks) must notice each of them.
//!
//! Set them with `mss-mock --deviate ID` (repeatable), `deviate = [..]` in the
//! configuration file, or at run time with `POST /__admin/deviations`.

use std::collections::BTreeSet;

use mss_contract::{Contract, Service};

pub use fixed::FIXED;

mod fixed;

/// The JSON type a field carried instead of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    /// The id's spelling.
    pub fn tag(self) -> &'static str {
        match self {
            JsonKind::Number => "NUMBER",
            JsonKind::Boolean => "BOOLEAN",
            JsonKind::Array => "ARRAY",
            JsonKind::Object => "OBJECT",
        }
    }
}

/// The service's short tag in ids: `AFI` or `RET`.
pub fn tag(service: Service) -> &'static str {
    match service {
        Service::Afiliacion => "AFI",
        Service::Retracto => "RET",
    }
}

/// What a length deviation does to a value of exactly the boundary's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenDeviation {
    /// Nothing.
    None,
    /// Skip the field's length, enumeration and pattern checks (MIN-1, MAX+1).
    Accept,
    /// Refuse it with VAL02 (MIN, MAX).
    Refuse,
}

/// Every deviation the mock knows for `contract`: id and description.
pub fn catalogue(contract: &Contract) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = FIXED
        .iter()
        .map(|(id, d)| ((*id).to_owned(), (*d).to_owned()))
        .collect();
    for service in Service::ALL {
        let spec = contract.service(service);
        let t = tag(service);
        let mut required: Vec<&str> = spec.required().map(|f| f.name.as_str()).collect();
        for c in &spec.conditions {
            for name in &c.then_required {
                if !required.contains(&name.as_str()) {
                    required.push(name);
                }
            }
        }
        for name in required {
            out.push((
                format!("REQ-{t}-{name}"),
                format!("{}: a missing {name} is reported as VAL02", service.name()),
            ));
        }
        for f in &spec.fields {
            if let Some(min) = f.min_length.filter(|m| *m > 0) {
                out.push((
                    format!("LEN-{t}-{}-MIN-1", f.name),
                    format!(
                        "{}: {} of {} characters is accepted",
                        service.name(),
                        f.name,
                        min - 1
                    ),
                ));
                out.push((
                    format!("LEN-{t}-{}-MIN", f.name),
                    format!(
                        "{}: {} of {min} characters is refused",
                        service.name(),
                        f.name
                    ),
                ));
            }
            if let Some(max) = f.max_length {
                out.push((
                    format!("LEN-{t}-{}-MAX", f.name),
                    format!(
                        "{}: {} of {max} characters is refused",
                        service.name(),
                        f.name
                    ),
                ));
                out.push((
                    format!("LEN-{t}-{}-MAX+1", f.name),
                    format!(
                        "{}: {} of {} characters is accepted",
                        service.name(),
                        f.name,
                        max + 1
                    ),
                ));
            }
            for v in f.enumeration.iter().flatten() {
                out.push((
                    format!("ENUM-{t}-{}-{v}", f.name),
                    format!(
                        "{}: {} = {:?} is taken for {v}",
                        service.name(),
                        f.name,
                        v.to_lowercase()
                    ),
                ));
            }
        }
        for kind in [
            JsonKind::Number,
            JsonKind::Boolean,
            JsonKind::Array,
            JsonKind::Object,
        ] {
            out.push((
                format!("TYP-{t}-{}", kind.tag()),
                format!(
                    "{}: a {} where a string goes is accepted",
                    service.name(),
                    kind.tag().to_ascii_lowercase()
                ),
            ));
        }
        out.push((
            format!("TYP-{t}-NULL"),
            format!(
                "{}: null in a required field is reported as VAL02",
                service.name()
            ),
        ));
    }
    out
}

/// A fixed deviation that exists once per report service, spelled
/// `{family}-{AFI|RET}-{n}` (e.g. `AUTH-AFI-005`): the code tests these by
/// value ([`Deviations::on`]), never by an id put together from strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerService {
    /// `AUTH-…-001`: no Authorization is answered 401 AUT02.
    AuthMissingAsExpired,
    /// `AUTH-…-002`: a malformed Authorization is answered 400 VAL00.
    AuthMalformedAsBadBody,
    /// `AUTH-…-003`: an unknown token is answered 401 AUT02.
    AuthUnknownAsExpired,
    /// `AUTH-…-004`: expired tokens are accepted.
    AuthExpiredAccepted,
    /// `AUTH-…-005`: 401 answers lack WWW-Authenticate.
    AuthNoChallenge,
    /// `AUTH-…-006`: any client_id may call the service.
    AuthAnyClient,
    /// `AUTH-…-007`: another administrator's code is accepted.
    AuthOtherAdministrator,
    /// `AUTH-…-008`: the Bearer scheme is matched case-sensitively.
    AuthSchemeCaseSensitive,
    /// `FMT-…-001`: malformed JSON is answered VAL02.
    FmtMalformedAsBadField,
    /// `FMT-…-002`: any Content-Type is accepted.
    FmtAnyContentType,
    /// `FMT-…-003`: a body that is no object is answered VAL01.
    FmtNotObjectAsMissing,
    /// `FMT-…-004`: unknown fields are ignored.
    FmtUnknownFieldsIgnored,
    /// `FUZ-…-001`: a body that is not UTF-8 gets 500.
    FuzNonUtf8Internal,
}

impl PerService {
    /// Every per-service deviation.
    pub const ALL: [PerService; 13] = [
        PerService::AuthMissingAsExpired,
        PerService::AuthMalformedAsBadBody,
        PerService::AuthUnknownAsExpired,
        PerService::AuthExpiredAccepted,
        PerService::AuthNoChallenge,
        PerService::AuthAnyClient,
        PerService::AuthOtherAdministrator,
        PerService::AuthSchemeCaseSensitive,
        PerService::FmtMalformedAsBadField,
        PerService::FmtAnyContentType,
        PerService::FmtNotObjectAsMissing,
        PerService::FmtUnknownFieldsIgnored,
        PerService::FuzNonUtf8Internal,
    ];

    /// The id's family and number: `("AUTH", "005")`.
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            PerService::AuthMissingAsExpired => ("AUTH", "001"),
            PerService::AuthMalformedAsBadBody => ("AUTH", "002"),
            PerService::AuthUnknownAsExpired => ("AUTH", "003"),
            PerService::AuthExpiredAccepted => ("AUTH", "004"),
            PerService::AuthNoChallenge => ("AUTH", "005"),
            PerService::AuthAnyClient => ("AUTH", "006"),
            PerService::AuthOtherAdministrator => ("AUTH", "007"),
            PerService::AuthSchemeCaseSensitive => ("AUTH", "008"),
            PerService::FmtMalformedAsBadField => ("FMT", "001"),
            PerService::FmtAnyContentType => ("FMT", "002"),
            PerService::FmtNotObjectAsMissing => ("FMT", "003"),
            PerService::FmtUnknownFieldsIgnored => ("FMT", "004"),
            PerService::FuzNonUtf8Internal => ("FUZ", "001"),
        }
    }

    /// Its id for `service`: `AUTH-AFI-005`.
    pub fn id(self, service: Service) -> String {
        let (family, n) = self.parts();
        format!("{family}-{}-{n}", tag(service))
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of active deviations (usually empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deviations {
    ids: BTreeSet<String>,
    /// The [`PerService`] deviations among `ids`, one bit each, by service.
    per_service: [u16; 2],
}

impl Deviations {
    /// The deviations named by `ids` (any case), each checked against the
    /// catalogue of `contract`.
    pub fn parse<S: AsRef<str>>(contract: &Contract, ids: &[S]) -> Result<Self, String> {
        let known = catalogue(contract);
        let mut set = BTreeSet::new();
        for id in ids {
            let id = id.as_ref().trim();
            let Some((canonical, _)) = known.iter().find(|(k, _)| k.eq_ignore_ascii_case(id))
            else {
                return Err(format!(
                    "unknown deviation {id:?}; `mss-mock --list-deviations` lists the {} known ones",
                    known.len()
                ));
            };
            set.insert(canonical.clone());
        }
        let mut per_service = [0u16; 2];
        for (slot, service) in per_service.iter_mut().zip(Service::ALL) {
            for d in PerService::ALL {
                if set.contains(&d.id(service)) {
                    *slot |= d.bit();
                }
            }
        }
        Ok(Deviations {
            ids: set,
            per_service,
        })
    }

    /// Deviation `d` is active for `service`.
    pub fn on(&self, service: Service, d: PerService) -> bool {
        let slot = match service {
            Service::Afiliacion => 0,
            Service::Retracto => 1,
        };
        self.per_service[slot] & d.bit() != 0
    }

    /// No deviation is active.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The active ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// Deviation `id` is active.
    pub fn has(&self, id: &str) -> bool {
        !self.ids.is_empty() && self.ids.contains(id)
    }

    /// The generated deviation `{prefix}-{AFI|RET}-{rest}` (REQ, LEN, ENUM,
    /// TYP: named by a field or a JSON type) is active.
    pub fn of(&self, prefix: &str, service: Service, rest: &str) -> bool {
        !self.ids.is_empty()
            && self
                .ids
                .contains(&format!("{prefix}-{}-{rest}", tag(service)))
    }

    /// `+1`, `-1` or `0`: how a `{rule}-EARLY` / `-LATE` deviation (`rule` as
    /// `BND-NEG03`) moves
    /// that rule's boundary.
    pub fn shift(&self, rule: &str) -> i32 {
        if self.ids.is_empty() {
            0
        } else if self.ids.contains(&format!("{rule}-EARLY")) {
            -1
        } else if self.ids.contains(&format!("{rule}-LATE")) {
            1
        } else {
            0
        }
    }

    /// The last day a retraction of a request made on `solicitud` is accepted,
    /// as the active deviations count it (the protocol's without them).
    pub fn retraction_deadline(&self, solicitud: chrono::NaiveDate) -> chrono::NaiveDate {
        use mss_contract::{calendar, rules};
        let n = rules::RETRACTION_BUSINESS_DAYS;
        if self.ids.is_empty() {
            return rules::retraction_deadline(solicitud);
        }
        if self.has("BND-NEG11-CALENDAR") {
            return solicitud + chrono::Days::new(u64::from(n));
        }
        if self.has("BND-NEG11-NO-HOLIDAYS") {
            let mut day = solicitud;
            let mut left = n;
            while left > 0 {
                day = day.succ_opt().unwrap_or(day);
                if !matches!(
                    chrono::Datelike::weekday(&day),
                    chrono::Weekday::Sat | chrono::Weekday::Sun
                ) {
                    left -= 1;
                }
            }
            return day;
        }
        let n = if self.has("BND-NEG11-SHORT") {
            n - 1
        } else if self.has("BND-NEG11-LONG") {
            n + 1
        } else {
            n
        };
        calendar::add_business_days(solicitud, n)
    }

    /// Completed years on `on` for someone born on `birth`; under
    /// `BND-NEG02-29FEB` someone born on 29 February has birthdays on 28
    /// February.
    pub fn age_on(&self, birth: chrono::NaiveDate, on: chrono::NaiveDate) -> u32 {
        use chrono::Datelike;
        let birth = if self.has("BND-NEG02-29FEB") && (birth.month(), birth.day()) == (2, 29) {
            birth.pred_opt().unwrap_or(birth)
        } else {
            birth
        };
        mss_contract::rules::age_on(birth, on)
    }

    /// What to do with a value of `chars` characters in `field`.
    pub fn length(
        &self,
        service: Service,
        field: &str,
        chars: usize,
        min: Option<usize>,
        max: Option<usize>,
    ) -> LenDeviation {
        if self.ids.is_empty() {
            return LenDeviation::None;
        }
        let at = |what: &str| self.of("LEN", service, &format!("{field}-{what}"));
        if min.is_some_and(|m| m > 0 && chars + 1 == m) && at("MIN-1")
            || max.is_some_and(|m| chars == m + 1) && at("MAX+1")
        {
            return LenDeviation::Accept;
        }
        if min.is_some_and(|m| chars == m) && at("MIN")
            || max.is_some_and(|m| chars == m) && at("MAX")
        {
            return LenDeviation::Refuse;
        }
        LenDeviation::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_per_service_deviation_is_catalogued_and_parsed_to_its_bit() {
        let contract = Contract::embedded();
        for service in Service::ALL {
            for d in PerService::ALL {
                let id = d.id(service);
                assert!(FIXED.iter().any(|(k, _)| *k == id), "{id} not in FIXED");
                let dev = Deviations::parse(contract, &[id.to_lowercase()]).expect("known");
                for other in Service::ALL {
                    for e in PerService::ALL {
                        assert_eq!(dev.on(other, e), other == service && e == d, "{id}");
                    }
                }
            }
        }
        assert!(!Deviations::default().on(Service::Afiliacion, PerService::AuthAnyClient));
    }
}
