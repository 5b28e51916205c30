//! `run`'s `junit.xml` (written by [`crate::junit::to_xml`]): one testsuite
//! for the run, a `plan delivered` testcase (failed, with the verdict's
//! words, when the run did not deliver its plan), a testcase per threshold
//! and per service's reconciliation with the mock (skipped against a URL
//! target), and, for a run a signal stopped, a failed `run completed`
//! testcase.

use crate::junit::{Case, CaseResult, Suite, to_xml};
use crate::results::Summary;

/// The JUnit XML of a run's summary: a `plan delivered` testcase (for a
/// summary that records delivery), a testcase per threshold and per
/// service's reconciliation with the mock (skipped against a URL target),
/// and, for a run a signal stopped, a failed `run completed` testcase.
pub fn render(summary: &Summary) -> String {
    let scenario = summary.scenario.as_str();
    let mut cases = Vec::new();
    if let Some(d) = &summary.delivery {
        cases.push(Case {
            class: format!("mss-harness.{scenario}.delivery"),
            name: "plan delivered".into(),
            result: if d.ok {
                CaseResult::Passed
            } else {
                let mut text = d.verdict.clone();
                if let Some(b) = &d.bound_by {
                    text.push_str(&format!(
                        "\nbound_by: {}\n{}",
                        b.limit.name(),
                        b.explanation
                    ));
                }
                text.push_str(&format!(
                    "\nbound: at most {} of the plan undelivered; source: {}",
                    super::delivery_section::bound_percent(d.bound),
                    d.bound_source
                ));
                CaseResult::Failed {
                    kind: "delivery".into(),
                    message: d.verdict.clone(),
                    text,
                }
            },
        });
    }
    for t in &summary.thresholds {
        let (scope, expr, shown) = (&t.scope, &t.expr, &t.shown);
        cases.push(Case {
            class: format!("mss-harness.{scenario}.thresholds"),
            name: format!("{scope}: {expr}"),
            result: if t.ok {
                CaseResult::Passed
            } else {
                CaseResult::Failed {
                    kind: "threshold".into(),
                    message: format!("threshold {expr} failed for {scope}: measured {shown}"),
                    text: format!("{scope}: {expr}\nmeasured: {shown}"),
                }
            },
        });
    }
    let rec = &summary.reconciliation;
    if rec.checked {
        for (service, r) in &rec.services {
            let (lost, dup) = (r.lost, r.duplicated);
            cases.push(Case {
                class: format!("mss-harness.{scenario}.reconciliation"),
                name: service.clone(),
                result: if lost > 0 || dup > 0 {
                    CaseResult::Failed {
                        kind: "reconciliation".into(),
                        message: format!("{service}: {lost} lost, {dup} duplicated"),
                        text: format!(
                            "stored as the harness saw it: {}\nrecords held by the mock: {}",
                            r.harness, r.target
                        ),
                    }
                } else {
                    CaseResult::Passed
                },
            });
        }
    } else {
        cases.push(Case {
            class: format!("mss-harness.{scenario}.reconciliation"),
            name: "reconciliation".into(),
            result: CaseResult::Skipped(
                "the target is not the mock: nothing to reconcile with".into(),
            ),
        });
    }
    if let Some(line) = super::interruption_text(summary) {
        cases.push(Case {
            class: format!("mss-harness.{scenario}.run"),
            name: "run completed".into(),
            result: CaseResult::Failed {
                kind: "interrupted".into(),
                message: format!("stopped by {line}"),
                text: line,
            },
        });
    }
    let meta = summary.meta.as_ref();
    to_xml(&Suite {
        suites_name: "mss-harness".into(),
        name: scenario.to_owned(),
        seconds: summary.duration_s,
        timestamp: summary.started_at.clone(),
        hostname: Some(meta.map_or_else(String::new, |m| m.target_host.clone())),
        properties: vec![
            ("scenario", Some(summary.scenario.clone())),
            ("target", Some(summary.target.clone())),
            ("version", Some(summary.version.clone())),
            ("git_commit", meta.and_then(|m| m.git_commit.clone())),
            ("seed", meta.map(|m| m.seed.to_string())),
            ("started_at", Some(summary.started_at.clone())),
            ("ended_at", Some(summary.ended_at.clone())),
        ],
        cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed worker's summary, its scenario named `smoke`.
    fn smoke() -> Summary {
        let (_, mut summary) = crate::report::tests::committed_worker();
        summary.scenario = "smoke".into();
        summary
    }

    #[test]
    fn a_failed_threshold_is_a_failure_and_counts() {
        let mut summary = smoke();
        summary.thresholds = serde_json::from_value(serde_json::json!([
            {"scope": "global", "expr": "p99 < 500ms", "ok": true, "value": 60000.0, "shown": "60.0 ms"},
            {"scope": "global", "expr": "error_rate < 1%", "ok": false, "value": 0.03, "shown": "3.000%"}
        ]))
        .expect("thresholds");
        summary.reconciliation = serde_json::from_value(serde_json::json!({
            "checked": true, "ok": true, "services": {
                "ReportarAfiliaciontraslado": {"harness": 5, "target": 5, "lost": 0, "duplicated": 0}}
        }))
        .expect("reconciliation");
        let x = render(&summary);
        assert!(x.contains(r#"tests="3" failures="1""#), "{x}");
        assert!(
            x.contains(r#"name="global: p99 &lt; 500ms" time="0"/>"#),
            "{x}"
        );
        assert!(x.contains(r#"<failure type="threshold" message="threshold error_rate &lt; 1% failed for global: measured 3.000%">"#), "{x}");
        // A summary written before delivery was recorded has no such case.
        assert!(!x.contains("plan delivered"), "{x}");
    }

    #[test]
    fn a_plan_not_delivered_is_a_failed_testcase_in_the_verdicts_words() {
        let mut summary = smoke();
        summary.thresholds = Vec::new();
        let verdict = "plan not delivered: 215 of 2,000 planned requests sent (10.8%)";
        summary.delivery = Some(
            serde_json::from_value(serde_json::json!({
                "model": "open", "planned": 2000, "sent": 215, "dropped": 1785, "unsent": 0,
                "delivered_share": 0.1075, "in_flight_cap": 20, "bound": 0.001,
                "bound_source": "default (0.1%)", "ok": false, "verdict": verdict,
                "bound_by": {"limit": "target", "since_s": 0, "explanation": "held back by the target: <Little's law>",
                    "evidence": {"seconds_short": 10, "seconds_cap_full": 10, "seconds_harness_busy": 0,
                        "in_flight_cap": 20, "in_flight_peak": 20, "planned_rate": 200.0,
                        "mean_service_ms": 1090.0, "needed_in_flight": 218.0, "harness_cpu_max_pct": 4.0,
                        "busiest_worker_max_pct": 3.0, "send_lag_p99_max_ms": 0.4, "connection_errors": 0}},
                "stages": [], "services": {}
            }))
            .expect("delivery"),
        );
        let x = render(&summary);
        assert!(x.contains(r#"failures="1""#), "{x}");
        assert!(
            x.contains(
                r#"<testcase classname="mss-harness.smoke.delivery" name="plan delivered" time="0">"#
            ),
            "{x}"
        );
        assert!(
            x.contains(&format!(r#"<failure type="delivery" message="{verdict}">"#)),
            "{x}"
        );
        assert!(x.contains("bound_by: target"), "{x}");
        assert!(x.contains("&lt;Little&apos;s law&gt;"), "{x}");
        assert!(
            x.contains("bound: at most 0.1% of the plan undelivered"),
            "{x}"
        );
        // Delivered: the same case passes.
        if let Some(d) = summary.delivery.as_mut() {
            d.ok = true;
            d.bound_by = None;
        }
        let x = render(&summary);
        assert!(x.contains(r#"failures="0""#), "{x}");
        assert!(x.contains(r#"name="plan delivered" time="0"/>"#), "{x}");
    }
}
