//! The catalogue of conformance checks.
//!
//! A few checks are fixed (the token service, authentication, envelope, routes,
//! business rules); the rest are generated from `contract/`: one required-field
//! check per required field (conditional ones included), boundary checks per
//! length-constrained field, a case check per enumeration value, and type
//! mutations. A change of a field, a length or an enumeration in the contract
//! changes the catalogue with no change of code.

use mss_contract::rules::nit_check_digit;
use mss_contract::{Contract, FieldSpec, Service, ServiceSpec};
use serde::Serialize;

/// How bad a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Security or connectivity: a token, an authentication rule.
    Critical,
    /// A rule of the protocol: validation, business rules, envelope.
    Major,
    /// Conventions around it: routes, methods.
    Minor,
}

/// Which boundary of a length a check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenAt {
    /// One character under the minimum: refused.
    MinMinus1,
    /// The minimum: accepted.
    Min,
    /// The maximum: accepted.
    Max,
    /// One character over the maximum: refused.
    MaxPlus1,
}

impl LenAt {
    /// The id's spelling.
    pub fn tag(self) -> &'static str {
        match self {
            LenAt::MinMinus1 => "MIN-1",
            LenAt::Min => "MIN",
            LenAt::Max => "MAX",
            LenAt::MaxPlus1 => "MAX+1",
        }
    }

    /// Whether a value at this boundary must be accepted.
    pub fn accepted(self) -> bool {
        matches!(self, LenAt::Min | LenAt::Max)
    }
}

/// The characters a boundary value is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Upper-case letters.
    Letters,
    /// Digits, the first not zero.
    Digits,
    /// `aaaa@b.co`.
    Email,
}

impl Class {
    /// A fixed sample of `n` characters (the catalogue decides with it whether a
    /// length is reachable; the run draws random ones of the same class).
    pub fn sample(self, n: usize) -> Option<String> {
        match self {
            Class::Letters => Some("A".repeat(n)),
            Class::Digits => Some(if n == 0 {
                String::new()
            } else {
                format!("1{}", "0".repeat(n - 1))
            }),
            Class::Email => (n >= 6).then(|| format!("{}@b.co", "a".repeat(n - 5))),
        }
    }
}

/// A JSON type put where a string goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypKind {
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// `null` in a required field (refused as missing, VAL01).
    Null,
}

impl TypKind {
    /// The id's spelling.
    pub fn tag(self) -> &'static str {
        match self {
            TypKind::Number => "NUMBER",
            TypKind::Boolean => "BOOLEAN",
            TypKind::Array => "ARRAY",
            TypKind::Object => "OBJECT",
            TypKind::Null => "NULL",
        }
    }
}

/// What a check sends and expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Token service check number n.
    Tok(u8),
    /// Authentication check number n on a service.
    Auth(Service, u8),
    /// Envelope check over every answer of the report services.
    Env(u8),
    /// Schema check over every answer (1: report services, 2: token errors).
    Sch(u8),
    /// Body format check number n.
    Fmt(Service, u8),
    /// Malformed inputs: no 5xx.
    Fuz(Service),
    /// A field of the wrong JSON type.
    Typ(Service, TypKind, String),
    /// A required field missing.
    Req(Service, String),
    /// A length boundary of a field.
    Len {
        /// The service.
        service: Service,
        /// The field.
        field: String,
        /// Which boundary.
        at: LenAt,
        /// The value's length in characters.
        chars: usize,
        /// What the value is made of.
        class: Class,
    },
    /// An enumeration value in lower case: refused.
    EnumCase(Service, String, String),
    /// A business rule or code list (VAL03–VAL05, NEG01–NEG12).
    Rul(&'static str),
    /// Duplicates (1: same radicado, 2: same person, novelty and date).
    Dup(u8),
    /// Routes and methods check number n.
    Rut(u8),
    /// One side of a numeric rule's boundary ([`super::boundary`]).
    Bnd(super::boundary::Boundary),
}

/// One check of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id (`AUTH-AFI-003`, `LEN-AFI-primerApellido-MAX+1`).
    pub id: String,
    /// What it verifies.
    pub title: String,
    /// The clause or source it enforces.
    pub source: String,
    /// How bad a failure is.
    pub severity: Severity,
    /// What it sends.
    pub probe: Probe,
}

/// `AFI` or `RET`.
pub fn tag(service: Service) -> &'static str {
    match service {
        Service::Afiliacion => "AFI",
        Service::Retracto => "RET",
    }
}

fn check(
    id: impl Into<String>,
    title: impl Into<String>,
    source: &str,
    severity: Severity,
    probe: Probe,
) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        source: source.to_owned(),
        severity,
        probe,
    }
}

const TOKEN: &[(u8, &str, &str)] = &[
    (
        1,
        "a valid password grant gets 200 application/json with an access_token",
        "seed PRECONDICIONES (token); RFC 6749 §4.3.3, §5.1",
    ),
    (
        2,
        "expires_in is an integer from 1 to 300 seconds",
        "seed PRECONDICIONES (a token lives 5 minutes); RFC 6749 §5.1",
    ),
    (
        3,
        "a wrong password gets 400 invalid_grant",
        "RFC 6749 §5.2",
    ),
    (
        4,
        "an unknown client_id gets 400/401 invalid_client",
        "RFC 6749 §5.2",
    ),
    (
        5,
        "grant_type=client_credentials gets 400 unsupported_grant_type",
        "RFC 6749 §5.2; docs/protocol.md §Token (password grant only)",
    ),
    (
        6,
        "a request without password gets 400 invalid_request",
        "RFC 6749 §4.3.2, §5.2",
    ),
    (
        7,
        "a JSON (not form-encoded) request gets 400 with an RFC 6749 error, not 5xx",
        "RFC 6749 §4.3.2 (application/x-www-form-urlencoded)",
    ),
    (
        8,
        "token answers, issued and refused, carry Cache-Control: no-store",
        "RFC 6749 §5.1, §5.2",
    ),
    (
        9,
        "a repeated parameter gets 400 invalid_request",
        "RFC 6749 §3.1",
    ),
    (
        10,
        "token_type is bearer (any case)",
        "RFC 6749 §5.1, §7.1; RFC 6750",
    ),
];

const AUTH: &[(u8, &str, &str, Severity)] = &[
    (
        1,
        "no Authorization header gets 401 AUT01",
        "RFC 6750 §3.1; contract/errores.csv token_missing",
        Severity::Critical,
    ),
    (
        2,
        "an Authorization of another scheme (Basic) gets 401 AUT01",
        "RFC 6750 §2.1; contract/errores.csv token_missing",
        Severity::Critical,
    ),
    (
        3,
        "an unknown bearer token gets 401 AUT01",
        "RFC 6750 §3.1; contract/errores.csv token_missing",
        Severity::Critical,
    ),
    (
        4,
        "an expired token gets 401 AUT02",
        "seed PRECONDICIONES (a token lives 5 minutes); contract/errores.csv token_expired",
        Severity::Critical,
    ),
    (
        5,
        "a 401 answer carries WWW-Authenticate: Bearer",
        "RFC 6750 §3",
        Severity::Minor,
    ),
    (
        6,
        "a token of a client_id not entitled to the service gets 403 AUT03",
        "docs/protocol.md §Token (one client_id per service); contract/errores.csv not_entitled",
        Severity::Critical,
    ),
    (
        7,
        "codigoAdministradora of another administrator gets 403 AUT03",
        "docs/protocol.md §Token; contract/errores.csv not_entitled",
        Severity::Critical,
    ),
    (
        8,
        "the scheme is case-insensitive: \"bearer\" is accepted",
        "RFC 6750 §2.1 / RFC 9110 §11.1; docs/protocol.md §Token",
        Severity::Minor,
    ),
];

const FMT: &[(u8, &str, &str)] = &[
    (
        1,
        "malformed JSON gets 400 VAL00",
        "contract/errores.csv malformed_body",
    ),
    (
        2,
        "a JSON body sent as text/plain gets 400 VAL00",
        "docs/protocol.md §Codes (Content-Type: application/json); contract/errores.csv malformed_body",
    ),
    (
        3,
        "a JSON array instead of an object gets 400 VAL00",
        "contract/openapi.json (type object); contract/errores.csv malformed_body",
    ),
    (
        4,
        "a field the contract does not name gets 400 VAL02",
        "contract/openapi.json (additionalProperties: false)",
    ),
];

const RULES: &[(&str, &str, &str)] = &[
    (
        "VAL03",
        "a document type not valid for pensions gets 400 VAL03",
        "contract/tipos_documento.csv; docs/protocol.md §Fields",
    ),
    (
        "VAL04",
        "regimenDestino of the other regime gets 400 VAL04",
        "contract/administradoras.csv (regimes); docs/protocol.md §Fields",
    ),
    (
        "VAL05",
        "a DIVIPOLA code that does not exist gets 400 VAL05",
        "contract/divipola.csv (DANE's DIVIPOLA)",
    ),
    (
        "NEG01",
        "the same report sent twice gets 409 NEG01",
        "docs/protocol.md §Codes (numeroRadicado unique); contract/errores.csv",
    ),
    (
        "NEG02",
        "a regime transfer with 10 years or less to pension age gets 422 NEG02",
        "docs/protocol.md §Rules (Ley 100/1993 art. 13(e), Ley 797/2003 art. 2)",
    ),
    (
        "NEG03",
        "a regime transfer within 5 years of the last selection gets 422 NEG03",
        "docs/protocol.md §Rules (Ley 797/2003 art. 2)",
    ),
    (
        "NEG04",
        "an administrator switch within 6 months of joining gets 422 NEG04",
        "docs/protocol.md §Rules (6 months)",
    ),
    (
        "NEG05",
        "a transfer to the same or from a non-current administrator gets 422 NEG05",
        "contract/errores.csv; docs/protocol.md §Codes",
    ),
    (
        "NEG10",
        "a retraction of an affiliation that does not exist gets 422 NEG10",
        "contract/errores.csv; docs/protocol.md §Codes",
    ),
    (
        "NEG11",
        "a retraction after the 5th business day gets 422 NEG11",
        "docs/protocol.md §Rules (Decreto 1161/1994 art. 3, Ley 51/1983)",
    ),
    (
        "NEG12",
        "a second retraction of an affiliation gets 409 NEG12",
        "contract/errores.csv; docs/protocol.md §Codes",
    ),
];

const ROUTES: &[(u8, &str, &str)] = &[
    (1, "an unknown path gets 404", "RFC 9110 §15.5.5"),
    (
        2,
        "GET /ReportarAfiliaciontraslado gets 405 with Allow: POST",
        "RFC 9110 §15.5.6",
    ),
    (
        3,
        "GET /ReportarRetractoAfiliacion gets 405",
        "RFC 9110 §15.5.6",
    ),
    (4, "GET /token gets 405", "RFC 6749 §3.2 (POST only)"),
    (
        5,
        "/reportarafiliaciontraslado (lower case) reaches the service",
        "docs/protocol.md §Services (routes ignore case; seed PRECONDICIONES spells one with a lower-case t)",
    ),
    (
        6,
        "/REPORTARRETRACTOAFILIACION (upper case) reaches the service",
        "docs/protocol.md §Services (routes ignore case)",
    ),
];

/// Fields whose length boundaries are probed: no enumeration, no date format
/// (their constraints are checked otherwise).
fn length_probed(f: &FieldSpec) -> bool {
    f.enumeration.is_none() && f.format.is_none()
}

/// A value of `n` characters that the field accepts, by class: it must match
/// the field's pattern and the rules that tie it to others (a document number
/// fits some document type; an employer's NIT has a check digit).
pub fn reachable(contract: &Contract, f: &FieldSpec, n: usize) -> Option<Class> {
    if f.code_list.is_some() || f.references.is_some() {
        return None;
    }
    [Class::Letters, Class::Digits, Class::Email]
        .into_iter()
        .find(|class| {
            class.sample(n).is_some_and(|v| {
                v.chars().count() == n
                    && f.pattern.as_ref().is_none_or(|(_, re)| re.is_match(&v))
                    && fits_related(contract, &f.name, &v)
            })
        })
}

/// Rules of the protocol that tie a field's value to another field.
pub fn fits_related(contract: &Contract, field: &str, v: &str) -> bool {
    match field {
        "numeroDocumento" => contract
            .tipos_documento
            .iter()
            .any(|t| t.permitido_pensiones && t.patron_numero.is_match(v)),
        "numeroDocumentoEmpleador" => nit_check_digit(v).is_some(),
        _ => true,
    }
}

/// The class of an out-of-range value: the one that fits the nearest boundary.
fn rejected_class(f: &FieldSpec, n: usize) -> Class {
    [Class::Letters, Class::Digits, Class::Email]
        .into_iter()
        .find(|c| {
            c.sample(n)
                .is_some_and(|v| f.pattern.as_ref().is_none_or(|(_, re)| re.is_match(&v)))
        })
        .unwrap_or(Class::Digits)
}

/// The field a type mutation goes to: the last optional free-text field, else
/// the last free-text field.
fn mutation_field(spec: &ServiceSpec) -> Option<&FieldSpec> {
    let free = |f: &&FieldSpec| {
        f.enumeration.is_none()
            && f.format.is_none()
            && f.code_list.is_none()
            && f.references.is_none()
    };
    spec.fields
        .iter()
        .rfind(|f| free(f) && !f.required)
        .or_else(|| spec.fields.iter().rfind(free))
}

/// Required fields, then those a condition makes required.
pub fn required_fields(spec: &ServiceSpec) -> Vec<&str> {
    let mut out: Vec<&str> = spec.required().map(|f| f.name.as_str()).collect();
    for c in &spec.conditions {
        for name in &c.then_required {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
    }
    out
}

/// The whole catalogue for `contract`, in the order it runs.
pub fn catalogue(contract: &Contract) -> Vec<Check> {
    let mut out = Vec::new();
    for (n, title, source) in TOKEN {
        out.push(check(
            format!("TOK-{n:03}"),
            format!("/token: {title}"),
            source,
            Severity::Critical,
            Probe::Tok(*n),
        ));
    }
    for service in Service::ALL {
        for (n, title, source, severity) in AUTH {
            out.push(check(
                format!("AUTH-{}-{n:03}", tag(service)),
                format!("{}: {title}", service.name()),
                source,
                *severity,
                Probe::Auth(service, *n),
            ));
        }
    }
    for service in Service::ALL {
        for (n, title, source) in FMT {
            out.push(check(
                format!("FMT-{}-{n:03}", tag(service)),
                format!("{}: {title}", service.name()),
                source,
                Severity::Major,
                Probe::Fmt(service, *n),
            ));
        }
        out.push(check(
            format!("FUZ-{}-001", tag(service)),
            format!("{}: malformed bodies (truncated, not UTF-8, deeply nested, 1 MB, random bytes) get 4xx, never 5xx", service.name()),
            "docs/protocol.md §Robustness (no 5xx on any malformed input)",
            Severity::Major,
            Probe::Fuz(service),
        ));
    }
    for service in Service::ALL {
        let spec = contract.service(service);
        let schema = service.schema_name();
        for name in required_fields(spec) {
            let conditional = spec.field(name).is_some_and(|f| !f.required);
            out.push(check(
                format!("REQ-{}-{name}", tag(service)),
                format!(
                    "{}: without {name}{} gets 400 VAL01 naming it",
                    service.name(),
                    if conditional {
                        " (when its condition holds)"
                    } else {
                        ""
                    }
                ),
                &format!(
                    "contract/openapi.json {schema} {}",
                    if conditional {
                        "allOf/then/required"
                    } else {
                        "required"
                    }
                ),
                Severity::Major,
                Probe::Req(service, name.to_owned()),
            ));
        }
        for f in spec.fields.iter().filter(|f| length_probed(f)) {
            let mut at = Vec::new();
            if let Some(min) = f.min_length.filter(|m| *m > 0) {
                at.push((LenAt::MinMinus1, min - 1));
                if f.max_length != Some(min) {
                    at.push((LenAt::Min, min));
                }
            }
            if let Some(max) = f.max_length {
                if f.min_length != Some(max) {
                    at.push((LenAt::Max, max));
                }
                at.push((LenAt::MaxPlus1, max + 1));
            }
            for (which, n) in at {
                let class = if which.accepted() {
                    match reachable(contract, f, n) {
                        Some(c) => c,
                        None => continue,
                    }
                } else {
                    rejected_class(f, n)
                };
                let outcome = if which.accepted() {
                    "is accepted"
                } else {
                    "gets 400 VAL02"
                };
                let bound = match which {
                    LenAt::MinMinus1 | LenAt::Min => "minLength",
                    LenAt::Max | LenAt::MaxPlus1 => "maxLength",
                };
                out.push(check(
                    format!("LEN-{}-{}-{}", tag(service), f.name, which.tag()),
                    format!(
                        "{}: {} of {n} character{} ({}) {outcome}",
                        service.name(),
                        f.name,
                        if n == 1 { "" } else { "s" },
                        which.tag().to_lowercase()
                    ),
                    &format!("contract/openapi.json {schema}.{} {bound}", f.name),
                    Severity::Major,
                    Probe::Len {
                        service,
                        field: f.name.clone(),
                        at: which,
                        chars: n,
                        class,
                    },
                ));
            }
        }
        for f in &spec.fields {
            for v in f.enumeration.iter().flatten() {
                if v.to_lowercase() == *v {
                    continue;
                }
                out.push(check(
                    format!("ENUM-{}-{}-{v}", tag(service), f.name),
                    format!(
                        "{}: {} = {:?} (lower case of {v}) gets 400 VAL02",
                        service.name(),
                        f.name,
                        v.to_lowercase()
                    ),
                    &format!("contract/openapi.json {schema}.{} enum", f.name),
                    Severity::Major,
                    Probe::EnumCase(service, f.name.clone(), v.clone()),
                ));
            }
        }
        if let Some(target) = mutation_field(spec) {
            for kind in [
                TypKind::Number,
                TypKind::Boolean,
                TypKind::Array,
                TypKind::Object,
            ] {
                out.push(check(
                    format!("TYP-{}-{}", tag(service), kind.tag()),
                    format!(
                        "{}: {} as a JSON {} gets 400 VAL02",
                        service.name(),
                        target.name,
                        kind.tag().to_lowercase()
                    ),
                    &format!("contract/openapi.json {schema}.{} type string", target.name),
                    Severity::Major,
                    Probe::Typ(service, kind, target.name.clone()),
                ));
            }
        }
        if let Some(first) = spec.required().next() {
            out.push(check(
                format!("TYP-{}-NULL", tag(service)),
                format!(
                    "{}: {} = null gets 400 VAL01 (null is absent)",
                    service.name(),
                    first.name
                ),
                &format!("contract/openapi.json {schema}.required; contract/README.md"),
                Severity::Major,
                Probe::Typ(service, TypKind::Null, first.name.clone()),
            ));
        }
    }
    for (codigo, title, source) in RULES {
        out.push(check(
            format!("RUL-{codigo}"),
            *title,
            source,
            Severity::Major,
            Probe::Rul(codigo),
        ));
    }
    out.extend(super::boundary::checks(contract));
    out.push(check(
        "DUP-001",
        "ReportarAfiliaciontraslado: a known numeroRadicado with another person gets 409 NEG01",
        "docs/protocol.md §Codes (numeroRadicado unique per administrator)",
        Severity::Major,
        Probe::Dup(1),
    ));
    out.push(check(
        "DUP-002",
        "ReportarAfiliaciontraslado: the same person, novelty and date under a new numeroRadicado gets 409 NEG01",
        "contract/errores.csv (duplicate); docs/protocol.md §Codes",
        Severity::Major,
        Probe::Dup(2),
    ));
    for (n, title, source) in ROUTES {
        out.push(check(
            format!("RUT-{n:03}"),
            *title,
            source,
            Severity::Minor,
            Probe::Rut(*n),
        ));
    }
    out.push(check(
        "ENV-001",
        "every answer of the report services is application/json",
        "contract/openapi.json responses; docs/protocol.md §Codes",
        Severity::Major,
        Probe::Env(1),
    ));
    out.push(check(
        "ENV-002",
        "every envelope's resultado equals the HTTP status",
        "docs/protocol.md §Envelope",
        Severity::Major,
        Probe::Env(2),
    ));
    out.push(check(
        "SCH-001",
        "every answer of the report services matches the Envelope schema",
        "contract/openapi.json components/schemas/Envelope",
        Severity::Major,
        Probe::Sch(1),
    ));
    out.push(check(
        "SCH-002",
        "every refusal of /token matches the TokenError schema",
        "contract/openapi.json components/schemas/TokenError; RFC 6749 §5.2",
        Severity::Major,
        Probe::Sch(2),
    ));
    out
}

/// Whether a check's id is selected by `--only` patterns: an exact id, or a
/// prefix ending in `-` or `*` (`AUTH-`, `LEN-AFI*`), any case.
pub fn selected(id: &str, only: &[String]) -> bool {
    only.is_empty()
        || only.iter().any(|p| {
            let p = p.trim();
            if let Some(prefix) = p.strip_suffix('*') {
                id.to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            } else if p.ends_with('-') {
                id.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase())
            } else {
                id.eq_ignore_ascii_case(p)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_over_sixty() {
        let all = catalogue(Contract::current());
        let mut ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
        assert!(n >= 60, "{n} checks");
    }

    #[test]
    fn boundaries_follow_patterns_and_related_rules() {
        let all = catalogue(Contract::current());
        let has = |id: &str| all.iter().any(|c| c.id == id);
        assert!(has("LEN-AFI-primerApellido-MAX+1"));
        assert!(has("LEN-AFI-primerApellido-MIN"));
        // A one-digit telephone cannot match ^[0-9]{7,10}$: no MIN check.
        assert!(!has("LEN-AFI-telefono-MIN"));
        assert!(has("LEN-AFI-telefono-MAX"));
        // No 16-digit NIT has a DIAN check digit: no MAX check.
        assert!(!has("LEN-AFI-numeroDocumentoEmpleador-MAX"));
        // Referenced values are never invented for an accepted report.
        assert!(!has("LEN-RET-numeroTransaccionAfiliacion-MAX"));
        assert!(has("LEN-RET-numeroTransaccionAfiliacion-MAX+1"));
        assert!(has("ENUM-AFI-tipoNovedad-TRASLADO_REGIMEN"));
        assert!(has("REQ-AFI-asesoriaDoble"));
    }

    #[test]
    fn only_selects_ids_and_prefixes() {
        assert!(selected("AUTH-AFI-001", &[]));
        assert!(selected("AUTH-AFI-001", &["auth-afi-001".into()]));
        assert!(selected("AUTH-AFI-001", &["AUTH-".into()]));
        assert!(selected("LEN-AFI-x-MAX", &["LEN-AFI*".into()]));
        assert!(!selected("LEN-RET-x-MAX", &["LEN-AFI*".into()]));
        assert!(!selected("AUTH-AFI-0011", &["AUTH-AFI-001".into()]));
    }
}
