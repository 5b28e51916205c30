//! `junit.xml`: one testsuite for the run, a testcase per threshold and per
//! service's reconciliation with the mock (skipped against a URL target), and,
//! for a run a signal stopped, a failed `run completed` testcase, in the
//! common JUnit XML format (Ant/Jenkins; `tests/data/junit-10.xsd`).

use std::fmt::Write;

use crate::results::Summary;

/// `s` escaped for an XML attribute or text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

struct Case {
    /// `threshold`, `reconciliation` or `interrupted`: the failure's type.
    kind: &'static str,
    class: String,
    name: String,
    failure: Option<(String, String)>,
    skipped: Option<String>,
}

/// The JUnit XML of a run's summary.
pub fn render(summary: &Summary) -> String {
    let scenario = summary.scenario.as_str();
    let seconds = summary.duration_s;
    let mut cases = Vec::new();
    for t in &summary.thresholds {
        let (scope, expr, shown) = (&t.scope, &t.expr, &t.shown);
        cases.push(Case {
            kind: "threshold",
            class: format!("mss-harness.{scenario}.thresholds"),
            name: format!("{scope}: {expr}"),
            failure: (!t.ok).then(|| {
                (
                    format!("threshold {expr} failed for {scope}: measured {shown}"),
                    format!("{scope}: {expr}\nmeasured: {shown}"),
                )
            }),
            skipped: None,
        });
    }
    let rec = &summary.reconciliation;
    if rec.checked {
        for (service, r) in &rec.services {
            let (lost, dup) = (r.lost, r.duplicated);
            cases.push(Case {
                kind: "reconciliation",
                class: format!("mss-harness.{scenario}.reconciliation"),
                name: service.clone(),
                failure: (lost > 0 || dup > 0).then(|| {
                    (
                        format!("{service}: {lost} lost, {dup} duplicated"),
                        format!(
                            "stored as the harness saw it: {}\nrecords held by the mock: {}",
                            r.harness, r.target
                        ),
                    )
                }),
                skipped: None,
            });
        }
    } else {
        cases.push(Case {
            kind: "reconciliation",
            class: format!("mss-harness.{scenario}.reconciliation"),
            name: "reconciliation".into(),
            failure: None,
            skipped: Some("the target is not the mock: nothing to reconcile with".into()),
        });
    }
    if let Some(line) = super::interruption_text(summary) {
        cases.push(Case {
            kind: "interrupted",
            class: format!("mss-harness.{scenario}.run"),
            name: "run completed".into(),
            failure: Some((format!("stopped by {line}"), line)),
            skipped: None,
        });
    }
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut x = String::new();
    let meta = summary.meta.as_ref();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<testsuites name="mss-harness" tests="{}" failures="{failures}" errors="0" time="{seconds:.3}">"#,
        cases.len()
    );
    let _ = writeln!(
        x,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="{skipped}" time="{seconds:.3}" timestamp="{}" hostname="{}">"#,
        escape(scenario),
        cases.len(),
        escape(&summary.started_at),
        escape(meta.map_or("", |m| m.target_host.as_str())),
    );
    let _ = writeln!(x, "    <properties>");
    let props = [
        ("scenario", Some(summary.scenario.clone())),
        ("target", Some(summary.target.clone())),
        ("version", Some(summary.version.clone())),
        ("git_commit", meta.and_then(|m| m.git_commit.clone())),
        ("seed", meta.map(|m| m.seed.to_string())),
        ("started_at", Some(summary.started_at.clone())),
        ("ended_at", Some(summary.ended_at.clone())),
    ];
    for (name, value) in props {
        if let Some(v) = value {
            let _ = writeln!(
                x,
                r#"      <property name="{name}" value="{}"/>"#,
                escape(&v)
            );
        }
    }
    let _ = writeln!(x, "    </properties>");
    for c in &cases {
        let head = format!(
            r#"    <testcase classname="{}" name="{}" time="0""#,
            escape(&c.class),
            escape(&c.name)
        );
        match (&c.failure, &c.skipped) {
            (Some((message, text)), _) => {
                let _ = writeln!(x, "{head}>");
                let _ = writeln!(
                    x,
                    r#"      <failure type="{}" message="{}">{}</failure>"#,
                    c.kind,
                    escape(message),
                    escape(text)
                );
                let _ = writeln!(x, "    </testcase>");
            }
            (None, Some(message)) => {
                let _ = writeln!(x, "{head}>");
                let _ = writeln!(x, r#"      <skipped message="{}"/>"#, escape(message));
                let _ = writeln!(x, "    </testcase>");
            }
            (None, None) => {
                let _ = writeln!(x, "{head}/>");
            }
        }
    }
    let _ = writeln!(x, "  </testsuite>");
    let _ = writeln!(x, "</testsuites>");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_needs() {
        assert_eq!(
            escape(r#"p99 < 5ms & "x" 'y' >"#),
            "p99 &lt; 5ms &amp; &quot;x&quot; &apos;y&apos; &gt;"
        );
        assert_eq!(escape("a\u{1}b"), "a?b");
    }

    #[test]
    fn a_failed_threshold_is_a_failure_and_counts() {
        let mut summary = crate::results::read_summary(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/results-v0.1-hlog/w0"),
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
