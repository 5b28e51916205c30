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

mod dates;
mod plan;

use mss_contract::rules::{self, Sexo};
use mss_contract::{Contract, Role};

use super::{Check, Probe, Severity};
use crate::conform::runner::{Ctx, Verdict};

pub use plan::{Plan, plan};

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

    /// The codigo of the refused side, as `contract` spells it.
    pub(super) fn codigo(self, contract: &Contract) -> &str {
        contract.codigo_of(self.role())
    }
}

/// `47th`, `52nd`, `1st`.
pub(super) fn th(n: u32) -> String {
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
            format!(
                "{}-{}",
                id(Role::PensionAge),
                contract.enumerations().spelling(sexo)
            ),
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
    // A waiting period: its first day is accepted (OUTSIDE), the day before
    // refused with the codigo of `role` (INSIDE).
    let mut window =
        |rule: Rule, role: Role, first_day: String, day_before: String, source: &str| {
            pair(
                rule,
                id(role),
                (format!("{first_day} is accepted"), "OUTSIDE"),
                (format!("{day_before} {}", refusal(role)), "INSIDE"),
                source,
            )
        };
    let years = th(rules::YEARS_BETWEEN_REGIME_TRANSFERS);
    window(
        Rule::RegimeWindow,
        Role::RegimeWindow,
        format!("a regime transfer on the {years} anniversary of the last selection"),
        format!("a regime transfer the day before the {years} anniversary of the last selection"),
        "docs/protocol.md §Rules (Ley 797/2003 art. 2); contract/src/rules.rs earliest_regime_transfer",
    );
    let months = rules::MONTHS_BEFORE_ADMINISTRATOR_SWITCH;
    window(
        Rule::SwitchWindow,
        Role::AdministratorWindow,
        format!("an administrator switch {months} months after joining"),
        format!("an administrator switch the day before {months} months after joining"),
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
            .run_case(&plan.setup, &plan.probe, plan.codigo.as_deref(), names)
            .await?;
        Ok(match verdict {
            Verdict::Fail(why) => Verdict::Fail(format!("{why} [{}]", plan.dates)),
            other => other,
        })
    }
}
