//! `RUT-`: routes and methods (an unknown path, GET where only POST goes, the
//! case of a route), one variant per check with its id, title, source and
//! what it sends.

use mss_contract::Service;
use reqwest::Method;
use reqwest::header::ALLOW;

use super::{Check, Probe, Severity};
use crate::conform::runner::{Ctx, Step, Verdict, fail};

/// A check of routes and methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rut {
    /// An unknown path.
    UnknownPath,
    /// GET on the affiliation service.
    GetAfiliacion,
    /// GET on the retraction service.
    GetRetracto,
    /// GET on /token.
    GetToken,
    /// The affiliation route in lower case.
    LowerCase,
    /// The retraction route in upper case.
    UpperCase,
}

impl Rut {
    /// Every route check, in the order they run.
    pub const ALL: [Rut; 6] = [
        Rut::UnknownPath,
        Rut::GetAfiliacion,
        Rut::GetRetracto,
        Rut::GetToken,
        Rut::LowerCase,
        Rut::UpperCase,
    ];

    /// The catalogue's entry: id, title and source.
    pub fn check(self) -> Check {
        let (id, title, source) = match self {
            Rut::UnknownPath => ("RUT-001", "an unknown path gets 404", "RFC 9110 §15.5.5"),
            Rut::GetAfiliacion => (
                "RUT-002",
                "GET /ReportarAfiliaciontraslado gets 405 with Allow: POST",
                "RFC 9110 §15.5.6",
            ),
            Rut::GetRetracto => (
                "RUT-003",
                "GET /ReportarRetractoAfiliacion gets 405",
                "RFC 9110 §15.5.6",
            ),
            Rut::GetToken => (
                "RUT-004",
                "GET /token gets 405",
                "RFC 6749 §3.2 (POST only)",
            ),
            Rut::LowerCase => (
                "RUT-005",
                "/reportarafiliaciontraslado (lower case) reaches the service",
                "docs/protocol.md §Services (routes ignore case; seed PRECONDICIONES spells one with a lower-case t)",
            ),
            Rut::UpperCase => (
                "RUT-006",
                "/REPORTARRETRACTOAFILIACION (upper case) reaches the service",
                "docs/protocol.md §Services (routes ignore case)",
            ),
        };
        Check {
            id: id.to_owned(),
            title: title.to_owned(),
            source: source.to_owned(),
            severity: Severity::Minor,
            probe: Probe::Rut(self),
        }
    }
}

impl Ctx<'_> {
    /// Run route check `r`.
    pub(super) async fn route_check(&mut self, r: Rut) -> Step<Verdict> {
        match r {
            Rut::UnknownPath => {
                let ex = self
                    .post_raw(
                        "/ReportarNoExiste",
                        None,
                        "application/json",
                        b"{}".to_vec(),
                    )
                    .await;
                Ok(if ex.status == Some(404) {
                    Verdict::Pass
                } else {
                    fail(format!("expected 404, got {}", ex.seen()))
                })
            }
            Rut::GetAfiliacion => Ok(self.post_only(Service::Afiliacion.path()).await),
            Rut::GetRetracto => Ok(self.post_only(Service::Retracto.path()).await),
            Rut::GetToken => Ok(self.post_only("/token").await),
            Rut::LowerCase => {
                let path = Service::Afiliacion.path().to_lowercase();
                self.route_exists(&path, Service::Afiliacion).await
            }
            Rut::UpperCase => {
                let path = Service::Retracto.path().to_uppercase();
                self.route_exists(&path, Service::Retracto).await
            }
        }
    }

    /// GET `path` gets 405 with Allow: POST.
    async fn post_only(&mut self, path: &str) -> Verdict {
        let ex = self.send(Method::GET, path, &[], Vec::new()).await;
        let allow_post = ex
            .header(ALLOW)
            .is_some_and(|a| a.split(',').any(|m| m.trim().eq_ignore_ascii_case("POST")));
        if ex.status == Some(405) && allow_post {
            Verdict::Pass
        } else {
            fail(format!(
                "expected 405 with Allow: POST, got {} with Allow {:?}",
                ex.seen(),
                ex.header(ALLOW)
            ))
        }
    }

    /// A valid body of `service` POSTed to `path` without a token gets 401:
    /// the route exists.
    async fn route_exists(&mut self, path: &str, service: Service) -> Step<Verdict> {
        let (_, body) = self.body_with_any(service).await?;
        let ex = self
            .post_raw(
                path,
                None,
                "application/json",
                serde_json::to_vec(&body).unwrap_or_default(),
            )
            .await;
        Ok(if ex.status == Some(401) {
            Verdict::Pass
        } else {
            fail(format!(
                "expected 401 (the route exists, no token), got {}",
                ex.seen()
            ))
        })
    }
}
