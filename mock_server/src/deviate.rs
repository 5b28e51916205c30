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

/// The fixed deviations: id and what the mock then does wrong.
pub const FIXED: &[(&str, &str)] = &[
    (
        "TOK-001",
        "a valid grant is answered with Content-Type text/plain",
    ),
    ("TOK-002", "tokens announce expires_in 3600"),
    ("TOK-003", "a wrong password gets a token"),
    ("TOK-004", "an unknown client_id is answered invalid_grant"),
    (
        "TOK-005",
        "an unsupported grant_type is answered invalid_request",
    ),
    (
        "TOK-006",
        "a request without password is answered invalid_grant",
    ),
    (
        "TOK-007",
        "a token request that is not form-encoded gets 500",
    ),
    ("TOK-008", "token responses lack Cache-Control: no-store"),
    (
        "TOK-009",
        "a repeated token parameter is accepted (the last wins)",
    ),
    ("TOK-010", "token_type is \"mac\""),
    (
        "AUTH-AFI-001",
        "ReportarAfiliaciontraslado: no Authorization is answered 401 AUT02",
    ),
    (
        "AUTH-RET-001",
        "ReportarRetractoAfiliacion: no Authorization is answered 401 AUT02",
    ),
    (
        "AUTH-AFI-002",
        "ReportarAfiliaciontraslado: a malformed Authorization is answered 400 VAL00",
    ),
    (
        "AUTH-RET-002",
        "ReportarRetractoAfiliacion: a malformed Authorization is answered 400 VAL00",
    ),
    (
        "AUTH-AFI-003",
        "ReportarAfiliaciontraslado: an unknown token is answered 401 AUT02",
    ),
    (
        "AUTH-RET-003",
        "ReportarRetractoAfiliacion: an unknown token is answered 401 AUT02",
    ),
    (
        "AUTH-AFI-004",
        "ReportarAfiliaciontraslado: expired tokens are accepted",
    ),
    (
        "AUTH-RET-004",
        "ReportarRetractoAfiliacion: expired tokens are accepted",
    ),
    (
        "AUTH-AFI-005",
        "ReportarAfiliaciontraslado: 401 answers lack WWW-Authenticate",
    ),
    (
        "AUTH-RET-005",
        "ReportarRetractoAfiliacion: 401 answers lack WWW-Authenticate",
    ),
    (
        "AUTH-AFI-006",
        "ReportarAfiliaciontraslado: any client_id may call it",
    ),
    (
        "AUTH-RET-006",
        "ReportarRetractoAfiliacion: any client_id may call it",
    ),
    (
        "AUTH-AFI-007",
        "ReportarAfiliaciontraslado: another administrator's code is accepted",
    ),
    (
        "AUTH-RET-007",
        "ReportarRetractoAfiliacion: another administrator's code is accepted",
    ),
    (
        "AUTH-AFI-008",
        "ReportarAfiliaciontraslado: the Bearer scheme is matched case-sensitively",
    ),
    (
        "AUTH-RET-008",
        "ReportarRetractoAfiliacion: the Bearer scheme is matched case-sensitively",
    ),
    ("ENV-001", "rejections carry Content-Type text/plain"),
    ("ENV-002", "rejections carry resultado \"200\""),
    ("SCH-001", "acceptances omit mensaje"),
    (
        "SCH-002",
        "token errors carry error_description as a number",
    ),
    (
        "FMT-AFI-001",
        "ReportarAfiliaciontraslado: malformed JSON is answered VAL02",
    ),
    (
        "FMT-RET-001",
        "ReportarRetractoAfiliacion: malformed JSON is answered VAL02",
    ),
    (
        "FMT-AFI-002",
        "ReportarAfiliaciontraslado: any Content-Type is accepted",
    ),
    (
        "FMT-RET-002",
        "ReportarRetractoAfiliacion: any Content-Type is accepted",
    ),
    (
        "FMT-AFI-003",
        "ReportarAfiliaciontraslado: a body that is no object is answered VAL01",
    ),
    (
        "FMT-RET-003",
        "ReportarRetractoAfiliacion: a body that is no object is answered VAL01",
    ),
    (
        "FMT-AFI-004",
        "ReportarAfiliaciontraslado: unknown fields are ignored",
    ),
    (
        "FMT-RET-004",
        "ReportarRetractoAfiliacion: unknown fields are ignored",
    ),
    (
        "FUZ-AFI-001",
        "ReportarAfiliaciontraslado: a body that is not UTF-8 gets 500",
    ),
    (
        "FUZ-RET-001",
        "ReportarRetractoAfiliacion: a body that is not UTF-8 gets 500",
    ),
    (
        "RUL-VAL03",
        "document types not valid for pensions are accepted",
    ),
    (
        "RUL-VAL04",
        "regimenDestino is not checked against the administrator",
    ),
    ("RUL-VAL05", "DIVIPOLA codes are not checked"),
    ("RUL-NEG01", "an exact resend is accepted again"),
    (
        "RUL-NEG02",
        "the age limit of regime transfers is not applied",
    ),
    (
        "RUL-NEG03",
        "the 5 years between regime transfers are not applied",
    ),
    (
        "RUL-NEG04",
        "the 6 months before an administrator switch are not applied",
    ),
    (
        "RUL-NEG05",
        "transfers from an administrator that is not the current one are accepted",
    ),
    (
        "RUL-NEG10",
        "a retraction of an unknown affiliation is answered 409 NEG12",
    ),
    ("RUL-NEG11", "the retraction window is not applied"),
    ("RUL-NEG12", "a second retraction is answered 422 NEG10"),
    (
        "DUP-001",
        "a known numeroRadicado with another person is accepted",
    ),
    (
        "DUP-002",
        "the same person, novelty and date under a new numeroRadicado is accepted",
    ),
    (
        "BND-NEG02-EARLY",
        "the regime-transfer age limit is applied a year early (46 women, 51 men)",
    ),
    (
        "BND-NEG02-LATE",
        "the regime-transfer age limit is applied a year late (48 women, 53 men)",
    ),
    (
        "BND-NEG02-29FEB",
        "someone born on 29 February completes a year on 28 February",
    ),
    (
        "BND-NEG03-EARLY",
        "a regime transfer is allowed from the day before the 5th anniversary",
    ),
    (
        "BND-NEG03-LATE",
        "a regime transfer is allowed only from the day after the 5th anniversary",
    ),
    (
        "BND-NEG04-EARLY",
        "an administrator switch is allowed from the day before the 6 months are up",
    ),
    (
        "BND-NEG04-LATE",
        "an administrator switch is allowed only from the day after the 6 months are up",
    ),
    (
        "BND-NEG11-SHORT",
        "the retraction window closes after 4 business days",
    ),
    (
        "BND-NEG11-LONG",
        "the retraction window closes after 6 business days",
    ),
    (
        "BND-NEG11-CALENDAR",
        "the retraction window is counted in calendar days",
    ),
    (
        "BND-NEG11-NO-HOLIDAYS",
        "the retraction window skips weekends but not holidays",
    ),
    (
        "BND-EDAD-EARLY",
        "the minimum age at fechaSolicitud is a year lower",
    ),
    (
        "BND-EDAD-LATE",
        "the minimum age at fechaSolicitud is a year higher",
    ),
    ("RUT-001", "unknown paths are answered 400"),
    ("RUT-002", "405 answers name GET, not POST, in Allow"),
    (
        "RUT-003",
        "GET on ReportarRetractoAfiliacion is answered 404",
    ),
    ("RUT-004", "GET on /token is answered 404"),
    (
        "RUT-005",
        "ReportarAfiliaciontraslado is routed only in the protocol's spelling",
    ),
    (
        "RUT-006",
        "ReportarRetractoAfiliacion is routed only in the protocol's spelling",
    ),
];

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

/// A set of active deviations (usually empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deviations {
    ids: BTreeSet<String>,
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
        Ok(Deviations { ids: set })
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

    /// `{prefix}-{AFI|RET}-{rest}` is active.
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
