//! The JUnit XML format (the common one of Ant and Jenkins,
//! `tests/data/junit-10.xsd`): one testsuite of testcases, each passed,
//! skipped or failed. The one writer ([`to_xml`]) of every `junit.xml` the
//! harness writes — `run`'s ([`crate::report::junit`]: its thresholds and
//! reconciliation) and `conform`'s (its checks) — below both.

use std::fmt::Write;

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
}
