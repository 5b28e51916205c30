//! `run`'s `junit.xml` (written by [`crate::junit::to_xml`]): one testsuite
//! for the run, a testcase per threshold and per service's reconciliation
//! with the mock (skipped against a URL target), and, for a run a signal
//! stopped, a failed `run completed` testcase.

use crate::junit::{Case, CaseResult, Suite, to_xml};
use crate::results::Summary;

/// The JUnit XML of a run's summary: a testcase per threshold and per
/// service's reconciliation with the mock (skipped against a URL target),
/// and, for a run a signal stopped, a failed `run completed` testcase.
pub fn render(summary: &Summary) -> String {
    let scenario = summary.scenario.as_str();
    let mut cases = Vec::new();
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

    #[test]
    fn a_failed_threshold_is_a_failure_and_counts() {
        let mut summary = crate::results::read_summary(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/results-v0.1-hlog/w0"),
        )
        .expect("summary");
        summary.scenario = "smoke".into();
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
    }
}
