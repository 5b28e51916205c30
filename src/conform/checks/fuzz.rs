//! `FUZ-`: malformed inputs (truncated, not UTF-8, deeply nested, 1 MB,
//! random bytes) sent to a report service, which must answer each with a 4xx,
//! never a 5xx.

use mss_contract::Service;
use rand::RngExt;

use super::{Check, Probe, Severity, tag};
use crate::conform::runner::{Ctx, Step, Verdict, fail};

/// The fuzz check of `service`.
pub fn check(service: Service) -> Check {
    Check {
        id: format!("FUZ-{}-001", tag(service)),
        title: format!(
            "{}: malformed bodies (truncated, not UTF-8, deeply nested, 1 MB, random bytes) get 4xx, never 5xx",
            service.name()
        ),
        source: "docs/protocol.md §Robustness (no 5xx on any malformed input)".to_owned(),
        severity: Severity::Major,
        probe: Probe::Fuz(service),
    }
}

impl Ctx<'_> {
    /// Run the fuzz check of `service`.
    pub(super) async fn fuzz_check(&mut self, service: Service) -> Step<Verdict> {
        let (key, body) = self.body_with_any(service).await?;
        let token = self.token(&key).await?;
        let valid = serde_json::to_vec(&body).unwrap_or_default();
        let mut inputs: Vec<(String, Vec<u8>)> = vec![
            ("empty body".into(), Vec::new()),
            ("null".into(), b"null".to_vec()),
            ("an opening brace".into(), b"{".to_vec()),
            (
                "not UTF-8".into(),
                b"{\"numeroRadicado\":\"\xff\xfe\xfd\"}".to_vec(),
            ),
            (
                "a byte-order mark".into(),
                [b"\xEF\xBB\xBF".as_slice(), &valid].concat(),
            ),
            ("100,000 nested arrays".into(), vec![b'['; 100_000]),
            ("10,000 nested objects".into(), b"{\"a\":".repeat(10_000)),
            (
                "a 1 MB field".into(),
                format!("{{\"numeroRadicado\":\"{}\"}}", "x".repeat(1 << 20)).into_bytes(),
            ),
            (
                "a lone surrogate".into(),
                b"{\"numeroRadicado\":\"\\ud800\"}".to_vec(),
            ),
            (
                "a number out of range".into(),
                b"{\"numeroRadicado\":1e400}".to_vec(),
            ),
            (
                "a NUL byte".into(),
                b"{\"numeroRadicado\":\"a\x00b\"}".to_vec(),
            ),
            (
                "trailing garbage".into(),
                [valid.as_slice(), b"xyz"].concat(),
            ),
            ("two objects".into(), [valid.as_slice(), &valid].concat()),
        ];
        for i in 0..8 {
            let len = self.rng.random_range(1..200usize);
            let bytes: Vec<u8> = (0..len).map(|_| self.rng.random::<u8>()).collect();
            inputs.push((format!("random bytes #{i}"), bytes));
        }
        for i in 0..8 {
            let at = self.rng.random_range(1..valid.len().max(2));
            inputs.push((
                format!("truncated at byte {at} (#{i})"),
                valid[..at.min(valid.len())].to_vec(),
            ));
        }
        for (what, bytes) in inputs {
            let ex = self
                .post_raw(
                    service.path(),
                    Some(format!("Bearer {token}")),
                    "application/json",
                    bytes,
                )
                .await;
            match ex.status {
                Some(s) if (400..500).contains(&s) => {}
                _ => return Ok(fail(format!("{what}: expected 4xx, got {}", ex.seen()))),
            }
        }
        Ok(Verdict::Pass)
    }
}
