//! `FMT-`: bodies that are not a report object (malformed JSON, the wrong
//! Content-Type, an array, a field the contract does not name), one variant
//! per check with its id, title, source and what it sends.

use mss_contract::{Contract, Role, Service};
use serde_json::Value;

use super::{Check, Probe, Severity, gets, tag};
use crate::conform::runner::{Ctx, Step, Verdict};

/// A check of a report body's format on one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    /// Half a JSON document.
    Truncated,
    /// A JSON body sent as text/plain.
    TextPlain,
    /// A JSON array around the report.
    Array,
    /// A field the contract does not name.
    UnknownField,
}

impl Fmt {
    /// Every format check, in the order they run.
    pub const ALL: [Fmt; 4] = [
        Fmt::Truncated,
        Fmt::TextPlain,
        Fmt::Array,
        Fmt::UnknownField,
    ];

    /// The role of the codigo the target must answer with.
    fn role(self) -> Role {
        match self {
            Fmt::Truncated | Fmt::TextPlain | Fmt::Array => Role::MalformedBody,
            Fmt::UnknownField => Role::BadField,
        }
    }

    /// The catalogue's entry for `service`: id, title and source.
    pub fn check(self, service: Service, contract: &Contract) -> Check {
        let (n, what, source) = match self {
            Fmt::Truncated => (
                "001",
                "malformed JSON",
                "contract/errores.csv malformed_body",
            ),
            Fmt::TextPlain => (
                "002",
                "a JSON body sent as text/plain",
                "docs/protocol.md §Codes (Content-Type: application/json); contract/errores.csv malformed_body",
            ),
            Fmt::Array => (
                "003",
                "a JSON array instead of an object",
                "contract/openapi.json (type object); contract/errores.csv malformed_body",
            ),
            Fmt::UnknownField => (
                "004",
                "a field the contract does not name",
                "contract/openapi.json (additionalProperties: false)",
            ),
        };
        Check {
            id: format!("FMT-{}-{n}", tag(service)),
            title: format!("{}: {what} {}", service.name(), gets(contract, self.role())),
            source: source.to_owned(),
            severity: Severity::Major,
            probe: Probe::Fmt(service, self),
        }
    }
}

impl Ctx<'_> {
    /// Run format check `f` on `service`.
    pub(super) async fn format_check(&mut self, service: Service, f: Fmt) -> Step<Verdict> {
        let (key, body) = self.body_with_any(service).await?;
        let token = self.token(&key).await?;
        let auth = Some(format!("Bearer {token}"));
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let ex = match f {
            Fmt::Truncated => {
                let cut = json[..json.len() / 2].to_vec();
                self.post_raw(service.path(), auth, "application/json", cut)
                    .await
            }
            Fmt::TextPlain => {
                self.post_raw(service.path(), auth, "text/plain", json)
                    .await
            }
            Fmt::Array => self.post(service, auth, &Value::Array(vec![body])).await,
            Fmt::UnknownField => {
                let mut b = body;
                b["campoNoDefinido"] = "x".into();
                self.post(service, auth, &b).await
            }
        };
        Ok(self.expect(&ex, f.role()))
    }
}
