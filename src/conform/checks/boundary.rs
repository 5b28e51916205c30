//! Boundary pairs: every business rule with a number in it, probed on both
//! sides of its boundary — one request that must be accepted and one that must
//! be refused, a day (or a business day) apart.
//!
//! Nothing here is a fixed date: the numbers come from `mss_contract::rules`
//! (age limits, years and months of the transfer windows, the retraction
//! window's business days, the minimum age) and the days from
//! `mss_contract::calendar` (weekends, Ley 51/1983 holidays), counted back
//! from the target's "today" ([`Setup::as_of`](crate::conform::Setup)). Every date sent
//! is on or before that day, since the protocol refuses future dates.
//!
//! | pair | accepted | refused |
//! |---|---|---|
//! | `BND-NEG02-{F,M}` | the day before the 47th/52nd birthday | the birthday (NEG02) |
//! | `BND-NEG02-29FEB` | 28 February of the common year a woman born on 29 February turns 47 | 1 March (NEG02) |
//! | `BND-NEG03` | the 5th anniversary of the last regime selection | the day before (NEG03) |
//! | `BND-NEG04` | 6 months after joining the administrator | the day before (NEG04) |
//! | `BND-NEG11-WEEKEND` | the 5th business day after fechaSolicitud, a Friday | the next business day, a Monday (NEG11) |
//! | `BND-NEG11-FESTIVO` | the 5th business day, with a holiday moved to Monday in the window | the 6th (NEG11) |
//! | `BND-NEG11-8DIC` | the 5th business day, with 8 December in the window | the 6th (NEG11) |
//! | `BND-EDAD` | fechaSolicitud on the 15th birthday | the day before (VAL02 fechaNacimiento) |

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use mss_contract::rules::{self, Sexo};
use mss_contract::{Administradora, Contract, Regimen, Role, calendar};

use super::{Check, Probe, Severity};
use crate::conform::runner::{Ctx, Verdict};
use crate::domain::Novedad;
use crate::generator::invalid::{PENDING_TRANSACTION, Step};
use crate::generator::{AcceptedAffiliation, AffiliationGenerator, Persona, RetractionGenerator};

/// What the retraction window of a pair spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// A weekend lies between the last day and the next business day.
    Weekend,
    /// A holiday that Ley 51/1983 moved to a Monday lies in the window.
    Festivo,
    /// 8 December (Inmaculada Concepción, a fixed holiday) lies in the window.
    Diciembre8,
}

impl Crossing {
    fn tag(self) -> &'static str {
        match self {
            Crossing::Weekend => "WEEKEND",
            Crossing::Festivo => "FESTIVO",
            Crossing::Diciembre8 => "8DIC",
        }
    }
}

/// A rule with a number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The regime-transfer age limit of this sex (NEG02).
    AgeLimit(Sexo),
    /// The same limit for a woman born on 29 February.
    LeapDayBirth,
    /// Years between two regime selections (NEG03).
    RegimeWindow,
    /// Months with an administrator before switching (NEG04).
    SwitchWindow,
    /// Business days to retract (NEG11).
    Retraction(Crossing),
    /// The youngest age at fechaSolicitud.
    MinAge,
}

/// One side of one boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundary {
    /// The rule.
    pub rule: Rule,
    /// The side that must be accepted (else the side that must be refused).
    pub accepted: bool,
}

impl Boundary {
    /// Whether the check creates records at a target that behaves.
    pub fn writes(self) -> bool {
        self.accepted
            || !matches!(
                self.rule,
                Rule::AgeLimit(_) | Rule::LeapDayBirth | Rule::MinAge
            )
    }

    /// The role of the refused side's codigo (its spelling is the contract's).
    fn role(self) -> Role {
        match self.rule {
            Rule::AgeLimit(_) | Rule::LeapDayBirth => Role::PensionAge,
            Rule::RegimeWindow => Role::RegimeWindow,
            Rule::SwitchWindow => Role::AdministratorWindow,
            Rule::Retraction(_) => Role::RetractionLate,
            Rule::MinAge => Role::BadField,
        }
    }

    /// The codigo of the refused side.
    fn codigo(self) -> &'static str {
        Contract::current().codigo_of(self.role())
    }
}

/// `47th`, `52nd`, `1st`.
fn th(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn sex_word(s: Sexo) -> &'static str {
    match s {
        Sexo::F => "woman",
        Sexo::M => "man",
    }
}

/// The boundary checks, two per rule, with titles from the rules' numbers.
pub fn checks(contract: &Contract) -> Vec<Check> {
    let refusal = |role: Role| super::gets(contract, role);
    // A rule's pairs are named by the codigo its refused side gets.
    let id = |role: Role| format!("BND-{}", contract.codigo_of(role));
    let n = rules::RETRACTION_BUSINESS_DAYS;
    let mut out = Vec::new();
    let mut pair = |rule: Rule,
                    id: String,
                    accepted: (String, &str),
                    refused: (String, &str),
                    source: &str| {
        for (side, (title, suffix)) in [(true, accepted), (false, refused)] {
            out.push(Check {
                id: format!("{id}-{suffix}"),
                title,
                source: source.to_owned(),
                severity: Severity::Major,
                probe: Probe::Bnd(Boundary {
                    rule,
                    accepted: side,
                }),
            });
        }
    };
    for sexo in [Sexo::F, Sexo::M] {
        let limit = sexo.regime_transfer_age_limit();
        pair(
            Rule::AgeLimit(sexo),
            format!("{}-{}", id(Role::PensionAge), sexo.as_str()),
            (
                format!(
                    "a regime transfer the day before a {}'s {} birthday is accepted",
                    sex_word(sexo),
                    th(limit)
                ),
                "BEFORE",
            ),
            (
                format!(
                    "a regime transfer on a {}'s {} birthday {}",
                    sex_word(sexo),
                    th(limit),
                    refusal(Role::PensionAge)
                ),
                "ON",
            ),
            "docs/protocol.md §Rules (Ley 100/1993 art. 13(e), Ley 797/2003 art. 2); contract/src/rules.rs regime_transfer_age_limit",
        );
    }
    let limit = Sexo::F.regime_transfer_age_limit();
    pair(
        Rule::LeapDayBirth,
        format!("{}-29FEB", id(Role::PensionAge)),
        (
            format!(
                "a woman born on 29 February: a regime transfer on 28 February of the common year she turns {limit} is accepted"
            ),
            "BEFORE",
        ),
        (
            format!(
                "a woman born on 29 February: a regime transfer on 1 March of the common year she turns {limit} {}",
                refusal(Role::PensionAge)
            ),
            "ON",
        ),
        "docs/protocol.md §Rules (Ley 797/2003 art. 2); contract/src/rules.rs birthday (29 February completes a year on 1 March)",
    );
    let years = rules::YEARS_BETWEEN_REGIME_TRANSFERS;
    pair(
        Rule::RegimeWindow,
        id(Role::RegimeWindow),
        (
            format!(
                "a regime transfer on the {} anniversary of the last selection is accepted",
                th(years)
            ),
            "OUTSIDE",
        ),
        (
            format!(
                "a regime transfer the day before the {} anniversary of the last selection {}",
                th(years),
                refusal(Role::RegimeWindow)
            ),
            "INSIDE",
        ),
        "docs/protocol.md §Rules (Ley 797/2003 art. 2); contract/src/rules.rs earliest_regime_transfer",
    );
    let months = rules::MONTHS_BEFORE_ADMINISTRATOR_SWITCH;
    pair(
        Rule::SwitchWindow,
        id(Role::AdministratorWindow),
        (
            format!("an administrator switch {months} months after joining is accepted"),
            "OUTSIDE",
        ),
        (
            format!(
                "an administrator switch the day before {months} months after joining {}",
                refusal(Role::AdministratorWindow)
            ),
            "INSIDE",
        ),
        "contract/src/rules.rs earliest_administrator_switch",
    );
    for crossing in [Crossing::Weekend, Crossing::Festivo, Crossing::Diciembre8] {
        let across = match crossing {
            Crossing::Weekend => "a Friday, before a weekend",
            Crossing::Festivo => "with a holiday moved to Monday (Ley 51/1983) in the window",
            Crossing::Diciembre8 => "with 8 December in the window",
        };
        pair(
            Rule::Retraction(crossing),
            format!("{}-{}", id(Role::RetractionLate), crossing.tag()),
            (
                format!(
                    "a retraction on the {} business day after fechaSolicitud ({across}) is accepted",
                    th(n)
                ),
                "LAST",
            ),
            (
                format!(
                    "a retraction on the {} business day after fechaSolicitud ({across}) {}",
                    th(n + 1),
                    refusal(Role::RetractionLate)
                ),
                "NEXT",
            ),
            "docs/protocol.md §Rules (Decreto 1161/1994 art. 3, Ley 51/1983 holidays); contract/src/calendar.rs",
        );
    }
    let min = rules::MIN_AGE_AT_REQUEST;
    pair(
        Rule::MinAge,
        "BND-EDAD".into(),
        (
            format!(
                "an affiliation on the member's {} birthday is accepted",
                th(min)
            ),
            "ON",
        ),
        (
            format!(
                "an affiliation the day before the member's {} birthday {} naming fechaNacimiento",
                th(min),
                refusal(Role::BadField)
            ),
            "BEFORE",
        ),
        "contract/src/rules.rs MIN_AGE_AT_REQUEST",
    );
    out
}

/// What a boundary check sends: set-up reports that must be accepted, the
/// probe, and the dates it is about (for a failure's message).
#[derive(Debug)]
pub struct Plan {
    /// Sent first, each must be accepted.
    pub setup: Vec<Step>,
    /// The request on the boundary.
    pub probe: Step,
    /// The codigo it must get; `None`: it must be accepted.
    pub codigo: Option<&'static str>,
    /// The dates, in words.
    pub dates: String,
}

/// A date `days` before or after `d`.
fn add_days(d: NaiveDate, days: i64) -> NaiveDate {
    d.checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(d)
}

/// Someone whose `years`th birthday ([`rules::birthday`]) is `on`, not born
/// on 29 February unless nobody else has that birthday.
fn born_for(on: NaiveDate, years: u32) -> Option<NaiveDate> {
    let center = on.checked_sub_months(Months::new(12 * years))?;
    let mut found = None;
    for delta in -3..=3 {
        let b = add_days(center, delta);
        if rules::birthday(b, years) == Some(on) {
            if (b.month(), b.day()) != (2, 29) {
                return Some(b);
            }
            found = Some(b);
        }
    }
    found
}

/// The latest day `p` on or before `as_of` for which someone has their
/// `years`th birthday on `p + after` days; with their birth date.
fn birthday_near(as_of: NaiveDate, years: u32, after: i64) -> Option<(NaiveDate, NaiveDate)> {
    (0..4).find_map(|back| {
        let p = add_days(as_of, -back);
        born_for(add_days(p, after), years).map(|b| (p, b))
    })
}

/// The latest `since` whose boundary `first(since)` is on or before `as_of`.
fn latest_start(
    as_of: NaiveDate,
    months: u32,
    first: impl Fn(NaiveDate) -> NaiveDate,
) -> Option<NaiveDate> {
    let start = add_days(as_of.checked_sub_months(Months::new(months))?, 4);
    (0..40)
        .map(|back| add_days(start, -back))
        .find(|since| first(*since) <= as_of)
}

/// fechaSolicitud, the last day of its retraction window and the next
/// business day, all on or before `as_of`, arranged as `crossing` says; and
/// what the window spans, in words.
fn retraction_dates(
    crossing: Crossing,
    as_of: NaiveDate,
) -> Option<(NaiveDate, NaiveDate, NaiveDate, String)> {
    let n = rules::RETRACTION_BUSINESS_DAYS;
    let dates = |s: NaiveDate| {
        (
            s,
            rules::retraction_deadline(s),
            calendar::add_business_days(s, n + 1),
        )
    };
    match crossing {
        Crossing::Weekend => (0..800).find_map(|back| {
            let s = add_days(as_of, -back);
            let (s, last, next) = dates(s);
            let no_holiday =
                (1..=(next - s).num_days()).all(|i| !calendar::is_festivo(add_days(s, i)));
            (calendar::is_business_day(s)
                && next <= as_of
                && last.weekday() == Weekday::Fri
                && no_holiday)
                .then(|| (s, last, next, "a weekend, no holiday".to_owned()))
        }),
        Crossing::Festivo => (as_of.year() - 3..=as_of.year()).rev().find_map(|year| {
            calendar::trasladados(year).into_iter().rev().find_map(|f| {
                let (s, last, next) = dates(calendar::sub_business_days(f.fecha, 2));
                (next <= as_of).then(|| {
                    (
                        s,
                        last,
                        next,
                        format!("{} observed Monday {}", f.nombre, f.fecha),
                    )
                })
            })
        }),
        Crossing::Diciembre8 => (as_of.year() - 8..=as_of.year()).rev().find_map(|year| {
            let f = NaiveDate::from_ymd_opt(year, 12, 8)?;
            if matches!(f.weekday(), Weekday::Sat | Weekday::Sun) {
                return None;
            }
            let (s, last, next) = dates(calendar::sub_business_days(f, 2));
            (next <= as_of).then(|| {
                (
                    s,
                    last,
                    next,
                    format!("8 December {year}, a {}", f.weekday()),
                )
            })
        }),
    }
}

fn admins(regimen: Regimen) -> impl Iterator<Item = &'static Administradora> {
    Contract::current()
        .administradoras
        .iter()
        .filter(move |a| a.regimen == regimen)
}

fn step(a: &crate::generator::Afiliacion) -> Step {
    Step {
        service: mss_contract::Service::Afiliacion,
        sender: a.codigo_administradora.clone(),
        body: serde_json::to_value(a).unwrap_or_default(),
        transaction_from: None,
    }
}

fn person(
    g: &mut AffiliationGenerator,
    on: NaiveDate,
    sexo: Option<Sexo>,
    birth: Option<NaiveDate>,
) -> Result<Persona, String> {
    let mut p = g.persona(on, None).map_err(|e| format!("generator: {e}"))?;
    if let Some(s) = sexo {
        p.sexo = s;
    }
    if let Some(b) = birth {
        p.fecha_nacimiento = b;
    }
    Ok(p)
}

/// The requests of boundary `b` for a target whose today is `as_of`.
pub fn plan(
    b: Boundary,
    g: &mut AffiliationGenerator,
    r: &mut RetractionGenerator,
    as_of: NaiveDate,
) -> Result<Plan, String> {
    let no_date = || format!("no date for {b:?} on or before {as_of}");
    let codigo = (!b.accepted).then(|| b.codigo());
    match b.rule {
        Rule::AgeLimit(_) | Rule::LeapDayBirth | Rule::MinAge => {
            let (sexo, years, novedad) = match b.rule {
                Rule::AgeLimit(s) => (
                    Some(s),
                    s.regime_transfer_age_limit(),
                    Novedad::TrasladoRegimen,
                ),
                Rule::LeapDayBirth => (
                    Some(Sexo::F),
                    Sexo::F.regime_transfer_age_limit(),
                    Novedad::TrasladoRegimen,
                ),
                _ => (None, rules::MIN_AGE_AT_REQUEST, Novedad::Afiliacion),
            };
            // The side before the birthday is the day before it.
            let before = match b.rule {
                Rule::MinAge => !b.accepted,
                _ => b.accepted,
            };
            let (fecha, birth) = if b.rule == Rule::LeapDayBirth {
                // The latest woman born on 29 February whose `years`th birthday
                // falls in a common year (1 March), on or before today.
                (as_of.year() - i32::try_from(years).unwrap_or(0) - 8
                    ..=as_of.year() - i32::try_from(years).unwrap_or(0))
                    .rev()
                    .find_map(|y| {
                        let birth = NaiveDate::from_ymd_opt(y, 2, 29)?;
                        let on = rules::birthday(birth, years)?;
                        (on.month() == 3 && on <= as_of)
                            .then(|| (if before { add_days(on, -1) } else { on }, birth))
                    })
                    .ok_or_else(no_date)?
            } else {
                birthday_near(as_of, years, i64::from(before)).ok_or_else(no_date)?
            };
            let persona = person(g, fecha, sexo, Some(birth))?;
            let a = g.affiliation_of(&persona, novedad, fecha);
            Ok(Plan {
                setup: vec![],
                probe: step(&a),
                codigo,
                dates: format!(
                    "born {birth}, fechaSolicitud {fecha}, {} birthday {}",
                    th(years),
                    rules::birthday(birth, years).map_or_else(|| "?".into(), |d| d.to_string())
                ),
            })
        }
        Rule::RegimeWindow => {
            let own = g.administradora();
            let origen = admins(own.regimen.other()).next().ok_or_else(|| {
                format!("the contract has no administrator outside {}", own.regimen)
            })?;
            let since = latest_start(
                as_of,
                12 * rules::YEARS_BETWEEN_REGIME_TRANSFERS,
                rules::earliest_regime_transfer,
            )
            .ok_or_else(no_date)?;
            let first = rules::earliest_regime_transfer(since);
            let fecha = if b.accepted {
                first
            } else {
                add_days(first, -1)
            };
            // Old enough to join on `since`, young enough to transfer on `fecha`.
            let mut persona = person(g, fecha, None, None)?;
            let age = (rules::MIN_AGE_AT_REQUEST
                + rules::YEARS_BETWEEN_REGIME_TRANSFERS
                + persona.sexo.regime_transfer_age_limit())
                / 2;
            persona.fecha_nacimiento = fecha
                .checked_sub_months(Months::new(12 * age))
                .and_then(|d| d.checked_sub_days(Days::new(100)))
                .ok_or_else(no_date)?;
            let previa = g.affiliation_by(origen, &persona, Novedad::Afiliacion, since);
            let mut probe = g.affiliation_of(&persona, Novedad::TrasladoRegimen, fecha);
            probe.codigo_administradora_origen = Some(origen.codigo.clone());
            Ok(Plan {
                setup: vec![step(&previa)],
                probe: step(&probe),
                codigo,
                dates: format!(
                    "regime chosen with {} on {since}, transfer requested {fecha}, allowed from {first}",
                    origen.codigo
                ),
            })
        }
        Rule::SwitchWindow => {
            let own = g.administradora();
            let destino = if own.regimen == Regimen::Rais {
                own
            } else {
                admins(Regimen::Rais)
                    .next()
                    .ok_or_else(|| "the contract has no RAIS administrator".to_owned())?
            };
            let origen = admins(Regimen::Rais)
                .find(|a| a.codigo != destino.codigo)
                .ok_or_else(|| "the contract needs two RAIS administrators".to_owned())?;
            let since = latest_start(
                as_of,
                rules::MONTHS_BEFORE_ADMINISTRATOR_SWITCH,
                rules::earliest_administrator_switch,
            )
            .ok_or_else(no_date)?;
            let first = rules::earliest_administrator_switch(since);
            let fecha = if b.accepted {
                first
            } else {
                add_days(first, -1)
            };
            let persona = person(g, fecha, None, None)?;
            let previa = g.affiliation_by(origen, &persona, Novedad::Afiliacion, since);
            let mut probe =
                g.affiliation_by(destino, &persona, Novedad::TrasladoAdministradora, fecha);
            probe.codigo_administradora_origen = Some(origen.codigo.clone());
            Ok(Plan {
                setup: vec![step(&previa)],
                probe: step(&probe),
                codigo,
                dates: format!(
                    "joined {} on {since}, switch requested {fecha}, allowed from {first}",
                    origen.codigo
                ),
            })
        }
        Rule::Retraction(crossing) => {
            let (solicitud, last, next, spans) =
                retraction_dates(crossing, as_of).ok_or_else(no_date)?;
            let fecha = if b.accepted { last } else { next };
            let persona = person(g, solicitud, None, None)?;
            let a = g.affiliation_of(&persona, Novedad::Afiliacion, solicitud);
            let accepted = AcceptedAffiliation::of(&a, PENDING_TRANSACTION);
            let retraction = r.retraction_dated(&accepted, fecha, None);
            Ok(Plan {
                setup: vec![step(&a)],
                probe: Step {
                    service: mss_contract::Service::Retracto,
                    sender: a.codigo_administradora.clone(),
                    body: serde_json::to_value(&retraction).unwrap_or_default(),
                    transaction_from: Some(0),
                },
                codigo,
                dates: format!(
                    "fechaSolicitud {solicitud}, last business day {last}, next {next} ({spans}); fechaRetracto {fecha}"
                ),
            })
        }
    }
}

impl Ctx<'_> {
    /// Run boundary check `b`.
    pub(super) async fn boundary(&mut self, b: Boundary) -> Result<Verdict, Verdict> {
        let as_of = self.as_of();
        let own = self.administradora().to_owned();
        let plan = {
            let (g, r) = self.generators(&own)?;
            plan(b, g, r, as_of).map_err(Verdict::Fail)?
        };
        let names = (b.rule == Rule::MinAge && !b.accepted).then_some("fechaNacimiento");
        let verdict = self
            .run_case(&plan.setup, &plan.probe, plan.codigo, names)
            .await?;
        Ok(match verdict {
            Verdict::Fail(why) => Verdict::Fail(format!("{why} [{}]", plan.dates)),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn retraction_windows_cross_what_they_say() {
        let n = rules::RETRACTION_BUSINESS_DAYS;
        for as_of in ["2026-12-02", "2025-01-15", "2024-03-01", "2027-07-04"] {
            let as_of = d(as_of);
            for c in [Crossing::Weekend, Crossing::Festivo, Crossing::Diciembre8] {
                let (s, last, next, _) = retraction_dates(c, as_of).expect("dates");
                assert!(next <= as_of && s < last && last < next);
                assert_eq!(calendar::business_days_between(s, last), n);
                assert_eq!(calendar::business_days_between(s, next), n + 1);
                let holidays: Vec<NaiveDate> = (1..=(last - s).num_days())
                    .map(|i| add_days(s, i))
                    .filter(|x| calendar::is_festivo(*x) && x.weekday().num_days_from_monday() < 5)
                    .collect();
                match c {
                    Crossing::Weekend => {
                        assert_eq!(last.weekday(), Weekday::Fri);
                        assert_eq!(next.weekday(), Weekday::Mon);
                        assert!(holidays.is_empty());
                    }
                    Crossing::Festivo => {
                        assert!(
                            holidays.iter().any(|h| h.weekday() == Weekday::Mon),
                            "{holidays:?}"
                        );
                    }
                    Crossing::Diciembre8 => {
                        assert!(holidays.iter().any(|h| (h.month(), h.day()) == (12, 8)));
                    }
                }
            }
        }
    }

    #[test]
    fn birthdays_land_where_asked() {
        // 1 March of a common year is the birthday of someone born on 1 March,
        // not of someone born on 29 February.
        assert_eq!(born_for(d("2027-03-01"), 47), Some(d("1980-03-01")));
        // A leap-day birthday exists only for people born on 29 February.
        assert_eq!(born_for(d("2028-02-29"), 48), Some(d("1980-02-29")));
        assert_eq!(born_for(d("2027-02-28"), 47), Some(d("1980-02-28")));
        let (p, b) = birthday_near(d("2028-02-29"), 47, 0).expect("near");
        assert_eq!(rules::birthday(b, 47), Some(p));
        assert!(p <= d("2028-02-29"));
    }
}
