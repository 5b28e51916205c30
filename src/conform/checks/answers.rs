//! `ENV-` and `SCH-`: checks over every answer the other checks received
//! (Content-Type, resultado, the Envelope and TokenError schemas). They send
//! nothing; the runner evaluates them last.

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::{Check, Probe, Severity};
use crate::conform::runner::{Ctx, Exchange, Verdict, fail, media_type};

/// A check of every answer of a kind (`ENV-`, `SCH-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Every answer of the report services is JSON.
    Json,
    /// resultado equals the HTTP status.
    Resultado,
    /// Answers of the report services: the Envelope schema.
    Envelope,
    /// Refusals of /token: the TokenError schema.
    TokenError,
}

impl Aggregate {
    /// Every one, in the order they are listed.
    pub const ALL: [Aggregate; 4] = [
        Aggregate::Json,
        Aggregate::Resultado,
        Aggregate::Envelope,
        Aggregate::TokenError,
    ];

    /// The catalogue's entry.
    pub fn check(self) -> Check {
        let (id, title, source) = match self {
            Aggregate::Json => (
                "ENV-001",
                "every answer of the report services is application/json",
                "contract/openapi.json responses; docs/protocol.md §Codes",
            ),
            Aggregate::Resultado => (
                "ENV-002",
                "every envelope's resultado equals the HTTP status",
                "docs/protocol.md §Envelope",
            ),
            Aggregate::Envelope => (
                "SCH-001",
                "every answer of the report services matches the Envelope schema",
                "contract/openapi.json components/schemas/Envelope",
            ),
            Aggregate::TokenError => (
                "SCH-002",
                "every refusal of /token matches the TokenError schema",
                "contract/openapi.json components/schemas/TokenError; RFC 6749 §5.2",
            ),
        };
        Check {
            id: id.to_owned(),
            title: title.to_owned(),
            source: source.to_owned(),
            severity: Severity::Major,
            probe: Probe::Aggregate(self),
        }
    }
}

/// A verdict over `over`, the number of answers judged and the first that
/// failed.
type Judged = (Verdict, usize, Option<Exchange>);

/// Judge every answer of `over` by `bad` (why it fails, if it does).
fn first_bad(bad: &dyn Fn(&Exchange) -> Option<String>, over: &[&Exchange]) -> Judged {
    let mut n = 0;
    let mut first = None;
    for e in over {
        if let Some(why) = bad(e) {
            n += 1;
            if first.is_none() {
                first = Some(((*e).clone(), why));
            }
        }
    }
    match first {
        None => (Verdict::Pass, over.len(), None),
        Some((e, why)) => (
            fail(format!("{n} of {} answers: {why}", over.len())),
            over.len(),
            Some(e),
        ),
    }
}

impl Ctx<'_> {
    /// The answers of the report services so far.
    fn service_answers(&self) -> Vec<&Exchange> {
        self.log
            .iter()
            .filter(|e| e.service.is_some() && e.status.is_some())
            .collect()
    }

    /// Run check `c` over every answer so far.
    pub(super) fn aggregate_check(&self, c: Aggregate) -> Judged {
        let services = self.service_answers();
        match c {
            Aggregate::Json => first_bad(
                &|e| {
                    let ct = e.header(CONTENT_TYPE).unwrap_or("");
                    (media_type(ct) != "application/json").then(|| {
                        format!(
                            "{} {} answered {} with Content-Type {ct:?}",
                            e.method,
                            e.path,
                            e.status.unwrap_or(0)
                        )
                    })
                },
                &services,
            ),
            Aggregate::Resultado => first_bad(
                &|e| {
                    let status = e.status.unwrap_or(0).to_string();
                    let resultado = e.field("resultado").and_then(Value::as_str);
                    (resultado != Some(status.as_str()))
                        .then(|| format!("status {status} with resultado {resultado:?}"))
                },
                &services,
            ),
            Aggregate::Envelope => self.schema_check("Envelope", &services),
            Aggregate::TokenError => {
                let refusals: Vec<&Exchange> = self
                    .log
                    .iter()
                    .filter(|e| e.token && e.status == Some(400))
                    .collect();
                self.schema_check("TokenError", &refusals)
            }
        }
    }

    /// Whether every answer of `over` matches the schema `name` of
    /// contract/openapi.json.
    fn schema_check(&self, name: &str, over: &[&Exchange]) -> Judged {
        let Some(schema) = self.contract.schema(name) else {
            return (
                fail(format!("contract/openapi.json has no schema {name}")),
                0,
                None,
            );
        };
        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(schema)
        {
            Ok(v) => v,
            Err(e) => return (fail(format!("schema {name}: {e}")), 0, None),
        };
        first_bad(
            &|e| match &e.json {
                None => Some(format!(
                    "{} {} answered {} with a body that is not JSON",
                    e.method,
                    e.path,
                    e.status.unwrap_or(0)
                )),
                Some(j) => validator.validate(j).err().map(|err| {
                    format!(
                        "{} {} answered {}: {} at {}",
                        e.method,
                        e.path,
                        e.status.unwrap_or(0),
                        err,
                        err.instance_path()
                    )
                }),
            },
            over,
        )
    }
}
