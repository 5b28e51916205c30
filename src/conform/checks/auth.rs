//! `AUTH-`: authentication and entitlement on the report services (bearer
//! tokens, RFC 6750), one variant per check with its id, title, source,
//! severity and what it sends; the expired-token check moves a mock's clock or
//! waits a token's lifetime out.

use std::time::{Duration, Instant};

use mss_contract::{Contract, Role, Service};
use rand::RngExt;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::Value;

use super::{Check, Probe, Severity, gets, tag};
use crate::conform::runner::{Ctx, OWN_AFI, OWN_RET, Step, TokenAge, Verdict, fail, lifetime_of};

/// A check of authentication on one report service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No Authorization header.
    NoHeader,
    /// Another scheme, or the Bearer scheme without a token.
    OtherScheme,
    /// A token the target never issued.
    UnknownToken,
    /// A token past its lifetime.
    Expired,
    /// A 401 says how to authenticate.
    Challenge,
    /// A client not entitled to the service.
    OtherService,
    /// A report of another administrator.
    OtherAdministrator,
    /// The scheme's case does not matter.
    SchemeCase,
}

impl Auth {
    /// Every authentication check, in the order they run.
    pub const ALL: [Auth; 8] = [
        Auth::NoHeader,
        Auth::OtherScheme,
        Auth::UnknownToken,
        Auth::Expired,
        Auth::Challenge,
        Auth::OtherService,
        Auth::OtherAdministrator,
        Auth::SchemeCase,
    ];

    /// The catalogue's entry for `service`: id, title, source and severity.
    pub fn check(self, service: Service, contract: &Contract) -> Check {
        let gets = |role| gets(contract, role);
        let (n, title, source, severity) = match self {
            Auth::NoHeader => (
                "001",
                format!("no Authorization header {}", gets(Role::TokenMissing)),
                "RFC 6750 §3.1; contract/errores.csv token_missing",
                Severity::Critical,
            ),
            Auth::OtherScheme => (
                "002",
                format!(
                    "an Authorization of another scheme (Basic) {}",
                    gets(Role::TokenMissing)
                ),
                "RFC 6750 §2.1; contract/errores.csv token_missing",
                Severity::Critical,
            ),
            Auth::UnknownToken => (
                "003",
                format!("an unknown bearer token {}", gets(Role::TokenMissing)),
                "RFC 6750 §3.1; contract/errores.csv token_missing",
                Severity::Critical,
            ),
            Auth::Expired => (
                "004",
                format!("an expired token {}", gets(Role::TokenExpired)),
                "seed PRECONDICIONES (a token lives 5 minutes); contract/errores.csv token_expired",
                Severity::Critical,
            ),
            Auth::Challenge => (
                "005",
                "a 401 answer carries WWW-Authenticate: Bearer".to_owned(),
                "RFC 6750 §3",
                Severity::Minor,
            ),
            Auth::OtherService => (
                "006",
                format!(
                    "a token of a client_id not entitled to the service {}",
                    gets(Role::NotEntitled)
                ),
                "docs/protocol.md §Token (one client_id per service); contract/errores.csv not_entitled",
                Severity::Critical,
            ),
            Auth::OtherAdministrator => (
                "007",
                format!(
                    "codigoAdministradora of another administrator {}",
                    gets(Role::NotEntitled)
                ),
                "docs/protocol.md §Token; contract/errores.csv not_entitled",
                Severity::Critical,
            ),
            Auth::SchemeCase => (
                "008",
                "the scheme is case-insensitive: \"bearer\" is accepted".to_owned(),
                "RFC 6750 §2.1 / RFC 9110 §11.1; docs/protocol.md §Token",
                Severity::Minor,
            ),
        };
        Check {
            id: format!("AUTH-{}-{n}", tag(service)),
            title: format!("{}: {title}", service.name()),
            source: source.to_owned(),
            severity,
            probe: Probe::Auth(service, self),
        }
    }

    /// Whether the check creates records at a target that behaves.
    pub fn writes(self) -> bool {
        match self {
            Auth::SchemeCase => true,
            Auth::NoHeader
            | Auth::OtherScheme
            | Auth::UnknownToken
            | Auth::Expired
            | Auth::Challenge
            | Auth::OtherService
            | Auth::OtherAdministrator => false,
        }
    }
}

impl Ctx<'_> {
    /// The body authentication check `a` sends to `service`.
    async fn auth_body(&mut self, service: Service, a: Auth) -> Step<Value> {
        let own = self.setup.administradora.clone();
        Ok(match (service, a) {
            (Service::Afiliacion, Auth::OtherAdministrator) => {
                // A valid report of another administrator, sent with our token.
                let regimen = self.contract.administradora(&own).map(|a| a.regimen);
                let other = self
                    .contract
                    .administradoras
                    .iter()
                    .filter(|a| a.codigo != own)
                    .max_by_key(|a| Some(a.regimen) == regimen)
                    .map(|a| a.codigo.clone())
                    .ok_or_else(|| Verdict::Skip("the contract has one administrator".into()))?;
                self.draw(&other, None, None)?
                    .ok_or_else(|| fail("the generator draws nothing"))?
            }
            (Service::Retracto, Auth::OtherAdministrator) => {
                let mut b = self.retraction(false, |_| {}).await?;
                let other = self
                    .contract
                    .administradoras
                    .iter()
                    .find(|a| a.codigo != own)
                    .map(|a| a.codigo.clone())
                    .ok_or_else(|| Verdict::Skip("the contract has one administrator".into()))?;
                b["codigoAdministradora"] = other.into();
                b
            }
            // Every other check sends a valid report: a retraction of an
            // accepted affiliation when the check expects it stored.
            (Service::Afiliacion, _) => self.own_body()?,
            (Service::Retracto, _) => self.retraction(a.writes(), |_| {}).await?,
        })
    }

    /// Run authentication check `a` on `service`.
    pub(super) async fn auth_check(&mut self, service: Service, a: Auth) -> Step<Verdict> {
        let key = self.key_for(service);
        let body = self.auth_body(service, a).await?;
        Ok(match a {
            Auth::NoHeader => {
                let ex = self.post(service, None, &body).await;
                self.expect(&ex, Role::TokenMissing)
            }
            Auth::OtherScheme => {
                // Another scheme, then the Bearer scheme without a token.
                let ex = self
                    .post(
                        service,
                        Some("Basic Y29uZm9ybTpjb25mb3Jt".to_owned()),
                        &body,
                    )
                    .await;
                match self.expect(&ex, Role::TokenMissing) {
                    Verdict::Pass => {
                        let ex = self.post(service, Some("Bearer".to_owned()), &body).await;
                        self.expect(&ex, Role::TokenMissing)
                    }
                    other => other,
                }
            }
            Auth::UnknownToken => {
                let fake: String = (0..64)
                    .map(|_| char::from(b"0123456789abcdef"[self.rng.random_range(0..16usize)]))
                    .collect();
                let ex = self
                    .post(service, Some(format!("Bearer {fake}")), &body)
                    .await;
                self.expect(&ex, Role::TokenMissing)
            }
            Auth::Expired => self.expired(service, key, &body).await?,
            Auth::Challenge => {
                let ex = self.post(service, None, &body).await;
                match ex.header(WWW_AUTHENTICATE) {
                    Some(w)
                        if ex.status == Some(401)
                            && w.trim_start().to_ascii_lowercase().starts_with("bearer") =>
                    {
                        Verdict::Pass
                    }
                    other => fail(format!(
                        "expected 401 with WWW-Authenticate: Bearer, got {} with {other:?}",
                        ex.seen()
                    )),
                }
            }
            Auth::OtherService => {
                let wrong = match service {
                    Service::Afiliacion => OWN_RET,
                    Service::Retracto => OWN_AFI,
                };
                self.creds(wrong)?;
                let ex = self.post_as(service, wrong, &body).await?;
                self.expect(&ex, Role::NotEntitled)
            }
            Auth::OtherAdministrator => {
                let ex = self.post_as(service, key, &body).await?;
                self.expect(&ex, Role::NotEntitled)
            }
            Auth::SchemeCase => {
                let token = self.token(key).await?;
                let ex = self
                    .post(service, Some(format!("bearer {token}")), &body)
                    .await;
                self.accepted(&ex)
            }
        })
    }

    /// [`Auth::Expired`]: a token past its lifetime is refused. The embedded
    /// mock's clock (or a local mss-mock's, `/__admin/clock`) is moved past
    /// the lifetime; with `--slow` the suite waits it out in real time instead,
    /// once: a second such check reuses the token already waited out.
    async fn expired(&mut self, service: Service, key: &str, body: &Value) -> Step<Verdict> {
        let clock_mock = self.setup.mock.clone().filter(|_| !self.setup.slow);
        let (token, issued, lifetime, moved) = if let Some(mock) = clock_mock {
            let (token, answer) = self.fresh_token(key).await?;
            let lifetime = lifetime_of(&answer);
            let ttl = i64::try_from(mock.config().token_ttl_seconds).unwrap_or(300) + 1;
            mock.clock().advance(ttl);
            let ex = self
                .post(service, Some(format!("Bearer {token}")), body)
                .await;
            mock.clock().advance(-ttl);
            self.token_age = Some(TokenAge {
                age_s: ttl as f64,
                lifetime_s: lifetime,
                how: "clock moved",
            });
            return Ok(self.expect(&ex, Role::TokenExpired));
        } else if self.setup.admin_clock && !self.setup.slow {
            let (token, answer) = self.fresh_token(key).await?;
            let lifetime = lifetime_of(&answer);
            (token, Instant::now(), lifetime, lifetime as i64 + 1)
        } else if self.setup.slow {
            if !self.stale.contains_key(key) {
                // Take the other service's token to wait out too, so that a
                // client_id per service still means one wait.
                let mut keys = vec![key.to_owned()];
                for s in Service::ALL {
                    let k = self.key_for(s).to_owned();
                    if !keys.contains(&k) && !self.stale.contains_key(&k) {
                        keys.push(k);
                    }
                }
                for k in keys {
                    let (token, answer) = self.fresh_token(&k).await?;
                    self.stale
                        .insert(k, (token, Instant::now(), lifetime_of(&answer)));
                }
            }
            let (token, issued, lifetime) = self
                .stale
                .get(key)
                .cloned()
                .ok_or_else(|| fail("no token to wait out"))?;
            // Past the lifetime by 2 s: the target counts from before the
            // answer reached us, and in whole seconds.
            let due = Duration::from_secs(lifetime + 2);
            if let Some(wait) = due.checked_sub(issued.elapsed()).filter(|w| !w.is_zero()) {
                eprintln!(
                    "conform: waiting {:.0} s for a token to expire (--slow)",
                    wait.as_secs_f64().ceil()
                );
                tokio::time::sleep(wait).await;
            }
            (token, issued, lifetime, 0)
        } else {
            return Err(Verdict::Skip(
                "waits out a token's lifetime; give --slow to run it against a real endpoint"
                    .into(),
            ));
        };
        if moved != 0 {
            self.move_clock(moved).await?;
        }
        let age_s = issued.elapsed().as_secs_f64() + moved as f64;
        let ex = self
            .post(service, Some(format!("Bearer {token}")), body)
            .await;
        if moved != 0 {
            self.move_clock(-moved).await?;
        }
        self.token_age = Some(TokenAge {
            age_s,
            lifetime_s: lifetime,
            how: if moved != 0 { "clock moved" } else { "waited" },
        });
        Ok(self.expect(&ex, Role::TokenExpired))
    }
}
