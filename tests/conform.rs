//! The conformance suite: every check passes against the mock; every check is
//! proven able to fail by the mock deviation that breaks exactly its rule, and
//! no other check fails then; the checks follow the contract files; no secret
//! reaches any output.

use std::collections::BTreeSet;
use std::time::Duration;

use mss_contract::Contract;
use mss_harness::conform::{self, Probe, Report, Setup, Verdict, catalogue};

async fn suite(deviations: &[String], only: &[String], seed: u64) -> Report {
    let (mock, base, creds) = conform::embedded_mock("230301", deviations)
        .await
        .expect("embedded mock");
    let as_of = mock.clock().today();
    let setup = Setup {
        base_url: base,
        administradora: "230301".into(),
        seed,
        creds,
        mock: Some(mock),
        slow: false,
        writes: true,
        as_of,
        timeout: Duration::from_secs(10),
    };
    let contract = Contract::embedded();
    let checks = conform::select(catalogue(contract), only).expect("select");
    conform::run_suite(setup, contract, &checks, "mock")
        .await
        .expect("suite")
}

fn failed(report: &Report) -> BTreeSet<String> {
    report
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
        .map(|o| o.check.id.clone())
        .collect()
}

/// Whether the request that decided check `id` carried `field` of `chars`
/// characters.
fn carries(report: &Report, id: &str, field: &str, chars: usize) -> bool {
    report
        .get(id)
        .and_then(|o| o.probe.as_ref())
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok())
        .and_then(|b| {
            b.get(field)
                .and_then(|v| v.as_str())
                .map(|v| v.chars().count() == chars)
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn every_check_passes_against_the_mock() {
    let report = suite(&[], &[], 1).await;
    let (passed, failed_n, skipped) = report.totals();
    let mut text = Vec::new();
    conform::print_table(&report, &mut text).expect("table");
    let text = String::from_utf8_lossy(&text);
    assert_eq!(failed_n, 0, "{text}");
    assert_eq!(skipped, 0, "{text}");
    assert!(passed >= 60, "{passed} checks");
}

/// Each deviation of the mock is caught by the check with its id, and only by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_deviation_is_caught_by_its_check_and_only_by_it() {
    let checks = catalogue(Contract::embedded());
    let known: BTreeSet<String> = mss_mock::deviate::catalogue(Contract::embedded())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut problems = Vec::new();
    for check in &checks {
        assert!(
            known.contains(&check.id),
            "check {} has no deviation in the mock",
            check.id
        );
        let report = suite(std::slice::from_ref(&check.id), &[], 1).await;
        let mut failed = failed(&report);
        if let Probe::Len {
            field, chars, at, ..
        } = &check.probe
            && at.accepted()
        {
            // A server whose limit is off by one refuses every report that
            // carries the field at that length, not only the probe's: such a
            // failure is related when the failing request carried it.
            failed.retain(|id| *id == check.id || !carries(&report, id, field, *chars));
        }
        let expected = BTreeSet::from([check.id.clone()]);
        if failed != expected {
            problems.push(format!(
                "--deviate {}: failed {:?}",
                check.id,
                failed.iter().collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} deviations misbehave:\n{}",
        problems.len(),
        checks.len(),
        problems.join("\n")
    );
}
