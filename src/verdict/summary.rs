//! The one place a `summary.json` is built: a run's [`RunRecord`] — from a
//! run that just ended or from workers' folders joined by `merge` — judged
//! against the [`RunFacts`] of its scenario: the services' counts and
//! percentiles, each threshold over the whole load, the plateaus (judged
//! here for the open model; a capacity search judged its own as it ran), the
//! reconciliation, and the capacity analysis of a run with two or more
//! plateaus ([`crate::capacity::of_run`]).

use std::collections::BTreeMap;

use crate::domain::Service;
use crate::metrics::ServiceTotals;
use crate::outcome::Outcome;
use crate::results::record::{RunFacts, RunRecord, StoredRecord, TokenLatency};
use crate::results::slowest::Slow;
use crate::results::{ExchangePhases, Percentiles, Reconciliation, ServiceSummary, Summary, Token};

/// The summary of the run `record` of the scenario `facts`.
pub fn build_summary(record: &RunRecord<'_>, facts: &RunFacts) -> Summary {
    let mut services = services(&record.totals);
    for (i, service) in Service::ALL.into_iter().enumerate() {
        let Some(entry) = services.get_mut(service.name()) else {
            continue;
        };
        entry.retries = record.retries.map(|r| r[i]);
        entry.unexpected_codigos = record
            .unexpected
            .as_ref()
            .map(|u| crate::results::unexpected::codigos(&facts.contract, u, service));
    }
    let dropped = record
        .totals
        .iter()
        .map(|t| t.count(&Outcome::Dropped))
        .sum();
    let seconds = record.seconds;
    let thresholds = super::thresholds(&facts.thresholds, &record.totals, seconds);
    let (stages, highest) = match (&record.search_steps, &facts.open) {
        // A capacity search: its plateaus as judged when it chose the next rate.
        (Some(steps), _) => (steps.clone(), super::highest_sustained(steps)),
        (None, Some((start_rate, stages))) => super::plateaus(
            *start_rate,
            stages,
            &facts.plateau_checks,
            seconds,
            &*record.window,
        ),
        (None, None) => (Vec::new(), None),
    };
    let delivery = super::delivery::delivery(record, facts, &stages, highest);
    let capacity = crate::capacity::of_run(
        &facts.name,
        crate::capacity::scenario_slo(&facts.thresholds),
        &stages,
        &*record.window,
    );
    Summary {
        schema_version: crate::results::SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: facts.name.clone(),
        target: record.target.clone(),
        started_at: record.started_at.clone(),
        ended_at: record.ended_at.clone(),
        duration_s: seconds,
        interrupted: record.interrupted.clone(),
        services,
        token: Token {
            requests: record.token.requests,
            refreshes: record.token.refreshes,
            latency_us: match &record.token.latency {
                TokenLatency::Histogram(h) => Percentiles::of(h),
                TokenLatency::Percentiles(p) => *p,
            },
            events: record.token.events.clone(),
        },
        phases: record.phases.as_ref().filter(|p| !p.is_empty()).map(|p| {
            p.iter()
                .map(|(name, s)| (name.clone(), ExchangePhases::of(s, seconds)))
                .collect()
        }),
        audit: record.audit.clone(),
        meta: record.meta.clone(),
        dropped,
        delivery,
        thresholds,
        stages,
        highest_sustained_rate: highest,
        reconciliation: reconciliation(&record.stored),
        faults: record.faults.clone(),
        capacity,
        ledger: record.ledger.clone(),
    }
}

/// `summary.json`'s `services`: one per entry of `totals`, without the
/// retries and unexpected codigos.
fn services(totals: &[ServiceTotals]) -> BTreeMap<String, ServiceSummary> {
    totals
        .iter()
        .map(|t| {
            let summary = ServiceSummary {
                requests: t.requests(),
                stored: t.stored(),
                rejected_as_expected: t.rejected_as_expected(),
                latency_us: Percentiles::of(&t.latency),
                service_time_us: Percentiles::of(&t.service_time),
                send_lag_us: Percentiles::of(&t.send_lag),
                errors: t
                    .outcomes
                    .iter()
                    .filter(|(o, _)| !o.is_ok())
                    .map(|(o, n)| (o.label().into_owned(), *n))
                    .collect(),
                retries: None,
                unexpected_codigos: None,
                slowest: Some(t.slowest.iter().map(Slow::of).collect()),
            };
            (t.service.name().to_owned(), summary)
        })
        .collect()
}

/// The reconciliation of what the target stored with what the harness
/// counted (unchecked when the target's records were not counted).
fn reconciliation(stored: &StoredRecord) -> Reconciliation {
    let mut r = match &stored.counts {
        Some(c) => super::reconcile(c.target, c.harness, c.unanswered),
        None => Reconciliation::unchecked(),
    };
    r.unknown_outcome.clone_from(&stored.unknown_outcome);
    r.idempotent_duplicates = stored.idempotent_duplicates;
    r.unresolved.clone_from(&stored.unresolved);
    r
}
