//! `junit.xml` in the common JUnit XML format (Ant/Jenkins;
//! `tests/data/junit-10.xsd`): the one writer ([`to_xml`]) of `run`'s file
//! (one testsuite for the run, a testcase per threshold and per service's
//! reconciliation with the mock, skipped against a URL target, and, for a run
//! a signal stopped, a failed `run completed` testcase) and of `conform`'s
//! (a testcase per check).

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

/// What became of a testcase.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseResult {
    /// It passed.
    Passed,
    /// It was skipped, and why.
    Skipped(String),
    /// It failed: the failure's type, its one-line message and its text.
    Failed {
        /// The failure's `type` (`threshold`, a check's severity…).
        kind: String,
        /// One line.
        message: String,
        /// The details.
        text: String,
    },
}

/// One testcase.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Its `classname`.
    pub class: String,
    /// Its `name`.
    pub name: String,
    /// What became of it.
    pub result: CaseResult,
}

/// A JUnit file of one testsuite: what `run` and `conform` write.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The `testsuites` element's name.
    pub suites_name: String,
    /// The `testsuite` element's name.
    pub name: String,
    /// Seconds it took.
    pub seconds: f64,
    /// When it started (ISO 8601).
    pub timestamp: String,
    /// The host it ran against, when one is named.
    pub hostname: Option<String>,
    /// Its properties, in order (each written when it has a value).
    pub properties: Vec<(&'static str, Option<String>)>,
    /// Its testcases.
    pub cases: Vec<Case>,
}

/// The JUnit XML of `suite` (the common format of Ant and Jenkins,
/// `tests/data/junit-10.xsd`): the one writer of `run`'s and `conform`'s
/// `junit.xml`.
pub fn to_xml(suite: &Suite) -> String {
    let failures = suite
        .cases
        .iter()
        .filter(|c| matches!(c.result, CaseResult::Failed { .. }))
        .count();
    let skipped = suite
        .cases
        .iter()
        .filter(|c| matches!(c.result, CaseResult::Skipped(_)))
        .count();
    let (tests, seconds) = (suite.cases.len(), suite.seconds);
    let mut x = String::new();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<testsuites name="{}" tests="{tests}" failures="{failures}" errors="0" time="{seconds:.3}">"#,
        escape(&suite.suites_name)
    );
    let _ = write!(
        x,
        r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{seconds:.3}" timestamp="{}""#,
        escape(&suite.name),
        escape(&suite.timestamp),
    );
    if let Some(h) = &suite.hostname {
        let _ = write!(x, r#" hostname="{}""#, escape(h));
    }
    let _ = writeln!(x, ">");
    let properties: Vec<(&str, &String)> = suite
        .properties
        .iter()
        .filter_map(|(k, v)| Some((*k, v.as_ref()?)))
        .collect();
    if !suite.properties.is_empty() {
        let _ = writeln!(x, "    <properties>");
        for (name, v) in properties {
            let _ = writeln!(
                x,
                r#"      <property name="{name}" value="{}"/>"#,
                escape(v)
            );
        }
        let _ = writeln!(x, "    </properties>");
    }
    for c in &suite.cases {
        let head = format!(
            r#"    <testcase classname="{}" name="{}" time="0""#,
            escape(&c.class),
            escape(&c.name)
        );
        match &c.result {
            CaseResult::Failed {
                kind,
                message,
                text,
            } => {
                let _ = writeln!(x, "{head}>");
                let _ = writeln!(
                    x,
                    r#"      <failure type="{}" message="{}">{}</failure>"#,
                    escape(kind),
                    escape(message),
                    escape(text)
                );
                let _ = writeln!(x, "    </testcase>");
            }
            CaseResult::Skipped(message) => {
                let _ = writeln!(x, "{head}>");
                let _ = writeln!(x, r#"      <skipped message="{}"/>"#, escape(message));
                let _ = writeln!(x, "    </testcase>");
            }
            CaseResult::Passed => {
                let _ = writeln!(x, "{head}/>");
            }
        }
    }
    let _ = writeln!(x, "  </testsuite>");
    let _ = writeln!(x, "</testsuites>");
    x
}

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
